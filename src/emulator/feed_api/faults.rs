//! Fault injection: scripted failures applied to the next requests.
//!
//! | fault | when it strikes | effect |
//! |---|---|---|
//! | [`Faults::fail_next`] | after authentication, before validation | 5xx, nothing applied |
//! | [`Faults::rate_limit_next`] | same | 429 with `Retry-After`, nothing applied |
//! | [`Faults::lose_writes_next`] | inside an accepted `PATCH` | 200 `accepted: true`, but some products are dropped |
//!
//! Each fault is a counter consumed by the request path; nothing here runs
//! on its own.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;

use super::lock;

#[derive(Default)]
struct FaultState {
    fail: Option<(u32, StatusCode)>,
    rate_limit: Option<(u32, Duration)>,
    lose: Option<(u32, NonZeroUsize)>,
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

impl Faults {
    /// The next `n` authenticated requests are answered `status` (meant for
    /// 5xx) in the API's error shape; nothing is applied.
    pub fn fail_next(&self, n: u32, status: StatusCode) {
        lock(&self.state).fail = (n > 0).then_some((n, status));
    }

    /// The next `n` authenticated requests get HTTP 429 with
    /// `Retry-After: <retry_after in whole seconds>`; nothing is applied.
    pub fn rate_limit_next(&self, n: u32, retry_after: Duration) {
        lock(&self.state).rate_limit = (n > 0).then_some((n, retry_after));
    }

    /// The next `n` valid `PATCH /feeds/{id}/products` requests are answered
    /// `200 {accepted: true}`, but the products at positions 0, `every`,
    /// 2·`every`, … of each are silently not stored (`every = 1` loses the
    /// whole request).
    pub fn lose_writes_next(&self, n: u32, every: NonZeroUsize) {
        lock(&self.state).lose = (n > 0).then_some((n, every));
    }

    /// Removes every scripted fault.
    pub fn clear(&self) {
        *lock(&self.state) = FaultState::default();
    }

    pub(crate) fn take_failure(&self) -> Option<StatusCode> {
        take(&mut lock(&self.state).fail)
    }

    pub(crate) fn take_rate_limit(&self) -> Option<Duration> {
        take(&mut lock(&self.state).rate_limit)
    }

    pub(crate) fn take_lost_writes(&self) -> Option<NonZeroUsize> {
        take(&mut lock(&self.state).lose)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fault_is_consumed_once_per_request() {
        let faults = Faults::default();
        faults.fail_next(2, StatusCode::BAD_GATEWAY);
        faults.rate_limit_next(1, Duration::from_secs(3));
        assert_eq!(faults.take_failure(), Some(StatusCode::BAD_GATEWAY));
        assert_eq!(faults.take_failure(), Some(StatusCode::BAD_GATEWAY));
        assert_eq!(faults.take_failure(), None);
        assert_eq!(faults.take_rate_limit(), Some(Duration::from_secs(3)));
        assert_eq!(faults.take_rate_limit(), None);
        faults.lose_writes_next(1, NonZeroUsize::MIN);
        faults.clear();
        assert_eq!(faults.take_lost_writes(), None);
    }
}
