//! Per-shop status as the operator sees it (`acp-bridge status`, the admin
//! API and `/readyz`), computed from the store alone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ShopId;
use crate::store::{HeldFeed, Store, StoreError, SyncFailure, SyncRecord};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedStatus {
    pub generation: u64,
    pub built_at: DateTime<Utc>,
    pub age_secs: i64,
    pub rows_valid: u64,
    pub rows_invalid: u64,
    pub products_excluded: u64,
    pub rows_changed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopStatus {
    pub shop: String,
    pub enabled: bool,
    pub products: usize,
    pub last_full: Option<SyncRecord>,
    pub last_incremental: Option<SyncRecord>,
    pub cursor: Option<DateTime<Utc>>,
    pub last_error: Option<SyncFailure>,
    pub feed: Option<FeedStatus>,
    pub held_feed: Option<HeldFeed>,
}

/// Whether `shop` has a published feed or a recorded error: `/readyz`'s
/// question, answered with two point reads (no catalog scan).
///
/// # Errors
/// Store I/O.
pub fn shop_is_ready(store: &Store, shop: &ShopId) -> Result<bool, StoreError> {
    Ok(store.feed_meta(shop)?.is_some() || store.sync_state(shop)?.last_error.is_some())
}

/// Reads the status of one shop.
///
/// # Errors
/// Store I/O.
pub fn shop_status(store: &Store, shop: &ShopId, enabled: bool) -> Result<ShopStatus, StoreError> {
    let state = store.sync_state(shop)?;
    let now = Utc::now();
    let feed = store.feed_meta(shop)?.map(|m| FeedStatus {
        generation: m.generation,
        built_at: m.built_at,
        age_secs: (now - m.built_at).num_seconds(),
        rows_valid: m.rows_valid,
        rows_invalid: m.rows_invalid,
        products_excluded: m.products_excluded,
        rows_changed: m.rows_changed,
    });
    Ok(ShopStatus {
        shop: shop.to_string(),
        enabled,
        products: store.product_count(shop)?,
        last_full: state.last_full,
        last_incremental: state.last_incremental,
        cursor: state.cursor,
        last_error: state.last_error,
        feed,
        held_feed: store.held_feed(shop)?,
    })
}

/// Renders statuses as the table `acp-bridge status` prints.
pub fn render_table(statuses: &[ShopStatus]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let ago = |t: Option<DateTime<Utc>>| {
        t.map_or_else(
            || "never".to_owned(),
            |t| format!("{}s ago", (Utc::now() - t).num_seconds()),
        )
    };
    for s in statuses {
        let _ = writeln!(
            out,
            "shop {}{}",
            s.shop,
            if s.enabled { "" } else { " (disabled)" }
        );
        let _ = writeln!(out, "  products stored     {}", s.products);
        let _ = writeln!(
            out,
            "  last full sync      {}",
            ago(s.last_full.as_ref().map(|r| r.finished_at))
        );
        let _ = writeln!(
            out,
            "  last incremental    {}",
            ago(s.last_incremental.as_ref().map(|r| r.finished_at))
        );
        match &s.feed {
            Some(f) => {
                let _ = writeln!(
                    out,
                    "  feed                generation {} built {}s ago: {} valid, {} invalid rows, {} products excluded",
                    f.generation, f.age_secs, f.rows_valid, f.rows_invalid, f.products_excluded
                );
            }
            None => {
                let _ = writeln!(out, "  feed                not published yet");
            }
        }
        if let Some(h) = &s.held_feed {
            let _ = writeln!(
                out,
                "  HELD BACK           generation {} had {} valid rows vs {} published (max drop {} %)",
                h.generation, h.rows_valid, h.published_rows_valid, h.max_drop_percent
            );
        }
        match &s.last_error {
            Some(e) => {
                let _ = writeln!(
                    out,
                    "  last error          {} ({} sync, {} in a row): {}",
                    ago(Some(e.at)),
                    e.kind.as_str(),
                    e.consecutive,
                    e.message
                );
            }
            None => {
                let _ = writeln!(out, "  last error          none");
            }
        }
    }
    out
}
