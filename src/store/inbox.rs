//! Webhooks received from Shopify, persisted before they are acknowledged
//! and processed after.
//!
//! Shopify wants a 2xx within 5 s, retries a failed delivery for hours,
//! sends the same event more than once and in any order. So the route
//! verifies a delivery, stores it here in one transaction with its dedupe
//! mark, answers, and the shop's sync job processes the queue later; a
//! crash between the two leaves the delivery queued, never lost.
//!
//! Keys (tree `webhooks`):
//! - `e\0{shop}\0{event_id}` → when the event was first received (dedupe;
//!   kept [`DEDUPE_RETENTION`]);
//! - `q\0{shop}\0{seq:020}` → [`InboxEntry`], in arrival order.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{Store, StoreError, keys};
use crate::domain::ShopId;

const WEBHOOK_TREE: &str = "webhooks";

/// How long an event id is remembered. Shopify retries a delivery for
/// about four hours and rarely delivers up to a day late.
pub const DEDUPE_RETENTION: Duration = Duration::days(7);

/// One received webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    /// `X-Shopify-Event-Id` (the same on every delivery caused by one
    /// event), or the webhook id when the header is absent.
    pub event_id: String,
    /// `X-Shopify-Topic`, e.g. `products/update`.
    pub topic: String,
    pub received_at: DateTime<Utc>,
    /// `X-Shopify-Triggered-At`, when Shopify sent it.
    pub triggered_at: Option<DateTime<Utc>>,
    /// The raw JSON body.
    pub body: String,
}

/// What happened to a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Queued under this sequence number.
    Queued(u64),
    /// The event was received before; nothing queued.
    Duplicate,
}

#[derive(Serialize, Deserialize)]
struct Seen {
    at: DateTime<Utc>,
}

fn key(kind: &str, shop: &ShopId, last: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(kind.len() + shop.as_str().len() + last.len() + 2);
    k.extend_from_slice(kind.as_bytes());
    k.push(0);
    k.extend_from_slice(shop.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(last.as_bytes());
    k
}

fn queue_key(shop: &ShopId, seq: u64) -> Vec<u8> {
    key("q", shop, &format!("{seq:020}"))
}

impl Store {
    fn webhook_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(WEBHOOK_TREE)?)
    }

    /// Queues a delivery unless its event was received before; the dedupe
    /// mark and the queue entry are written in one transaction.
    ///
    /// # Errors
    /// Store I/O.
    pub fn accept_webhook(
        &self,
        shop: &ShopId,
        entry: &InboxEntry,
    ) -> Result<Accepted, StoreError> {
        let tree = self.webhook_tree()?;
        let seq = self.db.generate_id()?;
        let seen_key = key("e", shop, &entry.event_id);
        let seen = keys::encode(&Seen {
            at: entry.received_at,
        });
        let queued = keys::encode(entry);
        let qkey = queue_key(shop, seq);
        let outcome = tree.transaction(|tx| {
            if tx.get(&seen_key)?.is_some() {
                return Ok(Accepted::Duplicate);
            }
            tx.insert(seen_key.as_slice(), seen.as_slice())?;
            tx.insert(qkey.as_slice(), queued.as_slice())?;
            Ok::<_, ConflictableTransactionError<StoreError>>(Accepted::Queued(seq))
        });
        let accepted = match outcome {
            Ok(a) => a,
            Err(TransactionError::Storage(e)) => return Err(e.into()),
            Err(TransactionError::Abort(e)) => return Err(e),
        };
        if accepted != Accepted::Duplicate {
            tree.flush()?;
        }
        Ok(accepted)
    }

    /// The oldest `limit` queued deliveries of `shop`, in arrival order.
    ///
    /// # Errors
    /// Store I/O or an unreadable entry.
    pub fn queued_webhooks(
        &self,
        shop: &ShopId,
        limit: usize,
    ) -> Result<Vec<(u64, InboxEntry)>, StoreError> {
        let prefix = key("q", shop, "");
        let mut out = Vec::new();
        for item in self.webhook_tree()?.scan_prefix(&prefix).take(limit) {
            let (k, v) = item?;
            let seq = std::str::from_utf8(&k[prefix.len()..])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            out.push((seq, keys::decode(&k, &v)?));
        }
        Ok(out)
    }

    /// How many deliveries of `shop` wait to be processed.
    ///
    /// # Errors
    /// Store I/O.
    pub fn webhook_backlog(&self, shop: &ShopId) -> Result<usize, StoreError> {
        Ok(self
            .webhook_tree()?
            .scan_prefix(key("q", shop, ""))
            .keys()
            .count())
    }

    /// Removes processed deliveries.
    ///
    /// # Errors
    /// Store I/O.
    pub fn finish_webhooks(&self, shop: &ShopId, seqs: &[u64]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for seq in seqs {
            batch.remove(queue_key(shop, *seq));
        }
        self.webhook_tree()?.apply_batch(batch)?;
        Ok(())
    }

    /// Forgets event ids first received before `now - DEDUPE_RETENTION`;
    /// returns how many.
    ///
    /// # Errors
    /// Store I/O.
    pub fn prune_webhook_ids(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let tree = self.webhook_tree()?;
        let cutoff = now - DEDUPE_RETENTION;
        let mut batch = sled::Batch::default();
        let mut pruned = 0;
        for item in tree.scan_prefix(b"e\0") {
            let (k, v) = item?;
            let seen: Seen = keys::decode(&k, &v)?;
            if seen.at < cutoff {
                batch.remove(k);
                pruned += 1;
            }
        }
        tree.apply_batch(batch)?;
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(event: &str, topic: &str, at: DateTime<Utc>) -> InboxEntry {
        InboxEntry {
            event_id: event.into(),
            topic: topic.into(),
            received_at: at,
            triggered_at: None,
            body: format!(r#"{{"id":"{event}"}}"#),
        }
    }

    #[test]
    fn an_event_is_queued_once_in_arrival_order_until_finished() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        let other = ShopId::parse("t").unwrap();
        let now = Utc::now();
        let Accepted::Queued(a) = store
            .accept_webhook(&shop, &entry("e1", "products/update", now))
            .unwrap()
        else {
            panic!("first delivery not queued");
        };
        assert_eq!(
            store
                .accept_webhook(&shop, &entry("e1", "products/update", now))
                .unwrap(),
            Accepted::Duplicate
        );
        store
            .accept_webhook(&shop, &entry("e2", "orders/updated", now))
            .unwrap();
        // Event ids are per shop.
        store
            .accept_webhook(&other, &entry("e1", "products/update", now))
            .unwrap();

        let queued = store.queued_webhooks(&shop, 10).unwrap();
        let events: Vec<&str> = queued.iter().map(|(_, e)| e.event_id.as_str()).collect();
        assert_eq!(events, ["e1", "e2"]);
        assert_eq!(queued[0].0, a);
        assert_eq!(store.webhook_backlog(&shop).unwrap(), 2);

        store.finish_webhooks(&shop, &[a]).unwrap();
        let left = store.queued_webhooks(&shop, 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].1.topic, "orders/updated");
        // Finished, the event is still remembered.
        assert_eq!(
            store
                .accept_webhook(&shop, &entry("e1", "products/update", now))
                .unwrap(),
            Accepted::Duplicate
        );
        assert_eq!(store.webhook_backlog(&other).unwrap(), 1);
    }

    #[test]
    fn old_event_ids_are_forgotten_after_the_retention() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        let now = Utc::now();
        let old = now - DEDUPE_RETENTION - Duration::minutes(1);
        store
            .accept_webhook(&shop, &entry("old", "products/update", old))
            .unwrap();
        store
            .accept_webhook(&shop, &entry("new", "products/update", now))
            .unwrap();
        assert_eq!(store.prune_webhook_ids(now).unwrap(), 1);
        assert!(matches!(
            store
                .accept_webhook(&shop, &entry("old", "products/update", now))
                .unwrap(),
            Accepted::Queued(_)
        ));
        assert_eq!(
            store
                .accept_webhook(&shop, &entry("new", "products/update", now))
                .unwrap(),
            Accepted::Duplicate
        );
    }
}
