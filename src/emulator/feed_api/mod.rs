//! A faithful emulator of an agent-hosted ACP Product Feed API (spec
//! 2026-04-17, `openapi.feed.yaml`): `POST /feeds`, `GET /feeds/{id}`,
//! `GET /feeds/{id}/products` and `PATCH /feeds/{id}/products`. Used by
//! tests and `acp-bridge demo`.
//!
//! It enforces what the spec and the ACP REST conventions require of the
//! host: a Bearer key (401), `API-Version` (400 `missing_api_version` /
//! `unsupported_api_version`), JSON bodies (415), an `Idempotency-Key` on
//! `POST` (400 without one, replay with `Idempotent-Replayed: true`, 422 for
//! the same key with another body), every request body validated against
//! `$ACP_SPEC_DIR/2026-04-17/schema.feed.json` (400
//! `invalid_product_payload` with the JSONPath of the first violation),
//! non-empty upserts, per-request size limits (413 / 400
//! `too_many_products`), and feeds scoped to the key that created them
//! (404 `feed_not_found`). Every error uses the spec's flat
//! `{type, code, message, param?}` shape. Upserts replace whole products by
//! `Product.id`; omitted products stay unchanged.
//!
//! Faults are scripted through [`FeedApiEmulator::faults`]: 5xx and 429
//! answers, and lost writes (a `PATCH` answered as accepted whose products
//! are partly dropped) to exercise a publisher's readback repair.
//!
//! Layout: `routes` (HTTP pipeline and handlers), `schema` (request
//! validation), `faults`, `counters`.

mod counters;
mod faults;
mod routes;
mod schema;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use counters::CounterSnapshot;
pub use faults::Faults;
pub use schema::{SCHEMA_VERSION, default_spec_dir};

use counters::Counters;
use schema::RequestSchemas;

/// Why the emulator could not be built or served.
#[derive(Debug, thiserror::Error)]
pub enum FeedApiEmulatorError {
    #[error("ACP feed schema {}: {reason}", path.display())]
    Schema { path: PathBuf, reason: String },
    #[error("cannot bind the feed API emulator to a loopback port")]
    Bind(#[source] std::io::Error),
    #[error("serving the feed API emulator failed")]
    Serve(#[source] std::io::Error),
    #[error("the feed API emulator task ended abnormally")]
    Task(#[source] tokio::task::JoinError),
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything that configures one emulated feed host.
///
/// `Default` accepts the key [`FeedApiEmulatorConfig::DEFAULT_API_KEY`] and
/// API version `2026-04-17`, reads the schema from [`default_spec_dir`],
/// and allows 1,000 products or 8 MiB per request (the spec states no
/// limit; these are the emulator's, configurable so clients can be tested
/// against tighter hosts).
#[derive(Clone)]
pub struct FeedApiEmulatorConfig {
    /// Accepted Bearer keys. Feeds belong to the key that created them.
    pub api_keys: Vec<SecretString>,
    /// Accepted `API-Version` values.
    pub supported_versions: Vec<String>,
    /// The acp-spec directory (holding `2026-04-17/schema.feed.json`).
    pub spec_dir: PathBuf,
    /// Most products one `PATCH` may carry.
    pub max_products_per_request: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl FeedApiEmulatorConfig {
    /// The key present in [`FeedApiEmulatorConfig::default`].
    pub const DEFAULT_API_KEY: &'static str = "acpfeed_test_3mul4t0r0000000000";
}

impl Default for FeedApiEmulatorConfig {
    fn default() -> Self {
        FeedApiEmulatorConfig {
            api_keys: vec![SecretString::from(Self::DEFAULT_API_KEY)],
            supported_versions: vec![SCHEMA_VERSION.to_owned()],
            spec_dir: default_spec_dir(),
            max_products_per_request: 1000,
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

impl fmt::Debug for FeedApiEmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedApiEmulatorConfig")
            .field(
                "api_keys",
                &format_args!("[{} redacted]", self.api_keys.len()),
            )
            .field("supported_versions", &self.supported_versions)
            .field("spec_dir", &self.spec_dir)
            .field("max_products_per_request", &self.max_products_per_request)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// One stored feed.
pub(crate) struct Feed {
    /// Index of the key in `api_keys` that created it.
    pub owner: usize,
    pub target_country: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// Products by `Product.id`, exactly as last upserted.
    pub products: BTreeMap<String, Value>,
}

/// A stored `POST` answer for an Idempotency-Key.
pub(crate) struct SavedResponse {
    pub request: Value,
    pub status: u16,
    pub body: Value,
}

#[derive(Default)]
pub(crate) struct Ledger {
    pub feeds: BTreeMap<String, Feed>,
    /// By (key owner, route, Idempotency-Key).
    pub idempotency: HashMap<(usize, &'static str, String), SavedResponse>,
}

/// Shared state behind the cheap-to-clone handle.
pub(crate) struct Inner {
    pub keys: Vec<SecretString>,
    pub versions: Vec<String>,
    pub max_products_per_request: usize,
    pub max_body_bytes: usize,
    pub schemas: RequestSchemas,
    pub ledger: Mutex<Ledger>,
    pub faults: Faults,
    pub counters: Counters,
}

/// A feed as tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedView {
    pub id: String,
    pub target_country: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub products: usize,
}

/// One emulated feed host. Cloning is cheap and shares the state.
#[derive(Clone)]
pub struct FeedApiEmulator {
    inner: Arc<Inner>,
}

impl fmt::Debug for FeedApiEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedApiEmulator")
            .field("versions", &self.inner.versions)
            .finish_non_exhaustive()
    }
}

impl FeedApiEmulator {
    /// Builds the emulator, reading the feed schema from `config.spec_dir`.
    ///
    /// # Errors
    /// [`FeedApiEmulatorError::Schema`] when the schema file is missing or
    /// unusable (the message names the path and `ACP_SPEC_DIR`).
    pub fn new(config: FeedApiEmulatorConfig) -> Result<Self, FeedApiEmulatorError> {
        let schemas = RequestSchemas::load(&config.spec_dir)?;
        Ok(FeedApiEmulator {
            inner: Arc::new(Inner {
                keys: config.api_keys,
                versions: config.supported_versions,
                max_products_per_request: config.max_products_per_request,
                max_body_bytes: config.max_body_bytes,
                schemas,
                ledger: Mutex::new(Ledger::default()),
                faults: Faults::default(),
                counters: Counters::default(),
            }),
        })
    }

    /// The HTTP routes (relative; mount them anywhere and point the
    /// client's base URL there).
    pub fn router(&self) -> axum::Router {
        routes::router(self.inner.clone())
    }

    /// Fault injection controls.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The request counters now.
    pub fn counters(&self) -> CounterSnapshot {
        self.inner.counters.snapshot()
    }

    /// Every feed, by id.
    pub fn feeds(&self) -> Vec<FeedView> {
        lock(&self.inner.ledger)
            .feeds
            .iter()
            .map(|(id, feed)| FeedView {
                id: id.clone(),
                target_country: feed.target_country.clone(),
                updated_at: feed.updated_at,
                products: feed.products.len(),
            })
            .collect()
    }

    /// The products of a feed as stored (by id), or `None` for an unknown
    /// feed.
    pub fn products(&self, feed_id: &str) -> Option<Vec<Value>> {
        lock(&self.inner.ledger)
            .feeds
            .get(feed_id)
            .map(|f| f.products.values().cloned().collect())
    }

    /// One stored product.
    pub fn product(&self, feed_id: &str, product_id: &str) -> Option<Value> {
        lock(&self.inner.ledger)
            .feeds
            .get(feed_id)?
            .products
            .get(product_id)
            .cloned()
    }

    /// Products stored across all feeds.
    pub fn products_stored(&self) -> usize {
        lock(&self.inner.ledger)
            .feeds
            .values()
            .map(|f| f.products.len())
            .sum()
    }

    /// Drops a stored product, as a host losing data would; `false` when
    /// there was none.
    pub fn remove_product(&self, feed_id: &str, product_id: &str) -> bool {
        lock(&self.inner.ledger)
            .feeds
            .get_mut(feed_id)
            .is_some_and(|f| f.products.remove(product_id).is_some())
    }

    /// Edits a stored product in place (no validation), as a host holding
    /// stale or altered data would; `false` when there was none.
    pub fn edit_product(
        &self,
        feed_id: &str,
        product_id: &str,
        edit: impl FnOnce(&mut Value),
    ) -> bool {
        let mut ledger = lock(&self.inner.ledger);
        match ledger
            .feeds
            .get_mut(feed_id)
            .and_then(|f| f.products.get_mut(product_id))
        {
            Some(product) => {
                edit(product);
                true
            }
            None => false,
        }
    }

    /// Serves the emulator on a fresh `127.0.0.1` port until the returned
    /// handle is shut down or dropped.
    ///
    /// # Errors
    /// [`FeedApiEmulatorError::Bind`] when no loopback port can be bound.
    pub async fn start(self) -> Result<FeedApiServer, FeedApiEmulatorError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(FeedApiEmulatorError::Bind)?;
        let addr = listener.local_addr().map_err(FeedApiEmulatorError::Bind)?;
        let base_url = Url::parse(&format!("http://{addr}/"))
            .map_err(|e| FeedApiEmulatorError::Bind(std::io::Error::other(e)))?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(
            listener,
            self.clone(),
            stop.clone().cancelled_owned(),
        ));
        Ok(FeedApiServer {
            base_url,
            emulator: self,
            stop,
            task: Some(task),
        })
    }
}

/// A running emulator (from [`FeedApiEmulator::start`]). Dropping it stops
/// the server without waiting.
pub struct FeedApiServer {
    base_url: Url,
    emulator: FeedApiEmulator,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), FeedApiEmulatorError>>>,
}

impl fmt::Debug for FeedApiServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedApiServer")
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl FeedApiServer {
    /// `http://127.0.0.1:{port}/`: the base URL clients are given.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The emulator behind the server (state, faults, counters).
    pub fn emulator(&self) -> &FeedApiEmulator {
        &self.emulator
    }

    /// Stops accepting connections, lets in-flight requests finish and
    /// waits for the server task.
    ///
    /// # Errors
    /// The server failed, or its task panicked.
    pub async fn shutdown(mut self) -> Result<(), FeedApiEmulatorError> {
        self.stop.cancel();
        match self.task.take() {
            Some(task) => task.await.map_err(FeedApiEmulatorError::Task)?,
            None => Ok(()),
        }
    }
}

impl Drop for FeedApiServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serves the emulator on `listener` until `shutdown` completes.
///
/// # Errors
/// [`FeedApiEmulatorError::Serve`] when the server fails.
pub async fn serve(
    listener: TcpListener,
    emulator: FeedApiEmulator,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), FeedApiEmulatorError> {
    tracing::info!("feed api emulator serving");
    axum::serve(listener, emulator.router())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(FeedApiEmulatorError::Serve)
}

#[cfg(test)]
mod tests;
