//! Throttling, upstream failures, isolation between shops.

use acp_bridge::emulator::shopify::BulkErrorCode;
use axum::http::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn a_throttle_storm_slows_the_sync_down_but_it_completes() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;
    app.sync("demo", true).await.unwrap();
    emu.emulator.faults().throttle_next(3);

    let summary = app.sync("demo", false).await;

    assert!(summary.is_ok(), "{summary:?}");
    assert!(emu.emulator.counters().throttled >= 3);
}

#[tokio::test]
async fn a_short_5xx_storm_is_retried_and_a_long_one_fails_the_run_keeping_the_feed() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;
    app.sync("demo", true).await.unwrap();
    let published = app.openai_rows("demo").await.len();

    emu.emulator
        .faults()
        .fail_next(2, StatusCode::SERVICE_UNAVAILABLE);
    assert!(app.sync("demo", false).await.is_ok());

    emu.emulator
        .faults()
        .fail_next(1_000, StatusCode::INTERNAL_SERVER_ERROR);
    let failed = app.sync("demo", false).await;
    emu.emulator.faults().clear();

    let message = failed.unwrap_err();
    assert!(message.contains("500"), "{message}");
    let status: Value = app.admin_get("/admin/status").await.json().await.unwrap();
    assert_eq!(status[0]["last_error"]["kind"], "incremental");
    assert_eq!(status[0]["last_error"]["consecutive"], 1);
    // The published feed is still served as it was.
    assert_eq!(app.openai_rows("demo").await.len(), published);
    // And the next good run clears the error.
    app.sync("demo", false).await.unwrap();
    let status: Value = app.admin_get("/admin/status").await.json().await.unwrap();
    assert!(status[0]["last_error"].is_null());
}

#[tokio::test]
async fn a_failed_bulk_operation_fails_the_full_sync_with_shopifys_error_code() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;
    emu.emulator
        .faults()
        .fail_bulk_operations(1, BulkErrorCode::InternalServerError);

    let message = app.sync("demo", true).await.unwrap_err();

    assert!(message.contains("INTERNAL_SERVER_ERROR"), "{message}");
    assert!(
        app.store
            .feed_meta(&TestApp::shop("demo"))
            .unwrap()
            .is_none()
    );
    // Nothing half-written is served.
    assert_eq!(app.get("/feeds/demo/openai.jsonl.gz").await.status(), 503);
}

#[tokio::test]
async fn a_shop_with_a_bad_token_does_not_affect_a_healthy_one() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let shops = format!(
        "{}{}",
        shop_toml("good", &emu.url, TOKEN, ""),
        shop_toml("bad", &emu.url, "shpat_wrong", "")
    );
    let app = spawn_app(&settings_toml(&shops)).await;
    assert_eq!(app.get("/readyz").await.status(), 503);

    let (good, bad) = tokio::join!(app.sync("good", true), app.sync("bad", true));

    assert!(good.is_ok(), "{good:?}");
    let message = bad.unwrap_err();
    assert!(
        message.to_lowercase().contains("unauthorized") || message.contains("401"),
        "{message}"
    );
    assert!(!app.openai_rows("good").await.is_empty());
    assert_eq!(app.get("/feeds/bad/openai.jsonl.gz").await.status(), 503);
    // Both shops have something to say, so the daemon is ready.
    assert_eq!(app.get("/readyz").await.status(), 200);
    // The token never appears in what the operator sees.
    let status = app.admin_get("/admin/status").await.text().await.unwrap();
    assert!(!status.contains("shpat_wrong"));
    assert!(!status.contains(TOKEN));
}
