//! Cost-based throttle for one shop, driven by `extensions.cost` of every
//! response.
//!
//! A `governor` rate limiter models Shopify's leaky bucket locally: its quota
//! is the reported `restoreRate` points/s with a burst of
//! `maximumAvailable`, and each request takes its estimated cost in cells
//! before it is sent. After every response (throttled ones included) the
//! limiter is re-synchronised to the reported `currentlyAvailable` minus what
//! is still in flight, so when Shopify reports less than the local model the
//! next request waits the difference / restoreRate.
//!
//! Waiting uses `check_n` plus `tokio::time::sleep` and a tokio-backed
//! governor clock rather than `until_n_ready`, whose timer is wall-clock
//! `futures_timer`: this keeps pacing controllable with
//! `tokio::time::pause()` in tests and benchmarks.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde::Deserialize;
use tokio::time::Instant;

use crate::metrics::{QUERY_COST_POINTS_TOTAL, THROTTLE_AVAILABLE_POINTS, THROTTLE_WAIT_SECONDS};

/// Restore rate assumed before the first response (points/s).
const DEFAULT_RESTORE_RATE: u32 = 100;
/// Bucket size assumed before the first response (points).
const DEFAULT_MAXIMUM_AVAILABLE: u32 = 1_000;
/// Cost assumed for an operation never seen before (a mutation's cost).
const DEFAULT_COST: u32 = 10;
/// Upper bound of the random extra wait after a THROTTLED response.
const THROTTLE_JITTER_MAX: Duration = Duration::from_millis(250);

/// `extensions.cost` of one response.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryCost {
    /// Static estimate, charged up front.
    pub requested_query_cost: Option<f64>,
    /// Cost after execution (null when throttled).
    pub actual_query_cost: Option<f64>,
    /// The bucket after this request.
    pub throttle_status: ThrottleStatus,
}

/// `extensions.cost.throttleStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    /// Bucket size in points.
    pub maximum_available: f64,
    /// Points left now.
    pub currently_available: f64,
    /// Points restored per second.
    pub restore_rate: f64,
}

impl QueryCost {
    /// Reads `cost` from a response's `extensions`, if present and well formed.
    pub fn from_extensions(
        extensions: Option<&HashMap<String, serde_json::Value>>,
    ) -> Option<QueryCost> {
        let cost = extensions?.get("cost")?;
        QueryCost::deserialize(cost).ok()
    }

    /// `requestedQueryCost` rounded up to whole points.
    pub fn requested(&self) -> Option<u32> {
        self.requested_query_cost.map(points)
    }
}

fn points(value: f64) -> u32 {
    if value.is_finite() && value > 0.0 {
        // Saturating float-to-int conversion; costs are small integers.
        value.ceil() as u32
    } else {
        0
    }
}

/// Throttle figures for one client, for benchmarks and logs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThrottleStats {
    /// Responses that carried a cost.
    pub responses: u64,
    /// Responses Shopify marked THROTTLED.
    pub throttled: u64,
    /// Total time spent waiting for budget (pacing plus throttle back-off).
    pub wait: Duration,
    /// Sum of `requestedQueryCost`.
    pub requested_points: u64,
    /// Sum of `actualQueryCost`.
    pub actual_points: u64,
    /// Last reported `restoreRate` (points/s).
    pub restore_rate: Option<f64>,
    /// Last reported `maximumAvailable`.
    pub maximum_available: Option<f64>,
    /// Last reported `currentlyAvailable`.
    pub currently_available: Option<f64>,
    /// Time from the first request to the last response.
    pub active: Duration,
}

impl ThrottleStats {
    /// Points actually consumed divided by the points the restore rate
    /// refilled over the active period (`actual / (restoreRate × active)`).
    /// 1.0 means the client ran exactly at Shopify's sustained rate; values
    /// above 1.0 mean it also spent the initial bucket. `None` before any
    /// response or with a zero-length active period.
    pub fn restore_rate_utilisation(&self) -> Option<f64> {
        let rate = self.restore_rate?;
        let secs = self.active.as_secs_f64();
        if rate <= 0.0 || secs <= 0.0 {
            return None;
        }
        Some(self.actual_points as f64 / (rate * secs))
    }
}

/// A governor clock on tokio's (pausable) time.
#[derive(Debug, Clone)]
struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.origin.elapsed())
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

struct State {
    limiter: Arc<Limiter>,
    restore_rate: u32,
    maximum_available: u32,
    /// Last `requestedQueryCost` per operation name.
    last_cost: HashMap<&'static str, u32>,
    /// Cells taken for requests that have not been answered yet.
    in_flight: u32,
    first_request: Option<Instant>,
    stats: ThrottleStats,
}

/// The per-shop limiter. Cheap to share behind the client's `Arc`.
pub(crate) struct CostThrottle {
    clock: TokioClock,
    state: Mutex<State>,
}

/// Cells taken by [`CostThrottle::acquire`]; hand back to
/// [`CostThrottle::record`] or [`CostThrottle::release`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Permit {
    cells: u32,
}

fn quota(restore_rate: u32, maximum_available: u32) -> Quota {
    let rate = NonZeroU32::new(restore_rate.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(maximum_available.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

impl CostThrottle {
    pub fn new() -> Self {
        let clock = TokioClock {
            origin: Instant::now(),
        };
        let limiter = Arc::new(RateLimiter::direct_with_clock(
            quota(DEFAULT_RESTORE_RATE, DEFAULT_MAXIMUM_AVAILABLE),
            clock.clone(),
        ));
        CostThrottle {
            clock,
            state: Mutex::new(State {
                limiter,
                restore_rate: DEFAULT_RESTORE_RATE,
                maximum_available: DEFAULT_MAXIMUM_AVAILABLE,
                last_cost: HashMap::new(),
                in_flight: 0,
                first_request: None,
                stats: ThrottleStats::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-update of
        // plain counters; the data is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The expected cost of `operation`: its last `requestedQueryCost`, or a
    /// default for an operation not seen yet.
    pub fn estimate(&self, operation: &'static str) -> u32 {
        self.lock()
            .last_cost
            .get(operation)
            .copied()
            .unwrap_or(DEFAULT_COST)
    }

    /// Waits until the local bucket holds `cost` points and takes them.
    /// Returns the permit and how long it waited.
    pub async fn acquire(&self, cost: u32) -> (Permit, Duration) {
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let cells = loop {
            let (limiter, burst) = {
                let mut state = self.lock();
                state.first_request.get_or_insert(started);
                (Arc::clone(&state.limiter), state.maximum_available)
            };
            // A request can never cost more than the bucket holds; asking
            // for more would fail forever, so clamp (Shopify decides).
            let cells = cost.clamp(1, burst.max(1));
            let Some(n) = NonZeroU32::new(cells) else {
                break 0;
            };
            match limiter.check_n(n) {
                Ok(Ok(())) | Err(_) => break cells,
                Ok(Err(not_until)) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    tokio::time::sleep(wait).await;
                    waited = started.elapsed();
                }
            }
        };
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_add(cells);
        if !waited.is_zero() {
            state.stats.wait += waited;
            metrics::histogram!(THROTTLE_WAIT_SECONDS).record(waited.as_secs_f64());
        }
        (Permit { cells }, waited)
    }

    /// Returns a permit whose request got no cost report (transport error,
    /// non-200 status).
    pub fn release(&self, permit: Permit) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(permit.cells);
    }

    /// Records a response's cost: remembers the operation's requested cost,
    /// adopts a changed quota and re-synchronises the local bucket to the
    /// reported `currentlyAvailable`.
    pub fn record(
        &self,
        operation: &'static str,
        permit: Permit,
        cost: Option<&QueryCost>,
        throttled: bool,
    ) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(permit.cells);
        if let Some(first) = state.first_request {
            state.stats.active = first.elapsed();
        }
        let Some(cost) = cost else {
            return;
        };
        let status = cost.throttle_status;
        state.stats.responses += 1;
        if throttled {
            state.stats.throttled += 1;
        }
        if let Some(requested) = cost.requested() {
            state.last_cost.insert(operation, requested);
            state.stats.requested_points += u64::from(requested);
            metrics::counter!(QUERY_COST_POINTS_TOTAL, "kind" => "requested")
                .increment(u64::from(requested));
        }
        if let Some(actual) = cost.actual_query_cost.map(points) {
            state.stats.actual_points += u64::from(actual);
            metrics::counter!(QUERY_COST_POINTS_TOTAL, "kind" => "actual")
                .increment(u64::from(actual));
        }
        state.stats.restore_rate = Some(status.restore_rate);
        state.stats.maximum_available = Some(status.maximum_available);
        state.stats.currently_available = Some(status.currently_available);
        metrics::gauge!(THROTTLE_AVAILABLE_POINTS).set(status.currently_available);

        let restore_rate = points(status.restore_rate).max(1);
        let maximum = points(status.maximum_available).max(1);
        let available = status.currently_available.max(0.0).floor() as u32;
        let used = maximum
            .saturating_sub(available.min(maximum))
            .saturating_add(state.in_flight)
            .min(maximum);
        // A fresh limiter is full; taking `used` cells leaves exactly what
        // Shopify reported (minus what is still in flight), refilling at the
        // reported rate from now on.
        let limiter =
            RateLimiter::direct_with_clock(quota(restore_rate, maximum), self.clock.clone());
        if let Some(n) = NonZeroU32::new(used) {
            // Cannot fail: `used <= maximum` = the burst of a full limiter.
            let _ = limiter.check_n(n);
        }
        state.limiter = Arc::new(limiter);
        state.restore_rate = restore_rate;
        state.maximum_available = maximum;
    }

    /// How long to wait after a THROTTLED response before retrying:
    /// `(requested − available) / restoreRate` plus jitter.
    pub fn throttled_wait(&self, cost: Option<&QueryCost>, fallback_requested: u32) -> Duration {
        let jitter =
            Duration::from_millis(fastrand::u64(0..=THROTTLE_JITTER_MAX.as_millis() as u64));
        let Some(cost) = cost else {
            return Duration::from_secs(1) + jitter;
        };
        let status = cost.throttle_status;
        let requested = cost.requested().unwrap_or(fallback_requested) as f64;
        let missing = (requested - status.currently_available).max(0.0);
        let rate = if status.restore_rate > 0.0 {
            status.restore_rate
        } else {
            f64::from(DEFAULT_RESTORE_RATE)
        };
        let secs = (missing / rate).min(3_600.0);
        Duration::from_secs_f64(secs) + jitter
    }

    /// Adds a wait that happened outside [`CostThrottle::acquire`] (the sleep
    /// after a THROTTLED response).
    pub fn add_wait(&self, wait: Duration) {
        self.lock().stats.wait += wait;
        metrics::histogram!(THROTTLE_WAIT_SECONDS).record(wait.as_secs_f64());
    }

    /// A snapshot of the figures so far.
    pub fn stats(&self) -> ThrottleStats {
        self.lock().stats.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(requested: f64, available: f64, maximum: f64, rate: f64) -> QueryCost {
        QueryCost {
            requested_query_cost: Some(requested),
            actual_query_cost: Some(requested),
            throttle_status: ThrottleStatus {
                maximum_available: maximum,
                currently_available: available,
                restore_rate: rate,
            },
        }
    }

    #[test]
    fn cost_is_read_from_response_extensions() {
        let ext: HashMap<String, serde_json::Value> = serde_json::from_str(
            r#"{"cost":{"requestedQueryCost":101,"actualQueryCost":null,
                "throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":50,"restoreRate":100.0}}}"#,
        )
        .unwrap();
        let cost = QueryCost::from_extensions(Some(&ext)).unwrap();
        assert_eq!(cost.requested(), Some(101));
        assert_eq!(cost.actual_query_cost, None);
        assert_eq!(cost.throttle_status.currently_available, 50.0);
        assert_eq!(QueryCost::from_extensions(None), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_low_reported_balance_makes_the_next_request_wait_for_the_difference() {
        let throttle = CostThrottle::new();
        let (permit, waited) = throttle.acquire(10).await;
        assert_eq!(waited, Duration::ZERO);
        // Shopify says only 100 of 1000 points are left, restoring 50/s.
        throttle.record("Op", permit, Some(&cost(10.0, 100.0, 1000.0, 50.0)), false);
        assert_eq!(throttle.estimate("Op"), 10);

        let (_permit, waited) = throttle.acquire(300).await;
        // 200 points missing at 50 points/s.
        assert!(
            waited >= Duration::from_millis(3_990) && waited <= Duration::from_millis(4_010),
            "waited {waited:?}"
        );
        assert_eq!(throttle.stats().wait, waited);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_lets_requests_through_without_waiting() {
        let throttle = CostThrottle::new();
        let (permit, _) = throttle.acquire(5).await;
        throttle.record("Op", permit, Some(&cost(5.0, 2000.0, 2000.0, 100.0)), false);
        for _ in 0..10 {
            let (permit, waited) = throttle.acquire(100).await;
            assert_eq!(waited, Duration::ZERO);
            throttle.release(permit);
        }
        assert_eq!(throttle.stats().maximum_available, Some(2000.0));
    }

    #[test]
    fn throttled_wait_is_the_missing_points_over_the_restore_rate_plus_jitter() {
        let throttle = CostThrottle::new();
        let wait = throttle.throttled_wait(Some(&cost(500.0, 100.0, 1000.0, 100.0)), 0);
        assert!(wait >= Duration::from_secs(4), "{wait:?}");
        assert!(
            wait <= Duration::from_secs(4) + THROTTLE_JITTER_MAX,
            "{wait:?}"
        );
    }

    #[test]
    fn utilisation_relates_consumed_points_to_the_restore_rate() {
        let stats = ThrottleStats {
            actual_points: 500,
            restore_rate: Some(100.0),
            active: Duration::from_secs(10),
            ..ThrottleStats::default()
        };
        assert_eq!(stats.restore_rate_utilisation(), Some(0.5));
        assert_eq!(ThrottleStats::default().restore_rate_utilisation(), None);
    }
}
