//! Builds one feed generation of a shop from the stored catalog and publishes
//! it atomically, or holds it back.
//!
//! Runs on the blocking pool (it scans the whole catalog and compresses).
//!
//! Every artifact is a sequence of per-product segments (see
//! [`super::segment`]); a product's segment refers back only into the text
//! of the product before it. The published generation's product index
//! ([`super::index`]) records each product's stored-bytes hash and segments.
//! A product whose stored bytes are unchanged, built under the same options
//! ([`index::fingerprint`]) and preceded by the same unchanged product as
//! before, is not decoded at all: its segments are copied from the
//! published files and its rows, row hashes and report fragment come from
//! the published index. Other products are decoded, mapped, validated and
//! encoded; a run of them is encoded after the text of the product before
//! it. The bytes of a segment depend only on the product and its
//! predecessor, so a rebuild writes exactly the files a build from scratch
//! writes.
//!
//! Threads (all scoped to one build): a reader scans the store and hashes
//! stored products; this thread matches them against the published index,
//! copies reused segments and writes everything in order; one encoder per
//! core encodes runs of fresh products. Channels are bounded, so memory
//! stays flat as the catalog grows. The new generation's row hashes and
//! report are held in memory until publish, as before.
//!
//! If the published files cannot be read back (missing, short, or a copied
//! segment failing its checksum), the build starts over without reuse.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

use chrono::Utc;

use super::index::{
    self, INDEX_FILE, IndexHeader, IndexReader, IndexWriter, Record, ReportFragment, SourceHash,
};
use super::map::RowMapper;
use super::segment::{
    CONTEXT_SEARCH, Segment, SegmentEncoder, SegmentRef, SpliceError, SplicedGzip,
};
use super::{
    FeedFilter, FeedFormat, FeedOptions, ProductTexts, Severity, acp_product, has_errors,
    product_exclusion, validate_row,
};
use crate::domain::ShopId;
use crate::store::{
    ArtifactMeta, ArtifactWriter, ExcludedProduct, FeedMeta, GenerationIndexWriter, HeldFeed,
    InvalidRow, RowHash, RowHashes, RowReader, RowRun, Store, StoreError, StoredProduct,
};
use crate::telemetry::ErrorChain;

/// Products the reader hands over at a time.
const READ_BATCH: usize = 64;
/// Batches read ahead of matching.
const BATCHES_AHEAD: usize = 16;
/// Most products in one encoding job.
const JOB_PRODUCTS: usize = 64;
/// Encoding jobs handed out and not yet written.
const IN_FLIGHT: usize = 64;
/// Products waiting to be written behind a job still being encoded.
const MAX_QUEUED: usize = 8192;

/// Why a feed could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FeedBuildError {
    #[error("feed store access failed")]
    Store(#[from] StoreError),
    /// A product's stored bytes no longer had the digest the build took
    /// for it: something wrote the catalog during the build.
    #[error("product {product} changed while the feed was being built; the next build includes it")]
    CatalogChanged { product: String },
    #[error("writing the {format} file failed")]
    Encode {
        format: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// What happened to the generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerationOutcome {
    /// Published as the shop's feed.
    Published(FeedMeta),
    /// Identical rows to the published feed, whose files the build could
    /// read back and reuse; nothing changed. (Equal rows built without the
    /// published files, e.g. after an upgrade, are published instead, so
    /// the next build can reuse them.)
    Unchanged(FeedMeta),
    /// Built but held back: too few valid rows compared with the published feed.
    Held(HeldFeed),
}

impl GenerationOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            GenerationOutcome::Published(_) => "published",
            GenerationOutcome::Unchanged(_) => "unchanged",
            GenerationOutcome::Held(_) => "held",
        }
    }
}

/// How a build went about it: how much of the published generation it
/// reused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Products in the catalog.
    pub products: u64,
    /// When the build took the catalog from the published index and the
    /// change log instead of reading every stored product: how many
    /// products were logged as changed since the published build.
    pub logged_changes: Option<u64>,
    /// Products whose segments, rows and report were copied from the
    /// published generation without decoding them.
    pub products_reused: u64,
    /// Products decoded, mapped, validated and encoded.
    pub products_encoded: u64,
    /// Unchanged products decoded and mapped only to give the encoding of
    /// the product after them its context.
    pub products_mapped_for_context: u64,
    /// Whether the published generation's index matched this build's
    /// options and could be read.
    pub previous_index_used: bool,
    /// Whether reuse failed midway (published files unreadable) and the
    /// build started over without it.
    pub restarted_without_reuse: bool,
}

/// A finished build: its outcome, its statistics and the artifacts as built
/// (for an unchanged feed, these equal the published ones and were
/// discarded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationBuild {
    pub outcome: GenerationOutcome,
    pub stats: BuildStats,
    pub artifacts: Vec<ArtifactMeta>,
}

/// Inputs of a build besides the catalog.
pub struct GenerationSettings<'a> {
    pub options: &'a FeedOptions,
    pub filter: &'a FeedFilter,
    /// Hold back a feed whose valid rows fall more than this share below the
    /// published feed's.
    pub max_drop_percent: u32,
}

/// Whether a build may copy unchanged products from the published
/// generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Copy products that are unchanged (the default).
    Published,
    /// Encode every product (measuring a cold build, or distrusting the
    /// published files).
    Never,
}

fn encode_err(format: FeedFormat) -> impl FnOnce(std::io::Error) -> FeedBuildError {
    move |source| FeedBuildError::Encode {
        format: format.file_name(),
        source,
    }
}

fn index_err(source: io::Error) -> FeedBuildError {
    FeedBuildError::Encode {
        format: INDEX_FILE,
        source,
    }
}

/// Writing the generation's row hashes or report failed.
fn written_err(source: io::Error) -> FeedBuildError {
    FeedBuildError::Encode {
        format: "row hashes and report",
        source,
    }
}

/// A build failure, or a failure to read the published generation back
/// (after which the build starts over without reuse).
enum BuildError {
    Feed(FeedBuildError),
    Previous(io::Error),
}

impl From<FeedBuildError> for BuildError {
    fn from(e: FeedBuildError) -> Self {
        BuildError::Feed(e)
    }
}

impl From<StoreError> for BuildError {
    fn from(e: StoreError) -> Self {
        BuildError::Feed(e.into())
    }
}

impl BuildError {
    fn into_feed(self) -> FeedBuildError {
        match self {
            BuildError::Feed(e) => e,
            BuildError::Previous(source) => FeedBuildError::Encode {
                format: "previous generation",
                source,
            },
        }
    }
}

/// Builds, checks and publishes (or holds) a new generation for `shop`.
///
/// # Errors
/// Store I/O or an encoder failure; the published feed is untouched then.
pub fn build_and_publish(
    store: &Store,
    shop: &ShopId,
    settings: &GenerationSettings<'_>,
) -> Result<GenerationOutcome, FeedBuildError> {
    build_generation(store, shop, settings).map(|b| b.outcome)
}

/// As [`build_and_publish`], also saying how much of the published
/// generation was reused.
///
/// # Errors
/// Store I/O or an encoder failure; the published feed is untouched then.
pub fn build_generation(
    store: &Store,
    shop: &ShopId,
    settings: &GenerationSettings<'_>,
) -> Result<GenerationBuild, FeedBuildError> {
    build_generation_with(store, shop, settings, Reuse::Published)
}

/// As [`build_generation`], choosing whether to reuse the published
/// generation.
///
/// # Errors
/// Store I/O or an encoder failure; the published feed is untouched then.
pub fn build_generation_with(
    store: &Store,
    shop: &ShopId,
    settings: &GenerationSettings<'_>,
    reuse: Reuse,
) -> Result<GenerationBuild, FeedBuildError> {
    if reuse == Reuse::Never {
        return build(store, shop, settings, false).map_err(BuildError::into_feed);
    }
    match build(store, shop, settings, true) {
        Ok(build) => Ok(build),
        Err(BuildError::Feed(e)) => Err(e),
        Err(BuildError::Previous(error)) => {
            tracing::warn!(
                error = %error,
                "the published feed could not be read back; encoding every product"
            );
            let mut build = build(store, shop, settings, false).map_err(BuildError::into_feed)?;
            build.stats.restarted_without_reuse = true;
            Ok(build)
        }
    }
}

fn build(
    store: &Store,
    shop: &ShopId,
    settings: &GenerationSettings<'_>,
    reuse: bool,
) -> Result<GenerationBuild, BuildError> {
    let generation = store.next_feed_generation(shop)?;
    let built = build_files(store, shop, settings, generation, reuse);
    if matches!(built, Err(BuildError::Previous(_))) {
        // Nothing refers to the directory yet; the retry takes a new one.
        store.discard_feed_generation(shop, generation)?;
    }
    let Built { meta, stats } = built?;
    let artifacts = meta.artifacts.clone();
    let published = store.feed_meta(shop)?;
    let previous_valid = published.as_ref().map_or(0, |m| m.rows_valid);
    // Unchanged only when this build could read the published files back:
    // otherwise they are from an older format (or options that did not
    // change a row), and the next build could not reuse them, or they are
    // damaged; the new, equal generation replaces them.
    let reused_published = stats.previous_index_used && !stats.restarted_without_reuse;
    let outcome = if let Some(current) = published.as_ref().filter(|p| {
        reused_published
            && p.snapshot_hash == meta.snapshot_hash
            && p.rows_invalid == meta.rows_invalid
    }) {
        store.discard_feed_generation(shop, generation)?;
        GenerationOutcome::Unchanged(current.clone())
    } else if dropped_too_far(previous_valid, meta.rows_valid, settings.max_drop_percent) {
        let held = HeldFeed {
            at: meta.built_at,
            generation,
            rows_valid: meta.rows_valid,
            published_rows_valid: previous_valid,
            max_drop_percent: settings.max_drop_percent,
        };
        store.hold_feed(shop, &held)?;
        GenerationOutcome::Held(held)
    } else {
        store.publish_feed(shop, &meta)?;
        // Changes from before this build are in the published generation;
        // the log keeps what came after. Failing to prune only costs the
        // next build a few more products to check.
        if let Some(start) = meta.changes_from
            && let Err(e) = store.forget_changes_before(shop, start)
        {
            tracing::warn!(error = %ErrorChain(&e), "pruning the product change log failed");
        }
        GenerationOutcome::Published(meta)
    };
    tracing::debug!(
        feed.generation = generation,
        feed.products = stats.products,
        feed.products_reused = stats.products_reused,
        feed.products_encoded = stats.products_encoded,
        outcome = outcome.label(),
        "feed generation built"
    );
    Ok(GenerationBuild {
        outcome,
        stats,
        artifacts,
    })
}

/// The files of an unpublished generation, written and synced.
struct Built {
    meta: FeedMeta,
    stats: BuildStats,
}

/// A stored product as the reader hands it over: its id and digest, and
/// its bytes when the reader read them too. A rebuild takes unchanged
/// products from the published index and loads the few it decodes
/// ([`Catalog::load`]).
#[derive(Clone)]
struct Scanned {
    id: String,
    source: SourceHash,
    stored: Option<StoredProduct>,
}

/// Where products whose bytes were not scanned are loaded from.
#[derive(Clone, Copy)]
struct Catalog<'a> {
    store: &'a Store,
    shop: &'a ShopId,
}

impl Catalog<'_> {
    /// The scanned product's bytes, which must still have the scanned
    /// digest: a product reused as a neighbour's context must be the one
    /// the published segments were built from.
    fn load(self, product: &Scanned) -> Result<StoredProduct, FeedBuildError> {
        if let Some(stored) = &product.stored {
            return Ok(stored.clone());
        }
        match self.store.stored_product(self.shop, &product.id)? {
            Some(stored) if stored.digest() == product.source => Ok(stored),
            _ => Err(FeedBuildError::CatalogChanged {
                product: product.id.clone(),
            }),
        }
    }
}

/// A run of products to encode, with the products before it (newest last,
/// at most [`CONTEXT_SEARCH`]): the encoder decodes them again, newest
/// first, until one has valid rows, whose text is the run's context.
struct Job {
    predecessors: Vec<Scanned>,
    /// Whether `predecessors` go back to the start of the catalog (then the
    /// CSV and TSV headers come before them).
    from_start: bool,
    products: Vec<Scanned>,
}

/// Decides, product by product, whether a product's segments can be reused:
/// when it is unchanged and its context (see [`super::segment`]) is made of
/// the same unchanged products as in the published files.
#[derive(Default)]
struct ContextTracker {
    /// The latest products (newest last, at most [`CONTEXT_SEARCH`]).
    recent: VecDeque<Scanned>,
    /// Products seen so far.
    seen: usize,
    /// The latest unchanged products that follow each other as they did in
    /// the published index (newest last, at most [`CONTEXT_SEARCH`]): their
    /// published ordinal and whether their text is empty.
    run: VecDeque<(usize, bool)>,
    /// Whether `run` starts at the start of both the catalog and the
    /// published index.
    run_from_start: bool,
}

impl ContextTracker {
    /// Takes note of the next product: `unchanged` holds its published
    /// ordinal and whether its text is empty, when its stored bytes are as
    /// published. Returns whether its published segments are valid here.
    fn admit(&mut self, unchanged: Option<(usize, bool)>) -> bool {
        let Some((ordinal, empty)) = unchanged else {
            self.run.clear();
            self.run_from_start = false;
            return false;
        };
        // The run, when not empty, ends with the product just before this
        // one (every product either extends it, restarts it or clears it).
        let follows = match self.run.back() {
            None => self.seen == 0 && ordinal == 0,
            Some((previous, _)) => previous + 1 == ordinal,
        };
        // The first product's context is the header, the same every time.
        let reusable = follows && (self.seen == 0 || self.context_intact());
        if !follows {
            self.run.clear();
            self.run_from_start = false;
        } else if self.seen == 0 {
            self.run_from_start = true;
        }
        self.run.push_back((ordinal, empty));
        if self.run.len() > CONTEXT_SEARCH {
            self.run.pop_front();
            self.run_from_start = false;
        }
        reusable
    }

    /// Whether the texts that decide the next product's context are the
    /// published ones: the run reaches back to a non-empty text, or over
    /// [`CONTEXT_SEARCH`] empty ones, or to the start.
    fn context_intact(&self) -> bool {
        for (n, (_, empty)) in self.run.iter().rev().enumerate() {
            if !empty || n + 1 >= CONTEXT_SEARCH {
                return true;
            }
        }
        self.run_from_start && self.run.len() == self.seen
    }

    /// Remembers the product just admitted.
    fn push(&mut self, product: Scanned) {
        self.recent.push_back(product);
        if self.recent.len() > CONTEXT_SEARCH {
            self.recent.pop_front();
        }
        self.seen += 1;
    }

    /// A new job starting after the products seen so far.
    fn job(&self) -> Job {
        Job {
            predecessors: self.recent.iter().cloned().collect(),
            from_start: self.seen == self.recent.len(),
            products: Vec::with_capacity(4),
        }
    }
}

/// A product encoded by this build.
struct Encoded {
    id: String,
    source: SourceHash,
    segments: [Segment; 4],
    rows: Vec<(String, RowHash)>,
    fragment: ReportFragment,
}

/// The published generation, as far as a rebuild reads it.
struct Previous {
    index: Vec<u8>,
    rows: RowHashes,
    sources: [Option<File>; 4],
}

impl Previous {
    /// The published index's records, from the start.
    fn records(&self) -> Result<(IndexReader<'_>, IndexHeader), BuildError> {
        match IndexReader::open(&self.index) {
            Ok(Some(opened)) => Ok(opened),
            _ => Err(BuildError::Previous(io::Error::other("unreadable index"))),
        }
    }
}

fn build_files(
    store: &Store,
    shop: &ShopId,
    settings: &GenerationSettings<'_>,
    generation: u64,
    reuse: bool,
) -> Result<Built, BuildError> {
    // Drawn before reading anything: every product change logged with a
    // smaller number is in what this build reads.
    let start = store.next_change()?;
    let published = store.feed_meta(shop)?;
    let fingerprint = index::fingerprint(settings.options, settings.filter);
    let mut previous = match (reuse, &published) {
        (true, Some(meta)) => open_previous(store, shop, meta, &fingerprint),
        _ => None,
    };
    let mut stats = BuildStats {
        previous_index_used: previous.is_some(),
        ..BuildStats::default()
    };
    let sources = previous.as_mut().map_or_else(
        || [None, None, None, None],
        |p| std::mem::take(&mut p.sources),
    );
    let mut cursor = match &previous {
        Some(p) => {
            let (records, header) = p.records()?;
            OldCursor::new(records, &header, p.rows.reader())
        }
        // Without a usable index every product is encoded, and the
        // published row hashes decide which rows changed.
        None => OldCursor::empty(store.row_hashes(shop)?),
    };

    let headers = ProductTexts::headers().map_err(encode_err(FeedFormat::OpenAiCsvGz))?;
    let mut out = Output::create(store, shop, generation, &fingerprint, sources, &headers)?;

    // A rebuild after a build that logged where the change log stood
    // takes the catalog from the published index plus the products changed
    // since, and loads only those it decodes; any other build reads every
    // stored product.
    let logged = match (&previous, published.as_ref().and_then(|m| m.changes_from)) {
        (Some(p), Some(since)) => Some((p.records()?.0, store.changed_products(shop, since)?)),
        _ => None,
    };
    stats.logged_changes = logged.as_ref().map(|(_, changed)| changed.len() as u64);
    let catalog = Catalog { store, shop };
    let products = match logged {
        Some((records, changed)) => Scan::Logged(Box::new(Logged {
            records: records.peekable(),
            changed: changed.into_iter().peekable(),
            catalog,
        })),
        None => Scan::Products(store.stored_products(shop)?),
    };
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    // Encoders share the job receiver; it outlives the scope, the sender
    // does not (dropping it, on success or error, stops the encoders).
    let (job_tx, job_rx) = sync_channel::<(u64, Job)>(IN_FLIGHT);
    let jobs = Mutex::new(job_rx);
    let headers = &headers;
    std::thread::scope(|scope| -> Result<(), BuildError> {
        let job_tx = job_tx;
        let (batch_tx, batch_rx) = sync_channel::<Result<Vec<Scanned>, BuildError>>(BATCHES_AHEAD);
        let reader = std::thread::Builder::new()
            .name("feed-reader".into())
            .spawn_scoped(scope, move || read_products(products, &batch_tx))
            .map_err(encode_err(FeedFormat::OpenAiJsonlGz))?;
        let (done_tx, done_rx) = sync_channel::<(u64, JobResult)>(IN_FLIGHT);
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let jobs = &jobs;
            std::thread::Builder::new()
                .name("feed-encoder".into())
                .spawn_scoped(scope, move || {
                    encode_jobs(jobs, &done_tx, settings, headers, catalog)
                })
                .map_err(encode_err(FeedFormat::OpenAiJsonlGz))?;
        }
        // Only the encoders hold senders: if they all stop, `recv` fails
        // instead of waiting forever.
        drop(done_tx);

        let mut queue = Queue {
            slots: VecDeque::new(),
            ready: HashMap::new(),
            in_flight: 0,
            next_seq: 0,
            done: done_rx,
            jobs: Some(job_tx),
        };
        let mut job: Option<Job> = None;
        let mut context = ContextTracker::default();
        for batch in batch_rx {
            for product in batch? {
                stats.products += 1;
                let old = cursor.find(&product.id)?;
                let unchanged = old
                    .as_ref()
                    .filter(|o| *o.record.source == product.source)
                    .map(|o| (o.ordinal, o.record.segments[0].raw_len == 0));
                let reusable = context.admit(unchanged);
                let scanned = product.clone();
                if reusable && let Some(old) = old {
                    if let Some(full) = job.take() {
                        queue.dispatch(full, &mut out, &cursor.stale)?;
                    }
                    stats.products_reused += 1;
                    queue.slots.push_back(Slot::Reused(Box::new(old)));
                } else {
                    if let Some(old) = old {
                        cursor.retire(old);
                    }
                    stats.products_encoded += 1;
                    if job
                        .as_ref()
                        .is_some_and(|j| j.products.len() >= JOB_PRODUCTS)
                        && let Some(full) = job.take()
                    {
                        queue.dispatch(full, &mut out, &cursor.stale)?;
                    }
                    job.get_or_insert_with(|| context.job())
                        .products
                        .push(product);
                }
                context.push(scanned);
                while queue.write_head(&mut out, &cursor.stale, queue.slots.len() > MAX_QUEUED)? {}
            }
        }
        // The reader ends by exhausting the catalog or by failing (its
        // error went through the channel); a panic must not pass for the
        // end of the catalog.
        reader.join().map_err(|_| {
            BuildError::Feed(FeedBuildError::Encode {
                format: "catalog reader",
                source: io::Error::other("the catalog reader panicked"),
            })
        })?;
        if let Some(last) = job.take() {
            queue.dispatch(last, &mut out, &cursor.stale)?;
        }
        // Closing the job channel lets the encoders stop once it is empty.
        queue.jobs = None;
        while queue.write_head(&mut out, &cursor.stale, true)? {}
        Ok(())
    })?;
    cursor.finish()?;
    // Jobs that restarted inside a run re-map their predecessor too.
    stats.products_mapped_for_context = out.mapped_for_context;

    let Output {
        artifacts,
        index,
        written,
        unmatched_rows,
        mut counts,
        ..
    } = out;

    // Rows not found among the published ones while writing may belong to
    // a published product retired later; now every one is retired.
    for (id, hash) in &unmatched_rows {
        counts.count(cursor.stale.rows.get(id), hash);
    }

    let mut writers = Vec::with_capacity(4);
    for (gz, format) in artifacts.into_iter().zip(FeedFormat::ALL) {
        let (writer, _) = gz.finish().map_err(|e| splice_err(e, format))?;
        writers.push((writer, format));
    }
    let index = index
        .finish()
        .and_then(|w| w.into_inner().map_err(io::IntoInnerError::into_error))
        .map_err(index_err)?;
    // Syncing the seven files one after another waits for each file's
    // writeback in turn; syncing them side by side lets the disk take
    // them together. The threads mostly wait.
    let (metas, index_synced, written) = std::thread::scope(|scope| {
        let written = std::thread::Builder::new()
            .name("feed-sync".into())
            .spawn_scoped(scope, move || written.finish(generation));
        let syncs: Vec<_> = writers
            .into_iter()
            .map(|(writer, format)| {
                std::thread::Builder::new()
                    .name("feed-sync".into())
                    .spawn_scoped(scope, move || finish(writer, format))
                    .map_err(encode_err(format))
            })
            .collect();
        let index_synced = index.finish().map_err(index_err);
        let metas: Result<Vec<ArtifactMeta>, FeedBuildError> = syncs
            .into_iter()
            .zip(FeedFormat::ALL)
            .map(|(sync, format)| {
                sync?.join().unwrap_or_else(|_| {
                    Err(encode_err(format)(io::Error::other(
                        "syncing the file panicked",
                    )))
                })
            })
            .collect();
        let written = written.map_err(written_err).and_then(|thread| {
            thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("writing them panicked")))
                .map_err(written_err)
        });
        (metas, index_synced, written)
    });
    let metas = metas?;
    index_synced?;
    let written = written?;

    let valid = written.rows;
    let previous_valid = published.as_ref().map_or(0, |m| m.rows_valid);
    let meta = FeedMeta {
        generation,
        built_at: Utc::now(),
        rows_valid: valid,
        rows_invalid: written.invalid_rows,
        products_excluded: written.excluded_products,
        rows_changed: counts.changed,
        rows_removed: previous_valid.saturating_sub(valid - counts.new_rows),
        snapshot_hash: written.rows_sha256,
        artifacts: metas,
        changes_from: Some(start),
    };
    Ok(Built { meta, stats })
}

fn encoders_stopped() -> BuildError {
    BuildError::Feed(FeedBuildError::Encode {
        format: "feed block",
        source: io::Error::other("the feed encoders stopped"),
    })
}

fn splice_err(e: SpliceError, format: FeedFormat) -> BuildError {
    match e {
        SpliceError::Write(source) => BuildError::Feed(encode_err(format)(source)),
        SpliceError::Source(source) => BuildError::Previous(source),
    }
}

/// The published generation's index, row hashes and artifact files, when
/// they were built under the same fingerprint and look intact. Anything
/// else means no reuse (logged), never a failed build.
fn open_previous(
    store: &Store,
    shop: &ShopId,
    meta: &FeedMeta,
    fingerprint: &[u8; 32],
) -> Option<Previous> {
    let opened = (|| -> Result<Option<Previous>, StoreError> {
        let Some(mut file) = store.open_generation_file(shop, meta.generation, INDEX_FILE)? else {
            return Ok(None);
        };
        let mut index = Vec::new();
        if let Err(e) = io::Read::read_to_end(&mut file, &mut index) {
            tracing::warn!(error = %e, "unreadable product index of the published feed");
            return Ok(None);
        }
        match IndexReader::open(&index) {
            Ok(Some((_, header))) if header.fingerprint == *fingerprint => {}
            _ => return Ok(None),
        }
        let Some(rows) = store.published_row_hashes(shop)? else {
            return Ok(None);
        };
        let mut sources: [Option<File>; 4] = [None, None, None, None];
        for (source, format) in sources.iter_mut().zip(FeedFormat::ALL) {
            let name = format.stored_name();
            let expected = meta.artifact(name).map(|a| a.bytes);
            let Some(file) = store.open_generation_file(shop, meta.generation, name)? else {
                return Ok(None);
            };
            let len = file.metadata().ok().map(|m| m.len());
            if len.is_none() || len != expected {
                tracing::warn!(
                    feed.artifact = name,
                    "a published artifact does not have its recorded size"
                );
                return Ok(None);
            }
            *source = Some(file);
        }
        Ok(Some(Previous {
            index,
            rows,
            sources,
        }))
    })();
    opened.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the published feed files could not be opened");
        None
    })
}

/// A product of the published generation: its record, its rows and where
/// its segments are in the published files.
struct OldProduct<'a> {
    record: Record<'a>,
    rows: RowRun<'a>,
    segments: [SegmentRef; 4],
    ordinal: usize,
}

/// Walks the published index alongside the new products (both in
/// product-id order).
struct OldCursor<'a> {
    records: Option<IndexReader<'a>>,
    rows: Option<RowReader<'a>>,
    head: Option<OldProduct<'a>>,
    /// Where the next record's segments start in each published file.
    offsets: [u64; 4],
    ordinal: usize,
    stale: Stale,
}

/// Row hashes of published products that were not reused, by item id.
struct Stale {
    rows: HashMap<String, RowHash>,
    /// Whether every published row is in `rows` already (no index to walk).
    complete: bool,
}

impl<'a> OldCursor<'a> {
    fn new(records: IndexReader<'a>, header: &IndexHeader, rows: RowReader<'a>) -> Self {
        let start = super::segment::GZIP_HEADER.len() as u64;
        OldCursor {
            records: Some(records),
            rows: Some(rows),
            head: None,
            offsets: header.opening.map(|s| start + u64::from(s.len)),
            ordinal: 0,
            stale: Stale {
                rows: HashMap::new(),
                complete: false,
            },
        }
    }

    fn empty(stale: HashMap<String, RowHash>) -> Self {
        OldCursor {
            records: None,
            rows: None,
            head: None,
            offsets: [0; 4],
            ordinal: 0,
            stale: Stale {
                rows: stale,
                complete: true,
            },
        }
    }

    fn peek(&mut self) -> Result<Option<&OldProduct<'a>>, BuildError> {
        if self.head.is_none()
            && let (Some(records), Some(rows)) = (&mut self.records, &mut self.rows)
            && let Some(record) = records.next().transpose().map_err(BuildError::Previous)?
        {
            let run = rows.take(record.rows as usize).ok_or_else(|| {
                BuildError::Previous(io::Error::other("the row hashes do not match the index"))
            })?;
            let mut segments = record.segments;
            for (s, offset) in segments.iter_mut().zip(&mut self.offsets) {
                s.offset = *offset;
                *offset += u64::from(s.len);
            }
            self.head = Some(OldProduct {
                record,
                rows: run,
                segments,
                ordinal: self.ordinal,
            });
            self.ordinal += 1;
        }
        Ok(self.head.as_ref())
    }

    /// The published product with this id, if any; published products
    /// before it are gone and retired.
    fn find(&mut self, id: &str) -> Result<Option<OldProduct<'a>>, BuildError> {
        loop {
            let Some(head) = self.peek()? else {
                return Ok(None);
            };
            match head.record.id.as_bytes().cmp(id.as_bytes()) {
                std::cmp::Ordering::Greater => return Ok(None),
                std::cmp::Ordering::Equal => return Ok(self.head.take()),
                std::cmp::Ordering::Less => {
                    if let Some(gone) = self.head.take() {
                        self.retire(gone);
                    }
                }
            }
        }
    }

    /// Remembers the rows of a published product that is not reused.
    fn retire(&mut self, old: OldProduct<'a>) {
        for (id, hash) in old.rows.iter() {
            self.stale
                .rows
                .insert(String::from_utf8_lossy(id).into_owned(), *hash);
        }
    }

    /// Retires the published products no new product matched, and checks
    /// the index and the row hashes ended together.
    fn finish(&mut self) -> Result<(), BuildError> {
        while self.peek()?.is_some() {
            if let Some(gone) = self.head.take() {
                self.retire(gone);
            }
        }
        if self.rows.as_ref().is_some_and(|r| !r.is_done()) {
            return Err(BuildError::Previous(io::Error::other(
                "the row hashes do not match the index",
            )));
        }
        Ok(())
    }
}

/// What the reader scans.
enum Scan<'a, P> {
    /// Every stored product.
    Products(P),
    /// The published index and the change log.
    Logged(Box<Logged<'a>>),
}

impl<P> Iterator for Scan<'_, P>
where
    P: Iterator<Item = Result<StoredProduct, StoreError>>,
{
    type Item = Result<Scanned, BuildError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Scan::Products(p) => Some(
                p.next()?
                    .map(|stored| Scanned {
                        id: stored.id().into_owned(),
                        source: stored.digest(),
                        stored: Some(stored),
                    })
                    .map_err(BuildError::from),
            ),
            Scan::Logged(logged) => logged.next(),
        }
    }
}

/// The catalog as the published index and the change log tell it, in id
/// order: a product not logged since the published build is as the index
/// records it (its bytes are loaded only if needed, and checked then); a
/// logged one is read from the store, or skipped when it is gone.
struct Logged<'a> {
    records: std::iter::Peekable<IndexReader<'a>>,
    /// Ids changed since the published build, in id order.
    changed: std::iter::Peekable<std::vec::IntoIter<String>>,
    catalog: Catalog<'a>,
}

impl Logged<'_> {
    fn next(&mut self) -> Option<Result<Scanned, BuildError>> {
        loop {
            let record = match self.records.peek() {
                Some(Ok(record)) => Some(record),
                Some(Err(_)) => {
                    let error = self.records.next().and_then(Result::err)?;
                    return Some(Err(BuildError::Previous(error)));
                }
                None => None,
            };
            let take_changed = match (record, self.changed.peek()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(record), Some(id)) => id.as_str() <= record.id,
            };
            if !take_changed {
                let Some(Ok(record)) = self.records.next() else {
                    return None;
                };
                return Some(Ok(Scanned {
                    id: record.id.to_owned(),
                    source: *record.source,
                    stored: None,
                }));
            }
            let id = self.changed.next()?;
            if record.is_some_and(|r| r.id == id) {
                self.records.next();
            }
            match self.catalog.store.stored_product(self.catalog.shop, &id) {
                Ok(Some(stored)) => {
                    return Some(Ok(Scanned {
                        id,
                        source: stored.digest(),
                        stored: Some(stored),
                    }));
                }
                // Removed since.
                Ok(None) => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
    }
}

/// Reader thread: scans the catalog in batches.
fn read_products(
    products: impl Iterator<Item = Result<Scanned, BuildError>>,
    tx: &SyncSender<Result<Vec<Scanned>, BuildError>>,
) {
    let mut batch = Vec::with_capacity(READ_BATCH);
    for product in products {
        match product {
            Ok(p) => batch.push(p),
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
        // A closed channel means the build stopped; its error wins.
        if batch.len() >= READ_BATCH
            && tx
                .send(Ok(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(READ_BATCH),
                )))
                .is_err()
        {
            return;
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(Ok(batch));
    }
}

type JobResult = Result<(Vec<Encoded>, u64), FeedBuildError>;

/// Encoder thread: encodes jobs until the job channel closes.
fn encode_jobs(
    jobs: &Mutex<Receiver<(u64, Job)>>,
    done: &SyncSender<(u64, JobResult)>,
    settings: &GenerationSettings<'_>,
    headers: &[Vec<u8>; 4],
    catalog: Catalog<'_>,
) {
    let mut state = EncoderState {
        texts: ProductTexts::new(),
        segments: Default::default(),
        mapper: RowMapper::new(settings.options),
    };
    loop {
        // The lock is held while waiting: idle encoders queue on the mutex
        // instead of the channel, which is the same.
        let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((seq, job)) = job else {
            return;
        };
        let encoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            state.encode_job(settings, headers, catalog, job)
        }))
        .unwrap_or_else(|_| {
            // Fresh state: the old one may hold half a product.
            state = EncoderState {
                texts: ProductTexts::new(),
                segments: Default::default(),
                mapper: RowMapper::new(settings.options),
            };
            Err(FeedBuildError::Encode {
                format: "feed block",
                source: io::Error::other("encoding a product panicked"),
            })
        });
        if done.send((seq, encoded)).is_err() {
            return;
        }
    }
}

struct EncoderState<'o> {
    texts: ProductTexts,
    segments: [SegmentEncoder; 4],
    mapper: RowMapper<'o>,
}

impl EncoderState<'_> {
    /// Encodes a run of products after its context; also says how many
    /// predecessors were decoded to find it.
    fn encode_job(
        &mut self,
        settings: &GenerationSettings<'_>,
        headers: &[Vec<u8>; 4],
        catalog: Catalog<'_>,
        job: Job,
    ) -> Result<(Vec<Encoded>, u64), FeedBuildError> {
        let mut mapped = 0u64;
        let mut primed = false;
        for (empties, predecessor) in job.predecessors.iter().rev().enumerate() {
            self.render(settings, &catalog.load(predecessor)?)?;
            mapped += 1;
            let texts = self
                .texts
                .texts()
                .map_err(encode_err(FeedFormat::OpenAiCsvGz))?;
            if !texts[0].is_empty() {
                for (encoder, text) in self.segments.iter_mut().zip(texts) {
                    encoder.prime(text, empties);
                }
                primed = true;
                break;
            }
        }
        if !primed {
            let empties = job.predecessors.len();
            for (encoder, header) in self.segments.iter_mut().zip(headers) {
                let context: &[u8] = if job.from_start { header } else { &[] };
                encoder.prime(context, empties);
            }
        }
        let mut out = Vec::with_capacity(job.products.len());
        for product in job.products {
            let (rows, fragment) = self.render(settings, &catalog.load(&product)?)?;
            let texts = self
                .texts
                .texts()
                .map_err(encode_err(FeedFormat::OpenAiCsvGz))?;
            let mut segments: [Segment; 4] = Default::default();
            for ((segment, encoder), text) in segments.iter_mut().zip(&mut self.segments).zip(texts)
            {
                *segment = encoder.encode(text);
            }
            out.push(Encoded {
                id: product.id,
                source: product.source,
                segments,
                rows,
                fragment,
            });
        }
        Ok((out, mapped))
    }

    /// Decodes, maps and validates one product into `self.texts`; returns
    /// its valid rows (item id, hash) and report fragment.
    fn render(
        &mut self,
        settings: &GenerationSettings<'_>,
        stored: &StoredProduct,
    ) -> Result<(Vec<(String, RowHash)>, ReportFragment), FeedBuildError> {
        let texts = &mut self.texts;
        texts.clear().map_err(encode_err(FeedFormat::OpenAiCsvGz))?;
        let product = stored.decode()?;
        let mut fragment = ReportFragment::default();
        if let Some(exclusion) = product_exclusion(&product, settings.filter) {
            fragment
                .excluded_products
                .push(&ExcludedProduct {
                    product_id: product.id.clone(),
                    title: product.title.clone(),
                    reason: exclusion.to_string(),
                })
                .map_err(index_err)?;
            return Ok((Vec::new(), fragment));
        }
        let rows = self.mapper.rows(&product);
        let mut valid = Vec::with_capacity(rows.len());
        let mut kept = Vec::with_capacity(rows.len());
        for row in rows {
            let issues = validate_row(&row);
            let reported = || InvalidRow {
                item_id: row.item_id.clone(),
                product_id: product.id.clone(),
                title: row.title.clone(),
                issues: issues
                    .iter()
                    .map(|i| format!("{}: {}", i.field, i.message))
                    .collect(),
            };
            if has_errors(&issues) {
                fragment.invalid_rows.push(&reported()).map_err(index_err)?;
                continue;
            }
            if issues.iter().any(|i| i.severity == Severity::Warning) {
                fragment.warnings.push(&reported()).map_err(index_err)?;
            }
            let hash = texts
                .write_row(&row)
                .map_err(encode_err(FeedFormat::OpenAiJsonlGz))?;
            valid.push((row.item_id.clone(), hash));
            kept.push(row);
        }
        if !kept.is_empty() {
            texts
                .write_product(&acp_product(&product, &kept, settings.options))
                .map_err(encode_err(FeedFormat::AcpJsonl))?;
        }
        Ok((valid, fragment))
    }
}

/// A product waiting to be written, in catalog order.
enum Slot<'a> {
    Reused(Box<OldProduct<'a>>),
    Fresh(u64),
}

/// Products in catalog order, some still being encoded.
struct Queue<'a> {
    slots: VecDeque<Slot<'a>>,
    /// Encoded jobs that arrived before the products ahead of them.
    ready: HashMap<u64, Vec<Encoded>>,
    in_flight: usize,
    next_seq: u64,
    done: Receiver<(u64, JobResult)>,
    jobs: Option<SyncSender<(u64, Job)>>,
}

impl<'a> Queue<'a> {
    /// Hands a job to the encoders (waiting for room first).
    fn dispatch(&mut self, job: Job, out: &mut Output, stale: &Stale) -> Result<(), BuildError> {
        while self.in_flight >= IN_FLIGHT {
            self.write_head(out, stale, true)?;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let sent = self.jobs.as_ref().map(|jobs| jobs.send((seq, job)));
        if !matches!(sent, Some(Ok(()))) {
            return Err(encoders_stopped());
        }
        self.slots.push_back(Slot::Fresh(seq));
        self.in_flight += 1;
        Ok(())
    }

    /// Writes the first queued slot if it can; with `wait`, waits for its
    /// encoding. Returns whether a slot was written.
    fn write_head(
        &mut self,
        out: &mut Output,
        stale: &Stale,
        wait: bool,
    ) -> Result<bool, BuildError> {
        let seq = match self.slots.front() {
            None => return Ok(false),
            Some(Slot::Reused(_)) => {
                if let Some(Slot::Reused(old)) = self.slots.pop_front() {
                    out.push_reused(&old)?;
                }
                return Ok(true);
            }
            Some(Slot::Fresh(seq)) => *seq,
        };
        let products = loop {
            if let Some(products) = self.ready.remove(&seq) {
                break products;
            }
            let (done_seq, encoded) = if wait {
                self.done.recv().map_err(|_| encoders_stopped())?
            } else {
                match self.done.try_recv() {
                    Ok(done) => done,
                    Err(TryRecvError::Empty) => return Ok(false),
                    Err(TryRecvError::Disconnected) => return Err(encoders_stopped()),
                }
            };
            let (products, mapped) = encoded?;
            out.mapped_for_context += mapped;
            self.ready.insert(done_seq, products);
        };
        self.slots.pop_front();
        self.in_flight -= 1;
        for product in products {
            out.push_fresh(product, stale)?;
        }
        Ok(true)
    }
}

/// The generation being written: artifacts, index and what is collected
/// for the meta, the report and the row-hash index.
struct Output {
    artifacts: [SplicedGzip<ArtifactWriter, File>; 4],
    index: IndexWriter<io::BufWriter<ArtifactWriter>>,
    /// Every valid row in feed order, and the report.
    written: GenerationIndexWriter,
    /// Rows of encoded products compared with the published rows so far.
    counts: RowCounts,
    /// Rows of encoded products not (yet) found among the published rows.
    unmatched_rows: Vec<(String, RowHash)>,
    mapped_for_context: u64,
}

/// Rows of encoded products that are new, or differ from the published row
/// with the same item id. (Rows of reused products are unchanged.)
#[derive(Default)]
struct RowCounts {
    new_rows: u64,
    changed: u64,
}

impl RowCounts {
    fn count(&mut self, published: Option<&RowHash>, hash: &RowHash) {
        match published {
            None => {
                self.new_rows += 1;
                self.changed += 1;
            }
            Some(old) if old != hash => self.changed += 1,
            Some(_) => {}
        }
    }
}

impl Output {
    fn create(
        store: &Store,
        shop: &ShopId,
        generation: u64,
        fingerprint: &[u8; 32],
        sources: [Option<File>; 4],
        headers: &[Vec<u8>; 4],
    ) -> Result<Self, BuildError> {
        let mut opening = [SegmentRef::default(); 4];
        let mut artifacts = Vec::with_capacity(4);
        for (((format, source), header), place) in FeedFormat::ALL
            .into_iter()
            .zip(sources)
            .zip(headers)
            .zip(&mut opening)
        {
            let writer = store.artifact_writer(shop, generation, format.stored_name())?;
            let mut gz = SplicedGzip::new(writer, source).map_err(encode_err(format))?;
            *place = gz
                .append(&SegmentEncoder::new().encode(header))
                .map_err(|e| splice_err(e, format))?;
            artifacts.push(gz);
        }
        let artifacts = artifacts.try_into().map_err(|_| {
            encode_err(FeedFormat::OpenAiJsonlGz)(io::Error::other("four artifacts"))
        })?;
        let index_file = store.artifact_writer(shop, generation, INDEX_FILE)?;
        let index = IndexWriter::new(
            io::BufWriter::with_capacity(256 * 1024, index_file),
            fingerprint,
            &opening,
        )
        .map_err(index_err)?;
        Ok(Output {
            artifacts,
            index,
            written: store.generation_index_writer(shop, generation)?,
            counts: RowCounts::default(),
            unmatched_rows: Vec::new(),
            mapped_for_context: 0,
        })
    }

    fn push_reused(&mut self, old: &OldProduct<'_>) -> Result<(), BuildError> {
        for ((gz, segment), format) in self
            .artifacts
            .iter_mut()
            .zip(&old.segments)
            .zip(FeedFormat::ALL)
        {
            gz.copy(segment).map_err(|e| splice_err(e, format))?;
        }
        self.index.copy_record(&old.record).map_err(index_err)?;
        self.written.extend_rows(old.rows).map_err(written_err)?;
        old.record
            .fragment
            .add_to(&mut self.written)
            .map_err(written_err)?;
        Ok(())
    }

    fn push_fresh(&mut self, product: Encoded, stale: &Stale) -> Result<(), BuildError> {
        let mut placed = [SegmentRef::default(); 4];
        for (((gz, segment), place), format) in self
            .artifacts
            .iter_mut()
            .zip(&product.segments)
            .zip(&mut placed)
            .zip(FeedFormat::ALL)
        {
            *place = gz.append(segment).map_err(|e| splice_err(e, format))?;
        }
        let rows = u32::try_from(product.rows.len())
            .map_err(|_| index_err(io::Error::other("too many rows in one product")))?;
        self.index
            .write_record(
                &product.id,
                &product.source,
                &placed,
                rows,
                &product.fragment,
            )
            .map_err(index_err)?;
        for (id, hash) in product.rows {
            self.written.push_row(&id, &hash).map_err(written_err)?;
            match stale.rows.get(&id) {
                Some(old) => self.counts.count(Some(old), &hash),
                None if stale.complete => self.counts.count(None, &hash),
                None => self.unmatched_rows.push((id, hash)),
            }
        }
        product
            .fragment
            .add_to(&mut self.written)
            .map_err(written_err)?;
        Ok(())
    }
}

fn finish(mut writer: ArtifactWriter, format: FeedFormat) -> Result<ArtifactMeta, FeedBuildError> {
    writer.flush().map_err(encode_err(format))?;
    writer.finish().map_err(encode_err(format))
}

/// True when `now` valid rows fall more than `max_drop_percent` below
/// `published` ones. An empty published feed never holds anything back.
pub fn dropped_too_far(published: u64, now: u64, max_drop_percent: u32) -> bool {
    if published == 0 || now >= published {
        return false;
    }
    let dropped = published - now;
    // dropped / published > max / 100, in integers.
    u128::from(dropped) * 100 > u128::from(published) * u128::from(max_drop_percent)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::io::Read;

    use super::*;
    use crate::domain::{Product, ProductStatus};
    use crate::feed::test_products::{self, options};
    use crate::store::FeedReport;

    /// A catalog product: three variants of the apparel fixture with unique
    /// ids; every 17th has no image (invalid rows), every 23rd is a draft
    /// (excluded).
    fn product(i: u32) -> Product {
        let mut p = test_products::apparel();
        p.id = (7_000_000 + i).to_string();
        p.title = format!("Trail Runner {i}");
        p.handle = format!("trail-runner-{i}");
        p.variants.truncate(3);
        for (k, v) in p.variants.iter_mut().enumerate() {
            v.id = format!("{}{k}", 50_000_000 + i);
            v.sku = Some(format!("TR-{i}-{k}"));
        }
        if i.is_multiple_of(17) {
            p.media.clear();
            for v in &mut p.variants {
                v.media.clear();
            }
        }
        if i.is_multiple_of(23) {
            p.status = ProductStatus::Draft;
        }
        p
    }

    fn catalog(n: u32) -> Vec<Product> {
        (0..n).map(product).collect()
    }

    fn shop() -> ShopId {
        ShopId::parse("northpeak").unwrap()
    }

    fn build_with(store: &Store, opts: &FeedOptions, reuse: Reuse) -> GenerationBuild {
        let filter = FeedFilter::default();
        let settings = GenerationSettings {
            options: opts,
            filter: &filter,
            max_drop_percent: 100,
        };
        build_generation_with(store, &shop(), &settings, reuse).unwrap()
    }

    fn published(build: &GenerationBuild) -> FeedMeta {
        match &build.outcome {
            GenerationOutcome::Published(meta) => meta.clone(),
            other => panic!("expected a published feed, got {other:?}"),
        }
    }

    /// A store holding `products`, with one feed generation built from them.
    fn cold(products: &[Product], opts: &FeedOptions) -> (Store, FeedMeta) {
        let store = Store::temporary().unwrap();
        store.upsert_products(&shop(), products).unwrap();
        let meta = published(&build_with(&store, opts, Reuse::Never));
        (store, meta)
    }

    /// The decompressed published artifacts, in `FeedFormat::ALL` order.
    fn texts(store: &Store, meta: &FeedMeta) -> Vec<String> {
        FeedFormat::ALL
            .iter()
            .map(|f| {
                let mut gz = Vec::new();
                store
                    .read_artifact(&shop(), meta.generation, f.stored_name(), &mut gz)
                    .unwrap();
                let mut text = String::new();
                flate2::read::MultiGzDecoder::new(&gz[..])
                    .read_to_string(&mut text)
                    .unwrap();
                // One member: a single-member reader sees all of it.
                let mut single = String::new();
                flate2::read::GzDecoder::new(&gz[..])
                    .read_to_string(&mut single)
                    .unwrap();
                assert_eq!(text, single, "{f}");
                text
            })
            .collect()
    }

    fn report(store: &Store) -> FeedReport {
        FeedReport {
            generation: 0,
            ..store.feed_report(&shop()).unwrap().unwrap()
        }
    }

    /// Whether a test product has no valid rows (so its texts are empty).
    fn empty(p: &Product) -> bool {
        p.status != ProductStatus::Active || p.media.is_empty()
    }

    /// The products that decide the context of the product at `i` (see
    /// `segment`): the ids back to the nearest one with valid rows, at most
    /// CONTEXT_SEARCH of them, and whether the search reached the start.
    fn context_of(seq: &[&Product], i: usize) -> (Vec<String>, bool) {
        let mut ids = Vec::new();
        for q in (0..i).rev() {
            ids.push(seq[q].id.clone());
            if !empty(seq[q]) || ids.len() == CONTEXT_SEARCH {
                return (ids, false);
            }
        }
        (ids, true)
    }

    /// How many products a rebuild must encode: those changed or new, and
    /// unchanged ones whose context is not made of the same unchanged
    /// products as before.
    fn expected_encoded(before: &[Product], after: &[Product], changed: &HashSet<String>) -> u64 {
        let sorted = |list: &[Product]| {
            let mut v: Vec<Product> = list.to_vec();
            v.sort_by(|a, b| a.id.cmp(&b.id));
            v
        };
        let (old, new) = (sorted(before), sorted(after));
        let old: Vec<&Product> = old.iter().collect();
        let new: Vec<&Product> = new.iter().collect();
        let unchanged = |id: &String| !changed.contains(id) && old.iter().any(|o| &o.id == id);
        (0..new.len())
            .filter(|&i| {
                let id = &new[i].id;
                let Some(j) = old.iter().position(|o| &o.id == id) else {
                    return true;
                };
                let context = context_of(&new, i);
                !(unchanged(id)
                    && context.0.iter().all(unchanged)
                    && context == context_of(&old, j))
            })
            .count() as u64
    }

    #[test]
    fn a_rebuild_without_changes_reuses_every_product_and_writes_the_same_bytes() {
        let opts = options();
        let store = Store::temporary().unwrap();
        store.upsert_products(&shop(), &catalog(300)).unwrap();

        let first = build_with(&store, &opts, Reuse::Published);
        let meta = published(&first);
        assert!(!first.stats.previous_index_used);
        assert_eq!(first.stats.products, 300);
        assert_eq!(first.stats.products_reused, 0);
        assert_eq!(first.stats.products_encoded, 300);

        let again = build_with(&store, &opts, Reuse::Published);
        assert_eq!(again.outcome, GenerationOutcome::Unchanged(meta.clone()));
        assert!(again.stats.previous_index_used);
        assert_eq!(again.stats.products_reused, 300);
        assert_eq!(again.stats.products_encoded, 0);
        assert_eq!(again.stats.products_mapped_for_context, 0);
        assert_eq!(again.artifacts, meta.artifacts, "byte-identical artifacts");
    }

    #[test]
    fn only_changed_added_and_removed_products_and_their_successors_are_encoded() {
        let opts = options();
        let before = catalog(300);
        let store = Store::temporary().unwrap();
        store.upsert_products(&shop(), &before).unwrap();
        let first_build = build_with(&store, &opts, Reuse::Published);
        assert_eq!(first_build.stats.logged_changes, None, "nothing to reuse");
        let first = published(&first_build);

        // Change one product, add one, remove one, far apart in id order;
        // and add one that is gone again before the rebuild.
        let fleeting = product(2_000);
        store
            .upsert_products(&shop(), std::slice::from_ref(&fleeting))
            .unwrap();
        store.remove_products(&shop(), &[fleeting.id]).unwrap();
        let mut after = before.clone();
        after[40].variants[1].price = test_products::usd(11_111);
        let added = product(1_000);
        after.push(added.clone());
        let removed = after.remove(250);
        store
            .upsert_products(&shop(), &[after[40].clone(), added])
            .unwrap();
        store
            .remove_products(&shop(), std::slice::from_ref(&removed.id))
            .unwrap();

        let rebuilt = build_with(&store, &opts, Reuse::Published);
        let meta = published(&rebuilt);
        let changed: HashSet<String> = [after[40].id.clone()].into();
        let expected = expected_encoded(&before, &after, &changed);
        assert!((4..=6).contains(&expected), "{expected}");
        assert_eq!(rebuilt.stats.products, after.len() as u64);
        // Only the logged products were read from the store.
        assert_eq!(rebuilt.stats.logged_changes, Some(4));
        assert_eq!(rebuilt.stats.products_encoded, expected);
        assert_eq!(rebuilt.stats.products_reused, after.len() as u64 - expected);
        // Three runs, each after one or two decoded predecessors.
        assert!((3..=6).contains(&rebuilt.stats.products_mapped_for_context));

        // Byte for byte what a build from scratch of the same catalog writes,
        // and the same rows in every format.
        let (cold_store, cold_meta) = cold(&after, &opts);
        assert_eq!(meta.artifacts, cold_meta.artifacts);
        assert_eq!(texts(&store, &meta), texts(&cold_store, &cold_meta));
        assert_eq!(meta.snapshot_hash, cold_meta.snapshot_hash);
        assert_eq!(
            (meta.rows_valid, meta.rows_invalid, meta.products_excluded),
            (
                cold_meta.rows_valid,
                cold_meta.rows_invalid,
                cold_meta.products_excluded
            )
        );
        assert_eq!(report(&store), report(&cold_store));
        assert_eq!(
            store.published_row_hashes(&shop()).unwrap(),
            cold_store.published_row_hashes(&shop()).unwrap()
        );

        // The change counts equal those of the same edit built without reuse.
        let (reference, _) = cold(&before, &opts);
        reference.upsert_products(&shop(), &after).unwrap();
        reference
            .remove_products(&shop(), std::slice::from_ref(&removed.id))
            .unwrap();
        let plain = build_with(&reference, &opts, Reuse::Never);
        assert_eq!(plain.stats.products_reused, 0);
        let plain = published(&plain);
        assert_eq!(
            (meta.rows_changed, meta.rows_removed),
            (plain.rows_changed, plain.rows_removed)
        );
        // One changed variant, three new ones, three gone.
        assert_eq!((meta.rows_changed, meta.rows_removed), (4, 3));
        assert_eq!(meta.rows_valid, first.rows_valid);
    }

    #[test]
    fn products_without_rows_pass_the_context_on_and_rebuilds_still_equal_a_cold_build() {
        let opts = options();
        // A streak of drafts longer than the context search, then edits
        // around and inside it, and at the start (product 0 has no rows).
        let mut before = catalog(200);
        for p in &mut before[100..131] {
            p.status = ProductStatus::Draft;
        }
        let store = Store::temporary().unwrap();
        store.upsert_products(&shop(), &before).unwrap();
        published(&build_with(&store, &opts, Reuse::Published));

        let mut after = before.clone();
        after[1].title = "First with rows".into();
        after[99].title = "Before the drafts".into();
        after[120].title = "A draft renamed".into();
        let removed = after.remove(110);
        store
            .upsert_products(
                &shop(),
                &[after[1].clone(), after[99].clone(), after[119].clone()],
            )
            .unwrap();
        store.remove_products(&shop(), &[removed.id]).unwrap();
        let changed: HashSet<String> = [&after[1].id, &after[99].id, &after[119].id]
            .into_iter()
            .cloned()
            .collect();

        let rebuilt = build_with(&store, &opts, Reuse::Published);
        let meta = published(&rebuilt);
        let expected = expected_encoded(&before, &after, &changed);
        assert_eq!(rebuilt.stats.products_encoded, expected);
        assert!(expected < 60, "{expected}");
        let (cold_store, cold_meta) = cold(&after, &opts);
        assert_eq!(meta.artifacts, cold_meta.artifacts);
        assert_eq!(texts(&store, &meta), texts(&cold_store, &cold_meta));
        assert_eq!(report(&store), report(&cold_store));
    }

    #[test]
    fn changing_a_feed_option_re_encodes_every_product() {
        let opts = options();
        let products = catalog(120);
        let store = Store::temporary().unwrap();
        store.upsert_products(&shop(), &products).unwrap();
        published(&build_with(&store, &opts, Reuse::Published));

        let mut tagged = opts.clone();
        tagged.url_params = vec![("utm_source".into(), "chatgpt".into())];
        let rebuilt = build_with(&store, &tagged, Reuse::Published);
        let meta = published(&rebuilt);
        assert!(!rebuilt.stats.previous_index_used);
        assert_eq!(rebuilt.stats.products_reused, 0);
        assert_eq!(rebuilt.stats.products_encoded, 120);
        assert_eq!(meta.rows_changed, meta.rows_valid);

        let (cold_store, cold_meta) = cold(&products, &tagged);
        assert_eq!(meta.artifacts, cold_meta.artifacts);
        let texts = texts(&store, &meta);
        assert_eq!(texts, self::texts(&cold_store, &cold_meta));
        assert!(texts[0].contains("utm_source=chatgpt"));
    }

    #[test]
    fn a_damaged_published_artifact_makes_the_build_start_over_without_reuse() {
        let opts = options();
        let mut products = catalog(200);
        let store = Store::temporary().unwrap();
        store.upsert_products(&shop(), &products).unwrap();
        let first = published(&build_with(&store, &opts, Reuse::Published));

        // Flip a byte inside the published JSONL file (same size).
        let path = store.generation_file_path(&shop(), first.generation, "openai.jsonl.gz");
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();

        products[7].title = "Renamed".into();
        store.upsert_products(&shop(), &products[7..8]).unwrap();
        let rebuilt = build_with(&store, &opts, Reuse::Published);
        assert!(rebuilt.stats.restarted_without_reuse);
        assert_eq!(rebuilt.stats.products_reused, 0);
        let meta = published(&rebuilt);
        let (cold_store, cold_meta) = cold(&products, &opts);
        assert_eq!(meta.artifacts, cold_meta.artifacts);
        assert_eq!(texts(&store, &meta), texts(&cold_store, &cold_meta));
        // The abandoned attempt left no directory behind.
        assert_eq!(
            store.next_feed_generation(&shop()).unwrap(),
            meta.generation + 1
        );
    }

    #[test]
    fn a_held_feed_leaves_the_published_generation_to_reuse() {
        let opts = options();
        let products = catalog(150);
        let store = Store::temporary().unwrap();
        store.upsert_products(&shop(), &products).unwrap();
        let first = published(&build_with(&store, &opts, Reuse::Published));

        let gone: Vec<String> = products[..100].iter().map(|p| p.id.clone()).collect();
        store.remove_products(&shop(), &gone).unwrap();
        let filter = FeedFilter::default();
        let strict = GenerationSettings {
            options: &opts,
            filter: &filter,
            max_drop_percent: 20,
        };
        let held = build_generation(&store, &shop(), &strict).unwrap();
        assert!(matches!(held.outcome, GenerationOutcome::Held(_)));
        assert_eq!(held.stats.products_reused, 49, "{:?}", held.stats);
        assert_eq!(held.stats.logged_changes, Some(100));

        // A held build leaves the change log alone: the next build still
        // checks the products changed since the published one.
        store.upsert_products(&shop(), &products[..100]).unwrap();
        let restored = build_generation(&store, &shop(), &strict).unwrap();
        assert_eq!(restored.outcome, GenerationOutcome::Unchanged(first));
        assert_eq!(restored.stats.logged_changes, Some(100));
        assert_eq!(restored.stats.products_reused, 150);

        // A published build prunes the log up to its start.
        store.upsert_products(&shop(), &[product(7_000)]).unwrap();
        let grown = build_generation(&store, &shop(), &strict).unwrap();
        assert!(matches!(grown.outcome, GenerationOutcome::Published(_)));
        assert_eq!(grown.stats.logged_changes, Some(101));
        let next = build_generation(&store, &shop(), &strict).unwrap();
        assert_eq!(next.stats.logged_changes, Some(0));
        assert_eq!(next.stats.products_reused, 151);
    }

    #[test]
    fn a_long_run_of_new_products_is_encoded_in_several_jobs_like_a_cold_build() {
        let opts = options();
        let mut products = catalog(400);
        let store = Store::temporary().unwrap();
        store.upsert_products(&shop(), &products[..50]).unwrap();
        published(&build_with(&store, &opts, Reuse::Published));
        store.upsert_products(&shop(), &products[50..]).unwrap();
        products.truncate(400);
        let rebuilt = build_with(&store, &opts, Reuse::Published);
        let meta = published(&rebuilt);
        assert_eq!(rebuilt.stats.products_reused, 50);
        assert!(
            rebuilt.stats.products_mapped_for_context >= 5,
            "{:?}",
            rebuilt.stats
        );
        let (cold_store, cold_meta) = cold(&products, &opts);
        assert_eq!(meta.artifacts, cold_meta.artifacts);
        assert_eq!(texts(&store, &meta), texts(&cold_store, &cold_meta));
    }

    #[test]
    fn a_product_loaded_by_digest_must_still_have_that_digest() {
        let store = Store::temporary().unwrap();
        store.upsert_products(&shop(), &catalog(2)).unwrap();
        let shop = shop();
        let catalog = Catalog {
            store: &store,
            shop: &shop,
        };
        // As a rebuild scans unchanged products: id and digest only.
        let scanned: Vec<Scanned> = store
            .stored_products(&shop)
            .unwrap()
            .map(|p| {
                let p = p.unwrap();
                Scanned {
                    id: p.id().into_owned(),
                    source: p.digest(),
                    stored: None,
                }
            })
            .collect();
        let loaded = catalog.load(&scanned[0]).unwrap();
        assert_eq!(loaded.digest(), scanned[0].source);
        assert_eq!(loaded.id(), scanned[0].id.as_str());

        // Rewritten after the scan: refused, not used under the old digest.
        let mut changed = loaded.decode().unwrap();
        changed.title.push_str(" (edited)");
        store.upsert_products(&shop, &[changed]).unwrap();
        // Removed after the scan.
        store
            .remove_products(&shop, std::slice::from_ref(&scanned[1].id))
            .unwrap();
        for gone in &scanned {
            assert!(matches!(
                catalog.load(gone),
                Err(FeedBuildError::CatalogChanged { product }) if product == gone.id
            ));
        }
    }

    #[test]
    fn an_empty_catalog_gives_valid_empty_files() {
        let opts = options();
        let (store, meta) = cold(&[], &opts);
        assert_eq!(meta.rows_valid, 0);
        let texts = texts(&store, &meta);
        assert_eq!(texts[0], "");
        assert_eq!(texts[1].lines().count(), 1, "the CSV header only");
        assert_eq!(texts[3], "");
    }

    #[test]
    fn drop_threshold_is_a_share_of_the_published_rows() {
        assert!(!dropped_too_far(0, 0, 20));
        assert!(!dropped_too_far(100, 80, 20));
        assert!(dropped_too_far(100, 79, 20));
        assert!(!dropped_too_far(100, 150, 20));
        assert!(dropped_too_far(10, 0, 20));
        assert!(!dropped_too_far(10, 0, 100));
        assert!(dropped_too_far(5, 4, 0));
    }
}
