//! How a CLI command reaches the daemon's state: the store directly when no
//! daemon holds its lock, otherwise the daemon's loopback admin API.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::delivery::run::{DeliveryRecord, TargetRunner};
use crate::domain::ShopId;
use crate::feed::FeedFormat;
use crate::scheduler::RunSummary;
use crate::status::{ShopStatus, shop_status};
use crate::store::{Store, SyncKind};
use crate::sync::{ShopSync, SyncProgress};

pub enum StateAccess {
    Direct(Store),
    Daemon { base: String, http: reqwest::Client },
}

impl StateAccess {
    /// Opens the store, or falls back to the running daemon's admin API when
    /// the store is locked by it.
    ///
    /// # Errors
    /// Neither the store nor a daemon could be reached.
    pub fn open(settings: &Settings) -> anyhow::Result<Self> {
        match Store::open(&settings.data_dir) {
            Ok(store) => Ok(StateAccess::Direct(store)),
            Err(store_err) => {
                // Prefer the address the running daemon recorded (it may have
                // been given port 0), then the configured one.
                let recorded =
                    std::fs::read_to_string(settings.data_dir.join(crate::app::ADMIN_ADDR_FILE))
                        .ok()
                        .and_then(|s| s.trim().parse::<std::net::SocketAddr>().ok());
                let addr = recorded.unwrap_or(settings.admin.listen);
                let base = format!("http://{addr}");
                let http = reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .build()?;
                eprintln!(
                    "store at {} is in use ({store_err}); using the running daemon at {base}",
                    settings.data_dir.display()
                );
                Ok(StateAccess::Daemon { base, http })
            }
        }
    }

    fn shop_id(settings: &Settings, shop: &str) -> anyhow::Result<ShopId> {
        settings
            .shop(shop)
            .map(|s| s.id.clone())
            .ok_or_else(|| anyhow!("no shop `{shop}` in the configuration"))
    }

    async fn get_json(http: &reqwest::Client, url: String) -> anyhow::Result<Value> {
        let response = http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("reaching the daemon at {url}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .context("reading the daemon's answer")?;
        if !status.is_success() {
            bail!("daemon answered {status}: {}", body["message"]);
        }
        Ok(body)
    }

    pub async fn status(&self, settings: &Settings) -> anyhow::Result<Vec<ShopStatus>> {
        match self {
            StateAccess::Direct(store) => settings
                .shops
                .iter()
                .map(|s| Ok(shop_status(store, &s.id, s.enabled)?))
                .collect(),
            StateAccess::Daemon { base, http } => {
                let body = Self::get_json(http, format!("{base}/admin/status")).await?;
                Ok(serde_json::from_value(body)?)
            }
        }
    }

    pub async fn sync(
        &self,
        settings: &Settings,
        shop: &str,
        kind: SyncKind,
    ) -> anyhow::Result<RunSummary> {
        match self {
            StateAccess::Direct(store) => {
                let shop_settings = settings
                    .shop(shop)
                    .ok_or_else(|| anyhow!("no shop `{shop}` in the configuration"))?;
                let job = ShopSync::new(shop_settings.clone(), store.clone())?;
                // Run by hand: resumes a shop whose app was uninstalled.
                job.clear_uninstalled()?;
                let bar = progress_bar();
                let progress = |p: SyncProgress| {
                    if let Some(bar) = &bar {
                        match p {
                            SyncProgress::Stage(stage) => bar.set_message(stage),
                            SyncProgress::Products(n) => bar.set_position(n),
                        }
                    }
                };
                let result = job.run_once(kind, &progress).await;
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
                store.flush()?;
                result.map_err(|e| anyhow!(e))
            }
            StateAccess::Daemon { base, http } => {
                let url = format!(
                    "{base}/admin/shops/{shop}/sync?full={}",
                    kind == SyncKind::Full
                );
                let response = http
                    .post(&url)
                    .send()
                    .await
                    .with_context(|| format!("reaching the daemon at {url}"))?;
                let status = response.status();
                let body: Value = response.json().await?;
                if !status.is_success() {
                    bail!(
                        "sync failed: {}",
                        body["message"].as_str().unwrap_or("unknown")
                    );
                }
                Ok(serde_json::from_value(body)?)
            }
        }
    }

    pub async fn report(&self, settings: &Settings, shop: &str) -> anyhow::Result<Value> {
        match self {
            StateAccess::Direct(store) => {
                let id = Self::shop_id(settings, shop)?;
                Ok(json!({
                    "meta": store.feed_meta(&id)?,
                    "report": store.feed_report(&id)?,
                    "held": store.held_feed(&id)?,
                }))
            }
            StateAccess::Daemon { base, http } => {
                Self::get_json(http, format!("{base}/admin/shops/{shop}/feed/report")).await
            }
        }
    }

    pub async fn export(
        &self,
        settings: &Settings,
        shop: &str,
        format: FeedFormat,
        path: &Path,
    ) -> anyhow::Result<u64> {
        let mut file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        match self {
            StateAccess::Direct(store) => {
                let id = Self::shop_id(settings, shop)?;
                let meta = store
                    .feed_meta(&id)?
                    .ok_or_else(|| anyhow!("shop {shop} has no published feed yet"))?;
                if format.stored_gzipped() {
                    let mut decoder = flate2::write::GzDecoder::new(file);
                    store.read_artifact(
                        &id,
                        meta.generation,
                        format.stored_name(),
                        &mut decoder,
                    )?;
                    let file = decoder.finish()?;
                    Ok(file.metadata()?.len())
                } else {
                    Ok(store.read_artifact(
                        &id,
                        meta.generation,
                        format.stored_name(),
                        &mut file,
                    )?)
                }
            }
            StateAccess::Daemon { base, http } => {
                use std::io::Write;
                let url = format!(
                    "{base}/admin/shops/{shop}/feed/files/{}",
                    format.file_name()
                );
                let mut response = http.get(&url).send().await?;
                if !response.status().is_success() {
                    bail!("daemon answered {} for {url}", response.status());
                }
                let mut n = 0u64;
                while let Some(chunk) = response.chunk().await? {
                    file.write_all(&chunk)?;
                    n += chunk.len() as u64;
                }
                Ok(n)
            }
        }
    }
    /// Delivers `shop`'s feed to its targets (or `target` alone) now.
    ///
    /// # Errors
    /// An unknown shop or target, the daemon unreachable, store failures.
    pub async fn deliver(
        &self,
        settings: &Settings,
        shop: &str,
        target: Option<&str>,
        force: bool,
    ) -> anyhow::Result<Vec<DeliveryRecord>> {
        match self {
            StateAccess::Direct(store) => {
                let shop_settings = settings
                    .shop(shop)
                    .ok_or_else(|| anyhow!("no shop `{shop}` in the configuration"))?;
                let targets: Vec<_> = shop_settings
                    .delivery
                    .iter()
                    .filter(|t| target.is_none_or(|wanted| wanted == t.id))
                    .collect();
                if targets.is_empty() {
                    bail!(
                        "shop `{shop}` has no delivery target{}",
                        target.map(|t| format!(" `{t}`")).unwrap_or_default()
                    );
                }
                let mut records = Vec::new();
                for t in targets {
                    let runner = TargetRunner::new(
                        shop_settings.id.clone(),
                        store.clone(),
                        t.clone(),
                        settings.data_dir.join("delivery-work"),
                    );
                    records.push(runner.deliver(force).await?);
                }
                store.flush()?;
                Ok(records)
            }
            StateAccess::Daemon { base, http } => {
                let mut url = url::Url::parse(&format!("{base}/admin/shops/{shop}/deliver"))?;
                url.query_pairs_mut()
                    .append_pair("force", if force { "true" } else { "false" });
                if let Some(t) = target {
                    url.query_pairs_mut().append_pair("target", t);
                }
                let response = http
                    .post(url.as_str())
                    .send()
                    .await
                    .with_context(|| format!("reaching the daemon at {url}"))?;
                let status = response.status();
                let body: Value = response.json().await?;
                if !status.is_success() {
                    bail!(
                        "delivery failed: {}",
                        body["message"].as_str().unwrap_or("unknown")
                    );
                }
                Ok(serde_json::from_value(body)?)
            }
        }
    }
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg} · {pos} products")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

/// The merchant-facing text of `feed validate`.
pub fn render_report(value: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let meta = &value["meta"];
    if meta.is_null() {
        out.push_str("no feed has been published yet\n");
        return out;
    }
    let _ = writeln!(
        out,
        "generation {}: {} valid rows, {} invalid rows, {} products excluded",
        meta["generation"], meta["rows_valid"], meta["rows_invalid"], meta["products_excluded"]
    );
    if !value["held"].is_null() {
        let h = &value["held"];
        let _ = writeln!(
            out,
            "HELD BACK: generation {} had only {} valid rows (published: {}, max drop {} %)",
            h["generation"], h["rows_valid"], h["published_rows_valid"], h["max_drop_percent"]
        );
    }
    let report = &value["report"];
    if let Some(excluded) = report["excluded_products"].as_array()
        && !excluded.is_empty()
    {
        let _ = writeln!(out, "\nproducts not listed:");
        for p in excluded {
            let _ = writeln!(
                out,
                "  {} {:?}: {}",
                p["product_id"].as_str().unwrap_or(""),
                p["title"].as_str().unwrap_or(""),
                p["reason"].as_str().unwrap_or("")
            );
        }
    }
    for (label, key) in [
        ("invalid rows (left out)", "invalid_rows"),
        ("warnings (published)", "warnings"),
    ] {
        if let Some(rows) = report[key].as_array()
            && !rows.is_empty()
        {
            let _ = writeln!(out, "\n{label}:");
            for r in rows {
                let _ = writeln!(
                    out,
                    "  item {} (product {}) {:?}",
                    r["item_id"].as_str().unwrap_or(""),
                    r["product_id"].as_str().unwrap_or(""),
                    r["title"].as_str().unwrap_or("")
                );
                for issue in r["issues"].as_array().into_iter().flatten() {
                    let _ = writeln!(out, "      - {}", issue.as_str().unwrap_or(""));
                }
            }
        }
    }
    out
}
