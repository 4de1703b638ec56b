//! `StripeError`: what can go wrong charging through Stripe, from the
//! checkout's point of view, and [`redact`], which keeps tokens and keys out
//! of every error text.
//!
//! The variants answer the questions the checkout must ask: was the buyer's
//! card declined ([`StripeError::Declined`] → ACP `payment_declined`), is the
//! token itself unusable ([`StripeError::TokenUnusable`]), is it our bug or
//! configuration ([`StripeError::InvalidRequest`],
//! [`StripeError::Authentication`]), is Stripe unreachable with nothing
//! applied ([`StripeError::Unavailable`], [`StripeError::RateLimited`]), or
//! might the call have been applied ([`StripeError::Ambiguous`]: reconcile
//! by replaying the same idempotency key or by searching metadata).

use crate::domain::Currency;

/// Why a shared payment token cannot pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUnusableReason {
    /// Stripe knows no such token for this account.
    NotFound,
    /// Past `usage_limits.expires_at`.
    Expired,
    /// Revoked by the agent.
    Revoked,
    /// Already used.
    Consumed,
    /// Resolved by a seller.
    Resolved,
    /// The amount is above `usage_limits.max_amount`.
    OverLimit,
    /// The currency differs from `usage_limits.currency`.
    CurrencyMismatch,
    /// Stripe rejected the token for a reason the client does not know.
    Other,
}

impl std::fmt::Display for TokenUnusableReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenUnusableReason::NotFound => "unknown token",
            TokenUnusableReason::Expired => "expired",
            TokenUnusableReason::Revoked => "revoked",
            TokenUnusableReason::Consumed => "already used",
            TokenUnusableReason::Resolved => "resolved",
            TokenUnusableReason::OverLimit => "amount above the token's limit",
            TokenUnusableReason::CurrencyMismatch => "currency differs from the token's",
            TokenUnusableReason::Other => "rejected",
        })
    }
}

/// Why a Stripe call failed.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// The settings cannot produce a usable client.
    #[error("invalid Stripe client settings: {reason}")]
    InvalidSettings { reason: String },

    /// An argument the client refuses before calling Stripe.
    #[error("invalid argument for Stripe: {reason}")]
    InvalidArgument { reason: String },

    /// The card issuer or Stripe declined the payment (HTTP 402
    /// `card_error`). `message` is Stripe's buyer-facing text; map this to
    /// ACP `payment_declined`. Nothing was charged.
    #[error("the card was declined ({code}, decline code {})", decline_code.as_deref().unwrap_or("none"))]
    Declined {
        code: String,
        decline_code: Option<String>,
        message: String,
        /// The PaymentIntent left in `requires_payment_method`, if any.
        payment_intent: Option<String>,
    },

    /// The shared payment token cannot pay this amount now. Nothing was
    /// charged; the agent must obtain a new token.
    #[error("the shared payment token cannot be used: {reason}")]
    TokenUnusable { reason: TokenUnusableReason },

    /// Stripe refused the request as invalid (a bug, a wrong id, a state
    /// conflict such as capturing twice). `message` has tokens and keys
    /// redacted.
    #[error("Stripe rejected the request (HTTP {status}, code {}, param {}): {message}", code.as_deref().unwrap_or("none"), param.as_deref().unwrap_or("none"))]
    InvalidRequest {
        status: u16,
        code: Option<String>,
        param: Option<String>,
        message: String,
    },

    /// The idempotency key was used before for another request
    /// (`idempotency_error`): a bug in how keys are derived.
    #[error("Stripe refused to reuse the idempotency key for a different request")]
    IdempotencyConflict,

    /// The secret key was rejected (HTTP 401/403).
    #[error("Stripe rejected the API key (HTTP {status})")]
    Authentication { status: u16 },

    /// Still rate-limited (HTTP 429) when the retry budget ran out; nothing
    /// was applied.
    #[error("Stripe rate-limited the request after {attempts} attempts")]
    RateLimited { attempts: u32 },

    /// Stripe could not be reached or kept failing, and the call is known
    /// not to have been applied (a read, or a write that never reached
    /// Stripe).
    #[error("Stripe was unavailable after {attempts} attempts (last HTTP status {})", status.map_or("none".to_owned(), |s| s.to_string()))]
    Unavailable {
        attempts: u32,
        status: Option<u16>,
        #[source]
        source: Option<reqwest::Error>,
    },

    /// A write may or may not have been applied: an answer was lost, timed
    /// out or was a 5xx, and retries with the same idempotency key did not
    /// settle it. The caller must reconcile (retry later with the same key,
    /// or search by metadata) before doing anything that could charge
    /// twice.
    #[error(
        "Stripe {operation} may or may not have been applied after {attempts} attempts; reconcile before acting"
    )]
    Ambiguous {
        operation: &'static str,
        attempts: u32,
    },

    /// A success answer did not decode (a write was applied).
    #[error("could not decode the Stripe {operation} response")]
    Decode {
        operation: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// A decoded answer holds a value the client cannot map.
    #[error("unexpected Stripe {operation} response: {reason}")]
    Unexpected {
        operation: &'static str,
        reason: String,
    },

    /// Stripe's minor unit for this currency differs from ISO 4217's, so
    /// the client refuses to convert amounts.
    #[error("{0} amounts are not supported by the Stripe client")]
    UnsupportedCurrency(Currency),
}

impl StripeError {
    /// Whether the same call may succeed later without any change. The
    /// client already retried these up to its budget. [`StripeError::Ambiguous`]
    /// is not retryable blindly: retry only with the same idempotency key.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StripeError::RateLimited { .. } | StripeError::Unavailable { .. }
        )
    }
}

/// Replaces anything shaped like a shared payment token or an API key
/// (`spt_…`, `sk_live_…`, `rk_test_…`, `pk_…`) with its prefix and `***`,
/// so Stripe messages that echo them can be kept in errors and logs.
pub fn redact(text: &str) -> String {
    const PREFIXES: [&str; 7] = [
        "spt_", "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_",
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for prefix in PREFIXES {
            let at_boundary = out
                .chars()
                .last()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
            if at_boundary && rest.starts_with(prefix) {
                let tail = &rest[prefix.len()..];
                let secret_len = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '*'))
                    .unwrap_or(tail.len());
                out.push_str(prefix);
                out.push_str("***");
                rest = &tail[secret_len..];
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_tokens_and_keys_but_keeps_the_text() {
        assert_eq!(
            redact("No such shared_payment_granted_token: 'spt_1AbC_d9'"),
            "No such shared_payment_granted_token: 'spt_***'"
        );
        assert_eq!(
            redact("Invalid API Key provided: sk_test_********abcd"),
            "Invalid API Key provided: sk_test_***"
        );
        assert_eq!(redact("pi_123 and xspt_1"), "pi_123 and xspt_1");
        assert_eq!(redact("rk_live_abc."), "rk_live_***.");
    }
}
