//! Per-shop schedules: a cron schedule for full syncs, an interval for
//! incremental ones, run-now commands, and backoff after failures.
//!
//! One task per shop runs every job of that shop one after another, so two
//! runs of the same shop never overlap (full and incremental runs write the
//! same catalog). Shops run in separate tasks: a shop whose token is bad or
//! whose API is down backs off on its own and never delays another shop.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::config::ScheduleSettings;
use crate::domain::ShopId;
use crate::store::SyncKind;

/// What a finished run reports back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    pub kind: SyncKind,
    pub products_written: u64,
    pub products_removed: u64,
    /// `published`, `held`, `unchanged`, `skipped` (nothing changed) or
    /// `uninstalled` (the app was removed from the shop; nothing ran).
    pub feed: String,
    pub rows_valid: u64,
    pub rows_invalid: u64,
}

/// The work the scheduler runs. Implemented by [`crate::sync::ShopSync`].
pub trait ShopJob: Send + Sync + 'static {
    /// Runs one sync of `kind`. The error is an operator-facing message.
    fn run(
        &self,
        kind: SyncKind,
    ) -> Pin<Box<dyn Future<Output = Result<RunSummary, String>> + Send + '_>>;
}

/// Commands a shop's scheduler accepts.
pub enum Command {
    /// Run a sync now (after the current one, if any) and report the outcome.
    RunNow {
        kind: SyncKind,
        reply: Option<oneshot::Sender<Result<RunSummary, String>>>,
    },
}

/// A handle to send commands to one shop's scheduler task.
#[derive(Clone)]
pub struct SchedulerHandle {
    pub shop: ShopId,
    tx: mpsc::Sender<Command>,
    webhooks: Arc<Notify>,
}

impl SchedulerHandle {
    /// Says that Shopify webhooks were queued for the shop: a
    /// [`SyncKind::Webhooks`] run follows (one run for any number of calls
    /// made before it starts).
    pub fn webhooks_queued(&self) {
        self.webhooks.notify_one();
    }

    /// Asks for a run now and waits for its outcome.
    ///
    /// # Errors
    /// The run's error, or a message when the scheduler has stopped.
    pub async fn run_now(&self, kind: SyncKind) -> Result<RunSummary, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::RunNow {
                kind,
                reply: Some(reply),
            })
            .await
            .map_err(|_| "the scheduler of this shop has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the scheduler stopped before the run finished".to_owned())?
    }
}

/// The first delay after a failure; doubles per consecutive failure up to
/// the configured maximum.
const BASE_BACKOFF: Duration = Duration::from_secs(5);
/// Bounded so a burst of webhooks or CLI calls cannot queue without limit.
const COMMAND_QUEUE: usize = 16;

/// Delay before retrying after `failures` consecutive failures: exponential,
/// capped, with ±20 % jitter so many shops failing together (a shared
/// outage) do not retry in lockstep.
pub fn backoff_delay(failures: u32, max: Duration, jitter: f64) -> Duration {
    let exp = BASE_BACKOFF.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(20)));
    let capped = exp.min(max);
    capped.mul_f64(1.0 + (jitter.clamp(0.0, 1.0) - 0.5) * 0.4)
}

/// Builds the scheduler task for one shop. The returned future runs until
/// `cancel` fires; the handle sends it commands.
pub fn spawn_shop_scheduler(
    shop: ShopId,
    schedule: ScheduleSettings,
    job: Arc<dyn ShopJob>,
    run_at_start: bool,
    cancel: CancellationToken,
) -> (SchedulerHandle, impl Future<Output = ()> + Send + 'static) {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let webhooks = Arc::new(Notify::new());
    let handle = SchedulerHandle {
        shop: shop.clone(),
        tx,
        webhooks: webhooks.clone(),
    };
    let span = info_span!("scheduler", shop.id = %shop);
    let fut = run_loop(shop, schedule, job, run_at_start, rx, webhooks, cancel).instrument(span);
    (handle, fut)
}

/// Turns the next wall-clock fire time of a cron schedule into a tokio
/// instant (tokio's clock drives sleeping so tests can pause time).
fn next_cron_instant(schedule: &ScheduleSettings) -> Option<Instant> {
    let now = Utc::now();
    let next = schedule.full_sync.next_after(now)?;
    let wait = (next - now).to_std().unwrap_or_default();
    Some(Instant::now() + wait)
}

async fn run_loop(
    shop: ShopId,
    schedule: ScheduleSettings,
    job: Arc<dyn ShopJob>,
    run_at_start: bool,
    mut commands: mpsc::Receiver<Command>,
    webhooks: Arc<Notify>,
    cancel: CancellationToken,
) {
    let mut next_full = next_cron_instant(&schedule);
    let mut next_incremental = schedule
        .incremental_every
        .map(|every| Instant::now() + every);
    // A failed run is retried after a backoff, unless a regular run of any
    // kind comes first.
    let mut retry: Option<(Instant, SyncKind)> = None;
    let mut failures: u32 = 0;
    let mut pending_start = run_at_start;

    loop {
        let (kind, reply) = if pending_start {
            pending_start = false;
            // Incremental promotes itself to a full sync when the shop has
            // never been synced.
            (SyncKind::Incremental, None)
        } else {
            let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
            let due_full = next_full.unwrap_or(far);
            let due_incr = next_incremental.unwrap_or(far);
            let due_retry = retry.map_or(far, |(t, _)| t);
            let wake = due_full.min(due_incr).min(due_retry);
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                cmd = commands.recv() => match cmd {
                    Some(Command::RunNow { kind, reply }) => (kind, reply),
                    None => break,
                },
                () = webhooks.notified() => (SyncKind::Webhooks, None),
                () = tokio::time::sleep_until(wake) => {
                    if wake == due_full {
                        (SyncKind::Full, None)
                    } else if wake == due_retry {
                        retry.map_or((SyncKind::Incremental, None), |(_, k)| (k, None))
                    } else {
                        (SyncKind::Incremental, None)
                    }
                }
            }
        };

        info!(job = kind.as_str(), "sync run starting");
        let result = tokio::select! {
            biased;
            () = cancel.cancelled() => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err("shutting down".to_owned()));
                }
                break;
            }
            r = job.run(kind) => r,
        };
        match &result {
            Ok(summary) => {
                failures = 0;
                retry = None;
                info!(
                    job = kind.as_str(),
                    products.written = summary.products_written,
                    products.removed = summary.products_removed,
                    feed = summary.feed.as_str(),
                    "sync run finished"
                );
            }
            Err(message) => {
                failures += 1;
                let delay = backoff_delay(failures, schedule.max_backoff, fastrand::f64());
                retry = Some((Instant::now() + delay, kind));
                warn!(
                    job = kind.as_str(),
                    error = %message,
                    failures,
                    retry_in_secs = delay.as_secs(),
                    "sync run failed"
                );
            }
        }
        // Schedule the next regular runs from now: a run that took longer
        // than the interval is not followed by a burst of catch-up runs.
        match kind {
            SyncKind::Full => {
                next_full = next_cron_instant(&schedule);
                next_incremental = schedule.incremental_every.map(|e| Instant::now() + e);
            }
            SyncKind::Incremental => {
                next_incremental = schedule.incremental_every.map(|e| Instant::now() + e);
            }
            // Webhook runs come between the regular ones.
            SyncKind::Webhooks => {}
        }
        if let Some(reply) = reply {
            let _ = reply.send(result);
        }
    }
    info!(shop.id = %shop, "scheduler stopped");
}

#[cfg(test)]
mod tests;
