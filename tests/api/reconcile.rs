//! The reconciliation job against the Shopify and Stripe emulators: an
//! interrupted complete the agent never retried is finished (order, capture,
//! `order_create`), one without an authorization is handed back to the
//! buyer, authorizations no order will use (an unrecorded one of a session
//! that completed with another, one of a canceled session) are voided, a
//! lost Shopify webhook is caught by polling, and what cannot be fixed yet
//! is reported in the status until it is fixed.
//!
//! The job runs through the admin API (`POST /admin/shops/{shop}/reconcile`),
//! which answers with the run's report; the daemon's own periodic runs wait
//! a day in these worlds.

use acp_bridge::domain::{Currency, Money};
use acp_bridge::emulator::shopify::{EmulatorConfig, TrackingInfo};
use acp_bridge::emulator::stripe::StripeEmulatorConfig;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde_json::Value;

use crate::checkout_support::{V_NEW, World, has_message, id_of, world_on_stripe};
use crate::order_webhooks::{Mode, Receiver, assert_valid_event, buy, shopify_world_with};

/// Acts on anything older than 10 ms; periodic runs are a day apart.
const RECONCILE: &str = "[shops.checkout.reconcile]\ngrace_secs = 0.01\nevery_secs = 86400\n";

async fn reconcile(w: &World) -> Value {
    let response = w
        .app
        .http
        .post(format!("http://{}/admin/shops/acme/reconcile", w.app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn admin_status(w: &World) -> Value {
    let response = w
        .app
        .http
        .get(format!("http://{}/admin/status", w.app.admin))
        .send()
        .await
        .unwrap();
    let all: Value = response.json().await.unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|s| s["shop"] == "acme")
        .cloned()
        .unwrap()
}

fn count(report: &Value, field: &str) -> u64 {
    report["checkout"][field].as_u64().unwrap()
}

/// A session left `complete_in_progress` with a standing authorization:
/// Shopify refuses every request from the moment the payment is being
/// authorized, and the agent gives up after the 503.
async fn interrupted_after_authorization(w: &World) -> (String, String) {
    let item = w.stocked_item().await;
    let id = id_of(&w.ready_session(V_NEW, &item, "create").await);
    let token = w.token("pm_card_visa", 1_000_000);
    let (status, _, error) = w
        .complete_while_authorizing(V_NEW, &id, "pay", &token, |w| {
            w.shopify
                .emulator
                .faults()
                .fail_next(1000, StatusCode::SERVICE_UNAVAILABLE);
        })
        .await;
    assert_eq!(status, 503, "{error}");
    let (_, session) = w.get_session(V_NEW, &id).await;
    assert_eq!(session["status"], "complete_in_progress", "{session}");
    let intents = w.stripe.payment_intents();
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0].status, "requires_capture");
    (id, intents[0].id.clone())
}

#[tokio::test]
async fn an_interrupted_complete_the_agent_never_retried_is_finished_once() {
    let receiver = Receiver::spawn(Mode::Accept).await;
    let w = shopify_world_with(&receiver, RECONCILE).await;
    let (id, authorization) = interrupted_after_authorization(&w).await;

    // While Shopify is still down, the run cannot place the order: it says
    // so in the status and changes nothing.
    let report = reconcile(&w).await;
    assert_eq!(count(&report, "completed"), 0, "{report}");
    let unresolved = report["checkout"]["unresolved"].as_array().unwrap();
    assert!(
        unresolved
            .iter()
            .any(|u| u["kind"] == "resume_pending" && u["session"] == id.as_str()),
        "{report}"
    );
    let status = admin_status(&w).await;
    assert_eq!(
        status["reconcile"]["checkout"]["unresolved"],
        report["checkout"]["unresolved"]
    );
    assert!(w.shopify.emulator.orders().is_empty());

    // Shopify is back: the next run finishes the checkout.
    w.shopify.emulator.faults().clear();
    let report = reconcile(&w).await;
    assert_eq!(count(&report, "completed"), 1, "{report}");
    assert_eq!(report["checkout"]["unresolved"], Value::Array(vec![]));

    let (_, session) = w.get_session(V_NEW, &id).await;
    assert_eq!(session["status"], "completed", "{session}");
    let orders = w.shopify.emulator.orders();
    assert_eq!(orders.len(), 1);
    assert!(orders[0].tags.contains(&format!("acp:{id}")));
    let intents = w.stripe.payment_intents();
    assert_eq!(intents.len(), 1, "no second authorization");
    assert_eq!(intents[0].id, authorization);
    assert_eq!(intents[0].status, "succeeded", "captured");
    assert_eq!(intents[0].amount, orders[0].total.0);
    let created = receiver.wait_accepted(1).await;
    assert_eq!(created[0].body["type"], "order_create");
    assert_eq!(
        created[0].body["data"]["id"],
        orders[0].id.to_string().as_str()
    );
    assert_valid_event(V_NEW, &created[0].body);

    // A further run finds nothing to do and sends nothing again.
    let again = reconcile(&w).await;
    assert_eq!(count(&again, "completed"), 0, "{again}");
    assert_eq!(w.shopify.emulator.orders().len(), 1);
    assert_eq!(receiver.accepted().len(), 1);
}

#[tokio::test]
async fn an_interrupted_complete_without_an_authorization_is_handed_back_to_the_buyer() {
    let w = world_on_stripe(
        EmulatorConfig::default(),
        StripeEmulatorConfig::default(),
        "",
        RECONCILE,
        "",
    )
    .await;
    let item = w.stocked_item().await;
    let id = id_of(&w.ready_session(V_NEW, &item, "create").await);
    let token = w.token("pm_card_visa", 1_000_000);
    // Stripe fails inside the authorization and stores its 500 under the
    // key: nothing was charged, and the agent does not come back.
    w.stripe.faults().error_during_execution_next(1);
    let (status, _, _) = w.complete(V_NEW, &id, "pay", &token).await;
    assert_eq!(status, 503);

    let report = reconcile(&w).await;

    assert_eq!(count(&report, "released"), 1, "{report}");
    let (_, session) = w.get_session(V_NEW, &id).await;
    assert_eq!(session["status"], "ready_for_payment", "{session}");
    assert!(has_message(&session, "payment_declined"), "{session}");
    assert!(w.shopify.emulator.orders().is_empty());
    assert!(w.live_intents().is_empty());
    // The buyer can pay again.
    let (status, _, completed) = w.complete(V_NEW, &id, "pay-again", &token).await;
    assert_eq!(status, 200, "{completed}");
    assert_eq!(completed["status"], "completed", "{completed}");
}

/// Authorizes `amount` for session `id` the way the daemon does (same
/// metadata), as a process that crashed before recording the answer did.
async fn unrecorded_authorization(w: &World, id: &str, amount: i64) -> String {
    use acp_bridge::payment::stripe::{
        CaptureMode, ChargeRequest, IdempotencyKey, PaymentIntentStatus, StripeClient,
        StripeSettings,
    };
    let mut settings =
        StripeSettings::new(SecretString::from(StripeEmulatorConfig::DEFAULT_SECRET_KEY));
    settings.api_base_url = url::Url::parse(&w.stripe_url).unwrap();
    let client = StripeClient::new(settings).unwrap();
    let token = w.token("pm_card_visa", 1_000_000);
    let intent = client
        .charge(ChargeRequest {
            amount: Money::new(amount, Currency::USD),
            token: SecretString::from(token),
            capture: CaptureMode::Manual,
            metadata: vec![
                ("checkout_session_id".into(), id.to_owned()),
                ("shop".into(), "acme".into()),
                ("attempt".into(), "0".into()),
            ],
            description: None,
            idempotency_key: IdempotencyKey::new(format!("crashed:{id}")).unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(intent.status, PaymentIntentStatus::RequiresCapture);
    intent.id
}

#[tokio::test]
async fn authorizations_no_order_will_use_are_voided_and_an_order_s_own_is_kept() {
    let w = world_on_stripe(
        EmulatorConfig::default(),
        StripeEmulatorConfig::default(),
        "",
        RECONCILE,
        "",
    )
    .await;
    let item = w.stocked_item().await;
    // A session that completed on its own authorization, after an earlier
    // one whose answer never got recorded.
    let completed = w.ready_session(V_NEW, &item, "create-a").await;
    let paid_id = id_of(&completed);
    let stray = unrecorded_authorization(&w, &paid_id, 1200).await;
    let token = w.token("pm_card_visa", 1_000_000);
    let (status, _, done) = w.complete(V_NEW, &paid_id, "pay", &token).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed", "{done}");
    // A session the buyer canceled after an authorization was made for it.
    let canceled = id_of(&w.ready_session(V_NEW, &item, "create-b").await);
    let abandoned = unrecorded_authorization(&w, &canceled, 1500).await;
    let (status, body) = w
        .post(
            &format!("/checkout_sessions/{canceled}/cancel"),
            V_NEW,
            "cancel",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let report = reconcile(&w).await;

    assert_eq!(count(&report, "voided"), 2, "{report}");
    let intents = w.stripe.payment_intents();
    let status_of = |id: &str| {
        intents
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.status.clone())
            .unwrap()
    };
    assert_eq!(status_of(&stray), "canceled");
    assert_eq!(status_of(&abandoned), "canceled");
    let paid: Vec<_> = intents.iter().filter(|i| i.status == "succeeded").collect();
    assert_eq!(paid.len(), 1, "the order's own payment is untouched");
    assert_eq!(w.shopify.emulator.orders().len(), 1);
    // Nothing is voided twice.
    let again = reconcile(&w).await;
    assert_eq!(count(&again, "voided"), 0, "{again}");
}

#[tokio::test]
async fn a_lost_shopify_fulfillment_webhook_is_caught_by_polling() {
    let receiver = Receiver::spawn(Mode::Accept).await;
    let w = shopify_world_with(&receiver, RECONCILE).await;
    let (_, order_id, _) = buy(&w, V_NEW, "ship").await;
    receiver.wait_accepted(1).await;
    let first = reconcile(&w).await;
    assert_eq!(first["orders_updated"], 0, "{first}");

    // Shopify's webhooks for the shipment never arrive.
    w.shopify.emulator.faults().drop_webhooks(1000);
    w.shopify
        .emulator
        .fulfill(
            &format!("gid://shopify/Order/{order_id}"),
            &[],
            Some(TrackingInfo::new(
                "UPS",
                "1Z999AA10123456784",
                "https://ups.example/track/1Z999",
            )),
        )
        .unwrap();

    let report = reconcile(&w).await;

    assert_eq!(report["orders_updated"], 1, "{report}");
    assert!(report["orders_polled"].as_u64().unwrap() >= 1);
    let events = receiver.wait_accepted(2).await;
    let update = &events[1].body;
    assert_eq!(update["type"], "order_update");
    assert_valid_event(V_NEW, update);
    let fulfillment = &update["data"]["fulfillments"][0];
    assert_eq!(fulfillment["tracking_number"], "1Z999AA10123456784");
    assert_eq!(fulfillment["carrier"], "UPS");
    // Polling the same change again sends nothing.
    let again = reconcile(&w).await;
    assert_eq!(again["orders_updated"], 0, "{again}");
    assert_eq!(receiver.accepted().len(), 2);
}
