//! Completing a session: authorize, order, capture — each step recorded
//! before the next, so a retry after a crash, a timeout or an upstream
//! outage resumes where the last attempt stopped.
//!
//! 1. The session must be ready; it moves to `complete_in_progress` with the
//!    current payment attempt number (stored).
//! 2. Stripe: a PaymentIntent for exactly the quoted total, manual capture,
//!    confirmed with the agent's shared payment token. Its idempotency key is
//!    `acp:{session}:charge:{attempt}`, so a retried complete gets the same
//!    PaymentIntent back instead of a second charge. A decline returns the
//!    session to `ready_for_payment` with a `payment_declined` message and a
//!    new attempt number for the next token.
//! 3. Shopify: `orderCreate` with the quote's lines, taxes and shipping and
//!    the authorization as its transaction. `order_requested` is stored
//!    before sending; from then on the order is looked up by its
//!    `acp:{session}` tag before any new create, so there is never a second
//!    order. Out of stock voids the authorization.
//! 4. Stripe capture (idempotent too), then `completed` with the order.
//!
//! When an upstream outcome stays unknown, the request fails with 503 and
//! the session stays `complete_in_progress`; the agent's retry resumes.

use chrono::Utc;
use secrecy::SecretString;

use super::pricing::upstream;
use super::{
    CheckoutRecord, CheckoutService, Completion, CreatedOrderRef, ServiceError, error_message,
};
use crate::checkout::error::AcpError;
use crate::checkout::model::{
    CompleteSession, ErrorCode, Message, MessageTarget, OrderRef, PaymentData, RequestedLine,
    RequestedQuantity, SessionStatus, WarningCode,
};
use crate::checkout::wire::StripeCardHandler;
use crate::domain::{Buyer, Quote};
use crate::metrics::{
    CHECKOUT_CAPTURE_FAILURES_TOTAL, CHECKOUT_COMPLETIONS_TOTAL, CHECKOUT_VOIDS_TOTAL,
};
use crate::payment::stripe::{
    CancellationReason, CaptureMode, ChargeRequest, IdempotencyKey, PaymentIntent,
    PaymentIntentStatus, StripeError, TokenUnusableReason,
};
use crate::source::shopify::{
    CreatedOrder, OrderRequest, PaymentKind, PaymentRecord, PaymentStatus, ShopifyError,
};

/// How long after an `orderCreate` without an answer the order must stay
/// out of Shopify's search before it is created again. Order search lags by
/// seconds; a retry within this window only looks.
pub const ORDER_RECREATE_AFTER: chrono::Duration = chrono::Duration::minutes(10);

/// Metadata key the PaymentIntent carries the session id under.
pub const SESSION_METADATA_KEY: &str = "checkout_session_id";

fn key(session: &str, step: &str, attempt: u32) -> Result<IdempotencyKey, ServiceError> {
    IdempotencyKey::new(format!("acp:{session}:{step}:{attempt}"))
        .map_err(|_| AcpError::internal().into())
}

pub(super) async fn run(
    service: &CheckoutService,
    record: &mut CheckoutRecord,
    request: CompleteSession,
) -> Result<(), ServiceError> {
    let before = record.session.status;
    let result = steps(service, record, request).await;
    let outcome = match (&result, record.session.status) {
        (Err(_), _) => "upstream_error",
        (Ok(()), SessionStatus::Completed) if before == SessionStatus::Completed => "replayed",
        (Ok(()), SessionStatus::Completed) => "completed",
        (Ok(()), _) => {
            let has = |code: ErrorCode| {
                record.session.messages.iter().any(|m| {
                    matches!(m.kind, crate::checkout::model::MessageKind::Error(c) if c == code)
                })
            };
            if has(ErrorCode::PaymentDeclined) {
                "declined"
            } else if has(ErrorCode::OutOfStock) {
                "out_of_stock"
            } else if record.session.messages.iter().any(|m| {
                m.kind == crate::checkout::model::MessageKind::Warning(WarningCode::PriceChange)
            }) {
                "repriced"
            } else {
                "not_ready"
            }
        }
    };
    metrics::counter!(
        CHECKOUT_COMPLETIONS_TOTAL,
        "shop" => service.shop().to_string(),
        "outcome" => outcome,
    )
    .increment(1);
    result
}

async fn steps(
    service: &CheckoutService,
    record: &mut CheckoutRecord,
    request: CompleteSession,
) -> Result<(), ServiceError> {
    let now = Utc::now();
    CheckoutService::expire_if_due(record, now);
    let status = record.session.status;
    match status {
        SessionStatus::Completed => {
            // The order exists; a capture that failed earlier is retried.
            retry_capture(service, record).await;
            return Ok(());
        }
        SessionStatus::Canceled | SessionStatus::Expired => {
            return Err(AcpError::session_not_modifiable(status).into());
        }
        SessionStatus::ReadyForPayment | SessionStatus::CompleteInProgress => {}
        SessionStatus::NotReadyForPayment | SessionStatus::AuthenticationRequired => {
            record
                .session
                .messages
                .retain(|m| m.target != MessageTarget::Payment);
            record.session.messages.push(error_message(
                ErrorCode::Invalid,
                MessageTarget::Payment,
                "This checkout is not ready for payment yet; resolve the other messages first.",
            ));
            return Ok(());
        }
    }
    if record.quote.is_none() {
        return Err(AcpError::internal().into());
    }
    let credential = match &request.payment {
        PaymentData::Credential(c) => c,
        PaymentData::PurchaseOrder(_) => {
            payment_problem(
                record,
                ErrorCode::Unsupported,
                "This shop accepts card payments through Stripe only.",
            );
            return Ok(());
        }
    };
    let provider_ok = credential
        .provider
        .as_deref()
        .is_none_or(|p| p.eq_ignore_ascii_case("stripe"));
    let handler_ok = credential
        .handler_id
        .as_deref()
        .is_none_or(|h| h == StripeCardHandler::DEFAULT_ID);
    if !provider_ok || !handler_ok {
        payment_problem(
            record,
            ErrorCode::Unsupported,
            "The payment handler is not one this shop offers.",
        );
        return Ok(());
    }
    if let Some(buyer) = request.buyer {
        record.session.buyer = Some(buyer);
    }
    if let Some(notes) = request.order_notes {
        record.session.order_notes = Some(notes);
    }

    // Before any money moves: price and stock again, live. A cart that
    // changed is shown to the buyer again instead of being charged.
    let authorized = record
        .completion
        .as_ref()
        .is_some_and(|c| c.payment_intent.is_some() || c.order_requested);
    if !authorized && !recheck(service, record).await? {
        return Ok(());
    }
    let Some(quote) = record.quote.clone() else {
        return Err(AcpError::internal().into());
    };
    let c = record.completion.get_or_insert_with(Completion::default);
    if !c.order_requested {
        // Kept for the order, also when reconciliation finishes the flow.
        c.billing_address = credential.billing_address.clone();
    }
    record.session.status = SessionStatus::CompleteInProgress;
    record.session.updated_at = now;
    service.save(record)?;

    let intent = match authorize(service, record, &quote, credential.token.clone()).await? {
        Some(intent) => intent,
        None => return Ok(()),
    };

    let order = match place_order(service, record, &quote, &intent).await? {
        Some(order) => order,
        None => return Ok(()),
    };
    finish(service, record, &order, &intent).await
}

/// Steps 3½ and 4: records the order, captures, and marks the session
/// completed (the caller commits it with the order's state and event).
async fn finish(
    service: &CheckoutService,
    record: &mut CheckoutRecord,
    order: &CreatedOrder,
    intent: &PaymentIntent,
) -> Result<(), ServiceError> {
    record
        .completion
        .get_or_insert_with(Completion::default)
        .order = Some(CreatedOrderRef {
        id: order.id.clone(),
        legacy_id: order.legacy_id,
        name: order.name.clone(),
    });
    service.save(record)?;
    capture(service, record, intent).await;
    let facts = service.facts()?;
    let permalink = facts
        .url
        .join(&format!("account/orders/{}", order.legacy_id))
        .unwrap_or_else(|_| facts.url.clone());
    record.session.order = Some(OrderRef {
        id: order.legacy_id.to_string(),
        number: Some(order.name.clone()),
        permalink_url: permalink,
        confirmation_email_sent: None,
    });
    record.session.status = SessionStatus::Completed;
    record
        .session
        .messages
        .retain(|m| m.target != MessageTarget::Payment);
    record.session.updated_at = Utc::now();
    tracing::info!(
        checkout.session = %record.session.id,
        order.name = %order.name,
        "checkout completed"
    );
    Ok(())
}

/// Reprices the cart with the same lines, address and rate. `false` when the
/// session is no longer payable as shown (stock ran out, the price moved);
/// the session then carries the new state and messages.
async fn recheck(
    service: &CheckoutService,
    record: &mut CheckoutRecord,
) -> Result<bool, ServiceError> {
    let shown = record.session.totals.total;
    let lines: Vec<RequestedLine> = record
        .session
        .lines
        .iter()
        .filter_map(|l| {
            std::num::NonZeroU32::new(l.quantity).map(|q| RequestedLine {
                item_id: l.item_id.clone(),
                quantity: RequestedQuantity::Units(q),
            })
        })
        .collect();
    let currency = record.session.currency;
    service.reprice(record, &lines, currency).await?;
    if record.session.status != SessionStatus::ReadyForPayment {
        return Ok(false);
    }
    if record.session.totals.total != shown {
        record.session.messages.push(Message::warning(
            WarningCode::PriceChange,
            MessageTarget::None,
            "The total changed since it was shown; review it and complete again.",
        ));
        return Ok(false);
    }
    Ok(true)
}

fn payment_problem(record: &mut CheckoutRecord, code: ErrorCode, text: &str) {
    let s = &mut record.session;
    s.messages.retain(|m| m.target != MessageTarget::Payment);
    s.messages
        .push(error_message(code, MessageTarget::Payment, text.to_owned()));
    s.status = SessionStatus::ReadyForPayment;
    s.updated_at = Utc::now();
}

/// Starts the next payment attempt after a definite failure of this one.
fn next_attempt(record: &mut CheckoutRecord) {
    let c = record.completion.get_or_insert_with(Completion::default);
    c.attempt += 1;
    c.payment_intent = None;
}

/// Step 2. `Ok(None)`: the session was updated with a buyer-facing problem.
async fn authorize(
    service: &CheckoutService,
    record: &mut CheckoutRecord,
    quote: &Quote,
    token: SecretString,
) -> Result<Option<PaymentIntent>, ServiceError> {
    let session_id = record.session.id.clone();
    let completion = record.completion.clone().unwrap_or_default();
    let stripe = &service.deps.stripe;
    if let Some(id) = &completion.payment_intent {
        // Authorized by an earlier attempt that did not finish.
        return match stripe.retrieve(id).await {
            Ok(intent) => Ok(Some(intent)),
            Err(e) => Err(stripe_unavailable(&e).into()),
        };
    }
    let request = ChargeRequest {
        amount: quote.total,
        token,
        capture: CaptureMode::Manual,
        metadata: vec![
            (SESSION_METADATA_KEY.to_owned(), session_id.clone()),
            ("shop".to_owned(), service.shop().to_string()),
            ("attempt".to_owned(), completion.attempt.to_string()),
        ],
        description: Some(format!("ACP checkout {session_id}")),
        idempotency_key: key(&session_id, "charge", completion.attempt)?,
    };
    let intent = match stripe.charge(request).await {
        Ok(intent) => intent,
        Err(StripeError::Declined { message, .. }) => {
            next_attempt(record);
            payment_problem(
                record,
                ErrorCode::PaymentDeclined,
                &format!("The card was declined: {message}"),
            );
            return Ok(None);
        }
        Err(StripeError::TokenUnusable { reason }) => {
            // A token consumed by an earlier attempt of this session whose
            // answer was lost: adopt that authorization.
            if matches!(reason, TokenUnusableReason::Consumed)
                && let Some(intent) = find_live(service, &session_id).await?
            {
                let c = record.completion.get_or_insert_with(Completion::default);
                c.payment_intent = Some(intent.id.clone());
                service.save(record)?;
                return Ok(Some(intent));
            }
            next_attempt(record);
            tracing::info!(checkout.session = %session_id, reason = ?reason, "payment token unusable");
            payment_problem(
                record,
                ErrorCode::PaymentDeclined,
                "The payment token cannot be used for this amount any more; provide a new one.",
            );
            return Ok(None);
        }
        Err(StripeError::IdempotencyConflict) => {
            // This attempt's key was used with other parameters (a retry
            // with a new token after a lost answer): find what it did.
            match find_attempt(service, &session_id, completion.attempt).await? {
                Some(intent) => intent,
                None => {
                    next_attempt(record);
                    payment_problem(
                        record,
                        ErrorCode::PaymentDeclined,
                        "The payment could not be confirmed; please try again.",
                    );
                    return Ok(None);
                }
            }
        }
        Err(e @ StripeError::Ambiguous { .. }) => {
            // Maybe applied. Stripe also saves its own 500s under the key and
            // replays them, so retrying the same key may never succeed: if
            // no PaymentIntent of this attempt exists, the next complete uses
            // a new attempt (the token is single-use, so a charge that did go
            // through cannot be repeated; it is found by search instead).
            tracing::warn!(
                checkout.session = %session_id,
                error = %crate::telemetry::ErrorChain(&e),
                "authorizing the payment had no usable answer"
            );
            match find_attempt(service, &session_id, completion.attempt).await? {
                Some(intent) => intent,
                None => {
                    next_attempt(record);
                    service.save(record)?;
                    return Err(stripe_unavailable(&e).into());
                }
            }
        }
        Err(e) => {
            tracing::warn!(
                checkout.session = %session_id,
                error = %crate::telemetry::ErrorChain(&e),
                "authorizing the payment failed; the session stays in progress"
            );
            return Err(stripe_unavailable(&e).into());
        }
    };
    if !matches!(
        intent.status,
        PaymentIntentStatus::RequiresCapture | PaymentIntentStatus::Succeeded
    ) {
        next_attempt(record);
        payment_problem(
            record,
            ErrorCode::PaymentDeclined,
            "The payment was not authorized.",
        );
        return Ok(None);
    }
    if intent.amount != quote.total {
        // Never go on with a payment that differs from what was shown.
        tracing::error!(checkout.session = %session_id, "authorized amount differs from the quote");
        return Err(AcpError::internal().into());
    }
    let c = record.completion.get_or_insert_with(Completion::default);
    c.payment_intent = Some(intent.id.clone());
    service.save(record)?;
    Ok(Some(intent))
}

async fn find_attempt(
    service: &CheckoutService,
    session_id: &str,
    attempt: u32,
) -> Result<Option<PaymentIntent>, ServiceError> {
    let found = service
        .deps
        .stripe
        .find_by_metadata(SESSION_METADATA_KEY, session_id)
        .await
        .map_err(|e| stripe_unavailable(&e))?;
    Ok(found.into_iter().find(|pi| {
        pi.metadata
            .iter()
            .any(|(k, v)| k == "attempt" && *v == attempt.to_string())
            && matches!(
                pi.status,
                PaymentIntentStatus::RequiresCapture | PaymentIntentStatus::Succeeded
            )
    }))
}

/// Any authorized or captured PaymentIntent of the session.
async fn find_live(
    service: &CheckoutService,
    session_id: &str,
) -> Result<Option<PaymentIntent>, ServiceError> {
    let found = service
        .deps
        .stripe
        .find_by_metadata(SESSION_METADATA_KEY, session_id)
        .await
        .map_err(|e| stripe_unavailable(&e))?;
    Ok(found.into_iter().find(|pi| {
        matches!(
            pi.status,
            PaymentIntentStatus::RequiresCapture | PaymentIntentStatus::Succeeded
        )
    }))
}

fn stripe_unavailable(e: &StripeError) -> AcpError {
    match e {
        StripeError::Authentication { .. } | StripeError::InvalidSettings { .. } => {
            AcpError::internal()
        }
        _ => AcpError::upstream_unavailable(Some(5)),
    }
}

/// Step 3. `Ok(None)`: the session was updated with a buyer-facing problem.
async fn place_order(
    service: &CheckoutService,
    record: &mut CheckoutRecord,
    quote: &Quote,
    intent: &PaymentIntent,
) -> Result<Option<CreatedOrder>, ServiceError> {
    let session_id = record.session.id.clone();
    let shopify = &service.deps.shopify;
    let completion = record.completion.clone().unwrap_or_default();
    if let Some(order) = &completion.order {
        return Ok(Some(CreatedOrder {
            id: order.id.clone(),
            legacy_id: order.legacy_id,
            name: order.name.clone(),
            created_at: Utc::now(),
        }));
    }
    if completion.order_requested {
        if let Some(order) = look_up(service, &session_id).await? {
            return Ok(Some(order));
        }
        let recent = completion
            .order_requested_at
            .is_some_and(|at| Utc::now() - at < ORDER_RECREATE_AFTER);
        if recent {
            // Possibly created and not yet searchable: never a second order.
            return Err(AcpError::upstream_unavailable(Some(10)).into());
        }
    }
    let c = record.completion.get_or_insert_with(Completion::default);
    c.order_requested = true;
    c.order_requested_at = Some(Utc::now());
    service.save(record)?;

    let buyer: Buyer = record.session.buyer.clone().unwrap_or_default();
    let order_request = OrderRequest {
        checkout_session_id: session_id.clone(),
        quote: quote.clone(),
        shipping_address: record.session.address.clone(),
        billing_address: completion.billing_address.clone(),
        buyer,
        payment: PaymentRecord {
            amount: quote.total,
            gateway: "stripe".to_owned(),
            reference: intent.id.clone(),
            kind: PaymentKind::Authorization,
            status: PaymentStatus::Success,
        },
        send_receipt: service.settings().send_receipt,
        test: service.settings().test_orders,
    };
    match shopify.create_order(&order_request).await {
        Ok(order) => Ok(Some(order)),
        Err(ShopifyError::InventoryClaimFailed { .. }) => {
            void(service, &session_id, intent, record_attempt(record)).await;
            next_attempt(record);
            let s = &mut record.session;
            s.messages.retain(|m| m.target != MessageTarget::Payment);
            s.messages.push(error_message(
                ErrorCode::OutOfStock,
                MessageTarget::None,
                "Some items sold out while checking out; the payment was released. Update the cart to continue.",
            ));
            s.status = SessionStatus::NotReadyForPayment;
            s.updated_at = Utc::now();
            if let Some(c) = record.completion.as_mut() {
                c.order_requested = false;
            }
            Ok(None)
        }
        Err(e @ ShopifyError::OutcomeUnknown { .. }) => {
            tracing::warn!(
                checkout.session = %session_id,
                error = %crate::telemetry::ErrorChain(&e),
                "order creation had no answer; looking for the order"
            );
            match look_up(service, &session_id).await? {
                Some(order) => Ok(Some(order)),
                // Maybe created and not searchable yet: the agent retries,
                // and the retry looks again before it creates anything.
                None => Err(AcpError::upstream_unavailable(Some(10)).into()),
            }
        }
        Err(e) => {
            // Refused before Shopify ran it (unavailable, throttled, …): no
            // order exists, so the retry may create one right away.
            if let Some(c) = record.completion.as_mut() {
                c.order_requested = false;
                c.order_requested_at = None;
            }
            service.save(record)?;
            tracing::warn!(
                checkout.session = %session_id,
                error = %crate::telemetry::ErrorChain(&e),
                "creating the order failed; the session stays in progress"
            );
            Err(upstream(&e).into())
        }
    }
}

fn record_attempt(record: &CheckoutRecord) -> u32 {
    record.completion.as_ref().map_or(0, |c| c.attempt)
}

/// Looks for the session's order, retrying while Shopify's order search
/// catches up.
async fn look_up(
    service: &CheckoutService,
    session_id: &str,
) -> Result<Option<CreatedOrder>, ServiceError> {
    let settings = service.settings();
    for attempt in 0..settings.order_lookup_attempts {
        if attempt > 0 {
            tokio::time::sleep(settings.order_lookup_interval).await;
        }
        match service
            .deps
            .shopify
            .find_order_by_checkout(session_id)
            .await
        {
            Ok(Some(order)) => return Ok(Some(order)),
            Ok(None) => {}
            Err(e) => return Err(upstream(&e).into()),
        }
    }
    Ok(None)
}

/// Releases an authorization that will not become an order.
async fn void(service: &CheckoutService, session_id: &str, intent: &PaymentIntent, attempt: u32) {
    let Ok(k) = key(session_id, "void", attempt) else {
        return;
    };
    metrics::counter!(CHECKOUT_VOIDS_TOTAL, "shop" => service.shop().to_string()).increment(1);
    if let Err(e) = service
        .deps
        .stripe
        .cancel(&intent.id, Some(CancellationReason::Abandoned), &k)
        .await
    {
        tracing::error!(
            checkout.session = %session_id,
            payment_intent = %intent.id,
            error = %crate::telemetry::ErrorChain(&e),
            "releasing the authorization failed; it expires on its own"
        );
    }
}

/// A completed session whose capture failed: try again (idempotent key).
async fn retry_capture(service: &CheckoutService, record: &mut CheckoutRecord) {
    let Some(completion) = record.completion.clone() else {
        return;
    };
    if completion.captured {
        return;
    }
    let Some(id) = completion.payment_intent else {
        return;
    };
    match service.deps.stripe.retrieve(&id).await {
        Ok(intent) => capture(service, record, &intent).await,
        Err(e) => tracing::warn!(
            checkout.session = %record.session.id,
            error = %crate::telemetry::ErrorChain(&e),
            "reading the authorization to capture it failed"
        ),
    }
}

/// Step 4. A failed capture leaves the authorization in place; the order
/// already exists, so the session still completes and the failure is logged
/// for reconciliation.
async fn capture(service: &CheckoutService, record: &mut CheckoutRecord, intent: &PaymentIntent) {
    let session_id = record.session.id.clone();
    if intent.status == PaymentIntentStatus::Succeeded {
        if let Some(c) = record.completion.as_mut() {
            c.captured = true;
        }
        return;
    }
    let Ok(k) = key(&session_id, "capture", record_attempt(record)) else {
        return;
    };
    match service.deps.stripe.capture(&intent.id, None, &k).await {
        Ok(_) => {
            if let Some(c) = record.completion.as_mut() {
                c.captured = true;
            }
        }
        Err(e) => {
            metrics::counter!(
                CHECKOUT_CAPTURE_FAILURES_TOTAL,
                "shop" => service.shop().to_string()
            )
            .increment(1);
            tracing::error!(
                checkout.session = %session_id,
                payment_intent = %intent.id,
                error = %crate::telemetry::ErrorChain(&e),
                "capturing the payment failed; the order exists and the authorization stands"
            );
        }
    }
}

/// What [`resume`] did with a session left `complete_in_progress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resumed {
    /// The order exists (found or created) and the session is completed.
    Completed,
    /// No authorization stands: the session is payable again (or, when the
    /// order could not be placed, back to the cart with the money released).
    Released,
    /// Not decidable yet (an order request whose outcome is still unknown,
    /// an upstream outage); the next run looks again.
    Waiting(String),
}

/// Finishes a complete that stopped part-way and that the agent did not
/// retry: with the session's stored quote, addresses and authorization,
/// without a payment token. An authorization of the session is adopted
/// (also one whose answer was lost, found by search); without one nothing
/// can be charged, so the session becomes payable again.
pub(super) async fn resume(
    service: &CheckoutService,
    record: &mut CheckoutRecord,
) -> Result<Resumed, ServiceError> {
    let session_id = record.session.id.clone();
    let Some(quote) = record.quote.clone() else {
        return Err(AcpError::internal().into());
    };
    let completion = record.completion.clone().unwrap_or_default();
    let intent = match &completion.payment_intent {
        Some(id) => Some(
            service
                .deps
                .stripe
                .retrieve(id)
                .await
                .map_err(|e| stripe_unavailable(&e))?,
        ),
        None => find_live(service, &session_id).await?,
    };
    let intent = intent.filter(|i| {
        matches!(
            i.status,
            PaymentIntentStatus::RequiresCapture | PaymentIntentStatus::Succeeded
        )
    });
    let Some(intent) = intent else {
        if completion.order_requested && look_up(service, &session_id).await?.is_some() {
            return Ok(Resumed::Waiting(
                "an order exists but the session's authorization is gone".to_owned(),
            ));
        }
        next_attempt(record);
        payment_problem(
            record,
            ErrorCode::PaymentDeclined,
            "The payment did not go through; complete the checkout again.",
        );
        if let Some(c) = record.completion.as_mut() {
            c.order_requested = false;
            c.order_requested_at = None;
        }
        return Ok(Resumed::Released);
    };
    if intent.amount != quote.total {
        return Ok(Resumed::Waiting(format!(
            "authorization {} is for another amount than the quote",
            intent.id
        )));
    }
    if completion.payment_intent.as_deref() != Some(intent.id.as_str()) {
        record
            .completion
            .get_or_insert_with(Completion::default)
            .payment_intent = Some(intent.id.clone());
        service.save(record)?;
    }
    let placed = match place_order(service, record, &quote, &intent).await {
        Ok(placed) => placed,
        Err(ServiceError::Acp(e)) => {
            return Ok(Resumed::Waiting(format!(
                "the order could not be placed yet: {}",
                e.message
            )));
        }
        Err(e) => return Err(e),
    };
    match placed {
        Some(order) => {
            finish(service, record, &order, &intent).await?;
            Ok(Resumed::Completed)
        }
        None => Ok(Resumed::Released),
    }
}

/// Captures a completed session's authorization when an earlier capture
/// failed; whether it is captured now.
pub(super) async fn capture_if_needed(
    service: &CheckoutService,
    record: &mut CheckoutRecord,
) -> bool {
    retry_capture(service, record).await;
    record.completion.as_ref().is_some_and(|c| c.captured)
}

/// Cancels an authorization that belongs to no order (idempotent per
/// PaymentIntent). The caller made sure no order was placed with it.
pub(super) async fn void_orphan(
    service: &CheckoutService,
    session_id: &str,
    intent_id: &str,
) -> Result<(), StripeError> {
    let k = IdempotencyKey::new(format!("acp:{session_id}:reconcile-void:{intent_id}")).map_err(
        |_| StripeError::InvalidArgument {
            reason: "the void key is too long".to_owned(),
        },
    )?;
    metrics::counter!(CHECKOUT_VOIDS_TOTAL, "shop" => service.shop().to_string()).increment(1);
    service
        .deps
        .stripe
        .cancel(intent_id, Some(CancellationReason::Abandoned), &k)
        .await
        .map(|_| ())
}
