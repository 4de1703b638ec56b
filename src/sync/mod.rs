//! One sync run of one shop: Shopify → store → feed generation.
//!
//! - **Full** (cron): shop facts, a bulk operation streamed into a scratch
//!   tree, products reassembled one at a time and written in batches, then
//!   every stored product the bulk output did not contain is removed
//!   (deleted in Shopify). The incremental cursor moves to the bulk start.
//! - **Incremental** (interval): pages of products updated since the cursor
//!   (minus an overlap window, because Shopify's search index is eventually
//!   consistent); each page and the new cursor commit in one batch.
//!
//! Both end with a feed build that publishes, holds back, or finds nothing
//! changed. Unpublishing and status changes reach the feed through the
//! stored product (`published`, `status`), deletions through full syncs.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use tracing::{Instrument, info, info_span, warn};

use crate::config::{FeedSettings, ScheduleSettings, ShopSettings, ShopifyAuthSettings};
use crate::domain::{Product, ShopFacts, ShopId};
use crate::feed::generation::{
    FeedBuildError, GenerationOutcome, GenerationSettings, build_and_publish,
};
use crate::feed::{FeedError, FeedFilter, FeedOptions};
use crate::metrics as m;
use crate::scheduler::{RunSummary, SchedulerHandle, ShopJob};
use crate::source::shopify::{ShopifyAuth, ShopifyClient, ShopifyClientSettings, ShopifyError};
use crate::store::{EncodedProduct, Store, StoreError, SyncFailure, SyncKind, SyncRecord};
use crate::telemetry::{ErrorChain, spawn_blocking_in_span};

mod etsy;
mod webhooks;

pub use etsy::{EtsySync, EtsySyncError, QUOTA_DEFERRED, QUOTA_EXHAUSTED, etsy_app_settings};
pub use webhooks::OrderWebhookSink;

/// Products of an incremental page may be re-read this far back, because
/// Shopify's search index lags writes slightly.
const CURSOR_OVERLAP: chrono::Duration = chrono::Duration::minutes(2);
/// Products written per sled batch during a full sync.
const WRITE_BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("Shopify request failed")]
    Shopify(#[from] ShopifyError),
    #[error("store access failed")]
    Store(#[from] StoreError),
    #[error("building the feed failed")]
    Feed(#[from] FeedBuildError),
    #[error("the feed settings are incomplete")]
    FeedSetup(#[from] FeedError),
    #[error("a blocking task failed: {0}")]
    Join(String),
    #[error("processing an order webhook failed: {0}")]
    Webhook(String),
}

/// Progress of a run, for the CLI's progress bar.
#[derive(Debug, Clone, Copy)]
pub enum SyncProgress {
    Stage(&'static str),
    Products(u64),
}

/// Everything needed to sync one shop.
pub struct ShopSync {
    settings: ShopSettings,
    store: Store,
    client: ShopifyClient,
    publication: Mutex<Option<String>>,
    /// Where order-related webhooks go (set when checkout is enabled).
    order_sink: Mutex<Option<Arc<dyn OrderWebhookSink>>>,
    /// The shop's scheduler, to ask for another webhook run.
    scheduler: Mutex<Option<SchedulerHandle>>,
}

fn client_settings(shop: &ShopSettings) -> ShopifyClientSettings {
    let s = &shop.shopify;
    let auth = match &s.auth {
        ShopifyAuthSettings::AccessToken(token) => ShopifyAuth::AccessToken(token.clone()),
        ShopifyAuthSettings::ClientCredentials {
            client_id,
            client_secret,
        } => ShopifyAuth::ClientCredentials {
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
        },
    };
    let mut c = ShopifyClientSettings::new(s.shop_domain.clone(), auth);
    c.api_base_url = s.api_base_url.clone();
    c.api_version = s.api_version.clone();
    c.request_timeout = s.request_timeout;
    c.connect_timeout = s.connect_timeout;
    c.max_retries = s.max_retries;
    c.query_cost_target = s.query_cost_target;
    c
}

impl ShopSync {
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(settings: ShopSettings, store: Store) -> Result<Self, ShopifyError> {
        let client = ShopifyClient::new(client_settings(&settings))?;
        Ok(ShopSync {
            settings,
            store,
            client,
            publication: Mutex::new(None),
            order_sink: Mutex::new(None),
            scheduler: Mutex::new(None),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Tells the job its scheduler, so a webhook run can ask for another.
    pub fn set_scheduler(&self, handle: SchedulerHandle) {
        *self.scheduler.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    }

    /// Lets scheduled syncs run again after the app was reinstalled (a sync
    /// run by hand calls it).
    ///
    /// # Errors
    /// Store I/O.
    pub fn clear_uninstalled(&self) -> Result<(), StoreError> {
        self.store.update_sync_state(&self.settings.id, |s| {
            s.uninstalled_at = None;
        })?;
        Ok(())
    }

    pub fn shop_id(&self) -> &ShopId {
        &self.settings.id
    }

    pub fn schedule(&self) -> &ScheduleSettings {
        &self.settings.schedule
    }

    pub fn client(&self) -> &ShopifyClient {
        &self.client
    }

    /// Runs one sync and records its outcome (sync state, metrics, logs).
    ///
    /// # Errors
    /// An operator-facing message describing the failure.
    pub async fn run_once(
        &self,
        kind: SyncKind,
        progress: &(dyn Fn(SyncProgress) + Sync),
    ) -> Result<RunSummary, String> {
        let shop = self.settings.id.clone();
        let span = info_span!("sync", shop.id = %shop, platform = "shopify", job = kind.as_str());
        async move {
            let started = Instant::now();
            let uninstalled = self
                .store
                .sync_state(&shop)
                .is_ok_and(|s| s.uninstalled_at.is_some());
            let result = match kind {
                SyncKind::Full | SyncKind::Incremental if uninstalled => {
                    warn!("the app is uninstalled from this shop; run a sync by hand after reinstalling it");
                    Ok(RunSummary {
                        kind,
                        products_written: 0,
                        products_removed: 0,
                        feed: "uninstalled".into(),
                        rows_valid: 0,
                        rows_invalid: 0,
                    })
                }
                SyncKind::Full => self.full(progress).await,
                SyncKind::Incremental => self.incremental(progress).await,
                SyncKind::Webhooks => self.webhooks().await,
            };
            record_run(&self.store, &shop, kind, started.elapsed(), result)
        }
        .instrument(span)
        .await
    }

    /// Shop facts from Shopify with the configured overrides applied, stored
    /// for the feed.
    async fn refresh_facts(&self) -> Result<ShopFacts, SyncError> {
        let mut facts = self.client.shop_facts().await?;
        let o = &self.settings.policy_overrides;
        let p = &mut facts.policies;
        for (slot, over) in [
            (&mut p.refund, &o.refund),
            (&mut p.privacy, &o.privacy),
            (&mut p.terms, &o.terms),
            (&mut p.shipping, &o.shipping),
        ] {
            if over.is_some() {
                slot.clone_from(over);
            }
        }
        if let Some(country) = &self.settings.feed.store_country {
            facts.country = Some(country.clone());
        }
        self.store.put_shop_facts(&self.settings.id, &facts)?;
        Ok(facts)
    }

    async fn publication_gid(&self) -> Result<String, SyncError> {
        if let Some(gid) = self
            .publication
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(gid);
        }
        let gid = self
            .client
            .publication_id(&self.settings.shopify.publication)
            .await?;
        *self.publication.lock().unwrap_or_else(|e| e.into_inner()) = Some(gid.clone());
        Ok(gid)
    }

    fn feed_options(&self, facts: &ShopFacts) -> Result<FeedOptions, FeedError> {
        let f = &self.settings.feed;
        let mut o = FeedOptions::from_shop(facts)?;
        o.target_countries.clone_from(&f.target_countries);
        if let Some(name) = &f.seller_name {
            o.seller_name.clone_from(name);
        }
        if let Some(url) = &f.seller_url {
            o.seller_url = url.clone();
        }
        o.checkout_eligible = f.checkout_eligible;
        o.url_params = f
            .url_params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        o.accepts_returns = f.accepts_returns;
        o.return_deadline_in_days = f.return_deadline_in_days;
        Ok(o)
    }

    async fn full(
        &self,
        progress: &(dyn Fn(SyncProgress) + Sync),
    ) -> Result<RunSummary, SyncError> {
        progress(SyncProgress::Stage("reading shop facts"));
        let facts = self.refresh_facts().await?;
        let publication = self.publication_gid().await?;
        let started = Utc::now();

        progress(SyncProgress::Stage("running bulk operation"));
        let scratch = self.store.scratch()?;
        let outcome = self
            .client
            .run_bulk_products(&publication, &scratch, |p| {
                progress(SyncProgress::Products(p.objects));
            })
            .await?;
        info!(
            bulk.objects = outcome.object_count,
            bulk.lines = outcome.roots + outcome.children,
            bulk.bytes = outcome.bytes,
            "bulk output downloaded"
        );

        progress(SyncProgress::Stage("writing products"));
        let store = self.store.clone();
        let shop = self.settings.id.clone();
        let currency = facts.currency;
        let (written, removed) = spawn_blocking_in_span(move || {
            let applied = apply_full_catalog(&store, &shop, &scratch, currency);
            scratch.discard()?;
            applied
        })
        .await
        .map_err(|e| SyncError::Join(e.to_string()))??;

        let cursor = started - CURSOR_OVERLAP;
        self.store.update_sync_state(&self.settings.id, |s| {
            s.cursor = Some(cursor);
        })?;
        progress(SyncProgress::Stage("building feed"));
        let feed = self.build_feed(&facts).await?;
        Ok(summary(SyncKind::Full, written, removed, &feed))
    }

    async fn incremental(
        &self,
        progress: &(dyn Fn(SyncProgress) + Sync),
    ) -> Result<RunSummary, SyncError> {
        let state = self.store.sync_state(&self.settings.id)?;
        let Some(cursor) = state.cursor else {
            info!("no cursor yet; running a full sync instead");
            return self.full(progress).await;
        };
        progress(SyncProgress::Stage("reading shop facts"));
        let facts = self.refresh_facts().await?;
        let publication = self.publication_gid().await?;
        progress(SyncProgress::Stage("reading changed products"));
        let mut pager = self.client.products_updated_since(
            Some(cursor - CURSOR_OVERLAP),
            &publication,
            facts.currency,
        );
        let mut written = 0u64;
        let mut seen = 0u64;
        while let Some(page) = pager.next_page().await? {
            seen += page.products.len() as u64;
            let mut changed: Vec<Product> = Vec::with_capacity(page.products.len());
            for product in page.products {
                if self.store.product(&self.settings.id, &product.id)?.as_ref() != Some(&product) {
                    changed.push(product);
                }
            }
            written += changed.len() as u64;
            let next_cursor = page.max_updated_at.unwrap_or(cursor);
            self.store
                .apply_incremental_page(&self.settings.id, &changed, &[], next_cursor)?;
            progress(SyncProgress::Products(seen));
        }
        let has_feed = self.store.feed_meta(&self.settings.id)?.is_some();
        if written == 0 && has_feed {
            return Ok(RunSummary {
                kind: SyncKind::Incremental,
                products_written: 0,
                products_removed: 0,
                feed: "skipped".into(),
                rows_valid: 0,
                rows_invalid: 0,
            });
        }
        progress(SyncProgress::Stage("building feed"));
        let feed = self.build_feed(&facts).await?;
        Ok(summary(SyncKind::Incremental, written, 0, &feed))
    }

    async fn build_feed(&self, facts: &ShopFacts) -> Result<GenerationOutcome, SyncError> {
        let options = self.feed_options(facts)?;
        publish_feed(
            &self.store,
            &self.settings.id,
            &self.settings.feed,
            options,
            SyncError::Join,
        )
        .await
    }
}

/// Builds and publishes the feed of `shop` from its stored products (on a
/// blocking thread), records the feed metrics and logs the outcome: the
/// last step of every sync, whatever the source.
pub(crate) async fn publish_feed<E: From<FeedBuildError>>(
    store: &Store,
    shop: &ShopId,
    f: &FeedSettings,
    options: FeedOptions,
    join_error: impl FnOnce(String) -> E,
) -> Result<GenerationOutcome, E> {
    let filter = FeedFilter {
        exclude_tags: f.exclude_tags.clone(),
        exclude_product_types: f.exclude_product_types.clone(),
        exclude_vendors: f.exclude_vendors.clone(),
    };
    let max_drop = f.max_drop_percent;
    let store = store.clone();
    let shop_id = shop.clone();
    let started = Instant::now();
    let outcome = spawn_blocking_in_span(move || {
        build_and_publish(
            &store,
            &shop_id,
            &GenerationSettings {
                options: &options,
                filter: &filter,
                max_drop_percent: max_drop,
            },
        )
    })
    .await
    .map_err(|e| join_error(e.to_string()))??;
    let shop = shop.to_string();
    metrics::histogram!(m::FEED_BUILD_SECONDS, "shop" => shop.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(m::FEED_GENERATIONS_TOTAL, "shop" => shop.clone(), "outcome" => outcome.label())
        .increment(1);
    match &outcome {
        GenerationOutcome::Published(meta) | GenerationOutcome::Unchanged(meta) => {
            metrics::gauge!(m::FEED_ROWS_VALID, "shop" => shop.clone()).set(meta.rows_valid as f64);
            metrics::gauge!(m::FEED_ROWS_INVALID, "shop" => shop.clone())
                .set(meta.rows_invalid as f64);
            metrics::gauge!(m::FEED_BUILT_TIMESTAMP_SECONDS, "shop" => shop)
                .set(meta.built_at.timestamp() as f64);
            info!(
                feed.generation = meta.generation,
                feed.rows_valid = meta.rows_valid,
                feed.rows_invalid = meta.rows_invalid,
                feed.rows_changed = meta.rows_changed,
                outcome = outcome.label(),
                "feed built"
            );
        }
        GenerationOutcome::Held(held) => {
            warn!(
                feed.generation = held.generation,
                feed.rows_valid = held.rows_valid,
                feed.published_rows_valid = held.published_rows_valid,
                max_drop_percent = held.max_drop_percent,
                "feed held back: too many rows disappeared"
            );
        }
    }
    Ok(outcome)
}

/// Records the outcome of a run of any source: metrics, the sync state's
/// last run or last error. An incremental run that ran as a full one (a
/// never-synced shop) is recorded as what it was.
pub(crate) fn record_run<E: std::error::Error + 'static>(
    store: &Store,
    shop: &ShopId,
    kind: SyncKind,
    elapsed: std::time::Duration,
    result: Result<RunSummary, E>,
) -> Result<RunSummary, String> {
    let effective = result.as_ref().map_or(kind, |r| r.kind);
    let labels = [
        ("shop", shop.to_string()),
        ("kind", effective.as_str().to_owned()),
    ];
    metrics::histogram!(m::SYNC_DURATION_SECONDS, &labels).record(elapsed.as_secs_f64());
    match result {
        Ok(summary) => {
            metrics::counter!(m::SYNC_RUNS_TOTAL, "shop" => shop.to_string(), "kind" => effective.as_str(), "outcome" => "ok").increment(1);
            metrics::counter!(m::SYNC_PRODUCTS_TOTAL, &labels).increment(summary.products_written);
            let record = SyncRecord {
                finished_at: Utc::now(),
                duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                products_written: summary.products_written,
                products_removed: summary.products_removed,
            };
            let stored = store.update_sync_state(shop, |s| {
                match effective {
                    SyncKind::Full => s.last_full = Some(record.clone()),
                    SyncKind::Incremental => s.last_incremental = Some(record.clone()),
                    SyncKind::Webhooks => s.last_webhooks = Some(record.clone()),
                }
                s.last_error = None;
            });
            if let Err(e) = stored {
                warn!(error = %ErrorChain(&e), "recording the sync outcome failed");
            }
            Ok(summary)
        }
        Err(err) => {
            metrics::counter!(m::SYNC_RUNS_TOTAL, "shop" => shop.to_string(), "kind" => kind.as_str(), "outcome" => "error").increment(1);
            let message = ErrorChain(&err).to_string();
            let stored = store.update_sync_state(shop, |s| {
                let consecutive = s.last_error.as_ref().map_or(0, |e| e.consecutive) + 1;
                s.last_error = Some(SyncFailure {
                    at: Utc::now(),
                    kind,
                    message: message.clone(),
                    consecutive,
                });
            });
            if let Err(e) = stored {
                warn!(error = %ErrorChain(&e), "recording the sync failure failed");
            }
            Err(message)
        }
    }
}

fn summary(kind: SyncKind, written: u64, removed: u64, feed: &GenerationOutcome) -> RunSummary {
    let (rows_valid, rows_invalid) = match feed {
        GenerationOutcome::Published(m) | GenerationOutcome::Unchanged(m) => {
            (m.rows_valid, m.rows_invalid)
        }
        GenerationOutcome::Held(h) => (h.rows_valid, 0),
    };
    RunSummary {
        kind,
        products_written: written,
        products_removed: removed,
        feed: feed.label().to_owned(),
        rows_valid,
        rows_invalid,
    }
}

/// Chunks of reassembled products (see
/// `source::shopify::assemble_bulk_products_on`) ready ahead of the writer
/// during a full sync.
const ASSEMBLE_AHEAD: usize = 4;

/// Writes the reassembled bulk catalog (only products that changed) and
/// removes stored products the bulk output no longer contains. Returns
/// (written, removed).
fn apply_full_catalog(
    store: &Store,
    shop: &ShopId,
    bulk: &crate::store::Scratch,
    currency: crate::domain::Currency,
) -> Result<(u64, u64), SyncError> {
    // Product ids seen in the bulk output; small (ids only), so in memory.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut batch: Vec<EncodedProduct> = Vec::with_capacity(WRITE_BATCH);
    let mut written = 0u64;
    // Reassembly (reading and parsing bulk lines) and encoding run on their
    // own threads, ahead of comparing and writing on this one; the bounded
    // channel keeps memory flat.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<EncodedProduct>>(ASSEMBLE_AHEAD);
    // Assembling and encoding cost several times what writing does.
    let assemblers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    std::thread::scope(|scope| -> Result<(), SyncError> {
        let assembler = std::thread::Builder::new()
            .name("bulk-assemble".into())
            .spawn_scoped(scope, move || {
                // Encoding (compressing) on the assemblers keeps this
                // thread free for comparing and writing.
                crate::source::shopify::assemble_bulk_products_on(
                    assemblers,
                    bulk,
                    currency,
                    |products| {
                        let encoded = products.iter().map(EncodedProduct::new).collect();
                        // A closed channel means the writer failed; its
                        // error wins.
                        let _ = tx.send(encoded);
                    },
                )
            })
            .map_err(|e| SyncError::Join(e.to_string()))?;
        let write = || -> Result<(), StoreError> {
            for encoded in rx.into_iter().flatten() {
                seen.insert(encoded.id().to_owned());
                // Equal stored bytes mean an equal product.
                let stored = store.stored_product(shop, encoded.id())?;
                if !stored.is_some_and(|s| encoded.matches(&s)) {
                    batch.push(encoded);
                    if batch.len() >= WRITE_BATCH {
                        written += batch.len() as u64;
                        store.put_encoded_products(shop, std::mem::take(&mut batch))?;
                    }
                }
            }
            Ok(())
        };
        let wrote = write();
        let assembled = assembler
            .join()
            .map_err(|_| SyncError::Join("bulk assembler panicked".into()))?;
        wrote?;
        assembled?;
        Ok(())
    })?;
    written += batch.len() as u64;
    store.put_encoded_products(shop, batch)?;

    let mut gone = Vec::new();
    for id in store.product_ids(shop)? {
        let id = id?;
        if !seen.contains(&id) {
            gone.push(id);
        }
    }
    store.remove_products(shop, &gone)?;
    Ok((written, gone.len() as u64))
}

impl ShopJob for ShopSync {
    fn run(
        &self,
        kind: SyncKind,
    ) -> Pin<Box<dyn Future<Output = Result<RunSummary, String>> + Send + '_>> {
        Box::pin(self.run_once(kind, &|_| {}))
    }
}
