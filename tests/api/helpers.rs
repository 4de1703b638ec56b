//! `spawn_app()` and friends: a Shopify emulator on a real loopback listener
//! and the daemon built from a real config pointing at it.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use acp_bridge::app::{AppOptions, Application};
use acp_bridge::config::Settings;
use acp_bridge::domain::ShopId;
use acp_bridge::emulator::shopify::{EmulatorConfig, ShopData, ShopifyEmulator};
use acp_bridge::scheduler::RunSummary;
use acp_bridge::store::Store;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TOKEN: &str = EmulatorConfig::DEFAULT_TOKEN;

/// Logs go to the test output only when `TEST_LOG` is set.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        acp_bridge::telemetry::init(acp_bridge::config::LogFormat::Pretty, "info");
    }
});

/// Reference files next to the repository (see README "Testing").
pub fn acp_spec_dir() -> PathBuf {
    std::env::var_os("ACP_SPEC_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/acp-spec"),
        PathBuf::from,
    )
}

/// A running emulator on 127.0.0.1:0.
pub struct TestEmulator {
    pub emulator: ShopifyEmulator,
    pub url: String,
    _task: JoinHandle<()>,
}

pub async fn spawn_emulator(config: EmulatorConfig) -> TestEmulator {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let emulator = ShopifyEmulator::new(config);
    emulator.set_base_url(url.clone());
    let router = emulator.router();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    TestEmulator {
        emulator,
        url,
        _task: task,
    }
}

/// The `[[shops]]` block of one shop served by `emulator_url`.
pub fn shop_toml(id: &str, emulator_url: &str, token: &str, extra: &str) -> String {
    format!(
        r#"
[[shops]]
id = "{id}"
[shops.shopify]
shop_domain = "{id}.myshopify.com"
api_base_url = "{emulator_url}"
access_token = "{token}"
request_timeout_ms = 2000
connect_timeout_ms = 1000
max_retries = 4
[shops.schedule]
full_sync_cron = "@yearly"
incremental_interval_secs = 0
max_backoff_secs = 1
{extra}
"#
    )
}

pub fn settings_toml(shops: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
[log]
format = "pretty"
[shutdown]
deadline_secs = 5
{shops}
"#
    )
}

pub struct TestApp {
    pub public: SocketAddr,
    pub admin: SocketAddr,
    pub store: Store,
    pub http: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Starts the daemon (no start-up sync: tests trigger syncs explicitly
/// through the admin API, which answers when the run is done).
pub async fn spawn_app(config_toml: &str) -> TestApp {
    spawn_app_in(config_toml, tempfile::tempdir().unwrap()).await
}

pub async fn spawn_app_in(config_toml: &str, data_dir: tempfile::TempDir) -> TestApp {
    LazyLock::force(&TRACING);
    let mut settings = Settings::from_toml(config_toml).unwrap();
    settings.data_dir = data_dir.path().to_path_buf();
    let store = Store::open(data_dir.path()).unwrap();
    let app = Application::build(
        settings,
        AppOptions {
            store: Some(store.clone()),
            no_initial_sync: true,
            ..AppOptions::default()
        },
    )
    .await
    .unwrap();
    let (public, admin) = (app.public_addr(), app.admin_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        public,
        admin,
        store,
        http: reqwest::Client::new(),
        data_dir,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestApp {
    /// Runs a sync through the admin API and returns its summary or error.
    pub async fn sync(&self, shop: &str, full: bool) -> Result<RunSummary, String> {
        let response = self
            .http
            .post(format!(
                "http://{}/admin/shops/{shop}/sync?full={full}",
                self.admin
            ))
            .send()
            .await
            .unwrap();
        let ok = response.status().is_success();
        let body: Value = response.json().await.unwrap();
        if ok {
            Ok(serde_json::from_value(body).unwrap())
        } else {
            Err(body["message"].as_str().unwrap_or_default().to_owned())
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("http://{}{path}", self.public))
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("http://{}{path}", self.admin))
            .send()
            .await
            .unwrap()
    }

    /// The published OpenAI JSONL feed rows of `shop`.
    pub async fn openai_rows(&self, shop: &str) -> Vec<Value> {
        let response = self.get(&format!("/feeds/{shop}/openai.jsonl.gz")).await;
        assert_eq!(response.status(), 200, "feed of {shop} not served");
        let bytes = response.bytes().await.unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The published ACP feed products of `shop`.
    pub async fn acp_products(&self, shop: &str) -> Vec<Value> {
        let response = self.get(&format!("/feeds/{shop}/acp.jsonl")).await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub async fn report(&self, shop: &str) -> Value {
        self.admin_get(&format!("/admin/shops/{shop}/feed/report"))
            .await
            .json()
            .await
            .unwrap()
    }

    pub fn shop(id: &str) -> ShopId {
        ShopId::parse(id).unwrap()
    }

    /// Stops the daemon and returns how long the stop took.
    pub async fn stop(mut self) -> (Duration, Store, tempfile::TempDir) {
        let started = std::time::Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        (started.elapsed(), self.store, self.data_dir)
    }
}

/// The item ids of eligible variants the sample shop's emulator holds:
/// ACTIVE products published to the Online Store.
pub fn eligible_variant_ids(emulator: &ShopifyEmulator) -> Vec<String> {
    let online: u64 = numeric(&emulator.online_store_publication_id())
        .parse()
        .unwrap();
    let mut ids: Vec<String> = emulator
        .products()
        .into_iter()
        .filter(|p| {
            p.status == acp_bridge::emulator::shopify::ProductStatus::Active
                && p.publications.contains(&online)
        })
        .flat_map(|p| p.variants.into_iter().map(|v| v.id.to_string()))
        .collect();
    ids.sort();
    ids
}

pub fn numeric(gid: &str) -> String {
    gid.rsplit('/').next().unwrap().to_owned()
}

pub fn sample_emulator_config() -> EmulatorConfig {
    EmulatorConfig::with_data(ShopData::sample())
}
