//! The per-shop leaky bucket of calculated query cost.
//!
//! Points are kept in thousandths so the restore arithmetic stays in
//! integers; the clock is `tokio::time::Instant`, so tests can pause and
//! advance time.

use tokio::time::Instant;

const MILLI: u64 = 1_000;

/// `extensions.cost.throttleStatus` at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleStatus {
    /// Bucket size in points.
    pub maximum_available: u64,
    /// Points available now (rounded down).
    pub currently_available: u64,
    /// Points restored per second.
    pub restore_rate: u64,
}

/// A leaky bucket: `charge` up front, `refund` the unused part, restore
/// continuously at `restore_rate` points per second.
#[derive(Debug)]
pub(crate) struct Bucket {
    max_milli: u64,
    rate: u64,
    available_milli: u64,
    updated: Instant,
}

impl Bucket {
    pub(crate) fn new(maximum: u32, restore_rate: u32) -> Self {
        Bucket {
            max_milli: u64::from(maximum) * MILLI,
            rate: u64::from(restore_rate),
            available_milli: u64::from(maximum) * MILLI,
            updated: Instant::now(),
        }
    }

    fn restore(&mut self) {
        let now = Instant::now();
        let elapsed_ms = now.saturating_duration_since(self.updated).as_millis();
        let elapsed_ms = u64::try_from(elapsed_ms).unwrap_or(u64::MAX);
        // points/s × ms = thousandths of a point.
        let gained = elapsed_ms.saturating_mul(self.rate);
        self.available_milli = self
            .available_milli
            .saturating_add(gained)
            .min(self.max_milli);
        self.updated = now;
    }

    /// Takes `cost` points if available; otherwise leaves the bucket as is.
    pub(crate) fn try_charge(&mut self, cost: u64) -> Result<ThrottleStatus, ThrottleStatus> {
        self.restore();
        let needed = cost.saturating_mul(MILLI);
        if needed > self.available_milli {
            return Err(self.status_now());
        }
        self.available_milli -= needed;
        Ok(self.status_now())
    }

    /// Gives back points charged but not used.
    pub(crate) fn refund(&mut self, points: u64) {
        self.restore();
        self.available_milli = self
            .available_milli
            .saturating_add(points.saturating_mul(MILLI))
            .min(self.max_milli);
    }

    /// Empties the bucket (fault injection).
    pub(crate) fn drain(&mut self) {
        self.restore();
        self.available_milli = 0;
    }

    /// The status after restoring up to now.
    pub(crate) fn status(&mut self) -> ThrottleStatus {
        self.restore();
        self.status_now()
    }

    fn status_now(&self) -> ThrottleStatus {
        ThrottleStatus {
            maximum_available: self.max_milli / MILLI,
            currently_available: self.available_milli / MILLI,
            restore_rate: self.rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn charges_refunds_and_restores_over_time() {
        let mut bucket = Bucket::new(2_000, 100);
        assert_eq!(bucket.try_charge(1_500).unwrap().currently_available, 500);
        bucket.refund(300);
        assert_eq!(bucket.status().currently_available, 800);
        assert_eq!(bucket.try_charge(900).unwrap_err().currently_available, 800);
        tokio::time::advance(Duration::from_millis(1_010)).await;
        assert_eq!(bucket.try_charge(900).unwrap().currently_available, 1);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(bucket.status().currently_available, 2_000);
    }
}
