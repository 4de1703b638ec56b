//! Request counters tests read back (`emulator.counters()`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::lock;

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Requests received (any outcome, faults included).
    pub requests: u64,
    /// Requests per endpoint (`"POST /v1/payment_intents"`, …), unknown
    /// URLs under `"unrecognized"`.
    pub by_endpoint: BTreeMap<String, u64>,
    /// Requests rejected with HTTP 401.
    pub unauthorized: u64,
    /// Injected 5xx answers ([`super::Faults::fail_next`] and
    /// [`super::Faults::error_during_execution_next`]).
    pub injected_failures: u64,
    /// Injected HTTP 429 answers.
    pub rate_limited: u64,
    /// Answers replayed from the idempotency store.
    pub idempotent_replays: u64,
    /// HTTP 409 answers for a key still in flight.
    pub idempotency_in_flight: u64,
    /// HTTP 400 `idempotency_error` answers.
    pub idempotency_mismatches: u64,
    /// Answers lost on purpose after execution.
    pub dropped_responses: u64,
    /// Requests that were executed (validation passed, not replayed).
    pub executed: u64,
}

/// The live counters.
#[derive(Default)]
pub(crate) struct Counters {
    inner: Mutex<CounterSnapshot>,
}

impl Counters {
    pub(crate) fn bump(&self, edit: impl FnOnce(&mut CounterSnapshot)) {
        edit(&mut lock(&self.inner));
    }

    pub(crate) fn request(&self, endpoint: &str) {
        self.bump(|c| {
            c.requests += 1;
            *c.by_endpoint.entry(endpoint.to_owned()).or_default() += 1;
        });
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        lock(&self.inner).clone()
    }
}
