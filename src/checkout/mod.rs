//! ACP Agentic Checkout: the internal session model, the per-version wire
//! adapters (2025-09-29 and 2026-04-17) and the session service. No axum
//! types here; `server` maps HTTP to these functions.
//!
//! Layout (dependencies point downwards):
//!
//! - [`version`]: [`ApiVersion`], parsed from the `API-Version` header; the
//!   served versions oldest first; the missing/unsupported version errors.
//! - [`error`]: [`AcpError`], the protocol error (HTTP status, ACP type and
//!   code, JSONPath `param`) with constructors for every common case and a
//!   per-version `render`.
//! - [`model`]: the one version-neutral model. [`model::Session`] is what
//!   the service stores (serde JSON) and every response renders;
//!   [`model::Message`] targets are version-neutral; the request types
//!   ([`model::CreateSession`], [`model::UpdateSession`] with
//!   [`model::Patch`] for absent-vs-null, [`model::CompleteSession`],
//!   [`model::CancelSession`]) are what the adapters parse.
//! - [`wire`]: `parse_*`/`render_session`/`render_error` per version behind
//!   one dispatch on [`ApiVersion`], plus [`wire::SellerContext`] (payment
//!   handler, policy links, capabilities the seller offers).
//! - [`discovery`]: the `/.well-known/acp.json` document.
//!
//! A request flows: route reads `API-Version` → [`ApiVersion::from_header`]
//! → `wire::parse_*(version, body)` → service works on the model →
//! `wire::render_session(version, &session, &seller)` or
//! `AcpError::render(version)`. Business problems (stock, address, payment
//! declined) are session messages on a 2xx, never an `AcpError`.

pub mod discovery;
pub mod error;
pub mod model;
pub mod service;
pub mod version;
pub mod wire;

#[cfg(test)]
mod tests;

pub use error::{AcpError, ErrorKind};
pub use version::{ApiVersion, VersionError};
pub use wire::SellerContext;
