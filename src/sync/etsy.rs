//! One sync run of one Etsy shop: Etsy → store → feed generation.
//!
//! Budget: one request lists 100 listings with their images and inventory
//! (`includes=Images,Inventory`), so a 10,000-listing shop costs about 100
//! requests per full sync plus two for shop facts and the return policy.
//! Incremental runs page `sort_on=updated` newest first and stop at the
//! first listing older than the cursor, so a quiet shop costs one request
//! for active listings plus one each for listings that became inactive,
//! sold out or expired since the cursor (removed from the catalog at once):
//! 4 requests per run, about 1,150 a day at a five-minute interval. A daily
//! full sync plus five-minute incrementals of a 10,000-listing shop stays
//! near 1,300 requests of a 10,000-request day.
//!
//! - **Full**: shop facts and return policy, then every active listing
//!   oldest first; stored listings that did not appear are removed (only
//!   when the listing count stayed the same during the pass, since offset
//!   paging can skip a listing when others disappear mid-pass). A full sync
//!   is deferred when Etsy's last `x-remaining-today` is below what it needs.
//! - **Incremental**: listings modified since the cursor (minus an overlap).
//!   Pages are written as they arrive; the cursor moves only when the pass
//!   is complete, so an interrupted run re-reads from the newest listing.
//!
//! The daily quota running out is a reported state, not a failure: the run
//! ends with feed outcome `quota_exhausted`, keeps what it wrote, and the
//! shop's status says "daily quota exhausted until …". The limiter sends
//! nothing until then, so the scheduler cannot spin on it.
//!
//! Rows are never checkout-eligible and link to the listing on Etsy with
//! the configured attribution parameters. The feed build is the shared
//! [`build_and_publish`].

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tracing::{Instrument, info, info_span, warn};

use super::summary;
use crate::config::{EtsyAppConfig, EtsyShopSettings, ScheduleSettings};
use crate::domain::{Product, ShopFacts, ShopId};
use crate::feed::generation::{FeedBuildError, GenerationOutcome};
use crate::feed::{FeedError, FeedOptions};
use crate::scheduler::{RunSummary, ShopJob};
use crate::source::etsy::{
    CatalogPage, EtsyApp, EtsyAppSettings, EtsyError, EtsyShopClient, ListingFilter, PAGE_LIMIT,
    SortOn,
};
use crate::store::{MAX_REJECTED_LISTINGS, RejectedListing, Store, StoreError, SyncKind};
use crate::telemetry::ErrorChain;

/// Listings modified this close before the cursor are read again (Etsy's
/// timestamps are whole seconds and its listing index lags writes).
const CURSOR_OVERLAP: chrono::Duration = chrono::Duration::minutes(2);
/// Feed outcome of a run stopped by the daily quota.
pub const QUOTA_EXHAUSTED: &str = "quota_exhausted";
/// Feed outcome of a full sync postponed because the quota left today is
/// smaller than the sync needs.
pub const QUOTA_DEFERRED: &str = "quota_deferred";

#[derive(Debug, thiserror::Error)]
pub enum EtsySyncError {
    #[error("Etsy request failed")]
    Etsy(#[from] EtsyError),
    #[error("store access failed")]
    Store(#[from] StoreError),
    #[error("building the feed failed")]
    Feed(#[from] FeedBuildError),
    #[error("the feed settings are incomplete")]
    FeedSetup(#[from] FeedError),
    #[error("a blocking task failed: {0}")]
    Join(String),
}

/// The client settings of the configured Etsy app.
pub fn etsy_app_settings(cfg: &EtsyAppConfig) -> EtsyAppSettings {
    let mut s = EtsyAppSettings::new(cfg.keystring.clone(), cfg.shared_secret.clone());
    if let Some(url) = &cfg.api_base_url {
        s.api_base_url = url.clone();
    }
    if let Some(url) = &cfg.connect_url {
        s.connect_url = url.clone();
    }
    s.scopes.clone_from(&cfg.scopes);
    s.request_timeout = cfg.request_timeout;
    s.connect_timeout = cfg.connect_timeout;
    s.max_retries = cfg.max_retries;
    s.requests_per_second = cfg.requests_per_second;
    s.quota_recheck = cfg.quota_recheck;
    s
}

/// Everything needed to sync one Etsy shop.
pub struct EtsySync {
    settings: EtsyShopSettings,
    store: Store,
    client: EtsyShopClient,
}

/// What a run did before it ended (also when the quota ended it).
#[derive(Default)]
struct Progress {
    written: u64,
    removed: u64,
}

impl EtsySync {
    /// The job of one shop on the daemon's shared Etsy app.
    pub fn new(settings: EtsyShopSettings, app: &EtsyApp, store: Store) -> Self {
        let client = app.shop_client(settings.id.clone(), settings.etsy_shop_id, store.clone());
        EtsySync {
            settings,
            store,
            client,
        }
    }

    pub fn shop_id(&self) -> &ShopId {
        &self.settings.id
    }

    pub fn schedule(&self) -> &ScheduleSettings {
        &self.settings.schedule
    }

    pub fn client(&self) -> &EtsyShopClient {
        &self.client
    }

    /// Runs one sync and records its outcome (sync state, Etsy state,
    /// metrics, logs).
    ///
    /// # Errors
    /// An operator-facing message describing the failure.
    pub async fn run_once(&self, kind: SyncKind) -> Result<RunSummary, String> {
        let shop = self.settings.id.clone();
        let span = info_span!("sync", shop.id = %shop, platform = "etsy", job = kind.as_str());
        async move {
            let started = Instant::now();
            let mut progress = Progress::default();
            let result = match kind {
                SyncKind::Full => self.full(&mut progress).await,
                // Etsy sends no catalog webhooks; a webhook run is an
                // incremental one.
                SyncKind::Incremental | SyncKind::Webhooks => self.incremental(&mut progress).await,
            };
            let elapsed = started.elapsed();
            let result = match result {
                Err(EtsySyncError::Etsy(EtsyError::QuotaExhausted { until })) => {
                    warn!(until = %until, "Etsy daily quota exhausted; the run stops here");
                    self.note_quota(Some(until));
                    Ok(RunSummary {
                        kind,
                        products_written: progress.written,
                        products_removed: progress.removed,
                        feed: QUOTA_EXHAUSTED.into(),
                        rows_valid: 0,
                        rows_invalid: 0,
                    })
                }
                Ok(summary) => {
                    if summary.feed != QUOTA_DEFERRED {
                        self.note_quota(None);
                    }
                    Ok(summary)
                }
                Err(e) => Err(e),
            };
            super::record_run(&self.store, &shop, kind, elapsed, result)
        }
        .instrument(span)
        .await
    }

    /// Records the app's quota as last seen, and whether it ran out.
    fn note_quota(&self, exhausted_until: Option<DateTime<Utc>>) {
        let quota = self.client.app().quota();
        let stored = self.store.update_etsy_state(&self.settings.id, |s| {
            s.quota_exhausted_until = exhausted_until;
            s.limit_per_day = quota.limit_per_day.or(s.limit_per_day);
            s.remaining_today = quota.remaining_today;
            s.quota_seen_at = Some(Utc::now());
        });
        if let Err(e) = stored {
            warn!(error = %ErrorChain(&e), "recording the Etsy quota failed");
        }
    }

    /// Shop facts and return policy from Etsy with configured overrides,
    /// stored for the feed.
    async fn refresh_facts(&self) -> Result<ShopFacts, EtsySyncError> {
        let (mut facts, returns) = self
            .client
            .shop_facts(&self.settings.policy_overrides)
            .await?;
        if let Some(country) = &self.settings.feed.store_country {
            facts.country = Some(country.clone());
        }
        self.store.put_shop_facts(&self.settings.id, &facts)?;
        self.store.update_etsy_state(&self.settings.id, |s| {
            s.accepts_returns = returns.map(|r| r.0);
            s.return_deadline_days = returns.and_then(|r| r.1);
        })?;
        Ok(facts)
    }

    /// Writes the page's products that differ from the stored ones.
    fn write_changed(&self, page: &CatalogPage) -> Result<u64, StoreError> {
        let mut changed: Vec<Product> = Vec::new();
        for product in &page.products {
            if self.store.product(&self.settings.id, &product.id)?.as_ref() != Some(product) {
                changed.push(product.clone());
            }
        }
        self.store.upsert_products(&self.settings.id, &changed)?;
        Ok(changed.len() as u64)
    }

    fn record_rejected(&self, rejected: Vec<RejectedListing>) -> Result<(), StoreError> {
        self.store.update_etsy_state(&self.settings.id, |s| {
            s.rejected = rejected
                .iter()
                .take(MAX_REJECTED_LISTINGS)
                .cloned()
                .collect();
        })?;
        Ok(())
    }

    async fn full(&self, progress: &mut Progress) -> Result<RunSummary, EtsySyncError> {
        if let Some(until) = self
            .client
            .app()
            .quota()
            .exhausted_until
            .filter(|t| *t > Utc::now())
        {
            return Err(EtsyError::QuotaExhausted { until }.into());
        }
        let stored = self.store.product_count(&self.settings.id)? as u64;
        let needed = stored.div_ceil(u64::from(PAGE_LIMIT)) + 3;
        if let Some(left) = self.client.app().quota().remaining_today
            && left < needed
        {
            info!(
                quota.remaining = left,
                quota.needed = needed,
                "full sync deferred: not enough daily quota left"
            );
            return Ok(RunSummary {
                kind: SyncKind::Full,
                products_written: 0,
                products_removed: 0,
                feed: QUOTA_DEFERRED.into(),
                rows_valid: 0,
                rows_invalid: 0,
            });
        }
        let facts = self.refresh_facts().await?;
        let mut seen: HashSet<String> = HashSet::new();
        let mut rejected = Vec::new();
        let mut newest: Option<DateTime<Utc>> = None;
        let mut offset = 0u64;
        let mut first_total = None;
        let mut stable = true;
        loop {
            let page = self
                .client
                .listings_page(
                    ListingFilter::Active,
                    offset,
                    SortOn::Created,
                    facts.currency,
                )
                .await?;
            stable &= *first_total.get_or_insert(page.total) == page.total;
            progress.written += self.write_changed(&page)?;
            seen.extend(page.products.iter().map(|p| p.id.clone()));
            rejected.extend(page.rejected.iter().cloned());
            newest = newest.max(page.modified.iter().max().copied());
            offset += page.listings_on_page as u64;
            if page.listings_on_page == 0 || offset >= page.total {
                break;
            }
        }
        if stable {
            let mut gone = Vec::new();
            for id in self.store.product_ids(&self.settings.id)? {
                let id = id?;
                if !seen.contains(&id) {
                    gone.push(id);
                }
            }
            self.store.remove_products(&self.settings.id, &gone)?;
            progress.removed = gone.len() as u64;
        } else {
            warn!("the listing count changed during the full sync; removals wait for the next one");
        }
        self.record_rejected(rejected)?;
        let cursor = newest.unwrap_or_else(Utc::now);
        self.store.update_sync_state(&self.settings.id, |s| {
            s.cursor = Some(cursor);
        })?;
        let feed = self.build_feed(&facts).await?;
        Ok(summary(
            SyncKind::Full,
            progress.written,
            progress.removed,
            &feed,
        ))
    }

    async fn incremental(&self, progress: &mut Progress) -> Result<RunSummary, EtsySyncError> {
        let state = self.store.sync_state(&self.settings.id)?;
        let (Some(cursor), Some(facts)) = (state.cursor, self.store.shop_facts(&self.settings.id)?)
        else {
            info!("no cursor yet; running a full sync instead");
            return self.full(progress).await;
        };
        let since = cursor - CURSOR_OVERLAP;
        let mut newest = cursor;
        let mut rejected = self.store.etsy_state(&self.settings.id)?.rejected;
        // Changed active listings, newest first, until one is older than
        // the cursor.
        let mut offset = 0u64;
        loop {
            let page = self
                .client
                .listings_page(
                    ListingFilter::Active,
                    offset,
                    SortOn::Updated,
                    facts.currency,
                )
                .await?;
            let recent: HashSet<&str> = page
                .listing_ids
                .iter()
                .zip(&page.modified)
                .filter(|(_, t)| **t >= since)
                .map(|(id, _)| id.as_str())
                .collect();
            let fresh = CatalogPage {
                products: page
                    .products
                    .iter()
                    .filter(|p| recent.contains(p.id.as_str()))
                    .cloned()
                    .collect(),
                ..CatalogPage::default()
            };
            progress.written += self.write_changed(&fresh)?;
            for r in &page.rejected {
                if recent.contains(r.listing_id.to_string().as_str()) {
                    rejected.retain(|x| x.listing_id != r.listing_id);
                    rejected.push(r.clone());
                }
            }
            // A listing whose price became convertible again is fine now.
            rejected.retain(|x| {
                !fresh
                    .products
                    .iter()
                    .any(|p| p.id == x.listing_id.to_string())
            });
            if let Some(t) = page.modified.iter().max() {
                newest = newest.max(*t);
            }
            offset += page.listings_on_page as u64;
            let reached_cursor = page.modified.iter().any(|t| *t < since);
            if reached_cursor || page.listings_on_page == 0 || offset >= page.total {
                break;
            }
        }
        // Listings that left the active state since the cursor leave the
        // feed now rather than at the next full sync.
        let mut gone = Vec::new();
        for filter in [
            ListingFilter::Inactive,
            ListingFilter::SoldOut,
            ListingFilter::Expired,
        ] {
            let page = self
                .client
                .listings_page(filter, 0, SortOn::Updated, facts.currency)
                .await?;
            for (id, t) in page.listing_ids.iter().zip(&page.modified) {
                if *t >= since && self.store.product(&self.settings.id, id)?.is_some() {
                    gone.push(id.clone());
                }
            }
        }
        self.store.remove_products(&self.settings.id, &gone)?;
        progress.removed = gone.len() as u64;
        rejected.truncate(MAX_REJECTED_LISTINGS);
        self.record_rejected(rejected)?;
        self.store
            .apply_incremental_page(&self.settings.id, &[], &[], newest)?;
        let has_feed = self.store.feed_meta(&self.settings.id)?.is_some();
        if progress.written == 0 && progress.removed == 0 && has_feed {
            return Ok(RunSummary {
                kind: SyncKind::Incremental,
                products_written: 0,
                products_removed: 0,
                feed: "skipped".into(),
                rows_valid: 0,
                rows_invalid: 0,
            });
        }
        let feed = self.build_feed(&facts).await?;
        Ok(summary(
            SyncKind::Incremental,
            progress.written,
            progress.removed,
            &feed,
        ))
    }

    /// Feed options of an Etsy shop: never checkout-eligible; listing URLs
    /// carry the configured attribution parameters.
    fn feed_options(&self, facts: &ShopFacts) -> Result<FeedOptions, EtsySyncError> {
        let f = &self.settings.feed;
        let etsy = self.store.etsy_state(&self.settings.id)?;
        let mut o = FeedOptions::from_shop(facts)?;
        o.target_countries.clone_from(&f.target_countries);
        if let Some(name) = &f.seller_name {
            o.seller_name.clone_from(name);
        }
        if let Some(url) = &f.seller_url {
            o.seller_url = url.clone();
        }
        o.checkout_eligible = false;
        o.url_params = f
            .url_params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        o.accepts_returns = f.accepts_returns.or(etsy.accepts_returns);
        o.return_deadline_in_days = f.return_deadline_in_days.or(etsy.return_deadline_days);
        Ok(o)
    }

    async fn build_feed(&self, facts: &ShopFacts) -> Result<GenerationOutcome, EtsySyncError> {
        let options = self.feed_options(facts)?;
        super::publish_feed(
            &self.store,
            &self.settings.id,
            &self.settings.feed,
            options,
            EtsySyncError::Join,
        )
        .await
    }
}

impl ShopJob for EtsySync {
    fn run(
        &self,
        kind: SyncKind,
    ) -> Pin<Box<dyn Future<Output = Result<RunSummary, String>> + Send + '_>> {
        Box::pin(self.run_once(kind))
    }
}
