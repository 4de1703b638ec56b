//! The typed values the Stripe client takes and returns: amounts are
//! [`Money`], statuses are enums, secrets are [`SecretString`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::error::{StripeError, TokenUnusableReason};
use crate::domain::{Currency, Money};

/// A Stripe `Idempotency-Key`: 1 to 255 printable ASCII characters. Derive
/// it deterministically from what the call does (e.g.
/// `acp:{checkout_session_id}:charge`) so a retried checkout step reuses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Longest key Stripe accepts.
    pub const MAX_LEN: usize = 255;

    /// Checks and wraps a key.
    ///
    /// # Errors
    /// [`StripeError::InvalidArgument`] when empty, longer than 255
    /// characters, or not printable ASCII.
    pub fn new(key: impl Into<String>) -> Result<Self, StripeError> {
        let key = key.into();
        let printable = key.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if key.is_empty() || key.len() > Self::MAX_LEN || !printable {
            return Err(StripeError::InvalidArgument {
                reason: format!(
                    "an idempotency key must be 1 to {} printable ASCII characters without spaces",
                    Self::MAX_LEN
                ),
            });
        }
        Ok(IdempotencyKey(key))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// When the authorized amount is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureMode {
    /// Authorize now, capture later with [`super::StripeClient::capture`]
    /// (or release with [`super::StripeClient::cancel`]).
    Manual,
    /// Capture as part of the confirmation.
    Automatic,
}

/// `capture_method` as Stripe reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureMethod {
    Automatic,
    AutomaticAsync,
    Manual,
    /// A value this client does not know.
    Unknown,
}

/// PaymentIntent `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentIntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    /// Authorized; capture or cancel it.
    RequiresCapture,
    Canceled,
    Succeeded,
    /// A value this client does not know.
    Unknown,
}

impl PaymentIntentStatus {
    pub(crate) fn parse(value: &str) -> Self {
        match value {
            "requires_payment_method" => Self::RequiresPaymentMethod,
            "requires_confirmation" => Self::RequiresConfirmation,
            "requires_action" => Self::RequiresAction,
            "processing" => Self::Processing,
            "requires_capture" => Self::RequiresCapture,
            "canceled" => Self::Canceled,
            "succeeded" => Self::Succeeded,
            _ => Self::Unknown,
        }
    }
}

/// Why a PaymentIntent is canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancellationReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
    Abandoned,
}

impl CancellationReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CancellationReason::Duplicate => "duplicate",
            CancellationReason::Fraudulent => "fraudulent",
            CancellationReason::RequestedByCustomer => "requested_by_customer",
            CancellationReason::Abandoned => "abandoned",
        }
    }
}

/// A PaymentIntent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    /// `pi_…`.
    pub id: String,
    pub status: PaymentIntentStatus,
    pub amount: Money,
    /// Authorized and not yet captured.
    pub amount_capturable: Money,
    /// Captured.
    pub amount_received: Money,
    pub capture_method: CaptureMethod,
    /// `ch_…` of the last charge attempt.
    pub latest_charge: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub description: Option<String>,
    pub created: DateTime<Utc>,
    pub cancellation_reason: Option<String>,
    /// `decline_code` (or `code`) of the last failed confirmation.
    pub last_decline_code: Option<String>,
}

/// A refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// `re_…`.
    pub id: String,
    pub amount: Money,
    pub status: RefundStatus,
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
}

/// Refund `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Pending,
    RequiresAction,
    Succeeded,
    Failed,
    Canceled,
    /// A value this client does not know.
    Unknown,
}

impl RefundStatus {
    pub(crate) fn parse(value: Option<&str>) -> Self {
        match value {
            Some("pending") => Self::Pending,
            Some("requires_action") => Self::RequiresAction,
            Some("succeeded") => Self::Succeeded,
            Some("failed") => Self::Failed,
            Some("canceled") => Self::Canceled,
            _ => Self::Unknown,
        }
    }
}

/// Why a granted token was deactivated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenDeactivation {
    Consumed,
    Expired,
    Resolved,
    Revoked,
    /// A value this client does not know.
    Unknown,
}

impl TokenDeactivation {
    pub(crate) fn parse(value: &str) -> Self {
        match value {
            "consumed" => Self::Consumed,
            "expired" => Self::Expired,
            "resolved" => Self::Resolved,
            "revoked" => Self::Revoked,
            _ => Self::Unknown,
        }
    }
}

/// What a shared payment granted token allows (its id is not repeated: the
/// caller holds it as a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedToken {
    /// The only currency it pays in.
    pub currency: Currency,
    /// The most it pays.
    pub max_amount: Money,
    /// After this it no longer pays.
    pub expires_at: Option<DateTime<Utc>>,
    /// Set once it no longer pays.
    pub deactivated: Option<(DateTime<Utc>, TokenDeactivation)>,
    /// Captured with it so far.
    pub amount_captured: Option<Money>,
}

impl GrantedToken {
    /// Whether the token can pay `amount` at `now`, checked the way Stripe
    /// checks at confirmation.
    ///
    /// # Errors
    /// The reason it cannot.
    pub fn check_usable(
        &self,
        amount: Money,
        now: DateTime<Utc>,
    ) -> Result<(), TokenUnusableReason> {
        if let Some((_, reason)) = self.deactivated {
            return Err(match reason {
                TokenDeactivation::Consumed => TokenUnusableReason::Consumed,
                TokenDeactivation::Expired => TokenUnusableReason::Expired,
                TokenDeactivation::Resolved => TokenUnusableReason::Resolved,
                TokenDeactivation::Revoked => TokenUnusableReason::Revoked,
                TokenDeactivation::Unknown => TokenUnusableReason::Other,
            });
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(TokenUnusableReason::Expired);
        }
        if amount.currency != self.currency {
            return Err(TokenUnusableReason::CurrencyMismatch);
        }
        if amount.amount > self.max_amount.amount {
            return Err(TokenUnusableReason::OverLimit);
        }
        Ok(())
    }
}

/// Charge a shared payment token: create and confirm one PaymentIntent.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    /// What to charge; must fit the token's `max_amount` and currency.
    pub amount: Money,
    /// The `spt_…` token from the agent. Never logged.
    pub token: SecretString,
    pub capture: CaptureMode,
    /// Saved on the PaymentIntent; put the checkout session id here so
    /// [`super::StripeClient::find_by_metadata`] can find it. Keys up to 40
    /// characters without brackets, values up to 500, at most 50 pairs.
    pub metadata: Vec<(String, String)>,
    pub description: Option<String>,
    /// Required: a retried charge must reuse it.
    pub idempotency_key: IdempotencyKey,
}
