//! Feed rebuilds that reuse the published generation's encoded blocks serve
//! exactly what a build from scratch serves.

use std::io::Read;

use acp_bridge::emulator::shopify::{EmulatorConfig, ProductStatus, ShopData};
use serde_json::Value;

use crate::helpers::*;

const FILES: [&str; 4] = [
    "openai.jsonl.gz",
    "openai.csv.gz",
    "openai.tsv.gz",
    "acp.jsonl",
];

/// What the daemon serves for one shop: each file's bytes (the ACP file
/// both decompressed and as stored gzip) and ETag.
#[derive(Debug, PartialEq)]
struct Served {
    files: Vec<(String, Vec<u8>, String)>,
    acp_gzip: Vec<u8>,
}

async fn served(app: &TestApp) -> Served {
    // No transparent decompression: the bytes as served.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let url = |file: &str| format!("http://{}/feeds/demo/{file}", app.public);
    let mut files = Vec::new();
    for file in FILES {
        let response = raw.get(url(file)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{file}");
        assert!(response.headers().get("content-encoding").is_none());
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        files.push((
            file.to_owned(),
            response.bytes().await.unwrap().to_vec(),
            etag,
        ));
    }
    let gzipped = raw
        .get(url("acp.jsonl"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let acp_gzip = gzipped.bytes().await.unwrap().to_vec();
    Served { files, acp_gzip }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// A daemon with an empty store, fully synced from `emu`.
async fn cold_app(emu: &TestEmulator) -> TestApp {
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;
    app.sync("demo", true).await.unwrap();
    app
}

/// The report without its generation number.
async fn report(app: &TestApp) -> Value {
    let mut report = app.report("demo").await["report"].clone();
    report["generation"] = Value::Null;
    report
}

/// Checks `app` serves what a cold build of the emulator's current catalog
/// serves, row for row in every format.
async fn assert_serves_a_cold_build(app: &TestApp, emu: &TestEmulator) {
    let cold = cold_app(emu).await;
    let (got, want) = (served(app).await, served(&cold).await);
    for ((name, got_bytes, got_etag), (_, want_bytes, want_etag)) in
        got.files.iter().zip(&want.files)
    {
        let (got_text, want_text) = if name == "acp.jsonl" {
            (
                String::from_utf8(got_bytes.clone()).unwrap(),
                String::from_utf8(want_bytes.clone()).unwrap(),
            )
        } else {
            (gunzip(got_bytes), gunzip(want_bytes))
        };
        assert_eq!(
            got_text.lines().count(),
            want_text.lines().count(),
            "{name}"
        );
        for (i, (g, w)) in got_text.lines().zip(want_text.lines()).enumerate() {
            assert_eq!(g, w, "{name} line {i}");
        }
        assert_eq!(got_bytes, want_bytes, "{name}");
        assert_eq!(got_etag, want_etag, "{name}");
    }
    assert_eq!(
        gunzip(&got.acp_gzip),
        String::from_utf8(got.files[3].1.clone()).unwrap()
    );
    assert_eq!(got.acp_gzip, want.acp_gzip);
    assert_eq!(report(app).await, report(&cold).await);
    // The served ACP products are the ones the OpenAI rows came from.
    let rows = app.openai_rows("demo").await;
    let variants: usize = app
        .acp_products("demo")
        .await
        .iter()
        .map(|p| p["variants"].as_array().unwrap().len())
        .sum();
    assert_eq!(variants, rows.len());
    cold.stop().await;
}

#[tokio::test]
async fn feeds_rebuilt_after_edits_additions_and_deletions_equal_a_cold_build() {
    let emu = spawn_emulator(EmulatorConfig::with_data(ShopData::generated(160, 3, 11))).await;
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;
    let first = app.sync("demo", true).await.unwrap();
    assert_eq!(first.feed, "published");
    let products = emu.emulator.products();
    let active: Vec<_> = products
        .iter()
        .filter(|p| p.status == ProductStatus::Active && !p.media.is_empty())
        .collect();

    // Incremental: one product renamed, one added.
    emu.emulator
        .update_product(&active[10].gid(), |p| p.title = "Renamed Alpine Tee".into())
        .unwrap();
    let mut added = active[20].clone();
    added.title = "Brand New Tee".into();
    emu.emulator.add_product(added);
    let incremental = app.sync("demo", false).await.unwrap();
    assert_eq!(incremental.products_written, 2);
    assert_eq!(incremental.feed, "published");
    assert_serves_a_cold_build(&app, &emu).await;
    let rows = app.openai_rows("demo").await;
    assert!(
        rows.iter()
            .any(|r| r["title"].as_str().unwrap().contains("Renamed Alpine Tee"))
    );

    // Full: one product deleted.
    emu.emulator.delete_product(&active[30].gid()).unwrap();
    let full = app.sync("demo", true).await.unwrap();
    assert_eq!(full.products_removed, 1);
    assert_serves_a_cold_build(&app, &emu).await;

    // Nothing changed: the feed stays as it is.
    let again = app.sync("demo", true).await.unwrap();
    assert_eq!(again.feed, "unchanged");
    app.stop().await;
}
