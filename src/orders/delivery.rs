//! The delivery worker of one shop: drains the shop's order-event outbox
//! into the agents' webhook endpoints.
//!
//! - Each pass takes the due events (at most one per order, see
//!   [`Store::due_events`]) and posts them concurrently, up to
//!   [`CONCURRENCY`] at a time, each bounded by the configured timeout. So a
//!   hanging endpoint costs slots for one timeout, and other shops, having
//!   their own workers, never wait for it.
//! - A 2xx answer removes the event. Anything else records the failure and
//!   schedules the next attempt with exponential backoff, full-range
//!   jitter in the upper half, and a cap (a `Retry-After` is honoured up
//!   to the cap); after `max_attempts` failures the event is dead.
//! - All of this state is in the store, so a restarted daemon picks up
//!   exactly where the last one stopped. Delivery is at least once: an
//!   event whose answer was lost (crash, shutdown) is sent again with the
//!   same `Request-Id`.
//! - Between passes the worker sleeps until the next attempt falls due or
//!   [`OutboxWaker::wake`] is called (a new event was enqueued, an operator
//!   retried one), whichever is first.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use super::OrderEvent;
use super::render::render_event;
use super::signing::{self, MERCHANT_SIGNATURE, REQUEST_ID, TIMESTAMP};
use crate::config::{AgentWebhook, CheckoutSettings, OrderWebhookSettings};
use crate::domain::ShopId;
use crate::metrics::{
    ORDER_OUTBOX_DEAD, ORDER_OUTBOX_OLDEST_PENDING_AGE_SECONDS, ORDER_OUTBOX_PENDING,
    ORDER_WEBHOOK_DELIVERIES_TOTAL, ORDER_WEBHOOK_DELIVERY_DURATION_SECONDS,
};
use crate::store::{FailureNext, OutboxEntry, OutboxState, OutboxStats, Store, StoreError};

/// Deliveries in flight at once, per shop.
pub const CONCURRENCY: usize = 8;
/// Events taken per pass.
const BATCH: usize = 64;
/// Longest sleep without a due event or a wake-up: a safety net that also
/// refreshes the outbox gauges.
const IDLE_RECHECK: Duration = Duration::from_secs(60);
/// Wait after a store failure before the next pass.
const STORE_RETRY: Duration = Duration::from_secs(5);

/// Wakes a shop's delivery worker. Cheap to clone; a wake while the worker
/// is busy is remembered, so an event enqueued during a pass is not left
/// waiting for the timer.
#[derive(Clone, Default)]
pub struct OutboxWaker(Arc<Notify>);

impl OutboxWaker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the worker to look at the outbox now.
    pub fn wake(&self) {
        self.0.notify_one();
    }

    async fn woken(&self) {
        self.0.notified().await;
    }
}

/// Why the worker could not be built or a pass could not run.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("building the webhook HTTP client failed")]
    Client(#[source] reqwest::Error),
    #[error("reading the order outbox failed")]
    Store(#[from] StoreError),
    #[error("the order outbox scan panicked")]
    ScanPanicked,
}

/// What a pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    /// Events attempted.
    pub attempted: usize,
    /// When the earliest event not attempted falls due, if any.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Failed; another attempt is scheduled.
    Retry,
    /// Failed for the last time (or cannot be sent at all).
    Dead,
    /// The event disappeared meanwhile (dropped by an operator).
    Gone,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retry => "retry",
            Outcome::Dead => "dead",
            Outcome::Gone => "gone",
        }
    }
}

/// The order-webhook delivery of one shop.
pub struct DeliveryWorker {
    shop: ShopId,
    store: Store,
    settings: CheckoutSettings,
    waker: OutboxWaker,
    http: reqwest::Client,
}

impl DeliveryWorker {
    /// A worker for `shop`'s outbox, posting with the shop's agents'
    /// webhook settings.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        shop: ShopId,
        store: Store,
        settings: CheckoutSettings,
        waker: OutboxWaker,
    ) -> Result<Self, DeliveryError> {
        let policy = &settings.order_webhooks;
        let http = reqwest::Client::builder()
            .connect_timeout(policy.timeout.min(Duration::from_secs(10)))
            .timeout(policy.timeout)
            // A webhook endpoint that redirects is misconfigured; following
            // it would post signed order data somewhere unconfigured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("acp-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(DeliveryError::Client)?;
        Ok(DeliveryWorker {
            shop,
            store,
            settings,
            waker,
            http,
        })
    }

    /// Delivers until `cancel` fires. A pass in progress finishes (each
    /// attempt is bounded by the timeout); the app's shutdown deadline
    /// aborts it otherwise, leaving its events pending in the store.
    pub async fn run(self, cancel: CancellationToken) {
        let span = info_span!("order_webhooks", shop = %self.shop);
        async move {
            loop {
                if cancel.is_cancelled() {
                    return;
                }
                let wait = match self.pass(Utc::now()).await {
                    // Attempted something: look again at once (more may
                    // be due, or the next event of the same order).
                    Ok(report) if report.attempted > 0 => Duration::ZERO,
                    Ok(report) => report.next_attempt_at.map_or(IDLE_RECHECK, |at| {
                        (at - Utc::now())
                            .to_std()
                            .unwrap_or(Duration::ZERO)
                            .min(IDLE_RECHECK)
                    }),
                    Err(e) => {
                        warn!(error = %crate::telemetry::ErrorChain(&e), "reading the order outbox failed");
                        STORE_RETRY
                    }
                };
                if wait.is_zero() {
                    continue;
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = self.waker.woken() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// One pass: attempts every due event (bounded concurrency) and updates
    /// the outbox gauges.
    ///
    /// # Errors
    /// The outbox could not be read.
    pub async fn pass(&self, now: DateTime<Utc>) -> Result<PassReport, DeliveryError> {
        let store = self.store.clone();
        let shop = self.shop.clone();
        let due = crate::telemetry::spawn_blocking_in_span(move || {
            store.due_events::<OrderEvent>(&shop, now, BATCH)
        })
        .await
        .map_err(|_| DeliveryError::ScanPanicked)??;
        self.record_gauges(&due.stats, now);
        let report = PassReport {
            attempted: due.due.len(),
            next_attempt_at: due.next_attempt_at,
        };
        if due.due.is_empty() {
            return Ok(report);
        }
        futures_util::stream::iter(due.due)
            .for_each_concurrent(CONCURRENCY, |entry| async move {
                let outcome = self.deliver(entry).await;
                metrics::counter!(
                    ORDER_WEBHOOK_DELIVERIES_TOTAL,
                    "shop" => self.shop.to_string(),
                    "outcome" => outcome.as_str(),
                )
                .increment(1);
            })
            .await;
        if let Ok(stats) = self.store.outbox_stats(&self.shop) {
            self.record_gauges(&stats, Utc::now());
        }
        Ok(report)
    }

    fn record_gauges(&self, stats: &OutboxStats, now: DateTime<Utc>) {
        let shop = self.shop.to_string();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        {
            metrics::gauge!(ORDER_OUTBOX_PENDING, "shop" => shop.clone()).set(stats.pending as f64);
            metrics::gauge!(ORDER_OUTBOX_DEAD, "shop" => shop.clone()).set(stats.dead as f64);
        }
        let age = stats.oldest_pending.map_or(0.0, |t| {
            (now - t).to_std().unwrap_or(Duration::ZERO).as_secs_f64()
        });
        metrics::gauge!(ORDER_OUTBOX_OLDEST_PENDING_AGE_SECONDS, "shop" => shop).set(age);
    }

    fn webhook_of(&self, agent: Option<&str>) -> Option<&AgentWebhook> {
        let agent = agent?;
        self.settings
            .agents
            .iter()
            .find(|a| a.id == agent)
            .and_then(|a| a.webhook.as_ref())
    }

    /// One attempt of one event, with its bookkeeping in the store.
    async fn deliver(&self, entry: OutboxEntry<OrderEvent>) -> Outcome {
        let event = &entry.event;
        let order = &event.order;
        let Some(webhook) = self.webhook_of(order.agent.as_deref()) else {
            // Nowhere to send it (the agent's webhook was removed from the
            // configuration): dead at once, an operator may retry it after
            // fixing the configuration.
            return self.failed(
                &entry,
                "the agent has no webhook_url configured",
                None,
                true,
            );
        };
        let version = webhook.api_version.unwrap_or(order.created_with);
        let body = render_event(version, event.kind, order);
        let signed = signing::sign(&webhook.secret, &body, Utc::now(), &event.request_id);
        let started = std::time::Instant::now();
        let result = self
            .http
            .post(webhook.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(MERCHANT_SIGNATURE, &signed.merchant_signature)
            .header(REQUEST_ID, &signed.request_id)
            .header(TIMESTAMP, &signed.timestamp)
            .body(body)
            .send()
            .await;
        metrics::histogram!(ORDER_WEBHOOK_DELIVERY_DURATION_SECONDS, "shop" => self.shop.to_string())
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(response) if response.status().is_success() => {
                match self.store.mark_event_delivered(&self.shop, entry.id) {
                    Ok(_) => {
                        info!(
                            order.id = %order.id,
                            event.id = entry.id,
                            event.kind = event.kind.as_str(),
                            order.status = order.status.as_str(),
                            attempts = entry.attempts + 1,
                            "order event delivered"
                        );
                        Outcome::Delivered
                    }
                    Err(e) => {
                        // Delivered but still queued: it goes again, which
                        // at-least-once receivers tolerate.
                        warn!(event.id = entry.id, error = %crate::telemetry::ErrorChain(&e), "recording a delivery failed");
                        Outcome::Retry
                    }
                }
            }
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                self.failed(
                    &entry,
                    &format!("HTTP {}", status.as_u16()),
                    retry_after,
                    false,
                )
            }
            Err(e) => self.failed(&entry, &describe(&e, self.policy().timeout), None, false),
        }
    }

    fn policy(&self) -> &OrderWebhookSettings {
        &self.settings.order_webhooks
    }

    /// Records a failed attempt; dead when `give_up` or out of attempts.
    fn failed(
        &self,
        entry: &OutboxEntry<OrderEvent>,
        error: &str,
        retry_after: Option<Duration>,
        give_up: bool,
    ) -> Outcome {
        let failures = entry.attempts.saturating_add(1);
        let policy = self.policy();
        let dead = give_up || failures >= policy.max_attempts;
        let next = if dead {
            FailureNext::Dead
        } else {
            let wait = backoff(policy, failures, fastrand::f64());
            let wait = retry_after.map_or(wait, |r| wait.max(r.min(policy.max_backoff)));
            FailureNext::RetryAt(Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default())
        };
        let stored = self
            .store
            .record_event_failure(&self.shop, entry.id, error, next);
        let order = &entry.event.order;
        match stored {
            Ok(Some(OutboxState::Dead)) => {
                warn!(
                    order.id = %order.id,
                    event.id = entry.id,
                    attempts = failures,
                    error,
                    "order event dead after its last attempt; `acp-bridge outbox retry` sends it again"
                );
                Outcome::Dead
            }
            Ok(Some(OutboxState::Pending)) => {
                warn!(
                    order.id = %order.id,
                    event.id = entry.id,
                    attempts = failures,
                    error,
                    "order event delivery failed; will retry"
                );
                Outcome::Retry
            }
            Ok(None) => Outcome::Gone,
            Err(e) => {
                warn!(event.id = entry.id, error = %crate::telemetry::ErrorChain(&e), "recording a failed delivery failed");
                Outcome::Retry
            }
        }
    }
}

/// The wait before attempt `failures + 1`: `initial × 2^(failures−1)`,
/// capped at `max_backoff`, then jittered into its upper half (`jitter` in
/// `[0, 1)`), so retries of many events spread out but never come sooner
/// than half the nominal delay.
pub fn backoff(policy: &OrderWebhookSettings, failures: u32, jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(32);
    let nominal = policy
        .initial_backoff
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(policy.max_backoff);
    nominal.div_f64(2.0) + nominal.div_f64(2.0).mul_f64(jitter.clamp(0.0, 1.0))
}

/// A failed request as a short fixed phrase: no URL (it may carry a token),
/// no body.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        format!("timed out after {} ms", timeout.as_millis())
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else if error.is_redirect() {
        "redirected (not followed)".to_owned()
    } else {
        "request failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(initial_ms: u64, max_ms: u64) -> OrderWebhookSettings {
        OrderWebhookSettings {
            max_attempts: 12,
            initial_backoff: Duration::from_millis(initial_ms),
            max_backoff: Duration::from_millis(max_ms),
            timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_in_the_upper_half() {
        let p = policy(1_000, 60_000);
        let at = |failures, jitter| backoff(&p, failures, jitter).as_millis();
        assert_eq!(at(1, 0.0), 500);
        assert_eq!(at(1, 0.999_999), 999);
        assert_eq!(at(2, 0.0), 1_000);
        assert_eq!(at(3, 0.5), 3_000);
        assert_eq!(at(6, 0.0), 16_000);
        // 2^6 s = 64 s is past the cap.
        assert_eq!(at(7, 0.0), 30_000);
        assert_eq!(at(7, 1.0), 60_000);
        assert_eq!(at(1_000, 1.0), 60_000);
    }
}
