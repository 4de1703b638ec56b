//! The emulated endpoints, split in two phases: `prepare` validates the
//! parameters (its errors are never saved under an Idempotency-Key), and
//! `execute` runs against the account's objects (its answers are saved).

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::error::ApiError;
use super::form::Params;
use super::state::Account;
use super::{intents, refunds, search, tokens};

/// One endpoint with its path ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    CreateGrantedToken,
    RetrieveGrantedToken(String),
    RevokeGrantedToken(String),
    CreateIntent,
    RetrieveIntent(String),
    CaptureIntent(String),
    CancelIntent(String),
    SearchIntents,
    CreateRefund,
}

impl Endpoint {
    /// Method and route template, for counters and idempotency fingerprints.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Endpoint::CreateGrantedToken => "POST /v1/test_helpers/shared_payment/granted_tokens",
            Endpoint::RetrieveGrantedToken(_) => "GET /v1/shared_payment/granted_tokens/{id}",
            Endpoint::RevokeGrantedToken(_) => {
                "POST /v1/test_helpers/shared_payment/granted_tokens/{id}/revoke"
            }
            Endpoint::CreateIntent => "POST /v1/payment_intents",
            Endpoint::RetrieveIntent(_) => "GET /v1/payment_intents/{intent}",
            Endpoint::CaptureIntent(_) => "POST /v1/payment_intents/{intent}/capture",
            Endpoint::CancelIntent(_) => "POST /v1/payment_intents/{intent}/cancel",
            Endpoint::SearchIntents => "GET /v1/payment_intents/search",
            Endpoint::CreateRefund => "POST /v1/refunds",
        }
    }

    /// Whether the request may carry an Idempotency-Key that matters.
    pub(crate) fn is_post(&self) -> bool {
        self.label().starts_with("POST")
    }

    /// Whether only versions that know shared payment tokens have it.
    pub(crate) fn needs_shared_payment(&self) -> bool {
        matches!(
            self,
            Endpoint::CreateGrantedToken
                | Endpoint::RetrieveGrantedToken(_)
                | Endpoint::RevokeGrantedToken(_)
        )
    }

    /// Whether it exists in test mode only.
    pub(crate) fn test_mode_only(&self) -> bool {
        matches!(
            self,
            Endpoint::CreateGrantedToken | Endpoint::RevokeGrantedToken(_)
        )
    }

    /// The concrete fingerprint path (ids included).
    pub(crate) fn path_key(&self) -> String {
        let id = match self {
            Endpoint::RetrieveGrantedToken(id)
            | Endpoint::RevokeGrantedToken(id)
            | Endpoint::RetrieveIntent(id)
            | Endpoint::CaptureIntent(id)
            | Endpoint::CancelIntent(id) => id.as_str(),
            _ => "",
        };
        self.label().replace("{id}", id).replace("{intent}", id)
    }
}

/// What a request runs with.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub livemode: bool,
    /// The version in force knows shared payment tokens.
    pub shared_payment: bool,
    /// Unix seconds on the emulator clock.
    pub now: i64,
    /// Now on the tokio clock (search visibility).
    pub instant: Instant,
    /// When objects created now become searchable.
    pub searchable_at: Instant,
}

impl Ctx {
    pub(crate) fn new(livemode: bool, shared_payment: bool, now: i64, delay: Duration) -> Self {
        let instant = Instant::now();
        Ctx {
            livemode,
            shared_payment,
            now,
            instant,
            searchable_at: instant + delay,
        }
    }
}

/// A request that passed validation.
#[derive(Debug, Clone)]
pub(crate) enum Prepared {
    CreateGrantedToken(tokens::Create),
    RetrieveGrantedToken(String),
    RevokeGrantedToken(String),
    CreateIntent(intents::Create),
    RetrieveIntent(String),
    CaptureIntent(String, intents::Capture),
    CancelIntent(String, Option<&'static str>),
    SearchIntents(search::Search),
    CreateRefund(refunds::Create),
}

/// Validates the parameters of `endpoint`.
pub(crate) fn prepare(
    endpoint: &Endpoint,
    params: &Params,
    ctx: &Ctx,
) -> Result<Prepared, ApiError> {
    Ok(match endpoint {
        Endpoint::CreateGrantedToken => {
            Prepared::CreateGrantedToken(tokens::prepare_create(params, ctx.now)?)
        }
        Endpoint::RetrieveGrantedToken(id) => {
            tokens::prepare_id_only(params)?;
            Prepared::RetrieveGrantedToken(id.clone())
        }
        Endpoint::RevokeGrantedToken(id) => {
            tokens::prepare_id_only(params)?;
            Prepared::RevokeGrantedToken(id.clone())
        }
        Endpoint::CreateIntent => Prepared::CreateIntent(intents::prepare_create(params, ctx)?),
        Endpoint::RetrieveIntent(id) => {
            intents::prepare_retrieve(params)?;
            Prepared::RetrieveIntent(id.clone())
        }
        Endpoint::CaptureIntent(id) => {
            Prepared::CaptureIntent(id.clone(), intents::prepare_capture(params)?)
        }
        Endpoint::CancelIntent(id) => {
            Prepared::CancelIntent(id.clone(), intents::prepare_cancel(params)?)
        }
        Endpoint::SearchIntents => Prepared::SearchIntents(search::prepare(params)?),
        Endpoint::CreateRefund => Prepared::CreateRefund(refunds::prepare_create(params)?),
    })
}

/// Runs a validated request against the caller's account.
pub(crate) fn execute(
    prepared: Prepared,
    account: &mut Account,
    ctx: &Ctx,
) -> Result<Value, ApiError> {
    match prepared {
        Prepared::CreateGrantedToken(request) => Ok(tokens::create(request, account, ctx)),
        Prepared::RetrieveGrantedToken(id) => tokens::retrieve(&id, account, ctx),
        Prepared::RevokeGrantedToken(id) => tokens::revoke(&id, account, ctx),
        Prepared::CreateIntent(request) => intents::create(request, account, ctx),
        Prepared::RetrieveIntent(id) => intents::retrieve(&id, account, ctx),
        Prepared::CaptureIntent(id, request) => intents::capture(&id, request, account, ctx),
        Prepared::CancelIntent(id, reason) => intents::cancel(&id, reason, account, ctx),
        Prepared::SearchIntents(request) => Ok(search::run(&request, account, ctx)),
        Prepared::CreateRefund(request) => refunds::create(request, account, ctx),
    }
}
