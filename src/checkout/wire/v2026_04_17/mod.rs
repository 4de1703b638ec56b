//! ACP 2026-04-17, the latest stable version.
//!
//! Requests: `line_items[{id}]` (plus the `quantity` the schema forgot,
//! upstream issue #264), required `currency`, `capabilities`,
//! `fulfillment_details`, `selected_fulfillment_options`, `discounts`,
//! `payment_data{handler_id, instrument{type, credential{type, token}}}`,
//! `authentication_result`, cancel `intent_trace`. Responses: `protocol`,
//! negotiated `capabilities` with payment handlers, line items with
//! `totals[]`, fulfillment options with `totals[]`, warnings, eight link
//! types, rich `order`. `affiliate_attribution` is write-only: it is never
//! parsed into the model, so it can never be echoed.

mod parse;
mod render;

pub use parse::{parse_cancel, parse_complete, parse_create, parse_update};
pub use render::{param, render_session};

use super::common::JsonPath;

/// `$.line_items`, the request's cart in this version.
fn line_items_path() -> JsonPath {
    JsonPath::root().key("line_items")
}
