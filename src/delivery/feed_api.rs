//! Pushing a shop's ACP `Product` objects to an agent-hosted ACP Product
//! Feed API (spec 2026-04-17, `openapi.feed.yaml`).
//!
//! One run ([`FeedApiClient::sync`]):
//!
//! 1. creates the feed (`POST /feeds`, with an Idempotency-Key) when the
//!    state has no feed id yet;
//! 2. streams the products (one raw JSON object per line, e.g. the
//!    published `acp.jsonl.gz`), hashes each one's canonical JSON and
//!    upserts those whose hash differs from the state with
//!    `PATCH /feeds/{id}/products`, whole products in batches bounded by
//!    count and bytes;
//! 3. reads the feed back (`GET /feeds/{id}/products`) and re-sends every
//!    input product the server lacks or holds with other content (a second
//!    pass over the input, only when something needs repair);
//! 4. marks every server product that is no longer in the input
//!    unavailable: the server's own copy with each variant's `availability`
//!    set to `{available: false, status: "discontinued"}`. The 2026-04-17
//!    schema has no eligibility flag and no delete; the spec's RFC asks
//!    publishers to mark variants unavailable or discontinued instead.
//!
//! The caller keeps a [`FeedApiState`] between runs (plain serde data) and
//! lends it to the run, which updates it as the server acknowledges work,
//! so a run that fails or is cancelled half-way leaves a state that claims
//! only acknowledged products. Requests carry `Authorization: Bearer`,
//! `API-Version` and JSON bodies; 429 (honouring `Retry-After`), 5xx,
//! timeouts and connection failures are retried with capped back-off, and
//! other 4xx answers surface the server's error message.
//!
//! This module does not decide when to push, does not touch the store
//! beyond reading an artifact ([`acp_artifact_source`]) and records no
//! metrics: scheduling, persisting the state and accounting belong to the
//! caller.

mod error;
mod http;
mod lines;
mod readback;
mod report;
mod state;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use url::Url;

pub use error::{ErrorBody, FeedApiError, FeedApiFailure};
pub use lines::{GzProductLines, ProductLine, ProductLines, acp_artifact_source};
pub use report::FeedApiReport;
pub use state::{ContentHash, FeedApiState};

use http::{CREATE_FEED, Call, GET_PRODUCTS, PATCH_PRODUCTS};

/// The feed API version this client speaks.
pub const DEFAULT_API_VERSION: &str = "2026-04-17";

/// Products read from the input per step (the step runs on the blocking
/// pool: reading, decompressing and hashing are CPU and file work).
const READ_AHEAD: usize = 256;

/// Settings of one feed API target.
#[derive(Debug, Clone)]
pub struct FeedApiSettings {
    /// Base URL of the agent's feed API; `feeds`, `feeds/{id}/products` are
    /// joined to it.
    pub base_url: Url,
    /// Bearer key issued by the agent. Never logged.
    pub api_key: SecretString,
    /// `API-Version` header value.
    pub api_version: String,
    /// `target_country` of a feed this client creates (ISO 3166-1
    /// alpha-2), or none.
    pub target_country: Option<String>,
    /// Most products per `PATCH`.
    pub batch_size: NonZeroUsize,
    /// Most product bytes per `PATCH` (a single larger product is sent
    /// alone).
    pub max_batch_bytes: usize,
    /// Total time for one request, the readback of the whole feed included.
    pub timeout: Duration,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Repeats of a request after a transient failure.
    pub max_retries: u32,
    /// First back-off step; doubles per retry, with jitter.
    pub backoff_base: Duration,
    /// Longest back-off step.
    pub backoff_cap: Duration,
    /// Longest `Retry-After` honoured; longer values are clamped.
    pub retry_after_cap: Duration,
}

impl FeedApiSettings {
    /// Settings with the defaults: API 2026-04-17, no target country, 100
    /// products or 4 MiB per batch, 120 s request and 10 s connect
    /// timeouts, 5 retries backing off from 500 ms to 30 s, `Retry-After`
    /// honoured up to 120 s. The spec states no batch limit; these stay
    /// well inside common request-size limits.
    pub fn new(base_url: Url, api_key: SecretString) -> Self {
        FeedApiSettings {
            base_url,
            api_key,
            api_version: DEFAULT_API_VERSION.to_owned(),
            target_country: None,
            batch_size: NonZeroUsize::new(100).unwrap_or(NonZeroUsize::MIN),
            max_batch_bytes: 4 * 1024 * 1024,
            timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            max_retries: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(120),
        }
    }

    fn validate(&self) -> Result<(), FeedApiError> {
        let invalid = |reason: &str| {
            Err(FeedApiError::InvalidSettings {
                reason: reason.to_owned(),
            })
        };
        if !matches!(self.base_url.scheme(), "http" | "https") || self.base_url.host().is_none() {
            return invalid("base_url must be an http(s) URL with a host");
        }
        if self.api_key.expose_secret().trim().is_empty() {
            return invalid("api_key is empty");
        }
        if self.api_version.trim().is_empty() {
            return invalid("api_version is empty");
        }
        if let Some(country) = &self.target_country
            && (country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return invalid("target_country must be two upper-case letters (ISO 3166-1 alpha-2)");
        }
        if self.max_batch_bytes < 1024 {
            return invalid("max_batch_bytes must be at least 1024");
        }
        Ok(())
    }
}

/// `FeedMetadata` as the server returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FeedMetadata {
    pub id: String,
    #[serde(default)]
    pub target_country: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Deserialize)]
struct UpsertAnswer {
    accepted: bool,
}

/// A client of one feed API target. Cheap to clone; clones share the
/// connection pool.
#[derive(Clone)]
pub struct FeedApiClient {
    http: reqwest::Client,
    base_url: Url,
    settings: FeedApiSettings,
}

impl std::fmt::Debug for FeedApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedApiClient")
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

/// Why a batch is sent, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Upsert,
    Repair,
    Retire,
}

/// Products waiting to be sent in one `PATCH`.
#[derive(Default)]
struct Batch {
    lines: Vec<ProductLine>,
    bytes: usize,
}

impl FeedApiClient {
    /// Builds the client (no request is made).
    ///
    /// # Errors
    /// [`FeedApiError::InvalidSettings`] for unusable settings or when the
    /// HTTP client cannot be built.
    pub fn new(settings: FeedApiSettings) -> Result<Self, FeedApiError> {
        settings.validate()?;
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("acp-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FeedApiError::InvalidSettings {
                reason: format!("HTTP client: {e}"),
            })?;
        // A trailing slash so `join` appends instead of replacing.
        let mut base_url = settings.base_url.clone();
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        Ok(FeedApiClient {
            http,
            base_url,
            settings,
        })
    }

    /// Creates a feed (`POST /feeds`) with the configured target country.
    /// Retries reuse one Idempotency-Key, so a lost answer does not create
    /// a second feed on a host that honours it.
    ///
    /// # Errors
    /// See [`FeedApiError`].
    pub async fn create_feed(&self) -> Result<FeedMetadata, FeedApiError> {
        self.create_feed_counting(&mut 0).await
    }

    async fn create_feed_counting(&self, retries: &mut u64) -> Result<FeedMetadata, FeedApiError> {
        let body = match &self.settings.target_country {
            Some(country) => json!({ "target_country": country }),
            None => json!({}),
        };
        let key = uuid::Uuid::new_v4().to_string();
        let call = Call {
            method: Method::POST,
            route: CREATE_FEED,
            path: "feeds".to_owned(),
            body: Some(Bytes::from(body.to_string())),
            idempotency_key: Some(&key),
            feed_id: None,
        };
        let answer = self.execute(&call, retries).await?;
        let meta: FeedMetadata =
            serde_json::from_slice(&answer).map_err(|e| FeedApiError::Protocol {
                route: CREATE_FEED,
                reason: format!("not a FeedMetadata: {e}"),
            })?;
        if meta.id.is_empty() {
            return Err(FeedApiError::Protocol {
                route: CREATE_FEED,
                reason: "empty feed id".to_owned(),
            });
        }
        Ok(meta)
    }

    /// Brings the feed in line with the products `source` yields (see the
    /// module docs for the steps), updating `state` as the server
    /// acknowledges work.
    ///
    /// `source` opens the input afresh on each call: once for the first
    /// pass, and once more only when the readback finds products to repair.
    /// Each item is one product; see [`ProductLines`] and
    /// [`acp_artifact_source`].
    ///
    /// # Errors
    /// [`FeedApiFailure`] with the counts of the work acknowledged before
    /// the failure (which `state` already reflects) and the cause. A
    /// [`FeedApiError::FeedNotFound`] means `state.feed_id` is unknown to
    /// the server; the caller decides whether to clear it.
    #[tracing::instrument(skip_all, fields(feed.id = tracing::field::Empty))]
    pub async fn sync<S, I>(
        &self,
        mut source: S,
        state: &mut FeedApiState,
    ) -> Result<FeedApiReport, FeedApiFailure>
    where
        S: FnMut() -> Result<I, FeedApiError>,
        I: Iterator<Item = Result<ProductLine, FeedApiError>> + Send + 'static,
    {
        let mut report = FeedApiReport::default();
        match self.run(&mut source, state, &mut report).await {
            Ok(()) => {
                tracing::info!(
                    products = report.products,
                    upserted = report.upserted,
                    unchanged = report.unchanged,
                    repaired = report.repaired,
                    removed = report.removed,
                    batches = report.batches,
                    bytes = report.bytes,
                    "feed api sync done"
                );
                Ok(report)
            }
            Err(error) => {
                tracing::warn!(error = %error, batches = report.batches, "feed api sync failed");
                Err(FeedApiFailure {
                    report,
                    error: Box::new(error),
                })
            }
        }
    }

    async fn run<S, I>(
        &self,
        source: &mut S,
        state: &mut FeedApiState,
        report: &mut FeedApiReport,
    ) -> Result<(), FeedApiError>
    where
        S: FnMut() -> Result<I, FeedApiError>,
        I: Iterator<Item = Result<ProductLine, FeedApiError>> + Send + 'static,
    {
        let feed_id = match &state.feed_id {
            Some(id) => id.clone(),
            None => {
                let meta = self.create_feed_counting(&mut report.retries).await?;
                state.feed_id = Some(meta.id.clone());
                report.created_feed = true;
                meta.id
            }
        };
        tracing::Span::current().record("feed.id", feed_id.as_str());

        // Pass 1: send what changed since the acknowledged state.
        let mut input: HashMap<String, ContentHash> = HashMap::new();
        let mut batch = Batch::default();
        let mut lines = source()?;
        loop {
            let (back, chunk, done) = read_chunk(lines).await?;
            lines = back;
            for line in chunk {
                report.products += 1;
                if input.insert(line.id.clone(), line.hash).is_some() {
                    return Err(FeedApiError::DuplicateProduct { id: line.id });
                }
                if state.products.get(&line.id) == Some(&line.hash) {
                    report.unchanged += 1;
                    continue;
                }
                self.add(&feed_id, &mut batch, line, Purpose::Upsert, state, report)
                    .await?;
            }
            if done {
                break;
            }
        }
        drop(lines);
        self.flush(&feed_id, &mut batch, Purpose::Upsert, state, report)
            .await?;

        // Readback: what the server really holds.
        let call = Call {
            method: Method::GET,
            route: GET_PRODUCTS,
            path: format!("feeds/{feed_id}/products"),
            body: None,
            idempotency_key: None,
            feed_id: Some(&feed_id),
        };
        let body = self.execute(&call, &mut report.retries).await?;
        let (input, parsed) = tokio::task::spawn_blocking(move || {
            let parsed = readback::parse(&body, &input);
            (input, parsed)
        })
        .await
        .map_err(|e| FeedApiError::Protocol {
            route: GET_PRODUCTS,
            reason: format!("readback parser panicked: {e}"),
        })?;
        let server = parsed.map_err(|e| FeedApiError::Protocol {
            route: GET_PRODUCTS,
            reason: format!("not a ProductsResponse: {e}"),
        })?;
        report.read_back = server.total;

        // The state now claims exactly the input products the server holds
        // with the same content.
        let mut repair: HashSet<String> = HashSet::new();
        state.products.clear();
        for (id, hash) in &input {
            if server.hashes.get(id) == Some(hash) {
                state.products.insert(id.clone(), *hash);
            } else {
                repair.insert(id.clone());
            }
        }
        drop(input);

        // Pass 2, only when needed: re-send what the server lacks.
        if !repair.is_empty() {
            tracing::info!(
                products = repair.len(),
                "feed api readback found missing or stale products"
            );
            let mut lines = source()?;
            while !repair.is_empty() {
                let (back, chunk, done) = read_chunk(lines).await?;
                lines = back;
                for line in chunk {
                    if repair.remove(&line.id) {
                        self.add(&feed_id, &mut batch, line, Purpose::Repair, state, report)
                            .await?;
                    }
                }
                if done {
                    break;
                }
            }
            self.flush(&feed_id, &mut batch, Purpose::Repair, state, report)
                .await?;
        }

        // Removed products: the server's copy, marked unavailable.
        for line in server.to_retire {
            self.add(&feed_id, &mut batch, line, Purpose::Retire, state, report)
                .await?;
        }
        self.flush(&feed_id, &mut batch, Purpose::Retire, state, report)
            .await
    }

    /// Queues `line`, sending the batch first when `line` would overflow it
    /// and afterwards when it is full.
    async fn add(
        &self,
        feed_id: &str,
        batch: &mut Batch,
        line: ProductLine,
        purpose: Purpose,
        state: &mut FeedApiState,
        report: &mut FeedApiReport,
    ) -> Result<(), FeedApiError> {
        if !batch.lines.is_empty()
            && batch.bytes + line.json.len() + 1 > self.settings.max_batch_bytes
        {
            self.flush(feed_id, batch, purpose, state, report).await?;
        }
        batch.bytes += line.json.len() + 1;
        batch.lines.push(line);
        if batch.lines.len() >= self.settings.batch_size.get() {
            self.flush(feed_id, batch, purpose, state, report).await?;
        }
        Ok(())
    }

    /// Sends the queued products in one `PATCH`; on `accepted: true`
    /// records them in `state` (live products) and `report`.
    async fn flush(
        &self,
        feed_id: &str,
        batch: &mut Batch,
        purpose: Purpose,
        state: &mut FeedApiState,
        report: &mut FeedApiReport,
    ) -> Result<(), FeedApiError> {
        if batch.lines.is_empty() {
            return Ok(());
        }
        let mut body = Vec::with_capacity(batch.bytes + 16);
        body.extend_from_slice(b"{\"products\":[");
        for (i, line) in batch.lines.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&line.json);
        }
        body.extend_from_slice(b"]}");
        let sent = body.len() as u64;
        let call = Call {
            method: Method::PATCH,
            route: PATCH_PRODUCTS,
            path: format!("feeds/{feed_id}/products"),
            body: Some(Bytes::from(body)),
            idempotency_key: None,
            feed_id: Some(feed_id),
        };
        let answer = self.execute(&call, &mut report.retries).await?;
        let answer: UpsertAnswer =
            serde_json::from_slice(&answer).map_err(|e| FeedApiError::Protocol {
                route: PATCH_PRODUCTS,
                reason: format!("not an UpsertProductsResponse: {e}"),
            })?;
        if !answer.accepted {
            return Err(FeedApiError::NotAccepted {
                feed_id: feed_id.to_owned(),
            });
        }
        let n = batch.lines.len() as u64;
        for line in batch.lines.drain(..) {
            if purpose != Purpose::Retire {
                state.products.insert(line.id, line.hash);
            }
        }
        batch.bytes = 0;
        report.batches += 1;
        report.bytes += sent;
        match purpose {
            Purpose::Upsert => report.upserted += n,
            Purpose::Repair => report.repaired += n,
            Purpose::Retire => report.removed += n,
        }
        tracing::debug!(
            products = n,
            bytes = sent,
            ?purpose,
            "feed api batch accepted"
        );
        Ok(())
    }
}

/// Reads up to [`READ_AHEAD`] products on the blocking pool; returns the
/// iterator, the products and whether the input is exhausted. The first
/// bad item ends the run.
async fn read_chunk<I>(mut lines: I) -> Result<(I, Vec<ProductLine>, bool), FeedApiError>
where
    I: Iterator<Item = Result<ProductLine, FeedApiError>> + Send + 'static,
{
    let (lines, chunk, done) = tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(READ_AHEAD);
        let mut done = false;
        while chunk.len() < READ_AHEAD {
            match lines.next() {
                Some(Ok(line)) => chunk.push(line),
                Some(Err(e)) => return (lines, Err(e), true),
                None => {
                    done = true;
                    break;
                }
            }
        }
        (lines, Ok(chunk), done)
    })
    .await
    .map_err(|e| FeedApiError::Source {
        reason: format!("the product reader panicked: {e}"),
    })?;
    Ok((lines, chunk?, done))
}
