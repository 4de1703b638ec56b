//! `/healthz` (the process answers) and `/readyz` (every enabled shop has a
//! published feed or a recorded error).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::server::{ApiError, ServerState};
use crate::status::shop_is_ready;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(
    State(state): State<ServerState>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let mut waiting = Vec::new();
    for entry in state.shops.values().filter(|e| e.enabled) {
        if !shop_is_ready(&state.store, &entry.id)? {
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
