use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::config::CronSchedule;

/// A job that records when it ran, can fail on demand and takes `work` time.
struct FakeJob {
    started: Instant,
    runs: Mutex<Vec<(SyncKind, Duration)>>,
    fail_first: AtomicU32,
    running: AtomicU32,
    max_running: AtomicU32,
    work: Duration,
}

impl FakeJob {
    fn new(fail_first: u32, work: Duration) -> Arc<Self> {
        Arc::new(FakeJob {
            started: Instant::now(),
            runs: Mutex::new(Vec::new()),
            fail_first: AtomicU32::new(fail_first),
            running: AtomicU32::new(0),
            max_running: AtomicU32::new(0),
            work,
        })
    }

    fn runs(&self) -> Vec<(SyncKind, u64)> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .map(|(k, d)| (*k, d.as_secs()))
            .collect()
    }
}

impl ShopJob for FakeJob {
    fn run(
        &self,
        kind: SyncKind,
    ) -> Pin<Box<dyn Future<Output = Result<RunSummary, String>> + Send + '_>> {
        Box::pin(async move {
            self.runs
                .lock()
                .unwrap()
                .push((kind, self.started.elapsed()));
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_running.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.work).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            let fail = self
                .fail_first
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if fail {
                return Err("upstream down".to_owned());
            }
            Ok(RunSummary {
                kind,
                products_written: 1,
                products_removed: 0,
                feed: "published".into(),
                rows_valid: 1,
                rows_invalid: 0,
            })
        })
    }
}

fn schedule(incremental_secs: Option<u64>, max_backoff_secs: u64) -> ScheduleSettings {
    ScheduleSettings {
        // Far enough away (yearly) that it never fires inside a test.
        full_sync: CronSchedule::parse("@yearly").unwrap(),
        incremental_every: incremental_secs.map(Duration::from_secs),
        max_backoff: Duration::from_secs(max_backoff_secs),
    }
}

async fn run_for(
    job: Arc<FakeJob>,
    schedule: ScheduleSettings,
    run_at_start: bool,
    total: Duration,
) -> SchedulerHandle {
    let cancel = CancellationToken::new();
    let (handle, fut) = spawn_shop_scheduler(
        ShopId::parse("s").unwrap(),
        schedule,
        job,
        run_at_start,
        cancel.clone(),
    );
    let task = tokio::spawn(fut);
    tokio::time::sleep(total).await;
    cancel.cancel();
    task.await.unwrap();
    handle
}

#[tokio::test(start_paused = true)]
async fn runs_at_start_then_on_every_interval() {
    let job = FakeJob::new(0, Duration::from_secs(1));
    run_for(
        job.clone(),
        schedule(Some(60), 900),
        true,
        Duration::from_secs(185),
    )
    .await;
    // Start at 0 s, then 60 s after each run finished (1 s of work).
    assert_eq!(
        job.runs(),
        vec![
            (SyncKind::Incremental, 0),
            (SyncKind::Incremental, 61),
            (SyncKind::Incremental, 122),
            (SyncKind::Incremental, 183),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_exponentially_and_reset_after_success() {
    let job = FakeJob::new(3, Duration::ZERO);
    run_for(
        job.clone(),
        schedule(None, 900),
        true,
        Duration::from_secs(60),
    )
    .await;
    let times: Vec<u64> = job.runs().into_iter().map(|(_, t)| t).collect();
    // 5 s, 10 s, 20 s (±20 % jitter) between the failed attempts; the fourth
    // succeeds and nothing else is scheduled (no interval).
    assert_eq!(times.len(), 4, "{times:?}");
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!((4..=6).contains(&gaps[0]), "{gaps:?}");
    assert!((8..=12).contains(&gaps[1]), "{gaps:?}");
    assert!((16..=24).contains(&gaps[2]), "{gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn backoff_is_capped() {
    assert_eq!(
        backoff_delay(1, Duration::from_secs(900), 0.5),
        Duration::from_secs(5)
    );
    assert_eq!(
        backoff_delay(30, Duration::from_secs(900), 0.5),
        Duration::from_secs(900)
    );
    assert!(backoff_delay(30, Duration::from_secs(900), 1.0) <= Duration::from_secs(1080));
}

#[tokio::test(start_paused = true)]
async fn run_now_waits_for_the_current_run_and_never_overlaps() {
    let job = FakeJob::new(0, Duration::from_secs(30));
    let cancel = CancellationToken::new();
    let (handle, fut) = spawn_shop_scheduler(
        ShopId::parse("s").unwrap(),
        schedule(Some(10), 900),
        job.clone(),
        true,
        cancel.clone(),
    );
    let task = tokio::spawn(fut);
    // Two run-now requests while the start-up run is still working.
    let (a, b) = tokio::join!(
        handle.run_now(SyncKind::Full),
        handle.run_now(SyncKind::Incremental)
    );
    assert_eq!(a.unwrap().kind, SyncKind::Full);
    assert_eq!(b.unwrap().kind, SyncKind::Incremental);
    cancel.cancel();
    task.await.unwrap();
    assert_eq!(job.max_running.load(Ordering::SeqCst), 1);
    let runs = job.runs();
    assert_eq!(runs[0], (SyncKind::Incremental, 0));
    assert!(runs.contains(&(SyncKind::Full, 30)), "{runs:?}");
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_a_run_in_progress_and_fails_waiting_callers() {
    let job = FakeJob::new(0, Duration::from_secs(3600));
    let cancel = CancellationToken::new();
    let (handle, fut) = spawn_shop_scheduler(
        ShopId::parse("s").unwrap(),
        schedule(None, 900),
        job.clone(),
        false,
        cancel.clone(),
    );
    let task = tokio::spawn(fut);
    let caller = tokio::spawn(async move { handle.run_now(SyncKind::Full).await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    cancel.cancel();
    task.await.unwrap();
    let outcome = caller.await.unwrap();
    assert!(outcome.is_err());
    assert_eq!(job.runs().len(), 1);
}
