//! Client tests against the Shopify emulator: a real GraphQL server with
//! schema validation, cost-based throttling, bulk operations and faults.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use tokio::net::TcpListener;
use url::Url;

use super::fast_timings;
use crate::domain::{Currency, Product};
use crate::emulator::shopify::{
    BulkErrorCode, ClientCredentials, EmulatorConfig, ShopData, ShopifyEmulator,
};
use crate::source::shopify::{
    ShopifyAuth, ShopifyClient, ShopifyClientSettings, ShopifyError, assemble_bulk_products,
};
use crate::store::Store;

/// Serves `config` on a bound port; returns the emulator and its base URL.
async fn start(config: EmulatorConfig) -> (ShopifyEmulator, Url) {
    let emulator = ShopifyEmulator::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    emulator.set_base_url(&base);
    let router = emulator.router();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (emulator, Url::parse(&base).unwrap())
}

/// A configuration whose bucket refills fast enough that paging tests do not
/// spend their time waiting (throttling has its own tests).
fn fast_config(data: ShopData) -> EmulatorConfig {
    EmulatorConfig {
        restore_rate: 100_000,
        bulk_completion_delay: Duration::from_millis(20),
        ..EmulatorConfig::with_data(data)
    }
}

fn client_for(emulator: &ShopifyEmulator, base: &Url, auth: ShopifyAuth) -> ShopifyClientSettings {
    let mut s = ShopifyClientSettings::new(emulator.shop_domain(), auth);
    s.api_base_url = Some(base.clone());
    s.max_retries = 3;
    s.request_timeout = Duration::from_secs(10);
    s.timings = fast_timings();
    s
}

fn static_token() -> ShopifyAuth {
    ShopifyAuth::AccessToken(SecretString::from(EmulatorConfig::DEFAULT_TOKEN))
}

async fn default_client() -> (ShopifyEmulator, ShopifyClient) {
    let (emulator, base) = start(fast_config(ShopData::sample())).await;
    let client = ShopifyClient::new(client_for(&emulator, &base, static_token())).unwrap();
    (emulator, client)
}

/// Every product through the pager.
async fn page_all(client: &ShopifyClient, publication: &str, currency: Currency) -> Vec<Product> {
    let mut pager = client.products_updated_since(None, publication, currency);
    let mut products = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        assert_eq!(page.skipped, 0, "every emulator product maps");
        products.extend(page.products);
    }
    products
}

#[tokio::test]
async fn shop_facts_and_the_channel_publication_come_from_the_emulator() {
    let (emulator, client) = default_client().await;

    let facts = client.shop_facts().await.unwrap();
    let publication = client.publication_id("Online Store").await.unwrap();

    assert!(!facts.name.is_empty());
    assert!(facts.url.as_str().starts_with("https://"));
    assert_eq!(publication, emulator.online_store_publication_id());
    let err = client.publication_id("No Such Channel").await.unwrap_err();
    match err {
        ShopifyError::PublicationNotFound { available, .. } => {
            assert!(
                available.iter().any(|n| n == "Online Store"),
                "{available:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn client_credentials_are_exchanged_for_a_token_and_renewed_before_expiry() {
    let config = EmulatorConfig {
        static_tokens: Vec::new(),
        client_credentials: Some(ClientCredentials {
            client_id: "bridge".into(),
            client_secret: "s3cret".into(),
        }),
        token_lifetime: Duration::from_secs(100),
        ..EmulatorConfig::default()
    };
    let (emulator, base) = start(config).await;
    let auth = ShopifyAuth::ClientCredentials {
        client_id: "bridge".into(),
        client_secret: SecretString::from("s3cret"),
    };
    let client = ShopifyClient::new(client_for(&emulator, &base, auth)).unwrap();

    client.shop_facts().await.unwrap();
    client.shop_facts().await.unwrap();
    assert_eq!(emulator.counters().tokens_issued, 1);

    // Past 90 % of the lifetime the client renews before the emulator
    // would reject the token.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(95)).await;
    tokio::time::resume();
    client.shop_facts().await.unwrap();
    let counters = emulator.counters();
    assert_eq!(counters.tokens_issued, 2);
    assert_eq!(counters.unauthorized, 0);
}

#[tokio::test]
async fn wrong_client_credentials_fail_as_unauthorized() {
    let config = EmulatorConfig {
        client_credentials: Some(ClientCredentials {
            client_id: "bridge".into(),
            client_secret: "s3cret".into(),
        }),
        ..EmulatorConfig::default()
    };
    let (emulator, base) = start(config).await;
    let auth = ShopifyAuth::ClientCredentials {
        client_id: "bridge".into(),
        client_secret: SecretString::from("wrong"),
    };
    let client = ShopifyClient::new(client_for(&emulator, &base, auth)).unwrap();

    let err = client.shop_facts().await.unwrap_err();

    assert!(matches!(err, ShopifyError::Unauthorized), "{err:?}");
    assert_eq!(emulator.counters().requests, 0);
}

#[tokio::test]
async fn a_drained_bucket_is_waited_out_and_the_request_succeeds() {
    let config = EmulatorConfig {
        restore_rate: 1_000,
        ..EmulatorConfig::default()
    };
    let (emulator, base) = start(config).await;
    let client = ShopifyClient::new(client_for(&emulator, &base, static_token())).unwrap();
    let publication = emulator.online_store_publication_id();
    // Learn the page cost first, then empty the bucket.
    let mut pager = client.products_updated_since(None, &publication, Currency::USD);
    let first = pager.next_page().await.unwrap().unwrap();
    let requested = first.requested_cost.unwrap();
    emulator.faults().drain_bucket();

    let second = pager.next_page().await.unwrap();

    assert!(second.is_some());
    let stats = client.throttle_stats();
    // Either the local limiter or a THROTTLED retry had to wait for about
    // `requested` points at 1,000 points/s.
    let expected = Duration::from_millis(u64::from(requested)) / 2;
    assert!(
        stats.wait >= expected,
        "waited {:?} for {requested} points",
        stats.wait
    );
    assert!(stats.wait < Duration::from_secs(3), "{:?}", stats.wait);
}

#[tokio::test]
async fn an_injected_throttle_is_retried() {
    let (emulator, client) = default_client().await;
    emulator.faults().throttle_next(1);

    client.shop_facts().await.unwrap();

    assert_eq!(emulator.counters().throttled, 1);
    assert_eq!(client.throttle_stats().throttled, 1);
}

#[tokio::test]
async fn injected_server_errors_are_retried_until_success() {
    let (emulator, client) = default_client().await;
    emulator
        .faults()
        .fail_next(2, StatusCode::SERVICE_UNAVAILABLE);

    client.shop_facts().await.unwrap();

    let counters = emulator.counters();
    assert_eq!(counters.injected_failures, 2);
    assert_eq!(counters.requests, 3);
}

#[tokio::test]
async fn injected_server_errors_beyond_the_cap_fail() {
    let (emulator, client) = default_client().await;
    emulator.faults().fail_next(10, StatusCode::BAD_GATEWAY);

    let err = client.shop_facts().await.unwrap_err();

    assert!(matches!(err, ShopifyError::Http { status: 502 }), "{err:?}");
    assert_eq!(emulator.counters().requests, 4);
}

#[tokio::test]
async fn paging_fetches_every_product_with_every_variant_within_the_cost_target() {
    // 14 variants per product: more than fit inline, so the rest are paged.
    let config = fast_config(ShopData::generated(45, 14, 7));
    let (emulator, base) = start(config).await;
    let mut settings = client_for(&emulator, &base, static_token());
    settings.query_cost_target = 300;
    let client = ShopifyClient::new(settings).unwrap();
    let publication = emulator.online_store_publication_id();

    let mut pager = client.products_updated_since(None, &publication, Currency::USD);
    let mut products = Vec::new();
    let mut costs = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        costs.extend(page.requested_cost);
        products.extend(page.products);
    }

    assert!(costs.iter().all(|c| *c <= 300), "{costs:?}");
    assert!(
        emulator
            .counters()
            .by_operation
            .contains_key("ProductVariantsPage")
    );
    let want: BTreeMap<String, usize> = emulator
        .products()
        .iter()
        .map(|p| (p.id.to_string(), p.variants.len()))
        .collect();
    let got: BTreeMap<String, usize> = products
        .iter()
        .map(|p| (p.id.clone(), p.variants.len()))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn an_incremental_pass_returns_only_products_updated_since_the_cursor() {
    let (emulator, client) = default_client().await;
    let publication = emulator.online_store_publication_id();
    let all = page_all(&client, &publication, Currency::USD).await;
    let cursor = all.iter().map(|p| p.updated_at).max().unwrap();
    let target = emulator.products()[0].gid();
    emulator
        .update_product(&target, |p| p.title = "Renamed".into())
        .unwrap();

    let mut pager = client.products_updated_since(Some(cursor), &publication, Currency::USD);
    let mut changed = Vec::new();
    let mut newest = None;
    while let Some(page) = pager.next_page().await.unwrap() {
        newest = newest.max(page.max_updated_at);
        changed.extend(page.products);
    }

    let renamed: Vec<&Product> = changed.iter().filter(|p| p.title == "Renamed").collect();
    assert_eq!(renamed.len(), 1);
    assert!(changed.len() < all.len(), "only recent changes come back");
    assert!(newest.unwrap() > cursor);
}

/// Runs a bulk sync and a paged sync of `data` and asserts both yield the
/// same domain products.
async fn assert_bulk_matches_paging(data: ShopData) {
    let expected_roots = data.products.len() as u64;
    let (emulator, base) = start(fast_config(data)).await;
    let client = ShopifyClient::new(client_for(&emulator, &base, static_token())).unwrap();
    let publication = emulator.online_store_publication_id();
    let store = Store::temporary().unwrap();
    let scratch = store.scratch().unwrap();

    let outcome = client
        .run_bulk_products(&publication, &scratch, |_| {})
        .await
        .unwrap();
    let mut bulk = Vec::new();
    let report = assemble_bulk_products(&scratch, Currency::USD, |p| bulk.push(p)).unwrap();

    assert_eq!(outcome.roots, expected_roots);
    assert_eq!(report.products, expected_roots);
    assert_eq!(report.orphans, 0);
    assert_eq!(report.invalid, 0);
    let mut paged = page_all(&client, &publication, Currency::USD).await;
    paged.sort_by(|a, b| a.id.cmp(&b.id));
    bulk.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(bulk.len(), paged.len());
    for (b, p) in bulk.iter().zip(&paged) {
        assert_eq!(b, p, "product {} differs between bulk and paging", b.id);
    }
}

#[tokio::test]
async fn a_bulk_sync_of_the_sample_shop_reassembles_the_same_products_as_paging() {
    assert_bulk_matches_paging(ShopData::sample()).await;
}

#[tokio::test]
async fn a_bulk_sync_of_a_generated_shop_reassembles_the_same_products_as_paging() {
    assert_bulk_matches_paging(ShopData::generated(60, 3, 11)).await;
}

#[tokio::test]
async fn a_failed_bulk_operation_surfaces_its_error_code() {
    let (emulator, client) = default_client().await;
    emulator
        .faults()
        .fail_bulk_operations(1, BulkErrorCode::InternalServerError);
    let store = Store::temporary().unwrap();
    let scratch = store.scratch().unwrap();

    let err = client
        .run_bulk_products(&emulator.online_store_publication_id(), &scratch, |_| {})
        .await
        .unwrap_err();

    match err {
        ShopifyError::BulkFailed {
            status, error_code, ..
        } => {
            assert_eq!(status, "FAILED");
            assert_eq!(error_code.as_deref(), Some("INTERNAL_SERVER_ERROR"));
        }
        other => panic!("{other:?}"),
    }
}
