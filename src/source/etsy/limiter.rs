//! One limiter per Etsy app, shared by every Etsy shop of the daemon:
//! Etsy counts its per-second (QPS) and rolling daily (QPD) quotas per app.
//!
//! - Per second: at most `x-limit-per-second` requests start in any one
//!   second; `x-remaining-this-second: 0` holds further requests until the
//!   second is over.
//! - Per day: `x-remaining-today` is tracked from every response. At zero,
//!   or on a 429 whose `Retry-After` is longer than a short wait, the app is
//!   *exhausted*: requests fail at once with
//!   [`super::EtsyError::QuotaExhausted`] (no HTTP call) until the quota is
//!   expected back. Etsy's day is a rolling window made of buckets, so quota
//!   frees gradually; without a `Retry-After` the limiter waits the
//!   configured recheck interval and then lets one request probe.
//!
//! Decisions take an explicit `now` so they can be tested without sleeping.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A `Retry-After` up to this long is waited out inline; longer means the
/// daily quota is gone.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(60);
const SECOND: Duration = Duration::from_secs(1);

/// What the limiter knows, for status output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaSnapshot {
    pub limit_per_second: u32,
    pub limit_per_day: Option<u64>,
    pub remaining_today: Option<u64>,
    pub exhausted_until: Option<DateTime<Utc>>,
}

/// The quota headers of one response (all optional: Etsy omits them on
/// 429s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaHeaders {
    pub limit_per_second: Option<u32>,
    pub remaining_this_second: Option<u32>,
    pub limit_per_day: Option<u64>,
    pub remaining_today: Option<u64>,
}

impl QuotaHeaders {
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> Self {
        fn num<T: std::str::FromStr>(h: &reqwest::header::HeaderMap, name: &str) -> Option<T> {
            h.get(name)?.to_str().ok()?.trim().parse().ok()
        }
        QuotaHeaders {
            limit_per_second: num(headers, "x-limit-per-second"),
            remaining_this_second: num(headers, "x-remaining-this-second"),
            limit_per_day: num(headers, "x-limit-per-day"),
            remaining_today: num(headers, "x-remaining-today"),
        }
    }
}

/// What a request may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it (a slot of this second is taken).
    Go,
    /// Wait this long, then ask again.
    Wait(Duration),
    /// The daily quota is gone until then.
    Exhausted(DateTime<Utc>),
}

/// What to do after a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After429 {
    /// Wait and retry.
    Retry(Duration),
    /// The daily quota is gone.
    Exhausted(DateTime<Utc>),
}

struct State {
    limit_per_second: u32,
    window_start: Option<Instant>,
    used_this_second: u32,
    /// Etsy said nothing is left in the current second.
    second_spent: bool,
    limit_per_day: Option<u64>,
    remaining_today: Option<u64>,
    exhausted: Option<(Instant, DateTime<Utc>)>,
    backoff_until: Option<Instant>,
}

pub struct EtsyLimiter {
    state: Mutex<State>,
    recheck: Duration,
}

impl std::fmt::Debug for EtsyLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtsyLimiter")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

impl EtsyLimiter {
    /// `per_second` is used until Etsy's headers say otherwise; `recheck` is
    /// how long an exhausted daily quota is left alone when Etsy gives no
    /// `Retry-After`.
    pub fn new(per_second: u32, recheck: Duration) -> Self {
        EtsyLimiter {
            state: Mutex::new(State {
                limit_per_second: per_second.max(1),
                window_start: None,
                used_this_second: 0,
                second_spent: false,
                limit_per_day: None,
                remaining_today: None,
                exhausted: None,
                backoff_until: None,
            }),
            recheck,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides for a request at `now`; `Go` takes a slot.
    pub fn decide(&self, now: Instant) -> Decision {
        let mut s = self.lock();
        if let Some((until, wall)) = s.exhausted {
            if now < until {
                return Decision::Exhausted(wall);
            }
            // Time to probe: one request finds out what is left.
            s.exhausted = None;
            s.remaining_today = None;
        }
        if let Some(until) = s.backoff_until {
            if now < until {
                return Decision::Wait(until - now);
            }
            s.backoff_until = None;
        }
        let start = *s.window_start.get_or_insert(now);
        if now.duration_since(start) >= SECOND {
            s.window_start = Some(now);
            s.used_this_second = 0;
            s.second_spent = false;
        }
        if s.used_this_second >= s.limit_per_second || s.second_spent {
            let start = s.window_start.unwrap_or(now);
            return Decision::Wait((start + SECOND).saturating_duration_since(now));
        }
        if s.remaining_today == Some(0) {
            let wall = Utc::now() + chrono::Duration::from_std(self.recheck).unwrap_or_default();
            s.exhausted = Some((now + self.recheck, wall));
            return Decision::Exhausted(wall);
        }
        s.used_this_second += 1;
        if let Some(r) = s.remaining_today.as_mut() {
            *r = r.saturating_sub(1);
        }
        Decision::Go
    }

    /// Waits for a slot.
    ///
    /// # Errors
    /// The instant the daily quota is expected back.
    pub async fn acquire(&self) -> Result<(), DateTime<Utc>> {
        loop {
            match self.decide(Instant::now()) {
                Decision::Go => return Ok(()),
                Decision::Wait(d) => tokio::time::sleep(d).await,
                Decision::Exhausted(until) => return Err(until),
            }
        }
    }

    /// Updates the limits from a response's headers.
    pub fn observe(&self, h: &QuotaHeaders, now: Instant) {
        let mut s = self.lock();
        if let Some(l) = h.limit_per_second {
            s.limit_per_second = l.max(1);
        }
        if h.remaining_this_second == Some(0) {
            s.second_spent = true;
            s.window_start.get_or_insert(now);
        }
        if h.limit_per_day.is_some() {
            s.limit_per_day = h.limit_per_day;
        }
        if let Some(r) = h.remaining_today {
            s.remaining_today = Some(r);
            if r > 0 {
                s.exhausted = None;
            }
        }
    }

    /// Records a 429 and says whether to retry or give up for the day.
    pub fn on_429(&self, retry_after: Option<Duration>, now: Instant) -> After429 {
        let mut s = self.lock();
        let daily =
            s.remaining_today == Some(0) || retry_after.is_some_and(|d| d > MAX_INLINE_WAIT);
        if daily {
            let wait = retry_after.unwrap_or(self.recheck);
            let wall = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            s.exhausted = Some((now + wait, wall));
            s.remaining_today = Some(0);
            return After429::Exhausted(wall);
        }
        let wait = retry_after.unwrap_or(SECOND).max(Duration::from_millis(50));
        s.backoff_until = Some(now + wait);
        After429::Retry(wait)
    }

    pub fn snapshot(&self) -> QuotaSnapshot {
        let s = self.lock();
        QuotaSnapshot {
            limit_per_second: s.limit_per_second,
            limit_per_day: s.limit_per_day,
            remaining_today: s.remaining_today,
            exhausted_until: s.exhausted.map(|(_, w)| w),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> EtsyLimiter {
        EtsyLimiter::new(2, Duration::from_secs(600))
    }

    #[test]
    fn at_most_the_per_second_limit_starts_in_one_second() {
        let l = limiter();
        let t0 = Instant::now();
        assert_eq!(l.decide(t0), Decision::Go);
        assert_eq!(l.decide(t0), Decision::Go);
        let Decision::Wait(d) = l.decide(t0 + Duration::from_millis(300)) else {
            panic!("third request in one second must wait");
        };
        assert_eq!(d, Duration::from_millis(700));
        assert_eq!(l.decide(t0 + SECOND), Decision::Go);
    }

    #[test]
    fn headers_lower_the_rate_and_a_spent_second_holds_requests() {
        let l = EtsyLimiter::new(10, Duration::from_secs(600));
        let t0 = Instant::now();
        assert_eq!(l.decide(t0), Decision::Go);
        l.observe(
            &QuotaHeaders {
                limit_per_second: Some(5),
                remaining_this_second: Some(0),
                ..QuotaHeaders::default()
            },
            t0,
        );
        assert!(matches!(l.decide(t0), Decision::Wait(_)));
        assert_eq!(l.decide(t0 + SECOND), Decision::Go);
        assert_eq!(l.snapshot().limit_per_second, 5);
    }

    #[test]
    fn zero_remaining_today_exhausts_until_the_recheck_then_probes_once() {
        let l = limiter();
        let t0 = Instant::now();
        l.observe(
            &QuotaHeaders {
                limit_per_day: Some(100),
                remaining_today: Some(0),
                ..QuotaHeaders::default()
            },
            t0,
        );
        let Decision::Exhausted(until) = l.decide(t0) else {
            panic!("must be exhausted");
        };
        assert!(until > Utc::now() + chrono::Duration::seconds(590));
        assert!(matches!(
            l.decide(t0 + Duration::from_secs(599)),
            Decision::Exhausted(_)
        ));
        assert_eq!(l.decide(t0 + Duration::from_secs(601)), Decision::Go);
        l.observe(
            &QuotaHeaders {
                remaining_today: Some(40),
                ..QuotaHeaders::default()
            },
            t0,
        );
        assert_eq!(l.snapshot().exhausted_until, None);
        assert_eq!(l.snapshot().remaining_today, Some(40));
    }

    #[test]
    fn a_short_retry_after_is_waited_out_and_a_long_one_ends_the_day() {
        let l = limiter();
        let t0 = Instant::now();
        assert_eq!(
            l.on_429(Some(Duration::from_secs(2)), t0),
            After429::Retry(Duration::from_secs(2))
        );
        assert!(matches!(l.decide(t0 + SECOND), Decision::Wait(_)));
        assert_eq!(l.decide(t0 + Duration::from_secs(2)), Decision::Go);
        let After429::Exhausted(until) = l.on_429(Some(Duration::from_secs(3600)), t0) else {
            panic!("an hour-long Retry-After is the daily quota");
        };
        assert!(until > Utc::now() + chrono::Duration::minutes(59));
        assert!(matches!(
            l.decide(t0 + Duration::from_secs(10)),
            Decision::Exhausted(_)
        ));
    }
}
