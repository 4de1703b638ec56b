//! Metric names (defined once, here) and the Prometheus recorder.
//!
//! Counters end in `_total`, durations in `_seconds`; label values come from
//! small fixed sets (shop id, job kind, outcome).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Sync runs by shop, kind (`full`/`incremental`) and outcome (`ok`/`error`).
pub const SYNC_RUNS_TOTAL: &str = "acp_bridge_sync_runs_total";
/// Duration of sync runs by shop and kind.
pub const SYNC_DURATION_SECONDS: &str = "acp_bridge_sync_duration_seconds";
/// Products written by sync runs, by shop and kind.
pub const SYNC_PRODUCTS_TOTAL: &str = "acp_bridge_sync_products_total";
/// Valid rows of the published feed, by shop.
pub const FEED_ROWS_VALID: &str = "acp_bridge_feed_rows_valid";
/// Rows left out of the published feed as invalid, by shop.
pub const FEED_ROWS_INVALID: &str = "acp_bridge_feed_rows_invalid";
/// Unix time the published feed was built, by shop (feed age = now - this).
pub const FEED_BUILT_TIMESTAMP_SECONDS: &str = "acp_bridge_feed_built_timestamp_seconds";
/// Feed generations built, by shop and outcome (`published`/`held`/`unchanged`).
pub const FEED_GENERATIONS_TOTAL: &str = "acp_bridge_feed_generations_total";
/// Duration of feed builds, by shop.
pub const FEED_BUILD_SECONDS: &str = "acp_bridge_feed_build_seconds";
/// HTTP requests served, by route template and status class.
pub const HTTP_REQUESTS_TOTAL: &str = "acp_bridge_http_requests_total";
/// Shopify webhook deliveries received, by shop, topic and outcome
/// (`queued`, `duplicate`, `bad_signature`, `bad_request`, `error`).
pub const SHOPIFY_WEBHOOKS_TOTAL: &str = "acp_bridge_shopify_webhooks_total";
/// Shopify webhook deliveries waiting to be processed, by shop.
pub const SHOPIFY_WEBHOOK_BACKLOG: &str = "acp_bridge_shopify_webhook_backlog";

// Shopify client. Labels: `operation` (a GraphQL operation name from
// `queries/shopify/`), `outcome` and `reason` (see each constant).

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

// ACP checkout. Labels: `shop`, `operation` (`create`, `update`, `get`,
// `complete`, `cancel`) and `status` (HTTP status code).

/// Counter: checkout API requests by `shop`, `operation`, `status` and
/// `replayed` (`true` for idempotent replays).
pub const CHECKOUT_REQUESTS_TOTAL: &str = "acp_bridge_checkout_requests_total";

/// Histogram: checkout API request duration by `shop` and `operation`.
pub const CHECKOUT_REQUEST_DURATION_SECONDS: &str = "acp_bridge_checkout_request_duration_seconds";

/// Counter: complete attempts by `shop` and `outcome` (`completed`,
/// `declined`, `out_of_stock`, `repriced`, `not_ready`, `upstream_error`).
pub const CHECKOUT_COMPLETIONS_TOTAL: &str = "acp_bridge_checkout_completions_total";

/// Counter: authorizations released because no order could be created.
pub const CHECKOUT_VOIDS_TOTAL: &str = "acp_bridge_checkout_voids_total";

/// Counter: captures that failed after the order was created (the order
/// stands; reconcile the authorization).
pub const CHECKOUT_CAPTURE_FAILURES_TOTAL: &str = "acp_bridge_checkout_capture_failures_total";

// Order webhooks (see `orders::delivery`). Label: `shop`.

/// Counter: order-webhook delivery attempts by `shop` and `outcome`
/// (`delivered`, `retry`: failed and rescheduled, `dead`: failed for the
/// last time, `gone`: dropped while in flight).
pub const ORDER_WEBHOOK_DELIVERIES_TOTAL: &str = "acp_bridge_order_webhook_deliveries_total";

/// Histogram: duration of one order-webhook request, by `shop`.
pub const ORDER_WEBHOOK_DELIVERY_DURATION_SECONDS: &str =
    "acp_bridge_order_webhook_delivery_duration_seconds";

/// Gauge: order events waiting for delivery (pending), by `shop`.
pub const ORDER_OUTBOX_PENDING: &str = "acp_bridge_order_outbox_pending";

/// Gauge: order events that gave up (dead; see `acp-bridge outbox`), by `shop`.
pub const ORDER_OUTBOX_DEAD: &str = "acp_bridge_order_outbox_dead";

/// Gauge: age of the oldest pending order event (0 when none), by `shop`.
pub const ORDER_OUTBOX_OLDEST_PENDING_AGE_SECONDS: &str =
    "acp_bridge_order_outbox_oldest_pending_age_seconds";

// Reconciliation (see `orders::reconcile`). Label: `shop`.

/// Counter: reconciliation runs by `shop` and `outcome` (`ok`, `error`: a
/// part of the run could not finish).
pub const RECONCILE_RUNS_TOTAL: &str = "acp_bridge_reconcile_runs_total";

/// Counter: what reconciliation fixed, by `shop` and `action`
/// (`completed`, `released`, `captured`, `voided`, `event_reemitted`,
/// `order_updated`).
pub const RECONCILE_ACTIONS_TOTAL: &str = "acp_bridge_reconcile_actions_total";

/// Gauge: problems the last run found and could not fix, by `shop`.
pub const RECONCILE_UNRESOLVED: &str = "acp_bridge_reconcile_unresolved";

/// Gauge: unix time the last run finished, by `shop`.
pub const RECONCILE_LAST_RUN_TIMESTAMP_SECONDS: &str =
    "acp_bridge_reconcile_last_run_timestamp_seconds";

// Feed delivery (see `delivery::run`). Labels: `shop`, `target`.

/// Counter: delivery attempts by `shop`, `target` and `outcome`
/// (`delivered`, `unchanged`, `no_feed`, `failed`).
pub const DELIVERY_RUNS_TOTAL: &str = "acp_bridge_delivery_runs_total";

/// Counter: bytes sent to a target.
pub const DELIVERY_BYTES_TOTAL: &str = "acp_bridge_delivery_bytes_total";

/// Gauge: failed attempts of a target since its last success.
pub const DELIVERY_CONSECUTIVE_FAILURES: &str = "acp_bridge_delivery_consecutive_failures";

/// Gauge: unix time of a target's last successful (or unchanged)
/// delivery; its age is the feed staleness at the target.
pub const DELIVERY_LAST_SUCCESS_TIMESTAMP_SECONDS: &str =
    "acp_bridge_delivery_last_success_timestamp_seconds";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the global Prometheus recorder once per process and returns its
/// handle (None if another recorder was installed first).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}
