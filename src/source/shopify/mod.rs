//! Shopify Admin GraphQL source: the client (auth, cost-based throttle,
//! retries), typed catalog reads, bulk full sync and the mapping of wire
//! types to domain types.
//!
//! Nothing outside this module sees Shopify's wire types: operations return
//! `crate::domain` types or [`ShopifyError`]. Callers never rate-limit or
//! retry by hand.
//!
//! - `client.rs`: settings, HTTP, retry policy; `auth.rs`: tokens;
//!   `throttle.rs`: the governor-based cost limiter and [`ThrottleStats`].
//! - `catalog.rs`: shop facts, publication lookup, incremental paging
//!   ([`ProductsPager`]); `paging.rs`: page sizing against the cost target.
//! - `bulk.rs`: bulk operation, streamed JSONL into a scratch area,
//!   [`assemble_bulk_products`].
//! - `orders.rs`: checkout quotes (`draftOrderCalculate`), order write-back
//!   (`orderCreate`, never resent once it may have run) and lookup by
//!   checkout tag; `orders_map.rs`: their pure mapping.
//! - `gql.rs`: `graphql_client` derives; `wire.rs` and `map.rs`: wire shapes
//!   and their pure mapping to the domain.

mod auth;
mod bulk;
mod catalog;
mod client;
mod error;
mod gql;
mod map;
mod order_changes;
mod orders;
mod orders_map;
mod paging;
mod throttle;
mod webhooks;
mod wire;

#[cfg(test)]
mod tests;

pub use auth::ShopifyAuth;
pub use bulk::{
    AssembleReport, BulkOutcome, BulkPhase, BulkProgress, assemble_bulk_products,
    assemble_bulk_products_on,
};
pub use catalog::{
    MAX_IDS_PER_QUERY, ProductsPageResult, ProductsPager, ids_query, updated_since_query,
};
pub use client::{
    ClientTimings, DEFAULT_API_VERSION, DEFAULT_QUERY_COST_TARGET, ShopifyClient,
    ShopifyClientSettings,
};
pub use error::{MapError, ShopifyError, UserError};
pub use gql::bulk_products_query;
pub use map::{gid_parts, numeric_id};
pub use order_changes::{ChangedOrder, ChangedOrders};
pub use orders::{
    AddressField, CreatedOrder, OrderRequest, PaymentKind, PaymentRecord, PaymentStatus,
    QuoteOutcome, QuoteProblem, QuoteProblemKind, QuoteRequest,
};
pub use orders_map::{ACP_ORDER_TAG, AUTOMATIC_DISCOUNT_CODE, CHECKOUT_ATTRIBUTE, checkout_tag};
pub use throttle::{QueryCost, ThrottleStats, ThrottleStatus};
pub use webhooks::{CATALOG_TOPICS, ORDER_TOPICS, Registration, WebhookSubscriptionTopic};
