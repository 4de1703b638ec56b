//! Handlers, one file per URL subtree.

pub mod admin;
pub mod checkout;
pub mod feed;
pub mod health;
pub mod outbox;
pub mod shopify_webhooks;
