//! The HTTP surface.
//!
//! Two routers: [`public_router`] (feeds, `/healthz`, `/readyz`), bound to
//! the configured public address, and [`admin_router`] (`/metrics` and the
//! admin API the CLI uses while the daemon runs), bound to loopback only.
//! Handlers parse the request, call one function of `store`/`scheduler`, and
//! map the result; nothing here knows about Shopify.

mod error;
mod routes;
mod trace;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;
pub use routes::checkout::CheckoutEntry;

use crate::domain::ShopId;
use crate::scheduler::SchedulerHandle;
use crate::store::Store;

/// What the server knows about one configured shop.
#[derive(Clone)]
pub struct ShopEntry {
    pub id: ShopId,
    pub enabled: bool,
    pub feed_token: Option<SecretString>,
    pub scheduler: Option<SchedulerHandle>,
    /// `{shop}.myshopify.com`: webhooks must name it.
    pub shop_domain: String,
    /// Verifies Shopify webhooks; none means they are refused.
    pub webhook_secret: Option<SecretString>,
}

/// Shared state of both routers.
#[derive(Clone)]
pub struct ServerState {
    pub store: Store,
    pub shops: Arc<BTreeMap<String, ShopEntry>>,
    pub metrics: Option<PrometheusHandle>,
    /// ACP checkout per shop id, for shops that enable it.
    pub checkout: Arc<BTreeMap<String, CheckoutEntry>>,
    /// The daemon's public base URL, when configured.
    pub public_url: Option<url::Url>,
    /// Feed delivery targets by shop id.
    pub deliveries: Arc<BTreeMap<String, Vec<Arc<crate::delivery::run::TargetRunner>>>>,
}

impl ServerState {
    fn shop(&self, id: &str) -> Result<&ShopEntry, ApiError> {
        self.shops
            .get(id)
            .ok_or_else(|| ApiError::NotFound(format!("no shop `{id}`")))
    }
}

/// Feeds and health checks.
pub fn public_router(state: ServerState, request_timeout: Duration) -> Router {
    Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/feeds/{shop}/{file}", get(routes::feed::download))
        .route(
            "/webhooks/shopify/{shop}",
            post(routes::shopify_webhooks::receive),
        )
        .route(
            "/acp/{shop}/checkout_sessions",
            post(routes::checkout::create),
        )
        .route(
            "/acp/{shop}/checkout_sessions/{id}",
            post(routes::checkout::update).get(routes::checkout::get_session),
        )
        .route(
            "/acp/{shop}/checkout_sessions/{id}/complete",
            post(routes::checkout::complete),
        )
        .route(
            "/acp/{shop}/checkout_sessions/{id}/cancel",
            post(routes::checkout::cancel),
        )
        .route(
            "/acp/{shop}/.well-known/acp.json",
            get(routes::checkout::well_known),
        )
        .route(
            "/.well-known/acp.json",
            get(routes::checkout::well_known_by_host),
        )
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(trace::layer())
        .with_state(state)
}

/// Metrics and the admin API; bind to loopback only.
pub fn admin_router(state: ServerState) -> Router {
    Router::new()
        .route("/metrics", get(routes::admin::metrics))
        .route("/admin/status", get(routes::admin::status))
        .route("/admin/shops/{shop}/sync", post(routes::admin::sync))
        .route(
            "/admin/shops/{shop}/reconcile",
            post(routes::admin::reconcile),
        )
        .route("/admin/shops/{shop}/deliver", post(routes::admin::deliver))
        .route(
            "/admin/shops/{shop}/feed/report",
            get(routes::admin::report),
        )
        .route(
            "/admin/shops/{shop}/feed/files/{file}",
            get(routes::admin::download),
        )
        .route("/admin/shops/{shop}/outbox", get(routes::outbox::list))
        .route(
            "/admin/shops/{shop}/outbox/{id}/retry",
            post(routes::outbox::retry),
        )
        .route(
            "/admin/shops/{shop}/outbox/{id}",
            delete(routes::outbox::drop_event),
        )
        .layer(trace::layer())
        .with_state(state)
}
