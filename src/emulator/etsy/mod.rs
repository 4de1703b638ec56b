//! A faithful emulator of the parts of the Etsy Open API v3 the bridge
//! uses, for one shop: the OAuth consent page and token endpoint (PKCE S256
//! only, single-use codes, refresh-token rotation), `getMe`, `getShop`,
//! `getShopReturnPolicies`, `getListingsByShop` (with `includes`),
//! `getListingsByListingIds`, `getListingInventory` and `getListingImages`.
//!
//! It enforces what Etsy enforces: `x-api-key: keystring:shared_secret` on
//! every `/v3/application` call (403 otherwise), bearer tokens of the form
//! `{user_id}.{token}` with scopes and a one-hour lifetime (401), the shop
//! owner for private shop data, parameter ranges (400), and the app's
//! per-second and rolling daily quotas with Etsy's headers
//! (`x-limit-per-second`, `x-remaining-this-second`, `x-limit-per-day`,
//! `x-remaining-today`; 429 with `Retry-After` and no limit headers).
//! Errors are `{"error": …}` bodies (`error_description` too on OAuth).
//! Like Etsy, every inventory change issues new product and offering ids.
//!
//! The consent step has no login page: with
//! [`EtsyEmulatorConfig::auto_approve`] `/oauth/connect` redirects straight
//! to the `redirect_uri` with a code and the `state`, so tests and the demo
//! can complete the flow programmatically; without it the page says that
//! approval is pending and nothing is issued.
//!
//! Not a general Etsy: writes, receipts and other endpoints do not exist.

mod data;
mod routes;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use data::{
    EtsyShopData, Image, InventoryProduct, Listing, ListingState, Offering, PropertyValue,
    ReturnPolicy,
};

/// Configuration of the emulated app and shop.
#[derive(Clone)]
pub struct EtsyEmulatorConfig {
    /// The app's keystring (OAuth `client_id`).
    pub keystring: String,
    /// The app's shared secret. Never logged.
    pub shared_secret: String,
    /// Registered redirect URIs (exact match, as Etsy requires).
    pub redirect_uris: Vec<String>,
    /// Approve every consent request at once (see module docs).
    pub auto_approve: bool,
    /// Requests per second per app (Etsy's historic default: 10).
    pub per_second: u32,
    /// Requests per rolling day per app (historic default: 10,000).
    pub per_day: u32,
    /// Length of the rolling day (24 h; tests shorten it).
    pub day_window: Duration,
    /// The day is made of this many buckets that free as they age out.
    pub day_buckets: u32,
    /// Access token lifetime (Etsy: one hour).
    pub access_token_lifetime: Duration,
    pub data: EtsyShopData,
}

impl std::fmt::Debug for EtsyEmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtsyEmulatorConfig")
            .field("keystring", &self.keystring)
            .field("shared_secret", &"[redacted]")
            .field("redirect_uris", &self.redirect_uris)
            .field("auto_approve", &self.auto_approve)
            .field("per_second", &self.per_second)
            .field("per_day", &self.per_day)
            .finish_non_exhaustive()
    }
}

impl EtsyEmulatorConfig {
    pub const DEFAULT_KEYSTRING: &'static str = "emuketsykeystring0000000";
    pub const DEFAULT_SHARED_SECRET: &'static str = "emuetsysharedsecret";

    /// The sample shop with default credentials and Etsy's historic limits.
    pub fn with_data(data: EtsyShopData) -> Self {
        EtsyEmulatorConfig {
            keystring: Self::DEFAULT_KEYSTRING.into(),
            shared_secret: Self::DEFAULT_SHARED_SECRET.into(),
            redirect_uris: Vec::new(),
            auto_approve: false,
            per_second: 10,
            per_day: 10_000,
            day_window: Duration::from_secs(24 * 3600),
            day_buckets: 12,
            access_token_lifetime: Duration::from_secs(3600),
            data,
        }
    }
}

impl Default for EtsyEmulatorConfig {
    fn default() -> Self {
        Self::with_data(EtsyShopData::sample())
    }
}

/// Request counts, for tests that check how many calls a sync made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EtsyCounters {
    /// `/v3/application` requests admitted by the quota.
    pub api_requests: u64,
    /// Requests refused with 429.
    pub rate_limited: u64,
    pub code_exchanges: u64,
    pub refreshes: u64,
    /// Token requests refused (bad code, verifier or refresh token).
    pub token_refusals: u64,
}

struct Grant {
    challenge: String,
    redirect_uri: String,
    scopes: Vec<String>,
    expires: Instant,
}

struct AccessToken {
    user_id: u64,
    scopes: Vec<String>,
    expires: Instant,
}

struct Quota {
    second_start: Option<Instant>,
    second_used: u32,
    /// (bucket start, requests) within the rolling day, oldest first.
    day: VecDeque<(Instant, u32)>,
}

struct State {
    data: EtsyShopData,
    grants: HashMap<String, Grant>,
    access: HashMap<String, AccessToken>,
    /// refresh token → (user id, scopes)
    refresh: HashMap<String, (u64, Vec<String>)>,
    quota: Quota,
    counters: EtsyCounters,
    next_id: u64,
    per_day: u32,
}

struct Inner {
    config: EtsyEmulatorConfig,
    state: Mutex<State>,
}

/// The emulator. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct EtsyEmulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EtsyEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtsyEmulator")
            .field("shop_id", &self.shop_id())
            .finish_non_exhaustive()
    }
}

/// Why an emulator helper failed.
#[derive(Debug, thiserror::Error)]
pub enum EtsyEmulatorError {
    #[error("the emulated shop has no listing {0}")]
    UnknownListing(u64),
    #[error("listing {0} has no product {1}")]
    UnknownProduct(u64, usize),
}

impl EtsyEmulator {
    pub fn new(config: EtsyEmulatorConfig) -> Self {
        let state = State {
            data: config.data.clone(),
            grants: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            quota: Quota {
                second_start: None,
                second_used: 0,
                day: VecDeque::new(),
            },
            counters: EtsyCounters::default(),
            next_id: 9_000_000_000,
            per_day: config.per_day,
        };
        EtsyEmulator {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(state),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The routes, to mount anywhere (`/oauth/connect`, `/v3/...`).
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone())
    }

    pub fn config(&self) -> &EtsyEmulatorConfig {
        &self.inner.config
    }

    pub fn shop_id(&self) -> u64 {
        self.lock().data.shop_id
    }

    pub fn counters(&self) -> EtsyCounters {
        self.lock().counters
    }

    /// Active listings (what the feed should show).
    pub fn active_listings(&self) -> Vec<Listing> {
        self.lock()
            .data
            .listings
            .iter()
            .filter(|l| l.state == ListingState::Active)
            .cloned()
            .collect()
    }

    pub fn listing(&self, id: u64) -> Option<Listing> {
        self.lock()
            .data
            .listings
            .iter()
            .find(|l| l.listing_id == id)
            .cloned()
    }

    /// Changes a listing as the seller would; bumps its modification time
    /// past every other listing's.
    ///
    /// # Errors
    /// Unknown listing.
    pub fn update_listing(
        &self,
        id: u64,
        change: impl FnOnce(&mut Listing),
    ) -> Result<(), EtsyEmulatorError> {
        let mut s = self.lock();
        let latest = s
            .data
            .listings
            .iter()
            .map(|l| l.modified)
            .max()
            .unwrap_or(0);
        let listing = s
            .data
            .listings
            .iter_mut()
            .find(|l| l.listing_id == id)
            .ok_or(EtsyEmulatorError::UnknownListing(id))?;
        change(listing);
        listing.modified = latest.max(now_secs()) + 1;
        Ok(())
    }

    /// Sets one product's stock the way `updateListingInventory` does: the
    /// whole inventory gets new product and offering ids.
    ///
    /// # Errors
    /// Unknown listing or product index.
    pub fn set_quantity(
        &self,
        listing_id: u64,
        product: usize,
        quantity: i64,
    ) -> Result<(), EtsyEmulatorError> {
        let mut next = {
            let mut s = self.lock();
            let start = s.next_id;
            s.next_id += 1_000;
            start
        };
        let mut missing = false;
        self.update_listing(listing_id, |l| {
            match l.products.get_mut(product) {
                Some(p) => {
                    for o in &mut p.offerings {
                        o.quantity = quantity;
                    }
                }
                None => missing = true,
            }
            for p in &mut l.products {
                next += 1;
                p.product_id = next;
                for o in &mut p.offerings {
                    next += 1;
                    o.offering_id = next;
                }
            }
        })?;
        if missing {
            return Err(EtsyEmulatorError::UnknownProduct(listing_id, product));
        }
        Ok(())
    }

    /// Frees the whole rolling day (as if a day had passed).
    pub fn reset_daily_quota(&self) {
        self.lock().quota.day.clear();
    }

    /// Changes the app's daily limit.
    pub fn set_daily_limit(&self, per_day: u32) {
        self.lock().per_day = per_day;
    }

    /// Expires every access token now (as if an hour had passed).
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for t in self.lock().access.values_mut() {
            t.expires = now;
        }
    }

    /// Whether `refresh_token` would still be accepted.
    pub fn refresh_token_valid(&self, refresh_token: &str) -> bool {
        self.lock().refresh.contains_key(refresh_token)
    }
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Serves the emulator on `listener` until `shutdown` completes.
///
/// # Errors
/// The server failed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    emulator: EtsyEmulator,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, emulator.router())
        .with_graceful_shutdown(shutdown)
        .await
}
