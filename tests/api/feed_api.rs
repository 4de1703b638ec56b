//! Pushing a real published ACP feed (a shop synced from the Shopify
//! emulator) to the ACP Feed API emulator, through the stored
//! `acp.jsonl.gz` artifact.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::time::Duration;

use acp_bridge::delivery::feed_api::{
    FeedApiClient, FeedApiError, FeedApiFailure, FeedApiReport, FeedApiSettings, FeedApiState,
    acp_artifact_source,
};
use acp_bridge::emulator::feed_api::{FeedApiEmulator, FeedApiEmulatorConfig, FeedApiServer};
use acp_bridge::emulator::shopify::Price;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const KEY: &str = FeedApiEmulatorConfig::DEFAULT_API_KEY;

struct Setup {
    shop: TestEmulator,
    app: TestApp,
    feed_api: FeedApiServer,
}

async fn setup() -> Setup {
    let shop = spawn_emulator(sample_emulator_config()).await;
    let app = spawn_app(&settings_toml(&shop_toml("demo", &shop.url, TOKEN, ""))).await;
    app.sync("demo", true).await.unwrap();
    let feed_api = FeedApiEmulator::new(FeedApiEmulatorConfig {
        spec_dir: acp_spec_dir(),
        ..FeedApiEmulatorConfig::default()
    })
    .unwrap()
    .start()
    .await
    .unwrap();
    Setup {
        shop,
        app,
        feed_api,
    }
}

fn settings(setup: &Setup, key: &str) -> FeedApiSettings {
    let mut s = FeedApiSettings::new(setup.feed_api.base_url().clone(), key.into());
    s.target_country = Some("US".into());
    // Small batches so the sample shop needs several.
    s.batch_size = NonZeroUsize::new(4).unwrap();
    s.backoff_base = Duration::from_millis(1);
    s.backoff_cap = Duration::from_millis(10);
    s
}

/// Pushes the shop's published generation.
async fn push(
    setup: &Setup,
    key: &str,
    state: &mut FeedApiState,
) -> Result<FeedApiReport, FeedApiFailure> {
    let shop = TestApp::shop("demo");
    let generation = setup
        .app
        .store
        .feed_meta(&shop)
        .unwrap()
        .expect("a published feed")
        .generation;
    FeedApiClient::new(settings(setup, key))
        .unwrap()
        .sync(
            acp_artifact_source(setup.app.store.clone(), shop, generation),
            state,
        )
        .await
}

/// The served ACP products, by id.
async fn published(app: &TestApp) -> BTreeMap<String, Value> {
    app.acp_products("demo")
        .await
        .into_iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), p))
        .collect()
}

/// What the feed API holds, by id.
fn held(setup: &Setup, state: &FeedApiState) -> BTreeMap<String, Value> {
    setup
        .feed_api
        .emulator()
        .products(state.feed_id.as_deref().unwrap())
        .unwrap()
        .into_iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), p))
        .collect()
}

fn patches(setup: &Setup) -> u64 {
    setup
        .feed_api
        .emulator()
        .counters()
        .by_route
        .get("PATCH /feeds/{id}/products")
        .copied()
        .unwrap_or(0)
}

/// The emulator validates every body against schema.feed.json: no 4xx
/// means every body the client sent was valid.
fn assert_no_request_was_rejected(setup: &Setup) {
    let counters = setup.feed_api.emulator().counters();
    assert_eq!(counters.rejected, 0, "{counters:?}");
    assert!(counters.requests > 0);
}

#[tokio::test]
async fn the_published_feed_is_pushed_once_and_then_only_its_changes() {
    let setup = setup().await;
    let mut state = FeedApiState::default();

    // First push: the feed is created and receives every product.
    let first = push(&setup, KEY, &mut state).await.unwrap();
    let products = published(&setup.app).await;
    assert!(products.len() > 4, "the sample shop needs several batches");
    assert!(first.created_feed);
    assert_eq!(first.upserted as usize, products.len());
    assert_eq!(first.batches as usize, products.len().div_ceil(4));
    assert_eq!(held(&setup, &state), products);
    assert_eq!(setup.feed_api.emulator().counters().largest_patch, 4);
    let patches_after_first = patches(&setup);

    // Nothing changed: nothing is sent.
    let second = push(&setup, KEY, &mut state).await.unwrap();
    assert!(!second.created_feed);
    assert_eq!(second.unchanged as usize, products.len());
    assert_eq!((second.upserted, second.batches), (0, 0));
    assert_eq!(patches(&setup), patches_after_first);

    // One product's price changes in Shopify: only it is sent.
    let (changed_id, changed) = products.iter().next().unwrap();
    let variant_id = changed["variants"][0]["id"].as_str().unwrap().to_owned();
    setup
        .shop
        .emulator
        .update_product(&format!("gid://shopify/Product/{changed_id}"), |p| {
            for v in &mut p.variants {
                if v.id.to_string() == variant_id {
                    v.price = Price::new(321, 0);
                    v.compare_at_price = None;
                }
            }
        })
        .unwrap();
    setup.app.sync("demo", false).await.unwrap();
    let third = push(&setup, KEY, &mut state).await.unwrap();

    let now = published(&setup.app).await;
    assert_eq!(now[changed_id]["variants"][0]["price"]["amount"], 32100);
    assert_eq!((third.upserted, third.batches), (1, 1));
    assert_eq!(third.unchanged as usize, products.len() - 1);
    assert_eq!(held(&setup, &state), now);
    assert_no_request_was_rejected(&setup);
}

#[tokio::test]
async fn a_product_that_leaves_the_feed_is_marked_unavailable() {
    let setup = setup().await;
    let mut state = FeedApiState::default();
    push(&setup, KEY, &mut state).await.unwrap();
    let before = published(&setup.app).await;
    let gone = before.keys().next().unwrap().clone();

    let online = setup.shop.emulator.online_store_publication_id();
    setup
        .shop
        .emulator
        .unpublish(&format!("gid://shopify/Product/{gone}"), &online)
        .unwrap();
    setup.app.sync("demo", false).await.unwrap();
    let report = push(&setup, KEY, &mut state).await.unwrap();

    assert!(!published(&setup.app).await.contains_key(&gone));
    assert_eq!((report.removed, report.upserted), (1, 0));
    let held = held(&setup, &state);
    let retired = &held[&gone];
    assert_eq!(retired["title"], before[&gone]["title"]);
    let variants = retired["variants"].as_array().unwrap();
    assert_eq!(
        variants.len(),
        before[&gone]["variants"].as_array().unwrap().len()
    );
    for variant in variants {
        assert_eq!(
            variant["availability"],
            json!({"available": false, "status": "discontinued"})
        );
    }
    assert!(!state.products.contains_key(&gone));
    // Every other product is untouched.
    for (id, product) in &before {
        if *id != gone {
            assert_eq!(&held[id], product);
        }
    }
    assert_no_request_was_rejected(&setup);
}

#[tokio::test]
async fn writes_the_host_lost_are_repaired_from_the_readback_in_the_same_run() {
    let setup = setup().await;
    let mut state = FeedApiState::default();
    let products = published(&setup.app).await;
    let batches = products.len().div_ceil(4);
    // Every PATCH of the first pass is answered as accepted but drops its
    // first product.
    setup.feed_api.emulator().faults().lose_writes_next(
        u32::try_from(batches).unwrap(),
        NonZeroUsize::new(4).unwrap(),
    );

    let report = push(&setup, KEY, &mut state).await.unwrap();

    assert_eq!(
        setup.feed_api.emulator().counters().products_lost as usize,
        batches
    );
    assert_eq!(report.upserted as usize, products.len());
    assert_eq!(report.repaired as usize, batches);
    assert_eq!(held(&setup, &state), products);
    assert_eq!(state.products.len(), products.len());

    // A product the host drops between runs comes back on the next run.
    let (victim, _) = products.iter().last().unwrap();
    assert!(
        setup
            .feed_api
            .emulator()
            .remove_product(state.feed_id.as_deref().unwrap(), victim)
    );
    let next = push(&setup, KEY, &mut state).await.unwrap();
    assert_eq!((next.upserted, next.repaired), (0, 1));
    assert_eq!(held(&setup, &state), products);
    assert_no_request_was_rejected(&setup);
}

#[tokio::test]
async fn a_wrong_key_fails_clearly_and_a_failing_host_is_retried_until_it_recovers() {
    let setup = setup().await;
    let mut state = FeedApiState::default();

    let failure = push(&setup, "wrong-key", &mut state).await.unwrap_err();

    assert!(
        matches!(
            *failure.error,
            FeedApiError::Unauthorized { status: 401, .. }
        ),
        "{:?}",
        failure.error
    );
    assert_eq!(state, FeedApiState::default());
    assert!(setup.feed_api.emulator().feeds().is_empty());

    setup
        .feed_api
        .emulator()
        .faults()
        .fail_next(2, StatusCode::INTERNAL_SERVER_ERROR);
    let report = push(&setup, KEY, &mut state).await.unwrap();

    assert_eq!(report.retries, 2);
    assert_eq!(held(&setup, &state), published(&setup.app).await);
    assert_no_request_was_rejected(&setup);
}
