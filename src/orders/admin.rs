//! The order-event outbox as operators see it (`acp-bridge outbox …` and
//! the admin API): one line per undelivered event, with no order content
//! beyond ids and status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::OrderEvent;
use crate::domain::ShopId;
use crate::store::{OutboxEntry, OutboxState, Store, StoreError};

/// One undelivered event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEventView {
    pub id: u64,
    pub shop: String,
    pub order_id: String,
    pub checkout_session_id: String,
    /// `order_create` or `order_update`.
    pub kind: String,
    /// The order status the event announces.
    pub order_status: String,
    pub agent: Option<String>,
    /// `pending` or `dead`.
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl OutboxEventView {
    fn of(shop: &ShopId, entry: &OutboxEntry<OrderEvent>) -> Self {
        let order = &entry.event.order;
        OutboxEventView {
            id: entry.id,
            shop: shop.to_string(),
            order_id: entry.order_id.clone(),
            checkout_session_id: order.checkout_session_id.clone(),
            kind: entry.event.kind.as_str().to_owned(),
            order_status: order.status.as_str().to_owned(),
            agent: order.agent.clone(),
            state: entry.state.as_str().to_owned(),
            attempts: entry.attempts,
            next_attempt_at: entry.next_attempt_at,
            last_error: entry.last_error.clone(),
            created_at: entry.created_at,
        }
    }

    pub fn is_dead(&self) -> bool {
        self.state == OutboxState::Dead.as_str()
    }
}

/// Every undelivered event of `shop`, oldest first.
///
/// # Errors
/// Store I/O or an unreadable entry.
pub fn list(store: &Store, shop: &ShopId) -> Result<Vec<OutboxEventView>, StoreError> {
    Ok(store
        .outbox_entries::<OrderEvent>(shop)?
        .iter()
        .map(|e| OutboxEventView::of(shop, e))
        .collect())
}

/// Makes event `id` due now with a fresh set of attempts (dead events
/// become pending). `false` when `shop` has no such event. Wake the shop's
/// worker afterwards when it runs in this process.
///
/// # Errors
/// Store I/O.
pub fn retry(store: &Store, shop: &ShopId, id: u64) -> Result<bool, StoreError> {
    let found = store.retry_event(shop, id, Utc::now())?;
    if found {
        tracing::info!(shop = %shop, event.id = id, "order event retried by an operator");
    }
    Ok(found)
}

/// Deletes event `id` undelivered. `false` when `shop` has no such event.
///
/// # Errors
/// Store I/O.
pub fn drop_event(store: &Store, shop: &ShopId, id: u64) -> Result<bool, StoreError> {
    let found = store.drop_event(shop, id)?;
    if found {
        tracing::info!(shop = %shop, event.id = id, "order event dropped by an operator");
    }
    Ok(found)
}

/// The operator's table of `events`.
pub fn render_table(events: &[OutboxEventView]) -> String {
    use std::fmt::Write;
    if events.is_empty() {
        return "no undelivered order events\n".to_owned();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:<10} {:<14} {:<12} {:<14} {:<8} {:>8}  {:<20}  last error",
        "id", "shop", "order", "event", "status", "state", "attempts", "next attempt (UTC)"
    );
    for e in events {
        let _ = writeln!(
            out,
            "{:<12} {:<10} {:<14} {:<12} {:<14} {:<8} {:>8}  {:<20}  {}",
            e.id,
            e.shop,
            e.order_id,
            e.kind,
            e.order_status,
            e.state,
            e.attempts,
            if e.is_dead() {
                "-".to_owned()
            } else {
                e.next_attempt_at.format("%Y-%m-%d %H:%M:%S").to_string()
            },
            e.last_error.as_deref().unwrap_or("-")
        );
    }
    out
}
