//! Webhook delivery: every change the emulated shop makes becomes one event
//! per topic, and each subscription to that topic gets a POST of the REST
//! payload with Shopify's headers, signed with the app's client secret
//! (`X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body).
//!
//! Deliveries run on one background task that the hub starts when work
//! arrives and that ends when nothing is pending (so every spawn has an end
//! and an owner: the queue). A delivery that is not answered 2xx within the
//! timeout (Shopify: 5 s) is retried with doubling delays until
//! `max_attempts` is spent (Shopify: 8 retries over about 4 hours); tests
//! shrink both. Deliveries are attempted one at a time in due order, which
//! keeps faults deterministic: [`Faults`](super::Faults) can drop a delivery,
//! send it twice (same event id, new webhook id) or hold it back until the
//! next one was attempted. Waiters of [`WebhookHub::wait_idle`] wake when
//! every delivery reached a final state (delivered, given up, dropped).
//!
//! Payload bodies are rendered when the change happens (`payloads.rs`), as
//! Shopify does; a retry resends the same bytes.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::faults::{Faults, WebhookFault};
use super::lock;
use super::subscriptions::WebhookSubscription;

/// The webhook topics the emulator knows (`WebhookSubscriptionTopic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WebhookTopic {
    AppUninstalled,
    BulkOperationsFinish,
    FulfillmentsCreate,
    FulfillmentsUpdate,
    InventoryLevelsUpdate,
    OrdersCancelled,
    OrdersCreate,
    OrdersFulfilled,
    OrdersPaid,
    OrdersPartiallyFulfilled,
    OrdersUpdated,
    ProductPublicationsCreate,
    ProductPublicationsDelete,
    ProductPublicationsUpdate,
    ProductsCreate,
    ProductsDelete,
    ProductsUpdate,
    RefundsCreate,
    ShopUpdate,
}

impl WebhookTopic {
    /// Every topic, in the schema's order.
    pub const ALL: [WebhookTopic; 19] = [
        WebhookTopic::AppUninstalled,
        WebhookTopic::BulkOperationsFinish,
        WebhookTopic::FulfillmentsCreate,
        WebhookTopic::FulfillmentsUpdate,
        WebhookTopic::InventoryLevelsUpdate,
        WebhookTopic::OrdersCancelled,
        WebhookTopic::OrdersCreate,
        WebhookTopic::OrdersFulfilled,
        WebhookTopic::OrdersPaid,
        WebhookTopic::OrdersPartiallyFulfilled,
        WebhookTopic::OrdersUpdated,
        WebhookTopic::ProductPublicationsCreate,
        WebhookTopic::ProductPublicationsDelete,
        WebhookTopic::ProductPublicationsUpdate,
        WebhookTopic::ProductsCreate,
        WebhookTopic::ProductsDelete,
        WebhookTopic::ProductsUpdate,
        WebhookTopic::RefundsCreate,
        WebhookTopic::ShopUpdate,
    ];

    /// The GraphQL enum value (`ORDERS_UPDATED`) and the header form
    /// (`orders/updated`).
    fn names(self) -> (&'static str, &'static str) {
        match self {
            WebhookTopic::AppUninstalled => ("APP_UNINSTALLED", "app/uninstalled"),
            WebhookTopic::BulkOperationsFinish => {
                ("BULK_OPERATIONS_FINISH", "bulk_operations/finish")
            }
            WebhookTopic::FulfillmentsCreate => ("FULFILLMENTS_CREATE", "fulfillments/create"),
            WebhookTopic::FulfillmentsUpdate => ("FULFILLMENTS_UPDATE", "fulfillments/update"),
            WebhookTopic::InventoryLevelsUpdate => {
                ("INVENTORY_LEVELS_UPDATE", "inventory_levels/update")
            }
            WebhookTopic::OrdersCancelled => ("ORDERS_CANCELLED", "orders/cancelled"),
            WebhookTopic::OrdersCreate => ("ORDERS_CREATE", "orders/create"),
            WebhookTopic::OrdersFulfilled => ("ORDERS_FULFILLED", "orders/fulfilled"),
            WebhookTopic::OrdersPaid => ("ORDERS_PAID", "orders/paid"),
            WebhookTopic::OrdersPartiallyFulfilled => {
                ("ORDERS_PARTIALLY_FULFILLED", "orders/partially_fulfilled")
            }
            WebhookTopic::OrdersUpdated => ("ORDERS_UPDATED", "orders/updated"),
            WebhookTopic::ProductPublicationsCreate => {
                ("PRODUCT_PUBLICATIONS_CREATE", "product_publications/create")
            }
            WebhookTopic::ProductPublicationsDelete => {
                ("PRODUCT_PUBLICATIONS_DELETE", "product_publications/delete")
            }
            WebhookTopic::ProductPublicationsUpdate => {
                ("PRODUCT_PUBLICATIONS_UPDATE", "product_publications/update")
            }
            WebhookTopic::ProductsCreate => ("PRODUCTS_CREATE", "products/create"),
            WebhookTopic::ProductsDelete => ("PRODUCTS_DELETE", "products/delete"),
            WebhookTopic::ProductsUpdate => ("PRODUCTS_UPDATE", "products/update"),
            WebhookTopic::RefundsCreate => ("REFUNDS_CREATE", "refunds/create"),
            WebhookTopic::ShopUpdate => ("SHOP_UPDATE", "shop/update"),
        }
    }

    /// The GraphQL enum value (`ORDERS_UPDATED`).
    pub fn as_enum(self) -> &'static str {
        self.names().0
    }

    /// The `X-Shopify-Topic` header value (`orders/updated`).
    pub fn header(self) -> &'static str {
        self.names().1
    }

    /// Parses the GraphQL enum value.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_enum() == text)
    }
}

impl fmt::Display for WebhookTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header())
    }
}

/// How the emulator delivers webhooks.
///
/// `Default` is Shopify's behaviour: 5 s to answer, 9 attempts (the first
/// plus 8 retries) with delays doubling from one minute (about 4¼ hours in
/// all), payloads in API version 2026-01, and no `http://` addresses.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `X-Shopify-API-Version` of deliveries and `apiVersion` of new
    /// subscriptions.
    pub api_version: String,
    /// Attempts per delivery, the first included (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; each further retry waits twice as long.
    pub first_retry_delay: Duration,
    /// How long a receiver has to answer before the attempt fails.
    pub timeout: Duration,
    /// Accept `http://` subscription addresses on this machine (127.0.0.0/8,
    /// `localhost`, `[::1]`), which Shopify refuses, so tests can receive
    /// deliveries without TLS.
    pub allow_loopback_http: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            api_version: "2026-01".to_owned(),
            max_attempts: 9,
            first_retry_delay: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
            allow_loopback_http: false,
        }
    }
}

impl WebhookSettings {
    /// Settings for tests against a local receiver: loopback `http://`
    /// allowed, `max_attempts` attempts with retries `retry_delay` apart
    /// (doubling), and a 2 s timeout.
    pub fn for_tests(max_attempts: u32, retry_delay: Duration) -> Self {
        WebhookSettings {
            max_attempts,
            first_retry_delay: retry_delay,
            timeout: Duration::from_secs(2),
            allow_loopback_http: true,
            ..WebhookSettings::default()
        }
    }

    fn retry_delay(&self, attempts_made: u32) -> Duration {
        let doublings = attempts_made.saturating_sub(1).min(20);
        self.first_retry_delay.saturating_mul(1 << doublings)
    }
}

/// A change to announce: one topic, its REST payload.
#[derive(Debug, Clone)]
pub(crate) struct Emitted {
    pub topic: WebhookTopic,
    pub body: serde_json::Value,
}

impl Emitted {
    pub(crate) fn new(topic: WebhookTopic, body: serde_json::Value) -> Self {
        Emitted { topic, body }
    }
}

/// What became of one delivery attempt (or of a delivery, for faults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Delivered(u16),
    /// The receiver answered something else.
    Rejected(u16),
    /// No answer within the timeout.
    TimedOut,
    /// The connection failed.
    Unreachable,
    /// Dropped by an injected fault; never sent.
    Dropped,
}

impl AttemptOutcome {
    fn is_success(&self) -> bool {
        matches!(self, AttemptOutcome::Delivered(_))
    }
}

/// One line of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub topic: WebhookTopic,
    pub uri: String,
    pub webhook_id: String,
    pub event_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub outcome: AttemptOutcome,
}

/// Delivery counts of one topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicCounts {
    /// Deliveries queued (one per subscription and event, duplicates
    /// included).
    pub queued: u64,
    /// HTTP attempts made (retries included).
    pub attempts: u64,
    /// Deliveries answered 2xx.
    pub delivered: u64,
    /// Attempts that failed (non-2xx, timeout, connection error).
    pub failed_attempts: u64,
    /// Deliveries given up after `max_attempts`.
    pub abandoned: u64,
    /// Deliveries lost to the drop fault.
    pub dropped: u64,
    /// Extra copies sent by the duplicate fault.
    pub duplicated: u64,
    /// Deliveries held back by the reorder fault.
    pub held_back: u64,
}

/// Delivery counts per topic at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookCounters {
    pub by_topic: BTreeMap<WebhookTopic, TopicCounts>,
}

impl WebhookCounters {
    /// The counts of one topic (zeros when it never fired).
    pub fn topic(&self, topic: WebhookTopic) -> TopicCounts {
        self.by_topic.get(&topic).copied().unwrap_or_default()
    }
}

/// One POST to one subscription.
#[derive(Debug, Clone)]
struct Delivery {
    topic: WebhookTopic,
    uri: String,
    api_version: String,
    webhook_id: String,
    event_id: String,
    triggered_at: String,
    body: Bytes,
    /// Attempts made so far.
    attempts: u32,
    /// Held back by the reorder fault and since released.
    released: bool,
}

#[derive(Default)]
struct Queue {
    /// Due deliveries by (due time, sequence).
    due: BTreeMap<(Instant, u64), Delivery>,
    held: VecDeque<Delivery>,
    seq: u64,
    worker: bool,
}

impl Queue {
    fn push(&mut self, at: Instant, delivery: Delivery) {
        self.seq += 1;
        self.due.insert((at, self.seq), delivery);
    }
}

/// Most log lines kept (oldest dropped first).
const LOG_LIMIT: usize = 10_000;

/// The delivery engine of one emulated shop.
pub(crate) struct WebhookHub {
    settings: WebhookSettings,
    secret: SecretString,
    shop_domain: String,
    client: reqwest::Client,
    faults: Arc<Faults>,
    queue: Mutex<Queue>,
    wake: Notify,
    /// Deliveries not yet in a final state.
    pending: watch::Sender<usize>,
    counters: Mutex<WebhookCounters>,
    log: Mutex<VecDeque<DeliveryRecord>>,
}

impl fmt::Debug for WebhookHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookHub")
            .field("settings", &self.settings)
            .field("shop_domain", &self.shop_domain)
            .finish_non_exhaustive()
    }
}

/// `X-Shopify-Hmac-Sha256` of `body` under `secret`.
pub(crate) fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Keeps only the top-level `fields` of a payload (all when empty).
fn select_fields(body: &serde_json::Value, fields: &[String]) -> serde_json::Value {
    match body {
        serde_json::Value::Object(map) if !fields.is_empty() => serde_json::Value::Object(
            map.iter()
                .filter(|(k, _)| fields.iter().any(|f| f == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl WebhookHub {
    pub(crate) fn new(
        settings: WebhookSettings,
        secret: SecretString,
        shop_domain: String,
        faults: Arc<Faults>,
    ) -> Self {
        // Shopify does not follow redirects: a 3xx is a failed attempt.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Shopify-Captain-Hook")
            .build()
            .unwrap_or_default();
        WebhookHub {
            settings,
            secret,
            shop_domain,
            client,
            faults,
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            pending: watch::Sender::new(0),
            counters: Mutex::new(WebhookCounters::default()),
            log: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn settings(&self) -> &WebhookSettings {
        &self.settings
    }

    fn count(&self, topic: WebhookTopic, bump: impl FnOnce(&mut TopicCounts)) {
        bump(lock(&self.counters).by_topic.entry(topic).or_default());
    }

    fn record(&self, delivery: &Delivery, outcome: AttemptOutcome) {
        let mut log = lock(&self.log);
        if log.len() >= LOG_LIMIT {
            log.pop_front();
        }
        log.push_back(DeliveryRecord {
            topic: delivery.topic,
            uri: delivery.uri.clone(),
            webhook_id: delivery.webhook_id.clone(),
            event_id: delivery.event_id.clone(),
            attempt: delivery.attempts,
            outcome,
        });
    }

    pub(crate) fn counters(&self) -> WebhookCounters {
        lock(&self.counters).clone()
    }

    pub(crate) fn log(&self) -> Vec<DeliveryRecord> {
        lock(&self.log).iter().cloned().collect()
    }

    /// Queues one delivery per (event, matching subscription). Each emitted
    /// change gets its own event id, shared by its copies.
    pub(crate) fn publish(self: &Arc<Self>, subs: &[WebhookSubscription], emitted: Vec<Emitted>) {
        for event in emitted {
            let targets: Vec<&WebhookSubscription> =
                subs.iter().filter(|s| s.topic == event.topic).collect();
            if targets.is_empty() {
                continue;
            }
            let event_id = uuid::Uuid::new_v4().to_string();
            let triggered_at =
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            for sub in targets {
                let body = select_fields(&event.body, &sub.include_fields);
                let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
                self.enqueue(Delivery {
                    topic: event.topic,
                    uri: sub.uri.clone(),
                    api_version: sub.api_version.clone(),
                    webhook_id: uuid::Uuid::new_v4().to_string(),
                    event_id: event_id.clone(),
                    triggered_at: triggered_at.clone(),
                    body,
                    attempts: 0,
                    released: false,
                });
            }
        }
    }

    fn enqueue(self: &Arc<Self>, delivery: Delivery) {
        let topic = delivery.topic;
        self.count(topic, |c| c.queued += 1);
        let fault = self.faults.take_webhook_fault();
        if fault == Some(WebhookFault::Drop) {
            self.count(topic, |c| c.dropped += 1);
            self.record(&delivery, AttemptOutcome::Dropped);
            tracing::debug!(webhook.topic = %topic, "emulated webhook delivery dropped");
            return;
        }
        let now = Instant::now();
        let mut queue = lock(&self.queue);
        match fault {
            Some(WebhookFault::Duplicate) => {
                let copy = Delivery {
                    webhook_id: uuid::Uuid::new_v4().to_string(),
                    ..delivery.clone()
                };
                self.count(topic, |c| {
                    c.queued += 1;
                    c.duplicated += 1;
                });
                self.pending.send_modify(|n| *n += 2);
                queue.push(now, delivery);
                queue.push(now, copy);
            }
            Some(WebhookFault::HoldBack) => {
                self.count(topic, |c| c.held_back += 1);
                self.pending.send_modify(|n| *n += 1);
                queue.held.push_back(delivery);
            }
            _ => {
                self.pending.send_modify(|n| *n += 1);
                queue.push(now, delivery);
            }
        }
        self.start_worker(&mut queue);
        drop(queue);
        self.wake.notify_one();
    }

    /// Starts the delivery task if none runs and a runtime is at hand (else
    /// the work waits for the next enqueue or [`Self::wait_idle`]).
    fn start_worker(self: &Arc<Self>, queue: &mut Queue) {
        if queue.worker {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            queue.worker = true;
            let hub = self.clone();
            handle.spawn(async move { hub.run().await });
        }
    }

    /// Resolves when every queued delivery reached a final state.
    pub(crate) async fn wait_idle(self: &Arc<Self>) {
        {
            let mut queue = lock(&self.queue);
            self.start_worker(&mut queue);
        }
        let mut pending = self.pending.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = pending.wait_for(|n| *n == 0).await;
    }

    /// The delivery task: attempts due deliveries in order until none is
    /// pending, then ends.
    async fn run(self: Arc<Self>) {
        loop {
            let next = {
                let mut queue = lock(&self.queue);
                match queue.due.first_key_value().map(|(k, _)| *k) {
                    Some(key) if key.0 <= Instant::now() => queue.due.remove(&key).ok_or(None),
                    Some(key) => Err(Some(key.0)),
                    None => match queue.held.pop_front() {
                        // Nothing follows a held delivery: release it now.
                        Some(mut held) => {
                            held.released = true;
                            queue.push(Instant::now(), held);
                            continue;
                        }
                        None => {
                            queue.worker = false;
                            return;
                        }
                    },
                }
            };
            let mut delivery = match next {
                Ok(d) => d,
                Err(Some(due)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(due) => {}
                        () = self.wake.notified() => {}
                    }
                    continue;
                }
                Err(None) => continue,
            };
            delivery.attempts += 1;
            let outcome = self.attempt(&delivery).await;
            self.finish(delivery, outcome);
        }
    }

    fn finish(&self, delivery: Delivery, outcome: AttemptOutcome) {
        let topic = delivery.topic;
        self.record(&delivery, outcome.clone());
        let success = outcome.is_success();
        self.count(topic, |c| {
            c.attempts += 1;
            if success {
                c.delivered += 1;
            } else {
                c.failed_attempts += 1;
            }
        });
        let give_up = !success && delivery.attempts >= self.settings.max_attempts.max(1);
        if give_up {
            self.count(topic, |c| c.abandoned += 1);
            tracing::debug!(webhook.topic = %topic, attempts = delivery.attempts, "emulated webhook delivery abandoned");
        }
        let now = Instant::now();
        let mut queue = lock(&self.queue);
        if !delivery.released {
            // The delivery after a held one was attempted: release them.
            while let Some(mut held) = queue.held.pop_front() {
                held.released = true;
                queue.push(now, held);
            }
        }
        if !success && !give_up {
            let at = now + self.settings.retry_delay(delivery.attempts);
            queue.push(at, delivery);
        } else {
            drop(queue);
            self.pending.send_modify(|n| *n = n.saturating_sub(1));
        }
    }

    async fn attempt(&self, d: &Delivery) -> AttemptOutcome {
        let signature = sign(self.secret.expose_secret(), &d.body);
        let sent = self
            .client
            .post(&d.uri)
            .timeout(self.settings.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Shopify-Topic", d.topic.header())
            .header("X-Shopify-Hmac-Sha256", signature)
            .header("X-Shopify-Shop-Domain", &self.shop_domain)
            .header("X-Shopify-API-Version", &d.api_version)
            .header("X-Shopify-Webhook-Id", &d.webhook_id)
            .header("X-Shopify-Event-Id", &d.event_id)
            .header("X-Shopify-Triggered-At", &d.triggered_at)
            .body(d.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                AttemptOutcome::Delivered(response.status().as_u16())
            }
            Ok(response) => AttemptOutcome::Rejected(response.status().as_u16()),
            Err(e) if e.is_timeout() => AttemptOutcome::TimedOut,
            Err(_) => AttemptOutcome::Unreachable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_between_enum_and_header_forms() {
        for topic in WebhookTopic::ALL {
            assert_eq!(WebhookTopic::parse(topic.as_enum()), Some(topic));
            let (resource, action) = topic.header().split_once('/').unwrap();
            assert!(!resource.is_empty() && !action.is_empty());
        }
        assert_eq!(
            WebhookTopic::OrdersPartiallyFulfilled.header(),
            "orders/partially_fulfilled"
        );
        assert_eq!(
            WebhookTopic::InventoryLevelsUpdate.header(),
            "inventory_levels/update"
        );
    }

    #[test]
    fn retries_wait_twice_as_long_each_time() {
        let s = WebhookSettings::default();
        assert_eq!(s.retry_delay(1), Duration::from_secs(60));
        assert_eq!(s.retry_delay(2), Duration::from_secs(120));
        let total: Duration = (1..s.max_attempts).map(|n| s.retry_delay(n)).sum();
        assert!(total > Duration::from_secs(4 * 3600) && total < Duration::from_secs(5 * 3600));
    }

    #[test]
    fn signatures_are_base64_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        let sig = sign("Jefe", b"what do ya want for nothing?");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn include_fields_keep_only_the_named_top_level_keys() {
        let body = serde_json::json!({ "id": 1, "updated_at": "x", "name": "#1001" });
        let kept = select_fields(&body, &["id".to_owned(), "updated_at".to_owned()]);
        assert_eq!(kept, serde_json::json!({ "id": 1, "updated_at": "x" }));
        assert_eq!(select_fields(&body, &[]), body);
    }
}
