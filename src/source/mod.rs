//! Catalog sources.
pub mod shopify;
