//! Payment service providers the checkout charges through.
//!
//! - [`stripe`]: Stripe PaymentIntents paid with ACP shared payment tokens.
pub mod stripe;
