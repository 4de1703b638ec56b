//! Checkout benchmark: GET session throughput, and the time create/update
//! spend outside their upstream (Shopify `draftOrderCalculate`) calls.
//!
//! `cargo bench --bench checkout` (env: `BENCH_SESSIONS`, default 1000;
//! `BENCH_CONCURRENCY`, default 32; `BENCH_DURATION_SECS`, default 10;
//! `BENCH_WARMUP_SECS`, default 2; `BENCH_ITERATIONS`, default 500;
//! `BENCH_WRK=0` skips the `wrk` measurement).
//!
//! This process runs the Shopify emulator (a bucket so large that throttling
//! never shows), the Stripe emulator and the daemon on a multi-threaded
//! runtime, runs one full sync, then:
//!
//! 1. **GET throughput.** Creates `BENCH_SESSIONS` sessions, then a child
//!    process (this binary re-executed with `BENCH_PHASE=load`, one thread)
//!    sends `GET /acp/bench/checkout_sessions/{random id}` over
//!    `BENCH_CONCURRENCY` keep-alive connections for `BENCH_DURATION_SECS`
//!    after `BENCH_WARMUP_SECS` of warm-up. Its HTTP/1.1 client is a few
//!    lines over a `TcpStream` with prebuilt requests, so it takes as little
//!    of the shared CPU as possible. The load generator and the daemon share
//!    the machine's cores. The same load on `/healthz` gives the floor of
//!    the HTTP stack. When `wrk` is on the PATH it measures the session
//!    load a second time. Each run reports the CPU used by the daemon, the
//!    generator and every other process on the machine.
//! 2. **Create/update overhead.** `BENCH_ITERATIONS` times, one request at a
//!    time: create a session with an address, then update it to another
//!    shipping option. For each request the endpoint latency (as the agent
//!    sees it) is split with a `tracing` layer that times the
//!    `calculate_quote` spans the service opens while answering it, so the
//!    upstream share is that very request's. As a cross-check the same
//!    `QuoteRequest`s are replayed straight through a `ShopifyClient`, in
//!    the order `checkout::service::pricing` issues them.
//! 3. **Steps in isolation.** The store reads/writes, rendering and
//!    serialisation of those requests (for GET: what a read that misses the
//!    service's rendered-session cache does) timed one at a time on one
//!    thread.
//!
//! It prints one JSON report.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use acp_bridge::app::{AppOptions, Application};
use acp_bridge::checkout::model::{Link, Session};
use acp_bridge::checkout::service::CheckoutRecord;
use acp_bridge::checkout::{ApiVersion, SellerContext, wire};
use acp_bridge::config::Settings;
use acp_bridge::domain::{CartLine, ShopId};
use acp_bridge::emulator::shopify::{EmulatorConfig, ShopifyEmulator};
use acp_bridge::emulator::stripe::{StripeEmulator, StripeEmulatorConfig};
use acp_bridge::source::shopify::{QuoteOutcome, QuoteProblemKind, QuoteRequest, ShopifyClient};
use acp_bridge::store::{IdempotencyPolicy, IdempotencyScope, Store, StoredResponse};
use acp_bridge::sync::ShopSync;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tracing::Subscriber;
use tracing::span::{Attributes, Id};
use tracing::subscriber::Interest;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

const SHOP: &str = "bench";
const AGENT_KEY: &str = "bench-agent-key-0123456789";
const VERSION: &str = "2026-04-17";
const GET_TARGET_RPS: f64 = 20_000.0;
const OVERHEAD_TARGET_P99_MS: f64 = 2.0;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    match std::env::var("BENCH_PHASE").as_deref() {
        Ok("load") => load_phase(),
        _ => orchestrate(),
    }
}

// ------------------------------------------------------------ measurement

/// Nearest-rank percentile of an ascending slice.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50/p90/p99/max/mean of `values` (milliseconds).
fn summary(values: &[f64]) -> Value {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mean = sorted.iter().sum::<f64>() / sorted.len().max(1) as f64;
    json!({
        "p50": round3(percentile(&sorted, 50.0)),
        "p90": round3(percentile(&sorted, 90.0)),
        "p99": round3(percentile(&sorted, 99.0)),
        "max": round3(sorted.last().copied().unwrap_or(f64::NAN)),
        "mean": round3(mean),
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

static CLOCK_TICKS: LazyLock<f64> = LazyLock::new(|| {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
});

/// Sum of the given fields of `/proc/self/stat`, counted after the
/// parenthesised command name (0 = state), as a duration.
fn self_stat_time(fields_after_comm: &[usize]) -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields_after_comm
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    Duration::from_secs_f64(ticks / *CLOCK_TICKS)
}

/// User + system CPU time of this process so far (`utime`, `stime`).
fn cpu_time() -> Duration {
    self_stat_time(&[11, 12])
}

/// CPU time of waited-for children (`cutime`, `cstime`).
fn children_cpu_time() -> Duration {
    self_stat_time(&[13, 14])
}

/// Busy CPU time of the whole machine (all cores) from `/proc/stat`.
fn machine_busy_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: f64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .enumerate()
        // user nice system idle iowait irq softirq steal: all but idle, iowait.
        .filter(|(i, _)| matches!(i, 0 | 1 | 2 | 5 | 6 | 7))
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum();
    Duration::from_secs_f64(ticks / *CLOCK_TICKS)
}

/// CPU accounting around one load run: this process (the daemon and the
/// emulators), its children (the load generator) and everything else on
/// the machine.
struct CpuWindow {
    own: Duration,
    children: Duration,
    machine: Duration,
}

impl CpuWindow {
    fn start() -> CpuWindow {
        CpuWindow {
            own: cpu_time(),
            children: children_cpu_time(),
            machine: machine_busy_time(),
        }
    }

    /// (daemon, generator, other processes) CPU seconds since `start`.
    fn finish(&self) -> (f64, f64, f64) {
        let own = (cpu_time() - self.own).as_secs_f64();
        let children = (children_cpu_time() - self.children).as_secs_f64();
        let machine = (machine_busy_time() - self.machine).as_secs_f64();
        (own, children, (machine - own - children).max(0.0))
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Times spans of interest: the daemon's request span (`http`) and the
/// Shopify client's `calculate_quote`. Only while `RECORDING` is set;
/// every other callsite is disabled for good, so the daemon pays nothing
/// for the subscriber outside the overhead phase.
struct SpanTimer;

struct Opened(Instant);

static RECORDING: AtomicBool = AtomicBool::new(false);
static CLOSED: LazyLock<Mutex<Vec<(&'static str, Duration)>>> = LazyLock::new(Mutex::default);
static CLOSED_SIGNAL: LazyLock<tokio::sync::Notify> = LazyLock::new(tokio::sync::Notify::new);

fn timed_callsite(m: &tracing::Metadata<'_>) -> bool {
    m.is_span()
        && ((m.name() == "calculate_quote"
            && m.target().starts_with("acp_bridge::source::shopify"))
            || (m.name() == "http" && m.target() == "acp_bridge::server::trace"))
}

impl<S> Layer<S> for SpanTimer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, m: &'static tracing::Metadata<'static>) -> Interest {
        if timed_callsite(m) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, m: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        timed_callsite(m) && RECORDING.load(Ordering::Relaxed)
    }

    fn on_new_span(&self, _attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Opened(Instant::now()));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let opened = span.extensions().get::<Opened>().map(|o| o.0);
        if let Some(at) = opened {
            CLOSED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((span.name(), at.elapsed()));
            CLOSED_SIGNAL.notify_one();
        }
    }
}

/// Takes every recorded span once the request span has closed (it closes
/// when the response body is done, possibly just after the client read it).
async fn take_spans() -> (Duration, Vec<Duration>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        {
            let mut closed = CLOSED.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(pos) = closed.iter().position(|(name, _)| *name == "http") {
                let http = closed[pos].1;
                let quotes = closed
                    .iter()
                    .filter(|(name, _)| *name == "calculate_quote")
                    .map(|(_, d)| *d)
                    .collect();
                closed.clear();
                return (http, quotes);
            }
        }
        tokio::time::timeout_at(deadline, CLOSED_SIGNAL.notified())
            .await
            .expect("the request span closes after the response");
    }
}

// ------------------------------------------------------------ HTTP client

/// One keep-alive HTTP/1.1 connection that sends prebuilt requests and
/// reads `Content-Length` responses.
struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    line: String,
    body: Vec<u8>,
}

fn request_bytes(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        out.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn bad_response(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

impl Conn {
    async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (reader, writer) = stream.into_split();
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, reader),
            writer,
            line: String::new(),
            body: Vec::new(),
        })
    }

    /// Sends `request` and returns the status; the body is in `self.body`.
    async fn send(&mut self, request: &[u8]) -> std::io::Result<u16> {
        self.writer.write_all(request).await?;
        self.line.clear();
        if self.reader.read_line(&mut self.line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad_response("status line"))?;
        let mut length = None;
        loop {
            self.line.clear();
            if self.reader.read_line(&mut self.line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let line = self.line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err(bad_response("chunked responses are not supported"));
                }
            }
        }
        let length = length.ok_or_else(|| bad_response("no Content-Length"))?;
        self.body.clear();
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body).await?;
        Ok(status)
    }

    async fn json(&mut self, request: &[u8]) -> (u16, Value) {
        let status = self.send(request).await.expect("daemon answers");
        let body = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        (status, body)
    }
}

fn get_request(addr: SocketAddr, id: &str) -> Vec<u8> {
    let bearer = format!("Bearer {AGENT_KEY}");
    request_bytes(
        addr,
        "GET",
        &format!("/acp/{SHOP}/checkout_sessions/{id}"),
        &[
            ("Authorization", &bearer),
            ("API-Version", VERSION),
            ("Request-Id", "bench"),
        ],
        b"",
    )
}

fn post_request(addr: SocketAddr, path: &str, key: &str, body: &Value) -> Vec<u8> {
    let bearer = format!("Bearer {AGENT_KEY}");
    let body = serde_json::to_vec(body).expect("json");
    request_bytes(
        addr,
        "POST",
        &format!("/acp/{SHOP}{path}"),
        &[
            ("Authorization", &bearer),
            ("API-Version", VERSION),
            ("Request-Id", "bench"),
            ("Idempotency-Key", key),
        ],
        &body,
    )
}

// ------------------------------------------------------------ load phase

/// The child process: GETs over keep-alive connections on one thread.
fn load_phase() {
    let addr: SocketAddr = std::env::var("BENCH_ADDR")
        .expect("BENCH_ADDR")
        .parse()
        .expect("address");
    let ids_file = std::env::var("BENCH_IDS").expect("BENCH_IDS");
    let ids: Vec<String> = std::fs::read_to_string(&ids_file)
        .expect("ids file")
        .lines()
        .map(str::to_owned)
        .collect();
    let duration = Duration::from_secs(env_u64("BENCH_DURATION_SECS", 10));
    let warmup = Duration::from_secs(env_u64("BENCH_WARMUP_SECS", 2));
    let concurrency = env_u64("BENCH_CONCURRENCY", 32) as usize;
    // `BENCH_TARGET=healthz`: the same load on `/healthz`, the floor of the
    // HTTP stack (same listener, layers and request span).
    let requests: Arc<Vec<Vec<u8>>> = if std::env::var("BENCH_TARGET").as_deref() == Ok("healthz") {
        Arc::new(vec![request_bytes(addr, "GET", "/healthz", &[], b"")])
    } else {
        Arc::new(ids.iter().map(|id| get_request(addr, id)).collect())
    };

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cpu_before = cpu_time();
    let report = rt.block_on(async move {
        let started = Instant::now();
        let measure_from = started + warmup;
        let until = measure_from + duration;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let requests = requests.clone();
            tasks.spawn(async move {
                let mut conn = Conn::open(addr).await.expect("connect");
                let mut latencies: Vec<f64> = Vec::with_capacity(1 << 16);
                let mut errors = 0u64;
                let mut last_done = measure_from;
                loop {
                    let sent = Instant::now();
                    if sent >= until {
                        break;
                    }
                    let request = &requests[fastrand::usize(..requests.len())];
                    let status = conn.send(request).await.expect("response");
                    let done = Instant::now();
                    if sent >= measure_from {
                        latencies.push(ms(done - sent));
                        last_done = last_done.max(done);
                        if status != 200 {
                            errors += 1;
                        }
                    }
                }
                (latencies, errors, last_done)
            });
        }
        let mut latencies = Vec::new();
        let mut errors = 0;
        let mut last_done = measure_from;
        while let Some(joined) = tasks.join_next().await {
            let (l, e, d) = joined.expect("load task");
            latencies.extend(l);
            errors += e;
            last_done = last_done.max(d);
        }
        let seconds = (last_done - measure_from).as_secs_f64();
        json!({
            "requests": latencies.len(),
            "non_200": errors,
            "seconds": seconds,
            "requests_per_second": (latencies.len() as f64 / seconds).round(),
            "latency_ms": summary(&latencies),
        })
    });
    let mut report = report;
    report["generator_cpu_seconds"] = json!(round3((cpu_time() - cpu_before).as_secs_f64()));
    println!("{report}");
}

// ------------------------------------------------------------ orchestration

fn orchestrate() {
    tracing_subscriber::registry().with(SpanTimer).init();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let report = rt.block_on(run());
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    let _ = std::io::stdout().flush();
}

struct Daemon {
    addr: SocketAddr,
    settings: Settings,
    store: Store,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn spawn_shopify() -> (ShopifyEmulator, String) {
    // Far more budget than the run can spend: throttling must not show.
    let config = EmulatorConfig {
        bucket_size: 1_000_000_000,
        restore_rate: 100_000_000,
        ..EmulatorConfig::default()
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
    (emulator, url)
}

async fn spawn_stripe() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let emulator = StripeEmulator::new(StripeEmulatorConfig::default());
    tokio::spawn(async move {
        acp_bridge::emulator::stripe::serve(listener, emulator, std::future::pending()).await
    });
    url
}

async fn spawn_daemon(shopify_url: &str, stripe_url: &str) -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
[shutdown]
deadline_secs = 5
[[shops]]
id = "{SHOP}"
[shops.shopify]
shop_domain = "{SHOP}.myshopify.com"
api_base_url = "{shopify_url}"
access_token = "{token}"
[shops.schedule]
full_sync_cron = "@yearly"
incremental_interval_secs = 0
[shops.feed]
checkout_eligible = true
[shops.checkout]
# The per-agent limit would otherwise be what the GET phase measures.
requests_per_minute = 4000000000
[[shops.checkout.agents]]
id = "agent"
api_key = "{AGENT_KEY}"
[shops.checkout.stripe]
secret_key = "{stripe_key}"
merchant_id = "{account}"
api_base_url = "{stripe_url}"
"#,
        token = EmulatorConfig::DEFAULT_TOKEN,
        stripe_key = StripeEmulatorConfig::DEFAULT_SECRET_KEY,
        account = StripeEmulatorConfig::DEFAULT_ACCOUNT,
    );
    let mut settings = Settings::from_toml(&config).expect("bench config");
    settings.data_dir = dir.path().to_path_buf();
    let store = Store::open(dir.path()).expect("store");
    let app = Application::build(
        settings.clone(),
        AppOptions {
            store: Some(store.clone()),
            no_initial_sync: true,
            ..AppOptions::default()
        },
    )
    .await
    .expect("daemon");
    let addr = app.public_addr();
    let admin = app.admin_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let sync = reqwest::Client::new()
        .post(format!("http://{admin}/admin/shops/{SHOP}/sync?full=true"))
        .send()
        .await
        .expect("sync request");
    assert!(sync.status().is_success(), "full sync failed: {sync:?}");
    Daemon {
        addr,
        settings,
        store,
        stop,
        task,
        _dir: dir,
    }
}

/// In-stock, checkout-eligible item ids of the published feed.
async fn feed_items(addr: SocketAddr) -> Vec<String> {
    let bytes = reqwest::get(format!("http://{addr}/feeds/{SHOP}/openai.jsonl.gz"))
        .await
        .expect("feed")
        .bytes()
        .await
        .expect("feed body");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .expect("gzip");
    let items: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["availability"] == "in_stock" && r["is_eligible_checkout"] == true)
        .filter_map(|r| r["item_id"].as_str().map(str::to_owned))
        .collect();
    assert!(!items.is_empty(), "the feed has no in-stock item");
    items
}

fn create_body(item: &str) -> Value {
    json!({
        "currency": "usd",
        "line_items": [{"id": item, "quantity": 1}],
        "fulfillment_details": {
            "name": "Ada Buyer",
            "address": {
                "name": "Ada Buyer", "line_one": "1 Market St", "city": "San Francisco",
                "state": "CA", "country": "US", "postal_code": "94105"
            }
        }
    })
}

async fn run() -> Value {
    let load_at_start = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let (shopify, shopify_url) = spawn_shopify().await;
    let stripe_url = spawn_stripe().await;
    let daemon = spawn_daemon(&shopify_url, &stripe_url).await;
    let items = feed_items(daemon.addr).await;
    eprintln!("synced; {} in-stock items in the feed", items.len());

    let sessions = env_u64("BENCH_SESSIONS", 1000) as usize;
    eprintln!(
        "creating {} sessions (at least one per item)",
        sessions.max(items.len())
    );
    let mut conn = Conn::open(daemon.addr).await.expect("connect");
    let mut ids = Vec::with_capacity(sessions);
    // Items whose sessions offer more than one shipping option: the update
    // of the overhead phase switches between them.
    let mut multi_option = std::collections::BTreeSet::new();
    for i in 0..sessions.max(items.len()) {
        let request = post_request(
            daemon.addr,
            "/checkout_sessions",
            &format!("seed-{i}"),
            &create_body(&items[i % items.len()]),
        );
        let (status, body) = conn.json(&request).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"], "ready_for_payment", "{body}");
        if body["fulfillment_options"].as_array().map_or(0, Vec::len) > 1 {
            multi_option.insert(items[i % items.len()].clone());
        }
        if i < sessions {
            ids.push(body["id"].as_str().expect("session id").to_owned());
        }
    }
    let overhead_items: Vec<String> = multi_option.into_iter().collect();
    assert!(
        !overhead_items.is_empty(),
        "no item offers two shipping options"
    );

    let get = get_throughput(&daemon, &ids).await;
    let overhead = create_update_overhead(&daemon, &overhead_items).await;
    let breakdown = store_and_render_breakdown(&daemon, &ids);

    let counters = shopify.counters();
    let Daemon {
        stop, task, store, ..
    } = daemon;
    let _ = stop.send(());
    task.await.expect("daemon task").expect("daemon stops");
    drop(store);

    let own_rps = get["own_generator"]["requests_per_second"]
        .as_f64()
        .unwrap_or(0.0);
    let create_p99 = overhead["create"]["overhead_ms"]["p99"]
        .as_f64()
        .unwrap_or(f64::INFINITY);
    let update_p99 = overhead["update"]["overhead_ms"]["p99"]
        .as_f64()
        .unwrap_or(f64::INFINITY);
    json!({
        "machine": {
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "loadavg_at_start": load_at_start.trim(),
            "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
            "note": "daemon, emulators and load generator share these cores",
        },
        "sessions": sessions,
        "items": {"in_stock": items.len(), "with_several_shipping_options": overhead_items.len()},
        "get_throughput": get,
        "create_update_overhead": overhead,
        "steps_in_isolation": breakdown,
        "targets": {
            "get_requests_per_second": {"target": GET_TARGET_RPS, "measured": own_rps, "met": own_rps >= GET_TARGET_RPS},
            "create_overhead_p99_ms": {"target": OVERHEAD_TARGET_P99_MS, "measured": create_p99, "met": create_p99 <= OVERHEAD_TARGET_P99_MS},
            "update_overhead_p99_ms": {"target": OVERHEAD_TARGET_P99_MS, "measured": update_p99, "met": update_p99 <= OVERHEAD_TARGET_P99_MS},
        },
        "shopify_emulator": {
            "graphql_requests": counters.requests,
            "throttled": counters.throttled,
            "draft_order_calculate": counters.by_operation.get("DraftOrderCalculate").copied().unwrap_or(0),
        },
        "bench_process_peak_rss_mib": round3(peak_rss_mib()),
    })
}

// ------------------------------------------------------------ GET phase

async fn get_throughput(daemon: &Daemon, ids: &[String]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids_file = dir.path().join("ids.txt");
    std::fs::write(&ids_file, ids.join("\n")).expect("ids file");
    let concurrency = env_u64("BENCH_CONCURRENCY", 32);
    let duration = env_u64("BENCH_DURATION_SECS", 10);
    let warmup = env_u64("BENCH_WARMUP_SECS", 2);
    eprintln!("GET: {concurrency} connections, {warmup} s warm-up + {duration} s");

    let mut conn = Conn::open(daemon.addr).await.expect("connect");
    let status = conn
        .send(&get_request(daemon.addr, &ids[0]))
        .await
        .expect("get");
    assert_eq!(status, 200);
    let response_bytes = conn.body.len();
    drop(conn);

    let load = async |target: &str| {
        let exe = std::env::current_exe().expect("current exe");
        let mut cmd = Command::new(exe);
        cmd.env("BENCH_PHASE", "load")
            .env("BENCH_TARGET", target)
            .env("BENCH_ADDR", daemon.addr.to_string())
            .env("BENCH_IDS", &ids_file)
            .env("BENCH_CONCURRENCY", concurrency.to_string())
            .env("BENCH_DURATION_SECS", duration.to_string())
            .env("BENCH_WARMUP_SECS", warmup.to_string())
            .stderr(Stdio::inherit());
        let cpu = CpuWindow::start();
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("join")
            .expect("load process");
        let (server_cpu, _, other_cpu) = cpu.finish();
        assert!(out.status.success(), "load phase failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut report: Value =
            serde_json::from_str(text.lines().last().expect("load output")).expect("load json");
        let requests = report["requests"].as_f64().unwrap_or(0.0);
        // The daemon's CPU includes the warm-up's requests; count them at
        // the measured rate.
        let all_requests = requests * (warmup + duration) as f64 / duration as f64;
        report["daemon_cpu_seconds"] = json!(round3(server_cpu));
        report["daemon_cpu_us_per_request"] = json!(round3(server_cpu * 1e6 / all_requests));
        report["other_processes_cpu_seconds"] = json!(round3(other_cpu));
        report
    };
    let own = load("session").await;
    eprintln!("GET /healthz, the HTTP floor");
    let floor = load("healthz").await;

    let wrk = if std::env::var("BENCH_WRK").as_deref() == Ok("0") {
        Value::Null
    } else {
        run_wrk(daemon.addr, ids, concurrency, duration, dir.path()).await
    };
    json!({
        "connections": concurrency,
        "duration_secs": duration,
        "api_version": VERSION,
        "response_bytes": response_bytes,
        "own_generator": own,
        "wrk": wrk,
        "healthz_floor_own_generator": floor,
    })
}

/// `wrk -t1` with the same connections and random ids, when installed.
async fn run_wrk(
    addr: SocketAddr,
    ids: &[String],
    concurrency: u64,
    duration: u64,
    dir: &Path,
) -> Value {
    let available = Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !available {
        eprintln!("wrk not installed; skipping the second measurement");
        return Value::Null;
    }
    let script: PathBuf = dir.join("get.lua");
    let quoted: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
    std::fs::write(
        &script,
        format!(
            r#"wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer {AGENT_KEY}"
wrk.headers["API-Version"] = "{VERSION}"
wrk.headers["Request-Id"] = "bench"
local ids = {{ {ids} }}
request = function()
  return wrk.format(nil, "/acp/{SHOP}/checkout_sessions/" .. ids[math.random(#ids)])
end
"#,
            ids = quoted.join(",")
        ),
    )
    .expect("wrk script");
    eprintln!("GET again with wrk");
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t1",
        &format!("-c{concurrency}"),
        &format!("-d{duration}s"),
        "--latency",
        "-s",
    ])
    .arg(&script)
    .arg(format!("http://{addr}"));
    let cpu = CpuWindow::start();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("wrk");
    let (server_cpu, wrk_cpu, other_cpu) = cpu.finish();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
    };
    let latency = |p: &str| field(p).and_then(|v| parse_wrk_duration(&v));
    let rps = field("Requests/sec:").and_then(|v| v.parse::<f64>().ok());
    json!({
        "requests_per_second": rps,
        "latency_ms": {"p50": latency("50%"), "p90": latency("90%"), "p99": latency("99%")},
        "non_2xx": field("Non-2xx or 3xx responses:").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
        "socket_errors": field("Socket errors:"),
        "daemon_cpu_seconds": round3(server_cpu),
        "daemon_cpu_us_per_request": rps.map(|r| round3(server_cpu * 1e6 / (r * duration as f64))),
        "generator_cpu_seconds": round3(wrk_cpu),
        "other_processes_cpu_seconds": round3(other_cpu),
    })
}

/// `850.00us`, `1.23ms`, `2.00s` → milliseconds.
fn parse_wrk_duration(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| round3(n * factor))
}

// ------------------------------------------------------------ overhead phase

#[derive(Default)]
struct Samples {
    endpoint: Vec<f64>,
    server: Vec<f64>,
    upstream: Vec<f64>,
    overhead: Vec<f64>,
    replayed: Vec<f64>,
    overhead_vs_replay: Vec<f64>,
    quotes: BTreeMap<usize, usize>,
}

impl Samples {
    fn add(
        &mut self,
        endpoint: Duration,
        server: Duration,
        quotes: &[Duration],
        replay: &[Duration],
    ) {
        assert_eq!(
            quotes.len(),
            replay.len(),
            "the replay must issue as many quotes as the service did"
        );
        let upstream: Duration = quotes.iter().sum();
        let replayed: Duration = replay.iter().sum();
        self.endpoint.push(ms(endpoint));
        self.server.push(ms(server));
        self.upstream.push(ms(upstream));
        self.overhead.push(ms(endpoint) - ms(upstream));
        self.replayed.push(ms(replayed));
        self.overhead_vs_replay.push(ms(endpoint) - ms(replayed));
        *self.quotes.entry(quotes.len()).or_default() += 1;
    }

    fn report(&self) -> Value {
        json!({
            "endpoint_ms": summary(&self.endpoint),
            "server_span_ms": summary(&self.server),
            "upstream_in_request_ms": summary(&self.upstream),
            "overhead_ms": summary(&self.overhead),
            "upstream_replayed_ms": summary(&self.replayed),
            "overhead_vs_replay_ms": summary(&self.overhead_vs_replay),
            "quotes_per_request": self.quotes.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
        })
    }
}

/// Sends `request` with span recording on; returns the client-side time,
/// the daemon's request span and the `calculate_quote` spans inside it.
async fn timed_call(
    conn: &mut Conn,
    request: &[u8],
) -> (u16, Value, Duration, Duration, Vec<Duration>) {
    CLOSED.lock().unwrap_or_else(|e| e.into_inner()).clear();
    RECORDING.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let status = conn.send(request).await.expect("daemon answers");
    let endpoint = started.elapsed();
    let (server, quotes) = take_spans().await;
    RECORDING.store(false, Ordering::Relaxed);
    let body = serde_json::from_slice(&conn.body).unwrap_or(Value::Null);
    (status, body, endpoint, server, quotes)
}

/// The quotes `checkout::service::pricing` asks for `request`, in its
/// order: the request as is; without the rate if Shopify no longer offers
/// it; then with the cheapest rate when none is selected. Returns the
/// duration of each call.
async fn replay_pricing(client: &ShopifyClient, mut request: QuoteRequest) -> Vec<Duration> {
    let mut times = Vec::new();
    let mut call = async |request: &QuoteRequest| {
        let started = Instant::now();
        let outcome = client.calculate_quote(request).await.expect("quote");
        times.push(started.elapsed());
        outcome
    };
    let mut outcome = call(&request).await;
    if let QuoteOutcome::Rejected(problems) = &outcome
        && problems
            .iter()
            .any(|p| matches!(p.kind, QuoteProblemKind::ShippingRateUnavailable { .. }))
    {
        request.shipping_rate_handle = None;
        outcome = call(&request).await;
    }
    if let QuoteOutcome::Quoted(quote) = &outcome
        && request.shipping_rate_handle.is_none()
        && let Some(cheapest) = quote.shipping_rates.iter().min_by_key(|r| r.price.amount)
    {
        request.shipping_rate_handle = Some(cheapest.handle.clone());
        call(&request).await;
    }
    times
}

async fn create_update_overhead(daemon: &Daemon, items: &[String]) -> Value {
    let iterations = env_u64("BENCH_ITERATIONS", 500) as usize;
    let warmup = iterations.min(20);
    eprintln!("create/update overhead: {warmup} warm-up + {iterations} iterations");
    let shop = ShopId::parse(SHOP).expect("shop id");
    let currency = daemon
        .store
        .shop_facts(&shop)
        .expect("facts")
        .expect("facts synced")
        .currency;
    let replay_job =
        ShopSync::new(daemon.settings.shops[0].clone(), daemon.store.clone()).expect("client");
    let client = replay_job.client();
    let version = ApiVersion::parse(VERSION).expect("version");

    let mut conn = Conn::open(daemon.addr).await.expect("connect");
    let cpu = CpuWindow::start();
    let started = Instant::now();
    let mut create = Samples::default();
    let mut update = Samples::default();
    for i in 0..warmup + iterations {
        let item = &items[i % items.len()];
        let body = create_body(item);
        let parsed = wire::parse_create(version, &serde_json::to_vec(&body).expect("json"))
            .expect("the create body parses");
        let base = QuoteRequest {
            currency,
            lines: parsed
                .lines
                .iter()
                .map(|l| CartLine {
                    variant_id: l.item_id.clone(),
                    quantity: l.quantity.units().expect("whole units"),
                })
                .collect(),
            address: parsed.address.clone(),
            email: None,
            shipping_rate_handle: None,
        };

        let request = post_request(daemon.addr, "/checkout_sessions", &format!("c-{i}"), &body);
        let (status, session, endpoint, server, quotes) = timed_call(&mut conn, &request).await;
        assert_eq!(status, 201, "{session}");
        assert_eq!(session["status"], "ready_for_payment", "{session}");
        let replay = replay_pricing(client, base.clone()).await;
        if i >= warmup {
            create.add(endpoint, server, &quotes, &replay);
        }

        // Another shipping option than the one preselected.
        let id = session["id"].as_str().expect("id");
        let selected = session["selected_fulfillment_options"][0]["option_id"].clone();
        let option = session["fulfillment_options"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["id"] != selected))
            .and_then(|o| o["id"].as_str())
            .expect("the shop offers a second shipping option")
            .to_owned();
        let line_ids: Vec<Value> = session["line_items"]
            .as_array()
            .map(|l| l.iter().map(|l| l["id"].clone()).collect())
            .unwrap_or_default();
        let change = json!({"selected_fulfillment_options": [
            {"type": "shipping", "option_id": option, "item_ids": line_ids}
        ]});
        let request = post_request(
            daemon.addr,
            &format!("/checkout_sessions/{id}"),
            &format!("u-{i}"),
            &change,
        );
        let (status, updated, endpoint, server, quotes) = timed_call(&mut conn, &request).await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!(
            updated["selected_fulfillment_options"][0]["option_id"],
            option.as_str(),
            "{updated}"
        );
        let replay = replay_pricing(
            client,
            QuoteRequest {
                shipping_rate_handle: Some(option),
                ..base
            },
        )
        .await;
        if i >= warmup {
            update.add(endpoint, server, &quotes, &replay);
        }
    }
    let stats = client.throttle_stats();
    let (_, _, other_cpu) = cpu.finish();
    json!({
        "iterations": iterations,
        "seconds": round3(started.elapsed().as_secs_f64()),
        "other_processes_cpu_seconds": round3(other_cpu),
        "create": create.report(),
        "update": update.report(),
        "replay_client_throttle_wait_ms": round3(ms(stats.wait)),
    })
}

// ------------------------------------------------------------ breakdown

/// The stored record with only the session decoded (the quote is skipped).
#[derive(serde::Deserialize)]
struct SessionOnly {
    #[allow(dead_code, reason = "decoded to be timed")]
    session: Session,
}

/// Mean time of `f` over `n` calls, in microseconds.
fn mean_us(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let started = Instant::now();
    for i in 0..n {
        f(i);
    }
    round3(started.elapsed().as_secs_f64() * 1e6 / n as f64)
}

/// The steps of GET (and the store writes of create/update) timed one at a
/// time on one thread against the daemon's store, to show where a
/// request's CPU goes. Calls the same public functions the service calls.
fn store_and_render_breakdown(daemon: &Daemon, ids: &[String]) -> Value {
    let shop = ShopId::parse(SHOP).expect("shop id");
    let store = &daemon.store;
    let version = ApiVersion::parse(VERSION).expect("version");
    let n = ids.len() * 3;
    let id = |i: usize| ids[i % ids.len()].as_str();
    let record = |i: usize| -> CheckoutRecord {
        store
            .checkout_record(&shop, id(i))
            .expect("read")
            .expect("stored")
    };
    let facts = store.shop_facts(&shop).expect("facts").expect("synced");
    let merchant = daemon.settings.shops[0]
        .checkout
        .as_ref()
        .expect("checkout")
        .stripe
        .merchant_id
        .clone();
    let seller = SellerContext::stripe(merchant.clone(), Link::from_policies(&facts.policies));
    let records: Vec<CheckoutRecord> = (0..ids.len()).map(record).collect();
    let rendered: Vec<Value> = records
        .iter()
        .map(|r| wire::render_session(version, &r.session, &seller))
        .collect();

    let read_record = mean_us(n, |i| {
        std::hint::black_box(record(i));
    });
    let read_session_only = mean_us(n, |i| {
        let only: SessionOnly = store
            .checkout_record(&shop, id(i))
            .expect("read")
            .expect("stored");
        std::hint::black_box(only);
    });
    let seller_context = mean_us(n, |_| {
        let facts = store.shop_facts(&shop).expect("facts").expect("synced");
        std::hint::black_box(SellerContext::stripe(
            merchant.clone(),
            Link::from_policies(&facts.policies),
        ));
    });
    let render = mean_us(n, |i| {
        std::hint::black_box(wire::render_session(
            version,
            &records[i % records.len()].session,
            &seller,
        ));
    });
    let serialize = mean_us(n, |i| {
        std::hint::black_box(serde_json::to_vec(&rendered[i % rendered.len()]).expect("json"));
    });

    // The writes of a create: claim the idempotency key, then commit the
    // session with the stored response in one batch. Fresh keys and ids.
    let writes = 500;
    let policy = IdempotencyPolicy {
        retention: chrono::Duration::hours(24),
        lease: chrono::Duration::seconds(120),
    };
    let scope = |i: usize| IdempotencyScope {
        shop: shop.clone(),
        caller: "agent".to_owned(),
        path: "/checkout_sessions".to_owned(),
        key: format!("breakdown-{i}"),
    };
    let body = serde_json::to_vec(&rendered[0]).expect("json");
    let begin = mean_us(writes, |i| {
        store
            .begin_idempotent(&scope(i), "fp", chrono::Utc::now(), policy)
            .expect("claim");
    });
    let commit = mean_us(writes, |i| {
        let mut r = records[i % records.len()].clone();
        r.session.id = format!("cs_breakdown_{i}");
        store
            .commit_checkout(
                &shop,
                &r.session.id,
                &r,
                Some((
                    &scope(i),
                    "fp",
                    StoredResponse {
                        status: 201,
                        body: body.clone(),
                    },
                )),
            )
            .expect("commit");
    });
    let commit_alone = mean_us(writes, |i| {
        let mut r = records[i % records.len()].clone();
        r.session.id = format!("cs_breakdown_alone_{i}");
        store
            .commit_checkout(&shop, &r.session.id, &r, None)
            .expect("commit");
    });
    let encode_record = mean_us(writes, |i| {
        std::hint::black_box(serde_json::to_vec(&records[i % records.len()]).expect("json"));
    });
    let encode_response = mean_us(writes, |_| {
        // A stored response as the idempotency record holds it.
        let stored = StoredResponse {
            status: 201,
            body: body.clone(),
        };
        std::hint::black_box(serde_json::to_vec(&stored).expect("json"));
    });
    json!({
        "calls_per_read_step": n,
        // What a GET costs when the session is not in the rendered cache
        // (first read after a restart or after the cache dropped it).
        "get_miss_path_us": {
            "read_and_decode_record": read_record,
            "read_and_decode_session_only": read_session_only,
            "read_shop_facts_and_build_seller": seller_context,
            "render_session_to_value": render,
            "serialize_value": serialize,
        },
        "write_path_us": {
            "begin_idempotent": begin,
            "commit_checkout_with_response": commit,
            "commit_checkout_record_only": commit_alone,
            "encode_record_json": encode_record,
            "encode_stored_response": encode_response,
        },
        "response_body_bytes": body.len(),
    })
}
