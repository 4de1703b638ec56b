//! Delivering a shop's published feed to one configured target, recording
//! every attempt, and the per-target schedule that does it unattended.
//!
//! A delivery compares the published generation's `snapshot_hash` (every
//! valid row's id and content hash) and the target's settings with what the
//! target last received: when neither changed nothing is sent and the
//! attempt is recorded as `unchanged`. Otherwise:
//! - **SFTP**: the shard set of each configured format is built from the
//!   published generation (on local disk, streamed) and uploaded under
//!   temporary names, then renamed over the stable names; stale shards of
//!   a larger earlier set are removed.
//! - **ACP Feed API**: only products whose content changed are upserted,
//!   the feed is read back and repaired, and removed products are marked
//!   unavailable; the per-product hashes the server acknowledged are kept,
//!   also after a failure.
//!
//! Each attempt is stored (`store::delivery`) with its time, generation,
//! rows, bytes, hash, outcome and error, and counted in the metrics. A
//! target's failures retry with backoff until the next scheduled run and
//! never hold up another target or shop: each target has its own task.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::feed_api::{FeedApiClient, FeedApiState, acp_artifact_source};
use super::sftp::SftpUploader;
use super::snapshot::{SnapshotSpec, build_snapshot};
use crate::config::{DeliveryKind, DeliveryTarget, FeedApiTarget, SftpTarget};
use crate::domain::ShopId;
use crate::metrics as m;
use crate::store::{FeedMeta, Store, StoreError};
use crate::telemetry::{ErrorChain, spawn_blocking_in_span};

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The target received the feed.
    Delivered,
    /// The target already had this feed; nothing was sent.
    Unchanged,
    /// The shop has no published feed yet.
    NoFeed,
    Failed,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Unchanged => "unchanged",
            DeliveryOutcome::NoFeed => "no_feed",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// One attempt, as recorded and shown by `acp-bridge status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub target: String,
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: DeliveryOutcome,
    /// The feed generation delivered (or found unchanged).
    pub generation: Option<u64>,
    /// Rows (SFTP) or products (Feed API) in the delivered feed.
    pub rows: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// SFTP: hash of the uploaded file sets; Feed API: the feed's
    /// snapshot hash.
    pub hash: Option<String>,
    /// What was sent, in words (files, or products upserted/removed).
    pub detail: String,
    pub error: Option<String>,
}

/// What a target keeps between deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetState {
    pub kind: String,
    /// The feed's `snapshot_hash` and the settings' fingerprint last
    /// delivered in full.
    pub delivered: Option<String>,
    pub delivered_generation: Option<u64>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_attempt: Option<DeliveryRecord>,
    pub consecutive_failures: u32,
    /// Per format: the hash of the file set last uploaded.
    #[serde(default)]
    pub file_sets: BTreeMap<String, String>,
    /// Feed API: the feed id and the products the server acknowledged.
    #[serde(default)]
    pub feed_api: Option<FeedApiState>,
}

/// Everything one target's deliveries need.
pub struct TargetRunner {
    shop: ShopId,
    store: Store,
    target: DeliveryTarget,
    /// Where snapshot files are built (removed after each delivery).
    work_dir: PathBuf,
    /// Runs of one target never overlap.
    running: tokio::sync::Mutex<()>,
}

/// The settings that change what a target receives, hashed: a change makes
/// the next delivery send everything again.
fn fingerprint(target: &DeliveryTarget) -> String {
    let mut h = Sha256::new();
    match &target.kind {
        DeliveryKind::Sftp(s) => {
            h.update(format!(
                "sftp\0{}\0{}\0{}\0{}\0{}\0{}\0",
                s.sftp.host,
                s.sftp.port,
                s.sftp.remote_dir,
                s.prefix,
                s.limits.max_rows,
                s.limits.max_bytes
            ));
            for f in &s.formats {
                h.update(f.extension());
                h.update([0]);
            }
        }
        DeliveryKind::FeedApi(f) => {
            h.update(format!(
                "feed_api\0{}\0{}\0",
                f.api.base_url,
                f.feed_id.as_deref().unwrap_or("")
            ));
        }
    }
    crate::feed::hex(&h.finalize())
}

fn delivered_key(meta: &FeedMeta, target: &DeliveryTarget) -> String {
    format!("{}:{}", meta.snapshot_hash, fingerprint(target))
}

impl TargetRunner {
    pub fn new(shop: ShopId, store: Store, target: DeliveryTarget, work_dir: PathBuf) -> Self {
        TargetRunner {
            shop,
            store,
            target,
            work_dir,
            running: tokio::sync::Mutex::new(()),
        }
    }

    pub fn target(&self) -> &DeliveryTarget {
        &self.target
    }

    pub fn shop(&self) -> &ShopId {
        &self.shop
    }

    /// One delivery now; `force` sends even an unchanged feed. The attempt
    /// is recorded and returned.
    ///
    /// # Errors
    /// Store failures (delivery failures are in the record).
    pub async fn deliver(&self, force: bool) -> Result<DeliveryRecord, StoreError> {
        let _one = self.running.lock().await;
        let started_at = Utc::now();
        let mut state: TargetState = self
            .store
            .delivery_state(&self.shop, &self.target.id)?
            .unwrap_or_default();
        state.kind = self.target.kind.as_str().to_owned();
        let mut record = DeliveryRecord {
            target: self.target.id.clone(),
            kind: state.kind.clone(),
            started_at,
            finished_at: started_at,
            outcome: DeliveryOutcome::NoFeed,
            generation: None,
            rows: 0,
            bytes: 0,
            hash: None,
            detail: String::new(),
            error: None,
        };
        if let Some(meta) = self.store.feed_meta(&self.shop)? {
            record.generation = Some(meta.generation);
            record.rows = meta.rows_valid;
            let key = delivered_key(&meta, &self.target);
            if !force && state.delivered.as_deref() == Some(key.as_str()) {
                record.outcome = DeliveryOutcome::Unchanged;
                record.hash = Some(meta.snapshot_hash.clone());
                record.detail = format!("generation {} already delivered", meta.generation);
            } else {
                let result = match &self.target.kind {
                    DeliveryKind::Sftp(s) => self.sftp(s, &mut state, &mut record).await,
                    DeliveryKind::FeedApi(f) => {
                        self.feed_api(f, &meta, &mut state, &mut record).await
                    }
                };
                match result {
                    Ok(()) => {
                        record.outcome = DeliveryOutcome::Delivered;
                        state.delivered = Some(key);
                        state.delivered_generation = Some(meta.generation);
                    }
                    Err(e) => {
                        record.outcome = DeliveryOutcome::Failed;
                        record.error = Some(e);
                    }
                }
            }
        }
        record.finished_at = Utc::now();
        match record.outcome {
            DeliveryOutcome::Failed => state.consecutive_failures += 1,
            DeliveryOutcome::Delivered | DeliveryOutcome::Unchanged => {
                state.consecutive_failures = 0;
                state.last_success = Some(record.finished_at);
            }
            DeliveryOutcome::NoFeed => {}
        }
        state.last_attempt = Some(record.clone());
        self.store
            .record_delivery(&self.shop, &self.target.id, &state, Some(&record))?;
        self.publish(&record, &state);
        Ok(record)
    }

    async fn sftp(
        &self,
        target: &SftpTarget,
        state: &mut TargetState,
        record: &mut DeliveryRecord,
    ) -> Result<(), String> {
        let uploader = SftpUploader::connect(&target.sftp)
            .await
            .map_err(|e| ErrorChain(&e).to_string())?;
        let mut snapshots = Vec::new();
        let mut result = Ok(());
        for format in &target.formats {
            let mut spec = SnapshotSpec::new(*format, target.prefix.clone());
            spec.limits = target.limits;
            let (store, shop, dir) = (self.store.clone(), self.shop.clone(), self.work_dir.clone());
            // (A generation published meanwhile is what gets built; the
            // next delivery sees its hash and sends it again.)
            let built = spawn_blocking_in_span(move || {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                build_snapshot(&store, &shop, &spec, &dir).map_err(|e| ErrorChain(&e).to_string())
            })
            .await
            .map_err(|e| format!("building the snapshot stopped: {e}"))
            .and_then(|r| r);
            match built {
                Ok(s) => snapshots.push(s),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let mut files = Vec::new();
        let mut bytes = 0;
        if result.is_ok() {
            let refs: Vec<_> = snapshots.iter().collect();
            match uploader.upload_sets(&refs).await {
                Ok(report) => {
                    bytes = report.bytes;
                    files = report.uploaded;
                    for s in &snapshots {
                        state
                            .file_sets
                            .insert(s.format.extension().to_owned(), s.hash.clone());
                    }
                }
                Err(e) => result = Err(ErrorChain(&e).to_string()),
            }
        }
        let hashes: Vec<String> = snapshots
            .iter()
            .map(|s| format!("{}={}", s.format.extension(), s.hash))
            .collect();
        uploader.close().await;
        record.bytes = bytes;
        record.hash = Some(crate::feed::hex(&Sha256::digest(hashes.join("\n"))));
        record.detail = if files.is_empty() {
            "no files uploaded".to_owned()
        } else {
            format!("uploaded {}", files.join(", "))
        };
        result
    }

    async fn feed_api(
        &self,
        target: &FeedApiTarget,
        meta: &FeedMeta,
        state: &mut TargetState,
        record: &mut DeliveryRecord,
    ) -> Result<(), String> {
        let client =
            FeedApiClient::new(target.api.clone()).map_err(|e| ErrorChain(&e).to_string())?;
        let mut api_state = state.feed_api.take().unwrap_or_default();
        if api_state.feed_id.is_none() {
            api_state.feed_id.clone_from(&target.feed_id);
        }
        let source = acp_artifact_source(self.store.clone(), self.shop.clone(), meta.generation);
        let outcome = client.sync(source, &mut api_state).await;
        state.feed_api = Some(api_state);
        record.hash = Some(meta.snapshot_hash.clone());
        let report = match &outcome {
            Ok(report) => report,
            Err(failure) => &failure.report,
        };
        record.rows = report.products;
        record.bytes = report.bytes;
        record.detail = format!(
            "{} upserted, {} unchanged, {} repaired, {} marked unavailable{}",
            report.upserted,
            report.unchanged,
            report.repaired,
            report.removed,
            if report.created_feed {
                "; feed created"
            } else {
                ""
            }
        );
        outcome
            .map(|_| ())
            .map_err(|f| ErrorChain(&*f.error).to_string())
    }

    fn publish(&self, record: &DeliveryRecord, state: &TargetState) {
        let shop = self.shop.to_string();
        let target = self.target.id.clone();
        metrics::counter!(
            m::DELIVERY_RUNS_TOTAL,
            "shop" => shop.clone(),
            "target" => target.clone(),
            "outcome" => record.outcome.as_str(),
        )
        .increment(1);
        metrics::counter!(m::DELIVERY_BYTES_TOTAL, "shop" => shop.clone(), "target" => target.clone())
            .increment(record.bytes);
        metrics::gauge!(m::DELIVERY_CONSECUTIVE_FAILURES, "shop" => shop.clone(), "target" => target.clone())
            .set(f64::from(state.consecutive_failures));
        if let Some(at) = state.last_success {
            #[allow(clippy::cast_precision_loss, reason = "unix seconds fit an f64")]
            metrics::gauge!(m::DELIVERY_LAST_SUCCESS_TIMESTAMP_SECONDS, "shop" => shop.clone(), "target" => target.clone())
                .set(at.timestamp() as f64);
        }
        match record.outcome {
            DeliveryOutcome::Failed => tracing::warn!(
                shop = %shop,
                delivery.target = %target,
                failures = state.consecutive_failures,
                error = record.error.as_deref().unwrap_or(""),
                "feed delivery failed"
            ),
            outcome => tracing::info!(
                shop = %shop,
                delivery.target = %target,
                outcome = outcome.as_str(),
                generation = record.generation,
                rows = record.rows,
                bytes = record.bytes,
                detail = %record.detail,
                "feed delivery"
            ),
        }
    }

    /// Delivers on the target's schedule until `cancel`: first at start
    /// (unless `first_now` is false; an unchanged feed sends nothing), then
    /// at every scheduled time. A failed
    /// delivery is retried with backoff (`retry_initial`, doubling up to
    /// `retry_max`) until it succeeds or the next scheduled time comes.
    pub async fn run(self: Arc<Self>, first_now: bool, cancel: CancellationToken) {
        let mut due_now = first_now;
        loop {
            if !due_now {
                let next = self
                    .target
                    .schedule
                    .next_after(Utc::now())
                    .and_then(|t| (t - Utc::now()).to_std().ok())
                    .unwrap_or(Duration::from_secs(86_400));
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(next) => {}
                }
            }
            due_now = false;
            let mut backoff = self.target.retry_initial;
            loop {
                match self.deliver(false).await {
                    Ok(r) if r.outcome != DeliveryOutcome::Failed => break,
                    Ok(_) => {}
                    Err(e) => tracing::error!(
                        shop = %self.shop,
                        delivery.target = %self.target.id,
                        error = %ErrorChain(&e),
                        "recording a feed delivery failed"
                    ),
                }
                let next_tick = self
                    .target
                    .schedule
                    .next_after(Utc::now())
                    .and_then(|t| (t - Utc::now()).to_std().ok());
                if next_tick.is_some_and(|t| t <= backoff) {
                    break;
                }
                let jitter = backoff.mul_f64(fastrand::f64() * 0.2);
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(backoff + jitter) => {}
                }
                backoff = (backoff * 2).min(self.target.retry_max);
            }
        }
    }
}
