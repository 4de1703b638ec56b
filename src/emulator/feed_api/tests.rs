//! Router-level tests of the feed API emulator (no socket).

use std::num::NonZeroUsize;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

const KEY: &str = FeedApiEmulatorConfig::DEFAULT_API_KEY;

fn emulator() -> FeedApiEmulator {
    FeedApiEmulator::new(FeedApiEmulatorConfig::default()).unwrap()
}

struct Call<'a> {
    method: Method,
    path: &'a str,
    body: Option<Value>,
    key: Option<&'a str>,
    version: Option<&'a str>,
    idempotency_key: Option<&'a str>,
}

impl<'a> Call<'a> {
    fn new(method: Method, path: &'a str) -> Self {
        Call {
            method,
            path,
            body: None,
            key: Some(KEY),
            version: Some(SCHEMA_VERSION),
            idempotency_key: None,
        }
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

async fn send(emu: &FeedApiEmulator, call: Call<'_>) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::builder().method(call.method).uri(call.path);
    if let Some(key) = call.key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    if let Some(version) = call.version {
        request = request.header("api-version", version);
    }
    if let Some(k) = call.idempotency_key {
        request = request.header("idempotency-key", k);
    }
    let body = match call.body {
        Some(b) => {
            request = request.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let response = emu
        .router()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, value)
}

use axum::http::HeaderMap;

async fn create(emu: &FeedApiEmulator) -> String {
    let mut call = Call::new(Method::POST, "/feeds").body(json!({"target_country": "US"}));
    call.idempotency_key = Some("idk-create-1");
    let (status, _, body) = send(emu, call).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn product(id: &str, price: u64) -> Value {
    json!({
        "id": id,
        "title": format!("Product {id}"),
        "variants": [{
            "id": format!("{id}-v1"),
            "title": "Default",
            "price": {"amount": price, "currency": "USD"},
            "availability": {"available": true, "status": "in_stock"}
        }]
    })
}

fn assert_error_shape(body: &Value) {
    let obj = body.as_object().expect("error body is an object");
    for field in ["type", "code", "message"] {
        assert!(obj[field].is_string(), "{field} missing in {body}");
    }
    assert!(
        obj.keys()
            .all(|k| ["type", "code", "message", "param"].contains(&k.as_str())),
        "{body}"
    );
}

#[tokio::test]
async fn create_then_upsert_then_read_back() {
    let emu = emulator();
    let id = create(&emu).await;
    let path = format!("/feeds/{id}/products");

    let (status, _, body) = send(
        &emu,
        Call::new(Method::PATCH, &path)
            .body(json!({"products": [product("p1", 100), product("p2", 200)]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"id": id, "accepted": true}));
    // Upsert replaces p1 whole and leaves p2 alone.
    let (status, _, _) = send(
        &emu,
        Call::new(Method::PATCH, &path).body(json!({"products": [product("p1", 150)]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, body) = send(&emu, Call::new(Method::GET, &path)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["products"],
        json!([product("p1", 150), product("p2", 200)])
    );
    let (_, _, meta) = send(&emu, Call::new(Method::GET, &format!("/feeds/{id}"))).await;
    assert_eq!(meta["id"], id.as_str());
    assert_eq!(meta["target_country"], "US");
    assert!(meta["updated_at"].as_str().unwrap().ends_with('Z'));
    let counters = emu.counters();
    assert_eq!(counters.by_route["PATCH /feeds/{id}/products"], 2);
    assert_eq!(counters.products_upserted, 3);
    assert_eq!(counters.largest_patch, 2);
    assert_eq!(emu.products_stored(), 2);
}

#[tokio::test]
async fn requests_without_a_valid_key_get_401_in_the_error_shape() {
    let emu = emulator();
    for key in [None, Some("wrong-key")] {
        let mut call = Call::new(Method::GET, "/feeds/feed_x");
        call.key = key;
        let (status, headers, body) = send(&emu, call).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers["www-authenticate"], "Bearer");
        assert_error_shape(&body);
        assert!(!body.to_string().contains("wrong-key"));
    }
    assert_eq!(emu.counters().unauthorized, 2);
}

#[tokio::test]
async fn api_version_is_required_and_checked() {
    let emu = emulator();
    let mut call = Call::new(Method::GET, "/feeds/feed_x");
    call.version = None;
    let (status, _, body) = send(&emu, call).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "missing_api_version");
    let mut call = Call::new(Method::GET, "/feeds/feed_x");
    call.version = Some("2025-09-29");
    let (_, _, body) = send(&emu, call).await;
    assert_eq!(body["code"], "unsupported_api_version");
    assert_error_shape(&body);
}

#[tokio::test]
async fn invalid_products_are_rejected_with_the_schema_path() {
    let emu = emulator();
    let id = create(&emu).await;
    let path = format!("/feeds/{id}/products");
    let mut bad = product("p1", 100);
    bad["variants"][0]["price"]["amount"] = json!("1.00");

    let (status, _, body) = send(
        &emu,
        Call::new(Method::PATCH, &path).body(json!({"products": [product("p0", 1), bad]})),
    )
    .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error_shape(&body);
    assert_eq!(body["code"], "invalid_product_payload");
    assert_eq!(body["param"], "$.products[1].variants[0].price.amount");
    // Nothing of a rejected request is stored.
    assert_eq!(emu.products(&id).unwrap(), Vec::<Value>::new());
    let (status, _, body) = send(
        &emu,
        Call::new(Method::PATCH, &path).body(json!({"products": []})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "products must contain at least one valid Product"
    );
}

#[tokio::test]
async fn limits_and_media_type_are_enforced() {
    let emu = FeedApiEmulator::new(FeedApiEmulatorConfig {
        max_products_per_request: 2,
        max_body_bytes: 2048,
        ..FeedApiEmulatorConfig::default()
    })
    .unwrap();
    let id = create(&emu).await;
    let path = format!("/feeds/{id}/products");
    let three = json!({"products": [product("a", 1), product("b", 1), product("c", 1)]});
    let (status, _, body) = send(&emu, Call::new(Method::PATCH, &path).body(three)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "too_many_products");

    let mut big = product("a", 1);
    big["title"] = json!("x".repeat(4000));
    let (status, _, body) = send(
        &emu,
        Call::new(Method::PATCH, &path).body(json!({"products": [big]})),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_shape(&body);

    let request = Request::builder()
        .method(Method::PATCH)
        .uri(&path)
        .header("authorization", format!("Bearer {KEY}"))
        .header("api-version", SCHEMA_VERSION)
        .header("content-type", "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    let response = emu.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn feeds_are_private_to_the_key_that_created_them() {
    let emu = FeedApiEmulator::new(FeedApiEmulatorConfig {
        api_keys: vec![KEY.into(), "second-key".into()],
        ..FeedApiEmulatorConfig::default()
    })
    .unwrap();
    let id = create(&emu).await;
    let path = format!("/feeds/{id}");
    let mut call = Call::new(Method::GET, &path);
    call.key = Some("second-key");
    let (status, _, body) = send(&emu, call).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "feed_not_found");
    let (status, _, _) = send(&emu, Call::new(Method::GET, "/feeds/feed_nope/products")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn create_needs_an_idempotency_key_and_replays_it() {
    let emu = emulator();
    let (status, _, body) = send(
        &emu,
        Call::new(Method::POST, "/feeds").body(json!({"target_country": "US"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "idempotency_key_required");

    let first = create(&emu).await;
    let again = create(&emu).await;
    assert_eq!(first, again);
    assert_eq!(emu.feeds().len(), 1);
    assert_eq!(emu.counters().idempotent_replays, 1);

    let mut other = Call::new(Method::POST, "/feeds").body(json!({"target_country": "GB"}));
    other.idempotency_key = Some("idk-create-1");
    let (status, _, body) = send(&emu, other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "idempotency_conflict");

    let mut lower = Call::new(Method::POST, "/feeds").body(json!({"target_country": "us"}));
    lower.idempotency_key = Some("idk-create-2");
    let (status, _, body) = send(&emu, lower).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_target_country");
    assert_eq!(body["param"], "$.target_country");
}

#[tokio::test]
async fn scripted_faults_fail_then_recover() {
    let emu = emulator();
    let id = create(&emu).await;
    let path = format!("/feeds/{id}/products");
    emu.faults().rate_limit_next(1, Duration::from_secs(7));
    emu.faults().fail_next(1, StatusCode::SERVICE_UNAVAILABLE);

    let (status, headers, body) = send(&emu, Call::new(Method::GET, &path)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "7");
    assert_error_shape(&body);
    let (status, _, body) = send(&emu, Call::new(Method::GET, &path)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_error_shape(&body);
    let (status, _, _) = send(&emu, Call::new(Method::GET, &path)).await;
    assert_eq!(status, StatusCode::OK);
    let c = emu.counters();
    assert_eq!((c.rate_limited, c.injected_failures), (1, 1));
}

#[tokio::test]
async fn lost_writes_answer_accepted_but_drop_products() {
    let emu = emulator();
    let id = create(&emu).await;
    let path = format!("/feeds/{id}/products");
    emu.faults()
        .lose_writes_next(1, NonZeroUsize::new(2).unwrap());
    let products: Vec<Value> = (0..5).map(|i| product(&format!("p{i}"), 100)).collect();

    let (status, _, body) = send(
        &emu,
        Call::new(Method::PATCH, &path).body(json!({ "products": products })),
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["accepted"], true);
    let stored: Vec<String> = emu
        .products(&id)
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored, ["p1", "p3"]);
    assert_eq!(emu.counters().products_lost, 3);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let emu = emulator();
    let (status, _, body) = send(&emu, Call::new(Method::GET, "/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_shape(&body);
    let (status, _, body) = send(&emu, Call::new(Method::DELETE, "/feeds/x/products")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error_shape(&body);
}

#[tokio::test]
async fn start_serves_on_loopback_and_shuts_down() {
    let server = emulator().start().await.unwrap();
    let url = server.base_url().join("feeds/feed_x").unwrap();
    assert_eq!(url.host_str(), Some("127.0.0.1"));
    let response = reqwest::Client::new()
        .get(url.clone())
        .bearer_auth(KEY)
        .header("api-version", SCHEMA_VERSION)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.shutdown().await.unwrap();
    assert!(reqwest::Client::new().get(url).send().await.is_err());
}
