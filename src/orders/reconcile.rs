//! The reconciliation job of one shop: a periodic pass that compares the
//! shop's ACP sessions, Stripe PaymentIntents and Shopify orders and fixes
//! what a crash, an agent that stopped retrying, or a lost webhook left
//! behind.
//!
//! Each run:
//! 1. reconciles sessions and authorizations
//!    ([`CheckoutService::reconcile_checkouts`]): finishes interrupted
//!    completes, retries failed captures, writes missing `order_create`
//!    events, voids authorizations that belong to no order;
//! 2. polls Shopify for ACP orders changed since the last run
//!    ([`ShopifyClient::acp_orders_changed`]) and applies them like an
//!    `orders/updated` webhook, so a lost Shopify webhook still reaches the
//!    agent as an `order_update`;
//! 3. counts dead-lettered order events;
//! 4. stores the report (shown by `acp-bridge status`), logs what it did
//!    and what it could not fix, and sets the metrics.
//!
//! The first run starts right after the daemon does, so a complete cut off
//! by a restart is finished without waiting a whole interval.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::inbound::{Applied, apply_to_stored};
use crate::checkout::service::{CheckoutReconcile, CheckoutService, ServiceError, Unresolved};
use crate::config::ReconcileSettings;
use crate::metrics as m;
use crate::telemetry::ErrorChain;

/// Shopify's order search lags writes: each poll reads this far back
/// before the previous run's start.
const POLL_OVERLAP: chrono::Duration = chrono::Duration::minutes(2);
/// Pages read per run at most (three orders each); the rest waits for the
/// next run, from the same cursor.
const MAX_POLL_PAGES: usize = 200;

/// The outcome of one reconciliation run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileReport {
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub checkout: CheckoutReconcile,
    /// ACP orders Shopify reported as changed.
    pub orders_polled: u64,
    /// Of those, orders whose state changed here (a webhook was lost or is
    /// still on its way): each got an `order_update`.
    pub orders_updated: u64,
    /// Order events given up on after their retries (`acp-bridge outbox`).
    pub dead_events: u64,
    /// A failure that stopped part of the run.
    pub error: Option<String>,
}

impl ReconcileReport {
    /// Problems an operator should look at.
    pub fn unresolved(&self) -> usize {
        self.checkout.unresolved.len()
            + usize::from(self.dead_events > 0)
            + usize::from(self.error.is_some())
    }
}

/// What the job keeps between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileState {
    /// Orders changed at or after this were not all read yet.
    pub orders_cursor: Option<DateTime<Utc>>,
    pub last: Option<ReconcileReport>,
}

/// The last report of `shop`, for status output.
///
/// # Errors
/// Store I/O.
pub fn last_report(
    store: &crate::store::Store,
    shop: &crate::domain::ShopId,
) -> Result<Option<ReconcileReport>, crate::store::StoreError> {
    Ok(store
        .reconcile_state::<ReconcileState>(shop)?
        .and_then(|s| s.last))
}

/// The reconciliation job of one shop.
pub struct Reconciler {
    service: Arc<CheckoutService>,
    settings: ReconcileSettings,
    /// Runs of one shop never overlap (the periodic one and one asked for
    /// through the admin API).
    running: tokio::sync::Mutex<()>,
}

impl Reconciler {
    /// The job of `service`'s shop, with the shop's reconcile settings.
    pub fn new(service: Arc<CheckoutService>) -> Self {
        let settings = service.settings().reconcile.clone();
        Reconciler {
            service,
            settings,
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs until `cancel`: once now (unless `first_now` is false), then
    /// every `every`.
    pub async fn run(self: Arc<Self>, first_now: bool, cancel: CancellationToken) {
        if !first_now {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(self.settings.every) => {}
            }
        }
        loop {
            if let Err(e) = self.run_once().await {
                tracing::error!(
                    shop = %self.service.shop(),
                    error = %ErrorChain(&e),
                    "reconciliation failed"
                );
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(self.settings.every) => {}
            }
        }
    }

    /// One reconciliation run; the report is stored and returned.
    ///
    /// # Errors
    /// Store failures (upstream failures are in the report).
    pub async fn run_once(&self) -> Result<ReconcileReport, ServiceError> {
        let _one = self.running.lock().await;
        let shop = self.service.shop().clone();
        let store = self.service.store().clone();
        let started = Utc::now();
        let mut state: ReconcileState = store.reconcile_state(&shop)?.unwrap_or_default();
        let mut report = ReconcileReport {
            started_at: Some(started),
            checkout: self
                .service
                .reconcile_checkouts(started, self.settings.grace, self.settings.lookback)
                .await?,
            ..ReconcileReport::default()
        };

        let lookback =
            chrono::Duration::from_std(self.settings.lookback).unwrap_or(chrono::Duration::days(3));
        let since = state.orders_cursor.unwrap_or(started - lookback);
        match self.poll_orders(since, &mut report).await {
            Ok(true) => state.orders_cursor = Some(started - POLL_OVERLAP),
            Ok(false) => {}
            Err(e) => report.error = Some(e),
        }
        report.dead_events = store.outbox_stats(&shop)?.dead;
        report.finished_at = Some(Utc::now());
        state.last = Some(report.clone());
        store.put_reconcile_state(&shop, &state)?;
        self.publish(&report);
        Ok(report)
    }

    /// Applies the ACP orders changed since `since`; whether every page
    /// was read (so the cursor may move).
    async fn poll_orders(
        &self,
        since: DateTime<Utc>,
        report: &mut ReconcileReport,
    ) -> Result<bool, String> {
        let service = &self.service;
        let mut after = None;
        for _ in 0..MAX_POLL_PAGES {
            let page = service
                .shopify()
                .acp_orders_changed(since, after.take())
                .await
                .map_err(|e| format!("polling Shopify orders failed: {}", ErrorChain(&e)))?;
            for order in &page.orders {
                report.orders_polled += 1;
                let applied = apply_to_stored(
                    service.store(),
                    service.settings(),
                    service.order_events(),
                    service.shop(),
                    &order.id,
                    "orders/updated",
                    &order.payload,
                )?;
                if applied == Applied::Changed {
                    report.orders_updated += 1;
                    tracing::warn!(
                        shop = %service.shop(),
                        order.id = %order.id,
                        "an order change reached us by polling, not by webhook"
                    );
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(true),
            }
        }
        Ok(false)
    }

    fn publish(&self, report: &ReconcileReport) {
        let shop = self.service.shop().to_string();
        let c = &report.checkout;
        for (action, n) in [
            ("completed", c.completed),
            ("released", c.released),
            ("captured", c.captured),
            ("voided", c.voided),
            ("event_reemitted", c.events_reemitted),
            ("order_updated", report.orders_updated),
        ] {
            if n > 0 {
                metrics::counter!(m::RECONCILE_ACTIONS_TOTAL, "shop" => shop.clone(), "action" => action)
                    .increment(n);
            }
        }
        let outcome = if report.error.is_some() {
            "error"
        } else {
            "ok"
        };
        metrics::counter!(m::RECONCILE_RUNS_TOTAL, "shop" => shop.clone(), "outcome" => outcome)
            .increment(1);
        #[allow(clippy::cast_precision_loss, reason = "a count of problems")]
        metrics::gauge!(m::RECONCILE_UNRESOLVED, "shop" => shop.clone())
            .set(report.unresolved() as f64);
        if let Some(at) = report.finished_at {
            #[allow(clippy::cast_precision_loss, reason = "unix seconds fit an f64")]
            metrics::gauge!(m::RECONCILE_LAST_RUN_TIMESTAMP_SECONDS, "shop" => shop.clone())
                .set(at.timestamp() as f64);
        }
        for u in &c.unresolved {
            log_unresolved(&shop, u);
        }
        if report.dead_events > 0 {
            tracing::warn!(
                shop = %shop,
                dead = report.dead_events,
                "order events are dead-lettered; see `acp-bridge outbox list`"
            );
        }
        if let Some(e) = &report.error {
            tracing::warn!(shop = %shop, error = %e, "reconciliation could not finish");
        }
        tracing::info!(
            shop = %shop,
            sessions = c.sessions_checked,
            completed = c.completed,
            released = c.released,
            captured = c.captured,
            voided = c.voided,
            events_reemitted = c.events_reemitted,
            orders_polled = report.orders_polled,
            orders_updated = report.orders_updated,
            unresolved = report.unresolved(),
            "reconciliation finished"
        );
    }
}

fn log_unresolved(shop: &str, u: &Unresolved) {
    tracing::warn!(
        shop = %shop,
        kind = %u.kind,
        checkout.session = u.session.as_deref().unwrap_or("-"),
        payment_intent = u.payment_intent.as_deref().unwrap_or("-"),
        detail = %u.detail,
        "reconciliation could not fix this"
    );
}
