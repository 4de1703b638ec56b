//! Streaming Parquet writer for OpenAI flat feed rows.
//!
//! Owns the Parquet form of a snapshot shard: one file, one flat schema of
//! the [`FLAT_COLUMNS`], rows appended one at a time and flushed as a row
//! group whenever the buffered rows reach a row or byte bound, so memory
//! stays flat however many rows a shard holds. It does no I/O of its own
//! beyond the caller's `std::io::Write` and knows nothing of SFTP or the
//! store.
//!
//! Schema decision: every column is an `optional binary (STRING)` holding
//! the value exactly as the delimited feeds write it (booleans `true` /
//! `false`, prices `79.99 USD`, `weight` as `1.5`, `target_countries`
//! comma-joined, `variant_dict` as a JSON object string). An absent (empty)
//! value is a null. OpenAI's spec defines its fields by their text forms,
//! so one text type per column keeps every format of a snapshot saying the
//! same thing, and a future column needs no type decision here.
//!
//! Output is deterministic: the same rows and options give the same bytes
//! (no timestamps; `created_by` names this crate, not a build time), which
//! the snapshot hash relies on.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, LogicalType, Repetition, Type as PhysicalType, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use crate::feed::FLAT_COLUMNS;

/// Row-group and compression settings of a Parquet shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Rows buffered before a row group is written.
    pub row_group_rows: usize,
    /// Value bytes buffered before a row group is written (bounds memory
    /// for rows with long descriptions).
    pub row_group_bytes: usize,
    /// zstd level (1–22).
    pub zstd_level: i32,
}

impl Default for ParquetOptions {
    /// 50,000 rows or 32 MiB of values per row group, zstd level 3.
    fn default() -> Self {
        ParquetOptions {
            row_group_rows: 50_000,
            row_group_bytes: 32 * 1024 * 1024,
            zstd_level: 3,
        }
    }
}

/// The buffered values of one column: all value bytes in one buffer,
/// `None` for a null.
#[derive(Default)]
struct ColumnBuffer {
    data: Vec<u8>,
    values: Vec<Option<(usize, usize)>>,
}

/// Writes flat feed rows as one Parquet file (see the module docs for the
/// schema).
pub struct FlatParquetWriter<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    options: ParquetOptions,
    columns: Vec<ColumnBuffer>,
    buffered_rows: usize,
    buffered_bytes: usize,
    rows: u64,
}

/// The message type of a flat feed file: every [`FLAT_COLUMNS`] entry as an
/// optional UTF-8 string.
///
/// # Errors
/// Never for the fixed column list; kept fallible because the parquet
/// builder is.
pub fn flat_schema() -> Result<Type, ParquetError> {
    let fields = FLAT_COLUMNS
        .iter()
        .map(|name| {
            Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(Some(LogicalType::String))
                .build()
                .map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Type::group_type_builder("openai_product_feed")
        .with_fields(fields)
        .build()
}

impl<W: Write + Send> FlatParquetWriter<W> {
    /// Starts a file on `inner` (writes the magic bytes).
    ///
    /// # Errors
    /// An invalid zstd level, or errors from `inner`.
    pub fn new(inner: W, options: ParquetOptions) -> Result<Self, ParquetError> {
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(options.zstd_level)?))
            .set_created_by(format!("acp-bridge {}", env!("CARGO_PKG_VERSION")))
            // Row groups are cut here, by our own bounds.
            .set_max_row_group_row_count(None)
            .build();
        let writer =
            SerializedFileWriter::new(inner, Arc::new(flat_schema()?), Arc::new(properties))?;
        Ok(FlatParquetWriter {
            writer,
            options,
            columns: (0..FLAT_COLUMNS.len())
                .map(|_| ColumnBuffer::default())
                .collect(),
            buffered_rows: 0,
            buffered_bytes: 0,
            rows: 0,
        })
    }

    /// Appends one row: one value per [`FLAT_COLUMNS`] entry, in that
    /// order, as the delimited feeds write it; an empty value is a null.
    ///
    /// # Errors
    /// A row with the wrong number of values, or errors from writing a full
    /// row group.
    pub fn write_row<'a, I>(&mut self, values: I) -> Result<(), ParquetError>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut n = 0;
        let mut added = 0;
        for value in values {
            let Some(column) = self.columns.get_mut(n) else {
                n += 1;
                break;
            };
            if value.is_empty() {
                column.values.push(None);
            } else {
                let start = column.data.len();
                column.data.extend_from_slice(value);
                column.values.push(Some((start, column.data.len())));
                added += value.len();
            }
            n += 1;
        }
        if n != FLAT_COLUMNS.len() {
            // Undo the partial row so the buffers stay rectangular.
            for column in &mut self.columns {
                if column.values.len() > self.buffered_rows
                    && let Some(Some((start, _))) = column.values.pop()
                {
                    column.data.truncate(start);
                }
            }
            return Err(ParquetError::General(format!(
                "a flat feed row has {} columns, got {n} values",
                FLAT_COLUMNS.len()
            )));
        }
        self.buffered_bytes += added;
        self.buffered_rows += 1;
        self.rows += 1;
        if self.buffered_rows >= self.options.row_group_rows.max(1)
            || self.buffered_bytes >= self.options.row_group_bytes
        {
            self.flush_row_group()?;
        }
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the buffered rows as one row group.
    fn flush_row_group(&mut self) -> Result<(), ParquetError> {
        if self.buffered_rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        let mut columns = self.columns.iter_mut();
        while let Some(mut column_writer) = group.next_column()? {
            let Some(column) = columns.next() else {
                return Err(ParquetError::General(
                    "the schema has more columns than the row".into(),
                ));
            };
            let data = Bytes::from(std::mem::take(&mut column.data));
            let mut levels = Vec::with_capacity(column.values.len());
            let mut values = Vec::with_capacity(column.values.len());
            for value in column.values.drain(..) {
                match value {
                    Some((start, end)) => {
                        levels.push(1);
                        values.push(ByteArray::from(data.slice(start..end)));
                    }
                    None => levels.push(0),
                }
            }
            column_writer
                .typed::<ByteArrayType>()
                .write_batch(&values, Some(&levels), None)?;
            column_writer.close()?;
        }
        group.close()?;
        self.buffered_rows = 0;
        self.buffered_bytes = 0;
        Ok(())
    }

    /// Writes the last row group and the footer, and returns the writer.
    ///
    /// # Errors
    /// Errors from the underlying writer.
    pub fn finish(mut self) -> Result<(W, u64), ParquetError> {
        self.flush_row_group()?;
        let rows = self.rows;
        Ok((self.writer.into_inner()?, rows))
    }
}

#[cfg(test)]
mod tests {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    use super::*;

    /// A row whose column `i` holds `v{row}-{i}`, with every third column
    /// null.
    fn row(n: usize) -> Vec<Vec<u8>> {
        (0..FLAT_COLUMNS.len())
            .map(|i| {
                if i % 3 == 2 {
                    Vec::new()
                } else {
                    format!("v{n}-{i} é,\t\"x\"").into_bytes()
                }
            })
            .collect()
    }

    fn read_back(bytes: Vec<u8>) -> (Vec<Vec<Option<String>>>, usize) {
        let reader = SerializedFileReader::new(Bytes::from(bytes)).unwrap();
        let groups = reader.metadata().num_row_groups();
        let rows = reader
            .get_row_iter(None)
            .unwrap()
            .map(|row| {
                let row = row.unwrap();
                let columns: Vec<_> = row.get_column_iter().collect();
                for ((name, _), expected) in columns.iter().zip(FLAT_COLUMNS) {
                    assert_eq!(name.as_str(), expected);
                }
                columns
                    .into_iter()
                    .map(|(_, field)| match field {
                        Field::Str(s) => Some(s.clone()),
                        Field::Null => None,
                        other => panic!("unexpected field {other:?}"),
                    })
                    .collect()
            })
            .collect();
        (rows, groups)
    }

    #[test]
    fn rows_read_back_as_written_across_row_groups() {
        let options = ParquetOptions {
            row_group_rows: 4,
            ..ParquetOptions::default()
        };
        let mut writer = FlatParquetWriter::new(Vec::new(), options).unwrap();
        for n in 0..10 {
            let values = row(n);
            writer.write_row(values.iter().map(Vec::as_slice)).unwrap();
        }
        let (bytes, rows) = writer.finish().unwrap();
        assert_eq!(rows, 10);

        let (read, groups) = read_back(bytes);
        assert_eq!(groups, 3, "4 + 4 + 2 rows");
        let expected: Vec<Vec<Option<String>>> = (0..10)
            .map(|n| {
                row(n)
                    .into_iter()
                    .map(|v| (!v.is_empty()).then(|| String::from_utf8(v).unwrap()))
                    .collect()
            })
            .collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn row_groups_are_cut_by_buffered_bytes() {
        let options = ParquetOptions {
            row_group_rows: 1_000,
            row_group_bytes: 1_000,
            zstd_level: 1,
        };
        let mut writer = FlatParquetWriter::new(Vec::new(), options).unwrap();
        let long = vec![b'a'; 600];
        for _ in 0..5 {
            let values: Vec<&[u8]> = (0..FLAT_COLUMNS.len()).map(|_| &long[..]).collect();
            writer.write_row(values).unwrap();
        }
        let (bytes, _) = writer.finish().unwrap();
        let (read, groups) = read_back(bytes);
        assert_eq!(read.len(), 5);
        assert_eq!(groups, 5, "every row exceeds the byte bound on its own");
    }

    #[test]
    fn an_empty_file_is_valid_and_has_the_schema() {
        let writer = FlatParquetWriter::new(Vec::new(), ParquetOptions::default()).unwrap();
        let (bytes, rows) = writer.finish().unwrap();
        assert_eq!(rows, 0);
        let reader = SerializedFileReader::new(Bytes::from(bytes)).unwrap();
        let schema = reader.metadata().file_metadata().schema_descr();
        let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
        assert_eq!(names, FLAT_COLUMNS);
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    }

    #[test]
    fn a_row_with_the_wrong_number_of_values_is_refused_and_leaves_no_trace() {
        let mut writer = FlatParquetWriter::new(Vec::new(), ParquetOptions::default()).unwrap();
        let short: Vec<&[u8]> = vec![b"x"; 5];
        assert!(writer.write_row(short).is_err());
        let values = row(0);
        writer.write_row(values.iter().map(Vec::as_slice)).unwrap();
        let (bytes, rows) = writer.finish().unwrap();
        assert_eq!(rows, 1);
        assert_eq!(read_back(bytes).0.len(), 1);
    }

    #[test]
    fn output_is_deterministic() {
        let write = || {
            let mut writer = FlatParquetWriter::new(Vec::new(), ParquetOptions::default()).unwrap();
            for n in 0..20 {
                let values = row(n);
                writer.write_row(values.iter().map(Vec::as_slice)).unwrap();
            }
            writer.finish().unwrap().0
        };
        assert_eq!(write(), write());
    }
}
