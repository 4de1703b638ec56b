//! ACP Agentic Checkout: the internal session model, the per-version wire
//! adapters (2025-09-29 and 2026-04-17) and the session service. No axum
//! types here; `server` maps HTTP to these functions.
