//! Snapshot delivery over SFTP against a real OpenSSH server.
//!
//! Each test starts `/usr/sbin/sshd` on loopback as the current user, with a
//! throwaway host key, user keys and `authorized_keys` in a temp dir, and
//! uploads into a directory of that temp dir, so the server's files can be
//! read back directly. `openssh-server` must be installed (`.ci/run`
//! installs it); without it these tests fail.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use acp_bridge::delivery::sftp::{HostKeyPin, SftpError, SftpSettings, SftpUploader};
use acp_bridge::delivery::snapshot::{
    ShardLimits, ShardPrefix, Snapshot, SnapshotFormat, SnapshotSpec, build_snapshot,
};
use acp_bridge::domain::{
    Currency, InventoryPolicy, Media, Money, Platform, Product, ProductOption, ProductStatus,
    SelectedOption, ShopId, Variant,
};
use acp_bridge::feed::generation::{GenerationSettings, build_and_publish};
use acp_bridge::feed::{FLAT_COLUMNS, FeedFilter, FeedFormat, FeedOptions};
use acp_bridge::store::Store;
use chrono::{TimeZone, Utc};
use flate2::read::MultiGzDecoder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd with its keys; killed on drop.
pub(crate) struct SshServer {
    dir: tempfile::TempDir,
    child: Child,
    pub(crate) port: u16,
    pub(crate) user: String,
}

impl SshServer {
    pub(crate) async fn start() -> SshServer {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install Debian's `openssh-server` (apt-get install -y openssh-server); .ci/run does this"
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        keygen(&root.join("host_ed25519"), "ed25519");
        keygen(&root.join("user_ed25519"), "ed25519");
        keygen(&root.join("user_rsa"), "rsa");
        let authorized = [
            read_string(&root.join("user_ed25519.pub")),
            read_string(&root.join("user_rsa.pub")),
        ]
        .concat();
        std::fs::write(root.join("authorized_keys"), authorized).unwrap();
        std::fs::create_dir(root.join("upload")).unwrap();
        // sshd started as root checks for its privilege separation
        // directory even with no privileged child in use.
        if is_root() {
            std::fs::create_dir_all("/run/sshd").expect("creating /run/sshd for sshd");
        }
        let config = format!(
            "ListenAddress 127.0.0.1\n\
             HostKey {root}/host_ed25519\n\
             PidFile none\n\
             AuthorizedKeysFile {root}/authorized_keys\n\
             StrictModes no\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\n\
             UsePAM no\n\
             Subsystem sftp internal-sftp\n\
             LogLevel ERROR\n",
            root = root.display()
        );
        let config_path = root.join("sshd_config");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(root.join("sshd.log")).unwrap();
        let mut child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config_path)
            .arg("-p")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting sshd");
        wait_for_banner(&mut child, port, &root.join("sshd.log")).await;
        SshServer {
            user: current_user(),
            dir,
            child,
            port,
        }
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn upload_dir(&self) -> PathBuf {
        self.root().join("upload")
    }

    /// The host key as a known_hosts line.
    pub(crate) fn known_hosts_line(&self) -> String {
        let key = read_string(&self.root().join("host_ed25519.pub"));
        format!("[127.0.0.1]:{} {}", self.port, key.trim())
    }

    fn settings(&self, port: u16) -> SftpSettings {
        SftpSettings {
            host: "127.0.0.1".into(),
            port,
            user: self.user.clone(),
            private_key_path: self.root().join("user_ed25519"),
            private_key_passphrase: None,
            host_key: self.known_hosts_line().parse().unwrap(),
            remote_dir: self.upload_dir().display().to_string(),
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(10),
        }
    }

    /// Names in the upload directory, sorted.
    pub(crate) fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.upload_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path, kind: &str) {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", "", "-C", "", "-f"])
        .arg(path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    let status = cmd.status().expect("running ssh-keygen (openssh-client)");
    assert!(status.success(), "ssh-keygen -t {kind} failed");
}

fn read_string(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn is_root() -> bool {
    current_uid() == "0"
}

fn current_uid() -> String {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until sshd answers with its SSH banner (or fails with its log if
/// it exits or stays silent).
async fn wait_for_banner(child: &mut Child, port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "sshd exited ({status}) before accepting connections: {}",
                read_string(log)
            );
        }
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await {
            let mut banner = [0u8; 8];
            if let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut banner)).await
            {
                assert_eq!(&banner, b"SSH-2.0-", "not an SSH server on {port}");
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "sshd did not answer on port {port}: {}",
            read_string(log)
        );
        // Yield to the OS between connection attempts; readiness is the
        // banner above, this only paces the polling.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A TCP proxy in front of sshd that cuts its first connection after
/// `cut_after` bytes from the client; later connections pass untouched.
struct CuttingProxy {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CuttingProxy {
    async fn start(upstream: u16, cut_after: usize) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let first = count.fetch_add(1, Ordering::SeqCst) == 0;
                let limit = first.then_some(cut_after);
                tokio::spawn(forward(client, upstream, limit));
            }
        });
        CuttingProxy {
            addr,
            connections,
            task,
        }
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(client: TcpStream, upstream: u16, limit: Option<usize>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let down = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    });
    let mut sent = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match client_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let n = match limit {
            Some(limit) if sent + n >= limit => {
                let _ = server_write.write_all(&buf[..limit - sent]).await;
                // Cut both directions at once.
                down.abort();
                return;
            }
            _ => n,
        };
        if server_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
        sent += n;
    }
    let _ = down.await;
}

fn shop() -> ShopId {
    ShopId::parse("northpeak").unwrap()
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn options() -> FeedOptions {
    FeedOptions {
        seller_name: "NorthPeak Outfitters".into(),
        seller_url: url("https://northpeak.example"),
        storefront_url: url("https://northpeak.example"),
        target_countries: vec!["US".into(), "CA".into()],
        store_country: "US".into(),
        privacy_policy_url: Some(url("https://northpeak.example/policies/privacy-policy")),
        terms_of_service_url: Some(url("https://northpeak.example/policies/terms-of-service")),
        return_policy_url: Some(url("https://northpeak.example/policies/refund-policy")),
        shipping_policy_url: None,
        checkout_eligible: true,
        url_params: vec![],
        accepts_returns: Some(true),
        return_deadline_in_days: Some(30),
    }
}

/// `count` two-variant products; `noise` characters of random text in each
/// description make the files compress poorly (so uploads are large
/// enough to cut mid-way). Descriptions carry commas, quotes, tabs and line
/// breaks to exercise the delimited forms.
fn products(count: usize, noise: usize, seed: u64, edition: &str) -> Vec<Product> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..count)
        .map(|i| {
            let handle = format!("trail-pack-{i}");
            let text: String = (0..noise).map(|_| rng.alphanumeric()).collect();
            let variant = |n: usize, size: &str| Variant {
                id: format!("{}", 700_000 + i * 10 + n),
                title: size.into(),
                sku: Some(format!("TP-{i}-{size}")),
                barcode: None,
                price: Money::new(4_999 + (i as i64) * 100, Currency::USD),
                compare_at_price: None,
                inventory_tracked: true,
                inventory_quantity: (i % 4) as i64,
                inventory_policy: InventoryPolicy::Deny,
                available_for_sale: i % 4 != 0,
                selected_options: vec![SelectedOption {
                    name: "Size".into(),
                    value: size.into(),
                }],
                weight: None,
                requires_shipping: true,
                media: vec![],
                position: n as u32 + 1,
            };
            Product {
                platform: Platform::Shopify,
                id: format!("{}", 900_000 + i),
                handle: handle.clone(),
                title: format!("Trail Pack {i} {edition}"),
                description_html: format!(
                    "<p>Pack {i}, \"{edition}\" edition.</p>\n<p>Tab\there; {text}</p>"
                ),
                vendor: Some("NorthPeak".into()),
                product_type: Some("Backpacks".into()),
                tags: vec![],
                status: ProductStatus::Active,
                published: true,
                url: Some(url(&format!("https://northpeak.example/products/{handle}"))),
                category: Some("Luggage & Bags > Backpacks".into()),
                options: vec![ProductOption {
                    name: "Size".into(),
                    values: vec!["S".into(), "L".into()],
                }],
                media: vec![Media {
                    url: url(&format!("https://cdn.example/{handle}.jpg")),
                    alt_text: None,
                    width: Some(1200),
                    height: Some(1200),
                }],
                variants: vec![variant(0, "S"), variant(1, "L")],
                updated_at: Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap(),
            }
        })
        .collect()
}

/// Replaces the catalog with `products` and publishes a generation.
fn publish(store: &Store, products: &[Product]) {
    let old: Vec<String> = (0..1_000).map(|i| format!("{}", 900_000 + i)).collect();
    store.remove_products(&shop(), &old).unwrap();
    store.upsert_products(&shop(), products).unwrap();
    let options = options();
    let filter = FeedFilter::default();
    let settings = GenerationSettings {
        options: &options,
        filter: &filter,
        max_drop_percent: 100,
    };
    build_and_publish(store, &shop(), &settings).unwrap();
}

fn snapshot(store: &Store, format: SnapshotFormat, max_rows: u64, work: &Path) -> Snapshot {
    let spec = SnapshotSpec {
        limits: ShardLimits {
            max_rows,
            ..ShardLimits::default()
        },
        ..SnapshotSpec::new(format, ShardPrefix::parse("products").unwrap())
    };
    build_snapshot(store, &shop(), &spec, work).unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// The published feed's rows, as the JSON objects of `openai.jsonl.gz`.
fn published_json_rows(store: &Store) -> Vec<serde_json::Map<String, Value>> {
    let meta = store.feed_meta(&shop()).unwrap().unwrap();
    let mut gz = Vec::new();
    store
        .read_artifact(
            &shop(),
            meta.generation,
            FeedFormat::OpenAiJsonlGz.stored_name(),
            &mut gz,
        )
        .unwrap();
    String::from_utf8(gunzip(&gz))
        .unwrap()
        .lines()
        .map(|l| match serde_json::from_str(l).unwrap() {
            Value::Object(map) => map,
            other => panic!("not a row: {other}"),
        })
        .collect()
}

/// The rows of one uploaded file, as text values by column (absent values
/// left out), whatever its format.
fn uploaded_rows(format: SnapshotFormat, bytes: &[u8]) -> Vec<HashMap<String, String>> {
    match format {
        SnapshotFormat::Parquet => {
            let reader = SerializedFileReader::new(bytes::Bytes::from(bytes.to_vec())).unwrap();
            reader
                .get_row_iter(None)
                .unwrap()
                .map(|row| {
                    row.unwrap()
                        .get_column_iter()
                        .filter_map(|(name, field)| match field {
                            Field::Str(s) => Some((name.clone(), s.clone())),
                            Field::Null => None,
                            other => panic!("{name} is not a string: {other:?}"),
                        })
                        .collect()
                })
                .collect()
        }
        SnapshotFormat::CsvGz | SnapshotFormat::TsvGz => {
            let delimiter = if format == SnapshotFormat::CsvGz {
                b','
            } else {
                b'\t'
            };
            let text = gunzip(bytes);
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .from_reader(text.as_slice());
            let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
            assert_eq!(header, FLAT_COLUMNS);
            reader
                .records()
                .map(|r| {
                    header
                        .iter()
                        .cloned()
                        .zip(r.unwrap().iter().map(String::from))
                        .filter(|(_, v)| !v.is_empty())
                        .collect()
                })
                .collect()
        }
        SnapshotFormat::JsonlGz => String::from_utf8(gunzip(bytes))
            .unwrap()
            .lines()
            .map(|l| {
                let Value::Object(map) = serde_json::from_str(l).unwrap() else {
                    panic!("not a row: {l}");
                };
                map.into_iter()
                    .map(|(k, v)| (k, serde_json::to_string(&v).unwrap()))
                    .collect()
            })
            .collect(),
    }
}

/// Asserts that `text` says what the JSON value says, by the flat feed's
/// text rules (booleans `true`/`false`, lists comma-joined, objects as
/// JSON; TSV turns tabs and line breaks into spaces).
fn assert_same_value(column: &str, json: &Value, text: &str, format: SnapshotFormat) {
    match (format, json) {
        (SnapshotFormat::JsonlGz, _) => {
            assert_eq!(
                &serde_json::from_str::<Value>(text).unwrap(),
                json,
                "{column}"
            );
        }
        (_, Value::String(s)) if format == SnapshotFormat::TsvGz => {
            assert_eq!(text, s.replace(['\t', '\n', '\r'], " "), "{column}");
        }
        (_, Value::String(s)) => assert_eq!(text, s, "{column}"),
        (_, Value::Bool(b)) => assert_eq!(text, b.to_string(), "{column}"),
        (_, Value::Number(n)) => {
            assert_eq!(
                text.parse::<f64>().unwrap(),
                n.as_f64().unwrap(),
                "{column}"
            );
        }
        (_, Value::Array(items)) => {
            let joined: Vec<&str> = items.iter().map(|v| v.as_str().unwrap()).collect();
            assert_eq!(text, joined.join(","), "{column}");
        }
        (_, Value::Object(_)) => {
            assert_eq!(
                &serde_json::from_str::<Value>(text).unwrap(),
                json,
                "{column}"
            );
        }
        (_, Value::Null) => panic!("{column}: null in the JSON feed"),
    }
}

/// Reads every uploaded shard of `snapshot` from the server's directory
/// and compares it row by row with the published JSON Lines feed.
fn assert_uploaded_matches_feed(server: &SshServer, snapshot: &Snapshot, store: &Store) {
    let expected = published_json_rows(store);
    let mut rows = Vec::new();
    for shard in &snapshot.shards {
        let bytes = std::fs::read(server.upload_dir().join(&shard.name)).unwrap();
        assert_eq!(hex(&Sha256::digest(&bytes)), shard.sha256, "{}", shard.name);
        rows.extend(uploaded_rows(snapshot.format, &bytes));
    }
    assert_eq!(rows.len(), expected.len(), "{}", snapshot.format);
    for (i, (got, want)) in rows.iter().zip(&expected).enumerate() {
        let mut got_columns: Vec<&String> = got.keys().collect();
        got_columns.sort();
        let mut want_columns: Vec<&String> = want.keys().collect();
        want_columns.sort();
        assert_eq!(got_columns, want_columns, "{} row {i}", snapshot.format);
        for (column, value) in want {
            assert_same_value(column, value, &got[column], snapshot.format);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn every_format_uploads_and_reads_back_row_by_row_as_the_json_feed() {
    let server = SshServer::start().await;
    let store = Store::temporary().unwrap();
    publish(&store, &products(7, 40, 1, "first"));
    let work = tempfile::tempdir().unwrap();

    let uploader = SftpUploader::connect(&server.settings(server.port))
        .await
        .unwrap();
    assert!(uploader.has_posix_rename(), "OpenSSH offers posix-rename");
    for format in SnapshotFormat::ALL {
        let snapshot = snapshot(&store, format, 5, work.path());
        assert_eq!(snapshot.shards.len(), 3, "14 rows in shards of 5");
        let report = uploader.upload_set(&snapshot).await.unwrap();
        assert_eq!(
            report.uploaded,
            snapshot
                .shards
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
        );
        assert_eq!(report.bytes, snapshot.bytes());
        assert_uploaded_matches_feed(&server, &snapshot, &store);
        // The previous format's shards were replaced, not kept beside.
        let names: Vec<String> = snapshot.shards.iter().map(|s| s.name.clone()).collect();
        assert_eq!(server.listing(), names, "{format}");
    }
    uploader.close().await;
}

#[tokio::test]
async fn a_host_key_other_than_the_pinned_one_is_refused() {
    let server = SshServer::start().await;
    let other = server.root().join("other_host");
    keygen(&other, "ed25519");
    let other_key = read_string(&other.with_extension("pub"));

    let mut settings = server.settings(server.port);
    settings.host_key = format!("[127.0.0.1]:{} {}", server.port, other_key.trim())
        .parse()
        .unwrap();
    let err = SftpUploader::connect(&settings).await.unwrap_err();
    let real = fingerprint(&server.root().join("host_ed25519.pub"));
    match &err {
        SftpError::HostKeyMismatch { presented, .. } => assert_eq!(presented, &real),
        other => panic!("expected a host key mismatch, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(err.to_string().contains(&real), "{err}");

    // The same server pinned by its fingerprint is accepted.
    settings.host_key = real.parse::<HostKeyPin>().unwrap();
    SftpUploader::connect(&settings)
        .await
        .unwrap()
        .close()
        .await;
    // And a fingerprint of another key is refused too.
    settings.host_key = fingerprint(&other.with_extension("pub")).parse().unwrap();
    assert!(matches!(
        SftpUploader::connect(&settings).await,
        Err(SftpError::HostKeyMismatch { .. })
    ));
}

fn fingerprint(public_key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(public_key)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn a_connection_cut_mid_upload_leaves_no_partial_file_and_a_retry_succeeds() {
    let server = SshServer::start().await;
    let store = Store::temporary().unwrap();
    let work = tempfile::tempdir().unwrap();

    // v1 in place.
    publish(&store, &products(150, 4_500, 2, "first"));
    let v1 = snapshot(&store, SnapshotFormat::JsonlGz, 100, work.path());
    let uploader = SftpUploader::connect(&server.settings(server.port))
        .await
        .unwrap();
    uploader.upload_set(&v1).await.unwrap();
    uploader.close().await;
    assert_eq!(v1.shards.len(), 3);

    // v2 through a proxy that cuts the connection a little way into the
    // upload (the handshake and authentication take a few KB).
    publish(&store, &products(150, 4_500, 3, "second"));
    let v2 = snapshot(&store, SnapshotFormat::JsonlGz, 100, work.path());
    assert!(v2.shards[0].bytes > 100_000, "{:?}", v2.shards[0]);
    let proxy = CuttingProxy::start(server.port, 60_000).await;
    let mut settings = server.settings(proxy.addr.port());
    settings.io_timeout = Duration::from_secs(5);
    let uploader = SftpUploader::connect(&settings).await.unwrap();
    let err = uploader.upload_set(&v2).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    drop(uploader);

    // Every shard name holds a complete file: the old one.
    for (old, new) in v1.shards.iter().zip(&v2.shards) {
        let bytes = std::fs::read(server.upload_dir().join(&old.name)).unwrap();
        let sha = hex(&Sha256::digest(&bytes));
        assert_eq!(sha, old.sha256, "{} is not the complete old file", old.name);
        assert_ne!(sha, new.sha256);
    }
    // The cut happened inside the first shard's upload.
    let part = server.upload_dir().join(".products-00001.jsonl.gz.part");
    let partial = std::fs::metadata(&part)
        .expect("the first shard's partial upload is left under its temporary name")
        .len();
    assert!(partial < v2.shards[0].bytes, "{partial}");
    assert!(
        matches!(err, SftpError::Upload { ref name, .. } if name == "products-00001.jsonl.gz"),
        "{err:?}"
    );

    // A retry (a new connection, which the proxy lets through) succeeds.
    let uploader = SftpUploader::connect(&settings).await.unwrap();
    let report = uploader.upload_set(&v2).await.unwrap();
    uploader.close().await;
    assert_eq!(proxy.connections.load(Ordering::SeqCst), 2);
    assert_eq!(report.uploaded.len(), 3);
    assert_uploaded_matches_feed(&server, &v2, &store);
    assert_eq!(
        server.listing(),
        vec![
            "products-00001.jsonl.gz",
            "products-00002.jsonl.gz",
            "products-00003.jsonl.gz"
        ],
        "no partial uploads left behind"
    );
}

#[tokio::test]
async fn a_smaller_set_replaces_a_larger_one_and_its_extra_shard_is_removed() {
    let server = SshServer::start().await;
    let store = Store::temporary().unwrap();
    let work = tempfile::tempdir().unwrap();
    // Files that are not this prefix's shards stay.
    std::fs::write(server.upload_dir().join("README.txt"), "keep").unwrap();
    std::fs::write(server.upload_dir().join("other-00003.parquet"), "keep").unwrap();

    publish(&store, &products(4, 10, 4, "first")); // 8 rows: 3 + 3 + 2
    let large = snapshot(&store, SnapshotFormat::Parquet, 3, work.path());
    assert_eq!(large.shards.len(), 3);
    let uploader = SftpUploader::connect(&server.settings(server.port))
        .await
        .unwrap();
    let report = uploader.upload_set(&large).await.unwrap();
    assert!(report.removed.is_empty());

    publish(&store, &products(3, 10, 4, "second")); // 6 rows: 3 + 3
    let small = snapshot(&store, SnapshotFormat::Parquet, 3, work.path());
    assert_eq!(small.shards.len(), 2);
    let report = uploader.upload_set(&small).await.unwrap();
    uploader.close().await;

    assert_eq!(report.removed, vec!["products-00003.parquet"]);
    assert_eq!(
        server.listing(),
        vec![
            "README.txt",
            "other-00003.parquet",
            "products-00001.parquet",
            "products-00002.parquet"
        ]
    );
    assert_uploaded_matches_feed(&server, &small, &store);
}

#[tokio::test]
async fn an_rsa_key_and_plain_rename_replace_files_too() {
    let server = SshServer::start().await;
    let store = Store::temporary().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut settings = server.settings(server.port);
    settings.private_key_path = server.root().join("user_rsa");

    publish(&store, &products(3, 10, 5, "first"));
    let first = snapshot(&store, SnapshotFormat::CsvGz, 100, work.path());
    let mut uploader = SftpUploader::connect(&settings).await.unwrap();
    // OpenSSH's plain rename refuses an existing target: this exercises
    // the remove-then-rename path.
    uploader.disable_posix_rename();
    uploader.upload_set(&first).await.unwrap();

    publish(&store, &products(3, 10, 6, "second"));
    let second = snapshot(&store, SnapshotFormat::CsvGz, 100, work.path());
    assert_ne!(first.hash, second.hash);
    uploader.upload_set(&second).await.unwrap();
    uploader.close().await;
    assert_uploaded_matches_feed(&server, &second, &store);
    assert_eq!(server.listing(), vec!["products-00001.csv.gz"]);
}

#[tokio::test]
async fn a_key_the_server_does_not_know_is_rejected() {
    let server = SshServer::start().await;
    let stranger = server.root().join("stranger");
    keygen(&stranger, "ed25519");
    let mut settings = server.settings(server.port);
    settings.private_key_path = stranger;
    let err = SftpUploader::connect(&settings).await.unwrap_err();
    assert!(matches!(err, SftpError::AuthRejected { .. }), "{err:?}");
    assert!(!err.is_retryable());

    settings.private_key_path = server.root().join("missing");
    let err = SftpUploader::connect(&settings).await.unwrap_err();
    assert!(matches!(err, SftpError::PrivateKey { .. }), "{err:?}");
}
