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

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the global Prometheus recorder once per process and returns its
/// handle (None if another recorder was installed first).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}
