//! Shared payment granted tokens: the test helper that grants one, retrieval,
//! the revoke helper, and the usability check a confirmation runs.

use std::collections::BTreeMap;

use serde_json::Value;

use super::cards;
use super::endpoint::Ctx;
use super::error::ApiError;
use super::form::{Allowed, Params};
use super::state::{Account, Deactivation, Token, new_id};

/// The param a token problem is reported on when charging.
pub(crate) const TOKEN_PARAM: &str = "payment_method_data[shared_payment_granted_token]";

/// A validated `POST /v1/test_helpers/shared_payment/granted_tokens`.
#[derive(Debug, Clone)]
pub(crate) struct Create {
    card: &'static cards::TestCard,
    currency: String,
    max_amount: i64,
    expires_at: Option<i64>,
    shared_metadata: BTreeMap<String, String>,
}

/// Checks a lowercase three-letter currency code.
pub(crate) fn currency(params: &Params, key: &str) -> Result<String, ApiError> {
    let value = params.required_str(key)?;
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid(format!(
            "Invalid currency: {value}. Stripe currently supports these currencies: three-letter ISO codes in lowercase, e.g. usd, eur, gbp."
        ))
        .code("invalid_currency")
        .param(key))
    }
}

pub(crate) fn prepare_create(params: &Params, now: i64) -> Result<Create, ApiError> {
    params.check_known(&[
        Allowed::Key("payment_method"),
        Allowed::Key("usage_limits[currency]"),
        Allowed::Key("usage_limits[max_amount]"),
        Allowed::Key("usage_limits[expires_at]"),
        Allowed::Key("customer"),
        Allowed::Map("shared_metadata"),
        Allowed::Key("seller_details[network_id]"),
        Allowed::Key("seller_details[external_id]"),
        Allowed::List("expand"),
    ])?;
    let pm = params.required_str("payment_method")?;
    let card = cards::find(pm).ok_or_else(|| {
        ApiError::invalid(format!("No such PaymentMethod: '{pm}'"))
            .code("resource_missing")
            .param("payment_method")
    })?;
    let currency = currency(params, "usage_limits[currency]")?;
    let max_amount = params.required_i64("usage_limits[max_amount]")?;
    if max_amount < 1 {
        return Err(ApiError::invalid("Invalid positive integer")
            .code("parameter_invalid_integer")
            .param("usage_limits[max_amount]"));
    }
    let expires_at = params.opt_i64("usage_limits[expires_at]")?;
    if expires_at.is_some_and(|at| at <= now) {
        return Err(
            ApiError::invalid("usage_limits[expires_at] must be in the future.")
                .param("usage_limits[expires_at]"),
        );
    }
    Ok(Create {
        card,
        currency,
        max_amount,
        expires_at,
        shared_metadata: params.metadata("shared_metadata")?,
    })
}

pub(crate) fn prepare_id_only(params: &Params) -> Result<(), ApiError> {
    params.check_known(&[Allowed::List("expand")])
}

pub(crate) fn create(request: Create, account: &mut Account, ctx: &Ctx) -> Value {
    let token = Token {
        id: new_id("spt_"),
        created: ctx.now,
        card: request.card,
        currency: request.currency,
        max_amount: request.max_amount,
        expires_at: request.expires_at,
        deactivated: None,
        amount_captured: 0,
        shared_metadata: request.shared_metadata,
        authorizations: 0,
        declines: 0,
    };
    let json = token.to_json(ctx.now, ctx.livemode);
    account.tokens.insert(token.id.clone(), token);
    json
}

fn not_found(id: &str) -> ApiError {
    ApiError::missing(
        "shared_payment_granted_token",
        id,
        "shared_payment_granted_token",
    )
}

pub(crate) fn retrieve(id: &str, account: &Account, ctx: &Ctx) -> Result<Value, ApiError> {
    let token = account.tokens.get(id).ok_or_else(|| not_found(id))?;
    Ok(token.to_json(ctx.now, ctx.livemode))
}

pub(crate) fn revoke(id: &str, account: &mut Account, ctx: &Ctx) -> Result<Value, ApiError> {
    let token = account.tokens.get_mut(id).ok_or_else(|| not_found(id))?;
    if let Some((_, reason)) = token.deactivation_at(ctx.now) {
        return Err(ApiError::invalid(format!(
            "This SharedPaymentGrantedToken was already deactivated ({}).",
            reason.as_str()
        ))
        .code(&format!("shared_payment_granted_token_{}", reason.as_str())));
    }
    token.deactivated = Some((ctx.now, Deactivation::Revoked));
    Ok(token.to_json(ctx.now, ctx.livemode))
}

/// Why `token` cannot pay `amount` in `currency` now; `None` when it can.
///
/// Stripe does not document the codes it uses for these; the emulator uses
/// `shared_payment_granted_token_{expired,consumed,revoked,resolved}`,
/// `shared_payment_granted_token_currency_mismatch` and `amount_too_large`,
/// always with `param` set to the token parameter, which is what the
/// project's client keys on.
pub(crate) fn unusable(token: &Token, amount: i64, currency: &str, now: i64) -> Option<ApiError> {
    if let Some((at, reason)) = token.deactivation_at(now) {
        let message = match reason {
            Deactivation::Expired => {
                format!("This SharedPaymentGrantedToken expired at {at} and can no longer be used.")
            }
            other => format!(
                "This SharedPaymentGrantedToken has been deactivated ({}) and can no longer be used.",
                other.as_str()
            ),
        };
        let code = format!("shared_payment_granted_token_{}", reason.as_str());
        return Some(ApiError::invalid(message).code(&code).param(TOKEN_PARAM));
    }
    if token.currency != currency {
        return Some(
            ApiError::invalid(format!(
                "The currency {currency} does not match the currency {} this SharedPaymentGrantedToken is limited to.",
                token.currency
            ))
            .code("shared_payment_granted_token_currency_mismatch")
            .param(TOKEN_PARAM),
        );
    }
    if amount > token.max_amount {
        return Some(
            ApiError::invalid(format!(
                "The amount {amount} exceeds the max_amount {} of this SharedPaymentGrantedToken.",
                token.max_amount
            ))
            .code("amount_too_large")
            .param(TOKEN_PARAM),
        );
    }
    None
}
