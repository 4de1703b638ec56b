//! `ApiError`: every failure of a handler, rendered in the ACP error shape
//! `{type, code, message}`. Internal causes are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::error;

use crate::store::StoreError;
use crate::telemetry::ErrorChain;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("store failure")]
    Store(#[from] StoreError),
    #[error("internal failure: {0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, code) = match &self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "invalid_request", "not_found"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "invalid_request", "unauthorized"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request", "invalid"),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "unavailable",
            ),
            ApiError::Store(_) | ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "processing_error",
                "internal_error",
            ),
        };
        let message = match &self {
            ApiError::Store(e) => {
                error!(error = %ErrorChain(e), "request failed in the store");
                "internal error".to_owned()
            }
            ApiError::Internal(m) => {
                error!(error = %m, "request failed");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(json!({ "type": kind, "code": code, "message": message })),
        )
            .into_response();
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
