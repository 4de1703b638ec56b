//! Stripe's error object (`{"error": {type, code, message, param, …}}`) and
//! the HTTP status that carries it.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

/// One error answer, built by validation or execution.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    pub card: Option<Box<CardDetails>>,
}

/// What a `card_error` carries besides the common fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct CardDetails {
    pub decline_code: Option<String>,
    pub charge: Option<String>,
    pub payment_intent: Option<Value>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            code: None,
            message: message.into(),
            param: None,
            card: None,
        }
    }

    /// HTTP 400 `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// HTTP 404 `resource_missing` for `param`.
    pub fn missing(object: &str, id: &str, param: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("No such {object}: '{id}'"),
        )
        .code("resource_missing")
        .param(param)
    }

    /// HTTP 401 with Stripe's authentication message.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
    }

    /// HTTP 402 `card_error`.
    pub fn card(code: &str, decline_code: &str, message: &str) -> Self {
        let mut error = Self::new(StatusCode::PAYMENT_REQUIRED, "card_error", message).code(code);
        error.card = Some(Box::new(CardDetails {
            decline_code: Some(decline_code.to_owned()),
            ..CardDetails::default()
        }));
        error
    }

    /// HTTP 400 `idempotency_error`.
    pub fn idempotency(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "idempotency_error", message)
    }

    /// HTTP 500 `api_error`.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "An unknown error occurred while processing your request.",
        )
    }

    /// HTTP 404 for a path this version does not know.
    pub fn unrecognized_url(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
        )
    }

    /// Sets another status.
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Sets `code`.
    pub fn code(mut self, code: &str) -> Self {
        self.code = Some(code.to_owned());
        self
    }

    /// Sets `param`.
    pub fn param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    /// The body Stripe answers with.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        let card = self.card.as_deref().cloned().unwrap_or_default();
        if let Some(charge) = &card.charge {
            error.insert("charge".into(), json!(charge));
        }
        if let Some(code) = &self.code {
            error.insert("code".into(), json!(code));
            error.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        if let Some(decline_code) = &card.decline_code {
            error.insert("decline_code".into(), json!(decline_code));
        }
        error.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        if let Some(intent) = &card.payment_intent {
            error.insert("payment_intent".into(), intent.clone());
        }
        error.insert("type".into(), json!(self.kind));
        json!({ "error": error })
    }
}
