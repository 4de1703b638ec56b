//! The loopback admin API: status, run-now, feed report and files, metrics.
//! The CLI uses it while the daemon holds the store's lock.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::scheduler::RunSummary;
use crate::server::{ApiError, ServerState};
use crate::status::{ShopStatus, shop_status};
use crate::store::SyncKind;

pub async fn metrics(State(state): State<ServerState>) -> Response {
    match &state.metrics {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4",
            )],
            handle.render(),
        )
            .into_response(),
        None => ApiError::Unavailable("metrics recorder not installed".into()).into_response(),
    }
}

pub async fn status(State(state): State<ServerState>) -> Result<Json<Vec<ShopStatus>>, ApiError> {
    let mut out = Vec::new();
    for entry in state.shops.values() {
        out.push(shop_status(&state.store, &entry.id, entry.enabled)?);
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct SyncQuery {
    #[serde(default)]
    full: bool,
}

pub async fn sync(
    State(state): State<ServerState>,
    Path(shop): Path<String>,
    Query(q): Query<SyncQuery>,
) -> Result<Json<RunSummary>, ApiError> {
    let entry = state.shop(&shop)?;
    let scheduler = entry
        .scheduler
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable(format!("shop `{shop}` is disabled")))?;
    let kind = if q.full {
        SyncKind::Full
    } else {
        SyncKind::Incremental
    };
    // A sync asked for by hand resumes a shop whose app was uninstalled
    // (it fails again if the app is still gone).
    state
        .store
        .update_sync_state(&entry.id, |s| s.uninstalled_at = None)?;
    scheduler
        .run_now(kind)
        .await
        .map(Json)
        .map_err(ApiError::Unavailable)
}

/// Runs the shop's reconciliation now and answers its report.
pub async fn reconcile(
    State(state): State<ServerState>,
    Path(shop): Path<String>,
) -> Result<Json<crate::orders::ReconcileReport>, ApiError> {
    let entry = state
        .checkout
        .get(&shop)
        .ok_or_else(|| ApiError::NotFound(format!("shop `{shop}` has no checkout")))?;
    entry
        .reconciler
        .run_once()
        .await
        .map(Json)
        .map_err(|e| ApiError::Unavailable(format!("reconciliation failed: {e}")))
}

#[derive(Deserialize)]
pub struct DeliverQuery {
    /// Only this target (all of the shop's otherwise).
    target: Option<String>,
    /// Send even an unchanged feed.
    #[serde(default)]
    force: bool,
}

/// Delivers the shop's feed to its targets now and answers the records.
pub async fn deliver(
    State(state): State<ServerState>,
    Path(shop): Path<String>,
    Query(q): Query<DeliverQuery>,
) -> Result<Json<Vec<crate::delivery::run::DeliveryRecord>>, ApiError> {
    state.shop(&shop)?;
    let runners: Vec<_> = state
        .deliveries
        .get(&shop)
        .into_iter()
        .flatten()
        .filter(|r| q.target.as_ref().is_none_or(|t| *t == r.target().id))
        .collect();
    if runners.is_empty() {
        return Err(ApiError::NotFound(match &q.target {
            Some(t) => format!("shop `{shop}` has no delivery target `{t}`"),
            None => format!("shop `{shop}` has no delivery targets"),
        }));
    }
    let mut records = Vec::new();
    for runner in runners {
        records.push(runner.deliver(q.force).await?);
    }
    Ok(Json(records))
}

pub async fn report(
    State(state): State<ServerState>,
    Path(shop): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let entry = state.shop(&shop)?;
    let meta = state.store.feed_meta(&entry.id)?;
    let report = state.store.feed_report(&entry.id)?;
    let held = state.store.held_feed(&entry.id)?;
    Ok(Json(
        json!({ "meta": meta, "report": report, "held": held }),
    ))
}

pub async fn download(
    State(state): State<ServerState>,
    Path((shop, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let entry = state.shop(&shop)?;
    super::feed::serve_artifact(&state, entry, &file, &headers)
}
