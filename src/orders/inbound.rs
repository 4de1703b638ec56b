//! Shopify's order webhooks applied to the ACP orders they concern.
//!
//! The shop's webhook run (`sync::webhooks`) hands over every verified,
//! deduplicated delivery of an order topic. Orders that did not come from
//! ACP checkout are not stored here and are ignored. For ours, the REST
//! payload's fulfillments, refunds and cancellation are applied to the
//! stored [`OrderState`] (by upstream id, so a repeat changes nothing), and
//! a change commits together with an `order_update` event for the agent.
//!
//! Payload shapes: `orders/*` carry the whole order with `fulfillments[]`
//! and `refunds[]`; `fulfillments/*` one fulfillment and `refunds/create`
//! one refund, each with `order_id`. Money is read from the `*_set` /
//! transaction `amount` strings, never from the float fields.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde_json::Value;
use url::Url;

use super::model::{
    AdjustmentStatus, Cancellation, Fulfillment, FulfillmentKind, FulfillmentStatus, LineUnits,
    OrderState, Refund, RefundDestination,
};
use super::{OutboxWaker, commit_update, load};
use crate::config::CheckoutSettings;
use crate::domain::{Money, ShopId};
use crate::store::{InboxEntry, OrderChangeOutcome, Store};
use crate::sync::OrderWebhookSink;

/// Applies a shop's order webhooks to its ACP orders.
pub struct ShopifyOrderWebhooks {
    pub shop: ShopId,
    pub store: Store,
    pub settings: CheckoutSettings,
    pub waker: OutboxWaker,
}

/// Commit attempts when another writer changed the order meanwhile.
const CONFLICT_RETRIES: usize = 3;

fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(s.clone())
        }
        _ => None,
    }
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The order id a payload of `topic` concerns.
fn order_id(topic: &str, payload: &Value) -> Option<String> {
    if topic.starts_with("orders/") {
        id_of(&payload["id"])
    } else {
        id_of(&payload["order_id"])
    }
}

/// Units of our lines named by REST line items (`variant_id`, `quantity`).
fn units(
    order: &OrderState,
    items: &Value,
    line_item: impl Fn(&Value) -> &Value,
) -> Vec<LineUnits> {
    let mut out = Vec::new();
    for entry in items.as_array().into_iter().flatten() {
        let item = line_item(entry);
        let quantity = entry["quantity"].as_u64().unwrap_or(0);
        let line = id_of(&item["variant_id"]).and_then(|v| order.line_for_item(&v));
        if let (Some(line), Ok(quantity)) = (line, u32::try_from(quantity))
            && quantity > 0
        {
            out.push(LineUnits {
                line_id: line.id.clone(),
                quantity,
            });
        }
    }
    out
}

/// How far a shipment has come; a later payload never moves it back (a
/// cancelled or failed fulfillment is final).
fn progress(status: FulfillmentStatus) -> u8 {
    match status {
        FulfillmentStatus::Pending => 0,
        FulfillmentStatus::Processing => 1,
        FulfillmentStatus::Shipped => 2,
        FulfillmentStatus::InTransit => 3,
        FulfillmentStatus::OutForDelivery | FulfillmentStatus::ReadyForPickup => 4,
        FulfillmentStatus::Delivered => 5,
        FulfillmentStatus::Failed | FulfillmentStatus::Canceled => 6,
    }
}

/// A REST fulfillment as the order model sees it.
pub fn fulfillment(order: &OrderState, f: &Value) -> Option<Fulfillment> {
    let id = id_of(&f["id"])?;
    let status = match (f["status"].as_str(), f["shipment_status"].as_str()) {
        (Some("cancelled"), _) => FulfillmentStatus::Canceled,
        (Some("error" | "failure"), _) | (_, Some("failure")) => FulfillmentStatus::Failed,
        (_, Some("delivered")) => FulfillmentStatus::Delivered,
        (_, Some("out_for_delivery")) => FulfillmentStatus::OutForDelivery,
        (_, Some("ready_for_pickup")) => FulfillmentStatus::ReadyForPickup,
        (_, Some("in_transit" | "confirmed" | "attempted_delivery")) => {
            FulfillmentStatus::InTransit
        }
        (Some("success"), _) => FulfillmentStatus::Shipped,
        (Some("open"), _) => FulfillmentStatus::Processing,
        _ => FulfillmentStatus::Pending,
    };
    Some(Fulfillment {
        id,
        kind: FulfillmentKind::Shipping,
        status,
        lines: units(order, &f["line_items"], |item| item),
        carrier: f["tracking_company"].as_str().map(str::to_owned),
        tracking_number: f["tracking_number"].as_str().map(str::to_owned),
        tracking_url: f["tracking_url"].as_str().and_then(|u| Url::parse(u).ok()),
        events: Vec::new(),
    })
}

/// A REST refund as the order model sees it: the money is what its
/// successful refund transactions returned.
pub fn refund(order: &OrderState, r: &Value) -> Option<Refund> {
    let id = id_of(&r["id"])?;
    let mut amount = Money::new(0, order.currency);
    let (mut succeeded, mut pending, mut failed) = (false, false, false);
    let transactions = r["transactions"].as_array().map_or(&[][..], Vec::as_slice);
    for t in transactions
        .iter()
        .filter(|t| t["kind"].as_str() == Some("refund"))
    {
        match t["status"].as_str() {
            Some("success") => {
                let value = t["amount"]
                    .as_str()
                    .and_then(|a| Money::parse_decimal(a, order.currency).ok())?;
                amount = Money::new(amount.amount + value.amount, order.currency);
                succeeded = true;
            }
            Some("failure" | "error") => failed = true,
            _ => pending = true,
        }
    }
    // A refund of units alone has no transaction and is done at once.
    let status = if succeeded || !(pending || failed) {
        AdjustmentStatus::Completed
    } else if pending {
        AdjustmentStatus::Pending
    } else {
        AdjustmentStatus::Failed
    };
    let lines = units(order, &r["refund_line_items"], |entry| &entry["line_item"]);
    Some(Refund {
        id,
        status,
        amount,
        destination: RefundDestination::OriginalPayment,
        removes_units: !lines.is_empty(),
        lines,
        occurred_at: time(&r["processed_at"])
            .or_else(|| time(&r["created_at"]))
            .unwrap_or_else(Utc::now),
        reason: r["note"].as_str().map(str::to_owned),
    })
}

/// When the resource in `payload` of `topic` was last changed upstream.
fn stamp(topic: &str, payload: &Value) -> Option<DateTime<Utc>> {
    if topic.starts_with("refunds/") {
        time(&payload["processed_at"]).or_else(|| time(&payload["created_at"]))
    } else {
        time(&payload["updated_at"])
    }
}

/// Applies what `payload` of `topic` says to `order`; whether it changed.
/// A payload older than one already applied (deliveries come out of order)
/// is skipped: the newer one already carried its state.
///
/// # Errors
/// A payload the model refuses (units of a line the order lacks, another
/// currency).
pub fn apply(order: &mut OrderState, topic: &str, payload: &Value) -> Result<bool, String> {
    let stamp = stamp(topic, payload);
    if let (Some(seen), Some(at)) = (order.platform_seen_at, stamp)
        && at < seen
    {
        tracing::debug!(order.id = %order.id, webhook.topic = %topic, "stale order webhook skipped");
        return Ok(false);
    }
    let changed = apply_parts(order, topic, payload)?;
    if changed && stamp > order.platform_seen_at {
        order.platform_seen_at = stamp;
    }
    Ok(changed)
}

fn apply_parts(order: &mut OrderState, topic: &str, payload: &Value) -> Result<bool, String> {
    let mut changed = false;
    let mut fulfillments = Vec::new();
    let mut refunds = Vec::new();
    let mut cancelled = None;
    if topic.starts_with("orders/") {
        fulfillments.extend(payload["fulfillments"].as_array().into_iter().flatten());
        refunds.extend(payload["refunds"].as_array().into_iter().flatten());
        if let Some(at) = time(&payload["cancelled_at"]) {
            cancelled = Some(at);
        }
    } else if topic.starts_with("fulfillments/") {
        fulfillments.push(payload);
    } else if topic.starts_with("refunds/") {
        refunds.push(payload);
    }
    for f in fulfillments {
        if let Some(mut f) = fulfillment(order, f) {
            // Shopify's timestamps have seconds precision, so two payloads
            // of one second cannot be ordered by them; a shipment does not
            // go backwards, so the further status of the two stands.
            if let Some(known) = order.fulfillments.iter().find(|k| k.id == f.id)
                && progress(f.status) < progress(known.status)
            {
                f.status = known.status;
            }
            changed |= order.apply_fulfillment(f).map_err(|e| e.to_string())?;
        }
    }
    for r in refunds {
        if let Some(r) = refund(order, r) {
            changed |= order.apply_refund(r).map_err(|e| e.to_string())?;
        }
    }
    if let Some(at) = cancelled {
        changed |= order.apply_cancellation(Cancellation {
            id: format!("cancel-{}", order.id),
            occurred_at: at,
            reason: payload["cancel_reason"].as_str().map(str::to_owned),
        });
    }
    Ok(changed)
}

/// What [`apply_to_stored`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Not an order placed through ACP checkout.
    NotOurs,
    /// Nothing new (a repeat, or older than what is stored).
    Unchanged,
    /// Stored with an `order_update` for the agent.
    Changed,
}

/// Applies `payload` of `topic` to the stored ACP order `order_id` and
/// commits a change with its `order_update` event (retrying when another
/// writer changed the order meanwhile). Webhooks and the reconciliation
/// job's polling both come through here.
///
/// # Errors
/// Store I/O, a payload the model refuses, or an order that kept changing.
pub fn apply_to_stored(
    store: &Store,
    settings: &CheckoutSettings,
    waker: &OutboxWaker,
    shop: &ShopId,
    order_id: &str,
    topic: &str,
    payload: &Value,
) -> Result<Applied, String> {
    for _ in 0..CONFLICT_RETRIES {
        let Some(mut order) = load(store, shop, order_id).map_err(|e| e.to_string())? else {
            return Ok(Applied::NotOurs);
        };
        let revision = order.revision;
        if !apply(&mut order, topic, payload)? {
            return Ok(Applied::Unchanged);
        }
        match commit_update(store, settings, waker, &order, revision, Utc::now())
            .map_err(|e| e.to_string())?
        {
            OrderChangeOutcome::Committed { .. } => {
                tracing::info!(
                    order.id = %order_id,
                    order.status = ?order.status,
                    source = %topic,
                    "order updated from Shopify"
                );
                return Ok(Applied::Changed);
            }
            OrderChangeOutcome::Conflict { .. } => continue,
            OrderChangeOutcome::Missing => return Ok(Applied::NotOurs),
        }
    }
    Err(format!(
        "order {order_id} kept changing while applying {topic}"
    ))
}

impl ShopifyOrderWebhooks {
    async fn process(&self, entry: &InboxEntry, payload: &Value) -> Result<(), String> {
        let Some(id) = order_id(&entry.topic, payload) else {
            tracing::warn!(webhook.topic = %entry.topic, "order webhook without an order id; dropped");
            return Ok(());
        };
        apply_to_stored(
            &self.store,
            &self.settings,
            &self.waker,
            &self.shop,
            &id,
            &entry.topic,
            payload,
        )
        .map(|_| ())
    }
}

impl OrderWebhookSink for ShopifyOrderWebhooks {
    fn order_webhook(
        &self,
        entry: &InboxEntry,
        payload: &Value,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        let entry = entry.clone();
        let payload = payload.clone();
        Box::pin(async move { self.process(&entry, &payload).await })
    }
}
