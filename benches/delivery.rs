//! Feed delivery benchmark: the published feed delivered as an OpenAI file
//! upload in each format (build the shard set from the published artifacts,
//! compress, upload to a real OpenSSH server on loopback), and whether
//! memory stays flat as the feed grows.
//!
//! `cargo bench --bench delivery` (env: `BENCH_ROWS`, default 300000, rows
//! of the large feed; `BENCH_SMALL_ROWS`, default 30000, of the small one;
//! `BENCH_VARIANTS`, default 3). Needs `/usr/sbin/sshd` and `ssh-keygen`
//! (Debian's `openssh-server`).
//!
//! A catalog of synthetic products (realistic text that compresses like a
//! real catalog, not a repeated one) is written straight into a store and
//! published once per size. Each format is then delivered in its own child
//! process (this binary re-executed with `BENCH_PHASE=deliver`) so its peak
//! RSS (`VmHWM`) is its own. The store scan of the feed build is not part of
//! a delivery; sshd runs as its own process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use acp_bridge::delivery::sftp::{SftpSettings, SftpUploader};
use acp_bridge::delivery::snapshot::{ShardPrefix, SnapshotFormat, SnapshotSpec, build_snapshot};
use acp_bridge::domain::{
    Currency, InventoryPolicy, Media, Money, Platform, Product, ProductOption, ProductStatus,
    SelectedOption, ShopId, Variant,
};
use acp_bridge::feed::FeedFilter;
use acp_bridge::feed::FeedOptions;
use acp_bridge::feed::generation::{GenerationSettings, build_and_publish};
use acp_bridge::store::Store;
use chrono::TimeZone;
use serde_json::{Value, json};
use url::Url;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size of this process in MiB.
fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Current resident set size of this process in MiB.
fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn shop() -> ShopId {
    ShopId::parse("bench").expect("shop id")
}

fn url(s: &str) -> Url {
    Url::parse(s).expect("url")
}

fn options() -> FeedOptions {
    FeedOptions {
        seller_name: "Bench Outfitters".into(),
        seller_url: url("https://bench.example"),
        storefront_url: url("https://bench.example"),
        target_countries: vec!["US".into()],
        store_country: "US".into(),
        privacy_policy_url: Some(url("https://bench.example/policies/privacy-policy")),
        terms_of_service_url: Some(url("https://bench.example/policies/terms-of-service")),
        return_policy_url: Some(url("https://bench.example/policies/refund-policy")),
        shipping_policy_url: None,
        checkout_eligible: true,
        url_params: vec![],
        accepts_returns: Some(true),
        return_deadline_in_days: Some(30),
    }
}

const WORDS: &[&str] = &[
    "merino",
    "waterproof",
    "breathable",
    "recycled",
    "lightweight",
    "durable",
    "seam",
    "zipper",
    "pocket",
    "hood",
    "insulated",
    "trail",
    "summit",
    "ridge",
    "canyon",
    "coastal",
    "alpine",
    "fleece",
    "nylon",
    "cotton",
    "organic",
    "stitch",
    "reinforced",
    "adjustable",
    "strap",
    "buckle",
    "ventilated",
    "packable",
    "storm",
    "thermal",
    "layer",
    "shell",
    "liner",
    "cuff",
];

fn sentence(rng: &mut fastrand::Rng, words: usize) -> String {
    (0..words)
        .map(|_| WORDS[rng.usize(..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn product(i: usize, variants: usize, rng: &mut fastrand::Rng) -> Product {
    let handle = format!("item-{i}");
    let sizes = ["S", "M", "L", "XL", "XXL", "3XL"];
    let title = format!("{} {} {i}", sentence(rng, 2), sentence(rng, 1));
    Product {
        platform: Platform::Shopify,
        id: format!("{}", 8_000_000 + i),
        handle: handle.clone(),
        title,
        description_html: format!(
            "<p>{}.</p><ul><li>{}</li><li>{}</li></ul>",
            sentence(rng, 40),
            sentence(rng, 8),
            sentence(rng, 8)
        ),
        vendor: Some("Bench".into()),
        product_type: Some("Jackets".into()),
        tags: vec![],
        status: ProductStatus::Active,
        published: true,
        url: Some(url(&format!("https://bench.example/products/{handle}"))),
        category: Some("Apparel & Accessories > Clothing > Outerwear".into()),
        options: vec![ProductOption {
            name: "Size".into(),
            values: sizes[..variants].iter().map(|s| (*s).to_owned()).collect(),
        }],
        media: vec![Media {
            url: url(&format!("https://cdn.bench.example/{handle}.jpg")),
            alt_text: None,
            width: Some(1600),
            height: Some(1600),
        }],
        variants: (0..variants)
            .map(|n| Variant {
                id: format!("{}", 40_000_000 + i * 10 + n),
                title: sizes[n].into(),
                sku: Some(format!("BX-{i}-{}", sizes[n])),
                barcode: None,
                price: Money::new(1_999 + rng.i64(0..50_000), Currency::USD),
                compare_at_price: None,
                inventory_tracked: true,
                inventory_quantity: rng.i64(0..40),
                inventory_policy: InventoryPolicy::Deny,
                available_for_sale: true,
                selected_options: vec![SelectedOption {
                    name: "Size".into(),
                    value: sizes[n].into(),
                }],
                weight: None,
                requires_shipping: true,
                media: vec![],
                position: n as u32 + 1,
            })
            .collect(),
        updated_at: chrono::Utc
            .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
            .single()
            .expect("time"),
    }
}

/// Writes `rows / variants` products and publishes the feed.
fn prepare(dir: &Path, rows: usize, variants: usize) -> Value {
    let store = Store::open(dir).expect("store");
    let mut rng = fastrand::Rng::with_seed(20_261_129);
    let products = rows / variants;
    let started = Instant::now();
    for chunk in (0..products).collect::<Vec<_>>().chunks(2_000) {
        let batch: Vec<Product> = chunk
            .iter()
            .map(|i| product(*i, variants, &mut rng))
            .collect();
        store.upsert_products(&shop(), &batch).expect("write");
    }
    let options = options();
    let filter = FeedFilter::default();
    let settings = GenerationSettings {
        options: &options,
        filter: &filter,
        max_drop_percent: 100,
    };
    build_and_publish(&store, &shop(), &settings).expect("publish");
    store.flush().expect("flush");
    let meta = store.feed_meta(&shop()).expect("meta").expect("published");
    json!({ "rows_valid": meta.rows_valid, "seconds": started.elapsed().as_secs_f64() })
}

/// One delivery of `BENCH_FORMAT`: build the shard set, upload it.
async fn deliver() -> Value {
    let dir = PathBuf::from(std::env::var("BENCH_DATA_DIR").expect("BENCH_DATA_DIR"));
    let format: SnapshotFormat = std::env::var("BENCH_FORMAT")
        .expect("BENCH_FORMAT")
        .parse()
        .expect("format");
    let sftp: SftpSettings = SftpSettings {
        host: "127.0.0.1".into(),
        port: std::env::var("BENCH_SSH_PORT")
            .expect("port")
            .parse()
            .expect("port"),
        user: std::env::var("BENCH_SSH_USER").expect("user"),
        private_key_path: PathBuf::from(std::env::var("BENCH_SSH_KEY").expect("key")),
        private_key_passphrase: None,
        host_key: std::env::var("BENCH_SSH_HOST_KEY")
            .expect("host key")
            .parse()
            .expect("host key"),
        remote_dir: std::env::var("BENCH_SSH_DIR").expect("dir"),
        connect_timeout: Duration::from_secs(10),
        io_timeout: Duration::from_secs(60),
    };
    let store = Store::open(&dir).expect("store");
    // What the process holds before the delivery starts (runtime, the
    // opened store): the part of the peak that is not the delivery's.
    let rss_before = rss_mib();
    let work = dir.join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let started = Instant::now();
    let spec = SnapshotSpec::new(
        format,
        ShardPrefix::parse("bench-products").expect("prefix"),
    );
    let snapshot = tokio::task::spawn_blocking(move || {
        build_snapshot(&store, &shop(), &spec, &work).expect("snapshot")
    })
    .await
    .expect("build");
    let built = started.elapsed().as_secs_f64();
    let uploader = SftpUploader::connect(&sftp).await.expect("connect");
    let report = uploader.upload_set(&snapshot).await.expect("upload");
    uploader.close().await;
    let total = started.elapsed().as_secs_f64();
    json!({
        "format": format.extension(),
        "rows": snapshot.rows,
        "shards": snapshot.shards.len(),
        "bytes": report.bytes,
        "build_seconds": built,
        "upload_seconds": total - built,
        "total_seconds": total,
        "rows_per_second": snapshot.rows as f64 / total,
        "rss_before_mib": rss_before,
    })
}

fn main() {
    match std::env::var("BENCH_PHASE").as_deref() {
        Ok("deliver") => {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            let mut result = rt.block_on(deliver());
            result["peak_rss_mib"] = json!(peak_rss_mib());
            println!("{result}");
        }
        _ => orchestrate(),
    }
}

struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client)");
    assert!(status.success());
}

fn command_text(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn start_sshd() -> Sshd {
    assert!(
        Path::new("/usr/sbin/sshd").exists(),
        "/usr/sbin/sshd is missing: apt-get install openssh-server"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    keygen(&root.join("host"));
    keygen(&root.join("user"));
    std::fs::copy(root.join("user.pub"), root.join("authorized_keys")).expect("keys");
    std::fs::create_dir(root.join("upload")).expect("upload dir");
    if command_text("id", &["-u"]) == "0" {
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
    }
    std::fs::write(
        root.join("sshd_config"),
        format!(
            "ListenAddress 127.0.0.1\nHostKey {r}/host\nPidFile none\nAuthorizedKeysFile {r}/authorized_keys\n\
             StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nUsePAM no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n",
            r = root.display()
        ),
    )
    .expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(root.join("sshd_config"))
        .args(["-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd");
    // Ready when it answers with its banner.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        use std::io::Read;
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let mut banner = [0u8; 8];
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            if s.read_exact(&mut banner).is_ok() && &banner == b"SSH-2.0-" {
                break;
            }
        }
        assert!(Instant::now() < deadline, "sshd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Sshd { child, port, dir }
}

fn orchestrate() {
    let variants = env_usize("BENCH_VARIANTS", 3);
    let sizes = [
        env_usize("BENCH_SMALL_ROWS", 30_000),
        env_usize("BENCH_ROWS", 300_000),
    ];
    let sshd = start_sshd();
    let root = sshd.dir.path();
    let host_key = format!(
        "[127.0.0.1]:{} {}",
        sshd.port,
        std::fs::read_to_string(root.join("host.pub"))
            .expect("host key")
            .trim()
    );
    let mut results = Vec::new();
    for rows in sizes {
        let data = tempfile::tempdir().expect("data dir");
        eprintln!("publishing a feed of {rows} rows");
        let prepared = prepare(data.path(), rows, variants);
        eprintln!("  {prepared}");
        for format in SnapshotFormat::ALL {
            let exe = std::env::current_exe().expect("exe");
            let out = Command::new(exe)
                .env("BENCH_PHASE", "deliver")
                .env("BENCH_DATA_DIR", data.path())
                .env("BENCH_FORMAT", format.extension())
                .env("BENCH_SSH_PORT", sshd.port.to_string())
                .env("BENCH_SSH_USER", command_text("id", &["-un"]))
                .env("BENCH_SSH_KEY", root.join("user"))
                .env("BENCH_SSH_HOST_KEY", &host_key)
                .env("BENCH_SSH_DIR", root.join("upload"))
                .stderr(Stdio::inherit())
                .output()
                .expect("deliver phase");
            assert!(out.status.success(), "delivering {format} failed");
            let text = String::from_utf8_lossy(&out.stdout);
            let mut result: Value =
                serde_json::from_str(text.lines().last().expect("output")).expect("json");
            result["feed_rows"] = json!(rows);
            eprintln!("  {result}");
            results.push(result);
        }
    }
    // Memory as the feed grows: peak RSS of the large feed over the small.
    println!(
        "| format | rows | shards | bytes | build s | upload s | total s | rows/s | RSS before MiB | peak RSS MiB |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in &results {
        println!(
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} |",
            r["format"].as_str().unwrap_or(""),
            r["rows"],
            r["shards"],
            r["bytes"],
            r["build_seconds"].as_f64().unwrap_or(f64::NAN),
            r["upload_seconds"].as_f64().unwrap_or(f64::NAN),
            r["total_seconds"].as_f64().unwrap_or(f64::NAN),
            r["rows_per_second"].as_f64().unwrap_or(f64::NAN),
            r["rss_before_mib"].as_f64().unwrap_or(f64::NAN),
            r["peak_rss_mib"].as_f64().unwrap_or(f64::NAN),
        );
    }
    for format in SnapshotFormat::ALL {
        let rss = |rows: usize| {
            results
                .iter()
                .find(|r| r["format"] == format.extension() && r["feed_rows"] == rows)
                .and_then(|r| r["peak_rss_mib"].as_f64())
                .unwrap_or(f64::NAN)
        };
        println!(
            "{}: peak RSS at {} rows / at {} rows = {:.2}",
            format.extension(),
            sizes[1],
            sizes[0],
            rss(sizes[1]) / rss(sizes[0])
        );
    }
}
