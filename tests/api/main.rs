//! API-level integration tests: one test binary, one module per area.

mod checkout;
mod checkout_conformance;
mod checkout_discovery;
mod checkout_faults;
mod checkout_reads;
mod checkout_support;
mod cli;
mod delivery;
mod etsy;
mod feed_api;
mod feed_reuse;
mod helpers;
mod http;
mod lifecycle;
mod order_webhooks;
mod reconcile;
mod resilience;
mod schema;
mod sftp;
mod shopify_webhooks;
mod sync;
