//! `/healthz` (the process answers) and `/readyz` (every enabled shop has a
//! published feed or a recorded error).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::server::{ApiError, ServerState};
use crate::status::shop_status;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(
    State(state): State<ServerState>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let mut waiting = Vec::new();
    for entry in state.shops.values().filter(|e| e.enabled) {
        let status = shop_status(&state.store, &entry.id, entry.enabled)?;
        if !status.is_ready() {
            waiting.push(entry.id.to_string());
        }
    }
    if waiting.is_empty() {
        Ok((StatusCode::OK, Json(json!({ "ready": true }))))
    } else {
        Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "waiting_for": waiting })),
        ))
    }
}
