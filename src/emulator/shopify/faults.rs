//! Fault injection: scripted failures the emulator applies to the next
//! requests or bulk operations (5xx, hangs, throttle storms, HTTP 429,
//! failed or slow bulk operations, revoked tokens), `orderCreate` responses
//! lost after the order was committed, a lagging order search index, and
//! webhook deliveries that are dropped, duplicated or sent out of order.
//!
//! Each fault is a counter consumed by the request path; nothing here runs
//! on its own.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;

use super::bucket::Bucket;
use super::lock;

/// `BulkOperationErrorCode` values a failed bulk operation can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkErrorCode {
    AccessDenied,
    InternalServerError,
    Timeout,
}

impl BulkErrorCode {
    /// The enum value as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkErrorCode::AccessDenied => "ACCESS_DENIED",
            BulkErrorCode::InternalServerError => "INTERNAL_SERVER_ERROR",
            BulkErrorCode::Timeout => "TIMEOUT",
        }
    }
}

/// How a committed `orderCreate` response is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostResponse {
    /// The order is stored, then the client gets HTTP 502 (a gateway that
    /// timed out waiting for Shopify).
    BadGateway,
    /// The order is stored, then the connection drops before the body is
    /// complete.
    Disconnect,
}

/// How long new orders stay invisible to `orders` searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexDelay {
    /// Hidden from the next `n` searches after their creation.
    Searches(u32),
    /// Hidden for this long after their creation (tokio time, so paused
    /// test clocks apply).
    For(Duration),
}

/// What happens to the next webhook delivery (see [`Faults::drop_webhooks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebhookFault {
    Drop,
    Duplicate,
    HoldBack,
}

#[derive(Default)]
struct FaultState {
    fail: Option<(u32, StatusCode)>,
    hang: Option<(u32, Duration)>,
    throttle: u32,
    rate_limit: Option<(u32, Duration)>,
    bulk_fail: Option<(u32, BulkErrorCode)>,
    bulk_extra_delay: Duration,
    revoked: HashSet<String>,
    lost_order_create: Option<(u32, LostResponse)>,
    order_index_delay: Option<IndexDelay>,
    webhook_drop: u32,
    webhook_duplicate: u32,
    webhook_hold: u32,
    uninstalled: bool,
}

/// The fault controls of one emulator (`emulator.faults()`).
pub struct Faults {
    state: Mutex<FaultState>,
    bucket: Arc<Mutex<Bucket>>,
}

fn take<T: Copy>(slot: &mut Option<(u32, T)>) -> Option<T> {
    let (left, value) = slot.as_mut()?;
    let value = *value;
    *left -= 1;
    if *left == 0 {
        *slot = None;
    }
    Some(value)
}

impl Faults {
    pub(crate) fn new(bucket: Arc<Mutex<Bucket>>) -> Self {
        Faults {
            state: Mutex::new(FaultState::default()),
            bucket,
        }
    }

    /// The next `n` GraphQL requests fail with HTTP `status` (meant for 5xx).
    pub fn fail_next(&self, n: u32, status: StatusCode) {
        lock(&self.state).fail = (n > 0).then_some((n, status));
    }

    /// The next `n` GraphQL requests stall for `duration` before being
    /// answered normally (to trigger client timeouts).
    pub fn hang_next(&self, n: u32, duration: Duration) {
        lock(&self.state).hang = (n > 0).then_some((n, duration));
    }

    /// The next `n` GraphQL requests are answered `THROTTLED` whatever the
    /// bucket holds.
    pub fn throttle_next(&self, n: u32) {
        lock(&self.state).throttle = n;
    }

    /// Empties the cost bucket now; it restores at the normal rate.
    pub fn drain_bucket(&self) {
        lock(&self.bucket).drain();
    }

    /// The next `n` GraphQL requests get HTTP 429 with `Retry-After`
    /// (whole seconds, rounded up).
    pub fn rate_limit_next(&self, n: u32, retry_after: Duration) {
        lock(&self.state).rate_limit = (n > 0).then_some((n, retry_after));
    }

    /// The next `n` bulk operations end `FAILED` with `code`.
    pub fn fail_bulk_operations(&self, n: u32, code: BulkErrorCode) {
        lock(&self.state).bulk_fail = (n > 0).then_some((n, code));
    }

    /// Bulk operations stay `RUNNING` for `extra` longer than configured.
    pub fn slow_bulk_operations(&self, extra: Duration) {
        lock(&self.state).bulk_extra_delay = extra;
    }

    /// Requests with this access token get 401 from now on.
    pub fn revoke_token(&self, token: &str) {
        lock(&self.state).revoked.insert(token.to_owned());
    }

    /// The next `n` requests that run `orderCreate` commit their work and
    /// then lose the response as `how` says.
    pub fn lose_order_create_responses(&self, n: u32, how: LostResponse) {
        lock(&self.state).lost_order_create = (n > 0).then_some((n, how));
    }

    /// Orders created from now on reach the search index late (`None`:
    /// immediately again). `order(id:)` is never delayed.
    pub fn delay_order_indexing(&self, delay: Option<IndexDelay>) {
        lock(&self.state).order_index_delay = delay;
    }

    /// The next `n` webhook deliveries are lost: never sent, counted as
    /// dropped.
    pub fn drop_webhooks(&self, n: u32) {
        lock(&self.state).webhook_drop = n;
    }

    /// The next `n` webhook deliveries are sent twice: the copy carries the
    /// same `X-Shopify-Event-Id` and a new `X-Shopify-Webhook-Id`.
    pub fn duplicate_webhooks(&self, n: u32) {
        lock(&self.state).webhook_duplicate = n;
    }

    /// The next `n` webhook deliveries are held back and sent only after the
    /// delivery that follows them was attempted (or when nothing else is
    /// pending), so receivers see them out of order.
    pub fn reorder_webhooks(&self, n: u32) {
        lock(&self.state).webhook_hold = n;
    }

    /// Removes every scripted fault (revocations included).
    pub fn clear(&self) {
        *lock(&self.state) = FaultState::default();
    }

    pub(crate) fn take_hang(&self) -> Option<Duration> {
        take(&mut lock(&self.state).hang)
    }

    pub(crate) fn take_failure(&self) -> Option<StatusCode> {
        take(&mut lock(&self.state).fail)
    }

    pub(crate) fn take_rate_limit(&self) -> Option<Duration> {
        take(&mut lock(&self.state).rate_limit)
    }

    pub(crate) fn take_throttle(&self) -> bool {
        let mut state = lock(&self.state);
        if state.throttle == 0 {
            return false;
        }
        state.throttle -= 1;
        true
    }

    pub(crate) fn take_bulk_failure(&self) -> Option<BulkErrorCode> {
        take(&mut lock(&self.state).bulk_fail)
    }

    pub(crate) fn bulk_extra_delay(&self) -> Duration {
        lock(&self.state).bulk_extra_delay
    }

    pub(crate) fn take_lost_order_create(&self) -> Option<LostResponse> {
        take(&mut lock(&self.state).lost_order_create)
    }

    pub(crate) fn order_index_delay(&self) -> Option<IndexDelay> {
        lock(&self.state).order_index_delay
    }

    pub(crate) fn is_revoked(&self, token: &str) -> bool {
        let state = lock(&self.state);
        state.uninstalled || state.revoked.contains(token)
    }

    /// Every token stops working (the app was uninstalled); `clear` undoes
    /// it.
    pub(crate) fn revoke_all(&self) {
        lock(&self.state).uninstalled = true;
    }

    /// The fault to apply to the next webhook delivery, if any (drops first,
    /// then duplicates, then hold-backs).
    pub(crate) fn take_webhook_fault(&self) -> Option<WebhookFault> {
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        for (left, fault) in [
            (&mut state.webhook_drop, WebhookFault::Drop),
            (&mut state.webhook_duplicate, WebhookFault::Duplicate),
            (&mut state.webhook_hold, WebhookFault::HoldBack),
        ] {
            if *left > 0 {
                *left -= 1;
                return Some(fault);
            }
        }
        None
    }
}
