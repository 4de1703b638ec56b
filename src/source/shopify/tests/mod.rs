//! Client tests: authentication, throttling, retries, error bodies, page
//! sizing, incremental paging and bulk sync, against a scripted fake
//! (`fake.rs`) and against the Shopify emulator (`emulator.rs`).

mod emulator;
mod fake;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};

use super::{
    BulkPhase, ClientTimings, ShopifyAuth, ShopifyClient, ShopifyClientSettings, ShopifyError,
    assemble_bulk_products,
};
use crate::domain::{Currency, Product};
use crate::store::Store;
use fake::{Fake, Recorded, Reply, cost, ok};

/// Timings short enough for tests; retries still back off.
fn fast_timings() -> ClientTimings {
    ClientTimings {
        backoff_base: Duration::from_millis(2),
        backoff_cap: Duration::from_millis(20),
        bulk_poll_initial: Duration::from_millis(5),
        bulk_poll_cap: Duration::from_millis(20),
        bulk_poll_deadline: Duration::from_secs(30),
        bulk_busy_base: Duration::from_millis(2),
        bulk_busy_cap: Duration::from_millis(20),
    }
}

fn settings(base: &url::Url, auth: ShopifyAuth) -> ShopifyClientSettings {
    let mut s = ShopifyClientSettings::new("acme.myshopify.com", auth);
    s.api_base_url = Some(base.clone());
    s.request_timeout = Duration::from_secs(10);
    s.connect_timeout = Duration::from_secs(5);
    s.max_retries = 3;
    s.timings = fast_timings();
    s
}

fn token_auth() -> ShopifyAuth {
    ShopifyAuth::AccessToken(SecretString::from("shpat_test"))
}

fn client_credentials() -> ShopifyAuth {
    ShopifyAuth::ClientCredentials {
        client_id: "app-id".into(),
        client_secret: SecretString::from("app-secret"),
    }
}

fn shop_data() -> Value {
    let fixture: Value =
        serde_json::from_str(include_str!("../../../../tests/fixtures/shopify/shop.json")).unwrap();
    fixture["data"].clone()
}

fn token_reply(token: &str, expires_in: u64) -> Reply {
    Reply::json(
        json!({ "access_token": token, "scope": "read_products", "expires_in": expires_in }),
    )
}

#[tokio::test]
async fn a_static_token_is_sent_with_the_operation_and_shop_facts_are_mapped() {
    let fake = Fake::start(|_| ok(shop_data(), 3)).await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();

    let facts = client.shop_facts().await.unwrap();

    assert_eq!(facts.name, "Acme Linen");
    assert_eq!(facts.currency, Currency::USD);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/admin/api/2026-10/graphql.json");
    assert_eq!(requests[0].token.as_deref(), Some("shpat_test"));
    assert_eq!(requests[0].operation(), "ShopInfo");
    assert!(
        requests[0].json()["query"]
            .as_str()
            .unwrap()
            .contains("shopPolicies")
    );
}

#[tokio::test]
async fn a_client_credentials_token_is_issued_once_and_reused() {
    let fake = Fake::start(|r| {
        if r.path == "/admin/oauth/access_token" {
            token_reply("issued-1", 86_399)
        } else {
            ok(shop_data(), 3)
        }
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, client_credentials())).unwrap();

    client.shop_facts().await.unwrap();
    client.shop_facts().await.unwrap();

    let requests = fake.requests();
    let token_requests: Vec<&Recorded> = requests.iter().filter(|r| !r.is_graphql()).collect();
    assert_eq!(token_requests.len(), 1);
    let form = token_requests[0].form();
    assert!(form.contains(&("grant_type".into(), "client_credentials".into())));
    assert!(form.contains(&("client_id".into(), "app-id".into())));
    assert!(form.contains(&("client_secret".into(), "app-secret".into())));
    for r in fake.graphql_requests() {
        assert_eq!(r.token.as_deref(), Some("issued-1"));
    }
}

#[tokio::test]
async fn a_401_renews_the_token_once_and_a_second_401_fails() {
    let issued = Arc::new(AtomicU32::new(0));
    let counter = issued.clone();
    // Tokens 1 and 3 are rejected; token 2 works.
    let fake = Fake::start(move |r| {
        if !r.is_graphql() {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            return token_reply(&format!("token-{n}"), 86_399);
        }
        match r.token.as_deref() {
            Some("token-2") => ok(shop_data(), 3),
            _ => Reply::status(401),
        }
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, client_credentials())).unwrap();

    client.shop_facts().await.unwrap();
    assert_eq!(
        issued.load(Ordering::SeqCst),
        2,
        "one renewal after the 401"
    );

    // Now make token-2 stop working too: every token is rejected.
    let fake2 = Fake::start(|r| {
        if r.is_graphql() {
            Reply::status(401)
        } else {
            token_reply("always-rejected", 86_399)
        }
    })
    .await;
    let client2 = ShopifyClient::new(settings(&fake2.url, client_credentials())).unwrap();
    let err = client2.shop_facts().await.unwrap_err();
    assert!(matches!(err, ShopifyError::Unauthorized), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(fake2.graphql_requests().len(), 2, "renewed exactly once");
}

#[tokio::test]
async fn a_static_token_rejected_with_401_fails_without_retrying() {
    let fake = Fake::start(|_| Reply::status(401)).await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();
    let err = client.shop_facts().await.unwrap_err();
    assert!(matches!(err, ShopifyError::Unauthorized), "{err:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn an_expiring_token_is_renewed_before_it_expires() {
    let issued = Arc::new(AtomicU32::new(0));
    let counter = issued.clone();
    let fake = Fake::start(move |r| {
        if r.is_graphql() {
            ok(shop_data(), 3)
        } else {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            token_reply(&format!("token-{n}"), 100)
        }
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, client_credentials())).unwrap();
    client.shop_facts().await.unwrap();

    // 89 s in: still inside 90 % of the 100 s lifetime.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(89)).await;
    tokio::time::resume();
    client.shop_facts().await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 1);

    // 91 s in: renewed proactively, before Shopify would reject it.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(2)).await;
    tokio::time::resume();
    client.shop_facts().await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let tokens: Vec<String> = fake
        .graphql_requests()
        .into_iter()
        .filter_map(|r| r.token)
        .collect();
    assert_eq!(tokens, ["token-1", "token-1", "token-2"]);
}

#[tokio::test]
async fn a_throttled_response_is_retried_after_the_wait_its_throttle_status_implies() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    // 60 points requested, 40 available, 100 points/s: 200 ms short.
    let fake = Fake::start(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            let mut body = json!({
                "errors": [{
                    "message": "Throttled",
                    "extensions": { "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits" }
                }]
            });
            body["extensions"] = cost(60, 40.0, 2_000.0, 100.0);
            body["extensions"]["cost"]["actualQueryCost"] = Value::Null;
            Reply::json(body)
        } else {
            let mut reply = json!({ "data": shop_data() });
            reply["extensions"] = cost(60, 2_000.0, 2_000.0, 100.0);
            Reply::json(reply)
        }
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();

    let started = std::time::Instant::now();
    client.shop_facts().await.unwrap();
    let elapsed = started.elapsed();

    let stats = client.throttle_stats();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(stats.throttled, 1);
    assert!(
        stats.wait >= Duration::from_millis(200)
            && stats.wait <= Duration::from_millis(200 + 250 + 50),
        "throttle wait {:?}",
        stats.wait
    );
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert_eq!(stats.restore_rate, Some(100.0));
}

#[tokio::test]
async fn server_errors_are_retried_and_then_succeed() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let fake = Fake::start(move |_| match counter.fetch_add(1, Ordering::SeqCst) {
        0 => Reply::status(503),
        1 => Reply::status(500),
        _ => ok(shop_data(), 3),
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();

    let facts = client.shop_facts().await.unwrap();

    assert_eq!(facts.name, "Acme Linen");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn server_errors_beyond_the_retry_cap_are_returned_as_retryable() {
    let fake = Fake::start(|_| Reply::status(502)).await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();

    let err = client.shop_facts().await.unwrap_err();

    assert!(matches!(err, ShopifyError::Http { status: 502 }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(
        fake.requests().len(),
        4,
        "first attempt plus max_retries = 3"
    );
}

#[tokio::test]
async fn http_429_waits_for_retry_after() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let fake = Fake::start(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::status(429).header("retry-after", "0.3")
        } else {
            ok(shop_data(), 3)
        }
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();

    let started = std::time::Instant::now();
    client.shop_facts().await.unwrap();

    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_200_with_graphql_errors_is_an_error_and_is_not_retried() {
    let fake = Fake::start(|_| {
        Reply::json(json!({
            "data": null,
            "errors": [{ "message": "Field 'shop' doesn't accept argument 'x'", "extensions": { "code": "argumentNotAccepted" } }]
        }))
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();

    let err = client.shop_facts().await.unwrap_err();

    match &err {
        ShopifyError::GraphQl { messages, codes } => {
            assert_eq!(messages, &["Field 'shop' doesn't accept argument 'x'"]);
            assert_eq!(codes, &["argumentNotAccepted"]);
        }
        other => panic!("expected GraphQl, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_partial_200_with_data_and_errors_is_still_an_error() {
    let fake = Fake::start(|_| {
        Reply::json(json!({
            "data": shop_data(),
            "errors": [{ "message": "Access denied for shopPolicies field.", "extensions": { "code": "ACCESS_DENIED" } }]
        }))
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();
    let err = client.shop_facts().await.unwrap_err();
    assert!(matches!(err, ShopifyError::GraphQl { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unknown_channel_name_lists_the_available_publications() {
    let fake = Fake::start(|_| {
        ok(
            json!({ "publications": { "nodes": [
                { "id": "gid://shopify/Publication/1", "catalog": { "__typename": "AppCatalog", "title": "Online Store" } },
                { "id": "gid://shopify/Publication/2", "catalog": { "__typename": "AppCatalog", "title": "Point of Sale" } },
                { "id": "gid://shopify/Publication/3", "catalog": null }
            ] } }),
            5,
        )
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();

    assert_eq!(
        client.publication_id("Point of Sale").await.unwrap(),
        "gid://shopify/Publication/2"
    );
    let err = client.publication_id("ChatGPT").await.unwrap_err();
    match err {
        ShopifyError::PublicationNotFound { wanted, available } => {
            assert_eq!(wanted, "ChatGPT");
            assert_eq!(available, ["Online Store", "Point of Sale"]);
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Paging against a fake with Shopify's static cost rules

/// A product of the fake catalog: `variants` variants, updated at minute `i`.
fn fake_variant(product: usize, v: usize) -> Value {
    json!({
        "id": format!("gid://shopify/ProductVariant/{}", product * 100 + v),
        "title": format!("V{v}"),
        "sku": format!("SKU-{product}-{v}"),
        "barcode": null,
        "price": "10.50",
        "compareAtPrice": null,
        "inventoryQuantity": 5,
        "inventoryPolicy": "DENY",
        "availableForSale": true,
        "position": v,
        "selectedOptions": [ { "name": "Size", "value": format!("{v}") } ],
        "inventoryItem": { "tracked": true, "requiresShipping": true, "measurement": { "weight": null } },
        "media": { "nodes": [] }
    })
}

fn variant_count(product: usize) -> usize {
    if product.is_multiple_of(4) { 13 } else { 1 }
}

fn variants_page(product: usize, after: usize, first: usize) -> Value {
    let total = variant_count(product);
    let end = (after + first).min(total);
    json!({
        "pageInfo": { "hasNextPage": end < total, "endCursor": end.to_string() },
        "nodes": (after..end).map(|v| fake_variant(product, v + 1)).collect::<Vec<_>>()
    })
}

fn fake_product(i: usize, variants_first: usize) -> Value {
    json!({
        "id": format!("gid://shopify/Product/{i}"),
        "handle": format!("product-{i}"),
        "title": format!("Product {i}"),
        "descriptionHtml": "<p>x</p>",
        "vendor": "Acme",
        "productType": "",
        "tags": [],
        "status": "ACTIVE",
        "onlineStoreUrl": null,
        "updatedAt": format!("2026-11-28T10:{:02}:00Z", i),
        "publishedOnPublication": true,
        "category": null,
        "options": [],
        "media": { "nodes": [] },
        "variants": variants_page(i, 0, variants_first)
    })
}

fn arg(vars: &Value, name: &str) -> usize {
    vars[name].as_u64().unwrap() as usize
}

/// Serves `products` products with Shopify's static cost rules and records
/// every requested cost.
async fn paging_fake(products: usize, costs: Arc<Mutex<Vec<(String, u32)>>>) -> Fake {
    Fake::start(move |r| {
        let vars = r.variables();
        let op = r.operation();
        let (data, requested) = if op == "ProductsPage" {
            let (first, vf, mf) = (
                arg(&vars, "first"),
                arg(&vars, "variantsFirst"),
                arg(&vars, "mediaFirst"),
            );
            let after: usize = vars["after"].as_str().map_or(0, |c| c.parse().unwrap());
            let end = (after + first).min(products);
            let per_product = 7 + 2 * mf + 9 * vf;
            let data = json!({ "products": {
                "pageInfo": { "hasNextPage": end < products, "endCursor": end.to_string() },
                "nodes": (after..end).map(|i| fake_product(i + 1, vf)).collect::<Vec<_>>()
            }});
            (data, 2 + first * per_product)
        } else {
            let first = arg(&vars, "first");
            let after: usize = vars["after"].as_str().map_or(0, |c| c.parse().unwrap());
            let id: usize = vars["id"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let data = json!({ "product": { "variants": variants_page(id, after, first) } });
            (data, 3 + first * 9)
        };
        costs.lock().unwrap().push((op, requested as u32));
        ok(data, requested as u32)
    })
    .await
}

async fn collect_pages(
    client: &ShopifyClient,
) -> (Vec<Product>, Vec<chrono::DateTime<chrono::Utc>>) {
    let since = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut pager =
        client.products_updated_since(Some(since), "gid://shopify/Publication/1", Currency::USD);
    let mut products = Vec::new();
    let mut cursors = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        assert_eq!(page.skipped, 0);
        cursors.extend(page.max_updated_at);
        products.extend(page.products);
    }
    (products, cursors)
}

#[tokio::test]
async fn incremental_paging_returns_every_product_complete_with_all_variants() {
    let costs = Arc::new(Mutex::new(Vec::new()));
    let fake = paging_fake(30, costs.clone()).await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();

    let (products, cursors) = collect_pages(&client).await;

    assert_eq!(products.len(), 30);
    for (i, p) in products.iter().enumerate() {
        assert_eq!(p.id, (i + 1).to_string());
        assert_eq!(p.variants.len(), variant_count(i + 1), "product {}", p.id);
        let positions: Vec<u32> = p.variants.iter().map(|v| v.position).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
    }
    // Cursors only move forward and end at the newest product.
    assert!(cursors.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(
        cursors.last().unwrap().to_rfc3339(),
        "2026-11-28T10:30:00+00:00"
    );
    let requests = fake.graphql_requests();
    assert!(
        requests
            .iter()
            .any(|r| r.operation() == "ProductVariantsPage")
    );
    let first = requests[0].variables();
    assert_eq!(first["query"], "updated_at:>'2026-11-01T00:00:00Z'");
    assert_eq!(first["publicationId"], "gid://shopify/Publication/1");
}

#[tokio::test]
async fn page_sizing_keeps_every_requested_cost_under_the_target() {
    for target in [400u32, 100] {
        let costs = Arc::new(Mutex::new(Vec::new()));
        let fake = paging_fake(40, costs.clone()).await;
        let mut s = settings(&fake.url, token_auth());
        s.query_cost_target = target;
        let client = ShopifyClient::new(s).unwrap();

        let (products, _) = collect_pages(&client).await;

        assert_eq!(products.len(), 40);
        let costs = costs.lock().unwrap().clone();
        assert!(!costs.is_empty());
        for (op, cost) in &costs {
            assert!(*cost <= target, "{op} cost {cost} over target {target}");
        }
        // Pages are not needlessly tiny: the best page uses over half the budget.
        let best = costs
            .iter()
            .filter(|(op, _)| op == "ProductsPage")
            .map(|(_, c)| *c)
            .max()
            .unwrap();
        assert!(
            best * 2 > target,
            "best page cost {best} for target {target}"
        );
    }
}

// ---------------------------------------------------------------------------
// Bulk against a fake

/// The bulk file: children listed before their parents and interleaved.
fn bulk_file() -> String {
    let mut lines = Vec::new();
    for p in [2usize, 1] {
        for v in (1..=3).rev() {
            let mut variant = fake_variant(p, v);
            variant.as_object_mut().unwrap().remove("media");
            variant["__parentId"] = json!(format!("gid://shopify/Product/{p}"));
            lines.push(variant.to_string());
            lines.push(
                json!({ "__typename": "MediaImage",
                        "id": format!("gid://shopify/MediaImage/{}", 9000 + p * 100 + v),
                        "image": { "url": format!("https://cdn.example/{p}-{v}.jpg"), "altText": null, "width": 10, "height": 10 },
                        "__parentId": format!("gid://shopify/ProductVariant/{}", p * 100 + v) })
                .to_string(),
            );
        }
        // Two product images, the later id listed first.
        for (id, name) in [(p * 10 + 2, "back"), (p * 10 + 1, "front")] {
            lines.push(
                json!({ "__typename": "MediaImage",
                        "id": format!("gid://shopify/MediaImage/{id}"),
                        "image": { "url": format!("https://cdn.example/{p}-{name}.jpg"), "altText": name, "width": 800, "height": 600 },
                        "__parentId": format!("gid://shopify/Product/{p}") })
                .to_string(),
            );
        }
    }
    for p in [1usize, 2] {
        let mut product = fake_product(p, 0);
        let obj = product.as_object_mut().unwrap();
        obj.remove("media");
        obj.remove("variants");
        lines.push(product.to_string());
    }
    lines.join("\n") + "\n"
}

#[tokio::test]
async fn a_bulk_run_streams_out_of_order_lines_into_scratch_and_reassembles_complete_products() {
    let starts = Arc::new(AtomicU32::new(0));
    let polls = Arc::new(AtomicU32::new(0));
    let (s, p) = (starts.clone(), polls.clone());
    let fake = Fake::start(move |r| {
        if r.path == "/files/bulk.jsonl" {
            return Reply::chunked(bulk_file().as_bytes(), 37);
        }
        match r.operation().as_str() {
            "BulkRunQuery" => {
                let busy = s.fetch_add(1, Ordering::SeqCst) == 0;
                let payload = if busy {
                    json!({ "bulkOperation": null, "userErrors": [{
                        "field": null, "code": "OPERATION_IN_PROGRESS",
                        "message": "A bulk query operation for this app and shop is already in progress" }] })
                } else {
                    json!({ "bulkOperation": { "id": "gid://shopify/BulkOperation/77", "status": "CREATED" }, "userErrors": [] })
                };
                ok(json!({ "bulkOperationRunQuery": payload }), 10)
            }
            _ => {
                let done = p.fetch_add(1, Ordering::SeqCst) >= 2;
                let file = r.base.join("files/bulk.jsonl").unwrap().to_string();
                ok(
                    json!({ "bulkOperation": {
                        "id": "gid://shopify/BulkOperation/77",
                        "status": if done { "COMPLETED" } else { "RUNNING" },
                        "errorCode": null,
                        "objectCount": if done { "18" } else { "3" },
                        "rootObjectCount": if done { "2" } else { "1" },
                        "fileSize": null,
                        "url": if done { Value::String(file) } else { Value::Null },
                        "partialDataUrl": null
                    } }),
                    1,
                )
            }
        }
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();
    let store = Store::temporary().unwrap();
    let scratch = store.scratch().unwrap();
    let mut phases = Vec::new();

    let outcome = client
        .run_bulk_products("gid://shopify/Publication/1", &scratch, |p| {
            phases.push(p.phase)
        })
        .await
        .unwrap();

    assert_eq!(outcome.operation_id, "gid://shopify/BulkOperation/77");
    assert_eq!((outcome.roots, outcome.children), (2, 16));
    assert_eq!(outcome.object_count, 18);
    assert_eq!(
        starts.load(Ordering::SeqCst),
        2,
        "retried after 'already in progress'"
    );
    assert!(phases.contains(&BulkPhase::Running) && phases.ends_with(&[BulkPhase::Downloaded]));
    let run = fake
        .graphql_requests()
        .into_iter()
        .find(|r| r.operation() == "BulkRunQuery")
        .unwrap();
    let inner = run.variables()["query"].as_str().unwrap().to_owned();
    assert!(
        inner.contains(r#"publishedOnPublication(publicationId: "gid://shopify/Publication/1")"#)
    );
    let downloads: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/files/bulk.jsonl")
        .collect();
    assert_eq!(downloads.len(), 1);
    assert!(
        downloads[0].token.is_none(),
        "no token sent with the signed file URL"
    );

    let mut products = Vec::new();
    let report = assemble_bulk_products(&scratch, Currency::USD, |p| products.push(p)).unwrap();
    assert_eq!(report.products, 2);
    assert_eq!(report.orphans, 0);
    assert_eq!(report.invalid, 0);
    for (i, product) in products.iter().enumerate() {
        let p = i + 1;
        assert_eq!(product.id, p.to_string());
        let images: Vec<&str> = product.media.iter().map(|m| m.url.as_str()).collect();
        assert_eq!(
            images,
            [
                format!("https://cdn.example/{p}-front.jpg"),
                format!("https://cdn.example/{p}-back.jpg")
            ],
            "media are ordered by id, not by line order"
        );
        let ids: Vec<String> = product.variants.iter().map(|v| v.id.clone()).collect();
        assert_eq!(ids, [1, 2, 3].map(|v| (p * 100 + v).to_string()));
        for (v, variant) in product.variants.iter().enumerate() {
            assert_eq!(variant.media.len(), 1);
            assert_eq!(
                variant.media[0].url.as_str(),
                format!("https://cdn.example/{p}-{}.jpg", v + 1)
            );
        }
    }
}

#[tokio::test]
async fn a_failed_bulk_operation_is_reported_with_its_error_code() {
    let fake = Fake::start(|r| match r.operation().as_str() {
        "BulkRunQuery" => ok(
            json!({ "bulkOperationRunQuery": { "bulkOperation": { "id": "gid://shopify/BulkOperation/5", "status": "CREATED" }, "userErrors": [] } }),
            10,
        ),
        _ => ok(
            json!({ "bulkOperation": { "id": "gid://shopify/BulkOperation/5", "status": "FAILED", "errorCode": "TIMEOUT",
                    "objectCount": "0", "rootObjectCount": "0", "fileSize": null, "url": null, "partialDataUrl": null } }),
            1,
        ),
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();
    let store = Store::temporary().unwrap();
    let scratch = store.scratch().unwrap();

    let err = client
        .run_bulk_products("gid://shopify/Publication/1", &scratch, |_| {})
        .await
        .unwrap_err();

    match &err {
        ShopifyError::BulkFailed {
            status, error_code, ..
        } => {
            assert_eq!(status, "FAILED");
            assert_eq!(error_code.as_deref(), Some("TIMEOUT"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
}

#[tokio::test]
async fn other_bulk_start_user_errors_fail_without_retrying() {
    let fake = Fake::start(|_| {
        ok(
            json!({ "bulkOperationRunQuery": { "bulkOperation": null, "userErrors": [
                { "field": ["query"], "message": "Invalid bulk query: too many connections", "code": "INVALID" } ] } }),
            10,
        )
    })
    .await;
    let client = ShopifyClient::new(settings(&fake.url, token_auth())).unwrap();
    let store = Store::temporary().unwrap();
    let scratch = store.scratch().unwrap();

    let err = client
        .run_bulk_products("gid://shopify/Publication/1", &scratch, |_| {})
        .await
        .unwrap_err();

    match err {
        ShopifyError::UserErrors { operation, errors } => {
            assert_eq!(operation, "BulkRunQuery");
            assert_eq!(errors[0].field, ["query"]);
            assert_eq!(errors[0].code.as_deref(), Some("INVALID"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.requests().len(), 1);
}
