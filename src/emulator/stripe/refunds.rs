//! Refunds of a captured PaymentIntent: the amount defaults to what is left
//! and may not exceed captured − already refunded.

use std::collections::BTreeMap;

use serde_json::Value;

use super::endpoint::Ctx;
use super::error::ApiError;
use super::form::{Allowed, Params};
use super::state::{Account, Refund, new_id};

/// What the refund points at.
#[derive(Debug, Clone)]
enum Target {
    Intent(String),
    Charge(String),
}

/// A validated `POST /v1/refunds`.
#[derive(Debug, Clone)]
pub(crate) struct Create {
    target: Target,
    amount: Option<i64>,
    reason: Option<&'static str>,
    metadata: BTreeMap<String, String>,
}

pub(crate) fn prepare_create(params: &Params) -> Result<Create, ApiError> {
    params.check_known(&[
        Allowed::Key("payment_intent"),
        Allowed::Key("charge"),
        Allowed::Key("amount"),
        Allowed::Key("reason"),
        Allowed::Map("metadata"),
        Allowed::List("expand"),
    ])?;
    let target = match (params.opt_str("payment_intent"), params.opt_str("charge")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You can only specify one of these parameters: charge, payment_intent.",
            )
            .code("parameters_exclusive")
            .param("charge"));
        }
        (Some(pi), None) => Target::Intent(pi.to_owned()),
        (None, Some(ch)) => Target::Charge(ch.to_owned()),
        (None, None) => {
            return Err(ApiError::invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
            )
            .code("parameter_missing"));
        }
    };
    let amount = params.opt_i64("amount")?;
    if amount.is_some_and(|a| a < 1) {
        return Err(ApiError::invalid("Invalid positive integer")
            .code("parameter_invalid_integer")
            .param("amount"));
    }
    Ok(Create {
        target,
        amount,
        reason: params.opt_enum(
            "reason",
            &["duplicate", "fraudulent", "requested_by_customer"],
        )?,
        metadata: params.metadata("metadata")?,
    })
}

pub(crate) fn create(request: Create, account: &mut Account, ctx: &Ctx) -> Result<Value, ApiError> {
    let intent = match &request.target {
        Target::Intent(id) => account.intent_mut(id).ok_or_else(|| {
            ApiError::invalid(format!("No such payment_intent: '{id}'"))
                .code("resource_missing")
                .param("payment_intent")
        })?,
        Target::Charge(id) => account
            .intents
            .iter_mut()
            .find(|i| i.latest_charge.as_deref() == Some(id.as_str()) && i.status == "succeeded")
            .ok_or_else(|| {
                ApiError::invalid(format!("No such charge: '{id}'"))
                    .code("resource_missing")
                    .param("charge")
            })?,
    };
    match intent.status {
        "succeeded" => {}
        "requires_capture" => {
            return Err(ApiError::invalid(
                "This PaymentIntent has not been captured. Cancel the PaymentIntent to release the authorization instead of refunding it.",
            )
            .code("payment_intent_unexpected_state"));
        }
        other => {
            return Err(ApiError::invalid(format!(
                "This PaymentIntent does not have a successful charge to refund (status {other})."
            ))
            .code("payment_intent_unexpected_state"));
        }
    }
    let left = intent.amount_received - intent.amount_refunded;
    let charge = intent.latest_charge.clone().unwrap_or_default();
    if left == 0 {
        return Err(
            ApiError::invalid(format!("Charge {charge} has already been refunded."))
                .code("charge_already_refunded"),
        );
    }
    let amount = request.amount.unwrap_or(left);
    if amount > left {
        return Err(ApiError::invalid(format!(
            "Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
        ))
        .code("amount_too_large")
        .param("amount"));
    }
    intent.amount_refunded += amount;
    let refund = Refund {
        id: new_id("re_"),
        amount,
        currency: intent.currency.clone(),
        charge: intent.latest_charge.clone(),
        payment_intent: intent.id.clone(),
        reason: request.reason,
        metadata: request.metadata,
        created: ctx.now,
    };
    let json = refund.to_json();
    account.refunds.push(refund);
    Ok(json)
}
