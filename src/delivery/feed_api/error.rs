//! What can go wrong talking to a feed API host, and the host's error body.

use std::fmt;

use serde::Deserialize;

use super::report::FeedApiReport;

/// The spec's flat error object (`{type, code, message, param?}`), parsed
/// leniently: hosts add codes and types freely.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub param: Option<String>,
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = if self.code.is_empty() {
            "no code"
        } else {
            &self.code
        };
        match &self.param {
            Some(param) => write!(f, "{code} at {param}: {}", self.message),
            None => write!(f, "{code}: {}", self.message),
        }
    }
}

/// Why a feed API call or run failed.
#[derive(Debug, thiserror::Error)]
pub enum FeedApiError {
    #[error("invalid feed API settings: {reason}")]
    InvalidSettings { reason: String },
    /// HTTP 401/403: the key is wrong, revoked or lacks access.
    #[error("the feed API rejected the API key (HTTP {status}): {message}")]
    Unauthorized { status: u16, message: String },
    /// The stored feed id is unknown to the host (deleted, or another
    /// host or key). The caller decides whether to forget it.
    #[error("feed `{feed_id}` does not exist on the feed API: {message}")]
    FeedNotFound { feed_id: String, message: String },
    /// Any other 4xx: the server's own words.
    #[error("the feed API rejected {route} (HTTP {status}, {body})")]
    Rejected {
        route: &'static str,
        status: u16,
        body: Box<ErrorBody>,
    },
    /// An upsert answered 200 with `accepted: false`.
    #[error("the feed API did not accept an upsert to feed `{feed_id}`")]
    NotAccepted { feed_id: String },
    /// 429, 5xx, timeouts or connection failures on every attempt.
    #[error("{route} still failing after {attempts} attempts: {last}")]
    GaveUp {
        route: &'static str,
        attempts: u32,
        last: String,
    },
    /// A request that could not be sent at all (not a transient failure).
    #[error("{route} could not be sent")]
    Transport {
        route: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// A success answer that does not match the spec.
    #[error("unexpected answer to {route}: {reason}")]
    Protocol { route: &'static str, reason: String },
    /// A line of the product input is not an ACP Product.
    #[error("product input line {line}: {reason}")]
    InvalidProduct { line: u64, reason: String },
    #[error("product `{id}` appears more than once in the input")]
    DuplicateProduct { id: String },
    /// The product input could not be read.
    #[error("reading the product input failed: {reason}")]
    Source { reason: String },
}

impl FeedApiError {
    /// Whether running again later may succeed without a change of
    /// configuration or input.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            FeedApiError::GaveUp { .. } | FeedApiError::NotAccepted { .. }
        )
    }

    /// The server's error body, when it sent one.
    pub fn server_error(&self) -> Option<&ErrorBody> {
        match self {
            FeedApiError::Rejected { body, .. } => Some(body),
            _ => None,
        }
    }
}

/// A run that stopped early: what it got done (the state passed to
/// [`super::FeedApiClient::sync`] already holds the acknowledged part) and
/// why it stopped.
#[derive(Debug, thiserror::Error)]
#[error("feed API sync stopped after {} acknowledged batches", report.batches)]
pub struct FeedApiFailure {
    pub report: FeedApiReport,
    #[source]
    pub error: Box<FeedApiError>,
}
