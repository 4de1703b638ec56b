//! Faithful stand-ins for upstream services, used by integration tests,
//! benchmarks and `acp-bridge demo`.
//!
//! Each emulator enforces what the real service enforces (auth, validation,
//! rate limits, pagination and bulk rules) and offers fault injection; none
//! of them is used by the daemon in production.
//!
//! - [`feed_api`]: an agent-hosted ACP Product Feed API (2026-04-17).
//! - [`etsy`]: the Etsy Open API v3 parts the catalog source uses (OAuth
//!   with PKCE, listings, inventory, quotas) for one shop.
//! - [`shopify`]: the Shopify Admin GraphQL API of one shop.
//! - [`stripe`]: the Stripe API parts checkout uses (shared payment tokens,
//!   PaymentIntents, refunds).
pub mod etsy;
pub mod feed_api;
pub mod shopify;
pub mod stripe;
