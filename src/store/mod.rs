//! The only module that imports sled.
//!
//! Exposes typed operations; tree names and key layouts live in `keys.rs`.
//! Stored values carry a leading version byte so the format can evolve.

mod catalog;
mod checkout;
mod delivery;
mod etsy;
mod feed;
mod inbox;
mod keys;
mod outbox;
mod reconcile;
mod scratch;

pub use catalog::{
    ChangeSeq, EncodedProduct, ProductDigest, StoredProduct, SyncFailure, SyncKind, SyncRecord,
    SyncState, product_digest,
};
pub use checkout::{IdempotencyPolicy, IdempotencyScope, IdempotencyStart, StoredResponse};
pub use delivery::DELIVERY_HISTORY;
pub use etsy::{
    EtsyShopState, EtsyTokens, MAX_REJECTED_LISTINGS, RejectedListing, access_token_fresh,
};
#[cfg(test)]
pub use feed::ReportJson;
pub use feed::{
    ArtifactMeta, ArtifactWriter, CHUNK_BYTES, ExcludedProduct, FeedMeta, FeedReport,
    GenerationIndexWriter, HeldFeed, InvalidRow, JsonList, ReportList, ReportTarget, RowHash,
    RowHashes, RowReader, RowRun, WrittenIndex, hex,
};
pub use inbox::{Accepted, DEDUPE_RETENTION, InboxEntry};
pub use outbox::{
    DueEvents, FailureNext, OrderChangeOutcome, OrderCommit, OutboxEntry, OutboxState, OutboxStats,
    Revisioned,
};
pub use scratch::{Scratch, ScratchView};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not open the store at {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: sled::Error,
    },
    #[error("store I/O failed")]
    Io(#[from] sled::Error),
    #[error("stored value under {key} is unreadable")]
    Corrupt {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("stored value under {key} has unknown format version {version}")]
    UnknownVersion { key: String, version: u8 },
    #[error("scratch file I/O failed")]
    Scratch(#[source] std::io::Error),
    #[error("feed artifact I/O failed at {path}")]
    Artifact {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// sled's page cache. Its default (1 GiB) lets resident memory grow with the
/// catalog; hot data (feed pointers, sync state) is small, and full scans
/// stream, so a modest cache keeps memory flat without slowing syncs much.
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Handle to the daemon's sled database and the file areas next to it.
/// Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    files: Arc<FileArea>,
}

/// Directories beside sled's own files: immutable feed artifacts
/// (`feeds/`) and anonymous scratch files (`tmp/`).
struct FileArea {
    root: PathBuf,
    /// Keeps a temporary store's directory alive.
    _temp: Option<tempfile::TempDir>,
    /// The latest background deletion of retired feed generations; each
    /// waits for the one before it, so two never race over one directory.
    sweeper: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    ///
    /// # Errors
    /// When the directory cannot be created or another process holds the lock.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|source| StoreError::Open {
                path: dir.display().to_string(),
                source,
            })?;
        Ok(Store {
            db,
            files: Arc::new(FileArea {
                root: dir.to_path_buf(),
                _temp: None,
                sweeper: std::sync::Mutex::default(),
            }),
        })
    }

    /// A throwaway in-memory store for tests and benchmarks.
    ///
    /// # Errors
    /// When sled cannot create its temporary files.
    pub fn temporary() -> Result<Self, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        let temp = tempfile::tempdir().map_err(StoreError::Scratch)?;
        Ok(Store {
            db,
            files: Arc::new(FileArea {
                root: temp.path().to_path_buf(),
                _temp: Some(temp),
                sweeper: std::sync::Mutex::default(),
            }),
        })
    }

    /// Flushes every pending write to disk (called at shutdown).
    ///
    /// # Errors
    /// Store I/O.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        self.wait_for_feed_cleanup();
        Ok(())
    }

    /// A new, empty scratch area for large imports (bulk JSONL) that must
    /// not be held in memory.
    ///
    /// # Errors
    /// When the scratch file cannot be created.
    pub fn scratch(&self) -> Result<Scratch, StoreError> {
        Scratch::create(&self.scratch_dir())
    }

    /// Where anonymous scratch files are created.
    fn scratch_dir(&self) -> PathBuf {
        self.files.root.join("tmp")
    }
}
