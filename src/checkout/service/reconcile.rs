//! Reconciling a shop's checkout sessions with Stripe and Shopify: the part
//! of the reconciliation job (`orders::reconcile`) that needs the session
//! locks and the complete saga.
//!
//! For every stored session:
//! - `complete_in_progress` and untouched for the grace period (the agent
//!   gave up retrying, or the process stopped mid-complete): the flow is
//!   finished ([`complete::resume`]): the authorization is adopted, the
//!   order found or created exactly once, the payment captured and the
//!   session completed with its `order_create` event. Without a standing
//!   authorization the session becomes payable again.
//! - `completed` within the lookback window with a failed capture: the
//!   capture is retried; without a stored order state (a session completed
//!   before order events existed) the state and `order_create` are written.
//!
//! Then every uncaptured PaymentIntent of the shop older than the grace
//! period that is not the authorization of a session being completed or of
//! a completed session is voided, after Shopify confirmed no order carries
//! the session's tag. What cannot be fixed is returned as [`Unresolved`].
//!
//! A session a request is working on (its lock is held) is skipped; the
//! next run looks again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::complete::{self, Resumed};
use super::{CheckoutRecord, CheckoutService, ServiceError};
use crate::checkout::error::AcpError;
use crate::checkout::model::SessionStatus;
use crate::orders::{OrderEvent, OrderState};
use crate::payment::stripe::PaymentIntent;
use crate::telemetry::ErrorChain;

/// What a reconciliation of the checkout sessions did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutReconcile {
    pub sessions_checked: u64,
    /// Interrupted completes finished with an order.
    pub completed: u64,
    /// Interrupted completes without a standing authorization, returned to
    /// the buyer (or released when the order could not be placed).
    pub released: u64,
    /// Captures retried successfully.
    pub captured: u64,
    /// Authorizations without an order that were voided.
    pub voided: u64,
    /// `order_create` events written for completed sessions that had none.
    pub events_reemitted: u64,
    pub unresolved: Vec<Unresolved>,
}

/// Something reconciliation found and could not fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unresolved {
    /// Stable machine name: `resume_pending`, `capture_failed`,
    /// `void_failed`, `order_without_session`, `unreadable_session`,
    /// `upstream_unavailable`.
    pub kind: String,
    pub session: Option<String>,
    pub payment_intent: Option<String>,
    pub detail: String,
}

impl Unresolved {
    fn new(kind: &str, session: Option<&str>, intent: Option<&str>, detail: String) -> Self {
        Unresolved {
            kind: kind.to_owned(),
            session: session.map(str::to_owned),
            payment_intent: intent.map(str::to_owned),
            detail,
        }
    }
}

fn error_text(e: &ServiceError) -> String {
    match e {
        ServiceError::Acp(a) => a.message.clone(),
        ServiceError::Store(s) => ErrorChain(s).to_string(),
    }
}

fn older_than(at: DateTime<Utc>, now: DateTime<Utc>, age: Duration) -> bool {
    chrono::Duration::from_std(age).is_ok_and(|age| now - at >= age)
}

impl CheckoutService {
    /// Reconciles this shop's sessions and authorizations (see the module
    /// docs). `grace`: how long a session or authorization must have been
    /// left alone; `lookback`: how far back completed sessions are checked.
    ///
    /// # Errors
    /// Store failures. Upstream failures are reported as [`Unresolved`].
    pub async fn reconcile_checkouts(
        &self,
        now: DateTime<Utc>,
        grace: Duration,
        lookback: Duration,
    ) -> Result<CheckoutReconcile, ServiceError> {
        let mut report = CheckoutReconcile::default();
        let store = self.deps.store.clone();
        let shop = self.deps.shop.clone();
        let scan = crate::telemetry::spawn_blocking_in_span(move || {
            let mut unreadable = Vec::new();
            let records: Result<Vec<CheckoutRecord>, _> = store.checkout_records(&shop, |id, e| {
                unreadable.push((id.to_owned(), ErrorChain(e).to_string()));
            });
            records.map(|records| (records, unreadable))
        })
        .await;
        let Ok(scan) = scan else {
            return Err(AcpError::internal().into());
        };
        let (records, unreadable) = scan?;
        for (id, detail) in unreadable {
            report.unresolved.push(Unresolved::new(
                "unreadable_session",
                Some(&id),
                None,
                detail,
            ));
        }
        report.sessions_checked = records.len() as u64;
        for record in &records {
            let updated = record.session.updated_at;
            match record.session.status {
                SessionStatus::CompleteInProgress if older_than(updated, now, grace) => {
                    self.reconcile_in_progress(&record.session.id, &mut report)
                        .await?;
                }
                SessionStatus::Completed if !older_than(updated, now, lookback) => {
                    self.reconcile_completed(&record.session.id, &mut report)
                        .await?;
                }
                _ => {}
            }
        }
        self.void_orphans(now, grace, &mut report).await?;
        Ok(report)
    }

    async fn reconcile_in_progress(
        &self,
        id: &str,
        report: &mut CheckoutReconcile,
    ) -> Result<(), ServiceError> {
        let guard = self.session_lock(id);
        let Ok(_held) = guard.try_lock() else {
            return Ok(());
        };
        let mut record = self.load(id)?;
        if record.session.status != SessionStatus::CompleteInProgress {
            return Ok(());
        }
        match complete::resume(self, &mut record).await {
            Ok(Resumed::Completed) => {
                self.commit_completed(&record)?;
                report.completed += 1;
                tracing::info!(checkout.session = %id, "reconciliation finished an interrupted checkout");
            }
            Ok(Resumed::Released) => {
                self.save(&record)?;
                report.released += 1;
                tracing::info!(
                    checkout.session = %id,
                    status = ?record.session.status,
                    "reconciliation returned an interrupted checkout to the buyer"
                );
            }
            Ok(Resumed::Waiting(why)) => {
                report
                    .unresolved
                    .push(Unresolved::new("resume_pending", Some(id), None, why));
            }
            Err(ServiceError::Store(e)) => return Err(ServiceError::Store(e)),
            Err(e) => report.unresolved.push(Unresolved::new(
                "upstream_unavailable",
                Some(id),
                None,
                error_text(&e),
            )),
        }
        Ok(())
    }

    async fn reconcile_completed(
        &self,
        id: &str,
        report: &mut CheckoutReconcile,
    ) -> Result<(), ServiceError> {
        let guard = self.session_lock(id);
        let Ok(_held) = guard.try_lock() else {
            return Ok(());
        };
        let mut record = self.load(id)?;
        let Some(completion) = record.completion.clone() else {
            return Ok(());
        };
        if !completion.captured && completion.payment_intent.is_some() {
            if complete::capture_if_needed(self, &mut record).await {
                self.save(&record)?;
                report.captured += 1;
            } else {
                report.unresolved.push(Unresolved::new(
                    "capture_failed",
                    Some(id),
                    completion.payment_intent.as_deref(),
                    "the order exists and its payment is authorized but not captured".to_owned(),
                ));
            }
        }
        let has_state = match &record.session.order {
            Some(order) => self
                .deps
                .store
                .order_state::<OrderState>(&self.deps.shop, &order.id)?
                .is_some(),
            None => true,
        };
        if !has_state && self.commit_completed(&record)? {
            report.events_reemitted += 1;
            tracing::info!(checkout.session = %id, "reconciliation recorded a missing order_create");
        }
        Ok(())
    }

    /// Commits a completed session with its order state and `order_create`
    /// event (written only if the order is not stored yet); whether an
    /// event was enqueued.
    fn commit_completed(&self, record: &CheckoutRecord) -> Result<bool, ServiceError> {
        let order = match OrderState::from_completed(record) {
            Ok(order) => order,
            Err(e) => {
                tracing::error!(checkout.session = %record.session.id, error = %e, "a completed session has no order to record");
                self.save(record)?;
                return Ok(false);
            }
        };
        let event = crate::orders::wants_events(self.settings(), record.agent.as_deref())
            .then(|| OrderEvent::create(&order));
        let enqueued = self.commit_with_order(record, &order, event.as_ref())?;
        Ok(enqueued)
    }

    async fn void_orphans(
        &self,
        now: DateTime<Utc>,
        grace: Duration,
        report: &mut CheckoutReconcile,
    ) -> Result<(), ServiceError> {
        let intents = match self
            .deps
            .stripe
            .uncaptured_for_shop(self.deps.shop.as_str())
            .await
        {
            Ok(intents) => intents,
            Err(e) => {
                report.unresolved.push(Unresolved::new(
                    "upstream_unavailable",
                    None,
                    None,
                    format!("listing authorizations failed: {}", ErrorChain(&e)),
                ));
                return Ok(());
            }
        };
        for intent in intents.iter().filter(|i| older_than(i.created, now, grace)) {
            self.reconcile_intent(intent, report).await?;
        }
        Ok(())
    }

    async fn reconcile_intent(
        &self,
        intent: &PaymentIntent,
        report: &mut CheckoutReconcile,
    ) -> Result<(), ServiceError> {
        let Some(session_id) = intent.metadata.get(complete::SESSION_METADATA_KEY) else {
            report.unresolved.push(Unresolved::new(
                "order_without_session",
                None,
                Some(&intent.id),
                "an authorization of this shop names no checkout session".to_owned(),
            ));
            return Ok(());
        };
        let guard = self.session_lock(session_id);
        let Ok(_held) = guard.try_lock() else {
            return Ok(());
        };
        let record: Option<CheckoutRecord> = self
            .deps
            .store
            .checkout_record(&self.deps.shop, session_id)?;
        if let Some(record) = &record {
            let current = record
                .completion
                .as_ref()
                .and_then(|c| c.payment_intent.as_deref());
            let status = record.session.status;
            // The session's own authorization: capture and resume handle it.
            if current == Some(intent.id.as_str())
                && matches!(
                    status,
                    SessionStatus::Completed | SessionStatus::CompleteInProgress
                )
            {
                return Ok(());
            }
            // A session being completed may still adopt it (a lost answer).
            if status == SessionStatus::CompleteInProgress && current.is_none() {
                return Ok(());
            }
        }
        // No session would ever use it: make sure no order was placed with it.
        let order = match self.deps.shopify.find_order_by_checkout(session_id).await {
            Ok(order) => order,
            Err(e) => {
                report.unresolved.push(Unresolved::new(
                    "upstream_unavailable",
                    Some(session_id),
                    Some(&intent.id),
                    format!("looking for the session's order failed: {}", ErrorChain(&e)),
                ));
                return Ok(());
            }
        };
        let completed = record
            .as_ref()
            .is_some_and(|r| r.session.status == SessionStatus::Completed);
        if order.is_some() && !completed {
            report.unresolved.push(Unresolved::new(
                "order_without_session",
                Some(session_id),
                Some(&intent.id),
                "Shopify has an order for this session, which is not completed here".to_owned(),
            ));
            return Ok(());
        }
        match complete::void_orphan(self, session_id, &intent.id).await {
            Ok(()) => {
                report.voided += 1;
                tracing::info!(
                    checkout.session = %session_id,
                    payment_intent = %intent.id,
                    "reconciliation voided an authorization without an order"
                );
            }
            Err(e) => report.unresolved.push(Unresolved::new(
                "void_failed",
                Some(session_id),
                Some(&intent.id),
                ErrorChain(&e).to_string(),
            )),
        }
        Ok(())
    }
}
