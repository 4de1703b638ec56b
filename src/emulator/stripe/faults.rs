//! Fault injection: scripted failures applied to the next requests.
//!
//! Where each fault strikes matters for idempotency, so each says whether
//! the request was executed and whether its answer was stored under the
//! Idempotency-Key:
//!
//! | fault | executed | stored |
//! |---|---|---|
//! | [`Faults::fail_next`] (5xx before Stripe runs anything) | no | no |
//! | [`Faults::rate_limit_next`] (429) | no | no |
//! | [`Faults::hang_next`] (delay, then normal handling) | yes, unless the server drops it with the connection | yes, if executed |
//! | [`Faults::stall_execution_next`] (delay while holding the key) | yes | yes |
//! | [`Faults::error_during_execution_next`] (500 `api_error`) | no | yes |
//! | [`Faults::drop_response_next`] (applied, answer lost) | yes | yes |
//!
//! Each fault is a counter consumed by the request path; nothing here runs
//! on its own.

use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;

use super::lock;

/// How a dropped answer reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseLoss {
    /// The connection is torn down before the answer is complete, as when a
    /// proxy or the network fails after Stripe has committed.
    Abort,
    /// A gateway answers this status (e.g. 502 or 504) instead of Stripe's
    /// answer.
    Gateway(StatusCode),
}

#[derive(Default)]
struct FaultState {
    fail: Option<(u32, StatusCode)>,
    rate_limit: u32,
    hang: Option<(u32, Duration)>,
    stall: Option<(u32, Duration)>,
    execution_error: u32,
    drop: Option<(u32, ResponseLoss)>,
}

/// The fault controls of one emulator (`emulator.faults()`).
#[derive(Default)]
pub struct Faults {
    state: Mutex<FaultState>,
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

fn take_count(count: &mut u32) -> bool {
    if *count == 0 {
        return false;
    }
    *count -= 1;
    true
}

impl Faults {
    /// The next `n` requests are answered `status` (meant for 5xx) before
    /// anything runs: nothing is applied or stored.
    pub fn fail_next(&self, n: u32, status: StatusCode) {
        lock(&self.state).fail = (n > 0).then_some((n, status));
    }

    /// The next `n` requests get HTTP 429 `rate_limit` before anything runs.
    pub fn rate_limit_next(&self, n: u32) {
        lock(&self.state).rate_limit = n;
    }

    /// The next `n` requests wait `duration` before they are handled
    /// normally (to trigger client timeouts). Whether a request whose client
    /// gave up still runs afterwards depends on whether the HTTP server
    /// notices the closed connection; callers must cope with both, as with
    /// real Stripe.
    pub fn hang_next(&self, n: u32, duration: Duration) {
        lock(&self.state).hang = (n > 0).then_some((n, duration));
    }

    /// The next `n` requests carrying an Idempotency-Key wait `duration`
    /// after claiming the key and before executing, so a concurrent request
    /// with the same key sees it in flight (HTTP 409).
    pub fn stall_execution_next(&self, n: u32, duration: Duration) {
        lock(&self.state).stall = (n > 0).then_some((n, duration));
    }

    /// The next `n` requests that pass validation fail inside execution
    /// with a 500 `api_error`; nothing is applied, but the 500 is stored
    /// under the Idempotency-Key and replayed, as Stripe documents.
    pub fn error_during_execution_next(&self, n: u32) {
        lock(&self.state).execution_error = n;
    }

    /// The next `n` requests that pass validation are executed and their
    /// answer stored under the Idempotency-Key, but the client does not get
    /// it: the connection is aborted or a gateway status replaces it.
    pub fn drop_response_next(&self, n: u32, loss: ResponseLoss) {
        lock(&self.state).drop = (n > 0).then_some((n, loss));
    }

    /// Removes every scripted fault.
    pub fn clear(&self) {
        *lock(&self.state) = FaultState::default();
    }

    pub(crate) fn take_failure(&self) -> Option<StatusCode> {
        take(&mut lock(&self.state).fail)
    }

    pub(crate) fn take_rate_limit(&self) -> bool {
        take_count(&mut lock(&self.state).rate_limit)
    }

    pub(crate) fn take_hang(&self) -> Option<Duration> {
        take(&mut lock(&self.state).hang)
    }

    pub(crate) fn take_stall(&self) -> Option<Duration> {
        take(&mut lock(&self.state).stall)
    }

    pub(crate) fn take_execution_error(&self) -> bool {
        take_count(&mut lock(&self.state).execution_error)
    }

    pub(crate) fn take_drop(&self) -> Option<ResponseLoss> {
        take(&mut lock(&self.state).drop)
    }
}
