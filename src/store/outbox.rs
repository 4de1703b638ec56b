//! Order states and the durable outbox of order events, kept in the
//! `checkout` tree so that a session, its order state and the event that
//! announces the order commit together (sled batches and transactions are
//! per tree).
//!
//! Keys (beside the session and idempotency keys of `checkout.rs`):
//! - `o\0{shop}\0{order_id}` → the order state (opaque to the store: the
//!   orders module's type, JSON with the version byte);
//! - `e\0{shop}\0{id: u64 big-endian}` → [`OutboxEntry`], whose `event` is
//!   again opaque. Ids come from sled's monotonic id generator, so within a
//!   shop the key order is the order in which events were enqueued.
//!
//! Delivery order is per order: [`Store::due_events`] offers only the oldest
//! pending event of each order, so an order's next event waits until the
//! previous one is delivered (and removed) or dead. Dead events stay until
//! an operator retries or drops them.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::checkout::checkout_batch;
use super::{IdempotencyScope, Store, StoreError, StoredResponse, keys};
use crate::domain::ShopId;

/// Where an outbox entry is in its life. Delivered entries are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for its next attempt (or for an earlier event of its order).
    Pending,
    /// Gave up after the attempt limit; waits for `retry` or `drop`.
    Dead,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Dead => "dead",
        }
    }
}

/// One queued event with its delivery bookkeeping. `E` is the caller's
/// event payload, stored as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry<E> {
    /// Unique across the store; the CLI names events by it.
    pub id: u64,
    /// Events of one order are delivered one at a time, in id order.
    pub order_id: String,
    pub created_at: DateTime<Utc>,
    pub state: OutboxState,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not offered by [`Store::due_events`] before this time.
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed: a short, fixed-form description (HTTP
    /// status, timeout), never a response body, a secret or personal data.
    pub last_error: Option<String>,
    pub event: E,
}

/// The order state (and optionally an event) written with a completed
/// checkout by [`Store::commit_checkout_with_order`].
pub struct OrderCommit<'a, O, E> {
    pub order_id: &'a str,
    pub order: &'a O,
    pub event: Option<&'a E>,
}

/// Stored values that carry a revision number, bumped on every change.
pub trait Revisioned {
    fn revision(&self) -> u64;
}

/// The result of [`Store::commit_order_change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderChangeOutcome {
    /// Stored; `event_id` is the id of the enqueued event, if one was given.
    Committed { event_id: Option<u64> },
    /// The stored order is not at the expected revision (someone else
    /// changed it since it was read): nothing was written. Reload, apply
    /// the change again and retry.
    Conflict { stored_revision: u64 },
    /// No order with that id is stored.
    Missing,
}

/// What a delivery attempt that failed leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureNext {
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Give up: the entry becomes [`OutboxState::Dead`].
    Dead,
}

/// Counts over a shop's outbox, for metrics and the CLI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    pub pending: u64,
    pub dead: u64,
    /// Creation time of the oldest pending entry.
    pub oldest_pending: Option<DateTime<Utc>>,
}

/// The answer of [`Store::due_events`].
#[derive(Debug, Clone)]
pub struct DueEvents<E> {
    /// At most one per order (its oldest pending event), oldest first.
    pub due: Vec<OutboxEntry<E>>,
    /// The earliest future attempt among the heads of the orders not due
    /// now (when the caller should look again), if any.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub stats: OutboxStats,
}

fn order_key(shop: &ShopId, order_id: &str) -> Vec<u8> {
    let mut k = b"o\0".to_vec();
    k.extend_from_slice(shop.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(order_id.as_bytes());
    k
}

fn outbox_prefix(shop: &ShopId) -> Vec<u8> {
    let mut k = b"e\0".to_vec();
    k.extend_from_slice(shop.as_str().as_bytes());
    k.push(0);
    k
}

fn outbox_key(shop: &ShopId, id: u64) -> Vec<u8> {
    let mut k = outbox_prefix(shop);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn new_entry<E>(id: u64, order_id: &str, now: DateTime<Utc>, event: E) -> OutboxEntry<E> {
    OutboxEntry {
        id,
        order_id: order_id.to_owned(),
        created_at: now,
        state: OutboxState::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        event,
    }
}

/// Unwraps a transaction result whose abort value is a [`StoreError`].
fn settle<T>(result: Result<T, TransactionError<StoreError>>) -> Result<T, StoreError> {
    result.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Io(e),
    })
}

impl Store {
    /// [`Store::commit_checkout`] plus, in the same transaction, the order
    /// the checkout created and the event announcing it. The order and the
    /// event are written only when no order with that id is stored yet, so
    /// a replayed completion never enqueues a second announcement; the
    /// session and the idempotency response are written either way.
    ///
    /// Returns the id of the enqueued event, `None` when nothing was
    /// enqueued.
    ///
    /// # Errors
    /// Store I/O.
    pub fn commit_checkout_with_order<T: Serialize, O: Serialize, E: Serialize>(
        &self,
        shop: &ShopId,
        session_id: &str,
        record: &T,
        idempotency: Option<(&IdempotencyScope, &str, StoredResponse)>,
        order: OrderCommit<'_, O, E>,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let session = checkout_batch(shop, session_id, record, idempotency);
        let order_key = order_key(shop, order.order_id);
        let order_value = keys::encode(order.order);
        let entry = match order.event {
            Some(event) => {
                let id = self.db.generate_id()?;
                let entry = new_entry(id, order.order_id, now, event);
                Some((id, keys::encode(&entry)))
            }
            None => None,
        };
        let tree = self.checkout_tree()?;
        settle(tree.transaction(|tx| {
            tx.apply_batch(&session)?;
            if tx.get(&order_key)?.is_some() {
                return Ok(None);
            }
            tx.insert(order_key.as_slice(), order_value.as_slice())?;
            match &entry {
                Some((id, value)) => {
                    tx.insert(outbox_key(shop, *id), value.as_slice())?;
                    Ok(Some(*id))
                }
                None => Ok(None),
            }
        }))
    }

    /// The stored state of order `order_id` of `shop`.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn order_state<O: DeserializeOwned>(
        &self,
        shop: &ShopId,
        order_id: &str,
    ) -> Result<Option<O>, StoreError> {
        let key = order_key(shop, order_id);
        self.checkout_tree()?
            .get(&key)?
            .map(|v| keys::decode(&key, &v))
            .transpose()
    }

    /// Every stored order state of `shop` (for reconciliation). A full
    /// scan of the shop's orders: call it from a blocking task.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn order_states<O: DeserializeOwned>(&self, shop: &ShopId) -> Result<Vec<O>, StoreError> {
        let prefix = order_key(shop, "");
        self.checkout_tree()?
            .scan_prefix(&prefix)
            .map(|entry| {
                let (k, v) = entry?;
                keys::decode(&k, &v)
            })
            .collect()
    }

    /// Stores a changed order and, in the same transaction, the event that
    /// announces the change, provided the stored order is still at
    /// `expected_revision` (optimistic concurrency: two writers that read
    /// the same state cannot both commit).
    ///
    /// # Errors
    /// Store I/O or an unreadable stored order.
    pub fn commit_order_change<O, E>(
        &self,
        shop: &ShopId,
        order_id: &str,
        expected_revision: u64,
        order: &O,
        event: Option<&E>,
        now: DateTime<Utc>,
    ) -> Result<OrderChangeOutcome, StoreError>
    where
        O: Serialize + DeserializeOwned + Revisioned,
        E: Serialize,
    {
        let key = order_key(shop, order_id);
        let value = keys::encode(order);
        let entry = match event {
            Some(event) => {
                let id = self.db.generate_id()?;
                Some((id, keys::encode(&new_entry(id, order_id, now, event))))
            }
            None => None,
        };
        let tree = self.checkout_tree()?;
        settle(tree.transaction(|tx| {
            let Some(stored) = tx.get(&key)? else {
                return Ok(OrderChangeOutcome::Missing);
            };
            let stored: O =
                keys::decode(&key, &stored).map_err(ConflictableTransactionError::Abort)?;
            if stored.revision() != expected_revision {
                return Ok(OrderChangeOutcome::Conflict {
                    stored_revision: stored.revision(),
                });
            }
            tx.insert(key.as_slice(), value.as_slice())?;
            let event_id = match &entry {
                Some((id, v)) => {
                    tx.insert(outbox_key(shop, *id), v.as_slice())?;
                    Some(*id)
                }
                None => None,
            };
            Ok(OrderChangeOutcome::Committed { event_id })
        }))
    }

    /// The events of `shop` that may be attempted at `now`: for each order,
    /// its oldest pending event, if that one is due; at most `limit`. Also
    /// says when the next one falls due and counts the outbox.
    ///
    /// Scans the shop's outbox (it holds undelivered events only).
    ///
    /// # Errors
    /// Store I/O or an unreadable entry.
    pub fn due_events<E: DeserializeOwned>(
        &self,
        shop: &ShopId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<DueEvents<E>, StoreError> {
        let mut blocked = std::collections::HashSet::new();
        let mut out = DueEvents {
            due: Vec::new(),
            next_attempt_at: None,
            stats: OutboxStats::default(),
        };
        for item in self.checkout_tree()?.scan_prefix(outbox_prefix(shop)) {
            let (k, v) = item?;
            // Decoded twice at most: the header for every entry, the
            // payload only for those handed out.
            let head: OutboxEntry<serde::de::IgnoredAny> = keys::decode(&k, &v)?;
            match head.state {
                OutboxState::Dead => {
                    out.stats.dead += 1;
                    continue;
                }
                OutboxState::Pending => {
                    out.stats.pending += 1;
                    if out.stats.oldest_pending.is_none_or(|t| head.created_at < t) {
                        out.stats.oldest_pending = Some(head.created_at);
                    }
                }
            }
            // Only the first pending event of an order may go.
            if !blocked.insert(head.order_id) {
                continue;
            }
            if head.next_attempt_at > now {
                if out.next_attempt_at.is_none_or(|t| head.next_attempt_at < t) {
                    out.next_attempt_at = Some(head.next_attempt_at);
                }
            } else if out.due.len() < limit {
                out.due.push(keys::decode(&k, &v)?);
            } else if out.next_attempt_at.is_none_or(|t| head.next_attempt_at < t) {
                // Due but over the limit: due again right away.
                out.next_attempt_at = Some(head.next_attempt_at);
            }
        }
        Ok(out)
    }

    /// Every entry of `shop`'s outbox, oldest first.
    ///
    /// # Errors
    /// Store I/O or an unreadable entry.
    pub fn outbox_entries<E: DeserializeOwned>(
        &self,
        shop: &ShopId,
    ) -> Result<Vec<OutboxEntry<E>>, StoreError> {
        self.checkout_tree()?
            .scan_prefix(outbox_prefix(shop))
            .map(|item| {
                let (k, v) = item?;
                keys::decode(&k, &v)
            })
            .collect()
    }

    /// One outbox entry.
    ///
    /// # Errors
    /// Store I/O or an unreadable entry.
    pub fn outbox_entry<E: DeserializeOwned>(
        &self,
        shop: &ShopId,
        id: u64,
    ) -> Result<Option<OutboxEntry<E>>, StoreError> {
        let key = outbox_key(shop, id);
        self.checkout_tree()?
            .get(&key)?
            .map(|v| keys::decode(&key, &v))
            .transpose()
    }

    /// Counts of `shop`'s outbox.
    ///
    /// # Errors
    /// Store I/O or an unreadable entry.
    pub fn outbox_stats(&self, shop: &ShopId) -> Result<OutboxStats, StoreError> {
        let mut stats = OutboxStats::default();
        for item in self.checkout_tree()?.scan_prefix(outbox_prefix(shop)) {
            let (k, v) = item?;
            let head: OutboxEntry<serde::de::IgnoredAny> = keys::decode(&k, &v)?;
            match head.state {
                OutboxState::Dead => stats.dead += 1,
                OutboxState::Pending => {
                    stats.pending += 1;
                    if stats.oldest_pending.is_none_or(|t| head.created_at < t) {
                        stats.oldest_pending = Some(head.created_at);
                    }
                }
            }
        }
        Ok(stats)
    }

    /// Removes a delivered event. `false` when it was no longer there
    /// (dropped meanwhile).
    ///
    /// # Errors
    /// Store I/O.
    pub fn mark_event_delivered(&self, shop: &ShopId, id: u64) -> Result<bool, StoreError> {
        Ok(self
            .checkout_tree()?
            .remove(outbox_key(shop, id))?
            .is_some())
    }

    /// Records a failed attempt: one more attempt, the error, and either the
    /// next attempt time or the dead state. Returns the entry's new state,
    /// `None` when the entry is gone (dropped meanwhile; it is not
    /// re-created).
    ///
    /// # Errors
    /// Store I/O or an unreadable entry.
    pub fn record_event_failure(
        &self,
        shop: &ShopId,
        id: u64,
        error: &str,
        next: FailureNext,
    ) -> Result<Option<OutboxState>, StoreError> {
        self.update_entry(shop, id, |entry| {
            entry.attempts = entry.attempts.saturating_add(1);
            entry.last_error = Some(error.to_owned());
            match next {
                FailureNext::RetryAt(at) => {
                    entry.state = OutboxState::Pending;
                    entry.next_attempt_at = at;
                }
                FailureNext::Dead => entry.state = OutboxState::Dead,
            }
        })
    }

    /// Makes an event due now with a fresh set of attempts (a dead one
    /// becomes pending again). `false` when there is no such event.
    ///
    /// # Errors
    /// Store I/O or an unreadable entry.
    pub fn retry_event(
        &self,
        shop: &ShopId,
        id: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let state = self.update_entry(shop, id, |entry| {
            entry.state = OutboxState::Pending;
            entry.attempts = 0;
            entry.next_attempt_at = now;
        })?;
        Ok(state.is_some())
    }

    /// Deletes an event without delivering it. `false` when there is no
    /// such event.
    ///
    /// # Errors
    /// Store I/O.
    pub fn drop_event(&self, shop: &ShopId, id: u64) -> Result<bool, StoreError> {
        self.mark_event_delivered(shop, id)
    }

    /// Applies `change` to an entry atomically (compare and swap), leaving
    /// a missing entry missing. Returns the new state.
    fn update_entry(
        &self,
        shop: &ShopId,
        id: u64,
        change: impl Fn(&mut OutboxEntry<serde_json::Value>),
    ) -> Result<Option<OutboxState>, StoreError> {
        let tree = self.checkout_tree()?;
        let key = outbox_key(shop, id);
        loop {
            let Some(current) = tree.get(&key)? else {
                return Ok(None);
            };
            let mut entry: OutboxEntry<serde_json::Value> = keys::decode(&key, &current)?;
            change(&mut entry);
            let state = entry.state;
            match tree.compare_and_swap(&key, Some(current), Some(keys::encode(&entry)))? {
                Ok(()) => return Ok(Some(state)),
                // Changed or removed meanwhile: look again.
                Err(_) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Order {
        revision: u64,
        note: String,
    }

    impl Revisioned for Order {
        fn revision(&self) -> u64 {
            self.revision
        }
    }

    fn shop(id: &str) -> ShopId {
        ShopId::parse(id).unwrap()
    }

    fn order(revision: u64, note: &str) -> Order {
        Order {
            revision,
            note: note.into(),
        }
    }

    /// Stores `order_id` with revision 0 and its create event.
    fn create(store: &Store, s: &ShopId, order_id: &str, now: DateTime<Utc>) -> Option<u64> {
        store
            .commit_checkout_with_order(
                s,
                &format!("cs_{order_id}"),
                &"session",
                None,
                OrderCommit {
                    order_id,
                    order: &order(0, "created"),
                    event: Some(&format!("create {order_id}")),
                },
                now,
            )
            .unwrap()
    }

    fn change(
        store: &Store,
        s: &ShopId,
        order_id: &str,
        revision: u64,
        note: &str,
        now: DateTime<Utc>,
    ) -> OrderChangeOutcome {
        store
            .commit_order_change(
                s,
                order_id,
                revision - 1,
                &order(revision, note),
                Some(&note.to_owned()),
                now,
            )
            .unwrap()
    }

    fn due_ids(store: &Store, s: &ShopId, now: DateTime<Utc>) -> Vec<String> {
        store
            .due_events::<String>(s, now, 100)
            .unwrap()
            .due
            .into_iter()
            .map(|e| e.event)
            .collect()
    }

    #[test]
    fn a_completion_stores_session_order_and_event_together_and_only_once() {
        let store = Store::temporary().unwrap();
        let s = shop("acme");
        let now = Utc::now();
        let first = create(&store, &s, "1001", now);
        assert!(first.is_some());
        assert_eq!(
            store.checkout_record::<String>(&s, "cs_1001").unwrap(),
            Some("session".to_owned())
        );
        assert_eq!(
            store.order_state::<Order>(&s, "1001").unwrap(),
            Some(order(0, "created"))
        );
        // A replayed completion: the session is written, nothing enqueued.
        store
            .commit_order_change::<Order, String>(&s, "1001", 0, &order(1, "shipped"), None, now)
            .unwrap();
        assert_eq!(create(&store, &s, "1001", now), None);
        assert_eq!(
            store.order_state::<Order>(&s, "1001").unwrap().unwrap(),
            order(1, "shipped"),
            "the stored order is not overwritten"
        );
        assert_eq!(due_ids(&store, &s, now), vec!["create 1001"]);
        assert_eq!(store.order_states::<Order>(&s).unwrap().len(), 1);
        assert!(
            store
                .order_states::<Order>(&shop("other"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn order_changes_need_the_revision_they_were_made_from() {
        let store = Store::temporary().unwrap();
        let s = shop("acme");
        let now = Utc::now();
        create(&store, &s, "1001", now);
        assert!(matches!(
            change(&store, &s, "1001", 1, "shipped", now),
            OrderChangeOutcome::Committed { event_id: Some(_) }
        ));
        // A second writer that also started from revision 0 loses.
        assert_eq!(
            change(&store, &s, "1001", 1, "refunded", now),
            OrderChangeOutcome::Conflict { stored_revision: 1 }
        );
        assert_eq!(
            change(&store, &s, "404", 1, "shipped", now),
            OrderChangeOutcome::Missing
        );
        let entries = store.outbox_entries::<String>(&s).unwrap();
        let events: Vec<&str> = entries.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(events, ["create 1001", "shipped"]);
    }

    #[test]
    fn each_order_offers_only_its_oldest_pending_event() {
        let store = Store::temporary().unwrap();
        let s = shop("acme");
        let now = Utc::now();
        let create_a = create(&store, &s, "a", now).unwrap();
        change(&store, &s, "a", 1, "a shipped", now);
        create(&store, &s, "b", now);
        assert_eq!(due_ids(&store, &s, now), ["create a", "create b"]);

        // a's first event failed: a's second one waits for it, b goes on.
        let later = now + Duration::seconds(30);
        store
            .record_event_failure(&s, create_a, "HTTP 500", FailureNext::RetryAt(later))
            .unwrap();
        let due = store.due_events::<String>(&s, now, 100).unwrap();
        assert_eq!(
            due.due.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
            ["create b"]
        );
        assert_eq!(due.next_attempt_at, Some(later));
        assert_eq!(due.stats.pending, 3);
        assert_eq!(due.stats.oldest_pending, Some(now));
        assert_eq!(due_ids(&store, &s, later), ["create a", "create b"]);

        // Delivered: a's next event comes up.
        assert!(store.mark_event_delivered(&s, create_a).unwrap());
        assert_eq!(due_ids(&store, &s, now), ["a shipped", "create b"]);
        // The limit applies.
        assert_eq!(store.due_events::<String>(&s, now, 1).unwrap().due.len(), 1);
    }

    #[test]
    fn dead_events_stop_blocking_and_can_be_retried_or_dropped() {
        let store = Store::temporary().unwrap();
        let s = shop("acme");
        let now = Utc::now();
        let first = create(&store, &s, "a", now).unwrap();
        change(&store, &s, "a", 1, "a shipped", now);
        assert_eq!(
            store
                .record_event_failure(&s, first, "timed out", FailureNext::Dead)
                .unwrap(),
            Some(OutboxState::Dead)
        );
        let dead: OutboxEntry<String> = store.outbox_entry(&s, first).unwrap().unwrap();
        assert_eq!(dead.attempts, 1);
        assert_eq!(dead.last_error.as_deref(), Some("timed out"));
        assert_eq!(due_ids(&store, &s, now), ["a shipped"]);
        let stats = store.outbox_stats(&s).unwrap();
        assert_eq!((stats.pending, stats.dead), (1, 1));

        // Retried: pending again with fresh attempts, and ahead of the later one.
        assert!(store.retry_event(&s, first, now).unwrap());
        let retried: OutboxEntry<String> = store.outbox_entry(&s, first).unwrap().unwrap();
        assert_eq!((retried.state, retried.attempts), (OutboxState::Pending, 0));
        assert_eq!(due_ids(&store, &s, now), ["create a"]);

        assert!(store.drop_event(&s, first).unwrap());
        assert!(!store.drop_event(&s, first).unwrap());
        assert!(!store.retry_event(&s, first, now).unwrap());
        // A failure recorded after the drop does not bring it back.
        assert_eq!(
            store
                .record_event_failure(&s, first, "HTTP 500", FailureNext::Dead)
                .unwrap(),
            None
        );
        assert_eq!(due_ids(&store, &s, now), ["a shipped"]);
    }

    #[test]
    fn shops_have_separate_outboxes() {
        let store = Store::temporary().unwrap();
        let now = Utc::now();
        create(&store, &shop("acme"), "1", now);
        create(&store, &shop("acme-2"), "1", now);
        assert_eq!(due_ids(&store, &shop("acme"), now), ["create 1"]);
        assert_eq!(store.outbox_stats(&shop("acme")).unwrap().pending, 1);
        assert_eq!(store.outbox_stats(&shop("acme-2")).unwrap().pending, 1);
    }
}
