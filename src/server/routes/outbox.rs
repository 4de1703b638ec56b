//! `/admin/shops/{shop}/outbox…`: the order-event outbox for the CLI while
//! the daemon holds the store (list, retry, drop). Loopback admin API only.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::orders::admin::{self, OutboxEventView};
use crate::server::{ApiError, ServerState};

/// `GET /admin/shops/{shop}/outbox`: undelivered events, oldest first.
pub async fn list(
    State(state): State<ServerState>,
    Path(shop): Path<String>,
) -> Result<Json<Vec<OutboxEventView>>, ApiError> {
    let entry = state.shop(&shop)?;
    let store = state.store.clone();
    let id = entry.id.clone();
    let events = crate::telemetry::spawn_blocking_in_span(move || admin::list(&store, &id))
        .await
        .map_err(|e| ApiError::Internal(format!("listing the outbox panicked: {e}")))??;
    Ok(Json(events))
}

/// `POST /admin/shops/{shop}/outbox/{id}/retry`: due now, fresh attempts.
pub async fn retry(
    State(state): State<ServerState>,
    Path((shop, id)): Path<(String, u64)>,
) -> Result<Json<Value>, ApiError> {
    let entry = state.shop(&shop)?;
    if !admin::retry(&state.store, &entry.id, id)? {
        return Err(no_event(&shop, id));
    }
    if let Some(checkout) = state.checkout.get(&shop) {
        checkout.service.order_events().wake();
    }
    Ok(Json(json!({"id": id, "retried": true})))
}

/// `DELETE /admin/shops/{shop}/outbox/{id}`: forget the event undelivered.
pub async fn drop_event(
    State(state): State<ServerState>,
    Path((shop, id)): Path<(String, u64)>,
) -> Result<Json<Value>, ApiError> {
    let entry = state.shop(&shop)?;
    if !admin::drop_event(&state.store, &entry.id, id)? {
        return Err(no_event(&shop, id));
    }
    Ok(Json(json!({"id": id, "dropped": true})))
}

fn no_event(shop: &str, id: u64) -> ApiError {
    ApiError::NotFound(format!("shop `{shop}` has no undelivered order event {id}"))
}
