//! Full catalog sync through a bulk operation: start it, poll it, stream its
//! JSONL result into a [`Scratch`] area, and reassemble complete products.
//!
//! Bulk output lists every node of a nested connection as its own line with
//! `__parentId`, in no guaranteed order. Lines are therefore stored under
//! keys that group children under their parent, and assembly walks the
//! roots and looks children up by prefix. Line contents stay in the
//! scratch file; memory holds its index (the keys and 24 bytes per line)
//! and, per assembling thread, the lines of one chunk of 64 products, read
//! in as few calls as their places in the file allow. Keys (all ASCII):
//!
//! - `p/{product_id}`: a product line;
//! - `c/p/{product_id}/v/{variant_id}`: a variant of a product;
//! - `c/p/{product_id}/m/{media_id}`: a media node of a product;
//! - `c/v/{variant_id}/m/{media_id}`: a media node of a variant.
//!
//! (A media line without an id is keyed `m/line-{line number}`.) The parent
//! kind is part of the key because product and variant ids are separate
//! number spaces. Key order is irrelevant: `map.rs` orders variants by
//! position and media by id.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use tokio::time::Instant;

use super::client::{ShopifyClient, backoff};
use super::error::{MapError, ShopifyError, UserError};
use super::gql::{BulkRunQuery, BulkStatus, bulk_products_query, bulk_run_query, bulk_status};
use super::map::{gid_parts, map_product};
use super::wire::{
    BulkMediaLine, BulkProductLine, BulkVariantLine, WireImage, WireProduct, WireVariant, enum_name,
};
use crate::domain::{Currency, Product};
use crate::metrics::{BULK_BYTES_TOTAL, BULK_LINES_TOTAL, BULK_ORPHANS_TOTAL};
use crate::store::{Scratch, ScratchView, StoreError};

/// Attempts to start a bulk operation while others are still running.
const START_ATTEMPTS: u32 = 6;
/// Total time allowed for downloading the result file; stalls are caught
/// earlier by the client's read timeout.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(6 * 60 * 60);
/// Progress is reported every this many lines while downloading.
const PROGRESS_EVERY_LINES: u64 = 10_000;

/// Where a bulk run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkPhase {
    /// The operation was accepted.
    Started,
    /// A status poll (Shopify is still exporting, or just finished).
    Running,
    /// The result file is being streamed into scratch.
    Downloading,
    /// The whole file is in scratch.
    Downloaded,
}

/// Progress of a bulk run, reported to the caller's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkProgress {
    /// Where the run is.
    pub phase: BulkPhase,
    /// Shopify's status name (`CREATED`, `RUNNING`, `COMPLETED`, …).
    pub status: String,
    /// Objects Shopify has exported so far.
    pub objects: u64,
    /// Lines written to scratch so far.
    pub lines: u64,
    /// Bytes downloaded so far.
    pub bytes: u64,
}

/// What a completed bulk run stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    /// The bulk operation's GID.
    pub operation_id: String,
    /// `objectCount` as Shopify reported it.
    pub object_count: u64,
    /// `rootObjectCount` as Shopify reported it.
    pub root_object_count: u64,
    /// Product lines written to scratch.
    pub roots: u64,
    /// Variant and media lines written to scratch.
    pub children: u64,
    /// Lines that were not products, variants or media (or were malformed).
    pub skipped_lines: u64,
    /// Bytes downloaded.
    pub bytes: u64,
}

/// What assembling products from scratch found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssembleReport {
    /// Products handed to the callback.
    pub products: u64,
    /// Variants attached to those products.
    pub variants: u64,
    /// Images attached to those products and their variants.
    pub media: u64,
    /// Child lines whose parent never appeared.
    pub orphans: u64,
    /// Products left out because a line could not be decoded or mapped.
    pub invalid: u64,
}

/// The fields needed to place a line.
#[derive(Deserialize)]
struct LineHead {
    id: Option<String>,
    #[serde(rename = "__parentId")]
    parent_id: Option<String>,
    #[serde(rename = "__typename")]
    typename: Option<String>,
}

/// Where a line goes in scratch; `None` for lines we do not use.
fn line_key(line: &[u8], line_no: u64) -> Result<Option<(Vec<u8>, bool)>, MapError> {
    let head: LineHead = serde_json::from_slice(line).map_err(MapError::BulkLine)?;
    let Some(parent) = head.parent_id else {
        let Some(id) = head.id else { return Ok(None) };
        let (kind, id) = gid_parts(&id)?;
        return Ok((kind == "Product").then(|| (format!("p/{id}").into_bytes(), true)));
    };
    let (parent_kind, parent_id) = gid_parts(&parent)?;
    let parent_code = match parent_kind {
        "Product" => "p",
        "ProductVariant" => "v",
        _ => return Ok(None),
    };
    let child = match head.id.as_deref().map(gid_parts).transpose()? {
        Some(("ProductVariant", id)) if parent_code == "p" => format!("v/{id}"),
        Some((_, id)) if head.typename.is_some() => format!("m/{id}"),
        None if head.typename.is_some() => format!("m/line-{line_no:020}"),
        _ => return Ok(None),
    };
    Ok(Some((
        format!("c/{parent_code}/{parent_id}/{child}").into_bytes(),
        false,
    )))
}

fn scratch_err(source: crate::store::StoreError) -> ShopifyError {
    ShopifyError::Scratch { source }
}

/// Lines buffered before one batch write into scratch.
const SINK_BATCH: usize = 1024;

/// Writes lines into scratch as they stream in, in batches.
struct LineSink<'a> {
    scratch: &'a Scratch,
    pending: Vec<(Vec<u8>, Vec<u8>)>,
    line_no: u64,
    roots: u64,
    children: u64,
    skipped: u64,
}

impl<'a> LineSink<'a> {
    fn new(scratch: &'a Scratch) -> Self {
        LineSink {
            scratch,
            pending: Vec::with_capacity(SINK_BATCH),
            line_no: 0,
            roots: 0,
            children: 0,
            skipped: 0,
        }
    }

    fn write(&mut self, line: &[u8]) -> Result<(), ShopifyError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        self.line_no += 1;
        match line_key(line, self.line_no) {
            Ok(Some((key, root))) => {
                self.pending.push((key, line.to_vec()));
                if self.pending.len() >= SINK_BATCH {
                    self.flush()?;
                }
                if root {
                    self.roots += 1;
                } else {
                    self.children += 1;
                }
            }
            Ok(None) => self.skipped += 1,
            Err(error) => {
                self.skipped += 1;
                tracing::warn!(bulk.line = self.line_no, error = %error, "skipping malformed bulk line");
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ShopifyError> {
        if !self.pending.is_empty() {
            self.scratch
                .insert_batch(&self.pending)
                .map_err(scratch_err)?;
            self.pending.clear();
        }
        Ok(())
    }

    fn lines(&self) -> u64 {
        self.roots + self.children
    }
}

fn error_code_name(code: &bulk_status::BulkOperationErrorCode) -> String {
    use bulk_status::BulkOperationErrorCode as C;
    match code {
        C::ACCESS_DENIED => "ACCESS_DENIED",
        C::INTERNAL_SERVER_ERROR => "INTERNAL_SERVER_ERROR",
        C::TIMEOUT => "TIMEOUT",
        C::Other(other) => other.as_str(),
    }
    .to_owned()
}

fn parse_count(value: &str) -> u64 {
    value.trim().parse().unwrap_or(0)
}

/// Whether start `userErrors` say other bulk operations are still running.
fn is_busy(errors: &[bulk_run_query::BulkRunQueryBulkOperationRunQueryUserErrors]) -> bool {
    use bulk_run_query::BulkOperationUserErrorCode as C;
    errors.iter().any(|e| {
        matches!(
            e.code,
            Some(C::OPERATION_IN_PROGRESS) | Some(C::LIMIT_REACHED)
        ) || e
            .message
            .to_ascii_lowercase()
            .contains("already in progress")
    })
}

impl ShopifyClient {
    /// Runs the full-catalog bulk query for `publication_gid` and streams its
    /// result into `scratch` (see the module docs for the key layout).
    /// `progress` is called when the operation starts, on every poll and
    /// every 10,000 downloaded lines.
    ///
    /// # Errors
    /// [`ShopifyError::BulkBusy`] when other operations keep running,
    /// [`ShopifyError::UserErrors`] for other start errors,
    /// [`ShopifyError::BulkFailed`] when the operation fails, is canceled or
    /// expires, [`ShopifyError::BulkTimedOut`], request and scratch failures.
    #[tracing::instrument(skip_all, err)]
    pub async fn run_bulk_products(
        &self,
        publication_gid: &str,
        scratch: &Scratch,
        mut progress: impl FnMut(BulkProgress),
    ) -> Result<BulkOutcome, ShopifyError> {
        let operation_id = self
            .start_bulk(&bulk_products_query(publication_gid))
            .await?;
        tracing::info!(bulk.id = %operation_id, "shopify bulk operation started");
        progress(BulkProgress {
            phase: BulkPhase::Started,
            status: "CREATED".to_owned(),
            objects: 0,
            lines: 0,
            bytes: 0,
        });
        let finished = self.poll_bulk(&operation_id, &mut progress).await?;
        let mut outcome = BulkOutcome {
            operation_id: operation_id.clone(),
            object_count: parse_count(&finished.object_count),
            root_object_count: parse_count(&finished.root_object_count),
            ..BulkOutcome::default()
        };
        let Some(url) = finished.url else {
            // COMPLETED without a file: the query matched nothing.
            tracing::info!(bulk.id = %operation_id, "shopify bulk operation returned no file");
            return Ok(outcome);
        };
        let mut attempt = 0;
        let sink = loop {
            match self
                .download(&url, scratch, &mut progress, &finished.status)
                .await
            {
                Ok(sink) => break sink,
                Err(error) if error.is_retryable() && attempt < self.inner.max_retries => {
                    attempt += 1;
                    tracing::warn!(bulk.id = %operation_id, retry.attempt = attempt, error = %error, "retrying bulk download");
                    tokio::time::sleep(backoff(
                        attempt,
                        self.inner.timings.backoff_base,
                        self.inner.timings.backoff_cap,
                    ))
                    .await;
                }
                Err(error) => return Err(error),
            }
        };
        outcome.roots = sink.roots;
        outcome.children = sink.children;
        outcome.skipped_lines = sink.skipped;
        outcome.bytes = sink.bytes;
        progress(BulkProgress {
            phase: BulkPhase::Downloaded,
            status: finished.status,
            objects: outcome.object_count,
            lines: sink.roots + sink.children,
            bytes: sink.bytes,
        });
        tracing::info!(
            bulk.id = %operation_id,
            bulk.roots = outcome.roots,
            bulk.children = outcome.children,
            bulk.skipped = outcome.skipped_lines,
            bulk.bytes = outcome.bytes,
            "shopify bulk result stored"
        );
        Ok(outcome)
    }

    /// Starts a bulk query, waiting while other operations are running.
    async fn start_bulk(&self, query: &str) -> Result<String, ShopifyError> {
        let mut attempt = 0;
        loop {
            let executed = self
                .execute::<BulkRunQuery>(bulk_run_query::Variables {
                    query: query.to_owned(),
                })
                .await?;
            let payload = executed.data.bulk_operation_run_query.ok_or_else(|| {
                ShopifyError::MissingData {
                    operation: "BulkRunQuery",
                    reason: "no payload".to_owned(),
                }
            })?;
            if payload.user_errors.is_empty() {
                return payload.bulk_operation.map(|op| op.id).ok_or_else(|| {
                    ShopifyError::MissingData {
                        operation: "BulkRunQuery",
                        reason: "no bulk operation".to_owned(),
                    }
                });
            }
            if !is_busy(&payload.user_errors) {
                return Err(ShopifyError::UserErrors {
                    operation: "BulkRunQuery",
                    errors: payload
                        .user_errors
                        .into_iter()
                        .map(|e| UserError {
                            field: e.field.unwrap_or_default(),
                            message: e.message,
                            code: e.code.map(|c| match c {
                                bulk_run_query::BulkOperationUserErrorCode::Other(o) => o,
                                other => format!("{other:?}"),
                            }),
                        })
                        .collect(),
                });
            }
            attempt += 1;
            if attempt >= START_ATTEMPTS {
                return Err(ShopifyError::BulkBusy);
            }
            let wait = backoff(
                attempt,
                self.inner.timings.bulk_busy_base,
                self.inner.timings.bulk_busy_cap,
            );
            tracing::info!(
                retry.attempt = attempt,
                retry.wait_ms = wait.as_millis() as u64,
                "bulk operation busy, waiting"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Polls until the operation reaches a final state.
    async fn poll_bulk(
        &self,
        operation_id: &str,
        progress: &mut impl FnMut(BulkProgress),
    ) -> Result<FinishedBulk, ShopifyError> {
        let timings = &self.inner.timings;
        let started = Instant::now();
        let deadline = started + timings.bulk_poll_deadline;
        loop {
            let executed = self
                .execute::<BulkStatus>(bulk_status::Variables {
                    id: operation_id.to_owned(),
                })
                .await?;
            let op = executed
                .data
                .bulk_operation
                .ok_or_else(|| ShopifyError::MissingData {
                    operation: "BulkStatus",
                    reason: "unknown bulk operation id".to_owned(),
                })?;
            let status = enum_name(&op.status);
            let object_count = parse_count(&op.object_count);
            progress(BulkProgress {
                phase: BulkPhase::Running,
                status: status.clone(),
                objects: object_count,
                lines: 0,
                bytes: 0,
            });
            use bulk_status::BulkOperationStatus as S;
            match op.status {
                S::COMPLETED => {
                    return Ok(FinishedBulk {
                        status,
                        object_count: op.object_count,
                        root_object_count: op.root_object_count,
                        url: op.url,
                    });
                }
                S::CREATED | S::RUNNING | S::CANCELING => {}
                S::FAILED | S::CANCELED | S::EXPIRED | S::Other(_) => {
                    return Err(ShopifyError::BulkFailed {
                        operation_id: operation_id.to_owned(),
                        status,
                        error_code: op.error_code.as_ref().map(error_code_name),
                    });
                }
            }
            let interval = poll_wait(started.elapsed(), timings);
            if Instant::now() + interval > deadline {
                return Err(ShopifyError::BulkTimedOut {
                    operation_id: operation_id.to_owned(),
                });
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Streams the result file into scratch line by line; only the current
    /// partial line is buffered. The download URL is signed, so it is never
    /// logged and is stripped from errors.
    async fn download(
        &self,
        url: &str,
        scratch: &Scratch,
        progress: &mut impl FnMut(BulkProgress),
        status: &str,
    ) -> Result<DownloadTotals, ShopifyError> {
        let transport = |e: reqwest::Error| ShopifyError::Transport {
            source: e.without_url(),
        };
        let response = self
            .inner
            .http
            .get(url)
            .timeout(DOWNLOAD_TIMEOUT)
            .send()
            .await
            .map_err(transport)?;
        let http_status = response.status();
        if !http_status.is_success() {
            return Err(ShopifyError::Http {
                status: http_status.as_u16(),
            });
        }
        let mut sink = LineSink::new(scratch);
        let mut bytes_total = 0u64;
        let mut carry: Vec<u8> = Vec::new();
        let mut next_report = PROGRESS_EVERY_LINES;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(transport)?;
            bytes_total += chunk.len() as u64;
            metrics::counter!(BULK_BYTES_TOTAL).increment(chunk.len() as u64);
            let mut rest: &[u8] = &chunk;
            while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
                let (line, tail) = rest.split_at(pos);
                if carry.is_empty() {
                    sink.write(line)?;
                } else {
                    carry.extend_from_slice(line);
                    sink.write(&carry)?;
                    carry.clear();
                }
                rest = &tail[1..];
            }
            carry.extend_from_slice(rest);
            if sink.lines() >= next_report {
                next_report = sink.lines() + PROGRESS_EVERY_LINES;
                progress(BulkProgress {
                    phase: BulkPhase::Downloading,
                    status: status.to_owned(),
                    objects: 0,
                    lines: sink.lines(),
                    bytes: bytes_total,
                });
            }
        }
        if !carry.is_empty() {
            sink.write(&carry)?;
        }
        sink.flush()?;
        metrics::counter!(BULK_LINES_TOTAL).increment(sink.lines());
        Ok(DownloadTotals {
            roots: sink.roots,
            children: sink.children,
            skipped: sink.skipped,
            bytes: bytes_total,
        })
    }
}

struct FinishedBulk {
    status: String,
    object_count: String,
    root_object_count: String,
    url: Option<String>,
}

struct DownloadTotals {
    roots: u64,
    children: u64,
    skipped: u64,
    bytes: u64,
}

/// The wait before the next status poll of an operation running for
/// `elapsed`: an eighth of that, within the configured bounds. Exports of a
/// few seconds are polled every half second; past 4 minutes, every 30 s
/// (about 150 polls in an hour; a status query costs 1 point). Doubling
/// the wait instead could notice a 7 s export at 15 s.
pub(super) fn poll_wait(elapsed: Duration, timings: &super::client::ClientTimings) -> Duration {
    (elapsed / 8).clamp(
        timings.bulk_poll_initial,
        timings.bulk_poll_cap.max(timings.bulk_poll_initial),
    )
}

/// The last `/`-separated segment of a key.
fn last_segment(key: &[u8]) -> &[u8] {
    key.rsplit(|b| *b == b'/').next().unwrap_or(key)
}

/// Root products per unit of assembly work. The lines of a chunk's
/// products are read together (neighbouring lines in one read, see
/// [`ScratchView::read_values`]) and its products reach the callback
/// together.
const ASSEMBLE_CHUNK: usize = 64;

/// Reassembles products from a scratch filled by
/// [`ShopifyClient::run_bulk_products`], in product id (key) order.
/// Variants are sorted by `position`, media by id (see `map.rs`).
/// Products whose lines cannot be decoded or mapped are skipped and counted;
/// child lines whose parent never appeared are counted as orphans.
///
/// This reads the scratch file synchronously; call it from a blocking
/// thread.
///
/// # Errors
/// Scratch read failures.
pub fn assemble_bulk_products(
    scratch: &Scratch,
    currency: Currency,
    f: impl FnMut(Product) + Send,
) -> Result<AssembleReport, ShopifyError> {
    // One worker: the calling thread, chunk after chunk in key order.
    let f = std::sync::Mutex::new(f);
    assemble_bulk_products_on(1, scratch, currency, |products| {
        let mut f = f.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        products.into_iter().for_each(&mut *f);
    })
}

/// [`assemble_bulk_products`] on `workers` threads (the calling one
/// included), for a full sync: assembling products (reading and parsing
/// their lines, mapping them) and whatever `f` does with them run on every
/// worker. `f` receives the products of one chunk at a time, in key order
/// within the chunk; chunks arrive in no particular order.
///
/// # Errors
/// Scratch read failures.
pub fn assemble_bulk_products_on(
    workers: usize,
    scratch: &Scratch,
    currency: Currency,
    f: impl Fn(Vec<Product>) + Sync,
) -> Result<AssembleReport, ShopifyError> {
    let view = scratch.view().map_err(scratch_err)?;
    let roots = view.prefix_range(b"p/");
    let next = std::sync::atomic::AtomicUsize::new(roots.start);
    let work = || -> Result<Tally, ShopifyError> {
        let mut tally = Tally::default();
        let mut buf = Vec::new();
        loop {
            let start = next.fetch_add(ASSEMBLE_CHUNK, std::sync::atomic::Ordering::Relaxed);
            if start >= roots.end {
                return Ok(tally);
            }
            let chunk = start..(start + ASSEMBLE_CHUNK).min(roots.end);
            let products = tally.assemble_chunk(&view, chunk, currency, &mut buf)?;
            if !products.is_empty() {
                f(products);
            }
        }
    };
    let tallies = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers.max(1))
            .map(|_| {
                std::thread::Builder::new()
                    .name("bulk-assemble".into())
                    .spawn_scoped(scope, work)
            })
            .collect();
        let mut tallies = vec![work()];
        for helper in helpers {
            tallies.push(match helper {
                Ok(handle) => handle.join().unwrap_or_else(|_| {
                    Err(scratch_err(StoreError::Scratch(std::io::Error::other(
                        "a bulk assembler panicked",
                    ))))
                }),
                Err(e) => Err(scratch_err(StoreError::Scratch(e))),
            });
        }
        tallies
    });
    let mut total = Tally::default();
    for tally in tallies {
        let tally = tally?;
        total.report.products += tally.report.products;
        total.report.variants += tally.report.variants;
        total.report.media += tally.report.media;
        total.report.invalid += tally.report.invalid;
        total.attached += tally.attached;
    }
    Ok(total.finish(&view))
}

/// What assembly found so far.
#[derive(Default)]
struct Tally {
    report: AssembleReport,
    /// Child lines attached to a product (valid or not).
    attached: u64,
}

/// The lines of one product within a chunk's reads: its root line at
/// `first`, then each variant's line followed by that variant's media
/// lines, then the product's media lines.
struct ProductLines {
    id: String,
    first: usize,
    /// Media lines of each variant, in key order.
    variant_media: Vec<usize>,
    media: usize,
}

impl Tally {
    /// Assembles the products of the root lines at `roots` (positions in
    /// `view`); products left out are counted, not returned.
    fn assemble_chunk(
        &mut self,
        view: &ScratchView<'_>,
        roots: std::ops::Range<usize>,
        currency: Currency,
        buf: &mut Vec<u8>,
    ) -> Result<Vec<Product>, ShopifyError> {
        let mut positions = Vec::new();
        let mut plans = Vec::with_capacity(roots.len());
        for root in roots {
            let id = String::from_utf8_lossy(&view.key(root)[2..]).into_owned();
            let first = positions.len();
            positions.push(root);
            let mut variant_media = Vec::new();
            for variant in view.prefix_range(format!("c/p/{id}/v/").as_bytes()) {
                let media_prefix = [b"c/v/", last_segment(view.key(variant)), b"/m/"].concat();
                let media = view.prefix_range(&media_prefix);
                variant_media.push(media.len());
                positions.push(variant);
                positions.extend(media);
            }
            let media = view.prefix_range(format!("c/p/{id}/m/").as_bytes());
            let plan = ProductLines {
                id,
                first,
                variant_media,
                media: media.len(),
            };
            positions.extend(media);
            plans.push(plan);
        }
        let ranges = view.read_values(&positions, buf).map_err(scratch_err)?;
        let lines: Vec<&[u8]> = ranges.into_iter().map(|r| &buf[r]).collect();
        let mut products = Vec::with_capacity(plans.len());
        for plan in plans {
            let children =
                plan.variant_media.len() + plan.variant_media.iter().sum::<usize>() + plan.media;
            self.attached += children as u64;
            match assemble_one(&plan, &lines, currency) {
                Ok((product, variants, media)) => {
                    self.report.variants += variants;
                    self.report.media += media;
                    self.report.products += 1;
                    products.push(product);
                }
                Err(error) => {
                    self.report.invalid += 1;
                    tracing::warn!(product.id = %plan.id, error = %error, "skipping unassemblable bulk product");
                }
            }
        }
        Ok(products)
    }

    /// Counts orphans: child lines no product took.
    fn finish(mut self, view: &ScratchView<'_>) -> AssembleReport {
        let children = view.prefix_range(b"c/").len() as u64;
        self.report.orphans = children.saturating_sub(self.attached);
        if self.report.orphans > 0 {
            metrics::counter!(BULK_ORPHANS_TOTAL).increment(self.report.orphans);
            tracing::warn!(
                bulk.orphans = self.report.orphans,
                "bulk lines without a parent"
            );
        }
        self.report
    }
}

/// The images among media `lines`; the first undecodable line is an error.
fn images(lines: &[&[u8]]) -> Result<Vec<WireImage>, MapError> {
    let mut images = Vec::new();
    for line in lines {
        let line = serde_json::from_slice::<BulkMediaLine>(line).map_err(MapError::BulkLine)?;
        images.extend(Option::<WireImage>::from(line));
    }
    Ok(images)
}

/// Builds the product `plan` describes from its `lines`; returns it with its
/// variant and image counts. Any undecodable line leaves the product out.
fn assemble_one(
    plan: &ProductLines,
    lines: &[&[u8]],
    currency: Currency,
) -> Result<(Product, u64, u64), MapError> {
    let mut at = plan.first;
    let mut product = WireProduct::from(
        serde_json::from_slice::<BulkProductLine>(lines[at]).map_err(MapError::BulkLine)?,
    );
    at += 1;
    let mut media_count = 0u64;
    let mut variants: Vec<WireVariant> = Vec::with_capacity(plan.variant_media.len());
    for &media in &plan.variant_media {
        let line =
            serde_json::from_slice::<BulkVariantLine>(lines[at]).map_err(MapError::BulkLine)?;
        let mut variant = WireVariant::from(line);
        variant.media = images(&lines[at + 1..at + 1 + media])?;
        media_count += variant.media.len() as u64;
        variants.push(variant);
        at += 1 + media;
    }
    product.media = images(&lines[at..at + plan.media])?;
    media_count += product.media.len() as u64;
    let variant_count = variants.len() as u64;
    product.variants = variants;
    let product = map_product(product, currency)?;
    Ok((product, variant_count, media_count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn polls_wait_a_quarter_of_the_operation_age_within_bounds() {
        let timings = crate::source::shopify::client::ClientTimings::default();
        let secs = |s: u64| poll_wait(Duration::from_secs(s), &timings);
        assert_eq!(secs(0), Duration::from_millis(500));
        assert_eq!(secs(3), Duration::from_millis(500));
        assert_eq!(secs(8), Duration::from_secs(1));
        assert_eq!(secs(120), Duration::from_secs(15));
        assert_eq!(secs(3600), Duration::from_secs(30));
        // Simulated: an export finishing at 7.2 s is seen within 0.9 s of
        // it (doubling waits from 1 s would poll at 7 s, then at 15 s).
        let done = Duration::from_millis(7_200);
        let mut now = Duration::ZERO;
        let mut polls = 0;
        while now < done {
            now += poll_wait(now, &timings);
            polls += 1;
        }
        assert!(now - done <= Duration::from_millis(900), "{now:?}");
        // An hour-long export costs a few dozen polls, not thousands.
        let (mut now, mut polls_hour) = (Duration::ZERO, 0);
        while now < Duration::from_secs(3600) {
            now += poll_wait(now, &timings);
            polls_hour += 1;
        }
        assert!(polls < 16 && polls_hour < 200, "{polls} {polls_hour}");
    }

    #[test]
    fn lines_are_keyed_by_parent_kind_and_id() {
        let key = |line: &str, n| {
            line_key(line.as_bytes(), n)
                .unwrap()
                .map(|(k, root)| (String::from_utf8(k).unwrap(), root))
        };
        assert_eq!(
            key(r#"{"id":"gid://shopify/Product/7","title":"x"}"#, 1),
            Some(("p/7".into(), true))
        );
        assert_eq!(
            key(
                r#"{"id":"gid://shopify/ProductVariant/8","__parentId":"gid://shopify/Product/7"}"#,
                2
            ),
            Some(("c/p/7/v/8".into(), false))
        );
        assert_eq!(
            key(
                r#"{"__typename":"MediaImage","id":"gid://shopify/MediaImage/5","__parentId":"gid://shopify/ProductVariant/8"}"#,
                3
            ),
            Some(("c/v/8/m/5".into(), false))
        );
        assert_eq!(
            key(
                r#"{"__typename":"Video","__parentId":"gid://shopify/Product/7"}"#,
                3
            ),
            Some(("c/p/7/m/line-00000000000000000003".into(), false))
        );
        assert_eq!(key(r#"{"id":"gid://shopify/Collection/1"}"#, 4), None);
        assert!(line_key(b"not json", 5).is_err());
    }

    /// Writes `lines` into a new scratch area through the download's sink.
    fn scratch_with(store: &Store, lines: &[String]) -> Scratch {
        let scratch = store.scratch().unwrap();
        let mut sink = LineSink::new(&scratch);
        for line in lines {
            sink.write(line.as_bytes()).unwrap();
        }
        sink.flush().unwrap();
        scratch
    }

    #[test]
    fn catalogs_spanning_many_chunks_assemble_alike_on_one_or_more_workers() {
        let fixture = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/shopify/bulk_products.jsonl"
        ))
        .unwrap();
        // The fixture product, copied with fresh ids so products span
        // several chunks; product 70's first variant does not decode.
        let count = 3 * ASSEMBLE_CHUNK + 7;
        let mut lines = Vec::new();
        for i in 0..count {
            for line in fixture.lines() {
                let mut line = line
                    .replace("Product/1001\"", &format!("Product/{}\"", 100_000 + i))
                    .replace(
                        "ProductVariant/2001\"",
                        &format!("ProductVariant/{}\"", 200_000 + 2 * i),
                    )
                    .replace(
                        "ProductVariant/2002\"",
                        &format!("ProductVariant/{}\"", 200_001 + 2 * i),
                    )
                    .replace(
                        "MediaImage/4001\"",
                        &format!("MediaImage/{}\"", 400_000 + 3 * i),
                    )
                    .replace(
                        "MediaImage/4003\"",
                        &format!("MediaImage/{}\"", 400_001 + 3 * i),
                    )
                    .replace("Video/4004\"", &format!("Video/{}\"", 400_002 + 3 * i));
                if i == 70 && line.contains("\"position\":1") {
                    line = line.replace("\"price\":\"79.99\"", "\"price\":79.99");
                }
                lines.push(line);
            }
        }
        // Children far from their parents, parents after some children.
        lines.reverse();
        let half = lines.len() / 2;
        lines.rotate_left(half);
        let store = Store::temporary().unwrap();
        let scratch = scratch_with(&store, &lines);

        let mut in_order = Vec::new();
        let single = assemble_bulk_products(&scratch, Currency::USD, |p| in_order.push(p)).unwrap();
        let parallel_products = std::sync::Mutex::new(Vec::new());
        let parallel = assemble_bulk_products_on(3, &scratch, Currency::USD, |chunk| {
            assert!(chunk.len() <= ASSEMBLE_CHUNK);
            parallel_products.lock().unwrap().extend(chunk);
        })
        .unwrap();
        let mut parallel_products = parallel_products.into_inner().unwrap();

        let expected = AssembleReport {
            products: count as u64 - 1,
            variants: 2 * (count as u64 - 1),
            media: 2 * (count as u64 - 1),
            orphans: 0,
            invalid: 1,
        };
        assert_eq!(single, expected);
        assert_eq!(parallel, expected);
        // One worker hands products over in key order.
        let keys: Vec<String> = in_order.iter().map(|p| p.id.clone()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(!keys.contains(&"100070".to_owned()));
        parallel_products.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(parallel_products, in_order);
        for product in &in_order {
            let n: u64 = product.id.parse::<u64>().unwrap() - 100_000;
            let variants: Vec<String> = product.variants.iter().map(|v| v.id.clone()).collect();
            assert_eq!(
                variants,
                [(200_000 + 2 * n).to_string(), (200_001 + 2 * n).to_string()]
            );
            assert_eq!(product.media.len(), 1);
            assert_eq!(product.variants[0].media.len(), 1);
        }
    }

    #[test]
    fn fixture_lines_in_any_order_reassemble_into_complete_products() {
        let store = Store::temporary().unwrap();
        let scratch = store.scratch().unwrap();
        let body = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/shopify/bulk_products.jsonl"
        ))
        .unwrap();
        let mut lines: Vec<&str> = body.lines().collect();
        lines.reverse();
        // An orphan variant whose product never appears.
        let orphan = r#"{"id":"gid://shopify/ProductVariant/9","title":"x","sku":null,"barcode":null,"price":"1.00","compareAtPrice":null,"inventoryQuantity":1,"inventoryPolicy":"DENY","availableForSale":true,"position":1,"selectedOptions":[],"inventoryItem":{"tracked":true,"requiresShipping":true,"measurement":{"weight":null}},"__parentId":"gid://shopify/Product/404"}"#;
        lines.insert(1, orphan);
        let mut sink = LineSink::new(&scratch);
        for line in &lines {
            sink.write(line.as_bytes()).unwrap();
        }
        sink.flush().unwrap();
        assert_eq!((sink.roots, sink.children), (1, 6));

        let mut products = Vec::new();
        let report = assemble_bulk_products(&scratch, Currency::USD, |p| products.push(p)).unwrap();
        assert_eq!(report.products, 1);
        assert_eq!(report.orphans, 1);
        assert_eq!(report.invalid, 0);
        let product = &products[0];
        assert_eq!(product.id, "1001");
        assert_eq!(product.media.len(), 1, "the video is not an image");
        let ids: Vec<&str> = product.variants.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["2001", "2002"]);
        assert_eq!(product.variants[0].media.len(), 1);
        assert!(product.variants[1].media.is_empty());
    }
}
