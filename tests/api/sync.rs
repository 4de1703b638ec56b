//! Full and incremental syncs against the emulator, end to end through the
//! served feed.

use std::collections::BTreeSet;

use acp_bridge::emulator::shopify::{Price, ProductStatus};
use serde_json::Value;

use crate::helpers::*;

fn item_ids(rows: &[Value]) -> BTreeSet<String> {
    rows.iter()
        .map(|r| r["item_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn sample_app() -> (TestEmulator, TestApp) {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;
    (emu, app)
}

#[tokio::test]
async fn full_sync_publishes_one_row_per_eligible_variant() {
    let (emu, app) = sample_app().await;

    let summary = app.sync("demo", true).await.unwrap();

    let rows = app.openai_rows("demo").await;
    let report = app.report("demo").await;
    let invalid: BTreeSet<String> = report["report"]["invalid_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["item_id"].as_str().unwrap().to_owned())
        .collect();
    let eligible: BTreeSet<String> = eligible_variant_ids(&emu.emulator).into_iter().collect();
    // Every eligible variant is either a published row or an invalid row
    // with reasons; nothing else is published.
    let published = item_ids(&rows);
    assert!(!published.is_empty());
    assert_eq!(
        published.union(&invalid).cloned().collect::<BTreeSet<_>>(),
        eligible
    );
    assert!(published.is_disjoint(&invalid));
    assert_eq!(summary.feed, "published");
    assert_eq!(summary.rows_valid as usize, rows.len());
    assert_eq!(
        summary.products_written as usize,
        emu.emulator.product_count()
    );
    // Drafts, archived and unpublished products are listed with a reason.
    let excluded = report["report"]["excluded_products"].as_array().unwrap();
    let not_eligible = emu
        .emulator
        .products()
        .iter()
        .filter(|p| {
            p.variants
                .iter()
                .all(|v| !eligible.contains(&v.id.to_string()))
        })
        .count();
    assert_eq!(excluded.len(), not_eligible);
    assert!(
        excluded
            .iter()
            .all(|e| !e["reason"].as_str().unwrap().is_empty())
    );
    // Rows of one product share group_id; variant rows carry variant_dict.
    let multi = rows
        .iter()
        .find(|r| r["listing_has_variations"] == true)
        .unwrap();
    assert!(multi["variant_dict"].is_object());
    assert!(
        rows.iter()
            .filter(|r| r["group_id"] == multi["group_id"])
            .count()
            > 1
    );
}

#[tokio::test]
async fn item_ids_are_stable_and_an_unchanged_catalog_publishes_nothing_new() {
    let (_emu, app) = sample_app().await;
    app.sync("demo", true).await.unwrap();
    let first = app.openai_rows("demo").await;
    let etag_first = app.get("/feeds/demo/openai.jsonl.gz").await.headers()["etag"].clone();

    let again = app.sync("demo", true).await.unwrap();

    assert_eq!(again.feed, "unchanged");
    assert_eq!(again.products_written, 0);
    let second = app.openai_rows("demo").await;
    assert_eq!(item_ids(&first), item_ids(&second));
    assert_eq!(
        app.get("/feeds/demo/openai.jsonl.gz").await.headers()["etag"],
        etag_first
    );
}

#[tokio::test]
async fn incremental_sync_picks_up_price_and_stock_edits() {
    let (emu, app) = sample_app().await;
    app.sync("demo", true).await.unwrap();
    let rows = app.openai_rows("demo").await;
    let in_stock = rows
        .iter()
        .find(|r| r["availability"] == "in_stock" && r.get("sale_price").is_none())
        .unwrap();
    let item = in_stock["item_id"].as_str().unwrap().to_owned();
    let product_gid = format!(
        "gid://shopify/Product/{}",
        in_stock["group_id"].as_str().unwrap()
    );
    let variant_gid = format!("gid://shopify/ProductVariant/{item}");

    emu.emulator
        .update_product(&product_gid, |p| {
            for v in &mut p.variants {
                if v.id.to_string() == item {
                    v.price = Price::new(123, 45);
                    v.compare_at_price = None;
                }
            }
        })
        .unwrap();
    emu.emulator.set_inventory(&variant_gid, 0).unwrap();
    let summary = app.sync("demo", false).await.unwrap();

    assert_eq!(summary.kind, acp_bridge::store::SyncKind::Incremental);
    assert_eq!(summary.products_written, 1);
    assert_eq!(summary.feed, "published");
    let rows = app.openai_rows("demo").await;
    let row = rows.iter().find(|r| r["item_id"] == item.as_str()).unwrap();
    assert_eq!(row["price"], "123.45 USD");
    let policy_continue = emu
        .emulator
        .product(&product_gid)
        .unwrap()
        .variants
        .iter()
        .any(|v| v.id.to_string() == item && v.inventory_policy.as_str() == "CONTINUE");
    let expected = if policy_continue {
        "backorder"
    } else {
        "out_of_stock"
    };
    assert_eq!(row["availability"], expected);
    let status: Value = app.admin_get("/admin/status").await.json().await.unwrap();
    assert_eq!(status[0]["feed"]["rows_changed"], 1);
}

#[tokio::test]
async fn unpublished_and_archived_products_leave_the_feed_on_the_next_incremental_sync() {
    let (emu, app) = sample_app().await;
    app.sync("demo", true).await.unwrap();
    let rows = app.openai_rows("demo").await;
    let groups: Vec<String> = rows
        .iter()
        .map(|r| r["group_id"].as_str().unwrap().to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (unpublish, archive) = (&groups[0], &groups[1]);
    let online = emu.emulator.online_store_publication_id();

    emu.emulator
        .unpublish(&format!("gid://shopify/Product/{unpublish}"), &online)
        .unwrap();
    emu.emulator
        .set_status(
            &format!("gid://shopify/Product/{archive}"),
            ProductStatus::Archived,
        )
        .unwrap();
    let summary = app.sync("demo", false).await.unwrap();

    assert_eq!(summary.products_written, 2);
    let rows = app.openai_rows("demo").await;
    assert!(rows.iter().all(|r| r["group_id"] != unpublish.as_str()));
    assert!(rows.iter().all(|r| r["group_id"] != archive.as_str()));
    let report = app.report("demo").await;
    let reasons: Vec<(String, String)> = report["report"]["excluded_products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["product_id"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_lowercase(),
            )
        })
        .collect();
    let reason_of = |id: &str| reasons.iter().find(|(p, _)| p == id).unwrap().1.clone();
    assert!(reason_of(unpublish).contains("publish"), "{reasons:?}");
    assert!(reason_of(archive).contains("archived"), "{reasons:?}");
}

#[tokio::test]
async fn deletions_are_removed_by_the_full_sync_reconciliation() {
    let (emu, app) = sample_app().await;
    app.sync("demo", true).await.unwrap();
    let rows = app.openai_rows("demo").await;
    let victim = rows[0]["group_id"].as_str().unwrap().to_owned();
    let victim_rows = rows
        .iter()
        .filter(|r| r["group_id"] == victim.as_str())
        .count();

    emu.emulator
        .delete_product(&format!("gid://shopify/Product/{victim}"))
        .unwrap();
    // An incremental sync cannot see a deletion (the product is just gone)...
    app.sync("demo", false).await.unwrap();
    assert!(
        app.openai_rows("demo")
            .await
            .iter()
            .any(|r| r["group_id"] == victim.as_str())
    );
    // ...the full sync's reconciliation removes it.
    let summary = app.sync("demo", true).await.unwrap();

    assert_eq!(summary.products_removed, 1);
    let after = app.openai_rows("demo").await;
    assert!(after.iter().all(|r| r["group_id"] != victim.as_str()));
    assert_eq!(after.len(), rows.len() - victim_rows);
    assert!(
        app.store
            .product(&TestApp::shop("demo"), &victim)
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_feed_that_loses_too_many_rows_is_held_back_not_published() {
    let (emu, app) = sample_app().await;
    app.sync("demo", true).await.unwrap();
    let before = app.openai_rows("demo").await;
    let generation_before = app
        .store
        .feed_meta(&TestApp::shop("demo"))
        .unwrap()
        .unwrap()
        .generation;

    // Delete products until more than 20 % of the rows are gone.
    let mut gone = 0usize;
    for product in emu.emulator.products() {
        if gone * 100 > before.len() * 30 {
            break;
        }
        gone += before
            .iter()
            .filter(|r| r["group_id"] == product.id.to_string().as_str())
            .count();
        emu.emulator
            .delete_product(&product.id.to_string())
            .unwrap();
    }
    let summary = app.sync("demo", true).await.unwrap();

    assert_eq!(summary.feed, "held");
    assert_eq!(app.openai_rows("demo").await.len(), before.len());
    let meta = app
        .store
        .feed_meta(&TestApp::shop("demo"))
        .unwrap()
        .unwrap();
    assert_eq!(meta.generation, generation_before);
    let status: Value = app.admin_get("/admin/status").await.json().await.unwrap();
    assert_eq!(
        status[0]["held_feed"]["rows_valid"].as_u64().unwrap() as usize,
        before.len() - gone
    );
}

#[tokio::test]
async fn every_acp_product_validates_against_the_official_feed_schema() {
    let (_emu, app) = sample_app().await;
    app.sync("demo", true).await.unwrap();
    let path = acp_spec_dir().join("2026-04-17/schema.feed.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "ACP feed schema missing at {} ({e}); set ACP_SPEC_DIR to the acp-spec folder",
            path.display()
        )
    });
    let mut schema: Value = serde_json::from_str(&text).unwrap();
    schema["$ref"] = Value::String("#/$defs/Product".into());
    let validator = jsonschema::draft202012::options().build(&schema).unwrap();

    let products = app.acp_products("demo").await;
    let rows = app.openai_rows("demo").await;

    assert!(!products.is_empty());
    for product in &products {
        let errors: Vec<String> = validator
            .iter_errors(product)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", product["id"]);
    }
    // The ACP form carries exactly the valid rows, as variants.
    let variants: usize = products
        .iter()
        .map(|p| p["variants"].as_array().unwrap().len())
        .sum();
    assert_eq!(variants, rows.len());
}

#[tokio::test]
async fn the_merchants_featured_image_leads_after_a_reorder() {
    let (emu, app) = sample_app().await;
    app.sync("demo", true).await.unwrap();
    let product = emu
        .emulator
        .products()
        .into_iter()
        .filter(|p| p.status == ProductStatus::Active)
        .find(|p| {
            p.media.len() >= 3
                && app
                    .store
                    .product(&TestApp::shop("demo"), &p.id.to_string())
                    .unwrap()
                    .is_some_and(|stored| stored.published)
        })
        .expect("a published product with several images");
    let last_url = |p: &acp_bridge::emulator::shopify::Product| match &p.media.last().unwrap().kind
    {
        acp_bridge::emulator::shopify::MediaKind::Image(image) => image.url.clone(),
        _ => panic!("sample media are images"),
    };
    let new_featured = last_url(&product);

    // The merchant drags the last image to the front in the admin.
    emu.emulator
        .update_product(&product.id.to_string(), |p| p.media.rotate_right(1))
        .unwrap();
    app.sync("demo", false).await.unwrap();

    let acp = app.acp_products("demo").await;
    let listed = acp
        .iter()
        .find(|p| p["id"] == product.id.to_string().as_str())
        .unwrap();
    assert_eq!(listed["media"][0]["url"], new_featured.as_str());
    // A full sync (bulk, no positions in the output) agrees.
    let summary = app.sync("demo", true).await.unwrap();
    assert_eq!(summary.products_written, 0);
}
