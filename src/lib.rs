//! acp-bridge: connects Shopify (and Etsy) shops to AI shopping agents through
//! the Agentic Commerce Protocol.
//!
//! Map of the crate (dependencies point downwards in this list):
//!
//! - [`domain`]: typed core: `Money`, `Product`, `Variant`, `ShopFacts`.
//! - [`store`]: the only module that touches sled: catalog, sync state, feed
//!   generations, scratch space for bulk imports.
//! - [`source`]: catalog sources; [`source::shopify`] talks to the Shopify
//!   Admin GraphQL API (auth, cost-based throttle, bulk operations).
//! - [`checkout`]: ACP checkout sessions: model, wire versions, service.
//! - [`payment`]: payment providers (Stripe shared payment tokens).
//! - [`orders`]: orders after checkout: their durable state and the signed
//!   order webhooks delivered to agents from an outbox in the store.
//! - [`feed`]: turns domain products into validated ACP/OpenAI feed rows and
//!   encodes them.
//! - [`sync`]: one sync run of one shop: source → store → feed generation.
//! - [`delivery`]: pushes a published feed out: snapshot shards in OpenAI's
//!   file-upload formats, uploaded over SFTP.
//! - [`scheduler`]: cron and interval schedules per shop, no overlapping runs,
//!   backoff on failure, run-now commands.
//! - [`server`]: the HTTP surface (feeds, health, admin, metrics).
//! - [`app`]: composition root: builds everything, owns every task, shuts down
//!   in order.
//! - [`emulator`]: faithful stand-ins for the upstream services (the Shopify
//!   Admin API), used by tests, benchmarks and `acp-bridge demo`.
#![forbid(unsafe_code)]

pub mod app;
pub mod checkout;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod emulator;
pub mod feed;
pub mod metrics;
pub mod orders;
pub mod payment;
pub mod scheduler;
pub mod server;
pub mod source;
pub mod status;
pub mod store;
pub mod sync;
pub mod telemetry;
