//! The emulated objects (granted tokens, PaymentIntents, refunds) per
//! account and mode, how each renders as Stripe JSON, and the emulator
//! clock.
//!
//! Everything here is plain data behind one mutex; no `.await` happens
//! while it is held.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::time::Instant;

use super::cards::TestCard;
use super::lock;

/// A fresh object id: the prefix and 24 random alphanumerics.
pub(crate) fn new_id(prefix: &str) -> String {
    let tail: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(24)
        .collect();
    format!("{prefix}{tail}")
}

/// Unix time with an adjustable offset, so tests can expire tokens and
/// idempotency keys.
#[derive(Default)]
pub(crate) struct Clock {
    offset: Mutex<Duration>,
}

impl Clock {
    pub(crate) fn now(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from((real + *lock(&self.offset)).as_secs()).unwrap_or(i64::MAX)
    }

    pub(crate) fn advance(&self, by: Duration) {
        *lock(&self.offset) += by;
    }
}

/// Why a granted token can no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deactivation {
    Consumed,
    Expired,
    Resolved,
    Revoked,
}

impl Deactivation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Deactivation::Consumed => "consumed",
            Deactivation::Expired => "expired",
            Deactivation::Resolved => "resolved",
            Deactivation::Revoked => "revoked",
        }
    }
}

/// A SharedPaymentGrantedToken.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub id: String,
    pub created: i64,
    pub card: &'static TestCard,
    pub currency: String,
    pub max_amount: i64,
    pub expires_at: Option<i64>,
    pub deactivated: Option<(i64, Deactivation)>,
    pub amount_captured: i64,
    pub shared_metadata: BTreeMap<String, String>,
    pub authorizations: u32,
    pub declines: u32,
}

impl Token {
    /// The deactivation in force at `now` (expiry is applied lazily).
    pub(crate) fn deactivation_at(&self, now: i64) -> Option<(i64, Deactivation)> {
        self.deactivated.or_else(|| {
            self.expires_at
                .filter(|at| *at <= now)
                .map(|at| (at, Deactivation::Expired))
        })
    }

    pub(crate) fn to_json(&self, now: i64, livemode: bool) -> Value {
        let deactivation = self.deactivation_at(now);
        json!({
            "id": self.id,
            "object": "shared_payment.granted_token",
            "agent_details": { "network_business_profile": "profile_test_emulatoragent" },
            "created": self.created,
            "deactivated_at": deactivation.map(|(at, _)| at),
            "deactivated_reason": deactivation.map(|(_, r)| r.as_str()),
            "livemode": livemode,
            "payment_method_details": {
                "type": "card",
                "billing_details": {
                    "address": {
                        "city": null, "country": null, "line1": null, "line2": null,
                        "postal_code": null, "state": null
                    },
                    "email": null, "name": null, "phone": null
                },
                "card": {
                    "brand": self.card.brand,
                    "country": "US",
                    "display_brand": self.card.brand,
                    "exp_month": 12,
                    "exp_year": 2034,
                    "funding": self.card.funding,
                    "last4": self.card.last4,
                    "wallet": null
                }
            },
            "shared_metadata": self.shared_metadata,
            "usage_details": {
                "amount_captured": { "value": self.amount_captured, "currency": self.currency }
            },
            "usage_limits": {
                "currency": self.currency,
                "expires_at": self.expires_at,
                "max_amount": self.max_amount
            }
        })
    }
}

/// A PaymentIntent.
#[derive(Debug, Clone)]
pub(crate) struct Intent {
    pub id: String,
    pub client_secret: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub capture_method: &'static str,
    pub status: &'static str,
    pub amount_capturable: i64,
    pub amount_received: i64,
    pub amount_refunded: i64,
    pub latest_charge: Option<String>,
    pub payment_method: Option<String>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub canceled_at: Option<i64>,
    pub cancellation_reason: Option<&'static str>,
    pub last_payment_error: Option<Value>,
    pub token: Option<String>,
    pub searchable_at: Instant,
}

impl Intent {
    pub(crate) fn to_json(&self, livemode: bool) -> Value {
        json!({
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount_capturable,
            "amount_received": self.amount_received,
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "capture_method": self.capture_method,
            "client_secret": self.client_secret,
            "confirmation_method": "automatic",
            "created": self.created,
            "currency": self.currency,
            "customer": null,
            "description": self.description,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": livemode,
            "metadata": self.metadata,
            "next_action": null,
            "payment_method": self.payment_method,
            "payment_method_types": ["card"],
            "status": self.status,
        })
    }
}

/// A refund.
#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub charge: Option<String>,
    pub payment_intent: String,
    pub reason: Option<&'static str>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
}

impl Refund {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "charge": self.charge,
            "created": self.created,
            "currency": self.currency,
            "metadata": self.metadata,
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "status": "succeeded",
        })
    }
}

/// The objects of one account in one mode.
#[derive(Debug, Default)]
pub(crate) struct Account {
    pub tokens: HashMap<String, Token>,
    pub intents: Vec<Intent>,
    pub refunds: Vec<Refund>,
}

impl Account {
    pub(crate) fn intent(&self, id: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.id == id)
    }

    pub(crate) fn intent_mut(&mut self, id: &str) -> Option<&mut Intent> {
        self.intents.iter_mut().find(|i| i.id == id)
    }
}

/// Every account's objects, keyed by account id and livemode.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    accounts: HashMap<(String, bool), Account>,
}

impl Ledger {
    pub(crate) fn account(&mut self, account: &str, livemode: bool) -> &mut Account {
        self.accounts
            .entry((account.to_owned(), livemode))
            .or_default()
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = (&(String, bool), &Account)> {
        self.accounts.iter()
    }
}
