//! Request counters tests read back (`emulator.counters()`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::lock;

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Requests received (any outcome, faults included).
    pub requests: u64,
    /// Requests per route template (`"PATCH /feeds/{id}/products"`, …);
    /// unknown paths under `"unrecognized"`.
    pub by_route: BTreeMap<String, u64>,
    /// Requests rejected with HTTP 401.
    pub unauthorized: u64,
    /// Requests rejected with another 4xx (validation, version, unknown
    /// feed, size limits).
    pub rejected: u64,
    /// Injected 5xx answers.
    pub injected_failures: u64,
    /// Injected HTTP 429 answers.
    pub rate_limited: u64,
    /// `POST /feeds` answers replayed for a repeated Idempotency-Key.
    pub idempotent_replays: u64,
    /// Accepted `PATCH` requests.
    pub patches_accepted: u64,
    /// Products stored by accepted `PATCH` requests (lost ones excluded).
    pub products_upserted: u64,
    /// Products answered as accepted but dropped by
    /// [`super::Faults::lose_writes_next`].
    pub products_lost: u64,
    /// The most products one accepted `PATCH` carried.
    pub largest_patch: u64,
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

    pub(crate) fn request(&self, route: &str) {
        self.bump(|c| {
            c.requests += 1;
            *c.by_route.entry(route.to_owned()).or_default() += 1;
        });
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        lock(&self.inner).clone()
    }
}
