//! Catalog sources.
pub mod etsy;
pub mod shopify;
