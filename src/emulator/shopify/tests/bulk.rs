//! Bulk operations end to end: start, poll, download, JSONL shape, limits
//! and faults.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::emulator::shopify::{BulkErrorCode, ShopData};

fn bulk_products_query(emu: &ShopifyEmulator) -> String {
    BULK_PRODUCTS.replace("__PUBLICATION_ID__", &emu.online_store_publication_id())
}

async fn start(emu: &ShopifyEmulator, inner: &str) -> Value {
    let body = gql(emu, BULK_RUN, json!({ "query": inner })).await;
    body["data"]["bulkOperationRunQuery"].clone()
}

async fn download(emu: &ShopifyEmulator, url: &str) -> (StatusCode, String, Option<String>) {
    let path = url.strip_prefix(BASE).expect("URL on the emulator's base");
    let reply = send(emu, "GET", path, &[], axum::body::Body::empty()).await;
    let content_type = reply
        .headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (reply.status, reply.text, content_type)
}

#[tokio::test]
async fn a_bulk_query_completes_and_serves_shuffled_jsonl_with_parent_ids() {
    let emu = emulator_with(|c| c.bulk_completion_delay = Duration::from_millis(5));
    let started = start(&emu, &bulk_products_query(&emu)).await;
    assert_eq!(started["userErrors"], json!([]));
    assert_eq!(started["bulkOperation"]["status"], "CREATED");
    let id = started["bulkOperation"]["id"].as_str().unwrap().to_owned();

    emu.wait_for_bulk_operation(&id).await.unwrap();
    let body = gql(&emu, BULK_STATUS, json!({ "id": id })).await;
    let op = &body["data"]["bulkOperation"];
    assert_eq!(op["status"], "COMPLETED", "{body}");
    assert_eq!(op["errorCode"], Value::Null);
    assert_eq!(op["partialDataUrl"], Value::Null);
    let url = op["url"].as_str().unwrap();

    let (status, text, content_type) = download(&emu, url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/jsonl"));
    assert_eq!(op["fileSize"], text.len().to_string());
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(op["objectCount"], lines.len().to_string());
    assert_eq!(op["rootObjectCount"], "50");

    let products = emu.products();
    let product_ids: BTreeSet<String> = products.iter().map(|p| p.gid()).collect();
    let variant_ids: BTreeSet<String> = products
        .iter()
        .flat_map(|p| &p.variants)
        .map(|v| v.gid())
        .collect();
    let mut parent_of: BTreeMap<String, String> = BTreeMap::new();
    let (mut roots, mut variants, mut media) = (0, 0, 0);
    for line in &lines {
        let id = line["id"].as_str().map(str::to_owned);
        match line.get("__parentId").and_then(Value::as_str) {
            None => {
                roots += 1;
                assert!(product_ids.contains(id.as_deref().unwrap()));
                assert!(
                    line.get("variants").is_none() && line.get("media").is_none(),
                    "connections are split out"
                );
            }
            Some(parent) if id.as_deref().is_some_and(|i| variant_ids.contains(i)) => {
                variants += 1;
                assert!(
                    product_ids.contains(parent),
                    "variant parent {parent} is a product"
                );
                parent_of.insert(id.unwrap(), parent.to_owned());
            }
            Some(parent) => {
                media += 1;
                assert!(line["__typename"].is_string());
                assert!(
                    product_ids.contains(parent) || variant_ids.contains(parent),
                    "media parent {parent}"
                );
            }
        }
    }
    assert_eq!(roots, 50);
    assert_eq!(variants, variant_ids.len());
    assert_eq!(
        media,
        products.iter().map(|p| p.media.len()).sum::<usize>()
            + products
                .iter()
                .flat_map(|p| &p.variants)
                .map(|v| v.media_ids.len())
                .sum::<usize>()
    );

    // Children do not simply follow their parent.
    let follows_parent_or_sibling = lines.windows(2).filter(|w| {
        let Some(parent) = w[1].get("__parentId").and_then(Value::as_str) else {
            return false;
        };
        w[0]["id"] == parent || w[0].get("__parentId").and_then(Value::as_str) == Some(parent)
    });
    let child_lines = lines
        .iter()
        .filter(|l| l.get("__parentId").is_some())
        .count();
    assert!(
        follows_parent_or_sibling.count() < child_lines / 2,
        "children are interleaved"
    );

    let (status, ..) = download(&emu, &url.replace("sig=", "sig=0")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let unsigned = url.split('?').next().unwrap();
    assert_eq!(download(&emu, unsigned).await.0, StatusCode::FORBIDDEN);
    assert_eq!(emu.counters().bulk_operations_started, 1);
}

#[tokio::test]
async fn a_second_bulk_query_is_refused_while_the_limit_is_reached() {
    let emu = emulator_with(|c| {
        c.max_concurrent_bulk_operations = 1;
        c.bulk_completion_delay = Duration::from_secs(3600);
    });
    let first = start(&emu, "{ products { edges { node { id } } } }").await;
    let running = first["bulkOperation"]["id"].as_str().unwrap();
    let second = start(&emu, "{ products { edges { node { id } } } }").await;
    assert_eq!(second["bulkOperation"], Value::Null);
    let error = &second["userErrors"][0];
    assert_eq!(error["code"], "OPERATION_IN_PROGRESS");
    assert!(error["message"].as_str().unwrap().contains(running));
}

#[tokio::test]
async fn invalid_bulk_queries_come_back_as_user_errors() {
    let emu = emulator();
    for inner in [
        "{ shop { name } }",
        "{ products { nodes { title variants { nodes { id } } } } }",
        "{ products { nodez { id } } }",
    ] {
        let payload = start(&emu, inner).await;
        assert_eq!(payload["bulkOperation"], Value::Null, "{inner}");
        assert_eq!(payload["userErrors"][0]["code"], "INVALID", "{inner}");
        assert_eq!(payload["userErrors"][0]["field"], json!(["query"]));
    }
    assert_eq!(emu.counters().bulk_operations_started, 0);
}

#[tokio::test]
async fn bulk_faults_end_operations_failed_without_a_url() {
    let emu = emulator_with(|c| c.bulk_completion_delay = Duration::ZERO);
    emu.faults().fail_bulk_operations(1, BulkErrorCode::Timeout);
    let started = start(
        &emu,
        "{ products(query: \"status:active\") { edges { node { id } } } }",
    )
    .await;
    let id = started["bulkOperation"]["id"].as_str().unwrap().to_owned();
    let done = emu.wait_for_bulk_operation(&id).await.unwrap();
    assert_eq!(
        (done.status, done.error_code, done.url),
        ("FAILED", Some("TIMEOUT"), None)
    );

    let started = start(
        &emu,
        "{ products(query: \"status:active\") { edges { node { id } } } }",
    )
    .await;
    let done = emu
        .wait_for_bulk_operation(started["bulkOperation"]["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(done.status, "COMPLETED");
    assert_eq!(done.root_object_count, 47, "the query filter applies");
}

#[tokio::test]
async fn bulk_results_of_a_generated_catalog_have_one_line_per_node() {
    let emu = emulator_with(|c| {
        c.data = ShopData::generated(2_000, 3, 42);
        c.bulk_completion_delay = Duration::ZERO;
    });
    let started = start(
        &emu,
        "{ products { edges { node { id variants { edges { node { id sku } } } } } } }",
    )
    .await;
    let done = emu
        .wait_for_bulk_operation(started["bulkOperation"]["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(done.status, "COMPLETED");
    assert_eq!((done.root_object_count, done.object_count), (2_000, 8_000));
    let (status, text, _) = download(&emu, done.url.as_deref().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text.lines().count(), 8_000);
}
