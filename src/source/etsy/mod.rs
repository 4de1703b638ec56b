//! Etsy Open API v3 source: OAuth 2.0 with PKCE and rotating refresh
//! tokens, a per-app limiter for Etsy's per-second and rolling daily quotas,
//! typed catalog reads and the pure mapping of listings to domain products.
//!
//! Nothing outside this module sees Etsy's wire types: operations return
//! `crate::domain` types or [`EtsyError`]. Callers never rate-limit or retry
//! by hand.
//!
//! - `client.rs`: [`EtsyApp`] (one per daemon: HTTP client, app key,
//!   limiter, token endpoint) and [`EtsyShopClient`] (one per shop: tokens,
//!   catalog reads).
//! - `auth.rs`: PKCE pairs, the consent URL and the loopback callback.
//! - `limiter.rs`: [`EtsyLimiter`], shared by every Etsy shop of the daemon.
//! - `wire.rs` and `map.rs`: wire shapes and their pure mapping.
//!
//! Item ids: Etsy issues new `product_id`s and `offering_id`s on every
//! inventory update, so feed item ids are built from the listing id and the
//! property value ids instead (`etsy-{listing}` or
//! `etsy-{listing}-{value}-{value}`), which survive stock and price edits.
//! The `etsy-` prefix keeps them apart from Shopify's numeric ids; see
//! [`is_etsy_item_id`].

mod auth;
mod client;
mod error;
mod limiter;
mod map;
mod wire;

pub use auth::{CallbackError, LoginRequest, Pkce, await_callback, consent_url};
pub use client::{
    CatalogPage, DEFAULT_API_BASE_URL, DEFAULT_CONNECT_URL, DEFAULT_SCOPES, EtsyApp,
    EtsyAppSettings, EtsyShopClient, ListingFilter, PAGE_LIMIT, ReturnTerms, SortOn,
};
pub use error::EtsyError;
pub use limiter::{EtsyLimiter, QuotaSnapshot};
pub use map::{ITEM_ID_PREFIX, is_etsy_item_id, offering_price};
