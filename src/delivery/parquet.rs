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

/// The rows of the row group being buffered, in row order: every value's
/// bytes back to back, and the end offset of every value, null or not (an
/// empty value is a null), so value `c` of row `r` ends at
/// `ends[r * columns + c]`. Both keep their capacity from one row group to
/// the next and grow only up to the row group's bounds (see
/// [`grow_within`]), so the memory a file takes is set by the options, not
/// by how many rows it holds.
#[derive(Default)]
struct RowBuffer {
    data: Vec<u8>,
    ends: Vec<u32>,
}

impl RowBuffer {
    /// Where the value at `index` (in row order) starts and ends in `data`.
    fn span(&self, index: usize) -> (usize, usize) {
        let start = index
            .checked_sub(1)
            .map_or(0, |previous| self.ends[previous] as usize);
        (start, self.ends[index] as usize)
    }
}

/// Makes room for `extra` more elements in `buffer`, doubling as `Vec` does
/// but never past `bound` unless the elements themselves need it, so a
/// buffer filled up to its bound does not carry up to twice that.
fn grow_within<T>(buffer: &mut Vec<T>, extra: usize, bound: usize) {
    let needed = buffer.len() + extra;
    if needed <= buffer.capacity() {
        return;
    }
    let target = (buffer.capacity() * 2).clamp(needed, bound.max(needed));
    buffer.reserve_exact(target - buffer.len());
}

/// The largest `row_group_bytes` honoured: value offsets are `u32`, and
/// the row that crosses the bound comes on top of it.
const MAX_ROW_GROUP_BYTES: usize = 1 << 30;

/// Writes flat feed rows as one Parquet file (see the module docs for the
/// schema).
pub struct FlatParquetWriter<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    options: ParquetOptions,
    buffer: RowBuffer,
    /// Scratch for one column's values and definition levels while it is
    /// written; reused.
    batch: Vec<ByteArray>,
    levels: Vec<i16>,
    buffered_rows: usize,
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
            // Chunk min/max of long descriptions would otherwise be kept
            // whole in the footer.
            .set_statistics_truncate_length(Some(64))
            .build();
        let writer =
            SerializedFileWriter::new(inner, Arc::new(flat_schema()?), Arc::new(properties))?;
        let options = ParquetOptions {
            row_group_bytes: options.row_group_bytes.min(MAX_ROW_GROUP_BYTES),
            ..options
        };
        Ok(FlatParquetWriter {
            writer,
            options,
            batch: Vec::new(),
            buffer: RowBuffer::default(),
            levels: Vec::new(),
            buffered_rows: 0,
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
        let columns = FLAT_COLUMNS.len();
        let data_mark = self.buffer.data.len();
        let ends_mark = self.buffer.ends.len();
        let mut n = 0;
        let mut failure = None;
        for value in values {
            if n == columns {
                n += 1;
                break;
            }
            n += 1;
            let buffer = &mut self.buffer;
            grow_within(&mut buffer.data, value.len(), self.options.row_group_bytes);
            buffer.data.extend_from_slice(value);
            let Ok(end) = u32::try_from(buffer.data.len()) else {
                failure = Some(format!(
                    "a flat feed value of {} bytes does not fit a row group",
                    value.len()
                ));
                break;
            };
            grow_within(
                &mut buffer.ends,
                1,
                self.options.row_group_rows.max(1) * columns,
            );
            buffer.ends.push(end);
        }
        if failure.is_none() && n != columns {
            failure = Some(format!(
                "a flat feed row has {columns} columns, got {n} values"
            ));
        }
        if let Some(message) = failure {
            // Drop the partial row so the buffer stays rectangular.
            self.buffer.data.truncate(data_mark);
            self.buffer.ends.truncate(ends_mark);
            return Err(ParquetError::General(message));
        }
        self.buffered_rows += 1;
        self.rows += 1;
        if self.buffered_rows >= self.options.row_group_rows.max(1)
            || self.buffer.data.len() >= self.options.row_group_bytes
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
        let columns = FLAT_COLUMNS.len();
        let rows = self.buffered_rows;
        let mut group = self.writer.next_row_group()?;
        let mut column = 0;
        while let Some(mut column_writer) = group.next_column()? {
            if column == columns {
                return Err(ParquetError::General(
                    "the schema has more columns than the row".into(),
                ));
            }
            let value_spans = (0..rows).map(|row| self.buffer.span(row * columns + column));
            // This column's bytes, gathered into one buffer of their exact
            // size for the writer to slice (its dictionary keeps slices
            // until the column is closed).
            let size = value_spans.clone().map(|(start, end)| end - start).sum();
            let mut gathered = Vec::with_capacity(size);
            self.levels.clear();
            for (start, end) in value_spans.clone() {
                self.levels.push(i16::from(start != end));
                gathered.extend_from_slice(&self.buffer.data[start..end]);
            }
            let gathered = Bytes::from(gathered);
            self.batch.clear();
            let mut offset = 0;
            for (start, end) in value_spans.filter(|(start, end)| start != end) {
                let len = end - start;
                self.batch
                    .push(ByteArray::from(gathered.slice(offset..offset + len)));
                offset += len;
            }
            column_writer.typed::<ByteArrayType>().write_batch(
                &self.batch,
                Some(&self.levels),
                None,
            )?;
            column_writer.close()?;
            self.batch.clear();
            column += 1;
        }
        group.close()?;
        self.buffer.data.clear();
        self.buffer.ends.clear();
        self.buffered_rows = 0;
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
    fn growth_doubles_but_stops_at_the_bound_unless_the_elements_need_more() {
        let mut buffer: Vec<u8> = Vec::new();
        grow_within(&mut buffer, 10, 100);
        assert_eq!(buffer.capacity(), 10);
        buffer.extend_from_slice(&[0; 10]);
        grow_within(&mut buffer, 1, 100);
        assert_eq!(buffer.capacity(), 20, "doubles");
        buffer.extend_from_slice(&[0; 70]);
        grow_within(&mut buffer, 15, 100);
        assert_eq!(buffer.capacity(), 100, "stops at the bound");
        buffer.extend_from_slice(&[0; 15]);
        grow_within(&mut buffer, 50, 100);
        assert_eq!(buffer.capacity(), 145, "exactly what a crossing row needs");
    }

    #[test]
    fn buffers_stay_within_the_row_group_bounds_however_many_rows_are_written() {
        let options = ParquetOptions {
            row_group_rows: 64,
            row_group_bytes: 4_096,
            zstd_level: 1,
        };
        let mut writer = FlatParquetWriter::new(std::io::sink(), options).unwrap();
        let mut longest_row = 0;
        for n in 0..1_000 {
            let values = row(n);
            longest_row = longest_row.max(values.iter().map(Vec::len).sum::<usize>());
            writer.write_row(values.iter().map(Vec::as_slice)).unwrap();
            assert!(writer.buffer.data.capacity() <= options.row_group_bytes + longest_row);
            assert!(writer.buffer.ends.capacity() <= options.row_group_rows * FLAT_COLUMNS.len());
        }
        assert!(
            writer.buffer.data.capacity() >= options.row_group_bytes / 2,
            "the buffer was reused, not reallocated per row group"
        );
        assert_eq!(writer.finish().unwrap().1, 1_000);
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
