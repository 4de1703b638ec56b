//! Stripe's JSON shapes (only the fields the client reads), their mapping to
//! the typed model, and the conversion between [`Money`] and Stripe amounts.
//!
//! Stripe amounts are in the currency's minor unit, which matches ISO 4217
//! (and so [`Money`]) except for a few currencies Stripe treats specially;
//! those are refused instead of being converted wrongly.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::error::StripeError;
use super::model::{
    CaptureMethod, GrantedToken, PaymentIntent, PaymentIntentStatus, Refund, RefundStatus,
    TokenDeactivation,
};
use crate::domain::{Currency, Money};

/// Currencies whose Stripe minor unit differs from ISO 4217's (ISK is sent
/// as a two-decimal amount, MGA as zero-decimal, UGX has its own rule).
const STRIPE_SPECIAL: [&str; 3] = ["ISK", "MGA", "UGX"];

/// A [`Money`] as Stripe's `amount` and lowercase `currency`.
pub(crate) fn to_stripe(money: Money) -> Result<(i64, String), StripeError> {
    if STRIPE_SPECIAL.contains(&money.currency.as_str()) {
        return Err(StripeError::UnsupportedCurrency(money.currency));
    }
    Ok((money.amount, money.currency.as_str().to_ascii_lowercase()))
}

/// Stripe's `amount` and `currency` as [`Money`].
pub(crate) fn from_stripe(
    operation: &'static str,
    amount: i64,
    currency: &str,
) -> Result<Money, StripeError> {
    let currency = Currency::parse(currency).map_err(|_| StripeError::Unexpected {
        operation,
        reason: format!("currency `{currency}` is not an ISO 4217 code"),
    })?;
    if STRIPE_SPECIAL.contains(&currency.as_str()) {
        return Err(StripeError::UnsupportedCurrency(currency));
    }
    Ok(Money::new(amount, currency))
}

fn timestamp(operation: &'static str, secs: i64) -> Result<DateTime<Utc>, StripeError> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| StripeError::Unexpected {
        operation,
        reason: format!("timestamp {secs} is out of range"),
    })
}

/// `{"error": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub error: WireError,
}

/// Stripe's error object.
#[derive(Debug, Deserialize)]
pub(crate) struct WireError {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
    pub param: Option<String>,
    pub payment_intent: Option<IdOnly>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct IdOnly {
    pub id: String,
}

#[derive(Debug, Deserialize)]
struct LastError {
    code: Option<String>,
    decline_code: Option<String>,
}

/// A PaymentIntent.
#[derive(Debug, Deserialize)]
pub(crate) struct WireIntent {
    id: String,
    amount: i64,
    #[serde(default)]
    amount_capturable: i64,
    #[serde(default)]
    amount_received: i64,
    currency: String,
    status: String,
    capture_method: Option<String>,
    latest_charge: Option<Value>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    description: Option<String>,
    created: i64,
    cancellation_reason: Option<String>,
    last_payment_error: Option<LastError>,
}

const INTENT: &str = "payment_intent";

impl WireIntent {
    pub(crate) fn into_model(self) -> Result<PaymentIntent, StripeError> {
        let money = |amount| from_stripe(INTENT, amount, &self.currency);
        let latest_charge = match &self.latest_charge {
            Some(Value::String(id)) => Some(id.clone()),
            Some(Value::Object(map)) => map.get("id").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        Ok(PaymentIntent {
            status: PaymentIntentStatus::parse(&self.status),
            amount: money(self.amount)?,
            amount_capturable: money(self.amount_capturable)?,
            amount_received: money(self.amount_received)?,
            capture_method: match self.capture_method.as_deref() {
                Some("automatic") => CaptureMethod::Automatic,
                Some("automatic_async") => CaptureMethod::AutomaticAsync,
                Some("manual") => CaptureMethod::Manual,
                _ => CaptureMethod::Unknown,
            },
            latest_charge,
            created: timestamp(INTENT, self.created)?,
            last_decline_code: self
                .last_payment_error
                .and_then(|e| e.decline_code.or(e.code)),
            id: self.id,
            metadata: self.metadata,
            description: self.description,
            cancellation_reason: self.cancellation_reason,
        })
    }
}

/// A search result page.
#[derive(Debug, Deserialize)]
pub(crate) struct WireSearch {
    pub data: Vec<WireIntent>,
    #[serde(default)]
    pub has_more: bool,
    pub next_page: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UsageLimits {
    currency: String,
    max_amount: i64,
    expires_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct AmountCaptured {
    value: i64,
    currency: String,
}

#[derive(Debug, Deserialize)]
struct UsageDetails {
    amount_captured: Option<AmountCaptured>,
}

/// A shared payment granted token.
#[derive(Debug, Deserialize)]
pub(crate) struct WireGrantedToken {
    usage_limits: Option<UsageLimits>,
    deactivated_at: Option<i64>,
    deactivated_reason: Option<String>,
    usage_details: Option<UsageDetails>,
}

const TOKEN: &str = "granted_token";

impl WireGrantedToken {
    pub(crate) fn into_model(self) -> Result<GrantedToken, StripeError> {
        let limits = self.usage_limits.ok_or_else(|| StripeError::Unexpected {
            operation: TOKEN,
            reason: "the token has no usage_limits".to_owned(),
        })?;
        let max_amount = from_stripe(TOKEN, limits.max_amount, &limits.currency)?;
        let deactivated = match (self.deactivated_at, self.deactivated_reason.as_deref()) {
            (Some(at), reason) => Some((
                timestamp(TOKEN, at)?,
                reason.map_or(TokenDeactivation::Unknown, TokenDeactivation::parse),
            )),
            (None, Some(reason)) => Some((
                DateTime::<Utc>::UNIX_EPOCH,
                TokenDeactivation::parse(reason),
            )),
            (None, None) => None,
        };
        Ok(GrantedToken {
            currency: max_amount.currency,
            max_amount,
            expires_at: limits
                .expires_at
                .map(|at| timestamp(TOKEN, at))
                .transpose()?,
            deactivated,
            amount_captured: self
                .usage_details
                .and_then(|d| d.amount_captured)
                .map(|a| from_stripe(TOKEN, a.value, &a.currency))
                .transpose()?,
        })
    }
}

/// A refund.
#[derive(Debug, Deserialize)]
pub(crate) struct WireRefund {
    id: String,
    amount: i64,
    currency: String,
    status: Option<String>,
    payment_intent: Option<String>,
    charge: Option<String>,
}

impl WireRefund {
    pub(crate) fn into_model(self) -> Result<Refund, StripeError> {
        Ok(Refund {
            amount: from_stripe("refund", self.amount, &self.currency)?,
            status: RefundStatus::parse(self.status.as_deref()),
            id: self.id,
            payment_intent: self.payment_intent,
            charge: self.charge,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_maps_to_lowercase_minor_units_and_back() {
        let (amount, currency) = to_stripe(Money::new(1999, Currency::USD)).unwrap();
        assert_eq!((amount, currency.as_str()), (1999, "usd"));
        assert_eq!(
            from_stripe("t", 500, "jpy").unwrap(),
            Money::new(500, Currency::JPY)
        );
    }

    #[test]
    fn currencies_with_special_stripe_units_are_refused() {
        let isk = Currency::parse("ISK").unwrap();
        assert!(matches!(
            to_stripe(Money::new(100, isk)),
            Err(StripeError::UnsupportedCurrency(c)) if c == isk
        ));
        assert!(from_stripe("t", 100, "mga").is_err());
    }

    #[test]
    fn an_intent_with_an_expanded_charge_and_a_decline_maps() {
        let wire: WireIntent = serde_json::from_value(serde_json::json!({
            "id": "pi_1", "amount": 1000, "amount_capturable": 0, "amount_received": 0,
            "currency": "eur", "status": "requires_payment_method",
            "capture_method": "manual", "latest_charge": {"id": "ch_9", "object": "charge"},
            "metadata": {"checkout_session_id": "cs_1"}, "description": null,
            "created": 1_780_000_000, "cancellation_reason": null,
            "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"}
        }))
        .unwrap();
        let intent = wire.into_model().unwrap();
        assert_eq!(intent.status, PaymentIntentStatus::RequiresPaymentMethod);
        assert_eq!(intent.amount, Money::new(1000, Currency::EUR));
        assert_eq!(intent.latest_charge.as_deref(), Some("ch_9"));
        assert_eq!(
            intent.last_decline_code.as_deref(),
            Some("insufficient_funds")
        );
        assert_eq!(intent.capture_method, CaptureMethod::Manual);
    }
}
