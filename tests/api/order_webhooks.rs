//! Order webhooks end to end: a checkout completes against the emulators,
//! and a test agent receiver (a real HTTP server on loopback) verifies each
//! delivery's `Merchant-Signature`, records it, and fails or hangs on
//! demand.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use acp_bridge::domain::ShopId;
use acp_bridge::orders::signing::{self, DEFAULT_TOLERANCE};
use acp_bridge::orders::{OrderEvent, OrderState};
use acp_bridge::store::{OutboxEntry, OutboxState, Store};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::checkout_support::{V_NEW, V_OLD, World, id_of, world_with};

#[path = "../../src/orders/spec.rs"]
mod spec;

pub(crate) const SECRET: &str = "whsec_order_events_test_secret";
const PATH: &str = "/agentic_checkout/webhooks/order_events";

// ------------------------------------------------------------ the receiver

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Accept,
    /// 500 for the next `n` requests, then accept.
    FailNext(u32),
    /// 500 until told otherwise.
    FailAlways,
    /// Never answer.
    Hang,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    raw: Bytes,
    pub(crate) body: Value,
    request_id: String,
    timestamp: String,
    content_type: String,
    accepted: bool,
}

struct ReceiverState {
    secret: SecretString,
    mode: Mutex<Mode>,
    /// Every request with a valid signature, in arrival order.
    requests: Mutex<Vec<Delivery>>,
    /// Requests whose signature did not verify.
    rejected: Mutex<Vec<String>>,
    /// (requests, accepted): bumped after each request is recorded.
    counts: watch::Sender<(usize, usize)>,
}

#[derive(Clone)]
pub(crate) struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let signature = headers
        .get(signing::MERCHANT_SIGNATURE)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = signing::verify(
        signature,
        &raw,
        &state.secret,
        chrono::Utc::now(),
        DEFAULT_TOLERANCE,
    ) {
        state.rejected.lock().unwrap().push(e.to_string());
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"type": "invalid_request", "code": "invalid_signature", "message": e.to_string()})),
        )
            .into_response();
    }
    let mode = {
        let mut mode = state.mode.lock().unwrap();
        let now = *mode;
        if let Mode::FailNext(n) = now {
            *mode = if n <= 1 {
                Mode::Accept
            } else {
                Mode::FailNext(n - 1)
            };
        }
        now
    };
    let accepted = mode == Mode::Accept;
    let delivery = Delivery {
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw: raw.clone(),
        request_id: header(signing::REQUEST_ID),
        timestamp: header(signing::TIMESTAMP),
        content_type: header("content-type"),
        accepted,
    };
    let request_id = delivery.request_id.clone();
    {
        let mut requests = state.requests.lock().unwrap();
        requests.push(delivery);
        let accepted_n = requests.iter().filter(|d| d.accepted).count();
        state.counts.send_replace((requests.len(), accepted_n));
    }
    if mode == Mode::Hang {
        // Recorded as an attempt; the sender's timeout ends it.
        std::future::pending::<()>().await;
    }
    if accepted {
        axum::Json(json!({"received": true, "request_id": request_id})).into_response()
    } else {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(
                json!({"type": "processing_error", "code": "internal", "message": "try later"}),
            ),
        )
            .into_response()
    }
}

impl Receiver {
    pub(crate) async fn spawn(mode: Mode) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{PATH}", listener.local_addr().unwrap());
        let state = Arc::new(ReceiverState {
            secret: SecretString::from(SECRET),
            mode: Mutex::new(mode),
            requests: Mutex::new(Vec::new()),
            rejected: Mutex::new(Vec::new()),
            counts: watch::channel((0, 0)).0,
        });
        let router = axum::Router::new()
            .route(PATH, axum::routing::post(receive))
            .with_state(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Receiver { url, state }
    }

    fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// Waits until `ready(requests, accepted)` holds; fails after 20 s.
    pub(crate) async fn wait(&self, what: &str, ready: impl Fn(usize, usize) -> bool) {
        let mut counts = self.state.counts.subscribe();
        let waited = tokio::time::timeout(
            Duration::from_secs(20),
            counts.wait_for(|(all, ok)| ready(*all, *ok)),
        )
        .await;
        assert!(
            waited.is_ok(),
            "timed out waiting for {what}; got {:?}",
            *self.state.counts.borrow()
        );
    }

    pub(crate) async fn wait_accepted(&self, n: usize) -> Vec<Delivery> {
        self.wait(&format!("{n} accepted deliveries"), |_, ok| ok >= n)
            .await;
        self.accepted()
    }

    pub(crate) fn accepted(&self) -> Vec<Delivery> {
        self.requests().into_iter().filter(|d| d.accepted).collect()
    }

    fn requests(&self) -> Vec<Delivery> {
        self.state.requests.lock().unwrap().clone()
    }

    fn rejected(&self) -> Vec<String> {
        self.state.rejected.lock().unwrap().clone()
    }
}

// ------------------------------------------------------------ the world

/// A world whose agent receives order webhooks at `receiver`, with fast
/// retries (`max_attempts` of them) and `agent_extra` key lines.
async fn webhook_world(receiver: &Receiver, max_attempts: u32, agent_extra: &str) -> World {
    let checkout_extra = format!(
        "[shops.checkout.order_webhooks]\nmax_attempts = {max_attempts}\n\
         initial_backoff_secs = 0.05\nmax_backoff_secs = 0.2\ntimeout_secs = 2\n"
    );
    let agent = format!(
        "webhook_url = \"{}\"\nwebhook_secret = \"{SECRET}\"\n{agent_extra}",
        receiver.url
    );
    world_with(&checkout_extra, &agent).await
}

/// A completed checkout of one unit in `version`: (session, order id,
/// payment token).
pub(crate) async fn buy(w: &World, version: &str, tag: &str) -> (Value, String, String) {
    let item = w.stocked_item().await;
    let session = w
        .ready_session(version, &item, &format!("create-{tag}"))
        .await;
    let id = id_of(&session);
    let token = w.token("pm_card_visa", 1_000_000);
    let (status, _, completed) = w
        .complete(version, &id, &format!("complete-{tag}"), &token)
        .await;
    assert_eq!(status, 200, "{completed}");
    assert_eq!(completed["status"], "completed", "{completed}");
    let order_id = completed["order"]["id"].as_str().unwrap().to_owned();
    (completed, order_id, token)
}

fn acme() -> ShopId {
    ShopId::parse("acme").unwrap()
}

fn outbox(store: &Store) -> Vec<OutboxEntry<OrderEvent>> {
    store.outbox_entries(&acme()).unwrap()
}

#[track_caller]
pub(crate) fn assert_valid_event(version: &str, body: &Value) {
    let validator = spec::webhook_event_validator(version);
    let errors = spec::webhook_errors(&validator, body);
    assert!(errors.is_empty(), "{version}: {errors:#?}\n{body:#}");
}

// ------------------------------------------------------------ tests

#[tokio::test]
async fn a_completed_checkout_sends_one_signed_order_create_in_its_version() {
    let receiver = Receiver::spawn(Mode::Accept).await;
    let w = webhook_world(&receiver, 5, "").await;

    let mut sent = Vec::new();
    for (version, tag) in [(V_OLD, "old"), (V_NEW, "new")] {
        sent.push((version, buy(&w, version, tag).await));
    }
    let deliveries = receiver.wait_accepted(2).await;

    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    for (version, (session, order_id, token)) in &sent {
        let session_id = id_of(session);
        let matching: Vec<&Delivery> = deliveries
            .iter()
            .filter(|d| d.body["data"]["checkout_session_id"] == session_id.as_str())
            .collect();
        assert_eq!(matching.len(), 1, "{version}: {deliveries:#?}");
        let d = matching[0];
        assert_eq!(d.body["type"], "order_create");
        assert_valid_event(version, &d.body);
        assert_eq!(
            d.body["data"]["permalink_url"],
            session["order"]["permalink_url"]
        );
        if *version == V_NEW {
            assert_eq!(d.body["data"]["id"], order_id.as_str());
            assert_eq!(d.body["data"]["status"], "created");
            assert_eq!(
                d.body["data"]["line_items"][0]["quantity"],
                json!({"ordered": 1, "current": 1, "fulfilled": 0})
            );
        } else {
            assert_eq!(d.body["data"]["status"], "created");
            assert_eq!(d.body["data"]["refunds"], json!([]));
        }
        assert!(d.content_type.starts_with("application/json"));
        assert!(d.request_id.starts_with("ordevt_"), "{}", d.request_id);
        chrono::DateTime::parse_from_rfc3339(&d.timestamp).unwrap();
        let raw = String::from_utf8_lossy(&d.raw);
        assert!(
            !raw.contains(token.as_str()),
            "the payment token leaked: {raw}"
        );
        assert!(
            !raw.contains("ada@example.com"),
            "buyer email leaked: {raw}"
        );
    }
    // The order is stored for later updates.
    let stored: OrderState = w
        .app
        .store
        .order_state(&acme(), &sent[1].1.1)
        .unwrap()
        .unwrap();
    assert_eq!(stored.agent.as_deref(), Some("agent"));
    assert_eq!(stored.revision, 0);

    // Replays and completes of a completed session announce nothing more:
    // an event would be in the outbox or at the receiver.
    let session_id = id_of(&sent[1].1.0);
    let token = &sent[1].1.2;
    let (status, headers, _) = w.complete(V_NEW, &session_id, "complete-new", token).await;
    assert_eq!(
        (status, headers["idempotent-replayed"].to_str().unwrap()),
        (200, "true")
    );
    let (status, _, again) = w
        .complete(V_NEW, &session_id, "complete-again", token)
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["status"], "completed");
    assert!(
        outbox(&w.app.store).is_empty(),
        "{:?}",
        outbox(&w.app.store)
    );
    assert_eq!(receiver.requests().len(), 2);
}

#[tokio::test]
async fn an_agent_can_take_every_order_in_one_configured_version() {
    let receiver = Receiver::spawn(Mode::Accept).await;
    let w = webhook_world(&receiver, 5, "webhook_api_version = \"2025-09-29\"").await;

    buy(&w, V_NEW, "new").await;
    let deliveries = receiver.wait_accepted(1).await;

    assert_valid_event(V_OLD, &deliveries[0].body);
    assert!(deliveries[0].body["data"].get("line_items").is_none());
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_event_on_the_third_attempt() {
    let receiver = Receiver::spawn(Mode::FailNext(2)).await;
    let w = webhook_world(&receiver, 5, "").await;

    buy(&w, V_NEW, "1").await;
    let delivered = receiver.wait_accepted(1).await;

    let attempts = receiver.requests();
    assert_eq!(attempts.len(), 3, "{attempts:#?}");
    // Every attempt is the same event: same Request-Id and body.
    assert!(
        attempts
            .iter()
            .all(|a| a.request_id == delivered[0].request_id)
    );
    assert!(attempts.iter().all(|a| a.body == delivered[0].body));
    assert_valid_event(V_NEW, &delivered[0].body);
    assert!(receiver.rejected().is_empty());
}

#[tokio::test]
async fn a_hanging_receiver_times_out_and_gets_the_event_again() {
    let receiver = Receiver::spawn(Mode::Hang).await;
    let w = webhook_world(&receiver, 5, "").await;

    buy(&w, V_NEW, "1").await;
    receiver.wait("the first attempt", |all, _| all >= 1).await;
    receiver.set_mode(Mode::Accept);
    let delivered = receiver.wait_accepted(1).await;

    assert_eq!(delivered[0].body["type"], "order_create");
    let hung = &receiver.requests()[0];
    assert_eq!(hung.request_id, delivered[0].request_id);
}

#[tokio::test]
async fn delivery_resumes_after_a_daemon_restart() {
    let receiver = Receiver::spawn(Mode::FailAlways).await;
    let w = webhook_world(&receiver, 1000, "").await;
    let (session, _, _) = buy(&w, V_NEW, "1").await;
    receiver.wait("a failed attempt", |all, _| all >= 1).await;

    // The daemon stops with the event undelivered; a new one starts on the
    // same store.
    let w = w.restart().await;
    let pending = outbox(&w.app.store);
    receiver.set_mode(Mode::Accept);
    let delivered = receiver.wait_accepted(1).await;

    assert_eq!(pending.len(), 1, "the event survived the restart");
    assert_eq!(
        delivered[0].body["data"]["checkout_session_id"],
        session["id"]
    );
    assert_eq!(receiver.accepted().len(), 1);
}

#[tokio::test]
async fn events_of_one_order_arrive_in_the_order_they_were_made() {
    let receiver = Receiver::spawn(Mode::FailAlways).await;
    let w = webhook_world(&receiver, 1000, "").await;
    let (_, order_id, _) = buy(&w, V_NEW, "1").await;
    receiver.wait("a failed attempt", |all, _| all >= 1).await;

    // While the create waits for its retry, the order ships and is
    // delivered: two updates, due at once, queue behind it.
    let store = &w.app.store;
    let mut order: OrderState = store.order_state(&acme(), &order_id).unwrap().unwrap();
    let line = order.lines[0].id.clone();
    for status in [
        acp_bridge::orders::model::FulfillmentStatus::Shipped,
        acp_bridge::orders::model::FulfillmentStatus::Delivered,
    ] {
        let before = order.revision;
        let changed = order
            .apply_fulfillment(acp_bridge::orders::model::Fulfillment {
                id: "ful_1".into(),
                kind: acp_bridge::orders::model::FulfillmentKind::Shipping,
                status,
                lines: vec![acp_bridge::orders::model::LineUnits {
                    line_id: line.clone(),
                    quantity: 1,
                }],
                carrier: Some("UPS".into()),
                tracking_number: Some("1Z999AA10123456784".into()),
                tracking_url: None,
                events: Vec::new(),
            })
            .unwrap();
        assert!(changed);
        let outcome = store
            .commit_order_change(
                &acme(),
                &order_id,
                before,
                &order,
                Some(&OrderEvent::update(&order)),
                chrono::Utc::now(),
            )
            .unwrap();
        assert!(matches!(
            outcome,
            acp_bridge::store::OrderChangeOutcome::Committed { event_id: Some(_) }
        ));
    }
    receiver.set_mode(Mode::Accept);
    let delivered = receiver.wait_accepted(3).await;

    let seen: Vec<(String, String)> = delivered
        .iter()
        .map(|d| {
            (
                d.body["type"].as_str().unwrap().to_owned(),
                d.body["data"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("order_create", "created"),
        ("order_update", "shipped"),
        ("order_update", "completed"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(seen, expected);
    for d in &delivered {
        assert_valid_event(V_NEW, &d.body);
    }
    assert_eq!(
        delivered[1].body["data"]["fulfillments"][0]["tracking_number"],
        "1Z999AA10123456784"
    );
}

#[tokio::test]
async fn a_dead_event_is_delivered_after_an_operator_retries_it_with_the_cli() {
    let receiver = Receiver::spawn(Mode::FailAlways).await;
    let w = webhook_world(&receiver, 2, "").await;
    let config = write_cli_config(&w);
    let (session, _, _) = buy(&w, V_NEW, "1").await;
    receiver
        .wait("two failed attempts", |all, _| all >= 2)
        .await;
    crate::checkout_support::wait_until("the event to be dead", || {
        outbox(&w.app.store)
            .first()
            .is_some_and(|e| e.state == OutboxState::Dead)
    })
    .await;

    // The daemon holds the store: the CLI goes through the admin API.
    let (code, listed, err) = cli(&config, &["outbox", "list", "--json"]).await;
    assert_eq!(
        code,
        Some(1),
        "a dead event makes `list` fail: {listed}{err}"
    );
    let events: Value = serde_json::from_str(&listed).unwrap();
    let event = &events[0];
    assert_eq!(event["state"], "dead");
    assert_eq!(event["attempts"], 2);
    assert_eq!(event["last_error"], "HTTP 500");
    assert_eq!(event["kind"], "order_create");
    assert_eq!(event["checkout_session_id"], session["id"]);
    assert_eq!(receiver.requests().len(), 2, "no attempt after the limit");

    receiver.set_mode(Mode::Accept);
    let id = event["id"].as_u64().unwrap().to_string();
    let (code, out, err) = cli(&config, &["outbox", "retry", &id]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    let delivered = receiver.wait_accepted(1).await;

    assert_eq!(
        delivered[0].body["data"]["checkout_session_id"],
        session["id"]
    );
    crate::checkout_support::wait_until("the outbox to empty", || outbox(&w.app.store).is_empty())
        .await;
    let (code, listed, err) = cli(&config, &["outbox", "list", "--json"]).await;
    assert_eq!(code, Some(0), "{listed}{err}");
    assert_eq!(serde_json::from_str::<Value>(&listed).unwrap(), json!([]));
    let (code, out, err) = cli(&config, &["outbox", "drop", &id]).await;
    assert_ne!(code, Some(0), "a delivered event cannot be dropped: {out}");
    assert!(err.contains("no undelivered order event"), "{err}");
}

/// The world's config with its data directory, for the CLI.
fn write_cli_config(w: &World) -> std::path::PathBuf {
    let dir = w.app.data_dir.path();
    let path = dir.join("cli.toml");
    let text = format!(
        "{}\n[store]\ndata_dir = \"{}\"\n",
        w.config(),
        dir.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the real binary; returns its exit code and stdout (and, for
/// failure messages, stderr).
async fn cli(config: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    all.push("--config".into());
    all.push(config.display().to_string());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_acp-bridge"))
            .args(&all)
            .env_remove("ACP_BRIDGE_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A shop's checkout settings whose agent receives webhooks at `url`.
fn checkout_settings(url: &str) -> acp_bridge::config::CheckoutSettings {
    let text = format!(
        r#"
[[shops]]
id = "s"
[shops.shopify]
shop_domain = "s.myshopify.com"
access_token = "t"
[shops.feed]
checkout_eligible = true
[shops.checkout.order_webhooks]
max_attempts = 3
initial_backoff_secs = 0.05
max_backoff_secs = 0.1
timeout_secs = 60
[[shops.checkout.agents]]
id = "agent"
api_key = "agent-key-0123456789"
webhook_url = "{url}"
webhook_secret = "{SECRET}"
[shops.checkout.stripe]
secret_key = "sk_test_x"
merchant_id = "acct_1"
"#
    );
    let settings = acp_bridge::config::Settings::from_toml(&text).unwrap();
    settings.shops[0].checkout.clone().unwrap()
}

/// An order of `shop` created by `agent`, as the store keeps it.
fn stored_order(shop: &str, id: &str) -> OrderState {
    let usd = |amount: i64| json!({"amount": amount, "currency": "USD"});
    serde_json::from_value(json!({
        "id": id,
        "shop": shop,
        "checkout_session_id": format!("cs_{id}"),
        "agent": "agent",
        "created_with": "2026-04-17",
        "platform": {"gid": format!("gid://shopify/Order/{id}"), "legacy_id": 1, "name": "#1001"},
        "permalink_url": format!("https://{shop}.example/account/orders/{id}"),
        "currency": "USD",
        "lines": [{
            "id": "li_1", "item_id": "45001", "title": "Mug", "image_url": null,
            "quantity": {"ordered": 1, "current": 1, "fulfilled": 0},
            "unit_price": usd(1000), "base_amount": usd(1000), "discount": usd(0),
            "subtotal": usd(1000), "tax": usd(100), "total": usd(1100)
        }],
        "fulfillments": [],
        "adjustments": [],
        "totals": {
            "items_base_amount": usd(1000), "items_discount": usd(0), "subtotal": usd(1000),
            "discount": usd(0), "fulfillment": null, "tax": usd(100), "fee": null,
            "total": usd(1100), "amount_refunded": usd(0)
        },
        "status": "created",
        "confirmed": false,
        "manual_review": false,
        "canceled": false,
        "revision": 0,
        "created_at": "2026-05-01T10:00:00Z"
    }))
    .unwrap()
}

#[tokio::test]
async fn a_shop_whose_endpoint_hangs_does_not_hold_up_another_shop() {
    let slow = Receiver::spawn(Mode::Hang).await;
    let fast = Receiver::spawn(Mode::Accept).await;
    let store = Store::temporary().unwrap();
    let now = chrono::Utc::now();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut workers = Vec::new();
    for (shop, receiver) in [("slow", &slow), ("fast", &fast)] {
        let id = ShopId::parse(shop).unwrap();
        let order = stored_order(shop, "1001");
        store
            .commit_checkout_with_order(
                &id,
                "cs_1001",
                &"session",
                None,
                acp_bridge::store::OrderCommit {
                    order_id: "1001",
                    order: &order,
                    event: Some(&OrderEvent::create(&order)),
                },
                now,
            )
            .unwrap();
        let worker = acp_bridge::orders::DeliveryWorker::new(
            id,
            store.clone(),
            checkout_settings(&receiver.url),
            acp_bridge::orders::OutboxWaker::new(),
        )
        .unwrap();
        workers.push(tokio::spawn(worker.run(stop.child_token())));
    }

    slow.wait("the slow shop's attempt", |all, _| all >= 1)
        .await;
    let delivered = fast.wait_accepted(1).await;

    assert_eq!(delivered[0].body["data"]["checkout_session_id"], "cs_1001");
    assert!(
        delivered[0].body["data"]["permalink_url"]
            .as_str()
            .unwrap()
            .starts_with("https://fast.example/")
    );
    assert!(slow.accepted().is_empty());
    let waiting: Vec<OutboxEntry<OrderEvent>> = store
        .outbox_entries(&ShopId::parse("slow").unwrap())
        .unwrap();
    assert_eq!(waiting.len(), 1, "the slow shop's event is still queued");
    stop.cancel();
    for worker in workers {
        // The slow shop's request hangs for its timeout; end it here.
        worker.abort();
    }
}

// ------------------------------------------------ Shopify's changes, back

/// A world whose emulator sends Shopify's order webhooks to the daemon
/// (subscribed by hand: the test daemon has no public URL), and whose agent
/// receives order events at `receiver`.
async fn shopify_world(receiver: &Receiver) -> World {
    shopify_world_with(receiver, "").await
}

/// [`shopify_world`] with `checkout_extra` TOML lines after the shop's
/// checkout tables.
pub(crate) async fn shopify_world_with(receiver: &Receiver, checkout_extra: &str) -> World {
    use acp_bridge::emulator::shopify::{EmulatorConfig, WebhookSettings, WebhookTopic};
    let emulator = EmulatorConfig {
        shop_domain: "acme.myshopify.com".into(),
        webhooks: WebhookSettings::for_tests(3, Duration::from_millis(20)),
        ..EmulatorConfig::default()
    };
    let w = crate::checkout_support::world_on(
        emulator,
        &format!(
            "webhook_secret = \"{}\"",
            EmulatorConfig::DEFAULT_APP_SECRET
        ),
        &format!(
            "[shops.checkout.order_webhooks]\ninitial_backoff_secs = 0.05\nmax_backoff_secs = 0.2\n{checkout_extra}"
        ),
        &format!(
            "webhook_url = \"{}\"\nwebhook_secret = \"{SECRET}\"\n",
            receiver.url
        ),
    )
    .await;
    let endpoint = format!("http://{}/webhooks/shopify/acme", w.app.public);
    for topic in [
        WebhookTopic::OrdersUpdated,
        WebhookTopic::FulfillmentsCreate,
        WebhookTopic::FulfillmentsUpdate,
        WebhookTopic::RefundsCreate,
    ] {
        w.shopify
            .emulator
            .subscribe_webhook(topic, &endpoint)
            .unwrap();
    }

    w
}

#[tokio::test]
async fn a_fulfilment_and_a_refund_in_shopify_reach_the_agent_as_order_updates() {
    use acp_bridge::emulator::shopify::{
        RefundLineRequest, RefundOrder, RestockType, TrackingInfo,
    };

    let receiver = Receiver::spawn(Mode::Accept).await;
    let w = shopify_world(&receiver).await;
    let (_, order_id, _) = buy(&w, V_NEW, "ship").await;
    let created = receiver.wait_accepted(1).await;
    assert_eq!(created[0].body["type"], "order_create");
    let order_gid = format!("gid://shopify/Order/{order_id}");

    // The merchant ships everything with tracking.
    w.shopify
        .emulator
        .fulfill(
            &order_gid,
            &[],
            Some(TrackingInfo::new(
                "UPS",
                "1Z999AA10123456784",
                "https://ups.example/track/1Z999",
            )),
        )
        .unwrap();
    receiver
        .wait("an order update saying shipped", |_, _| {
            receiver
                .accepted()
                .iter()
                .any(|d| d.body["data"]["status"] == "shipped")
        })
        .await;
    let shipped = receiver
        .accepted()
        .into_iter()
        .find(|d| d.body["data"]["status"] == "shipped")
        .unwrap();
    assert_eq!(shipped.body["type"], "order_update");
    assert_valid_event(V_NEW, &shipped.body);
    let fulfillment = &shipped.body["data"]["fulfillments"][0];
    assert_eq!(
        fulfillment["tracking_number"], "1Z999AA10123456784",
        "{fulfillment}"
    );
    assert_eq!(fulfillment["carrier"], "UPS");

    // Then the buyer returns the unit: refunded as a returned line. (The
    // order records the Stripe payment as an authorization, so Shopify
    // has no captured transaction to send money back from; the money
    // goes back through Stripe.)
    let line_gid = w
        .shopify
        .emulator
        .orders()
        .into_iter()
        .find(|o| o.id.to_string() == order_id)
        .map(|o| format!("gid://shopify/LineItem/{}", o.lines[0].id))
        .unwrap();
    w.shopify
        .emulator
        .refund(
            &order_gid,
            RefundOrder {
                lines: vec![RefundLineRequest {
                    line_item_id: line_gid,
                    quantity: 1,
                    restock_type: RestockType::Return,
                }],
                amount: None,
                shipping: None,
                note: Some("returned".into()),
            },
        )
        .unwrap();
    let returned = |d: &Delivery| {
        d.body["data"]["adjustments"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["type"] == "refund"))
    };
    receiver
        .wait("an order update with the refund", |_, _| {
            receiver.accepted().iter().any(returned)
        })
        .await;
    let refunded = receiver.accepted().into_iter().find(returned).unwrap();
    assert_valid_event(V_NEW, &refunded.body);
    let line = &refunded.body["data"]["line_items"][0];
    assert_eq!(line["quantity"]["ordered"], 1, "{line}");
    assert_eq!(line["quantity"]["current"], 0, "{line}");
    // Every event of the order is a full order, in order, never a delta.
    let events = receiver.accepted();
    assert!(events[1..].iter().all(|d| d.body["type"] == "order_update"));
    assert!(
        events
            .iter()
            .all(|d| d.body["data"]["line_items"].is_array())
    );
}

#[tokio::test]
async fn a_stale_shopify_webhook_arriving_late_does_not_undo_a_newer_state() {
    use acp_bridge::emulator::shopify::{ShipmentStatus, TrackingInfo};

    let receiver = Receiver::spawn(Mode::Accept).await;
    let w = shopify_world(&receiver).await;
    let (_, order_id, _) = buy(&w, V_NEW, "late").await;
    receiver.wait_accepted(1).await;
    let order_gid = format!("gid://shopify/Order/{order_id}");
    // Shipped, then delivered, in quick succession; the deliveries of the
    // first change are held back behind those of the second.
    w.shopify.emulator.faults().reorder_webhooks(3);
    let fulfillment = w
        .shopify
        .emulator
        .fulfill(
            &order_gid,
            &[],
            Some(TrackingInfo::new(
                "UPS",
                "1ZLATE",
                "https://ups.example/track/1ZLATE",
            )),
        )
        .unwrap();
    w.shopify
        .emulator
        .set_shipment_status(&fulfillment, ShipmentStatus::Delivered)
        .unwrap();
    w.shopify.emulator.wait_for_webhooks().await;
    let delivered = |d: &Delivery| d.body["data"]["fulfillments"][0]["status"] == "delivered";
    receiver
        .wait("an order update saying delivered", |_, _| {
            receiver.accepted().iter().any(delivered)
        })
        .await;
    // Wait until the daemon has applied everything and sent every event:
    // no event after the first `delivered` one says otherwise.
    let shop = acme();
    crate::checkout_support::wait_until("the webhook queue and the outbox to drain", || {
        w.app.store.webhook_backlog(&shop).unwrap() == 0 && outbox(&w.app.store).is_empty()
    })
    .await;
    let stored = acp_bridge::orders::load(&w.app.store, &shop, &order_id)
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.fulfillments[0].status.as_str(),
        "delivered",
        "{:?}",
        stored.fulfillments
    );
    let events = receiver.accepted();
    let first = events.iter().position(delivered).unwrap();
    for later in &events[first..] {
        assert!(
            delivered(later),
            "went back after delivered: {:#}",
            later.body
        );
    }
}
