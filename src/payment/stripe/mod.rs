//! Stripe client for ACP shared payment tokens (SPT): check a granted token,
//! charge it once through a PaymentIntent, capture, cancel, refund, and find
//! PaymentIntents by metadata for reconciliation.
//!
//! Our own `reqwest` client (no Rust Stripe crate knows SPTs): form bodies,
//! the secret key as a Bearer token, a pinned preview `Stripe-Version`
//! ([`DEFAULT_API_VERSION`]), and retries with capped jittered back-off that
//! always resend the same `Idempotency-Key`. Every write takes an
//! [`IdempotencyKey`] argument, so a retried checkout step cannot charge
//! twice. Amounts are [`crate::domain::Money`].
//!
//! Errors are [`StripeError`]: a decline ([`StripeError::Declined`]) is for
//! the buyer, an unusable token ([`StripeError::TokenUnusable`]) needs a new
//! token from the agent, and [`StripeError::Ambiguous`] means "maybe
//! applied": reconcile by calling again with the same key, or with
//! [`StripeClient::find_by_metadata`]. Tokens and keys never appear in error
//! text, `Debug` output or logs.
//!
//! Layout: `client.rs` (settings, retries, operations), `model.rs` (typed
//! values), `wire.rs` (Stripe JSON and amount conversion), `error.rs`.

mod client;
mod error;
mod model;
mod wire;

#[cfg(test)]
mod tests;

pub use client::{
    DEFAULT_API_BASE, DEFAULT_API_VERSION, RetryPolicy, StripeClient, StripeSettings,
};
pub use error::{StripeError, TokenUnusableReason, redact};
pub use model::{
    CancellationReason, CaptureMethod, CaptureMode, ChargeRequest, GrantedToken, IdempotencyKey,
    PaymentIntent, PaymentIntentStatus, Refund, RefundStatus, TokenDeactivation,
};
