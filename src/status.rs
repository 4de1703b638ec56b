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
    /// The last reconciliation of the shop's checkouts and orders.
    #[serde(default)]
    pub reconcile: Option<crate::orders::ReconcileReport>,
    /// Every feed delivery target the shop has used, with its last attempt.
    #[serde(default)]
    pub deliveries: Vec<(String, crate::delivery::run::TargetState)>,
    /// Etsy login and quota state (Etsy shops only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etsy: Option<EtsyStatus>,
}

/// What an Etsy shop's operator needs to see: whether the shop is logged
/// in, when its tokens expire, and the app's daily quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtsyStatus {
    pub logged_in: bool,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Set when Etsy refused the refresh token.
    pub login_required: Option<String>,
    pub limit_per_day: Option<u64>,
    pub remaining_today: Option<u64>,
    pub quota_exhausted_until: Option<DateTime<Utc>>,
    /// "daily quota exhausted until …", "ok", or what the login needs.
    pub message: String,
    /// Listings left out because their price could not be converted.
    pub rejected_listings: Vec<crate::store::RejectedListing>,
}

/// The Etsy part of a shop's status, when the shop has Etsy tokens or
/// state.
///
/// # Errors
/// Store I/O.
pub fn etsy_status(store: &Store, shop: &ShopId) -> Result<Option<EtsyStatus>, StoreError> {
    let tokens = store.etsy_tokens(shop)?;
    let state = store.etsy_state(shop)?;
    if tokens.is_none() && state == crate::store::EtsyShopState::default() {
        return Ok(None);
    }
    let now = Utc::now();
    let exhausted = state.quota_exhausted_until.filter(|t| *t > now);
    let message = match (&tokens, &state.login_required, exhausted) {
        (None, _, _) => "not logged in: run `acp-bridge etsy login`".to_owned(),
        (_, Some(reason), _) => format!("login required: {reason}"),
        (_, _, Some(until)) => format!(
            "daily quota exhausted until {}",
            until.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        _ => "ok".to_owned(),
    };
    Ok(Some(EtsyStatus {
        logged_in: tokens.is_some() && state.login_required.is_none(),
        access_expires_at: tokens.as_ref().map(|t| t.access_expires_at),
        refresh_expires_at: tokens.as_ref().map(|t| t.refresh_expires_at),
        login_required: state.login_required,
        limit_per_day: state.limit_per_day,
        remaining_today: state.remaining_today,
        quota_exhausted_until: exhausted,
        message,
        rejected_listings: state.rejected,
    }))
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
        reconcile: crate::orders::reconcile::last_report(store, shop)?,
        deliveries: store.delivery_states(shop)?,
        etsy: etsy_status(store, shop)?,
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
        if let Some(r) = &s.reconcile {
            render_reconcile(&mut out, r, ago(r.finished_at));
        }
        for (target, d) in &s.deliveries {
            let last = d.last_attempt.as_ref().map_or_else(
                || "never tried".to_owned(),
                |a| {
                    format!(
                        "last {} {}: generation {}, {} rows, {} bytes{}",
                        a.outcome.as_str(),
                        ago(Some(a.finished_at)),
                        a.generation
                            .map_or_else(|| "-".to_owned(), |g| g.to_string()),
                        a.rows,
                        a.bytes,
                        a.error
                            .as_ref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    )
                },
            );
            let _ = writeln!(
                out,
                "  delivery {target:<10} {}: last success {}; {last}",
                d.kind,
                ago(d.last_success)
            );
            if d.consecutive_failures > 0 {
                let _ = writeln!(
                    out,
                    "  FAILING             delivery {target}: {} attempts in a row",
                    d.consecutive_failures
                );
            }
        }
        if let Some(e) = &s.etsy {
            let _ = writeln!(out, "  etsy                {}", e.message);
            if let (Some(left), Some(limit)) = (e.remaining_today, e.limit_per_day) {
                let _ = writeln!(
                    out,
                    "  etsy quota          {left} of {limit} requests left today"
                );
            }
            for r in &e.rejected_listings {
                let _ = writeln!(
                    out,
                    "  etsy listing left out {}: {}",
                    r.listing_id, r.message
                );
            }
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

fn render_reconcile(out: &mut String, r: &crate::orders::ReconcileReport, when: String) {
    use std::fmt::Write;
    let c = &r.checkout;
    let _ = writeln!(
        out,
        "  reconciled          {when}: {} sessions; {} completed, {} released, {} captured, {} voided, {} events re-sent, {} orders updated by polling",
        c.sessions_checked,
        c.completed,
        c.released,
        c.captured,
        c.voided,
        c.events_reemitted,
        r.orders_updated
    );
    for u in &c.unresolved {
        let _ = writeln!(
            out,
            "  UNRESOLVED          {} session {} payment {}: {}",
            u.kind,
            u.session.as_deref().unwrap_or("-"),
            u.payment_intent.as_deref().unwrap_or("-"),
            u.detail
        );
    }
    if r.dead_events > 0 {
        let _ = writeln!(
            out,
            "  UNRESOLVED          {} order events dead-lettered (acp-bridge outbox list)",
            r.dead_events
        );
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "  UNRESOLVED          {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkout::service::{CheckoutReconcile, Unresolved};
    use crate::orders::ReconcileReport;

    #[test]
    fn the_table_shows_the_last_reconciliation_and_what_it_could_not_fix() {
        let status = ShopStatus {
            shop: "acme".into(),
            enabled: true,
            products: 3,
            last_full: None,
            last_incremental: None,
            cursor: None,
            last_error: None,
            feed: None,
            held_feed: None,
            etsy: None,
            deliveries: Vec::new(),
            reconcile: Some(ReconcileReport {
                finished_at: Some(Utc::now()),
                checkout: CheckoutReconcile {
                    sessions_checked: 7,
                    voided: 2,
                    unresolved: vec![Unresolved {
                        kind: "capture_failed".into(),
                        session: Some("cs_1".into()),
                        payment_intent: Some("pi_1".into()),
                        detail: "not captured".into(),
                    }],
                    ..CheckoutReconcile::default()
                },
                dead_events: 1,
                ..ReconcileReport::default()
            }),
        };
        let table = render_table(&[status]);
        assert!(table.contains("7 sessions"), "{table}");
        assert!(table.contains("2 voided"), "{table}");
        assert!(
            table.contains(
                "UNRESOLVED          capture_failed session cs_1 payment pi_1: not captured"
            ),
            "{table}"
        );
        assert!(table.contains("1 order events dead-lettered"), "{table}");
    }
}
