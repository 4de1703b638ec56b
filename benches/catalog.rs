//! Catalog benchmark: full sync via bulk operation, its floor, feed build,
//! and incremental sync's use of Shopify's throttle budget.
//!
//! `cargo bench --bench catalog` (env: `BENCH_PRODUCTS`, default 100000;
//! `BENCH_VARIANTS`, default 3; `BENCH_INCREMENTAL_PRODUCTS`, default 1500;
//! `BENCH_CHANGED_PERMILLE`, default 10, the share of products changed
//! before the feed rebuild; `BENCH_SYNC_REPEATS`, default 3, rounds of
//! floor and full sync, compared by their medians).
//!
//! Phases: the floor, the full sync, a cold feed build (nothing reused),
//! then a feed rebuild after changing 1 % of the stored products (written
//! straight into the store, spread at random over the catalog), which
//! reuses the encoded blocks of unchanged products; then incremental sync
//! utilisation.
//!
//! Each measured phase runs in its own child process (this binary re-executed
//! with `BENCH_PHASE`), so its peak RSS (`VmHWM`) is its own. The Shopify
//! emulator runs as a separate `acp-bridge emulator` process, so its memory is
//! not counted against the daemon's.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acp_bridge::config::Settings;
use acp_bridge::domain::ShopId;
use acp_bridge::emulator::shopify::{EmulatorConfig, ShopData, ShopifyEmulator};
use acp_bridge::feed::generation::{
    GenerationBuild, GenerationOutcome, GenerationSettings, Reuse, build_generation_with,
};
use acp_bridge::feed::{FeedFilter, FeedOptions};
use acp_bridge::store::{Store, SyncKind};
use acp_bridge::sync::ShopSync;
use futures_util::StreamExt;
use serde_json::{Value, json};

const TOKEN: &str = "shpat_bench_token";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Current resident set size of this process in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Peak resident set size of this process in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn shop_config(emulator_url: &str, data_dir: &str, restore_target: u32) -> Settings {
    Settings::from_toml(&format!(
        r#"
[store]
data_dir = "{data_dir}"
[[shops]]
id = "bench"
[shops.shopify]
shop_domain = "bench.myshopify.com"
api_base_url = "{emulator_url}"
access_token = "{TOKEN}"
query_cost_target = {restore_target}
request_timeout_ms = 600000
"#
    ))
    .expect("bench config")
}

fn main() {
    match std::env::var("BENCH_PHASE").as_deref() {
        Ok("floor") => phase(floor()),
        Ok("full") => phase(full_sync()),
        Ok("feed") => phase(feed_build()),
        Ok("change") => phase(change_products()),
        Ok("rebuild") => phase(feed_rebuild()),
        _ => orchestrate(),
    }
}

fn phase(fut: impl std::future::Future<Output = Value>) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut result = rt.block_on(fut);
    result["peak_rss_mib"] = json!(peak_rss_mib());
    println!("{result}");
}

fn run_phase(name: &str, envs: &[(&str, String)]) -> Value {
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.env("BENCH_PHASE", name).stderr(Stdio::inherit());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("phase process");
    assert!(out.status.success(), "phase {name} failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().expect("phase output");
    serde_json::from_str(line).expect("phase json")
}

/// Writes back the page cache's dirty data (`sync`) before a timed phase.
/// The phases run back to back: the full sync and the cold build leave a
/// few hundred MB unwritten, and a build's own `fsync` would otherwise wait
/// behind them. In a daemon a rebuild follows an incremental sync, which
/// writes little.
fn settle_disk() {
    match Command::new("sync").status() {
        Ok(status) if status.success() => {}
        other => eprintln!("  (could not run sync: {other:?})"),
    }
}

fn orchestrate() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let products = env_usize("BENCH_PRODUCTS", 100_000);
    let variants = env_usize("BENCH_VARIANTS", 3);
    eprintln!("starting the emulator with {products} products x {variants} variants");
    let mut emulator = Command::new(env!("CARGO_BIN_EXE_acp-bridge"))
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--products",
            &products.to_string(),
            "--variants",
            &variants.to_string(),
            "--token",
            TOKEN,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emulator process");
    let stdout = emulator.stdout.take().expect("emulator stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("emulator address");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .expect("emulator prints its address")
        .to_owned();

    let dir = tempfile::tempdir().expect("tempdir");
    // The floor and the sync alternate, each into a store of its own: the
    // emulator's bulk jobs and the shared cores make single runs vary by
    // ±15 %, so the ratio is taken between medians. The feed phases use
    // the last sync's store.
    let repeats = env_usize("BENCH_SYNC_REPEATS", 3).max(1);
    let mut floors = Vec::with_capacity(repeats);
    let mut fulls = Vec::with_capacity(repeats);
    let mut data_dir = String::new();
    for round in 1..=repeats {
        data_dir = dir
            .path()
            .join(format!("store-{round}"))
            .display()
            .to_string();
        let envs = [
            ("BENCH_URL", url.clone()),
            ("BENCH_DATA_DIR", data_dir.clone()),
        ];
        // Each timed phase starts with the page cache written back: a full
        // sync leaves its store and feed files unwritten, and the next
        // phase's writes (the emulator's 220 MB bulk file, the sync's
        // scratch file) would otherwise compete with writing them back.
        eprintln!("floor {round}/{repeats}: bulk operation + download + JSON parse");
        settle_disk();
        floors.push(run_phase("floor", &envs));
        eprintln!("full sync {round}/{repeats} end to end");
        settle_disk();
        fulls.push(run_phase("full", &envs));
        if round < repeats {
            // Only the last store is read again.
            let _ = std::fs::remove_dir_all(&data_dir);
        }
    }
    let envs = [
        ("BENCH_URL", url.clone()),
        ("BENCH_DATA_DIR", data_dir.clone()),
    ];
    eprintln!("feed build from the synced store");
    settle_disk();
    let feed = run_phase("feed", &envs);
    eprintln!("changing 1 % of the products in the store");
    let changed = run_phase("change", &envs);
    eprintln!("feed rebuild after the change");
    settle_disk();
    let mut rebuild = run_phase("rebuild", &envs);
    rebuild["products_changed"] = changed["products_changed"].clone();
    let _ = emulator.kill();
    let _ = emulator.wait();

    eprintln!("incremental sync against an in-process emulator at 100 points/s");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let incremental = rt.block_on(incremental_utilisation(env_usize(
        "BENCH_INCREMENTAL_PRODUCTS",
        1500,
    )));

    let floor_s = median(&floors, "seconds");
    let sync_s = median(&fulls, "sync_seconds");
    let peak_rss = fulls
        .iter()
        .filter_map(|f| f["peak_rss_mib"].as_f64())
        .fold(f64::NAN, f64::max);
    let report = json!({
        "products": products,
        "variants_per_product": variants,
        "floor_runs": floors,
        "full_sync_runs": fulls,
        "floor_median_seconds": floor_s,
        "full_sync_median_seconds": sync_s,
        "full_sync_peak_rss_mib_max": peak_rss,
        "full_sync_vs_floor": sync_s / floor_s,
        "full_sync_vs_floor_per_round": floors
            .iter()
            .zip(&fulls)
            .map(|(f, s)| s["sync_seconds"].as_f64().unwrap_or(f64::NAN)
                / f["seconds"].as_f64().unwrap_or(f64::NAN))
            .collect::<Vec<_>>(),
        "feed_build": feed,
        "feed_rebuild_after_changes": rebuild,
        "incremental": incremental,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    let mut out = std::io::stdout();
    let _ = writeln!(out);
}

/// The median of `field` over phase reports.
fn median(runs: &[Value], field: &str) -> f64 {
    let mut values: Vec<f64> = runs.iter().filter_map(|r| r[field].as_f64()).collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

async fn graphql(http: &reqwest::Client, url: &str, query: &str, variables: Value) -> Value {
    http.post(format!("{url}/admin/api/2026-10/graphql.json"))
        .header("X-Shopify-Access-Token", TOKEN)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("graphql request")
        .json()
        .await
        .expect("graphql json")
}

/// The floor: what any client must do to read the catalog by bulk
/// operation: start it, wait for it, download the JSONL and parse each line.
async fn floor() -> Value {
    let url = std::env::var("BENCH_URL").expect("BENCH_URL");
    let http = reqwest::Client::new();
    let started = Instant::now();
    let pubs = graphql(
        &http,
        &url,
        "{ publications(first: 20) { nodes { id catalog { __typename title } } } }",
        json!({}),
    )
    .await;
    let publication = pubs["data"]["publications"]["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|p| p["catalog"]["title"] == "Online Store"))
        .and_then(|p| p["id"].as_str())
        .expect("online store publication")
        .to_owned();
    let inner = acp_bridge::source::shopify::bulk_products_query(&publication);
    let start = graphql(
        &http,
        &url,
        "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { message } } }",
        json!({ "q": inner }),
    )
    .await;
    let id = start["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
        .as_str()
        .expect("bulk id")
        .to_owned();
    let download = loop {
        let status = graphql(
            &http,
            &url,
            "query($id: ID!) { bulkOperation(id: $id) { status url } }",
            json!({ "id": id }),
        )
        .await;
        let op = &status["data"]["bulkOperation"];
        if op["status"] == "COMPLETED" {
            break op["url"].as_str().expect("bulk url").to_owned();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut stream = http
        .get(&download)
        .send()
        .await
        .expect("download")
        .bytes_stream();
    let mut pending: Vec<u8> = Vec::new();
    let (mut lines, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        bytes += chunk.len() as u64;
        pending.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(pos) = pending[start..].iter().position(|b| *b == b'\n') {
            let line = &pending[start..start + pos];
            let value: Value = serde_json::from_slice(line).expect("jsonl line");
            std::hint::black_box(&value);
            lines += 1;
            start += pos + 1;
        }
        pending.drain(..start);
    }
    json!({ "seconds": started.elapsed().as_secs_f64(), "lines": lines, "bytes": bytes })
}

async fn full_sync() -> Value {
    let url = std::env::var("BENCH_URL").expect("BENCH_URL");
    let data_dir = std::env::var("BENCH_DATA_DIR").expect("BENCH_DATA_DIR");
    let settings = shop_config(&url, &data_dir, 400);
    let store = Store::open(&settings.data_dir).expect("store");
    let job = ShopSync::new(settings.shops[0].clone(), store.clone()).expect("client");
    let sync_done = std::sync::Mutex::new(None::<Instant>);
    let started = Instant::now();
    let summary = job
        .run_once(SyncKind::Full, &|p| {
            if let acp_bridge::sync::SyncProgress::Stage(stage) = p {
                eprintln!(
                    "  {:>6.1}s rss {:>7.1} MiB  {stage}",
                    started.elapsed().as_secs_f64(),
                    rss_mib()
                );
            }
            if let acp_bridge::sync::SyncProgress::Stage("building feed") = p {
                *sync_done.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            }
        })
        .await
        .expect("full sync");
    let total = started.elapsed().as_secs_f64();
    let sync_seconds = sync_done
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .map_or(total, |t| (t - started).as_secs_f64());
    store.flush().expect("flush");
    json!({
        "sync_seconds": sync_seconds,
        "total_seconds_with_feed": total,
        "products": summary.products_written,
        "rows_valid": summary.rows_valid,
        "rows_invalid": summary.rows_invalid,
        "products_per_second": summary.products_written as f64 / sync_seconds,
    })
}

/// The store of the synced shop, and the feed options and filter the
/// feed phases build with.
fn feed_inputs() -> (Store, ShopId, FeedOptions, FeedFilter) {
    let data_dir = std::env::var("BENCH_DATA_DIR").expect("BENCH_DATA_DIR");
    let store = Store::open(std::path::Path::new(&data_dir)).expect("store");
    let shop = ShopId::parse("bench").expect("shop id");
    let facts = store
        .shop_facts(&shop)
        .expect("facts")
        .expect("facts stored");
    let options = FeedOptions::from_shop(&facts).expect("feed options");
    (store, shop, options, FeedFilter::default())
}

/// CPU time (user + system) this process has used so far, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces): utime and
    // stime are the 12th and 13th, in clock ticks of 1/100 s.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// One timed feed build on the blocking pool.
async fn timed_build(
    store: &Store,
    shop: &ShopId,
    options: &FeedOptions,
    filter: &FeedFilter,
    reuse: Reuse,
) -> (GenerationBuild, f64) {
    let (store, shop, options, filter) =
        (store.clone(), shop.clone(), options.clone(), filter.clone());
    let started = Instant::now();
    let cpu = cpu_seconds();
    let build = tokio::task::spawn_blocking(move || {
        build_generation_with(
            &store,
            &shop,
            &GenerationSettings {
                options: &options,
                filter: &filter,
                max_drop_percent: 100,
            },
            reuse,
        )
    })
    .await
    .expect("join")
    .expect("feed build");
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "  build: {seconds:.3} s wall, {:.2} s CPU",
        cpu_seconds() - cpu
    );
    (build, seconds)
}

fn build_report(build: &GenerationBuild, seconds: f64) -> Value {
    let meta = match &build.outcome {
        GenerationOutcome::Published(m) | GenerationOutcome::Unchanged(m) => m.clone(),
        GenerationOutcome::Held(_) => panic!("held"),
    };
    let rows = meta.rows_valid + meta.rows_invalid;
    json!({
        "seconds": seconds,
        "outcome": build.outcome.label(),
        "rows": rows,
        "rows_per_second": rows as f64 / seconds,
        "rows_changed": meta.rows_changed,
        "products": build.stats.products,
        "products_reused": build.stats.products_reused,
        "products_encoded": build.stats.products_encoded,
        "products_mapped_for_context": build.stats.products_mapped_for_context,
        "products_logged_as_changed": build.stats.logged_changes,
        "artifact_bytes": build.artifacts.iter().map(|a| (a.name.clone(), a.bytes)).collect::<std::collections::BTreeMap<_, _>>(),
    })
}

/// A cold feed build: every product decoded, mapped and encoded, nothing
/// reused from the generation the full sync published.
async fn feed_build() -> Value {
    let (store, shop, options, filter) = feed_inputs();
    let (build, seconds) = timed_build(&store, &shop, &options, &filter, Reuse::Never).await;
    build_report(&build, seconds)
}

/// Changes `BENCH_CHANGED_PERMILLE` ‰ of the stored products, spread at
/// random (seeded) over the catalog: the first variant's price goes up a
/// cent and `updated_at` a second, written straight into the store as an
/// incremental sync would write them. Runs in its own process, before the
/// rebuild is measured.
async fn change_products() -> Value {
    let (store, shop, _, _) = feed_inputs();
    let permille = env_usize("BENCH_CHANGED_PERMILLE", 10);
    let ids: Vec<String> = store
        .product_ids(&shop)
        .expect("ids")
        .collect::<Result<_, _>>()
        .expect("ids");
    let mut rng = fastrand::Rng::with_seed(20_261_129);
    let mut chosen = ids.clone();
    rng.shuffle(&mut chosen);
    chosen.truncate(ids.len() * permille / 1000);
    let mut changed = Vec::with_capacity(chosen.len());
    for id in &chosen {
        let mut product = store.product(&shop, id).expect("read").expect("product");
        if let Some(v) = product.variants.first_mut() {
            v.price.amount += 1;
        }
        product.updated_at += chrono::Duration::seconds(1);
        changed.push(product);
    }
    store
        .upsert_products(&shop, &changed)
        .expect("write changes");
    store.flush().expect("flush");
    json!({ "products": ids.len(), "products_changed": changed.len() })
}

/// The feed rebuild after [`change_products`]: it reuses the encoded
/// output of unchanged products from the cold build's generation. Then a
/// second rebuild with nothing changed.
async fn feed_rebuild() -> Value {
    let (store, shop, options, filter) = feed_inputs();
    let (build, seconds) = timed_build(&store, &shop, &options, &filter, Reuse::Published).await;
    let peak = peak_rss_mib();
    let (unchanged, unchanged_seconds) =
        timed_build(&store, &shop, &options, &filter, Reuse::Published).await;
    let mut report = build_report(&build, seconds);
    report["peak_rss_mib_first_rebuild"] = json!(peak);
    report["unchanged_rebuild"] = build_report(&unchanged, unchanged_seconds);
    report
}

/// Incremental sync of `products` changed products against the emulator's
/// Standard-plan bucket (2,000 points, 100 points/s): how much of the restore
/// rate the client uses once the initial bucket is spent, and how often it
/// was throttled.
async fn incremental_utilisation(products: usize) -> Value {
    let mut config = EmulatorConfig::with_data(ShopData::generated(products, 3, 7));
    config.static_tokens = vec![TOKEN.to_owned()];
    config.restore_rate = 100;
    config.bucket_size = 2_000;
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

    let dir = tempfile::tempdir().expect("tempdir");
    let settings = shop_config(&url, &dir.path().display().to_string(), 400);
    let store = Store::open(&settings.data_dir).expect("store");
    let shop = ShopId::parse("bench").expect("shop");
    // A cursor far in the past makes every product "changed".
    store
        .update_sync_state(&shop, |s| {
            s.cursor = Some(chrono::DateTime::from_timestamp(0, 0).expect("epoch"));
        })
        .expect("cursor");
    let job = ShopSync::new(settings.shops[0].clone(), store).expect("client");
    let before = emulator.counters();
    let started = Instant::now();
    let summary = job
        .run_once(SyncKind::Incremental, &|_| {})
        .await
        .expect("incremental sync");
    let seconds = started.elapsed().as_secs_f64();
    let after = emulator.counters();
    let charged = (after.points_charged - before.points_charged) as f64;
    // The first 2,000 points come from the full bucket, not the restore rate.
    let steady = (charged - 2_000.0).max(0.0);
    let stats = job.client().throttle_stats();
    json!({
        "products": summary.products_written,
        "seconds": seconds,
        "points_charged": charged,
        "restore_rate": 100,
        "utilisation": steady / (seconds * 100.0),
        "throttled_responses": after.throttled - before.throttled,
        "requests": after.requests - before.requests,
        "client_throttle_wait_seconds": stats.wait.as_secs_f64(),
        "client_reported_utilisation": stats.restore_rate_utilisation(),
    })
}
