//! Feed generations: immutable artifact files, published atomically.
//!
//! A generation's artifacts are written as files under
//! `{data_dir}/feeds/{shop}/{generation:020}/`, invisible to readers until
//! published. Publishing is a single sled batch that moves the `m\0{shop}`
//! pointer to the new generation, after its files (artifacts, report,
//! row-hash index) are synced to disk, so a reader sees either the whole
//! old feed or the whole new one. The previous generation's files are kept
//! so a download that started just before the switch can finish; older
//! ones are renamed out of sight and deleted in the background.
//!
//! Why files and not sled values: sled keeps most of what it writes resident
//! when values are large (measured: writing 300 MB of 1 MiB values left
//! 300 MB resident whatever the cache size, and every rewrite grew the
//! database on disk), and artifacts are written whole and never updated in
//! place. sled holds what must change atomically: the pointer with the
//! artifact list, sizes and hashes. The report, the row-hash index and the
//! feed builder's block index are files beside the artifacts, reached only
//! through the pointer.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::Batch;

use std::collections::HashMap;

use super::{ChangeSeq, Store, StoreError, keys};
use crate::domain::ShopId;

/// SHA-256 of a feed row's canonical JSON.
pub type RowHash = [u8; 32];

/// The row hashes of a generation in feed order, held in the row-hash
/// index's own encoding (`u16 LE id length, id, 32-byte hash` per row), so
/// a rebuild can carry runs of unchanged rows over without parsing them
/// into strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowHashes {
    bytes: Vec<u8>,
    rows: usize,
}

/// Consecutive rows of a [`RowHashes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRun<'a> {
    bytes: &'a [u8],
    rows: usize,
}

impl RowHashes {
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Every row: item id bytes and hash.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &RowHash)> {
        RowRun {
            bytes: &self.bytes,
            rows: self.rows,
        }
        .iter()
    }

    /// A reader handing out the rows in order, a run at a time.
    pub fn reader(&self) -> RowReader<'_> {
        RowReader { rest: &self.bytes }
    }

    /// Parses the row-hash index encoding; `None` when it is malformed.
    fn parse(bytes: Vec<u8>) -> Option<Self> {
        let mut rows = 0;
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            rest = RowRun::split_row(rest)?.1;
            rows += 1;
        }
        Some(RowHashes { bytes, rows })
    }
}

impl<'a> RowRun<'a> {
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Splits the first row (id, hash) off `bytes`.
    #[allow(clippy::type_complexity)]
    fn split_row(bytes: &'a [u8]) -> Option<((&'a [u8], &'a RowHash), &'a [u8])> {
        let len = usize::from(u16::from_le_bytes(bytes.get(..2)?.try_into().ok()?));
        let id = bytes.get(2..2 + len)?;
        let hash: &RowHash = bytes.get(2 + len..2 + len + 32)?.try_into().ok()?;
        Some(((id, hash), &bytes[2 + len + 32..]))
    }

    /// Every row of the run: item id bytes and hash.
    pub fn iter(self) -> impl Iterator<Item = (&'a [u8], &'a RowHash)> {
        let mut rest = self.bytes;
        std::iter::from_fn(move || {
            let (row, next) = Self::split_row(rest)?;
            rest = next;
            Some(row)
        })
    }
}

/// Hands out the rows of a [`RowHashes`] in order.
pub struct RowReader<'a> {
    rest: &'a [u8],
}

impl<'a> RowReader<'a> {
    /// The next `n` rows; `None` when fewer are left.
    pub fn take(&mut self, n: usize) -> Option<RowRun<'a>> {
        let mut end = 0;
        for _ in 0..n {
            let (_, next) = RowRun::split_row(&self.rest[end..])?;
            end = self.rest.len() - next.len();
        }
        let (run, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(RowRun {
            bytes: run,
            rows: n,
        })
    }

    /// Whether every row has been handed out.
    pub fn is_done(&self) -> bool {
        self.rest.is_empty()
    }
}

/// The generation's [`FeedReport`] as JSON, beside its artifacts.
const REPORT_FILE: &str = "report.json";
/// The generation's row-hash index: `u16 LE id length, id, 32-byte hash`
/// per row.
const ROW_HASHES_FILE: &str = "row-hashes.bin";
/// Suffix of a generation directory whose files are being deleted.
const RETIRED_SUFFIX: &str = ".retired";

/// Size of the pieces an artifact is read back in.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// One encoded file of a feed generation (e.g. `openai.jsonl.gz`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactMeta {
    pub name: String,
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the artifact bytes; also its ETag.
    pub sha256: String,
}

/// The published feed of a shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedMeta {
    pub generation: u64,
    pub built_at: DateTime<Utc>,
    pub rows_valid: u64,
    pub rows_invalid: u64,
    pub products_excluded: u64,
    /// Valid rows whose content hash differs from the previous generation
    /// (new rows included).
    pub rows_changed: u64,
    /// Rows of the previous generation that are gone.
    pub rows_removed: u64,
    /// SHA-256 of the generation's row-hash index: every valid row's item
    /// id and content hash, in feed order.
    pub snapshot_hash: String,
    pub artifacts: Vec<ArtifactMeta>,
    /// The change-log number drawn when this generation's build started
    /// (see [`Store::changed_products`]): products logged with a smaller
    /// number are as this generation has them, unless logged again since.
    /// Absent for generations built before the change log existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes_from: Option<ChangeSeq>,
}

impl FeedMeta {
    pub fn artifact(&self, name: &str) -> Option<&ArtifactMeta> {
        self.artifacts.iter().find(|a| a.name == name)
    }
}

/// A row left out of the feed, with the reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidRow {
    pub item_id: String,
    pub product_id: String,
    pub title: String,
    pub issues: Vec<String>,
}

/// A product left out of the feed entirely (draft, unpublished, excluded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedProduct {
    pub product_id: String,
    pub title: String,
    pub reason: String,
}

/// Why the rows of the published feed look the way they do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedReport {
    pub generation: u64,
    pub invalid_rows: Vec<InvalidRow>,
    pub excluded_products: Vec<ExcludedProduct>,
    /// Rows with warnings only (still published).
    pub warnings: Vec<InvalidRow>,
}

/// Items of one report list as JSON, each serialized once: a rebuild
/// carries the lists of unchanged products over without parsing them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonList {
    items: u64,
    /// The items, comma-separated, without brackets.
    json: Vec<u8>,
}

impl JsonList {
    pub fn len(&self) -> u64 {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// The items, comma-separated, without brackets.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// Appends one item.
    ///
    /// # Errors
    /// Serialization failures.
    pub fn push<T: Serialize>(&mut self, item: &T) -> io::Result<()> {
        if !self.json.is_empty() {
            self.json.push(b',');
        }
        serde_json::to_writer(&mut self.json, item).map_err(io::Error::other)?;
        self.items += 1;
        Ok(())
    }

    /// Appends `items` items already serialized as `json` (comma-separated,
    /// as [`Self::json`] returns them).
    pub fn extend_raw(&mut self, items: u64, json: &[u8]) {
        if items == 0 {
            return;
        }
        if !self.json.is_empty() {
            self.json.push(b',');
        }
        self.json.extend_from_slice(json);
        self.items += items;
    }
}

/// The three lists of a [`FeedReport`], in the order `report.json` holds
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportList {
    InvalidRows,
    ExcludedProducts,
    Warnings,
}

impl ReportList {
    const ALL: [ReportList; 3] = [
        ReportList::InvalidRows,
        ReportList::ExcludedProducts,
        ReportList::Warnings,
    ];

    fn field(self) -> &'static str {
        match self {
            ReportList::InvalidRows => "invalid_rows",
            ReportList::ExcludedProducts => "excluded_products",
            ReportList::Warnings => "warnings",
        }
    }
}

/// Something report items can be appended to, already serialized.
pub trait ReportTarget {
    /// Appends `items` items serialized as `json` (comma-separated, as
    /// [`JsonList::json`] returns them) to `list`.
    ///
    /// # Errors
    /// Writing them out.
    fn append(&mut self, list: ReportList, items: u64, json: &[u8]) -> io::Result<()>;
}

/// A report's lists held in memory.
#[cfg(test)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportJson {
    pub invalid_rows: JsonList,
    pub excluded_products: JsonList,
    pub warnings: JsonList,
}

#[cfg(test)]
impl ReportTarget for ReportJson {
    fn append(&mut self, list: ReportList, items: u64, json: &[u8]) -> io::Result<()> {
        let target = match list {
            ReportList::InvalidRows => &mut self.invalid_rows,
            ReportList::Warnings => &mut self.warnings,
            ReportList::ExcludedProducts => &mut self.excluded_products,
        };
        target.extend_raw(items, json);
        Ok(())
    }
}

/// Writes the row-hash index and the report of an unpublished generation
/// while it is built, so that neither is held in memory (for 100k products
/// they are about 11 MB and 9 MB): rows go straight to their file, each
/// report list to an anonymous scratch file, joined into `report.json` by
/// [`Self::finish`].
pub struct GenerationIndexWriter {
    rows: ArtifactWriter,
    row_count: usize,
    lists: [SpillList; 3],
    report: PathBuf,
}

/// One report list on its way to `report.json`.
struct SpillList {
    items: u64,
    file: io::BufWriter<File>,
}

/// What [`GenerationIndexWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenIndex {
    pub rows: u64,
    /// SHA-256 of the row-hash index: the generation's snapshot hash.
    pub rows_sha256: String,
    pub invalid_rows: u64,
    pub excluded_products: u64,
}

impl GenerationIndexWriter {
    /// Appends one row.
    ///
    /// # Errors
    /// File I/O, or an id of 64 KiB or more (validation keeps item ids far
    /// shorter).
    pub fn push_row(&mut self, id: &str, hash: &RowHash) -> io::Result<()> {
        let len = u16::try_from(id.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "item id too long"))?;
        self.rows.write_all(&len.to_le_bytes())?;
        self.rows.write_all(id.as_bytes())?;
        self.rows.write_all(hash)?;
        self.row_count += 1;
        Ok(())
    }

    /// Appends rows taken from another generation's index.
    ///
    /// # Errors
    /// File I/O.
    pub fn extend_rows(&mut self, run: RowRun<'_>) -> io::Result<()> {
        self.rows.write_all(run.bytes)?;
        self.row_count += run.rows;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.row_count
    }

    /// Writes `report.json` for `generation`, syncs both files and returns
    /// what the meta records of them.
    ///
    /// # Errors
    /// File I/O.
    pub fn finish(self, generation: u64) -> io::Result<WrittenIndex> {
        use std::io::Seek;
        let rows = self.rows.finish()?;
        let counts = self.lists.each_ref().map(|l| l.items);
        let mut out = io::BufWriter::with_capacity(CHUNK_BYTES, File::create(&self.report)?);
        write!(out, "{{\"generation\":{generation}")?;
        for (list, spilled) in ReportList::ALL.into_iter().zip(self.lists) {
            write!(out, ",\"{}\":[", list.field())?;
            let mut file = spilled
                .file
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?;
            file.rewind()?;
            io::copy(&mut file, &mut out)?;
            out.write_all(b"]")?;
        }
        out.write_all(b"}")?;
        out.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
        Ok(WrittenIndex {
            rows: self.row_count as u64,
            rows_sha256: rows.sha256,
            invalid_rows: counts[ReportList::InvalidRows as usize],
            excluded_products: counts[ReportList::ExcludedProducts as usize],
        })
    }
}

impl ReportTarget for GenerationIndexWriter {
    fn append(&mut self, list: ReportList, items: u64, json: &[u8]) -> io::Result<()> {
        if items == 0 {
            return Ok(());
        }
        let spill = &mut self.lists[list as usize];
        if spill.items > 0 {
            spill.file.write_all(b",")?;
        }
        spill.file.write_all(json)?;
        spill.items += items;
        Ok(())
    }
}

/// A generation that was built but not published because its valid-row count
/// fell too far below the published one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldFeed {
    pub at: DateTime<Utc>,
    pub generation: u64,
    pub rows_valid: u64,
    pub published_rows_valid: u64,
    pub max_drop_percent: u32,
}

/// Streams one artifact into its file in a not-yet-published generation.
pub struct ArtifactWriter {
    file: io::BufWriter<File>,
    path: PathBuf,
    name: String,
    bytes: u64,
    hasher: Sha256,
    writeback: Writeback,
}

/// Bytes an artifact writer lets accumulate before it has them written to
/// disk in the background.
const WRITEBACK_BYTES: u64 = 8 * 1024 * 1024;

/// Writes an artifact's data to disk while the build goes on, so that the
/// sync before publishing waits for the last few megabytes only, not for
/// all of a feed (80 MB for 100k products, about 0.3 s of disk here).
/// A thread of its own, started once the file outgrows
/// [`WRITEBACK_BYTES`], runs `fdatasync` whenever the writer passes
/// another [`WRITEBACK_BYTES`]. Its errors fail [`ArtifactWriter::finish`]:
/// Linux reports a failed writeback to one sync only.
#[derive(Default)]
struct Writeback {
    requested_at: u64,
    worker: Option<(
        std::sync::mpsc::SyncSender<()>,
        std::thread::JoinHandle<io::Result<()>>,
    )>,
}

impl Writeback {
    /// Asks for the data up to `bytes` (already handed to the file) to be
    /// written out, unless the last request was recent. Never waits for
    /// the disk.
    fn request(&mut self, file: &File, bytes: u64) -> io::Result<()> {
        if bytes < self.requested_at + WRITEBACK_BYTES {
            return Ok(());
        }
        self.requested_at = bytes;
        if self.worker.is_none() {
            let file = file.try_clone()?;
            let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
            let thread = std::thread::Builder::new()
                .name("feed-writeback".into())
                .spawn(move || {
                    while rx.recv().is_ok() {
                        file.sync_data()?;
                    }
                    Ok(())
                })?;
            self.worker = Some((tx, thread));
        }
        if let Some((tx, _)) = &self.worker {
            // Full: a sync is pending and will cover these bytes too.
            // Disconnected: the thread stopped on an error, which
            // `finish` reports.
            let _ = tx.try_send(());
        }
        Ok(())
    }

    /// Waits for the background syncs and returns their first error.
    fn finish(self) -> io::Result<()> {
        let Some((tx, thread)) = self.worker else {
            return Ok(());
        };
        drop(tx);
        thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the writeback thread panicked")))
    }
}

impl ArtifactWriter {
    /// Syncs the file to disk and returns the artifact's description.
    ///
    /// # Errors
    /// File I/O.
    pub fn finish(self) -> io::Result<ArtifactMeta> {
        let file = self
            .file
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        self.writeback.finish()?;
        file.sync_all()?;
        let digest = self.hasher.finalize();
        tracing::debug!(artifact = %self.path.display(), bytes = self.bytes, "artifact written");
        Ok(ArtifactMeta {
            name: self.name,
            bytes: self.bytes,
            sha256: hex(&digest),
        })
    }
}

impl Write for ArtifactWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.file.write(data)?;
        self.hasher.update(&data[..n]);
        self.bytes += n as u64;
        // What the buffer still holds is not in the file yet; the next
        // request covers it.
        let in_file = self.bytes - self.file.buffer().len() as u64;
        self.writeback.request(self.file.get_ref(), in_file)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn artifact_error(path: &Path, source: io::Error) -> StoreError {
    StoreError::Artifact {
        path: path.display().to_string(),
        source,
    }
}

fn remove_dir(dir: &Path) -> Result<(), StoreError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(artifact_error(dir, e)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| artifact_error(dir, e))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

impl Store {
    fn feed_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(keys::FEED_TREE)?)
    }

    fn get_decoded<T: serde::de::DeserializeOwned>(
        &self,
        key: Vec<u8>,
    ) -> Result<Option<T>, StoreError> {
        self.feed_tree()?
            .get(&key)?
            .map(|v| keys::decode(&key, &v))
            .transpose()
    }

    /// The published feed of `shop`, if any.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn feed_meta(&self, shop: &ShopId) -> Result<Option<FeedMeta>, StoreError> {
        self.get_decoded(keys::feed_meta(shop.as_str()))
    }

    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn feed_report(&self, shop: &ShopId) -> Result<Option<FeedReport>, StoreError> {
        let Some(meta) = self.feed_meta(shop)? else {
            return Ok(None);
        };
        let path = self.generation_dir(shop, meta.generation).join(REPORT_FILE);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(artifact_error(&path, e)),
        };
        serde_json::from_reader(io::BufReader::new(file))
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                key: path.display().to_string(),
                source,
            })
    }

    /// The last generation held back, if the published feed is older than it.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn held_feed(&self, shop: &ShopId) -> Result<Option<HeldFeed>, StoreError> {
        self.get_decoded(keys::feed_held(shop.as_str()))
    }

    fn shop_feed_dir(&self, shop: &ShopId) -> PathBuf {
        self.files.root.join("feeds").join(shop.as_str())
    }

    fn generation_dir(&self, shop: &ShopId, generation: u64) -> PathBuf {
        self.shop_feed_dir(shop).join(format!("{generation:020}"))
    }

    /// Generation numbers with a directory on disk, in ascending order.
    fn generations_on_disk(&self, shop: &ShopId) -> Result<Vec<u64>, StoreError> {
        let dir = self.shop_feed_dir(shop);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(artifact_error(&dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| artifact_error(&dir, e))?;
            if let Some(g) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                out.push(g);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// A generation number never used before for `shop`.
    ///
    /// # Errors
    /// Store I/O.
    pub fn next_feed_generation(&self, shop: &ShopId) -> Result<u64, StoreError> {
        let published = self.feed_meta(shop)?.map_or(0, |m| m.generation);
        let held = self.held_feed(shop)?.map_or(0, |h| h.generation);
        // Files of an abandoned build (crash mid-build) may carry a higher number.
        let written = self.generations_on_disk(shop)?.last().copied().unwrap_or(0);
        Ok(published.max(held).max(written) + 1)
    }

    /// Starts writing artifact `name` of an unpublished `generation`.
    ///
    /// # Errors
    /// File I/O.
    pub fn artifact_writer(
        &self,
        shop: &ShopId,
        generation: u64,
        name: &str,
    ) -> Result<ArtifactWriter, StoreError> {
        let dir = self.generation_dir(shop, generation);
        std::fs::create_dir_all(&dir).map_err(|e| artifact_error(&dir, e))?;
        let path = dir.join(name);
        let file = File::create(&path).map_err(|e| artifact_error(&path, e))?;
        Ok(ArtifactWriter {
            file: io::BufWriter::with_capacity(CHUNK_BYTES, file),
            path,
            name: name.to_owned(),
            bytes: 0,
            hasher: Sha256::new(),
            writeback: Writeback::default(),
        })
    }

    /// Opens a file of `generation` for reading: an artifact, or a file the
    /// feed builder wrote beside them with [`Self::artifact_writer`] (the
    /// block index). `None` when there is no such file. Used to copy
    /// unchanged parts of the published generation into the next one; the
    /// published generation and the one before it are never deleted while
    /// a build runs (builds of one shop do not overlap).
    ///
    /// # Errors
    /// File I/O other than a missing file.
    pub fn open_generation_file(
        &self,
        shop: &ShopId,
        generation: u64,
        name: &str,
    ) -> Result<Option<File>, StoreError> {
        let path = self.generation_dir(shop, generation).join(name);
        match File::open(&path) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(artifact_error(&path, e)),
        }
    }

    /// Where a file of a generation lives (tests that damage files).
    #[cfg(test)]
    pub(crate) fn generation_file_path(
        &self,
        shop: &ShopId,
        generation: u64,
        name: &str,
    ) -> PathBuf {
        self.generation_dir(shop, generation).join(name)
    }

    /// The content hash of every row of the published feed, by item id: the
    /// feed's own index, read once per build to count changed rows.
    ///
    /// # Errors
    /// Store I/O.
    pub fn row_hashes(&self, shop: &ShopId) -> Result<HashMap<String, RowHash>, StoreError> {
        let mut out = HashMap::new();
        if let Some(rows) = self.published_row_hashes(shop)? {
            out.reserve(rows.len());
            for (id, hash) in rows.iter() {
                out.insert(String::from_utf8_lossy(id).into_owned(), *hash);
            }
        }
        Ok(out)
    }

    /// The row hashes of the published feed in feed order; `None` when there
    /// is no published feed, or it has no (readable) row-hash index.
    ///
    /// # Errors
    /// Store I/O.
    pub fn published_row_hashes(&self, shop: &ShopId) -> Result<Option<RowHashes>, StoreError> {
        let Some(meta) = self.feed_meta(shop)? else {
            return Ok(None);
        };
        let path = self
            .generation_dir(shop, meta.generation)
            .join(ROW_HASHES_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            // A feed published before the index existed: every row counts as new.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(artifact_error(&path, e)),
        };
        let parsed = RowHashes::parse(bytes);
        if parsed.is_none() {
            tracing::warn!(path = %path.display(), "unreadable row-hash index; ignoring it");
        }
        Ok(parsed)
    }

    /// Starts writing the row-hash index and report of an unpublished
    /// `generation`.
    ///
    /// # Errors
    /// File I/O.
    pub fn generation_index_writer(
        &self,
        shop: &ShopId,
        generation: u64,
    ) -> Result<GenerationIndexWriter, StoreError> {
        let rows = self.artifact_writer(shop, generation, ROW_HASHES_FILE)?;
        let scratch = self.scratch_dir();
        let spill = || -> Result<SpillList, StoreError> {
            std::fs::create_dir_all(&scratch)
                .and_then(|()| tempfile::tempfile_in(&scratch))
                .map(|file| SpillList {
                    items: 0,
                    file: io::BufWriter::with_capacity(64 * 1024, file),
                })
                .map_err(|e| artifact_error(&scratch, e))
        };
        Ok(GenerationIndexWriter {
            rows,
            row_count: 0,
            lists: [spill()?, spill()?, spill()?],
            report: self.generation_dir(shop, generation).join(REPORT_FILE),
        })
    }

    /// Makes `meta` the published feed in one atomic step, together with the
    /// files its build wrote (artifacts, report, row-hash index), and deletes
    /// generations older than the previous one.
    ///
    /// # Errors
    /// Store I/O.
    pub fn publish_feed(&self, shop: &ShopId, meta: &FeedMeta) -> Result<(), StoreError> {
        let tree = self.feed_tree()?;
        let s = shop.as_str();
        let previous = self.feed_meta(shop)?.map(|m| m.generation);
        // The files are synced by `ArtifactWriter::finish`; their directory
        // entries must be durable too before the pointer names them.
        sync_dir(&self.generation_dir(shop, meta.generation))?;
        sync_dir(&self.shop_feed_dir(shop))?;
        let mut batch = Batch::default();
        batch.insert(keys::feed_meta(s), keys::encode(meta));
        batch.remove(keys::feed_held(s));
        tree.apply_batch(batch)?;

        self.delete_generations_except(shop, &[Some(meta.generation), previous])
    }

    /// Records that `held.generation` was built but held back, and deletes its
    /// files; the published feed stays as it was.
    ///
    /// # Errors
    /// Store I/O.
    pub fn hold_feed(&self, shop: &ShopId, held: &HeldFeed) -> Result<(), StoreError> {
        let tree = self.feed_tree()?;
        tree.insert(keys::feed_held(shop.as_str()), keys::encode(held))?;
        let keep = self.feed_meta(shop)?.map(|m| m.generation);
        let before = match keep {
            Some(current) => self
                .generations_on_disk(shop)?
                .into_iter()
                .filter(|g| *g < current)
                .max(),
            None => None,
        };
        self.delete_generations_except(shop, &[keep, before])
    }

    /// Deletes the files of an unpublished generation (a build whose result
    /// equals the published feed).
    ///
    /// # Errors
    /// File I/O.
    pub fn discard_feed_generation(
        &self,
        shop: &ShopId,
        generation: u64,
    ) -> Result<(), StoreError> {
        self.retire_generations(shop, &[generation])
    }

    fn delete_generations_except(
        &self,
        shop: &ShopId,
        keep: &[Option<u64>],
    ) -> Result<(), StoreError> {
        let doomed: Vec<u64> = self
            .generations_on_disk(shop)?
            .into_iter()
            .filter(|g| !keep.contains(&Some(*g)))
            .collect();
        self.retire_generations(shop, &doomed)
    }

    /// Takes generations out of sight at once and deletes their files in
    /// the background: unlinking a feed's files takes about 0.1 s of disk
    /// work that no caller needs to wait for. A generation directory is
    /// renamed to `{generation}.retired` first, so it is gone for every
    /// reader and for [`Self::generations_on_disk`] the moment this
    /// returns; what a crash leaves retired is deleted with the next
    /// ones.
    fn retire_generations(&self, shop: &ShopId, generations: &[u64]) -> Result<(), StoreError> {
        for &generation in generations {
            let dir = self.generation_dir(shop, generation);
            let mut retired = dir.clone().into_os_string();
            retired.push(RETIRED_SUFFIX);
            match std::fs::rename(&dir, &retired) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(artifact_error(&dir, e)),
            }
        }
        let shop_dir = self.shop_feed_dir(shop);
        let sweep = move || -> Result<(), StoreError> {
            let entries = match std::fs::read_dir(&shop_dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(artifact_error(&shop_dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| artifact_error(&shop_dir, e))?;
                if entry
                    .file_name()
                    .to_string_lossy()
                    .ends_with(RETIRED_SUFFIX)
                {
                    remove_dir(&entry.path())?;
                }
            }
            Ok(())
        };
        let mut sweeper = self
            .files
            .sweeper
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let previous = sweeper.take();
        let spawned = std::thread::Builder::new()
            .name("feed-cleanup".into())
            .spawn({
                let sweep = sweep.clone();
                move || {
                    if let Some(previous) = previous {
                        let _ = previous.join();
                    }
                    if let Err(e) = sweep() {
                        tracing::warn!(
                            error = %crate::telemetry::ErrorChain(&e),
                            "deleting retired feed files failed; the next publish retries"
                        );
                    }
                }
            });
        match spawned {
            Ok(handle) => {
                *sweeper = Some(handle);
                Ok(())
            }
            Err(_) => sweep(),
        }
    }

    /// Waits until retired feed generations are deleted (shutdown, tests).
    pub fn wait_for_feed_cleanup(&self) {
        let pending = self
            .files
            .sweeper
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(handle) = pending {
            let _ = handle.join();
        }
    }

    /// The bytes of one artifact of a generation, in pieces of
    /// [`CHUNK_BYTES`]. An artifact that does not exist reads as empty.
    ///
    /// # Errors
    /// File I/O.
    pub fn artifact_chunks(
        &self,
        shop: &ShopId,
        generation: u64,
        name: &str,
    ) -> Result<impl Iterator<Item = Result<bytes::Bytes, StoreError>> + use<>, StoreError> {
        let path = self.generation_dir(shop, generation).join(name);
        let mut file = match File::open(&path) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(artifact_error(&path, e)),
        };
        Ok(std::iter::from_fn(move || {
            let f = file.as_mut()?;
            let mut buf = vec![0; CHUNK_BYTES];
            let mut filled = 0;
            while filled < buf.len() {
                match f.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        file = None;
                        return Some(Err(artifact_error(&path, e)));
                    }
                }
            }
            if filled == 0 {
                file = None;
                return None;
            }
            buf.truncate(filled);
            Some(Ok(bytes::Bytes::from(buf)))
        }))
    }

    /// Reads a whole artifact into memory (CLI export and tests; the server
    /// streams chunks instead).
    ///
    /// # Errors
    /// Store I/O.
    pub fn read_artifact(
        &self,
        shop: &ShopId,
        generation: u64,
        name: &str,
        out: &mut impl Write,
    ) -> Result<u64, StoreError> {
        let mut n = 0u64;
        for chunk in self.artifact_chunks(shop, generation, name)? {
            let chunk = chunk?;
            n += chunk.len() as u64;
            out.write_all(&chunk).map_err(|e| StoreError::Artifact {
                path: name.to_owned(),
                source: e,
            })?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(generation: u64, artifacts: Vec<ArtifactMeta>) -> FeedMeta {
        FeedMeta {
            generation,
            built_at: Utc::now(),
            rows_valid: 1,
            rows_invalid: 0,
            products_excluded: 0,
            rows_changed: 1,
            rows_removed: 0,
            snapshot_hash: String::new(),
            artifacts,
            changes_from: None,
        }
    }

    fn write_generation(
        store: &Store,
        shop: &ShopId,
        generation: u64,
        payload: &[u8],
    ) -> ArtifactMeta {
        let mut w = store.artifact_writer(shop, generation, "a.bin").unwrap();
        w.write_all(payload).unwrap();
        let artifact = w.finish().unwrap();
        let index = store.generation_index_writer(shop, generation).unwrap();
        index.finish(generation).unwrap();
        artifact
    }

    #[test]
    fn unpublished_generation_is_invisible_until_publish() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        let g1 = store.next_feed_generation(&shop).unwrap();
        let a1 = write_generation(&store, &shop, g1, b"first");
        store.publish_feed(&shop, &meta(g1, vec![a1])).unwrap();

        // Build generation 2 (bigger than one chunk) but do not publish yet.
        let g2 = store.next_feed_generation(&shop).unwrap();
        assert_eq!(g2, g1 + 1);
        let big = vec![7u8; CHUNK_BYTES * 2 + 10];
        let a2 = write_generation(&store, &shop, g2, &big);
        let published = store.feed_meta(&shop).unwrap().unwrap();
        assert_eq!(published.generation, g1);
        let mut out = Vec::new();
        store
            .read_artifact(&shop, published.generation, "a.bin", &mut out)
            .unwrap();
        assert_eq!(out, b"first");

        store
            .publish_feed(&shop, &meta(g2, vec![a2.clone()]))
            .unwrap();
        let mut out = Vec::new();
        store.read_artifact(&shop, g2, "a.bin", &mut out).unwrap();
        assert_eq!(out, big);
        assert_eq!(a2.sha256, hex(&Sha256::digest(&big)));
    }

    #[test]
    fn abandoned_build_never_reuses_its_generation_and_old_ones_are_collected() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        for _ in 0..3 {
            let g = store.next_feed_generation(&shop).unwrap();
            let a = write_generation(&store, &shop, g, b"x");
            store.publish_feed(&shop, &meta(g, vec![a])).unwrap();
        }
        // Generation 1 is gone, 2 (previous) and 3 (current) remain.
        let mut out = Vec::new();
        assert_eq!(store.read_artifact(&shop, 1, "a.bin", &mut out).unwrap(), 0);
        assert_eq!(store.read_artifact(&shop, 2, "a.bin", &mut out).unwrap(), 1);
        // A crash mid-build leaves files of generation 4; the next build uses 5.
        write_generation(&store, &shop, 4, b"partial");
        assert_eq!(store.next_feed_generation(&shop).unwrap(), 5);

        // Retired generations leave the disk, and so does one a crash left
        // half deleted.
        let shop_dir = store.shop_feed_dir(&shop);
        let leftover = shop_dir.join(format!("{:020}{RETIRED_SUFFIX}", 0));
        std::fs::create_dir_all(&leftover).unwrap();
        std::fs::write(leftover.join("a.bin"), b"old").unwrap();
        let a = write_generation(&store, &shop, 5, b"y");
        store.publish_feed(&shop, &meta(5, vec![a])).unwrap();
        store.wait_for_feed_cleanup();
        let mut left: Vec<String> = std::fs::read_dir(&shop_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec![format!("{:020}", 3), format!("{:020}", 5)]);
    }

    #[test]
    fn the_index_writer_streams_rows_and_report_into_the_published_files() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        let row = |id: &str| InvalidRow {
            item_id: id.into(),
            product_id: "p".into(),
            title: "T".into(),
            issues: vec!["price: missing".into()],
        };
        let json = |items: &[InvalidRow]| {
            let mut list = JsonList::default();
            for item in items {
                list.push(item).unwrap();
            }
            list
        };
        // An earlier generation whose rows the new one carries over.
        let mut old = store.generation_index_writer(&shop, 1).unwrap();
        old.push_row("v1", &[1; 32]).unwrap();
        old.push_row("v2", &[2; 32]).unwrap();
        old.finish(1).unwrap();
        store.publish_feed(&shop, &meta(1, vec![])).unwrap();
        let carried = store.published_row_hashes(&shop).unwrap().unwrap();

        let g = store.next_feed_generation(&shop).unwrap();
        let mut w = store.generation_index_writer(&shop, g).unwrap();
        w.extend_rows(carried.reader().take(2).unwrap()).unwrap();
        w.push_row("v3", &[3; 32]).unwrap();
        let long = "x".repeat(70_000);
        assert!(w.push_row(&long, &[4; 32]).is_err());
        let invalid = json(&[row("a"), row("b")]);
        w.append(ReportList::InvalidRows, 2, invalid.json())
            .unwrap();
        w.append(ReportList::InvalidRows, 0, b"").unwrap();
        let more = json(&[row("c")]);
        w.append(ReportList::InvalidRows, 1, more.json()).unwrap();
        let mut excluded = JsonList::default();
        excluded
            .push(&ExcludedProduct {
                product_id: "d".into(),
                title: "Draft".into(),
                reason: "draft".into(),
            })
            .unwrap();
        w.append(ReportList::ExcludedProducts, 1, excluded.json())
            .unwrap();
        assert_eq!(w.rows(), 3, "the too-long id is not counted");
        let written = w.finish(g).unwrap();
        assert_eq!(
            (
                written.rows,
                written.invalid_rows,
                written.excluded_products
            ),
            (3, 3, 1)
        );
        let mut m = meta(g, vec![]);
        m.snapshot_hash = written.rows_sha256.clone();
        store.publish_feed(&shop, &m).unwrap();

        let rows = store.published_row_hashes(&shop).unwrap().unwrap();
        let ids: Vec<(&[u8], RowHash)> = rows.iter().map(|(id, h)| (id, *h)).collect();
        assert_eq!(
            ids,
            vec![
                (&b"v1"[..], [1; 32]),
                (&b"v2"[..], [2; 32]),
                (&b"v3"[..], [3; 32])
            ]
        );
        let file = std::fs::read(store.generation_file_path(&shop, g, ROW_HASHES_FILE)).unwrap();
        assert_eq!(written.rows_sha256, hex(&Sha256::digest(&file)));
        let report = store.feed_report(&shop).unwrap().unwrap();
        assert_eq!(report.generation, g);
        assert_eq!(
            report.invalid_rows,
            vec![row("a"), row("b"), row("c")],
            "two appends joined in order"
        );
        assert_eq!(report.excluded_products.len(), 1);
        assert!(report.warnings.is_empty());
    }

    #[test]
    fn held_feed_keeps_the_published_one_and_drops_its_own_files() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        let a = write_generation(&store, &shop, 1, b"good");
        store.publish_feed(&shop, &meta(1, vec![a])).unwrap();
        write_generation(&store, &shop, 2, b"shrunk");
        store
            .hold_feed(
                &shop,
                &HeldFeed {
                    at: Utc::now(),
                    generation: 2,
                    rows_valid: 1,
                    published_rows_valid: 10,
                    max_drop_percent: 20,
                },
            )
            .unwrap();
        assert_eq!(store.feed_meta(&shop).unwrap().unwrap().generation, 1);
        assert_eq!(store.held_feed(&shop).unwrap().unwrap().generation, 2);
        let mut out = Vec::new();
        assert_eq!(store.read_artifact(&shop, 2, "a.bin", &mut out).unwrap(), 0);
        assert_eq!(store.next_feed_generation(&shop).unwrap(), 3);
    }
}
