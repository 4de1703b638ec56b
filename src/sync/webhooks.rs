//! Processing the Shopify webhooks queued for a shop (a
//! [`SyncKind::Webhooks`] run).
//!
//! The payload only says *which* resource changed; the current state is
//! refetched by id, because deliveries come late, twice and out of order.
//! - `products/create|update`, `product_publications/*`: refetch those
//!   products (absent from the answer: deleted or hidden, so removed);
//! - `products/delete`: remove the product;
//! - `inventory_levels/update`: find the product of the inventory item and
//!   refetch it;
//! - order, fulfillment and refund topics: handed to the order sink (orders
//!   that came from ACP checkout), if one is set;
//! - `app/uninstalled`: scheduled syncs of the shop stop (data is kept).
//!
//! The feed is rebuilt once for the whole batch. Deliveries leave the queue
//! only after the run succeeded, so a failure retries them.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use tracing::{debug, info, warn};

use super::{ShopSync, SyncError, summary};
use crate::domain::Product;
use crate::scheduler::RunSummary;
use crate::source::shopify::MAX_IDS_PER_QUERY;
use crate::store::{InboxEntry, SyncKind};

/// Deliveries processed per run; a longer queue takes several runs.
const BATCH: usize = 500;

/// Receives the order-related webhooks of a shop (orders, fulfillments,
/// refunds) after they were verified and deduplicated.
pub trait OrderWebhookSink: Send + Sync {
    /// Processes one delivery. An error leaves it queued for the next run.
    ///
    /// # Errors
    /// An operator-facing message.
    fn order_webhook(
        &self,
        entry: &InboxEntry,
        payload: &Value,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>>;
}

/// What a batch of deliveries asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Plan {
    /// Products to refetch (numeric ids).
    pub refetch: BTreeSet<String>,
    /// Products deleted in Shopify.
    pub delete: BTreeSet<String>,
    /// Inventory items whose product must be found, then refetched.
    pub inventory_items: BTreeSet<String>,
    /// Indexes of the deliveries for the order sink.
    pub orders: Vec<usize>,
    pub uninstalled: bool,
}

/// A numeric id from a payload field (Shopify sends ids as JSON numbers;
/// strings are accepted too).
fn id_field(payload: &Value, field: &str) -> Option<String> {
    match payload.get(field)? {
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(s.clone())
        }
        _ => None,
    }
}

/// Sorts deliveries into what they ask for. Unknown topics and payloads
/// without the id they need are logged and dropped.
pub(super) fn plan(entries: &[(u64, InboxEntry)], payloads: &[Option<Value>]) -> Plan {
    let mut plan = Plan::default();
    for (i, ((_, entry), payload)) in entries.iter().zip(payloads).enumerate() {
        let Some(payload) = payload else {
            warn!(webhook.topic = %entry.topic, webhook.event = %entry.event_id, "webhook body is not JSON; dropped");
            continue;
        };
        let topic = entry.topic.as_str();
        let wanted = match topic {
            "products/create" | "products/update" => {
                id_field(payload, "id").map(|id| plan.refetch.insert(id))
            }
            "products/delete" => id_field(payload, "id").map(|id| plan.delete.insert(id)),
            t if t.starts_with("product_publications/") => {
                id_field(payload, "product_id").map(|id| plan.refetch.insert(id))
            }
            "inventory_levels/update" | "inventory_items/update" => {
                let field = if topic == "inventory_items/update" {
                    "id"
                } else {
                    "inventory_item_id"
                };
                id_field(payload, field).map(|id| plan.inventory_items.insert(id))
            }
            t if t.starts_with("orders/")
                || t.starts_with("fulfillments/")
                || t.starts_with("refunds/") =>
            {
                plan.orders.push(i);
                Some(true)
            }
            "app/uninstalled" => {
                plan.uninstalled = true;
                Some(true)
            }
            _ => {
                warn!(webhook.topic = %topic, "webhook topic not handled; dropped");
                Some(false)
            }
        };
        if wanted.is_none() {
            warn!(webhook.topic = %topic, webhook.event = %entry.event_id, "webhook payload lacks the id it needs; dropped");
        }
    }
    // A product both deleted and updated in one batch: the refetch decides.
    let refetch = plan.refetch.clone();
    plan.delete.retain(|id| !refetch.contains(id));
    plan
}

impl ShopSync {
    /// Sets the receiver of order-related webhooks.
    pub fn set_order_sink(&self, sink: Arc<dyn OrderWebhookSink>) {
        *self.order_sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    pub(super) async fn webhooks(&self) -> Result<RunSummary, SyncError> {
        let shop = &self.settings.id;
        let entries = self.store.queued_webhooks(shop, BATCH)?;
        let payloads: Vec<Option<Value>> = entries
            .iter()
            .map(|(_, e)| serde_json::from_str(&e.body).ok())
            .collect();
        let plan = plan(&entries, &payloads);
        let seqs: Vec<u64> = entries.iter().map(|(seq, _)| *seq).collect();

        if plan.uninstalled {
            warn!(
                "Shopify reports the app uninstalled; scheduled syncs of this shop stop until a sync is run by hand"
            );
            self.store.update_sync_state(shop, |s| {
                s.uninstalled_at = Some(Utc::now());
            })?;
        }

        let sink = self
            .order_sink
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for &i in &plan.orders {
            let entry = &entries[i].1;
            let Some(payload) = &payloads[i] else {
                continue;
            };
            match &sink {
                Some(sink) => sink
                    .order_webhook(entry, payload)
                    .await
                    .map_err(SyncError::Webhook)?,
                None => {
                    debug!(webhook.topic = %entry.topic, "no checkout on this shop; order webhook ignored")
                }
            }
        }

        let mut refetch = plan.refetch.clone();
        for item in &plan.inventory_items {
            match self.client.product_of_inventory_item(item).await? {
                Some(product) => {
                    refetch.insert(product);
                }
                None => debug!(inventory.item = %item, "inventory item has no product any more"),
            }
        }
        let (written, removed) = if refetch.is_empty() && plan.delete.is_empty() {
            (0, 0)
        } else {
            self.refetch_products(&refetch, &plan.delete).await?
        };

        let has_feed = self.store.feed_meta(shop)?.is_some();
        let result = if !has_feed || (written == 0 && removed == 0) {
            // Nothing in the catalog changed, or no full sync has built a
            // feed yet (the first sync will).
            RunSummary {
                kind: SyncKind::Webhooks,
                products_written: written,
                products_removed: removed,
                feed: "skipped".into(),
                rows_valid: 0,
                rows_invalid: 0,
            }
        } else {
            let facts = self.known_facts().await?;
            let feed = self.build_feed(&facts).await?;
            summary(SyncKind::Webhooks, written, removed, &feed)
        };
        self.store.finish_webhooks(shop, &seqs)?;
        let backlog = self.store.webhook_backlog(shop)?;
        metrics::gauge!(crate::metrics::SHOPIFY_WEBHOOK_BACKLOG, "shop" => shop.to_string())
            .set(backlog as f64);
        if !entries.is_empty() {
            info!(
                webhooks = entries.len(),
                products.written = written,
                products.removed = removed,
                "webhooks processed"
            );
        }
        if backlog > 0
            && let Some(scheduler) = self
                .scheduler
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
        {
            // More are queued: another run follows.
            scheduler.webhooks_queued();
        }
        Ok(result)
    }

    /// The stored shop facts, or Shopify's when none are stored yet.
    async fn known_facts(&self) -> Result<crate::domain::ShopFacts, SyncError> {
        match self.store.shop_facts(&self.settings.id)? {
            Some(facts) => Ok(facts),
            None => self.refresh_facts().await,
        }
    }

    /// Refetches `ids` and removes `deleted`; products asked for but not
    /// returned were deleted or are not visible to the app, and are removed
    /// too. Returns (written, removed).
    async fn refetch_products(
        &self,
        ids: &BTreeSet<String>,
        deleted: &BTreeSet<String>,
    ) -> Result<(u64, u64), SyncError> {
        let shop = &self.settings.id;
        let publication = self.publication_gid().await?;
        let currency = self.known_facts().await?.currency;
        let ids: Vec<String> = ids.iter().cloned().collect();
        let mut written = 0u64;
        let mut gone: Vec<String> = deleted.iter().cloned().collect();
        for chunk in ids.chunks(MAX_IDS_PER_QUERY) {
            let mut pager = self.client.products_with_ids(chunk, &publication, currency);
            let mut found = BTreeSet::new();
            while let Some(page) = pager.next_page().await? {
                let mut changed: Vec<Product> = Vec::with_capacity(page.products.len());
                for product in page.products {
                    found.insert(product.id.clone());
                    if self.store.product(shop, &product.id)?.as_ref() != Some(&product) {
                        changed.push(product);
                    }
                }
                written += changed.len() as u64;
                self.store.upsert_products(shop, &changed)?;
            }
            gone.extend(chunk.iter().filter(|id| !found.contains(*id)).cloned());
        }
        let mut removed = 0u64;
        let mut present = Vec::new();
        for id in gone {
            if self.store.product(shop, &id)?.is_some() {
                present.push(id);
            }
        }
        if !present.is_empty() {
            removed = present.len() as u64;
            self.store.remove_products(shop, &present)?;
        }
        Ok((written, removed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(topic: &str, body: &str) -> (u64, InboxEntry) {
        (
            0,
            InboxEntry {
                event_id: "e".into(),
                topic: topic.into(),
                received_at: Utc::now(),
                triggered_at: None,
                body: body.into(),
            },
        )
    }

    #[test]
    fn each_topic_asks_for_what_its_payload_names() {
        let entries = vec![
            entry("products/update", r#"{"id": 11, "title": "x"}"#),
            entry("products/create", r#"{"id": "12"}"#),
            entry("products/delete", r#"{"id": 13}"#),
            entry("products/delete", r#"{"id": 11}"#),
            entry(
                "product_publications/create",
                r#"{"id": 99, "product_id": 14, "publication_id": 5}"#,
            ),
            entry(
                "inventory_levels/update",
                r#"{"inventory_item_id": 777, "location_id": 1, "available": 3}"#,
            ),
            entry("orders/updated", r#"{"id": 5001}"#),
            entry("refunds/create", r#"{"id": 6001, "order_id": 5001}"#),
            entry("app/uninstalled", r#"{"id": 1}"#),
            entry("shop/update", r#"{"id": 1}"#),
            entry("products/update", r#"{"title": "no id"}"#),
            entry("products/update", "not json"),
        ];
        let payloads: Vec<Option<Value>> = entries
            .iter()
            .map(|(_, e)| serde_json::from_str(&e.body).ok())
            .collect();
        let plan = plan(&entries, &payloads);
        let set = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        assert_eq!(plan.refetch, set(&["11", "12", "14"]));
        // 11 was also updated in the batch: refetching decides.
        assert_eq!(plan.delete, set(&["13"]));
        assert_eq!(plan.inventory_items, set(&["777"]));
        assert_eq!(plan.orders, vec![6, 7]);
        assert!(plan.uninstalled);
    }
}
