//! The HTTP surface: feed downloads, caching headers, auth, errors, metrics.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn feeds_carry_an_etag_and_answer_304_when_unchanged() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;
    app.sync("demo", true).await.unwrap();

    // A client that shows the bytes as served (no transparent gunzip).
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    for file in [
        "openai.jsonl.gz",
        "openai.csv.gz",
        "openai.tsv.gz",
        "acp.jsonl",
    ] {
        let first = raw
            .get(format!("http://{}/feeds/demo/{file}", app.public))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 200, "{file}");
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let length: usize = first.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(first.bytes().await.unwrap().len(), length);

        let second = raw
            .get(format!("http://{}/feeds/demo/{file}", app.public))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(second.status(), 304, "{file}");
        assert!(second.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_acp_feed_is_sent_gzip_encoded_only_to_clients_that_accept_it() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;
    app.sync("demo", true).await.unwrap();
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let url = format!("http://{}/feeds/demo/acp.jsonl", app.public);

    let plain = raw.get(&url).send().await.unwrap();
    let gzipped = raw
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();

    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(plain.headers()["etag"], gzipped.headers()["etag"]);
    let plain = plain.bytes().await.unwrap();
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gzipped.bytes().await.unwrap()[..]),
        &mut decoded,
    )
    .unwrap();
    assert_eq!(plain, decoded);
    let products: Vec<serde_json::Value> = std::str::from_utf8(&plain)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(products.len(), app.acp_products("demo").await.len());
}

#[tokio::test]
async fn csv_and_tsv_carry_the_same_rows_as_jsonl() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;
    app.sync("demo", true).await.unwrap();
    let jsonl = app.openai_rows("demo").await;

    for (file, delimiter) in [("openai.csv.gz", b','), ("openai.tsv.gz", b'\t')] {
        let bytes = app
            .get(&format!("/feeds/demo/{file}"))
            .await
            .bytes()
            .await
            .unwrap();
        let decoder = flate2::read::GzDecoder::new(&bytes[..]);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(decoder);
        let headers = reader.headers().unwrap().clone();
        let item_col = headers.iter().position(|h| h == "item_id").unwrap();
        let price_col = headers.iter().position(|h| h == "price").unwrap();
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), jsonl.len(), "{file}");
        for (record, row) in records.iter().zip(&jsonl) {
            assert_eq!(&record[item_col], row["item_id"].as_str().unwrap());
            assert_eq!(&record[price_col], row["price"].as_str().unwrap());
        }
    }
}

#[tokio::test]
async fn a_feed_bearer_token_is_required_when_configured() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let shop = shop_toml(
        "demo",
        &emu.url,
        TOKEN,
        "[shops.feed]\nbearer_token = \"feed-secret\"\n",
    );
    let app = spawn_app(&settings_toml(&shop)).await;
    app.sync("demo", true).await.unwrap();
    let url = format!("http://{}/feeds/demo/acp.jsonl", app.public);

    let anonymous = app.http.get(&url).send().await.unwrap();
    let wrong = app.http.get(&url).bearer_auth("nope").send().await.unwrap();
    let right = app
        .http
        .get(&url)
        .bearer_auth("feed-secret")
        .send()
        .await
        .unwrap();

    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["type"], "invalid_request");
    assert_eq!(wrong.status(), 401);
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn unknown_shops_and_files_get_errors_in_the_acp_shape() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;

    let not_synced = app.get("/feeds/demo/openai.jsonl.gz").await;
    let no_shop = app.get("/feeds/nope/openai.jsonl.gz").await;
    let no_file = app.get("/feeds/demo/openai.xml").await;

    assert_eq!(not_synced.status(), 503);
    assert_eq!(no_shop.status(), 404);
    assert_eq!(no_file.status(), 404);
    for response in [not_synced, no_shop, no_file] {
        let body: Value = response.json().await.unwrap();
        assert!(
            body["type"].is_string() && body["code"].is_string() && body["message"].is_string()
        );
    }
}

#[tokio::test]
async fn metrics_report_sync_runs_and_feed_rows_per_shop() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let app = spawn_app(&settings_toml(&shop_toml(
        "metricshop",
        &emu.url,
        TOKEN,
        "",
    )))
    .await;
    app.sync("metricshop", true).await.unwrap();

    let text = app.admin_get("/metrics").await.text().await.unwrap();

    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains("shop=\"metricshop\""))
            .unwrap_or_else(|| panic!("{name} missing in:\n{text}"))
            .to_owned()
    };
    assert!(line("acp_bridge_sync_runs_total").contains("outcome=\"ok\""));
    let rows: f64 = line("acp_bridge_feed_rows_valid")
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(rows as usize, app.openai_rows("metricshop").await.len());
    line("acp_bridge_feed_built_timestamp_seconds");
}
