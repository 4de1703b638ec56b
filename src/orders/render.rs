//! Order webhook bodies, per ACP version. Always the whole order as it
//! stands, never a delta.
//!
//! - 2026-04-17: `{type, data: Order}` with line items, fulfillments,
//!   adjustments and totals.
//! - 2025-09-29 (launch): `{type, data: {type: "order", checkout_session_id,
//!   permalink_url, status, refunds[]}}`, where the status comes from the
//!   launch's closed set and `refunds` lists completed refunds and credits.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::model::{
    Adjustment, AdjustmentKind, AdjustmentStatus, Fulfillment, OrderLine, OrderState, OrderStatus,
};
use crate::checkout::ApiVersion;
use crate::domain::Money;

/// The event `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The first event of an order.
    OrderCreate,
    /// Any later change.
    OrderUpdate,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::OrderCreate => "order_create",
            EventKind::OrderUpdate => "order_update",
        }
    }
}

/// The webhook body announcing `order` for `version`, as JSON text.
pub fn render_event(version: ApiVersion, kind: EventKind, order: &OrderState) -> Vec<u8> {
    let value = event_value(version, kind, order);
    // Serializing a `Value` into a Vec cannot fail.
    serde_json::to_vec(&value).unwrap_or_default()
}

/// [`render_event`] as a JSON value.
pub fn event_value(version: ApiVersion, kind: EventKind, order: &OrderState) -> Value {
    let data = match version {
        ApiVersion::V2026_04_17 => order_2026(order),
        ApiVersion::V2025_09_29 => order_2025(order),
    };
    json!({"type": kind.as_str(), "data": data})
}

/// The launch version's status set has no `processing` or `completed`:
/// started orders are still `confirmed`, delivered ones `fulfilled`.
fn status_2025(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Created => "created",
        OrderStatus::ManualReview => "manual_review",
        OrderStatus::Confirmed | OrderStatus::Processing => "confirmed",
        OrderStatus::Shipped => "shipped",
        OrderStatus::Completed => "fulfilled",
        OrderStatus::Canceled => "canceled",
    }
}

fn order_2025(order: &OrderState) -> Value {
    let refunds: Vec<Value> = order
        .adjustments
        .iter()
        .filter(|a| a.status == AdjustmentStatus::Completed)
        .filter_map(|a| {
            let kind = match a.kind {
                AdjustmentKind::Refund => "original_payment",
                AdjustmentKind::Credit => "store_credit",
                _ => return None,
            };
            a.amount.map(|m| json!({"type": kind, "amount": m.amount}))
        })
        .collect();
    json!({
        "type": "order",
        "checkout_session_id": order.checkout_session_id,
        "permalink_url": order.permalink_url.as_str(),
        "status": status_2025(order.status),
        "refunds": refunds,
    })
}

fn order_2026(order: &OrderState) -> Value {
    let mut o = Map::new();
    o.insert("type".into(), json!("order"));
    o.insert("id".into(), json!(order.id));
    o.insert(
        "checkout_session_id".into(),
        json!(order.checkout_session_id),
    );
    o.insert("order_number".into(), json!(order.platform.name));
    o.insert("permalink_url".into(), json!(order.permalink_url.as_str()));
    o.insert("status".into(), json!(order.status.as_str()));
    o.insert(
        "line_items".into(),
        order.lines.iter().map(line).collect::<Vec<_>>().into(),
    );
    o.insert(
        "fulfillments".into(),
        order
            .fulfillments
            .iter()
            .map(fulfillment)
            .collect::<Vec<_>>()
            .into(),
    );
    o.insert(
        "adjustments".into(),
        order
            .adjustments
            .iter()
            .map(adjustment)
            .collect::<Vec<_>>()
            .into(),
    );
    o.insert("totals".into(), totals(order).into());
    Value::Object(o)
}

fn line(l: &OrderLine) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(l.id));
    v.insert("title".into(), json!(l.title));
    if let Some(url) = &l.image_url {
        v.insert("image_url".into(), json!(url.as_str()));
    }
    v.insert(
        "quantity".into(),
        json!({
            "ordered": l.quantity.ordered,
            "current": l.quantity.current,
            "fulfilled": l.quantity.fulfilled,
        }),
    );
    v.insert("unit_price".into(), json!(l.unit_price.amount));
    v.insert("subtotal".into(), json!(l.subtotal.amount));
    v.insert("status".into(), json!(l.status().as_str()));
    Value::Object(v)
}

fn units(refs: &[super::model::LineUnits]) -> Value {
    refs.iter()
        .filter(|u| u.quantity > 0)
        .map(|u| json!({"id": u.line_id, "quantity": u.quantity}))
        .collect::<Vec<_>>()
        .into()
}

fn fulfillment(f: &Fulfillment) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(f.id));
    v.insert("type".into(), json!(f.kind.as_str()));
    v.insert("status".into(), json!(f.status.as_str()));
    v.insert("line_items".into(), units(&f.lines));
    if let Some(c) = &f.carrier {
        v.insert("carrier".into(), json!(c));
    }
    if let Some(n) = &f.tracking_number {
        v.insert("tracking_number".into(), json!(n));
    }
    if let Some(u) = &f.tracking_url {
        v.insert("tracking_url".into(), json!(u.as_str()));
    }
    let events: Vec<Value> = f
        .events
        .iter()
        .map(|e| {
            let mut ev = Map::new();
            ev.insert("id".into(), json!(e.id));
            ev.insert("type".into(), json!(e.kind.as_str()));
            ev.insert("occurred_at".into(), json!(rfc3339(e.occurred_at)));
            if let Some(d) = &e.description {
                ev.insert("description".into(), json!(d));
            }
            if let Some(l) = &e.location {
                ev.insert("location".into(), json!(l));
            }
            Value::Object(ev)
        })
        .collect();
    v.insert("events".into(), events.into());
    Value::Object(v)
}

fn adjustment(a: &Adjustment) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(a.id));
    v.insert("type".into(), json!(a.kind.as_str()));
    v.insert("occurred_at".into(), json!(rfc3339(a.occurred_at)));
    v.insert("status".into(), json!(a.status.as_str()));
    if !a.lines.is_empty() {
        v.insert("line_items".into(), units(&a.lines));
    }
    if let Some(m) = a.amount {
        v.insert("amount".into(), json!(m.amount));
        v.insert(
            "currency".into(),
            json!(m.currency.as_str().to_ascii_lowercase()),
        );
    }
    if let Some(r) = &a.reason {
        v.insert("reason".into(), json!(r));
    }
    Value::Object(v)
}

fn total(kind: &str, text: &str, amount: Money) -> Value {
    json!({"type": kind, "display_text": text, "amount": amount.amount})
}

/// Order totals: the charge as it was, plus cumulative refunds once any.
fn totals(order: &OrderState) -> Vec<Value> {
    let t = &order.totals;
    let mut out = Vec::new();
    if t.items_discount.amount != 0 {
        out.push(total("items_base_amount", "Items", t.items_base_amount));
        out.push(total("items_discount", "Item discounts", t.items_discount));
    }
    out.push(total("subtotal", "Subtotal", t.subtotal));
    if t.discount.amount != 0 {
        out.push(total("discount", "Discount", t.discount));
    }
    if let Some(f) = t.fulfillment {
        out.push(total("fulfillment", "Shipping", f));
    }
    if let Some(tax) = t.tax {
        out.push(total("tax", "Tax", tax));
    }
    if let Some(fee) = t.fee.filter(|f| f.amount != 0) {
        out.push(total("fee", "Fees", fee));
    }
    out.push(total("total", "Total", t.total));
    if t.amount_refunded.amount != 0 {
        out.push(total("amount_refunded", "Refunded", t.amount_refunded));
    }
    out
}

fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
