//! Webhook freshness benchmark: how long after a change in Shopify the
//! served feed shows it, when Shopify's webhooks drive the update.
//!
//! `cargo bench --bench webhooks` (env: `BENCH_SIZES`, default
//! `1000,10000` products × 3 variants; `BENCH_CHANGES`, default 100).
//!
//! One process runs the Shopify emulator (generated catalog, a throttle
//! budget too large to matter, webhook delivery to loopback) and the daemon
//! (`Application`, temp data dir, public URL = its own listener, so it
//! registers its webhook subscriptions at start exactly as in production).
//! After a full sync, `BENCH_CHANGES` times, one after another: the price
//! of a random variant of the published feed goes up a cent in the emulator
//! (which sends `products/update`), and the clock runs until the store
//! publishes a feed generation in which that variant's row changed. The figure is an upper bound of "webhook arrived → change
//! served": it also counts the emulator's own delivery. It prints one JSON
//! report.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use acp_bridge::app::{AppOptions, Application};
use acp_bridge::config::Settings;
use acp_bridge::domain::ShopId;
use acp_bridge::emulator::shopify::{
    EmulatorConfig, Price, ShopData, ShopifyEmulator, WebhookSettings,
};
use acp_bridge::store::Store;
use serde_json::{Value, json};

const SHOP: &str = "bench";
/// A change not visible by then counts as failed.
const GIVE_UP: Duration = Duration::from_secs(30);

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sizes = env_list("BENCH_SIZES", &[1000, 10_000]);
    let changes = env_list("BENCH_CHANGES", &[100])[0];
    let mut runs = Vec::new();
    for products in sizes {
        eprintln!("{products} products x 3 variants, {changes} changes");
        runs.push(rt.block_on(run(products, changes)));
    }
    let report = json!({ "runs": runs, "peak_rss_mib": peak_rss_mib() });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
}

async fn run(products: usize, changes: usize) -> Value {
    let config = EmulatorConfig {
        shop_domain: format!("{SHOP}.myshopify.com"),
        bucket_size: 1_000_000_000,
        restore_rate: 100_000_000,
        webhooks: WebhookSettings::for_tests(3, Duration::from_millis(50)),
        ..EmulatorConfig::with_data(ShopData::generated(products, 3, 17))
    };
    let emulator = ShopifyEmulator::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    // `serve` points the emulator's own URLs (bulk downloads) at it.
    tokio::spawn(acp_bridge::emulator::shopify::serve(
        listener,
        emulator.clone(),
        std::future::pending(),
    ));

    // The daemon's own address is its public URL: reserve a port first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}/"
[admin]
listen = "127.0.0.1:0"
[shutdown]
deadline_secs = 5
[[shops]]
id = "{SHOP}"
[shops.shopify]
shop_domain = "{SHOP}.myshopify.com"
api_base_url = "{url}"
access_token = "{token}"
webhook_secret = "{secret}"
request_timeout_ms = 600000
[shops.schedule]
full_sync_cron = "@yearly"
incremental_interval_secs = 0
"#,
        token = EmulatorConfig::DEFAULT_TOKEN,
        secret = EmulatorConfig::DEFAULT_APP_SECRET,
    );
    let mut settings = Settings::from_toml(&text).expect("bench config");
    settings.data_dir = dir.path().to_path_buf();
    let store = Store::open(dir.path()).expect("store");
    let app = Application::build(
        settings,
        AppOptions {
            store: Some(store.clone()),
            no_initial_sync: true,
            ..AppOptions::default()
        },
    )
    .await
    .expect("daemon");
    let admin: SocketAddr = app.admin_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let started = Instant::now();
    let sync = reqwest::Client::new()
        .post(format!("http://{admin}/admin/shops/{SHOP}/sync?full=true"))
        .send()
        .await
        .expect("sync request");
    assert!(sync.status().is_success(), "full sync failed: {sync:?}");
    let sync_seconds = started.elapsed().as_secs_f64();
    let registered = Instant::now() + GIVE_UP;
    while emulator.webhook_subscriptions().len() < 6 {
        assert!(Instant::now() < registered, "webhooks never registered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let shop = ShopId::parse(SHOP).expect("shop");
    // Variants with a row in the published feed (drafts, unpublished
    // products and invalid rows have none, so their changes never show).
    let mut variants: Vec<String> = store
        .row_hashes(&shop)
        .expect("row hashes")
        .into_keys()
        .collect();
    variants.sort();
    let mut rng = fastrand::Rng::with_seed(99);
    let mut latencies = Vec::with_capacity(changes);
    let mut failed = 0usize;
    for _ in 0..changes {
        let item = variants[rng.usize(..variants.len())].clone();
        let rows = store.row_hashes(&shop).expect("row hashes");
        let before_row = rows.get(&item).copied();
        let before_generation = store
            .feed_meta(&shop)
            .expect("meta")
            .map_or(0, |m| m.generation);
        let price = emulator
            .products()
            .iter()
            .flat_map(|p| p.variants.iter())
            .find(|v| v.id.to_string() == item)
            .map(|v| v.price.0)
            .expect("the variant of a feed row");
        let t0 = Instant::now();
        emulator
            .set_price(
                &format!("gid://shopify/ProductVariant/{item}"),
                Price(price + 1),
            )
            .expect("price change");
        let mut seen = before_generation;
        let visible = loop {
            if t0.elapsed() > GIVE_UP {
                break None;
            }
            let generation = store
                .feed_meta(&shop)
                .expect("meta")
                .map_or(0, |m| m.generation);
            if generation != seen {
                seen = generation;
                let now = store.row_hashes(&shop).expect("row hashes");
                if now.get(&item).copied() != before_row {
                    break Some(t0.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        match visible {
            Some(d) => latencies.push(d.as_secs_f64() * 1000.0),
            None => failed += 1,
        }
        emulator.wait_for_webhooks().await;
    }
    latencies.sort_by(f64::total_cmp);
    let counters = emulator.counters();
    let _ = stop.send(());
    let _ = task.await;
    json!({
        "products": products,
        "variants_per_product": 3,
        "full_sync_seconds": round3(sync_seconds),
        "changes": changes,
        "not_visible_within_30s": failed,
        "change_to_served_ms": {
            "p50": round3(percentile(&latencies, 50.0)),
            "p90": round3(percentile(&latencies, 90.0)),
            "p99": round3(percentile(&latencies, 99.0)),
            "max": round3(latencies.last().copied().unwrap_or(f64::NAN)),
        },
        "graphql_requests": counters.requests,
        "throttled": counters.throttled,
    })
}
