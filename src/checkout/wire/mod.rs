//! Wire adapters: one module per served ACP version, each turning request
//! bytes into the internal model and the model into that version's JSON.
//!
//! - [`v2025_09_29`]: launch shapes (`items`, `fulfillment_address`,
//!   `payment_provider`, flat line amounts).
//! - [`v2026_04_17`]: current shapes (`line_items` with `totals[]`,
//!   `fulfillment_details`, capabilities and payment handlers).
//! - [`common`]: JSONPath, body decoding, shared conversions.
//!
//! The functions here dispatch on [`ApiVersion`]. Adapters hold no business
//! rules: they check shape (types, required keys, country and quantity
//! ranges) and leave pricing, stock and state decisions to the service.

pub mod common;
pub mod v2025_09_29;
pub mod v2026_04_17;

use serde_json::Value;
use url::Url;

use super::error::AcpError;
use super::model::{
    CancelSession, CompleteSession, CreateSession, InterventionType, Link, Session, UpdateSession,
};
use super::version::ApiVersion;

/// What the seller advertises alongside every session: the payment method,
/// policy links and negotiable capabilities. Built once per shop from config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerContext {
    pub payment: StripeCardHandler,
    /// Policy links shown with every session (see [`Link::from_policies`]).
    pub links: Vec<Link>,
    /// Interventions the seller can run; responses list the intersection
    /// with what the agent offered.
    pub interventions: Vec<InterventionType>,
    /// Extensions the seller supports; responses declare those the agent
    /// also named.
    pub extensions: Vec<SellerExtension>,
}

impl SellerContext {
    /// A seller paid through Stripe shared payment tokens, with its policy
    /// links, no interventions (the daemon cannot run 3-D Secure yet) and no
    /// extensions.
    pub fn stripe(merchant_id: impl Into<String>, links: Vec<Link>) -> Self {
        SellerContext {
            payment: StripeCardHandler::new(merchant_id),
            links,
            interventions: Vec::new(),
            extensions: Vec::new(),
        }
    }
}

/// Card payments by Stripe shared payment token: a 2026-04-17
/// `dev.acp.tokenized.card` handler with psp `stripe`, and the 2025-09-29
/// `payment_provider {provider: stripe, supported_payment_methods: [card]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeCardHandler {
    /// Our handler id; complete requests name it in `payment_data.handler_id`.
    pub id: String,
    /// The Stripe account (`acct_…`) the tokens are granted to.
    pub merchant_id: String,
    /// Card brands accepted (`visa`, `mastercard`, …).
    pub accepted_brands: Vec<String>,
    pub supports_3ds: bool,
}

impl StripeCardHandler {
    /// The default handler id, [`StripeCardHandler::DEFAULT_ID`].
    pub const DEFAULT_ID: &'static str = "stripe_card";
    /// Reverse-DNS handler name for delegated card tokens.
    pub const NAME: &'static str = "dev.acp.tokenized.card";
    /// Handler spec version and URLs, as the 2026-04-17 examples publish them.
    pub const VERSION: &'static str = "2026-01-22";
    pub const SPEC: &'static str = "https://acp.dev/handlers/tokenized.card";
    pub const CONFIG_SCHEMA: &'static str =
        "https://acp.dev/schemas/handlers/tokenized.card/config.json";
    pub const INSTRUMENT_SCHEMA: &'static str =
        "https://acp.dev/schemas/handlers/tokenized.card/instrument.json";

    pub fn new(merchant_id: impl Into<String>) -> Self {
        StripeCardHandler {
            id: Self::DEFAULT_ID.to_owned(),
            merchant_id: merchant_id.into(),
            accepted_brands: ["visa", "mastercard", "amex", "discover"]
                .map(str::to_owned)
                .to_vec(),
            supports_3ds: false,
        }
    }
}

/// An extension the seller implements (`discount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerExtension {
    pub name: String,
    pub spec: Option<Url>,
    pub schema: Option<Url>,
}

/// Parses a create body in `version`.
///
/// # Errors
/// A 400 [`AcpError`] whose `param` points at the offending field.
pub fn parse_create(version: ApiVersion, body: &[u8]) -> Result<CreateSession, AcpError> {
    match version {
        ApiVersion::V2025_09_29 => v2025_09_29::parse_create(body),
        ApiVersion::V2026_04_17 => v2026_04_17::parse_create(body),
    }
}

/// Parses an update body in `version`.
///
/// # Errors
/// A 400 [`AcpError`] whose `param` points at the offending field.
pub fn parse_update(version: ApiVersion, body: &[u8]) -> Result<UpdateSession, AcpError> {
    match version {
        ApiVersion::V2025_09_29 => v2025_09_29::parse_update(body),
        ApiVersion::V2026_04_17 => v2026_04_17::parse_update(body),
    }
}

/// Parses a complete body in `version`.
///
/// # Errors
/// A 400 [`AcpError`] whose `param` points at the offending field.
pub fn parse_complete(version: ApiVersion, body: &[u8]) -> Result<CompleteSession, AcpError> {
    match version {
        ApiVersion::V2025_09_29 => v2025_09_29::parse_complete(body),
        ApiVersion::V2026_04_17 => v2026_04_17::parse_complete(body),
    }
}

/// Parses a cancel body (possibly empty) in `version`.
///
/// # Errors
/// A 400 [`AcpError`] for a body that is present but malformed.
pub fn parse_cancel(version: ApiVersion, body: &[u8]) -> Result<CancelSession, AcpError> {
    match version {
        ApiVersion::V2025_09_29 => v2025_09_29::parse_cancel(body),
        ApiVersion::V2026_04_17 => v2026_04_17::parse_cancel(body),
    }
}

/// The session as `version` shows it (a `CheckoutSession`, or
/// `CheckoutSessionWithOrder` when it has an order).
pub fn render_session(version: ApiVersion, session: &Session, seller: &SellerContext) -> Value {
    match version {
        ApiVersion::V2025_09_29 => v2025_09_29::render_session(session, seller),
        ApiVersion::V2026_04_17 => v2026_04_17::render_session(session, seller),
    }
}

/// The error body for `version`.
pub fn render_error(version: ApiVersion, error: &AcpError) -> Value {
    error.render(version)
}
