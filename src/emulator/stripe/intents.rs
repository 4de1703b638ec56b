//! PaymentIntents: create (and confirm with a shared payment token or a test
//! card), retrieve, capture and cancel, with Stripe's state machine:
//!
//! - confirmation declined → `requires_payment_method`, HTTP 402
//!   `card_error` embedding the PaymentIntent;
//! - confirmed with `capture_method=manual` → `requires_capture`, otherwise
//!   `succeeded`;
//! - capture only from `requires_capture`, at most `amount_capturable`;
//! - cancel only from `requires_payment_method`, `requires_capture`,
//!   `requires_confirmation`, `requires_action` and `processing`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::cards::{self, TestCard};
use super::endpoint::Ctx;
use super::error::ApiError;
use super::form::{Allowed, Params};
use super::state::{Account, Deactivation, Intent, new_id};
use super::tokens::{self, TOKEN_PARAM};

/// Largest amount Stripe accepts in one charge (99,999,999 minor units).
const MAX_AMOUNT: i64 = 99_999_999;

const CANCELABLE: [&str; 5] = [
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
];

/// Smallest chargeable amount in minor units (Stripe's minimum charge
/// amounts for common presentment currencies; 50 minor units otherwise).
fn minimum_amount(currency: &str) -> i64 {
    match currency {
        "gbp" => 30,
        "dkk" => 250,
        "sek" | "nok" => 300,
        "hkd" => 400,
        "pln" | "ron" | "aed" | "myr" => 200,
        "mxn" | "thb" => 1000,
        "czk" => 1500,
        "huf" => 17500,
        _ => 50,
    }
}

/// How the PaymentIntent is paid.
#[derive(Debug, Clone)]
enum Source {
    Token(String),
    Card(&'static TestCard),
}

/// A validated `POST /v1/payment_intents`.
#[derive(Debug, Clone)]
pub(crate) struct Create {
    amount: i64,
    currency: String,
    confirm: bool,
    capture_method: &'static str,
    description: Option<String>,
    metadata: BTreeMap<String, String>,
    source: Option<Source>,
}

pub(crate) fn prepare_create(params: &Params, ctx: &Ctx) -> Result<Create, ApiError> {
    let mut allowed = vec![
        Allowed::Key("amount"),
        Allowed::Key("currency"),
        Allowed::Key("confirm"),
        Allowed::Key("capture_method"),
        Allowed::Key("description"),
        Allowed::Map("metadata"),
        Allowed::Key("payment_method"),
        Allowed::Key("payment_method_data[type]"),
        Allowed::List("payment_method_types"),
        Allowed::Key("customer"),
        Allowed::Key("receipt_email"),
        Allowed::Key("statement_descriptor_suffix"),
        Allowed::List("expand"),
    ];
    if ctx.shared_payment {
        allowed.push(Allowed::Key(TOKEN_PARAM));
    }
    params.check_known(&allowed)?;
    let amount = params.required_i64("amount")?;
    let currency = tokens::currency(params, "currency")?;
    let minimum = minimum_amount(&currency);
    if amount < minimum {
        return Err(ApiError::invalid(format!(
            "Amount must be at least {minimum} {currency} minor units"
        ))
        .code("amount_too_small")
        .param("amount"));
    }
    if amount > MAX_AMOUNT {
        return Err(ApiError::invalid(format!(
            "Amount must be no more than {MAX_AMOUNT} {currency} minor units"
        ))
        .code("amount_too_large")
        .param("amount"));
    }
    for (i, kind) in params_list(params, "payment_method_types")
        .iter()
        .enumerate()
    {
        if kind != "card" {
            return Err(ApiError::invalid(format!(
                "The payment method type provided: {kind} is invalid. This emulator supports card only."
            ))
            .code("payment_method_invalid_parameter")
            .param(&format!("payment_method_types[{i}]")));
        }
    }
    if let Some(kind) = params.opt_str("payment_method_data[type]")
        && kind != "card"
    {
        return Err(ApiError::invalid(format!(
            "Invalid payment_method_data[type]: {kind}. This emulator supports card only."
        ))
        .param("payment_method_data[type]"));
    }
    let token = ctx
        .shared_payment
        .then(|| params.opt_str(TOKEN_PARAM))
        .flatten();
    let card = params.opt_str("payment_method");
    let source = match (token, card) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You cannot provide both payment_method and payment_method_data.",
            )
            .code("parameters_exclusive")
            .param("payment_method"));
        }
        (Some(token), None) => Some(Source::Token(token.to_owned())),
        (None, Some(pm)) => Some(Source::Card(cards::find(pm).ok_or_else(|| {
            ApiError::invalid(format!("No such PaymentMethod: '{pm}'"))
                .code("resource_missing")
                .param("payment_method")
        })?)),
        (None, None) => None,
    };
    let confirm = params.opt_bool("confirm")?.unwrap_or(false);
    if confirm && source.is_none() {
        return Err(ApiError::invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
        )
        .code("payment_intent_unexpected_state"));
    }
    let capture_method = params
        .opt_enum(
            "capture_method",
            &["automatic", "automatic_async", "manual"],
        )?
        .unwrap_or("automatic_async");
    Ok(Create {
        amount,
        currency,
        confirm,
        capture_method,
        description: params.opt_str("description").map(str::to_owned),
        metadata: params.metadata("metadata")?,
        source,
    })
}

fn params_list(params: &Params, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0.. {
        let indexed = format!("{name}[{i}]");
        match params.raw(&indexed) {
            Some(v) => out.push(v.to_owned()),
            None => break,
        }
    }
    if out.is_empty()
        && let Some(v) = params.raw(&format!("{name}[]"))
    {
        out.push(v.to_owned());
    }
    out
}

pub(crate) fn create(request: Create, account: &mut Account, ctx: &Ctx) -> Result<Value, ApiError> {
    let card = match &request.source {
        Some(Source::Token(id)) => {
            let token = account.tokens.get(id).ok_or_else(|| {
                ApiError::invalid(format!("No such shared_payment_granted_token: '{id}'"))
                    .code("resource_missing")
                    .param(TOKEN_PARAM)
            })?;
            if request.confirm
                && let Some(error) =
                    tokens::unusable(token, request.amount, &request.currency, ctx.now)
            {
                return Err(error);
            }
            Some(token.card)
        }
        Some(Source::Card(card)) => Some(*card),
        None => None,
    };
    let id = new_id("pi_");
    let mut intent = Intent {
        client_secret: format!("{id}_secret_{}", new_id("")),
        id,
        created: ctx.now,
        amount: request.amount,
        currency: request.currency,
        capture_method: request.capture_method,
        status: if card.is_some() {
            "requires_confirmation"
        } else {
            "requires_payment_method"
        },
        amount_capturable: 0,
        amount_received: 0,
        amount_refunded: 0,
        latest_charge: None,
        payment_method: card.map(|_| new_id("pm_")),
        description: request.description,
        metadata: request.metadata,
        canceled_at: None,
        cancellation_reason: None,
        last_payment_error: None,
        token: match &request.source {
            Some(Source::Token(id)) => Some(id.clone()),
            _ => None,
        },
        searchable_at: ctx.searchable_at,
    };
    let (Some(card), true) = (card, request.confirm) else {
        let json = intent.to_json(ctx.livemode);
        account.intents.push(intent);
        return Ok(json);
    };
    let charge = new_id("ch_");
    intent.latest_charge = Some(charge.clone());
    if let Some(decline) = card.decline {
        let mut error = ApiError::card(decline.code, decline.decline_code, decline.message);
        if let Some(card) = error.card.as_mut() {
            card.charge = Some(charge);
        }
        let mut last_error = error.body()["error"].clone();
        if let Some(map) = last_error.as_object_mut() {
            map.insert(
                "payment_method".into(),
                serde_json::json!({ "id": intent.payment_method, "object": "payment_method", "type": "card" }),
            );
        }
        intent.status = "requires_payment_method";
        intent.payment_method = None;
        intent.last_payment_error = Some(last_error);
        if let Some(card) = error.card.as_mut() {
            card.payment_intent = Some(intent.to_json(ctx.livemode));
        }
        if let Some(token) = intent
            .token
            .as_ref()
            .and_then(|t| account.tokens.get_mut(t))
        {
            token.declines += 1;
        }
        account.intents.push(intent);
        return Err(error);
    }
    if request.capture_method == "manual" {
        intent.status = "requires_capture";
        intent.amount_capturable = intent.amount;
    } else {
        intent.status = "succeeded";
        intent.amount_received = intent.amount;
    }
    if let Some(token) = intent
        .token
        .as_ref()
        .and_then(|t| account.tokens.get_mut(t))
    {
        token.authorizations += 1;
        token.amount_captured += intent.amount_received;
        token.deactivated = Some((ctx.now, Deactivation::Consumed));
    }
    let json = intent.to_json(ctx.livemode);
    account.intents.push(intent);
    Ok(json)
}

fn not_found(id: &str) -> ApiError {
    ApiError::missing("payment_intent", id, "intent")
}

pub(crate) fn prepare_retrieve(params: &Params) -> Result<(), ApiError> {
    params.check_known(&[Allowed::List("expand"), Allowed::Key("client_secret")])
}

pub(crate) fn retrieve(id: &str, account: &Account, ctx: &Ctx) -> Result<Value, ApiError> {
    account
        .intent(id)
        .map(|i| i.to_json(ctx.livemode))
        .ok_or_else(|| not_found(id))
}

/// A validated capture.
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    amount: Option<i64>,
    metadata: BTreeMap<String, String>,
}

pub(crate) fn prepare_capture(params: &Params) -> Result<Capture, ApiError> {
    params.check_known(&[
        Allowed::Key("amount_to_capture"),
        Allowed::Key("final_capture"),
        Allowed::Map("metadata"),
        Allowed::List("expand"),
    ])?;
    params.opt_bool("final_capture")?;
    Ok(Capture {
        amount: params.opt_i64("amount_to_capture")?,
        metadata: params.metadata("metadata")?,
    })
}

fn unexpected_state(action: &str, status: &str, allowed: &str) -> ApiError {
    ApiError::invalid(format!(
        "This PaymentIntent could not be {action} because it has a status of {status}. Only a PaymentIntent with one of the following statuses may be {action}: {allowed}."
    ))
    .code("payment_intent_unexpected_state")
}

pub(crate) fn capture(
    id: &str,
    request: Capture,
    account: &mut Account,
    ctx: &Ctx,
) -> Result<Value, ApiError> {
    let intent = account.intent_mut(id).ok_or_else(|| not_found(id))?;
    if intent.status != "requires_capture" {
        return Err(unexpected_state(
            "captured",
            intent.status,
            "requires_capture",
        ));
    }
    let amount = request.amount.unwrap_or(intent.amount_capturable);
    if amount < 1 {
        return Err(ApiError::invalid("Invalid positive integer")
            .code("parameter_invalid_integer")
            .param("amount_to_capture"));
    }
    if amount > intent.amount_capturable {
        return Err(ApiError::invalid(format!(
            "The amount_to_capture ({amount}) must be less than or equal to the amount_capturable ({}).",
            intent.amount_capturable
        ))
        .code("amount_too_large")
        .param("amount_to_capture"));
    }
    intent.status = "succeeded";
    intent.amount_received = amount;
    intent.amount_capturable = 0;
    intent.metadata.extend(request.metadata);
    let json = intent.to_json(ctx.livemode);
    let token = intent.token.clone();
    if let Some(token) = token.and_then(|t| account.tokens.get_mut(&t)) {
        token.amount_captured += amount;
    }
    Ok(json)
}

pub(crate) fn prepare_cancel(params: &Params) -> Result<Option<&'static str>, ApiError> {
    params.check_known(&[Allowed::Key("cancellation_reason"), Allowed::List("expand")])?;
    params.opt_enum(
        "cancellation_reason",
        &[
            "duplicate",
            "fraudulent",
            "requested_by_customer",
            "abandoned",
        ],
    )
}

pub(crate) fn cancel(
    id: &str,
    reason: Option<&'static str>,
    account: &mut Account,
    ctx: &Ctx,
) -> Result<Value, ApiError> {
    let intent = account.intent_mut(id).ok_or_else(|| not_found(id))?;
    if !CANCELABLE.contains(&intent.status) {
        return Err(ApiError::invalid(format!(
            "You cannot cancel this PaymentIntent because it has a status of {}. Only a PaymentIntent with one of the following statuses may be canceled: {}.",
            intent.status,
            CANCELABLE.join(", ")
        ))
        .code("payment_intent_unexpected_state"));
    }
    intent.status = "canceled";
    intent.amount_capturable = 0;
    intent.canceled_at = Some(ctx.now);
    intent.cancellation_reason = reason;
    Ok(intent.to_json(ctx.livemode))
}
