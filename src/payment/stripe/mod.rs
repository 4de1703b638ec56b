//! Stripe client: shared payment tokens (SPT) and PaymentIntents.
