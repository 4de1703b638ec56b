//! Metric names emitted by the Shopify client, defined once.
//!
//! Labels use small fixed value sets: `operation` (a GraphQL operation name
//! from `queries/shopify/`), `outcome` and `reason` (see each constant).
//! These move to the crate-wide `metrics.rs` later.

/// Counter: requests by `operation` and `outcome` (`ok`, `throttled`,
/// `http_error`, `graphql_error`, `user_errors`, `transport_error`,
/// `decode_error`, `unauthorized`, …).
pub const REQUESTS_TOTAL: &str = "acp_bridge_shopify_requests_total";

/// Histogram: duration of one HTTP round trip, by `operation`.
pub const REQUEST_DURATION_SECONDS: &str = "acp_bridge_shopify_request_duration_seconds";

/// Histogram: time spent waiting for throttle budget before a request or
/// after a THROTTLED response.
pub const THROTTLE_WAIT_SECONDS: &str = "acp_bridge_shopify_throttle_wait_seconds";

/// Counter: responses Shopify marked THROTTLED (or HTTP 429).
pub const THROTTLED_TOTAL: &str = "acp_bridge_shopify_throttled_total";

/// Counter: retries by `reason` (`throttled`, `http_429`, `http_423`,
/// `http_5xx`, `transport`, `graphql_internal`, `unauthorized`).
pub const RETRIES_TOTAL: &str = "acp_bridge_shopify_retries_total";

/// Counter: query cost points, by `kind` (`requested`, `actual`).
pub const QUERY_COST_POINTS_TOTAL: &str = "acp_bridge_shopify_query_cost_points_total";

/// Gauge: `currentlyAvailable` from the last response.
pub const THROTTLE_AVAILABLE_POINTS: &str = "acp_bridge_shopify_throttle_available_points";

/// Counter: client-credentials token requests by `outcome` (`ok`, `error`).
pub const TOKEN_REQUESTS_TOTAL: &str = "acp_bridge_shopify_token_requests_total";

/// Counter: bulk JSONL lines written to scratch.
pub const BULK_LINES_TOTAL: &str = "acp_bridge_shopify_bulk_lines_total";

/// Counter: bulk JSONL bytes downloaded.
pub const BULK_BYTES_TOTAL: &str = "acp_bridge_shopify_bulk_bytes_total";

/// Counter: bulk child lines whose parent never appeared.
pub const BULK_ORPHANS_TOTAL: &str = "acp_bridge_shopify_bulk_orphans_total";
