//! Bulk query operations: the registry of operations, the concurrency limit,
//! the `CREATED → RUNNING → COMPLETED/FAILED` lifecycle run by background
//! tasks the registry owns (aborted when the emulator is dropped), the
//! result files and their signed download URLs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tempfile::{TempDir, TempPath};
use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;

use super::bulk_query::check;
use super::catalog::{Catalog, ProductSort};
use super::counters::Counters;
use super::faults::{BulkErrorCode, Faults};
use super::jsonl::{BulkOutput, BulkPlan, Roots, write};
use super::lock;
use super::resolve::BulkHost;
use super::search::ProductQuery;

/// Completed results kept on disk; older result files are deleted (their
/// URLs then answer 404, as expired Shopify URLs stop working).
const MAX_RESULT_FILES: usize = 8;

/// Lifecycle states used by the emulator (`BulkOperationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BulkStatus {
    Created,
    Running,
    Completed,
    Failed,
}

impl BulkStatus {
    fn as_str(self) -> &'static str {
        match self {
            BulkStatus::Created => "CREATED",
            BulkStatus::Running => "RUNNING",
            BulkStatus::Completed => "COMPLETED",
            BulkStatus::Failed => "FAILED",
        }
    }

    fn is_active(self) -> bool {
        matches!(self, BulkStatus::Created | BulkStatus::Running)
    }
}

/// A bulk operation as `bulkOperation(id:)` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkView {
    pub id: u64,
    pub status: &'static str,
    pub error_code: Option<&'static str>,
    pub object_count: u64,
    pub root_object_count: u64,
    pub file_size: Option<u64>,
    pub url: Option<String>,
    pub partial_data_url: Option<String>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

/// One `BulkOperationUserError`.
#[derive(Debug, Clone)]
pub(crate) struct BulkUserError {
    pub code: Option<&'static str>,
    pub field: Option<Vec<&'static str>>,
    pub message: String,
}

/// The payload of `bulkOperationRunQuery`.
#[derive(Debug, Clone)]
pub(crate) struct BulkStart {
    pub operation: Option<BulkView>,
    pub user_errors: Vec<BulkUserError>,
}

struct BulkRecord {
    status: BulkStatus,
    error_code: Option<BulkErrorCode>,
    object_count: u64,
    root_object_count: u64,
    file_size: Option<u64>,
    path: Option<Arc<TempPath>>,
    created_at: i64,
    completed_at: Option<i64>,
}

/// Settings the registry needs from the emulator config.
pub(crate) struct BulkSettings {
    pub delay: Duration,
    pub max_concurrent: usize,
    pub seed: u64,
}

/// All bulk operations of one shop.
pub(crate) struct BulkRegistry {
    me: Weak<BulkRegistry>,
    settings: BulkSettings,
    ops: Mutex<BTreeMap<u64, BulkRecord>>,
    next_id: AtomicU64,
    secret: [u8; 16],
    base_url: Arc<RwLock<String>>,
    faults: Arc<Faults>,
    counters: Arc<Counters>,
    dir: Mutex<Option<Arc<TempDir>>>,
    tasks: Mutex<Vec<AbortOnDropHandle<()>>>,
    changed: watch::Sender<u64>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl BulkRegistry {
    pub(crate) fn new(
        settings: BulkSettings,
        base_url: Arc<RwLock<String>>,
        faults: Arc<Faults>,
        counters: Arc<Counters>,
    ) -> Arc<Self> {
        let mut secret = [0u8; 16];
        let mut rng = fastrand::Rng::new();
        rng.fill(&mut secret);
        Arc::new_cyclic(|me| BulkRegistry {
            me: me.clone(),
            settings,
            ops: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(5_280_000_000_001),
            secret,
            base_url,
            faults,
            counters,
            dir: Mutex::new(None),
            tasks: Mutex::new(Vec::new()),
            changed: watch::channel(0).0,
        })
    }

    /// The download signature of an operation's result.
    pub(crate) fn signature(&self, id: u64) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        hasher.update(id.to_be_bytes());
        hex(&hasher.finalize())
    }

    /// The result file of a completed operation, if `sig` is right.
    pub(crate) fn result_file(&self, id: u64, sig: &str) -> Result<Option<Arc<TempPath>>, ()> {
        let expected = self.signature(id);
        let same = expected.len() == sig.len()
            && expected
                .bytes()
                .zip(sig.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(());
        }
        Ok(lock(&self.ops).get(&id).and_then(|r| r.path.clone()))
    }

    fn view(&self, id: u64, r: &BulkRecord) -> BulkView {
        let base = self.base_url.read().map(|b| b.clone()).unwrap_or_default();
        let completed = r.status == BulkStatus::Completed;
        BulkView {
            id,
            status: r.status.as_str(),
            error_code: r.error_code.map(BulkErrorCode::as_str),
            object_count: r.object_count,
            root_object_count: r.root_object_count,
            file_size: r.file_size,
            // Shopify returns no URL when an operation produced no objects.
            url: (completed && r.object_count > 0)
                .then(|| format!("{base}/bulk/{id}.jsonl?sig={}", self.signature(id))),
            partial_data_url: None,
            created_at: r.created_at,
            completed_at: r.completed_at,
        }
    }

    /// Waits until an operation is no longer `CREATED`/`RUNNING`.
    pub(crate) async fn wait(&self, id: u64) -> Option<BulkView> {
        let mut rx = self.changed.subscribe();
        loop {
            let view = self.find(id)?;
            if view.status != "CREATED" && view.status != "RUNNING" {
                return Some(view);
            }
            if rx.changed().await.is_err() {
                return self.find(id);
            }
        }
    }

    fn update(&self, id: u64, edit: impl FnOnce(&mut BulkRecord)) {
        let mut ops = lock(&self.ops);
        if let Some(record) = ops.get_mut(&id) {
            edit(record);
        }
        let with_files: Vec<u64> = ops
            .iter()
            .filter(|(_, r)| r.path.is_some())
            .map(|(id, _)| *id)
            .collect();
        for old in with_files
            .iter()
            .take(with_files.len().saturating_sub(MAX_RESULT_FILES))
        {
            if let Some(record) = ops.get_mut(old) {
                record.path = None;
            }
        }
        drop(ops);
        self.changed.send_modify(|v| *v += 1);
    }

    fn temp_dir(&self) -> std::io::Result<Arc<TempDir>> {
        let mut dir = lock(&self.dir);
        if let Some(d) = dir.as_ref() {
            return Ok(d.clone());
        }
        let created = Arc::new(
            tempfile::Builder::new()
                .prefix("shopify-emulator-bulk-")
                .tempdir()?,
        );
        *dir = Some(created.clone());
        Ok(created)
    }

    fn user_error(
        code: &'static str,
        field: Option<Vec<&'static str>>,
        message: String,
    ) -> BulkStart {
        BulkStart {
            operation: None,
            user_errors: vec![BulkUserError {
                code: Some(code),
                field,
                message,
            }],
        }
    }

    async fn run(weak: Weak<BulkRegistry>, id: u64, plan: BulkPlan, fail: Option<BulkErrorCode>) {
        let delay = match weak.upgrade() {
            Some(reg) => {
                reg.update(id, |r| r.status = BulkStatus::Running);
                reg.settings.delay + reg.faults.bulk_extra_delay()
            }
            None => return,
        };
        let result = tokio::task::spawn_blocking(move || write(plan)).await;
        tokio::time::sleep(delay).await;
        let Some(reg) = weak.upgrade() else { return };
        let finished = now_ms();
        match (result, fail) {
            (Ok(Ok(out)), None) => {
                let BulkOutput {
                    object_count,
                    root_object_count,
                    file_size,
                    path,
                } = out;
                tracing::debug!(
                    bulk.id = id,
                    bulk.objects = object_count,
                    "emulated bulk operation completed"
                );
                reg.update(id, |r| {
                    r.status = BulkStatus::Completed;
                    r.object_count = object_count;
                    r.root_object_count = root_object_count;
                    r.file_size = Some(file_size);
                    r.path = Some(Arc::new(path));
                    r.completed_at = Some(finished);
                });
            }
            (result, fail) => {
                let code = fail.unwrap_or(BulkErrorCode::InternalServerError);
                match &result {
                    Ok(Err(err)) => {
                        tracing::warn!(bulk.id = id, error = %err, "emulated bulk operation could not write its result");
                    }
                    Err(err) => {
                        tracing::warn!(bulk.id = id, error = %err, "emulated bulk operation task failed");
                    }
                    Ok(Ok(_)) => {}
                }
                reg.update(id, |r| {
                    r.status = BulkStatus::Failed;
                    r.error_code = Some(code);
                    r.completed_at = Some(finished);
                });
            }
        }
    }
}

impl BulkHost for BulkRegistry {
    fn start(&self, query: &str, catalog: &Catalog) -> BulkStart {
        let checked = match check(query) {
            Ok(c) => c,
            Err(message) => return Self::user_error("INVALID", Some(vec!["query"]), message),
        };
        let mut ops = lock(&self.ops);
        if let Some((running, _)) = ops
            .iter()
            .filter(|(_, r)| r.status.is_active())
            .nth(self.settings.max_concurrent.saturating_sub(1))
        {
            let message = format!(
                "A bulk query operation for this app and shop is already in progress: gid://shopify/BulkOperation/{running}."
            );
            return Self::user_error("OPERATION_IN_PROGRESS", None, message);
        }
        let file = self.temp_dir().and_then(|dir| {
            tempfile::Builder::new()
                .suffix(".jsonl")
                .tempfile_in(dir.path())
        });
        let file = match file {
            Ok(f) => f,
            Err(err) => {
                tracing::warn!(error = %err, "emulated bulk operation could not create its result file");
                return Self::user_error(
                    "INVALID",
                    None,
                    "Internal error creating the bulk operation.".to_owned(),
                );
            }
        };
        let roots = if checked.root_field == "publications" {
            Roots::Publications(catalog.publications.clone())
        } else {
            let op = checked.doc.operations.get(None).ok();
            let root = op.and_then(|o| o.selection_set.fields().find(|f| f.name != "__typename"));
            let arg = |name: &str| {
                root.and_then(|f| f.specified_argument_by_name(name))
                    .and_then(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .or_else(|| v.as_enum().map(|e| e.to_string()))
                    })
            };
            let sort = ProductSort::parse(&arg("sortKey").unwrap_or_default());
            let reverse = root
                .and_then(|f| f.specified_argument_by_name("reverse"))
                .is_some_and(|v| v.to_bool() == Some(true));
            let query = ProductQuery::parse(&arg("query").unwrap_or_default());
            let online = catalog.online_store_id();
            Roots::Products(
                catalog
                    .walk(sort, None, !reverse)
                    .filter(|p| query.matches(p, online))
                    .cloned()
                    .collect(),
            )
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let record = BulkRecord {
            status: BulkStatus::Created,
            error_code: None,
            object_count: 0,
            root_object_count: 0,
            file_size: None,
            path: None,
            created_at: now_ms(),
            completed_at: None,
        };
        let view = self.view(id, &record);
        ops.insert(id, record);
        drop(ops);
        let plan = BulkPlan {
            doc: Arc::new(checked.doc),
            roots,
            shop: catalog.shop.clone(),
            publications: catalog.publications.clone(),
            online_store: catalog.online_store_id(),
            seed: self.settings.seed ^ id,
            file,
        };
        let fail = self.faults.take_bulk_failure();
        let task = tokio::spawn(Self::run(self.me.clone(), id, plan, fail));
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(AbortOnDropHandle::new(task));
        self.counters.bulk_started();
        tracing::debug!(bulk.id = id, "emulated bulk operation created");
        BulkStart {
            operation: Some(view),
            user_errors: Vec::new(),
        }
    }

    fn find(&self, id: u64) -> Option<BulkView> {
        lock(&self.ops).get(&id).map(|r| self.view(id, r))
    }
}
