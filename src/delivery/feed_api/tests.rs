//! The client against the feed API emulator on a loopback port.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::emulator::feed_api::{FeedApiEmulator, FeedApiEmulatorConfig, FeedApiServer};

const KEY: &str = FeedApiEmulatorConfig::DEFAULT_API_KEY;

async fn server() -> FeedApiServer {
    FeedApiEmulator::new(FeedApiEmulatorConfig::default())
        .unwrap()
        .start()
        .await
        .unwrap()
}

fn settings(server: &FeedApiServer, batch_size: usize) -> FeedApiSettings {
    let mut s = FeedApiSettings::new(server.base_url().clone(), KEY.into());
    s.target_country = Some("US".into());
    s.batch_size = NonZeroUsize::new(batch_size).unwrap();
    s.backoff_base = Duration::from_millis(1);
    s.backoff_cap = Duration::from_millis(5);
    s.timeout = Duration::from_secs(10);
    s
}

fn client(server: &FeedApiServer, batch_size: usize) -> FeedApiClient {
    FeedApiClient::new(settings(server, batch_size)).unwrap()
}

fn product(id: &str, price: u64) -> Value {
    json!({
        "id": id,
        "title": format!("Product {id}"),
        "url": format!("https://shop.example/products/{id}"),
        "variants": [
            {
                "id": format!("{id}-a"),
                "title": "Small",
                "price": {"amount": price, "currency": "USD"},
                "availability": {"available": true, "status": "in_stock"}
            },
            {
                "id": format!("{id}-b"),
                "title": "Large",
                "price": {"amount": price + 500, "currency": "USD"},
                "availability": {"available": false, "status": "out_of_stock"}
            }
        ]
    })
}

fn catalog(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| product(&format!("p{i}"), 1000 + i as u64))
        .collect()
}

/// A source over in-memory products, serialised as the feed builder would.
fn source(
    products: &[Value],
) -> impl FnMut() -> Result<std::vec::IntoIter<Result<ProductLine, FeedApiError>>, FeedApiError> {
    let lines: Vec<Vec<u8>> = products
        .iter()
        .map(|p| serde_json::to_vec(p).unwrap())
        .collect();
    move || {
        Ok(lines
            .iter()
            .enumerate()
            .map(|(i, l)| ProductLine::parse(i as u64 + 1, l.clone()))
            .collect::<Vec<_>>()
            .into_iter())
    }
}

fn stored(server: &FeedApiServer, state: &FeedApiState) -> Vec<Value> {
    server
        .emulator()
        .products(state.feed_id.as_deref().unwrap())
        .unwrap()
}

fn patches(server: &FeedApiServer) -> u64 {
    server
        .emulator()
        .counters()
        .by_route
        .get("PATCH /feeds/{id}/products")
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_first_sync_creates_the_feed_and_sends_every_product_in_bounded_batches() {
    let server = server().await;
    let products = catalog(5);
    let mut state = FeedApiState::default();

    let report = client(&server, 2)
        .sync(source(&products), &mut state)
        .await
        .unwrap();

    assert!(report.created_feed);
    assert_eq!(
        (report.products, report.upserted, report.batches),
        (5, 5, 3)
    );
    assert_eq!(
        (report.unchanged, report.repaired, report.removed),
        (0, 0, 0)
    );
    assert_eq!(report.read_back, 5);
    let feeds = server.emulator().feeds();
    assert_eq!(feeds.len(), 1);
    assert_eq!(state.feed_id.as_deref(), Some(feeds[0].id.as_str()));
    assert_eq!(feeds[0].target_country.as_deref(), Some("US"));
    assert_eq!(stored(&server, &state), products);
    assert_eq!(server.emulator().counters().largest_patch, 2);
    assert_eq!(state.products.len(), 5);
    assert_eq!(
        state.products["p3"],
        ContentHash::of(&products[3]),
        "the state keeps each product's content hash"
    );
}

#[tokio::test]
async fn an_unchanged_catalog_sends_nothing_and_a_changed_product_is_sent_alone() {
    let server = server().await;
    let client = client(&server, 10);
    let mut products = catalog(4);
    let mut state = FeedApiState::default();
    client.sync(source(&products), &mut state).await.unwrap();
    let after_first = patches(&server);

    let again = client.sync(source(&products), &mut state).await.unwrap();

    assert_eq!(patches(&server), after_first);
    assert!(!again.created_feed);
    assert_eq!((again.unchanged, again.upserted, again.batches), (4, 0, 0));

    products[2]["variants"][0]["price"]["amount"] = json!(4242);
    let changed = client.sync(source(&products), &mut state).await.unwrap();

    assert_eq!(
        (changed.upserted, changed.unchanged, changed.batches),
        (1, 3, 1)
    );
    assert_eq!(server.emulator().counters().products_upserted, 5);
    assert_eq!(
        server
            .emulator()
            .product(state.feed_id.as_deref().unwrap(), "p2")
            .unwrap(),
        products[2]
    );
    assert_eq!(state.products["p2"], ContentHash::of(&products[2]));
}

#[tokio::test]
async fn a_removed_product_is_marked_unavailable_once() {
    let server = server().await;
    let client = client(&server, 10);
    let mut products = catalog(3);
    let mut state = FeedApiState::default();
    client.sync(source(&products), &mut state).await.unwrap();
    let gone = products.remove(1);

    let report = client.sync(source(&products), &mut state).await.unwrap();

    assert_eq!((report.removed, report.upserted, report.batches), (1, 0, 1));
    let held = server
        .emulator()
        .product(state.feed_id.as_deref().unwrap(), "p1")
        .unwrap();
    // The whole product is still there, every variant unavailable.
    assert_eq!(held["title"], gone["title"]);
    assert_eq!(held["variants"].as_array().unwrap().len(), 2);
    for variant in held["variants"].as_array().unwrap() {
        assert_eq!(
            variant["availability"],
            json!({"available": false, "status": "discontinued"})
        );
    }
    assert!(!state.products.contains_key("p1"));

    let later = client.sync(source(&products), &mut state).await.unwrap();
    assert_eq!((later.removed, later.batches), (0, 0));

    // Back in the catalog: sent again as it is now.
    products.push(gone.clone());
    let back = client.sync(source(&products), &mut state).await.unwrap();
    assert_eq!(back.upserted, 1);
    assert_eq!(
        server
            .emulator()
            .product(state.feed_id.as_deref().unwrap(), "p1")
            .unwrap(),
        gone
    );
}

#[tokio::test]
async fn lost_writes_are_found_by_the_readback_and_repaired_in_the_same_run() {
    let server = server().await;
    let products = catalog(6);
    let mut state = FeedApiState::default();
    // Both PATCHes of the first pass lose products 0, 2 (of each batch).
    server
        .emulator()
        .faults()
        .lose_writes_next(2, NonZeroUsize::new(2).unwrap());

    let report = client(&server, 3)
        .sync(source(&products), &mut state)
        .await
        .unwrap();

    assert_eq!(server.emulator().counters().products_lost, 4);
    assert_eq!(report.upserted, 6);
    assert_eq!(report.repaired, 4);
    assert_eq!(stored(&server, &state), products);
    assert_eq!(state.products.len(), 6);
}

#[tokio::test]
async fn a_product_lost_or_altered_between_runs_is_repaired() {
    let server = server().await;
    let client = client(&server, 10);
    let products = catalog(3);
    let mut state = FeedApiState::default();
    client.sync(source(&products), &mut state).await.unwrap();
    let feed = state.feed_id.clone().unwrap();
    assert!(server.emulator().remove_product(&feed, "p0"));
    assert!(server.emulator().edit_product(&feed, "p2", |p| {
        p["title"] = json!("Stale title");
    }));

    let report = client.sync(source(&products), &mut state).await.unwrap();

    assert_eq!(
        (report.unchanged, report.upserted, report.repaired),
        (3, 0, 2)
    );
    assert_eq!(stored(&server, &state), products);
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_error_and_claims_nothing() {
    let server = server().await;
    let mut s = settings(&server, 10);
    s.api_key = "not-the-key".into();
    let mut state = FeedApiState::default();

    let failure = FeedApiClient::new(s)
        .unwrap()
        .sync(source(&catalog(2)), &mut state)
        .await
        .unwrap_err();

    assert!(
        matches!(
            *failure.error,
            FeedApiError::Unauthorized { status: 401, .. }
        ),
        "{:?}",
        failure.error
    );
    let text = failure.error.to_string();
    assert!(
        text.contains("API key") && text.contains("Invalid API key"),
        "{text}"
    );
    assert!(!text.contains("not-the-key"));
    assert!(!failure.error.is_retryable());
    assert_eq!(state, FeedApiState::default());
    // Not retried: one request.
    assert_eq!(server.emulator().counters().requests, 1);
}

#[tokio::test]
async fn server_errors_are_retried_until_the_server_recovers() {
    let server = server().await;
    let products = catalog(2);
    let mut state = FeedApiState::default();
    server
        .emulator()
        .faults()
        .fail_next(3, StatusCode::SERVICE_UNAVAILABLE);

    let report = client(&server, 10)
        .sync(source(&products), &mut state)
        .await
        .unwrap();

    assert_eq!(report.retries, 3);
    assert_eq!(server.emulator().counters().injected_failures, 3);
    assert_eq!(stored(&server, &state), products);
    // POST /feeds answered only after its retries: still one feed.
    assert_eq!(server.emulator().feeds().len(), 1);
}

#[tokio::test]
async fn retries_are_bounded_and_the_state_keeps_only_acknowledged_batches() {
    let server = server().await;
    let mut s = settings(&server, 2);
    s.max_retries = 2;
    let client = FeedApiClient::new(s).unwrap();
    let products = catalog(4);
    let mut state = FeedApiState::default();
    client
        .sync(source(&products[..2]), &mut state)
        .await
        .unwrap();
    let before = server.emulator().counters().requests;
    server
        .emulator()
        .faults()
        .fail_next(50, StatusCode::BAD_GATEWAY);

    let failure = client
        .sync(source(&products), &mut state)
        .await
        .unwrap_err();

    assert!(
        matches!(
            *failure.error,
            FeedApiError::GaveUp {
                attempts: 3,
                route: "PATCH /feeds/{id}/products",
                ..
            }
        ),
        "{:?}",
        failure.error
    );
    assert!(failure.error.to_string().contains("HTTP 502"));
    assert!(failure.error.is_retryable());
    assert_eq!(server.emulator().counters().requests - before, 3);
    assert_eq!(failure.report.upserted, 0);
    let claimed: Vec<&str> = state.products.keys().map(String::as_str).collect();
    assert_eq!(claimed, ["p0", "p1"]);
}

#[tokio::test]
async fn a_rate_limit_waits_for_retry_after() {
    let server = server().await;
    let mut state = FeedApiState::default();
    server
        .emulator()
        .faults()
        .rate_limit_next(1, Duration::from_secs(1));
    let started = Instant::now();

    let report = client(&server, 10)
        .sync(source(&catalog(1)), &mut state)
        .await
        .unwrap();

    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(report.retries, 1);
    assert_eq!(server.emulator().counters().rate_limited, 1);
    assert_eq!(state.products.len(), 1);
}

#[tokio::test]
async fn a_rejected_product_surfaces_the_server_message_and_earlier_batches_stay_claimed() {
    let server = server().await;
    let mut products = catalog(4);
    products[3]["variants"][0]["price"]["amount"] = json!("10.00");
    let mut state = FeedApiState::default();

    let failure = client(&server, 2)
        .sync(source(&products), &mut state)
        .await
        .unwrap_err();

    let body = failure
        .error
        .server_error()
        .expect("the server's error body");
    assert_eq!(body.code, "invalid_product_payload");
    assert_eq!(
        body.param.as_deref(),
        Some("$.products[1].variants[0].price.amount")
    );
    assert!(!body.message.is_empty());
    assert!(failure.error.to_string().contains(&body.message));
    assert_eq!(failure.report.upserted, 2);
    assert!(state.feed_id.is_some(), "the created feed is kept");
    let claimed: Vec<&str> = state.products.keys().map(String::as_str).collect();
    assert_eq!(claimed, ["p0", "p1"]);
}

#[tokio::test]
async fn an_unknown_feed_id_is_reported_as_such() {
    let server = server().await;
    let mut state = FeedApiState {
        feed_id: Some("feed_gone".into()),
        ..FeedApiState::default()
    };

    let failure = client(&server, 10)
        .sync(source(&catalog(1)), &mut state)
        .await
        .unwrap_err();

    assert!(
        matches!(&*failure.error, FeedApiError::FeedNotFound { feed_id, .. } if feed_id == "feed_gone"),
        "{:?}",
        failure.error
    );
}

#[tokio::test]
async fn the_byte_bound_splits_batches_and_the_input_must_not_repeat_ids() {
    let server = server().await;
    let mut s = settings(&server, 100);
    let products = catalog(6);
    let one = serde_json::to_vec(&products[0]).unwrap().len();
    s.max_batch_bytes = (one * 2 + 2).max(1024);
    let per_batch = s.max_batch_bytes / (one + 1);
    let client = FeedApiClient::new(s).unwrap();
    let mut state = FeedApiState::default();

    let report = client.sync(source(&products), &mut state).await.unwrap();

    assert_eq!(report.batches as usize, products.len().div_ceil(per_batch));
    assert!(server.emulator().counters().largest_patch as usize <= per_batch);

    let twice = vec![products[0].clone(), products[0].clone()];
    let failure = client
        .sync(source(&twice), &mut FeedApiState::default())
        .await
        .unwrap_err();
    assert!(matches!(
        &*failure.error,
        FeedApiError::DuplicateProduct { id } if id == "p0"
    ));
}

#[test]
fn settings_are_checked_and_never_show_the_key() {
    let url = Url::parse("https://agent.example/feed-api").unwrap();
    let mut s = FeedApiSettings::new(url, "sk-secret-value".into());
    assert!(!format!("{s:?}").contains("sk-secret-value"));
    let client = FeedApiClient::new(s.clone()).unwrap();
    assert!(!format!("{client:?}").contains("sk-secret-value"));
    s.target_country = Some("usa".into());
    assert!(matches!(
        FeedApiClient::new(s.clone()),
        Err(FeedApiError::InvalidSettings { .. })
    ));
    s.target_country = None;
    s.api_key = "".into();
    assert!(FeedApiClient::new(s).is_err());
}
