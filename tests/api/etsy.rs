//! Etsy shops end to end: the PKCE consent flow against the Etsy emulator,
//! refresh-token rotation across a restart, the daily quota, and the feed
//! rows (validated like Shopify's, never checkout-eligible).

use std::time::Duration;

use acp_bridge::cli::etsy::login_flow;
use acp_bridge::config::Settings;
use acp_bridge::emulator::etsy::{EtsyEmulator, EtsyEmulatorConfig, EtsyShopData};
use acp_bridge::source::etsy::{EtsyApp, EtsyError, LoginRequest, await_callback};
use acp_bridge::store::Store;
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::helpers::{TestApp, settings_toml, spawn_app_in};

struct EtsyFixture {
    emulator: EtsyEmulator,
    url: String,
    callback: TcpListener,
    redirect: String,
}

async fn spawn_etsy(mut config: EtsyEmulatorConfig) -> EtsyFixture {
    let callback = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect = format!("http://{}/etsy/callback", callback.local_addr().unwrap());
    config.redirect_uris = vec![redirect.clone()];
    config.auto_approve = true;
    let emulator = EtsyEmulator::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = emulator.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    EtsyFixture {
        emulator,
        url,
        callback,
        redirect,
    }
}

fn etsy_toml(f: &EtsyFixture, extra_app: &str) -> String {
    let c = f.emulator.config();
    let shops = format!(
        r#"
[etsy]
keystring = "{key}"
shared_secret = "{secret}"
api_base_url = "{url}"
connect_url = "{url}/oauth/connect"
redirect_uri = "{redirect}"
max_retries = 2
{extra_app}

[[shops]]
id = "crafts"
[shops.etsy]
shop_id = {shop_id}
[shops.schedule]
full_sync_cron = "@yearly"
incremental_interval_secs = 0
max_backoff_secs = 1
[shops.feed]
target_countries = ["US"]
url_params = {{ utm_source = "chatgpt" }}
"#,
        key = c.keystring,
        secret = c.shared_secret,
        url = f.url,
        redirect = f.redirect,
        shop_id = f.emulator.shop_id(),
    );
    settings_toml(&shops)
}

/// Runs the consent flow the way a browser would (following the
/// emulator's redirect to the loopback listener).
async fn login(f: &EtsyFixture, toml: &str, store: &Store) -> u64 {
    let settings = Settings::from_toml(toml).unwrap();
    let app = EtsyApp::new(acp_bridge::sync::etsy_app_settings(
        settings.etsy.as_ref().unwrap(),
    ))
    .unwrap();
    login_flow(
        &app,
        store,
        &settings.etsy_shops[0],
        url::Url::parse(&f.redirect).unwrap(),
        &f.callback,
        Duration::from_secs(10),
        |url| {
            tokio::spawn(async move { reqwest::get(url).await });
        },
    )
    .await
    .unwrap()
}

async fn start(f: &EtsyFixture, toml: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        login(f, toml, &store).await;
    }
    spawn_app_in(toml, dir).await
}

#[tokio::test]
async fn pkce_flow_refuses_a_wrong_verifier_and_accepts_the_right_one() {
    let f = spawn_etsy(EtsyEmulatorConfig::default()).await;
    let toml = etsy_toml(&f, "");
    let settings = Settings::from_toml(&toml).unwrap();
    let app = EtsyApp::new(acp_bridge::sync::etsy_app_settings(
        settings.etsy.as_ref().unwrap(),
    ))
    .unwrap();
    let s = app.settings();
    let redirect = url::Url::parse(&f.redirect).unwrap();

    // A code obtained for one verifier, presented with another.
    let request = LoginRequest::new(&s.connect_url, &s.keystring, redirect.clone(), &s.scopes);
    let consent = request.consent_url.clone();
    tokio::spawn(async move { reqwest::get(consent).await });
    let code = await_callback(
        &f.callback,
        "/etsy/callback",
        &request.state,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let other = LoginRequest::new(&s.connect_url, &s.keystring, redirect.clone(), &s.scopes);
    let refused = app.exchange_code(&code, &other.pkce, &redirect).await;
    assert!(
        matches!(refused, Err(EtsyError::CodeRejected { .. })),
        "{refused:?}"
    );
    // The code was single-use: the right verifier no longer helps.
    let reused = app.exchange_code(&code, &request.pkce, &redirect).await;
    assert!(
        matches!(reused, Err(EtsyError::CodeRejected { .. })),
        "{reused:?}"
    );

    // A fresh flow with the right verifier succeeds and stores tokens.
    let store = Store::temporary().unwrap();
    let user = login(&f, &toml, &store).await;
    assert_eq!(user, EtsyShopData::sample().user_id);
    let shop = TestApp::shop("crafts");
    let tokens = store.etsy_tokens(&shop).unwrap().unwrap();
    assert!(
        tokens
            .access_token
            .expose_secret()
            .starts_with(&format!("{user}."))
    );
    assert_eq!(f.emulator.counters().code_exchanges, 1);
    assert_eq!(f.emulator.counters().token_refusals, 2);
}

#[tokio::test]
async fn etsy_rows_are_valid_search_only_and_skip_disabled_offerings() {
    let f = spawn_etsy(EtsyEmulatorConfig::default()).await;
    let toml = etsy_toml(&f, "");
    let app = start(&f, &toml).await;

    let summary = app.sync("crafts", true).await.unwrap();
    assert_eq!(summary.feed, "published");
    let rows = app.openai_rows("crafts").await;
    let listings = f.emulator.active_listings();
    let enabled: usize = listings
        .iter()
        .flat_map(|l| &l.products)
        .flat_map(|p| &p.offerings)
        .filter(|o| o.is_enabled)
        .count();
    let disabled = listings
        .iter()
        .flat_map(|l| &l.products)
        .flat_map(|p| &p.offerings)
        .filter(|o| !o.is_enabled)
        .count();
    assert!(disabled >= 1, "the sample shop has a disabled offering");
    assert_eq!(rows.len(), enabled);
    assert_eq!(
        summary.rows_invalid, 0,
        "rows go through the same validation as Shopify's"
    );
    for row in &rows {
        assert_eq!(row["is_eligible_checkout"], Value::Bool(false));
        let id = row["item_id"].as_str().unwrap();
        assert!(id.starts_with("etsy-"), "{id}");
        let url = row["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!(
                "https://www.etsy.com/listing/{}/",
                row["group_id"].as_str().unwrap()
            )),
            "{url}"
        );
        assert!(url.contains("utm_source=chatgpt"), "{url}");
    }
    let draft = EtsyShopData::sample()
        .listings
        .iter()
        .find(|l| l.state != acp_bridge::emulator::etsy::ListingState::Active)
        .unwrap()
        .listing_id
        .to_string();
    assert!(
        rows.iter()
            .all(|r| r["group_id"] != Value::String(draft.clone()))
    );

    // A stock change renumbers Etsy's product and offering ids; the row
    // keeps its item id and shows the new stock after an incremental run.
    let sized = listings.iter().find(|l| l.products.len() == 3).unwrap();
    let before: Vec<String> = rows
        .iter()
        .filter(|r| r["group_id"] == Value::String(sized.listing_id.to_string()))
        .map(|r| r["item_id"].as_str().unwrap().to_owned())
        .collect();
    f.emulator.set_quantity(sized.listing_id, 0, 0).unwrap();
    let summary = app.sync("crafts", false).await.unwrap();
    assert_eq!(summary.products_written, 1);
    let rows = app.openai_rows("crafts").await;
    let after: Vec<&Value> = rows
        .iter()
        .filter(|r| r["group_id"] == Value::String(sized.listing_id.to_string()))
        .collect();
    let ids: Vec<String> = after
        .iter()
        .map(|r| r["item_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, before);
    assert_eq!(after[0]["availability"], "out_of_stock");
    app.stop().await;
}

#[tokio::test]
async fn jpy_prices_have_no_minor_unit() {
    let f = spawn_etsy(EtsyEmulatorConfig::with_data(EtsyShopData::sample_jpy())).await;
    let toml =
        etsy_toml(&f, "").replace("target_countries = [\"US\"]", "target_countries = [\"JP\"]");
    let app = start(&f, &toml).await;
    app.sync("crafts", true).await.unwrap();
    let rows = app.openai_rows("crafts").await;
    let prices: Vec<&str> = rows.iter().map(|r| r["price"].as_str().unwrap()).collect();
    assert_eq!(prices, ["1500 JPY", "6800 JPY"]);
    app.stop().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_survive_a_restart() {
    let f = spawn_etsy(EtsyEmulatorConfig::default()).await;
    let toml = etsy_toml(&f, "");
    let app = start(&f, &toml).await;
    app.sync("crafts", true).await.unwrap();
    let (_, store, dir) = app.stop().await;
    let shop = TestApp::shop("crafts");
    let old = store.etsy_tokens(&shop).unwrap().unwrap();
    drop(store);

    // An hour later, in a new process: the access token is dead.
    f.emulator.expire_access_tokens();
    let app = spawn_app_in(&toml, dir).await;
    let summary = app.sync("crafts", false).await.unwrap();
    assert_ne!(summary.feed, "quota_exhausted");
    let (_, store, dir) = app.stop().await;
    let new = store.etsy_tokens(&shop).unwrap().unwrap();
    assert_ne!(
        new.refresh_token.expose_secret(),
        old.refresh_token.expose_secret()
    );
    assert!(
        !f.emulator
            .refresh_token_valid(old.refresh_token.expose_secret())
    );
    assert!(
        f.emulator
            .refresh_token_valid(new.refresh_token.expose_secret())
    );
    assert_eq!(f.emulator.counters().refreshes, 1);
    drop(store);

    // The saved token is the one that works after another restart.
    let reopened = Store::open(dir.path()).unwrap();
    assert_eq!(
        reopened
            .etsy_tokens(&shop)
            .unwrap()
            .unwrap()
            .refresh_token
            .expose_secret(),
        new.refresh_token.expose_secret()
    );
}

async fn etsy_status(app: &TestApp) -> Value {
    let status: Value = app.admin_get("/admin/status").await.json().await.unwrap();
    status
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["shop"] == "crafts")
        .unwrap()["etsy"]
        .clone()
}

#[tokio::test]
async fn daily_quota_exhaustion_is_reported_without_retrying_and_recovers() {
    let f = spawn_etsy(EtsyEmulatorConfig {
        per_day: 3,
        ..EtsyEmulatorConfig::default()
    })
    .await;
    let toml = etsy_toml(&f, "quota_recheck_secs = 7200");
    let app = start(&f, &toml).await;

    // Login used one request, shop facts two: the day is spent before the
    // first listings page.
    let summary = app.sync("crafts", true).await.unwrap();
    assert_eq!(summary.feed, "quota_exhausted");
    let etsy = etsy_status(&app).await;
    let message = etsy["message"].as_str().unwrap();
    assert!(
        message.starts_with("daily quota exhausted until "),
        "{etsy}"
    );
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(etsy["quota_exhausted_until"].clone()).unwrap();
    assert!(
        until > chrono::Utc::now() + chrono::Duration::minutes(110),
        "{until}"
    );
    assert_eq!(f.emulator.counters().api_requests, 3);

    // Further runs report the same state without calling Etsy at all.
    let again = app.sync("crafts", false).await.unwrap();
    assert_eq!(again.feed, "quota_exhausted");
    assert_eq!(f.emulator.counters().api_requests, 3);
    assert_eq!(
        f.emulator.counters().rate_limited,
        0,
        "the limiter stopped before Etsy had to"
    );

    // The quota comes back (a day later, here after a restart): the sync
    // completes and the state clears.
    f.emulator.reset_daily_quota();
    f.emulator.set_daily_limit(10_000);
    let (_, store, dir) = app.stop().await;
    drop(store);
    let app = spawn_app_in(&toml, dir).await;
    let summary = app.sync("crafts", true).await.unwrap();
    assert_eq!(summary.feed, "published");
    assert_eq!(etsy_status(&app).await["message"], "ok");
    assert!(!app.openai_rows("crafts").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn checkout_refuses_etsy_items_with_a_protocol_error() {
    use crate::checkout_support::{V_NEW, V_OLD, world};
    let w = world().await;
    let item = w.item().await;
    for (version, field) in [(V_NEW, "line_items"), (V_OLD, "items")] {
        let (status, body) = w
            .post(
                "/checkout_sessions",
                version,
                &format!("etsy-{version}"),
                serde_json::json!({
                    "currency": "usd",
                    field: [{"id": item, "quantity": 1}, {"id": "etsy-4000001013-1000", "quantity": 1}]
                }),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["type"], "invalid_request");
        assert_eq!(body["code"], "item_not_purchasable");
        assert_eq!(body["param"], format!("$.{field}[1].id"));
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("etsy-4000001013-1000") && message.contains("Etsy"),
            "{message}"
        );
    }
}
