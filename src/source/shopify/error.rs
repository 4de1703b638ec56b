//! `ShopifyError`: everything that can go wrong talking to the Shopify Admin
//! API, from the caller's point of view, with [`ShopifyError::is_retryable`].
//!
//! No variant carries a token, a secret or a signed download URL.

use crate::domain::MoneyError;
use crate::store::StoreError;

/// One entry of a mutation's `userErrors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// Path of the offending input field.
    pub field: Vec<String>,
    /// Shopify's message.
    pub message: String,
    /// Shopify's error code, when given.
    pub code: Option<String>,
}

/// Why a Shopify call failed.
#[derive(Debug, thiserror::Error)]
pub enum ShopifyError {
    /// The settings cannot produce a usable client (bad base URL, TLS setup).
    #[error("invalid Shopify client settings: {reason}")]
    InvalidSettings { reason: String },

    /// The token was rejected (HTTP 401) and could not be renewed, or the
    /// client-credentials grant was refused.
    #[error("Shopify rejected the access token (HTTP 401)")]
    Unauthorized,

    /// The client-credentials token endpoint answered something unusable.
    #[error("the Shopify token endpoint answered HTTP {status}")]
    TokenRequest { status: u16 },

    /// Still throttled when the retry budget ran out.
    #[error("Shopify throttled the request after {attempts} attempts")]
    Throttled { attempts: u32 },

    /// A non-success HTTP status (after retries when it was retryable).
    #[error("Shopify answered HTTP {status}")]
    Http { status: u16 },

    /// Top-level GraphQL `errors` other than a throttle.
    #[error("Shopify returned GraphQL errors: {}", messages.join("; "))]
    GraphQl {
        messages: Vec<String>,
        /// `extensions.code` of each error that had one.
        codes: Vec<String>,
    },

    /// A mutation answered with non-empty `userErrors`.
    #[error("{operation} returned user errors: {}", errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    UserErrors {
        operation: &'static str,
        errors: Vec<UserError>,
    },

    /// Connection, TLS, timeout or body-read failure.
    #[error("request to Shopify failed")]
    Transport {
        #[source]
        source: reqwest::Error,
    },

    /// The body was not the JSON the operation expects.
    #[error("could not decode the {operation} response")]
    Decode {
        operation: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// The response decoded but lacked what the operation needs.
    #[error("the {operation} response is incomplete: {reason}")]
    MissingData {
        operation: &'static str,
        reason: String,
    },

    /// A wire value could not be mapped to a domain value.
    #[error("could not map Shopify {what}")]
    Map {
        what: String,
        #[source]
        source: MapError,
    },

    /// No publication has the configured channel name.
    #[error("no publication named `{wanted}`; available: {}", available.join(", "))]
    PublicationNotFound {
        wanted: String,
        available: Vec<String>,
    },

    /// A bulk operation ended in a state other than COMPLETED.
    #[error("bulk operation {operation_id} ended as {status} (error code {})", error_code.as_deref().unwrap_or("none"))]
    BulkFailed {
        operation_id: String,
        status: String,
        error_code: Option<String>,
    },

    /// A bulk operation could not be started because others are still
    /// running, after waiting and retrying.
    #[error("could not start a bulk operation: another one is still running")]
    BulkBusy,

    /// A bulk operation did not finish within the polling deadline.
    #[error("bulk operation {operation_id} did not finish in time")]
    BulkTimedOut { operation_id: String },

    /// Reading or writing the bulk scratch area failed.
    #[error("bulk scratch storage failed")]
    Scratch {
        #[source]
        source: StoreError,
    },

    /// A non-idempotent mutation was sent and may have been run, but no
    /// usable answer arrived (timeout, dropped connection, HTTP 5xx). The
    /// caller must look for its effect (e.g. the order by its tag) before
    /// sending it again.
    #[error("the outcome of {operation} is unknown")]
    OutcomeUnknown {
        operation: &'static str,
        #[source]
        source: Box<ShopifyError>,
    },

    /// `orderCreate` could not claim stock for a line
    /// (`INVENTORY_CLAIM_FAILED`); no order was created.
    #[error("Shopify could not claim inventory for the order: {}", errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    InventoryClaimFailed { errors: Vec<UserError> },

    /// The request cannot be sent as given (a caller bug, e.g. amounts in
    /// different currencies).
    #[error("invalid {operation} request: {reason}")]
    InvalidRequest {
        operation: &'static str,
        reason: String,
    },
}

impl ShopifyError {
    /// Whether trying the same call again later may succeed. The client has
    /// already retried these up to its budget; this tells a scheduler whether
    /// to try the whole run again soon or to report a configuration problem.
    pub fn is_retryable(&self) -> bool {
        match self {
            ShopifyError::Throttled { .. }
            | ShopifyError::Transport { .. }
            | ShopifyError::BulkBusy
            | ShopifyError::BulkTimedOut { .. } => true,
            ShopifyError::Http { status } => is_retryable_status(*status),
            ShopifyError::TokenRequest { status } => is_retryable_status(*status),
            ShopifyError::GraphQl { codes, .. } => codes.iter().any(|c| is_retryable_code(c)),
            ShopifyError::BulkFailed { error_code, .. } => {
                error_code.as_deref().is_some_and(|c| c != "ACCESS_DENIED")
            }
            // Retrying blindly could run the mutation twice; the caller
            // looks for its effect first.
            ShopifyError::OutcomeUnknown { .. } => false,
            ShopifyError::InvalidSettings { .. }
            | ShopifyError::InventoryClaimFailed { .. }
            | ShopifyError::InvalidRequest { .. }
            | ShopifyError::Unauthorized
            | ShopifyError::UserErrors { .. }
            | ShopifyError::Decode { .. }
            | ShopifyError::MissingData { .. }
            | ShopifyError::Map { .. }
            | ShopifyError::PublicationNotFound { .. }
            | ShopifyError::Scratch { .. } => false,
        }
    }
}

/// HTTP statuses worth retrying: 423 (shop locked), 429, and 5xx.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 423 || status == 429 || (500..=599).contains(&status)
}

/// GraphQL error codes that describe a transient condition.
pub(crate) fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "THROTTLED" | "INTERNAL_SERVER_ERROR" | "SERVICE_UNAVAILABLE"
    )
}

/// Why one wire value could not become a domain value.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// An id that is not `gid://shopify/{Type}/{id}`.
    #[error("`{0}` is not a Shopify GID")]
    Gid(String),
    /// A `Money` string that is not an exact amount of the currency.
    #[error("invalid money amount")]
    Money(#[source] MoneyError),
    /// A `DateTime` that is not RFC 3339.
    #[error("`{0}` is not an RFC 3339 timestamp")]
    Timestamp(String),
    /// A `URL` that does not parse.
    #[error("`{value}` is not a valid URL")]
    Url {
        /// The rejected text.
        value: String,
        /// Why it was rejected.
        #[source]
        source: url::ParseError,
    },
    /// A currency code that is not ISO 4217 shaped.
    #[error("invalid currency")]
    Currency(#[source] MoneyError),
    /// A bulk JSONL line that does not decode.
    #[error("malformed bulk line")]
    BulkLine(#[source] serde_json::Error),
}
