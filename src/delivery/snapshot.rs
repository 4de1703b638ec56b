//! Snapshot shards: the published feed of a shop cut into the stable set of
//! files OpenAI's file upload reads.
//!
//! Owns planning shards and writing them, for one format at a time, into a
//! temporary directory on local disk; it does not upload (see
//! [`super::sftp`]) and never changes the store.
//!
//! Decisions:
//!
//! - **Sources.** Shards are cut from the published generation's own
//!   artifacts rather than re-encoded from rows, so every shard set says
//!   exactly what the served feed says: `jsonl.gz` shards copy the lines of
//!   `openai.jsonl.gz`; `csv.gz` and `tsv.gz` shards copy the records of
//!   `openai.csv.gz` and `openai.tsv.gz` (each shard repeats the header);
//!   Parquet shards take their values from the records of `openai.csv.gz`
//!   (the text form; see [`super::parquet`] for the schema). Every artifact
//!   is opened before anything is read, so a generation published (and an
//!   old one deleted) meanwhile cannot mix two generations in one snapshot.
//! - **Plan.** The shard boundaries come from one pass over the JSON Lines
//!   form: a shard is closed before it would hold more than
//!   [`ShardLimits::max_rows`] rows or more than [`ShardLimits::max_bytes`]
//!   bytes of JSON lines. The JSON line is the longest form of a row, so the
//!   byte limit bounds every format's file size (a CSV header and a Parquet
//!   footer aside), and every format of one generation gets the same
//!   boundaries. A single row longer than the byte limit gets a shard of
//!   its own.
//! - **Names.** `{prefix}-{index:05}.{extension}`, index from 1
//!   (`products-00001.parquet`). The names do not encode the shard count,
//!   so a set that grows or shrinks keeps the names it shares with the old
//!   set (overwritten in place) and only adds or drops trailing ones.
//! - **Empty feed.** A feed with no rows still gives one shard (a header,
//!   an empty gzip member, or a Parquet file with the schema and no rows),
//!   so the uploaded set always replaces the previous one.
//! - **Hash.** Each shard carries the SHA-256 of its bytes, and the
//!   snapshot hash covers every shard's name and hash. The writers are
//!   deterministic (no timestamps in gzip headers or Parquet footers), so
//!   an unchanged feed gives an unchanged hash and the upload can be
//!   skipped.
//!
//! Building is synchronous file I/O and compression: call it from
//! `spawn_blocking`. Memory stays flat: rows stream through, and Parquet
//! buffers at most one row group.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::parquet::{FlatParquetWriter, ParquetOptions};
use crate::domain::ShopId;
use crate::feed::{FLAT_COLUMNS, FeedFormat, hex};
use crate::store::{Store, StoreError};

/// OpenAI's suggested maximum rows per shard.
pub const DEFAULT_MAX_ROWS: u64 = 500_000;
/// OpenAI's suggested maximum shard size.
pub const DEFAULT_MAX_BYTES: u64 = 500 * 1000 * 1000;
/// gzip level of `jsonl.gz`, `csv.gz` and `tsv.gz` shards. Uploads happen
/// at most a few times a day and cross the internet, so this favours size
/// over speed (the served feed uses level 1).
pub const DEFAULT_GZIP_LEVEL: u32 = 6;

const READ_BUFFER: usize = 256 * 1024;
const WRITE_BUFFER: usize = 256 * 1024;

/// A file format OpenAI's file upload accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotFormat {
    /// Parquet, zstd-compressed (OpenAI's preferred format).
    Parquet,
    /// JSON Lines, gzip.
    JsonlGz,
    /// CSV with a header, gzip.
    CsvGz,
    /// TSV with a header, gzip.
    TsvGz,
}

impl SnapshotFormat {
    pub const ALL: [SnapshotFormat; 4] = [
        SnapshotFormat::Parquet,
        SnapshotFormat::JsonlGz,
        SnapshotFormat::CsvGz,
        SnapshotFormat::TsvGz,
    ];

    /// File name extension (without the dot), also the config spelling.
    pub fn extension(self) -> &'static str {
        match self {
            SnapshotFormat::Parquet => "parquet",
            SnapshotFormat::JsonlGz => "jsonl.gz",
            SnapshotFormat::CsvGz => "csv.gz",
            SnapshotFormat::TsvGz => "tsv.gz",
        }
    }

    /// The published artifact the shard rows are copied from.
    fn source(self) -> FeedFormat {
        match self {
            SnapshotFormat::JsonlGz => FeedFormat::OpenAiJsonlGz,
            SnapshotFormat::Parquet | SnapshotFormat::CsvGz => FeedFormat::OpenAiCsvGz,
            SnapshotFormat::TsvGz => FeedFormat::OpenAiTsvGz,
        }
    }
}

impl fmt::Display for SnapshotFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for SnapshotFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SnapshotFormat::ALL
            .into_iter()
            .find(|f| f.extension() == s)
            .ok_or_else(|| {
                format!(
                    "unknown snapshot format `{s}` (one of: {})",
                    SnapshotFormat::ALL
                        .map(SnapshotFormat::extension)
                        .join(", ")
                )
            })
    }
}

/// Upper bounds of one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardLimits {
    /// Rows per shard (0 is taken as 1).
    pub max_rows: u64,
    /// Bytes of JSON lines per shard; bounds the file size of every format
    /// (see the module docs).
    pub max_bytes: u64,
}

impl Default for ShardLimits {
    /// OpenAI's guidance: about 500,000 rows or 500 MB per shard.
    fn default() -> Self {
        ShardLimits {
            max_rows: DEFAULT_MAX_ROWS,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// The stem shared by the files of a shard set: 1–64 characters of
/// `A-Za-z0-9`, `_`, `-` or `.`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShardPrefix(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "shard prefix `{0}` must be 1-64 characters of A-Z, a-z, 0-9, `_`, `-` or `.`, starting with a letter or digit"
)]
pub struct ShardPrefixError(pub String);

impl ShardPrefix {
    /// # Errors
    /// When `prefix` breaks the rule in the type's docs.
    pub fn parse(prefix: &str) -> Result<Self, ShardPrefixError> {
        let ok = !prefix.is_empty()
            && prefix.len() <= 64
            && prefix.as_bytes()[0].is_ascii_alphanumeric()
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if ok {
            Ok(ShardPrefix(prefix.to_owned()))
        } else {
            Err(ShardPrefixError(prefix.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The file name of shard `index` (from 1) in `format`.
    pub fn shard_name(&self, index: usize, format: SnapshotFormat) -> String {
        format!("{}-{index:05}.{}", self.0, format.extension())
    }

    /// Whether `name` is a shard of this prefix in any format: the files
    /// a new set of this prefix replaces.
    pub fn is_shard_name(&self, name: &str) -> bool {
        let Some(rest) = name
            .strip_prefix(self.0.as_str())
            .and_then(|r| r.strip_prefix('-'))
        else {
            return false;
        };
        let Some((index, extension)) = rest.split_once('.') else {
            return false;
        };
        index.len() == 5
            && index.bytes().all(|b| b.is_ascii_digit())
            && SnapshotFormat::ALL
                .iter()
                .any(|f| f.extension() == extension)
    }
}

impl fmt::Display for ShardPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSpec {
    pub format: SnapshotFormat,
    pub prefix: ShardPrefix,
    pub limits: ShardLimits,
    pub parquet: ParquetOptions,
    /// gzip level (0–9) of the gzip formats.
    pub gzip_level: u32,
}

impl SnapshotSpec {
    /// `format` shards named after `prefix`, with the default limits,
    /// Parquet options and gzip level.
    pub fn new(format: SnapshotFormat, prefix: ShardPrefix) -> Self {
        SnapshotSpec {
            format,
            prefix,
            limits: ShardLimits::default(),
            parquet: ParquetOptions::default(),
            gzip_level: DEFAULT_GZIP_LEVEL,
        }
    }
}

/// One file of a snapshot, on local disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardFile {
    /// File name, local and remote (`products-00001.parquet`).
    pub name: String,
    /// Where the file is on local disk.
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
}

/// The shard set of one format built from one feed generation. The files
/// live in a temporary directory removed when this is dropped.
#[derive(Debug)]
pub struct Snapshot {
    pub format: SnapshotFormat,
    pub prefix: ShardPrefix,
    /// The feed generation the rows come from.
    pub generation: u64,
    pub rows: u64,
    /// In index order.
    pub shards: Vec<ShardFile>,
    /// Lower-case hex SHA-256 over every shard's name and hash; equal
    /// hashes mean byte-identical shard sets.
    pub hash: String,
    dir: tempfile::TempDir,
}

impl Snapshot {
    /// The temporary directory holding the shard files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Total size of the shard files.
    pub fn bytes(&self) -> u64 {
        self.shards.iter().map(|s| s.bytes).sum()
    }
}

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("shop `{shop}` has no published feed yet")]
    NoFeed { shop: String },
    #[error("feed generation {generation} has no `{artifact}` artifact")]
    MissingArtifact {
        generation: u64,
        artifact: &'static str,
    },
    #[error("reading `{artifact}` of feed generation {generation}")]
    Read {
        generation: u64,
        artifact: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(
        "`{artifact}` of feed generation {generation} holds {found} rows where {expected} were expected"
    )]
    RowCount {
        generation: u64,
        artifact: &'static str,
        expected: u64,
        found: u64,
    },
    #[error("`{artifact}` of feed generation {generation} does not have the flat feed header")]
    Header {
        generation: u64,
        artifact: &'static str,
    },
    #[error("creating the snapshot directory under {dir}")]
    WorkDir {
        dir: String,
        #[source]
        source: io::Error,
    },
    #[error("writing shard {path}")]
    Write {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Rows per shard for rows of the given sizes (see the module docs): never
/// empty; a single zero means an empty feed.
pub fn plan_shards(row_bytes: impl IntoIterator<Item = u64>, limits: ShardLimits) -> Vec<u64> {
    let max_rows = limits.max_rows.max(1);
    let mut plan = vec![0u64];
    let mut bytes = 0u64;
    for size in row_bytes {
        let rows = plan.last_mut().map_or(0, |r| *r);
        if rows > 0 && (rows >= max_rows || bytes.saturating_add(size) > limits.max_bytes) {
            plan.push(0);
            bytes = 0;
        }
        if let Some(rows) = plan.last_mut() {
            *rows += 1;
        }
        bytes = bytes.saturating_add(size);
    }
    plan
}

/// SHA-256 over the names and hashes of `shards`, in order.
pub fn snapshot_hash(shards: &[ShardFile]) -> String {
    let mut hasher = Sha256::new();
    for shard in shards {
        hasher.update(shard.name.as_bytes());
        hasher.update(b" ");
        hasher.update(shard.sha256.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

/// Builds the `spec.format` shards of the feed `shop` has published, in a
/// new temporary directory under `work_dir`.
///
/// # Errors
/// No published feed, a missing or unreadable artifact, artifacts that
/// disagree on the row count, or local file I/O.
pub fn build_snapshot(
    store: &Store,
    shop: &ShopId,
    spec: &SnapshotSpec,
    work_dir: &Path,
) -> Result<Snapshot, SnapshotError> {
    let meta = store
        .feed_meta(shop)?
        .ok_or_else(|| SnapshotError::NoFeed {
            shop: shop.as_str().to_owned(),
        })?;
    let generation = meta.generation;
    let open = |format: FeedFormat| -> Result<File, SnapshotError> {
        store
            .open_generation_file(shop, generation, format.stored_name())?
            .ok_or(SnapshotError::MissingArtifact {
                generation,
                artifact: format.stored_name(),
            })
    };
    // Both files are opened before either is read (see the module docs).
    let mut jsonl = open(FeedFormat::OpenAiJsonlGz)?;
    let source = match spec.format.source() {
        FeedFormat::OpenAiJsonlGz => None,
        other => Some(open(other)?),
    };

    let plan = plan_from_lines(&mut jsonl, generation, spec.limits)?;
    let rows: u64 = plan.iter().sum();
    if rows != meta.rows_valid {
        return Err(SnapshotError::RowCount {
            generation,
            artifact: FeedFormat::OpenAiJsonlGz.stored_name(),
            expected: meta.rows_valid,
            found: rows,
        });
    }

    std::fs::create_dir_all(work_dir).map_err(|source| SnapshotError::WorkDir {
        dir: work_dir.display().to_string(),
        source,
    })?;
    let dir = tempfile::Builder::new()
        .prefix("snapshot-")
        .tempdir_in(work_dir)
        .map_err(|source| SnapshotError::WorkDir {
            dir: work_dir.display().to_string(),
            source,
        })?;
    let mut out = ShardOutput {
        spec,
        dir: dir.path(),
        generation,
        shards: Vec::with_capacity(plan.len()),
    };
    match (spec.format, source) {
        (SnapshotFormat::JsonlGz, _) => {
            jsonl
                .seek(SeekFrom::Start(0))
                .map_err(read_error(generation, FeedFormat::OpenAiJsonlGz))?;
            out.jsonl_shards(&plan, jsonl)?;
        }
        (format, Some(file)) => out.record_shards(&plan, file, format)?,
        (_, None) => unreachable!("every format but jsonl.gz has a source artifact"),
    }
    let shards = out.shards;
    tracing::debug!(
        shop.id = shop.as_str(),
        feed.generation = generation,
        snapshot.format = %spec.format,
        snapshot.shards = shards.len(),
        snapshot.rows = rows,
        "snapshot built"
    );
    Ok(Snapshot {
        format: spec.format,
        prefix: spec.prefix.clone(),
        generation,
        rows,
        hash: snapshot_hash(&shards),
        shards,
        dir,
    })
}

fn read_error(generation: u64, format: FeedFormat) -> impl Fn(io::Error) -> SnapshotError {
    move |source| SnapshotError::Read {
        generation,
        artifact: format.stored_name(),
        source,
    }
}

fn csv_read_error(generation: u64, format: FeedFormat) -> impl Fn(csv::Error) -> SnapshotError {
    move |e| read_error(generation, format)(io::Error::other(e))
}

/// Decompressed lines of a gzip'd JSON Lines file.
fn gz_lines(file: File) -> BufReader<MultiGzDecoder<BufReader<File>>> {
    BufReader::with_capacity(
        READ_BUFFER,
        MultiGzDecoder::new(BufReader::with_capacity(READ_BUFFER, file)),
    )
}

/// Reads the next non-empty line into `line` (newline included); `false`
/// at the end.
fn next_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
    loop {
        line.clear();
        if reader.read_until(b'\n', line)? == 0 {
            return Ok(false);
        }
        if line.iter().any(|b| !b.is_ascii_whitespace()) {
            if line.last() != Some(&b'\n') {
                line.push(b'\n');
            }
            return Ok(true);
        }
    }
}

/// The shard plan from the row sizes of `openai.jsonl.gz`.
fn plan_from_lines(
    file: &mut File,
    generation: u64,
    limits: ShardLimits,
) -> Result<Vec<u64>, SnapshotError> {
    let err = read_error(generation, FeedFormat::OpenAiJsonlGz);
    let clone = file.try_clone().map_err(&err)?;
    let mut reader = gz_lines(clone);
    let mut line = Vec::new();
    let mut sizes = Vec::new();
    // Sizes are collected as u32s (4 bytes a row) so the plan can be cut
    // greedily in one pass; 500,000 rows take 2 MB.
    while next_line(&mut reader, &mut line).map_err(&err)? {
        sizes.push(u32::try_from(line.len()).unwrap_or(u32::MAX));
    }
    Ok(plan_shards(sizes.into_iter().map(u64::from), limits))
}

/// A shard file being written: counts and hashes what reaches the disk.
struct ShardSink {
    file: BufWriter<File>,
    path: PathBuf,
    bytes: u64,
    hasher: Sha256,
}

impl ShardSink {
    fn create(path: PathBuf) -> Result<Self, SnapshotError> {
        let file = File::create(&path).map_err(|source| SnapshotError::Write {
            path: path.display().to_string(),
            source,
        })?;
        Ok(ShardSink {
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            path,
            bytes: 0,
            hasher: Sha256::new(),
        })
    }

    fn finish(mut self) -> io::Result<(PathBuf, u64, String)> {
        self.file.flush()?;
        Ok((self.path, self.bytes, hex(&self.hasher.finalize())))
    }
}

impl Write for ShardSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.file.write(data)?;
        self.hasher.update(&data[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The shards written so far of one snapshot.
struct ShardOutput<'a> {
    spec: &'a SnapshotSpec,
    dir: &'a Path,
    generation: u64,
    shards: Vec<ShardFile>,
}

impl ShardOutput<'_> {
    /// Opens the file of the next shard.
    fn next_sink(&self) -> Result<(String, ShardSink), SnapshotError> {
        let name = self
            .spec
            .prefix
            .shard_name(self.shards.len() + 1, self.spec.format);
        let sink = ShardSink::create(self.dir.join(&name))?;
        Ok((name, sink))
    }

    fn push(
        &mut self,
        name: String,
        rows: u64,
        finished: io::Result<(PathBuf, u64, String)>,
        path_for_errors: &Path,
    ) -> Result<(), SnapshotError> {
        let (path, bytes, sha256) = finished.map_err(|source| SnapshotError::Write {
            path: path_for_errors.display().to_string(),
            source,
        })?;
        self.shards.push(ShardFile {
            name,
            path,
            rows,
            bytes,
            sha256,
        });
        Ok(())
    }

    fn gzip(&self, sink: ShardSink) -> GzEncoder<ShardSink> {
        GzEncoder::new(sink, Compression::new(self.spec.gzip_level.min(9)))
    }

    /// `jsonl.gz` shards: the lines of `openai.jsonl.gz`, copied.
    fn jsonl_shards(&mut self, plan: &[u64], file: File) -> Result<(), SnapshotError> {
        let source = FeedFormat::OpenAiJsonlGz;
        let read_err = read_error(self.generation, source);
        let mut reader = gz_lines(file);
        let mut line = Vec::new();
        let mut found = 0u64;
        for &rows in plan {
            let (name, sink) = self.next_sink()?;
            let path = sink.path.clone();
            let write_err = |source| SnapshotError::Write {
                path: path.display().to_string(),
                source,
            };
            let mut gz = self.gzip(sink);
            for _ in 0..rows {
                if !next_line(&mut reader, &mut line).map_err(&read_err)? {
                    return Err(self.row_count(source, plan, found));
                }
                found += 1;
                gz.write_all(&line).map_err(write_err)?;
            }
            let finished = gz.finish().and_then(ShardSink::finish);
            self.push(name, rows, finished, &path)?;
        }
        if next_line(&mut reader, &mut line).map_err(&read_err)? {
            return Err(self.row_count(source, plan, found + 1));
        }
        Ok(())
    }

    /// `csv.gz`, `tsv.gz` and Parquet shards: the records of the delimited
    /// artifact, copied or turned into Parquet rows.
    fn record_shards(
        &mut self,
        plan: &[u64],
        file: File,
        format: SnapshotFormat,
    ) -> Result<(), SnapshotError> {
        let source = format.source();
        let read_err = csv_read_error(self.generation, source);
        let delimiter = if source == FeedFormat::OpenAiTsvGz {
            b'\t'
        } else {
            b','
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(false)
            .buffer_capacity(READ_BUFFER)
            .from_reader(MultiGzDecoder::new(BufReader::with_capacity(
                READ_BUFFER,
                file,
            )));
        let header = reader.byte_headers().map_err(&read_err)?;
        if !header.iter().eq(FLAT_COLUMNS.iter().map(|c| c.as_bytes())) {
            return Err(SnapshotError::Header {
                generation: self.generation,
                artifact: source.stored_name(),
            });
        }
        let mut record = csv::ByteRecord::new();
        let mut found = 0u64;
        for &rows in plan {
            let (name, sink) = self.next_sink()?;
            let path = sink.path.clone();
            let write_err = |source: io::Error| SnapshotError::Write {
                path: path.display().to_string(),
                source,
            };
            let mut writer = ShardRecordWriter::new(format, sink, self).map_err(write_err)?;
            for _ in 0..rows {
                if !reader.read_byte_record(&mut record).map_err(&read_err)? {
                    return Err(self.row_count(source, plan, found));
                }
                found += 1;
                writer.write(&record).map_err(write_err)?;
            }
            let finished = writer.finish();
            self.push(name, rows, finished, &path)?;
        }
        if reader.read_byte_record(&mut record).map_err(&read_err)? {
            return Err(self.row_count(source, plan, found + 1));
        }
        Ok(())
    }

    fn row_count(&self, source: FeedFormat, plan: &[u64], found: u64) -> SnapshotError {
        SnapshotError::RowCount {
            generation: self.generation,
            artifact: source.stored_name(),
            expected: plan.iter().sum(),
            found,
        }
    }
}

/// The writer of one record-sourced shard.
// One lives per shard being written, on the stack; boxing buys nothing.
#[allow(clippy::large_enum_variant)]
enum ShardRecordWriter {
    Delimited(csv::Writer<GzEncoder<ShardSink>>),
    Parquet(FlatParquetWriter<ShardSink>),
}

impl ShardRecordWriter {
    fn new(format: SnapshotFormat, sink: ShardSink, out: &ShardOutput<'_>) -> io::Result<Self> {
        let delimiter = match format {
            SnapshotFormat::Parquet => {
                return FlatParquetWriter::new(sink, out.spec.parquet)
                    .map(ShardRecordWriter::Parquet)
                    .map_err(io::Error::other);
            }
            SnapshotFormat::TsvGz => b'\t',
            SnapshotFormat::CsvGz | SnapshotFormat::JsonlGz => b',',
        };
        // The settings of the served delimited feeds (feed::encode), so a
        // copied record comes out byte for byte as it went in.
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .quote_style(csv::QuoteStyle::Necessary)
            .terminator(csv::Terminator::Any(b'\n'))
            .buffer_capacity(WRITE_BUFFER)
            .from_writer(out.gzip(sink));
        writer.write_record(FLAT_COLUMNS)?;
        Ok(ShardRecordWriter::Delimited(writer))
    }

    fn write(&mut self, record: &csv::ByteRecord) -> io::Result<()> {
        match self {
            ShardRecordWriter::Delimited(writer) => {
                writer.write_byte_record(record).map_err(io::Error::other)
            }
            ShardRecordWriter::Parquet(writer) => {
                writer.write_row(record.iter()).map_err(io::Error::other)
            }
        }
    }

    fn finish(self) -> io::Result<(PathBuf, u64, String)> {
        let sink = match self {
            ShardRecordWriter::Delimited(writer) => writer
                .into_inner()
                .map_err(|e| io::Error::new(e.error().kind(), e.error().to_string()))?
                .finish()?,
            ShardRecordWriter::Parquet(writer) => writer.finish().map_err(io::Error::other)?.0,
        };
        sink.finish()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    use super::*;
    use crate::domain::Product;
    use crate::feed::generation::{GenerationSettings, build_and_publish};
    use crate::feed::{FeedFilter, test_products};

    fn shop() -> ShopId {
        ShopId::parse("northpeak").unwrap()
    }

    /// `n` copies of the test catalog with distinct ids.
    fn catalog(copies: usize) -> Vec<Product> {
        let mut out = Vec::new();
        for c in 0..copies {
            for mut p in test_products::all() {
                p.id = format!("{}{c:03}", p.id);
                p.handle = format!("{}-{c}", p.handle);
                for v in &mut p.variants {
                    v.id = format!("{}{c:03}", v.id);
                }
                out.push(p);
            }
        }
        out
    }

    fn published(products: &[Product]) -> (Store, FeedMetaRows) {
        let store = Store::temporary().unwrap();
        store.upsert_products(&shop(), products).unwrap();
        publish(&store);
        let rows = published_rows(&store);
        (store, rows)
    }

    fn publish(store: &Store) {
        let options = test_products::options();
        let filter = FeedFilter::default();
        let settings = GenerationSettings {
            options: &options,
            filter: &filter,
            max_drop_percent: 100,
        };
        build_and_publish(store, &shop(), &settings).unwrap();
    }

    /// The published artifacts, decoded: JSON lines and CSV / TSV records.
    struct FeedMetaRows {
        jsonl: Vec<Vec<u8>>,
        csv: Vec<Vec<Vec<u8>>>,
        tsv: Vec<Vec<Vec<u8>>>,
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    fn lines(text: &[u8]) -> Vec<Vec<u8>> {
        text.split_inclusive(|b| *b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn records(text: &[u8], delimiter: u8) -> Vec<Vec<Vec<u8>>> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .from_reader(text);
        reader
            .byte_records()
            .map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect())
            .collect()
    }

    fn artifact(store: &Store, format: FeedFormat) -> Vec<u8> {
        let meta = store.feed_meta(&shop()).unwrap().unwrap();
        let mut gz = Vec::new();
        store
            .read_artifact(&shop(), meta.generation, format.stored_name(), &mut gz)
            .unwrap();
        gunzip(&gz)
    }

    fn published_rows(store: &Store) -> FeedMetaRows {
        let csv = records(&artifact(store, FeedFormat::OpenAiCsvGz), b',');
        let tsv = records(&artifact(store, FeedFormat::OpenAiTsvGz), b'\t');
        FeedMetaRows {
            jsonl: lines(&artifact(store, FeedFormat::OpenAiJsonlGz)),
            csv: csv[1..].to_vec(),
            tsv: tsv[1..].to_vec(),
        }
    }

    fn spec(format: SnapshotFormat, max_rows: u64) -> SnapshotSpec {
        SnapshotSpec {
            limits: ShardLimits {
                max_rows,
                max_bytes: DEFAULT_MAX_BYTES,
            },
            ..SnapshotSpec::new(format, ShardPrefix::parse("products").unwrap())
        }
    }

    fn read_file(path: &Path) -> Vec<u8> {
        std::fs::read(path).unwrap()
    }

    /// The rows of one shard as text values per column (`None` for absent),
    /// whatever its format; JSON rows keep their JSON text per column.
    fn shard_rows(format: SnapshotFormat, bytes: &[u8]) -> Vec<Vec<Option<Vec<u8>>>> {
        let present = |v: Vec<u8>| (!v.is_empty()).then_some(v);
        match format {
            SnapshotFormat::Parquet => {
                let reader = SerializedFileReader::new(bytes::Bytes::from(bytes.to_vec())).unwrap();
                reader
                    .get_row_iter(None)
                    .unwrap()
                    .map(|row| {
                        row.unwrap()
                            .get_column_iter()
                            .map(|(_, f)| match f {
                                Field::Str(s) => Some(s.clone().into_bytes()),
                                Field::Null => None,
                                other => panic!("not a string: {other:?}"),
                            })
                            .collect()
                    })
                    .collect()
            }
            SnapshotFormat::CsvGz | SnapshotFormat::TsvGz => {
                let delimiter = if format == SnapshotFormat::TsvGz {
                    b'\t'
                } else {
                    b','
                };
                let recs = records(&gunzip(bytes), delimiter);
                assert_eq!(
                    recs[0],
                    FLAT_COLUMNS.map(|c| c.as_bytes().to_vec()).to_vec(),
                    "every delimited shard starts with the header"
                );
                recs[1..]
                    .iter()
                    .map(|r| r.iter().cloned().map(present).collect())
                    .collect()
            }
            SnapshotFormat::JsonlGz => lines(&gunzip(bytes))
                .into_iter()
                .map(|line| vec![Some(line)])
                .collect(),
        }
    }

    #[test]
    fn plans_cut_at_the_row_limit_and_the_byte_limit() {
        let rows = |max_rows, max_bytes| ShardLimits {
            max_rows,
            max_bytes,
        };
        assert_eq!(plan_shards([], rows(3, 100)), vec![0]);
        assert_eq!(plan_shards([10; 7], rows(3, 1_000)), vec![3, 3, 1]);
        assert_eq!(plan_shards([10; 6], rows(3, 1_000)), vec![3, 3]);
        assert_eq!(plan_shards([10; 7], rows(100, 25)), vec![2, 2, 2, 1]);
        // A row above the byte limit gets a shard of its own.
        assert_eq!(plan_shards([10, 50, 10], rows(100, 25)), vec![1, 1, 1]);
        assert_eq!(plan_shards([10; 4], rows(0, 1_000)), vec![1, 1, 1, 1]);
    }

    #[test]
    fn shard_names_are_recognised_per_prefix_in_every_format() {
        let prefix = ShardPrefix::parse("products").unwrap();
        for format in SnapshotFormat::ALL {
            let name = prefix.shard_name(12, format);
            assert!(prefix.is_shard_name(&name), "{name}");
            assert_eq!(name, format!("products-00012.{}", format.extension()));
        }
        for other in [
            "products-0001.parquet",
            "products-00001.parquet.part",
            ".products-00001.parquet.part",
            "products-x-00001.parquet",
            "products-00001.xml",
            "other-00001.parquet",
            "products-00001",
        ] {
            assert!(!prefix.is_shard_name(other), "{other}");
        }
        for bad in ["", "-x", "a/b", "a b", &"x".repeat(65)] {
            assert!(ShardPrefix::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            "tsv.gz".parse::<SnapshotFormat>(),
            Ok(SnapshotFormat::TsvGz)
        );
        assert!("xml".parse::<SnapshotFormat>().is_err());
    }

    #[test]
    fn every_format_holds_the_published_rows_in_stable_shards() {
        let (store, published) = published(&catalog(2));
        let total = published.jsonl.len();
        assert!(total >= 10, "{total} rows");
        let work = tempfile::tempdir().unwrap();

        for format in SnapshotFormat::ALL {
            let snapshot = build_snapshot(&store, &shop(), &spec(format, 4), work.path()).unwrap();
            let expected_shards = total.div_ceil(4);
            assert_eq!(snapshot.shards.len(), expected_shards, "{format}");
            assert_eq!(snapshot.rows, total as u64);

            let mut rows = Vec::new();
            for (i, shard) in snapshot.shards.iter().enumerate() {
                assert_eq!(shard.name, format!("products-{:05}.{format}", i + 1));
                let bytes = read_file(&shard.path);
                assert_eq!(shard.bytes, bytes.len() as u64);
                assert_eq!(shard.sha256, hex(&Sha256::digest(&bytes)));
                let shard_rows = shard_rows(format, &bytes);
                assert_eq!(shard_rows.len() as u64, shard.rows);
                assert!(shard.rows <= 4);
                rows.extend(shard_rows);
            }
            let expected: Vec<Vec<Option<Vec<u8>>>> = match format {
                SnapshotFormat::JsonlGz => published
                    .jsonl
                    .iter()
                    .map(|l| vec![Some(l.clone())])
                    .collect(),
                SnapshotFormat::TsvGz => published
                    .tsv
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|v| (!v.is_empty()).then(|| v.clone()))
                            .collect()
                    })
                    .collect(),
                SnapshotFormat::CsvGz | SnapshotFormat::Parquet => published
                    .csv
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|v| (!v.is_empty()).then(|| v.clone()))
                            .collect()
                    })
                    .collect(),
            };
            assert_eq!(rows, expected, "{format}");
        }
    }

    #[test]
    fn an_unchanged_feed_gives_the_same_hash_and_a_changed_one_does_not() {
        let products = catalog(1);
        let (store, _) = published(&products);
        let work = tempfile::tempdir().unwrap();
        for format in SnapshotFormat::ALL {
            let a = build_snapshot(&store, &shop(), &spec(format, 3), work.path()).unwrap();
            let b = build_snapshot(&store, &shop(), &spec(format, 3), work.path()).unwrap();
            assert_eq!(a.hash, b.hash, "{format}");
            assert_ne!(a.dir(), b.dir());
            assert_eq!(a.hash, snapshot_hash(&a.shards));
        }

        let before: Vec<String> = SnapshotFormat::ALL
            .iter()
            .map(|f| {
                build_snapshot(&store, &shop(), &spec(*f, 3), work.path())
                    .unwrap()
                    .hash
            })
            .collect();
        let mut changed = products.clone();
        changed[0].title = "Trail Runner II".into();
        store.upsert_products(&shop(), &changed).unwrap();
        publish(&store);
        for (format, old) in SnapshotFormat::ALL.iter().zip(before) {
            let new = build_snapshot(&store, &shop(), &spec(*format, 3), work.path()).unwrap();
            assert_ne!(new.hash, old, "{format}");
        }
    }

    #[test]
    fn byte_limit_bounds_every_shard_file() {
        let (store, published) = published(&catalog(2));
        let longest = published.jsonl.iter().map(Vec::len).max().unwrap() as u64;
        let total: u64 = published.jsonl.iter().map(|l| l.len() as u64).sum();
        let work = tempfile::tempdir().unwrap();
        let max_bytes = longest * 3;
        let mut boundaries = Vec::new();
        for format in SnapshotFormat::ALL {
            let mut spec = spec(format, 1_000);
            spec.limits.max_bytes = max_bytes;
            let snapshot = build_snapshot(&store, &shop(), &spec, work.path()).unwrap();
            assert!(snapshot.shards.len() as u64 >= total.div_ceil(max_bytes));
            for shard in &snapshot.shards {
                assert!(shard.rows >= 1, "{format} {shard:?}");
                // A delimited header and the Parquet footer come on top.
                assert!(shard.bytes <= max_bytes + 8 * 1024, "{format} {shard:?}");
                if format == SnapshotFormat::JsonlGz {
                    let raw = gunzip(&read_file(&shard.path));
                    assert!(raw.len() as u64 <= max_bytes, "{shard:?}");
                }
            }
            boundaries.push(snapshot.shards.iter().map(|s| s.rows).collect::<Vec<_>>());
        }
        assert!(
            boundaries.windows(2).all(|w| w[0] == w[1]),
            "every format cuts at the same rows: {boundaries:?}"
        );
    }

    #[test]
    fn an_empty_feed_gives_one_empty_shard_and_no_feed_is_an_error() {
        let work = tempfile::tempdir().unwrap();
        let store = Store::temporary().unwrap();
        assert!(matches!(
            build_snapshot(
                &store,
                &shop(),
                &spec(SnapshotFormat::CsvGz, 3),
                work.path()
            ),
            Err(SnapshotError::NoFeed { .. })
        ));

        publish(&store);
        for format in SnapshotFormat::ALL {
            let snapshot = build_snapshot(&store, &shop(), &spec(format, 3), work.path()).unwrap();
            assert_eq!(snapshot.shards.len(), 1, "{format}");
            assert_eq!(snapshot.shards[0].rows, 0);
            let bytes = read_file(&snapshot.shards[0].path);
            assert!(shard_rows(format, &bytes).is_empty(), "{format}");
        }
    }

    #[test]
    fn dropping_a_snapshot_removes_its_files() {
        let (store, _) = published(&catalog(1));
        let work = tempfile::tempdir().unwrap();
        let snapshot = build_snapshot(
            &store,
            &shop(),
            &spec(SnapshotFormat::Parquet, 3),
            work.path(),
        )
        .unwrap();
        let dir = snapshot.dir().to_path_buf();
        assert!(snapshot.shards.iter().all(|s| s.path.starts_with(&dir)));
        drop(snapshot);
        assert!(!dir.exists());
        assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);
    }
}
