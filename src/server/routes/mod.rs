//! Handlers, one file per URL subtree.

pub mod admin;
pub mod feed;
pub mod health;
