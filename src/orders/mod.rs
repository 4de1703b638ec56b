//! Orders after checkout: their durable state, and the signed order
//! webhooks that tell the agent about them, delivered from an outbox in the
//! store.
//!
//! - `model.rs`: [`OrderState`], built from a completed checkout and
//!   changed by fulfillments, refunds and cancellations (status derived).
//! - `render.rs`: the webhook body of each ACP version (always the whole
//!   order).
//! - `signing.rs`: `Merchant-Signature` and its verifier.
//! - `delivery.rs`: the per-shop worker that drains the outbox with
//!   backoff, dead-lettering and per-order ordering.
//! - `admin.rs`: the outbox as the CLI and the admin API show it.
//!
//! An event is enqueued in the same store transaction as the order change
//! it announces ([`crate::store::Store::commit_checkout_with_order`],
//! [`commit_update`]), so a crash never loses or invents one. Nothing here
//! touches sled or axum; the store keeps the states and the outbox, the
//! server routes only call [`admin`].

pub mod admin;
pub mod delivery;
pub mod inbound;
pub mod model;
pub mod reconcile;
pub mod render;
pub mod signing;
#[cfg(test)]
mod spec;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use delivery::{DeliveryWorker, OutboxWaker};
pub use model::{OrderError, OrderState, OrderStatus};
pub use reconcile::{ReconcileReport, Reconciler};
pub use render::EventKind;

use crate::config::CheckoutSettings;
use crate::domain::ShopId;
use crate::store::{OrderChangeOutcome, Store, StoreError};

/// What the outbox holds per event: whom to tell, and the order as it was
/// when the event was made (the body is rendered from it at delivery, in
/// the receiver's version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub kind: EventKind,
    /// `Request-Id` of every delivery attempt of this event, so a receiver
    /// can recognise a retry of something it already processed.
    pub request_id: String,
    pub order: OrderState,
}

impl OrderEvent {
    fn new(kind: EventKind, order: &OrderState) -> Self {
        OrderEvent {
            kind,
            request_id: format!("ordevt_{}", uuid::Uuid::new_v4().simple()),
            order: order.clone(),
        }
    }

    /// The first event of a new order.
    pub fn create(order: &OrderState) -> Self {
        Self::new(EventKind::OrderCreate, order)
    }

    /// An event announcing `order` as it now stands.
    pub fn update(order: &OrderState) -> Self {
        Self::new(EventKind::OrderUpdate, order)
    }
}

/// Whether orders of sessions created by `agent` are announced: the agent
/// is configured with a webhook.
pub fn wants_events(settings: &CheckoutSettings, agent: Option<&str>) -> bool {
    agent.is_some_and(|id| {
        settings
            .agents
            .iter()
            .any(|a| a.id == id && a.webhook.is_some())
    })
}

/// Stores a changed order (read at `expected_revision`, changed through
/// the `apply_*` methods) and, in the same transaction, an `order_update`
/// event when the order's agent receives events; then wakes the shop's
/// delivery worker.
///
/// # Errors
/// Store I/O. A concurrent change shows as
/// [`OrderChangeOutcome::Conflict`]: reload and apply again.
pub fn commit_update(
    store: &Store,
    settings: &CheckoutSettings,
    waker: &OutboxWaker,
    order: &OrderState,
    expected_revision: u64,
    now: DateTime<Utc>,
) -> Result<OrderChangeOutcome, StoreError> {
    let event = wants_events(settings, order.agent.as_deref()).then(|| OrderEvent::update(order));
    let outcome = store.commit_order_change(
        &order.shop,
        &order.id,
        expected_revision,
        order,
        event.as_ref(),
        now,
    )?;
    if let OrderChangeOutcome::Committed {
        event_id: Some(event_id),
    } = outcome
    {
        tracing::info!(
            shop = %order.shop,
            order.id = %order.id,
            order.status = order.status.as_str(),
            event.id = event_id,
            "order update enqueued"
        );
        waker.wake();
    }
    Ok(outcome)
}

/// The stored state of order `order_id` of `shop`.
///
/// # Errors
/// Store I/O or an unreadable value.
pub fn load(
    store: &Store,
    shop: &ShopId,
    order_id: &str,
) -> Result<Option<OrderState>, StoreError> {
    store.order_state(shop, order_id)
}
