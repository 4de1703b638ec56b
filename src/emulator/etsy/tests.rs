//! The emulator enforces Etsy's key, token and quota rules.

use axum::body::Body;
use http::Request;
use tower::ServiceExt;

use super::*;

async fn get(
    emu: &EtsyEmulator,
    path: &str,
    key: Option<&str>,
) -> (u16, http::HeaderMap, serde_json::Value) {
    let mut req = Request::get(path);
    if let Some(key) = key {
        req = req.header("x-api-key", key);
    }
    let response = emu
        .router()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or_default(),
    )
}

/// Moves the emulator's per-second window on, as if a second had passed.
fn next_second(emu: &EtsyEmulator) {
    let mut s = emu.inner.state.lock().unwrap();
    s.quota.second_start = None;
    s.quota.second_used = 0;
}

fn key(emu: &EtsyEmulator) -> String {
    format!("{}:{}", emu.config().keystring, emu.config().shared_secret)
}

#[tokio::test]
async fn the_app_key_must_carry_the_shared_secret() {
    let emu = EtsyEmulator::new(EtsyEmulatorConfig::default());
    let path = format!("/v3/application/shops/{}", emu.shop_id());
    let (status, _, body) = get(&emu, &path, None).await;
    assert_eq!(status, 403, "{body}");
    let keystring = emu.config().keystring.clone();
    let (status, _, body) = get(&emu, &path, Some(&keystring)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("Shared secret is required in x-api-key header."))
    );
    let (status, _, _) = get(&emu, &path, Some(&format!("{keystring}:wrong"))).await;
    assert_eq!(status, 403);
    let (status, headers, body) = get(&emu, &path, Some(&key(&emu))).await;
    assert_eq!(status, 200);
    assert_eq!(body["currency_code"], "USD");
    assert_eq!(headers["x-limit-per-day"], "10000");
    assert_eq!(headers["x-remaining-today"], "9999");
}

#[tokio::test]
async fn private_endpoints_need_a_bearer_token() {
    let emu = EtsyEmulator::new(EtsyEmulatorConfig::default());
    let path = format!("/v3/application/shops/{}/listings", emu.shop_id());
    let (status, _, body) = get(&emu, &path, Some(&key(&emu))).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn the_per_second_and_daily_limits_answer_429_with_retry_after() {
    let emu = EtsyEmulator::new(EtsyEmulatorConfig {
        per_second: 2,
        per_day: 3,
        ..EtsyEmulatorConfig::default()
    });
    let path = format!("/v3/application/shops/{}", emu.shop_id());
    let k = key(&emu);
    assert_eq!(get(&emu, &path, Some(&k)).await.0, 200);
    let (_, h, _) = get(&emu, &path, Some(&k)).await;
    assert_eq!(h["x-remaining-this-second"], "0");
    let (status, h, body) = get(&emu, &path, Some(&k)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(h["retry-after"], "1");
    assert!(h.get("x-remaining-today").is_none());
    next_second(&emu);
    assert_eq!(get(&emu, &path, Some(&k)).await.0, 200);
    next_second(&emu);
    let (status, h, _) = get(&emu, &path, Some(&k)).await;
    assert_eq!(status, 429);
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        retry > 3600,
        "the day frees when its oldest bucket ages out: {retry}"
    );
    emu.reset_daily_quota();
    next_second(&emu);
    assert_eq!(get(&emu, &path, Some(&k)).await.0, 200);
}

#[tokio::test]
async fn listing_pages_respect_limits_and_includes() {
    let emu = EtsyEmulator::new(EtsyEmulatorConfig::default());
    let k = key(&emu);
    let ids: Vec<String> = emu
        .active_listings()
        .iter()
        .take(2)
        .map(|l| l.listing_id.to_string())
        .collect();
    let (status, _, body) = get(
        &emu,
        &format!(
            "/v3/application/listings/batch?listing_ids={}&includes=Images,Inventory",
            ids.join(",")
        ),
        Some(&k),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 2);
    assert!(body["results"][0]["inventory"]["products"].is_array());
    assert!(body["results"][0]["images"].is_array());
    let (status, _, _) = get(
        &emu,
        "/v3/application/listings/batch?listing_ids=1&includes=Bogus",
        Some(&k),
    )
    .await;
    assert_eq!(status, 400);
}
