//! Protocol-level ACP errors: the flat `{type, code, message, param}` body
//! sent with a 4xx/5xx when no valid session can be returned. Business
//! problems (out of stock, bad address, declined card) are not errors: they
//! go back as session `messages` on a 2xx (see [`super::model::Message`]).
//!
//! Owns the HTTP status, the ACP error type and code of each case and the
//! per-version rendering. Knows nothing about axum.

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::model::SessionStatus;
use super::version::{ApiVersion, VersionError};

/// The ACP error `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Malformed request, missing fields, idempotency violations.
    InvalidRequest,
    /// Only in 2025-09-29; rendered as `invalid_request` in later versions.
    RequestNotIdempotent,
    /// Unexpected server-side failure.
    ProcessingError,
    /// Temporary unavailability (upstream down, rate limited).
    ServiceUnavailable,
}

impl ErrorKind {
    /// The wire value in `version` (`request_not_idempotent` does not exist
    /// after 2025-09-29).
    pub fn as_str(self, version: ApiVersion) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::RequestNotIdempotent if version == ApiVersion::V2025_09_29 => {
                "request_not_idempotent"
            }
            ErrorKind::RequestNotIdempotent => "invalid_request",
            ErrorKind::ProcessingError => "processing_error",
            ErrorKind::ServiceUnavailable => "service_unavailable",
        }
    }
}

/// A protocol error ready to be sent: status, ACP type and code, a message
/// for the agent, and where in the request body the problem is.
///
/// `message` may quote parts of the request body (serde's wording for a
/// wrong value): send it to the client, but log `code` and `param` only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AcpError {
    /// HTTP status of the response.
    pub status: StatusCode,
    pub kind: ErrorKind,
    /// Implementation-defined code (`missing_field`, `idempotency_conflict`…).
    pub code: Cow<'static, str>,
    pub message: String,
    /// RFC 9535 JSONPath into the request body, e.g. `$.line_items[0].quantity`.
    pub param: Option<String>,
    /// Versions to advertise; non-empty only on version errors.
    pub supported_versions: Vec<ApiVersion>,
    /// Seconds for a `Retry-After` header (in-flight, rate limited, 503).
    pub retry_after_secs: Option<u32>,
}

impl fmt::Display for AcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code, self.status.as_u16())?;
        if let Some(param) = &self.param {
            write!(f, " at {param}")?;
        }
        Ok(())
    }
}

impl AcpError {
    /// A general error with every field given.
    pub fn new(
        status: StatusCode,
        kind: ErrorKind,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        AcpError {
            status,
            kind,
            code: code.into(),
            message: message.into(),
            param: None,
            supported_versions: Vec::new(),
            retry_after_secs: None,
        }
    }

    /// Sets the JSONPath of the offending request field.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// 400 `invalid_request` with a caller-chosen code (e.g. `invalid_item_id`).
    pub fn invalid_request(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        AcpError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidRequest,
            code,
            message,
        )
    }

    /// 400 `item_not_purchasable` at `param`: the item is an Etsy listing.
    /// Etsy has no API through which another channel can create an order,
    /// so Etsy items are bought on Etsy, at the listing page the feed links.
    pub fn etsy_item(param: impl Into<String>, item_id: &str) -> Self {
        AcpError::invalid_request(
            "item_not_purchasable",
            format!(
                "Item {item_id} is an Etsy listing and cannot be bought through this checkout: \
                 Etsy accepts orders only on etsy.com. Send the buyer to the item's url from the feed."
            ),
        )
        .with_param(param)
    }

    /// 400 `invalid_json`: the body is not JSON (or is empty).
    pub fn invalid_json(message: impl Into<String>) -> Self {
        AcpError::invalid_request("invalid_json", message)
    }

    /// 400 `missing_field` at `param`.
    pub fn missing_field(param: impl Into<String>) -> Self {
        let param = param.into();
        AcpError::invalid_request("missing_field", format!("{param} is required")).with_param(param)
    }

    /// 400 `invalid_field`: the value at `param` has the wrong type or value.
    pub fn invalid_field(param: impl Into<String>, message: impl Into<String>) -> Self {
        AcpError::invalid_request("invalid_field", message).with_param(param)
    }

    /// 404 `not_found`: no such checkout session for this shop.
    pub fn session_not_found() -> Self {
        AcpError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::InvalidRequest,
            "not_found",
            "checkout session not found",
        )
    }

    /// 405 for cancel, complete or update of a session that is already
    /// completed, canceled or expired.
    pub fn session_not_modifiable(status: SessionStatus) -> Self {
        AcpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::InvalidRequest,
            "session_not_modifiable",
            format!("checkout session is {}", status.describe()),
        )
    }

    /// 401 `unauthorized`: missing or wrong bearer key.
    pub fn unauthorized() -> Self {
        AcpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::InvalidRequest,
            "unauthorized",
            "missing or invalid API key",
        )
    }

    /// 415 `unsupported_media_type`: a body that is not `application/json`.
    pub fn unsupported_media_type() -> Self {
        AcpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::InvalidRequest,
            "unsupported_media_type",
            "request body must be application/json",
        )
    }

    /// 413 `request_too_large`: the body exceeds `limit_bytes`.
    pub fn body_too_large(limit_bytes: usize) -> Self {
        AcpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::InvalidRequest,
            "request_too_large",
            format!("request body exceeds {limit_bytes} bytes"),
        )
    }

    /// 400 `idempotency_key_required` (every POST in 2026-04-17).
    pub fn idempotency_key_required() -> Self {
        AcpError::invalid_request(
            "idempotency_key_required",
            "Idempotency-Key header is required",
        )
    }

    /// 400 `invalid_idempotency_key`: not 1–255 characters.
    pub fn idempotency_key_invalid() -> Self {
        AcpError::invalid_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 characters",
        )
    }

    /// The same key was used with a different body: 422 in 2026-04-17,
    /// 409 in 2025-09-29.
    pub fn idempotency_conflict(version: ApiVersion) -> Self {
        let status = match version {
            ApiVersion::V2025_09_29 => StatusCode::CONFLICT,
            ApiVersion::V2026_04_17 => StatusCode::UNPROCESSABLE_ENTITY,
        };
        AcpError::new(
            status,
            ErrorKind::InvalidRequest,
            "idempotency_conflict",
            "Idempotency-Key has already been used with a different request body",
        )
    }

    /// 409 `idempotency_in_flight`: the first request with this key is still
    /// running; the route must send `Retry-After`.
    pub fn idempotency_in_flight(retry_after_secs: u32) -> Self {
        let mut err = AcpError::new(
            StatusCode::CONFLICT,
            ErrorKind::InvalidRequest,
            "idempotency_in_flight",
            "A request with this Idempotency-Key is currently being processed",
        );
        err.retry_after_secs = Some(retry_after_secs);
        err
    }

    /// 429 `rate_limit_exceeded`. Typed `service_unavailable`, the only
    /// checkout error type that tells the agent to retry later.
    pub fn rate_limited(retry_after_secs: u32) -> Self {
        let mut err = AcpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::ServiceUnavailable,
            "rate_limit_exceeded",
            "too many requests; retry later",
        );
        err.retry_after_secs = Some(retry_after_secs);
        err
    }

    /// 400 `requires_3ds`: complete without `authentication_result` while the
    /// session waits for 3-D Secure.
    pub fn requires_authentication() -> Self {
        AcpError::invalid_request(
            "requires_3ds",
            "This checkout session requires issuer authentication; include authentication_result",
        )
        .with_param("$.authentication_result")
    }

    /// 500 `internal_error`. Never carries the internal cause.
    pub fn internal() -> Self {
        AcpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::ProcessingError,
            "internal_error",
            "the request could not be processed",
        )
    }

    /// 503 `upstream_unavailable`: the shop platform or the PSP did not answer.
    pub fn upstream_unavailable(retry_after_secs: Option<u32>) -> Self {
        let mut err = AcpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::ServiceUnavailable,
            "upstream_unavailable",
            "a service the checkout depends on is unavailable; retry later",
        );
        err.retry_after_secs = retry_after_secs;
        err
    }

    /// The body for `version`: valid against that version's `Error` schema.
    /// `supported_versions` (newest first, as the 2026-04-17 schema orders
    /// it) appears only where the version defines it.
    pub fn render(&self, version: ApiVersion) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), json!(self.kind.as_str(version)));
        body.insert("code".into(), json!(self.code));
        body.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            body.insert("param".into(), json!(param));
        }
        if version >= ApiVersion::V2026_04_17 && !self.supported_versions.is_empty() {
            let newest_first: Vec<&str> = self
                .supported_versions
                .iter()
                .rev()
                .map(|v| v.as_str())
                .collect();
            body.insert("supported_versions".into(), json!(newest_first));
        }
        Value::Object(body)
    }

    /// The body when the request named no usable version (version errors):
    /// rendered in the latest version, the only one with `supported_versions`.
    pub fn render_unversioned(&self) -> Value {
        self.render(ApiVersion::LATEST)
    }
}

impl From<VersionError> for AcpError {
    fn from(err: VersionError) -> Self {
        let mut out = AcpError::invalid_request(err.code(), err.to_string());
        out.supported_versions = ApiVersion::SUPPORTED.to_vec();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_errors_list_supported_versions_newest_first() {
        let err = AcpError::from(VersionError::Unsupported("2026-01-30".into()));
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let body = err.render_unversioned();
        assert_eq!(body["code"], "unsupported_api_version");
        assert_eq!(body["type"], "invalid_request");
        assert_eq!(
            body["supported_versions"],
            json!(["2026-04-17", "2025-09-29"])
        );
        // 2025-09-29's Error has no such field.
        assert!(
            err.render(ApiVersion::V2025_09_29)
                .get("supported_versions")
                .is_none()
        );
    }

    #[test]
    fn idempotency_conflict_status_depends_on_version() {
        assert_eq!(
            AcpError::idempotency_conflict(ApiVersion::V2026_04_17).status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            AcpError::idempotency_conflict(ApiVersion::V2025_09_29).status,
            StatusCode::CONFLICT
        );
    }

    #[test]
    fn request_not_idempotent_exists_only_in_the_launch_version() {
        let err = AcpError::new(
            StatusCode::CONFLICT,
            ErrorKind::RequestNotIdempotent,
            "idempotency_conflict",
            "x",
        );
        assert_eq!(
            err.render(ApiVersion::V2025_09_29)["type"],
            "request_not_idempotent"
        );
        assert_eq!(
            err.render(ApiVersion::V2026_04_17)["type"],
            "invalid_request"
        );
    }

    #[test]
    fn retryable_errors_carry_retry_after() {
        assert_eq!(AcpError::idempotency_in_flight(2).retry_after_secs, Some(2));
        assert_eq!(AcpError::rate_limited(5).retry_after_secs, Some(5));
        assert_eq!(
            AcpError::rate_limited(5).status,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(AcpError::internal().retry_after_secs, None);
    }

    #[test]
    fn param_is_rendered_only_when_present() {
        let err = AcpError::missing_field("$.items[0].id");
        let body = err.render(ApiVersion::V2025_09_29);
        assert_eq!(body["param"], "$.items[0].id");
        assert!(AcpError::internal().render(ApiVersion::V2025_09_29)["param"].is_null());
    }
}
