//! API-level integration tests: one test binary, one module per area.

mod checkout;
mod cli;
mod helpers;
mod http;
mod lifecycle;
mod resilience;
mod schema;
mod sync;
