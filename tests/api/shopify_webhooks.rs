//! Shopify webhooks in: verified before anything is stored, persisted before
//! the 200, deduplicated by event id, processed by refetching what they
//! name, and kept across a restart.

use acp_bridge::domain::ShopId;
use acp_bridge::emulator::shopify::{EmulatorConfig, ProductStatus};
use acp_bridge::store::{Accepted, InboxEntry, Store};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::checkout_support::wait_until;
use crate::helpers::*;

const SECRET: &str = "shpss_webhook_test_secret";

fn config(emulator_url: &str) -> String {
    let shop = shop_toml("demo", emulator_url, TOKEN, "").replace(
        "access_token = ",
        &format!("webhook_secret = \"{SECRET}\"\naccess_token = "),
    );
    settings_toml(&shop)
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Delivers `body` as Shopify would: signed with `secret`, with the topic,
/// shop domain and ids. Returns the status and the answer's text.
async fn deliver(
    app: &TestApp,
    topic: &str,
    event: &str,
    body: &Value,
    secret: Option<&str>,
) -> (u16, String) {
    let raw = body.to_string();
    let mut request = app
        .http
        .post(format!("http://{}/webhooks/shopify/demo", app.public))
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header("x-shopify-shop-domain", "demo.myshopify.com")
        .header("x-shopify-api-version", "2026-10")
        .header(
            "x-shopify-webhook-id",
            format!("wh-{event}-{}", fastrand::u64(..)),
        )
        .header("x-shopify-event-id", event)
        .header("x-shopify-triggered-at", Utc::now().to_rfc3339());
    if let Some(secret) = secret {
        request = request.header("x-shopify-hmac-sha256", sign(secret, raw.as_bytes()));
    }
    let response = request.body(raw).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Asserts the served feed has rows of `product`, all titled `title`.
async fn assert_titled(app: &TestApp, product: u64, title: &str) {
    let rows = app.openai_rows("demo").await;
    let mine: Vec<&Value> = rows
        .iter()
        .filter(|r| r["group_id"] == group_id(product))
        .collect();
    assert!(!mine.is_empty(), "no rows of product {product}");
    assert!(mine.iter().all(|r| r["title"] == title), "{mine:?}");
}

/// A product's `group_id` in the feed (its numeric id, as a string).
fn group_id(product: u64) -> Value {
    Value::String(product.to_string())
}

fn shop() -> ShopId {
    ShopId::parse("demo").unwrap()
}

fn last_webhook_run(store: &Store) -> Option<DateTime<Utc>> {
    store
        .sync_state(&shop())
        .unwrap()
        .last_webhooks
        .map(|r| r.finished_at)
}

/// Waits until a webhook run finished after `since` and left nothing queued.
async fn processed_after(app: &TestApp, since: Option<DateTime<Utc>>) {
    wait_until("the webhook run", || {
        last_webhook_run(&app.store) > since && app.store.webhook_backlog(&shop()).unwrap() == 0
    })
    .await;
}

/// An active product of the sample shop with rows in the feed.
async fn listed_product(
    app: &TestApp,
    emu: &TestEmulator,
) -> acp_bridge::emulator::shopify::Product {
    let rows = app.openai_rows("demo").await;
    emu.emulator
        .products()
        .into_iter()
        .find(|p| {
            p.status == ProductStatus::Active
                && rows
                    .iter()
                    .any(|r| r["group_id"] == group_id(p.id) && r["title"] == p.title.as_str())
        })
        .expect("a listed product")
}

#[tokio::test]
async fn verified_webhooks_update_the_served_feed_once_per_event() {
    let emu = spawn_emulator(EmulatorConfig::default()).await;
    let app = spawn_app(&config(&emu.url)).await;
    app.sync("demo", true).await.unwrap();
    let product = listed_product(&app, &emu).await;

    // Renamed in Shopify; the webhook names the product.
    emu.emulator
        .update_product(&product.gid(), |p| p.title = "Renamed By Webhook".into())
        .unwrap();
    let before = last_webhook_run(&app.store);
    let payload = json!({"id": product.id, "admin_graphql_api_id": product.gid(), "title": "ignored: refetched"});
    let (status, text) = deliver(&app, "products/update", "ev-1", &payload, Some(SECRET)).await;
    assert_eq!((status, text.as_str()), (200, "queued"));
    processed_after(&app, before).await;
    assert_titled(&app, product.id, "Renamed By Webhook").await;

    // The same event again (a retry or a duplicate delivery) is not queued.
    let (status, text) = deliver(&app, "products/update", "ev-1", &payload, Some(SECRET)).await;
    assert_eq!((status, text.as_str()), (200, "already received"));
    assert_eq!(app.store.webhook_backlog(&shop()).unwrap(), 0);

    // Deleted in Shopify: its rows leave the feed.
    emu.emulator.delete_product(&product.gid()).unwrap();
    let before = last_webhook_run(&app.store);
    let (status, _) = deliver(
        &app,
        "products/delete",
        "ev-2",
        &json!({"id": product.id}),
        Some(SECRET),
    )
    .await;
    assert_eq!(status, 200);
    processed_after(&app, before).await;
    let rows = app.openai_rows("demo").await;
    assert!(rows.iter().all(|r| r["group_id"] != group_id(product.id)));
    assert!(
        app.store
            .product(&shop(), &product.id.to_string())
            .unwrap()
            .is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn unverified_deliveries_are_refused_before_anything_is_stored() {
    let emu = spawn_emulator(EmulatorConfig::default()).await;
    let app = spawn_app(&config(&emu.url)).await;
    let body = json!({"id": 1});

    let (status, _) = deliver(&app, "products/update", "e1", &body, None).await;
    assert_eq!(status, 401, "unsigned");
    let (status, _) = deliver(&app, "products/update", "e2", &body, Some("another secret")).await;
    assert_eq!(status, 401, "signed with another key");
    // Signed, then altered on the way.
    let response = app
        .http
        .post(format!("http://{}/webhooks/shopify/demo", app.public))
        .header("x-shopify-topic", "products/update")
        .header("x-shopify-event-id", "e3")
        .header("x-shopify-hmac-sha256", sign(SECRET, br#"{"id":1}"#))
        .body(r#"{"id":2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "altered body");
    assert_eq!(app.store.webhook_backlog(&shop()).unwrap(), 0);
    assert!(app.store.queued_webhooks(&shop(), 10).unwrap().is_empty());

    // Verified but for another shop, or without an event id: 400.
    let response = app
        .http
        .post(format!("http://{}/webhooks/shopify/demo", app.public))
        .header("x-shopify-topic", "products/update")
        .header("x-shopify-shop-domain", "someone-else.myshopify.com")
        .header("x-shopify-event-id", "e4")
        .header("x-shopify-hmac-sha256", sign(SECRET, br#"{"id":1}"#))
        .body(r#"{"id":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(app.store.webhook_backlog(&shop()).unwrap(), 0);
    app.stop().await;

    // A shop without a webhook secret takes no webhooks at all.
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;
    let (status, _) = deliver(&app, "products/update", "e5", &body, Some(SECRET)).await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn webhooks_stored_before_a_restart_are_processed_after_it() {
    let emu = spawn_emulator(EmulatorConfig::default()).await;
    let config = config(&emu.url);
    let app = spawn_app(&config).await;
    app.sync("demo", true).await.unwrap();
    let product = listed_product(&app, &emu).await;
    let (_, store, data_dir) = app.stop().await;

    // Accepted (stored and acknowledged) just before the process died.
    emu.emulator
        .update_product(&product.gid(), |p| p.title = "Renamed While Down".into())
        .unwrap();
    let accepted = store
        .accept_webhook(
            &shop(),
            &InboxEntry {
                event_id: "ev-down".into(),
                topic: "products/update".into(),
                received_at: Utc::now(),
                triggered_at: None,
                body: json!({"id": product.id}).to_string(),
            },
        )
        .unwrap();
    assert!(matches!(accepted, Accepted::Queued(_)));
    drop(store);

    let app = spawn_app_in(&config, data_dir).await;
    processed_after(&app, None).await;
    assert_titled(&app, product.id, "Renamed While Down").await;
    app.stop().await;
}

#[tokio::test]
async fn an_uninstalled_app_stops_scheduled_syncs_until_one_is_run_by_hand() {
    let emu = spawn_emulator(EmulatorConfig::default()).await;
    let config = config(&emu.url);
    let app = spawn_app(&config).await;
    app.sync("demo", true).await.unwrap();
    let before = last_webhook_run(&app.store);
    let (status, _) = deliver(
        &app,
        "app/uninstalled",
        "ev-gone",
        &json!({"id": 1, "name": "Demo", "domain": "demo.myshopify.com"}),
        Some(SECRET),
    )
    .await;
    assert_eq!(status, 200);
    processed_after(&app, before).await;
    let state = app.store.sync_state(&shop()).unwrap();
    assert!(state.uninstalled_at.is_some());
    // The data stays.
    assert!(!app.openai_rows("demo").await.is_empty());

    // A scheduled run (the job as the scheduler calls it) does nothing.
    let settings = acp_bridge::config::Settings::from_toml(&config).unwrap();
    let job =
        acp_bridge::sync::ShopSync::new(settings.shops[0].clone(), app.store.clone()).unwrap();
    let requests = emu.emulator.counters().requests;
    let skipped = job
        .run_once(acp_bridge::store::SyncKind::Incremental, &|_| {})
        .await
        .unwrap();
    assert_eq!(skipped.feed, "uninstalled");
    assert_eq!(
        emu.emulator.counters().requests,
        requests,
        "Shopify was called"
    );

    // Run by hand (after reinstalling): the mark is cleared and it syncs.
    let summary = app.sync("demo", false).await.unwrap();
    assert_ne!(summary.feed, "uninstalled");
    assert!(emu.emulator.counters().requests > requests);
    assert!(
        app.store
            .sync_state(&shop())
            .unwrap()
            .uninstalled_at
            .is_none()
    );
    app.stop().await;
}

/// A daemon whose public URL is its own listener (a port reserved first),
/// so it registers the emulator's webhooks to itself at start.
async fn registered_app(emu: &TestEmulator) -> (TestApp, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The emulator signs with its app secret (no client credentials here).
    let secret = EmulatorConfig::DEFAULT_APP_SECRET;
    let shop = shop_toml("demo", &emu.url, TOKEN, "").replace(
        "access_token = ",
        &format!("webhook_secret = \"{secret}\"\naccess_token = "),
    );
    let config = settings_toml(&shop).replace(
        "[server]\nlisten = \"127.0.0.1:0\"",
        &format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/\""
        ),
    );
    assert!(config.contains("public_url"), "{config}");
    let app = spawn_app(&config).await;
    (
        app,
        format!("http://127.0.0.1:{port}/webhooks/shopify/demo"),
    )
}

fn emulator_with_webhooks() -> EmulatorConfig {
    EmulatorConfig {
        // The daemon's test config names the shop `demo.myshopify.com`; the
        // emulator sends that in `X-Shopify-Shop-Domain`.
        shop_domain: "demo.myshopify.com".into(),
        webhooks: acp_bridge::emulator::shopify::WebhookSettings::for_tests(
            3,
            std::time::Duration::from_millis(20),
        ),
        ..EmulatorConfig::default()
    }
}

#[tokio::test]
async fn shopify_sends_what_the_daemon_subscribed_to_and_the_feed_follows() {
    let emu = spawn_emulator(emulator_with_webhooks()).await;
    let (app, endpoint) = registered_app(&emu).await;
    wait_until("the webhook subscriptions", || {
        emu.emulator.webhook_subscriptions().len() == 6
    })
    .await;
    let subscriptions = emu.emulator.webhook_subscriptions();
    assert!(
        subscriptions.iter().all(|s| s.uri == endpoint),
        "{subscriptions:?}"
    );
    app.sync("demo", true).await.unwrap();

    // A stock change: Shopify sends inventory_levels/update (the daemon
    // finds the product from the inventory item) and products/update;
    // one of them twice.
    let rows = app.openai_rows("demo").await;
    let row = rows
        .iter()
        .find(|r| r["availability"] == "in_stock")
        .expect("an in-stock row")
        .clone();
    let item = row["item_id"].as_str().unwrap().to_owned();
    emu.emulator.faults().duplicate_webhooks(1);
    let before = last_webhook_run(&app.store);
    emu.emulator
        .set_inventory(&format!("gid://shopify/ProductVariant/{item}"), 0)
        .unwrap();
    emu.emulator.wait_for_webhooks().await;
    processed_after(&app, before).await;
    let rows = app.openai_rows("demo").await;
    let now = rows.iter().find(|r| r["item_id"] == item.as_str()).unwrap();
    assert_ne!(now["availability"], "in_stock", "{now}");
    let counters = emu.emulator.webhook_counters();
    assert!(
        counters
            .topic(acp_bridge::emulator::shopify::WebhookTopic::InventoryLevelsUpdate)
            .delivered
            >= 1
    );

    // Two edits of one product delivered in the wrong order: the feed ends
    // with the product's latest state, since the daemon refetches it.
    let product = listed_product(&app, &emu).await;
    emu.emulator.faults().reorder_webhooks(1);
    let before = last_webhook_run(&app.store);
    emu.emulator
        .update_product(&product.gid(), |p| p.title = "First Edit".into())
        .unwrap();
    emu.emulator
        .update_product(&product.gid(), |p| p.title = "Second Edit".into())
        .unwrap();
    emu.emulator.wait_for_webhooks().await;
    processed_after(&app, before).await;
    assert_titled(&app, product.id, "Second Edit").await;
    app.stop().await;

    // Restarted on another address: the subscriptions move, none is added.
    let (app, moved) = registered_app(&emu).await;
    wait_until("the subscriptions to move", || {
        emu.emulator
            .webhook_subscriptions()
            .iter()
            .all(|s| s.uri == moved)
    })
    .await;
    assert_eq!(emu.emulator.webhook_subscriptions().len(), 6);
    app.stop().await;
}
