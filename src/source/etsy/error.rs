//! `EtsyError`: what can go wrong talking to Etsy, from the caller's point
//! of view, with [`EtsyError::is_retryable`]. No variant carries a token or
//! the shared secret.

use chrono::{DateTime, Utc};

use crate::domain::MoneyError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EtsyError {
    /// The settings cannot produce a usable client.
    #[error("invalid Etsy client settings: {reason}")]
    InvalidSettings { reason: String },

    /// Connection, TLS, timeout or body-read failure.
    #[error("request to Etsy ({operation}) failed")]
    Transport {
        operation: &'static str,
        #[source]
        source: reqwest::Error,
    },

    /// Etsy refused the app key (`x-api-key`), HTTP 403.
    #[error("Etsy refused the app key for {operation}: {message}")]
    ApiKey {
        operation: &'static str,
        message: String,
    },

    /// A non-success status with Etsy's `{"error": …}` message.
    #[error("Etsy answered HTTP {status} to {operation}: {message}")]
    Http {
        operation: &'static str,
        status: u16,
        message: String,
    },

    /// The access token was refused and renewing it did not help.
    #[error("Etsy refused the access token for {operation}: {message}")]
    Unauthorized {
        operation: &'static str,
        message: String,
    },

    /// The shop has no tokens yet.
    #[error("shop {shop} is not connected to Etsy; run `acp-bridge etsy login --shop {shop}`")]
    NotLoggedIn { shop: String },

    /// Etsy refused the refresh token (revoked, expired or already used).
    #[error(
        "Etsy refused the refresh token of shop {shop} ({message}); run `acp-bridge etsy login --shop {shop}`"
    )]
    RefreshRejected { shop: String, message: String },

    /// The token endpoint refused an authorization code.
    #[error("Etsy refused the authorization code: {message}")]
    CodeRejected { message: String },

    /// The app's daily quota is used up; nothing is sent until `until`.
    #[error("daily quota exhausted until {}", until.format("%Y-%m-%d %H:%M:%S UTC"))]
    QuotaExhausted { until: DateTime<Utc> },

    /// Still rate limited (HTTP 429) when the retry budget ran out.
    #[error("Etsy kept rate limiting {operation} after {attempts} attempts")]
    RateLimited {
        operation: &'static str,
        attempts: u32,
    },

    /// The body was not the JSON the operation expects.
    #[error("could not decode the Etsy {operation} response")]
    Decode {
        operation: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// The tokens belong to another Etsy shop than the configured one.
    #[error(
        "the Etsy account that approved the app owns shop {actual}, not the configured shop {expected}"
    )]
    WrongShop { expected: u64, actual: String },

    /// An Etsy price that minor units cannot represent exactly.
    #[error(
        "listing {listing_id}: price {amount}/{divisor} {currency} cannot be converted exactly"
    )]
    Price {
        listing_id: u64,
        amount: i64,
        divisor: i64,
        currency: String,
        #[source]
        source: MoneyError,
    },

    /// Token or state persistence failed.
    #[error("Etsy token store failed")]
    Store(#[from] StoreError),
}

impl EtsyError {
    /// Whether trying again later may succeed without operator action.
    pub fn is_retryable(&self) -> bool {
        match self {
            EtsyError::Transport { .. }
            | EtsyError::RateLimited { .. }
            | EtsyError::QuotaExhausted { .. } => true,
            EtsyError::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }
}
