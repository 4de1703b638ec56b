//! Request counters tests and benchmarks read back (`emulator.counters()`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::lock;

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// GraphQL requests received (any outcome, faults included).
    pub requests: u64,
    /// Responses with a `THROTTLED` error.
    pub throttled: u64,
    /// HTTP 429 responses (injected).
    pub rate_limited: u64,
    /// Injected HTTP 5xx responses.
    pub injected_failures: u64,
    /// Requests rejected with HTTP 401.
    pub unauthorized: u64,
    /// Sum of `actualQueryCost` charged to the bucket.
    pub points_charged: u64,
    /// Tokens issued by the client-credentials endpoint.
    pub tokens_issued: u64,
    /// Bulk operations started (`CREATED`).
    pub bulk_operations_started: u64,
    /// Executed requests per operation name (`"anonymous"` without one).
    pub by_operation: BTreeMap<String, u64>,
}

/// The live counters.
#[derive(Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    throttled: AtomicU64,
    rate_limited: AtomicU64,
    injected_failures: AtomicU64,
    unauthorized: AtomicU64,
    points_charged: AtomicU64,
    tokens_issued: AtomicU64,
    bulk_operations_started: AtomicU64,
    by_operation: Mutex<BTreeMap<String, u64>>,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn request(&self) {
        bump(&self.requests, 1);
    }
    pub(crate) fn throttled(&self) {
        bump(&self.throttled, 1);
    }
    pub(crate) fn rate_limited(&self) {
        bump(&self.rate_limited, 1);
    }
    pub(crate) fn injected_failure(&self) {
        bump(&self.injected_failures, 1);
    }
    pub(crate) fn unauthorized(&self) {
        bump(&self.unauthorized, 1);
    }
    pub(crate) fn charged(&self, points: u64) {
        bump(&self.points_charged, points);
    }
    pub(crate) fn token_issued(&self) {
        bump(&self.tokens_issued, 1);
    }
    pub(crate) fn bulk_started(&self) {
        bump(&self.bulk_operations_started, 1);
    }
    pub(crate) fn operation(&self, name: &str) {
        *lock(&self.by_operation).entry(name.to_owned()).or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterSnapshot {
            requests: get(&self.requests),
            throttled: get(&self.throttled),
            rate_limited: get(&self.rate_limited),
            injected_failures: get(&self.injected_failures),
            unauthorized: get(&self.unauthorized),
            points_charged: get(&self.points_charged),
            tokens_issued: get(&self.tokens_issued),
            bulk_operations_started: get(&self.bulk_operations_started),
            by_operation: lock(&self.by_operation).clone(),
        }
    }
}
