//! Start, stop and crash: the daemon stops within its deadline, and a
//! process killed mid-sync resumes cleanly on restart.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

/// Polls `check` every 25 ms until it returns `Some` or `timeout` passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn stopping_during_a_sync_finishes_within_the_deadline() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    emu.emulator
        .faults()
        .slow_bulk_operations(Duration::from_secs(120));
    let app = spawn_app(&settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))).await;
    let admin = app.admin;
    let sync = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("http://{admin}/admin/shops/demo/sync?full=true"))
            .send()
            .await
    });
    wait_for(
        "the bulk operation to start",
        Duration::from_secs(10),
        || async { (emu.emulator.counters().bulk_operations_started > 0).then_some(()) },
    )
    .await;

    let (took, store, _dir) = app.stop().await;

    // Deadline is 5 s in the test config; the run is cut at its next await.
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    let response = sync.await.unwrap().unwrap();
    assert!(!response.status().is_success());
    assert!(store.feed_meta(&TestApp::shop("demo")).unwrap().is_none());
}

struct Daemon {
    child: Child,
    public: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the real binary with `config` and returns once it logged its
/// listening address.
fn start_daemon(config: &std::path::Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_acp-bridge"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let public = loop {
        let line = lines
            .next()
            .expect("daemon exited before it was running")
            .unwrap();
        let Ok(entry) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if entry["fields"]["message"] == "acp-bridge running" {
            break entry["fields"]["public.addr"].as_str().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Daemon { child, public }
}

/// The published OpenAI rows of the `demo` shop, or `None` while there is
/// no feed (or the daemon is not answering yet).
async fn feed_rows(http: &reqwest::Client, public: &str) -> Option<Vec<Value>> {
    let response = http
        .get(format!("http://{public}/feeds/demo/openai.jsonl.gz"))
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let bytes = response.bytes().await.ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text).ok()?;
    Some(
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

async fn feed_item_ids(http: &reqwest::Client, public: &str) -> Option<Vec<String>> {
    let mut ids: Vec<String> = feed_rows(http, public)
        .await?
        .iter()
        .map(|r| r["item_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    Some(ids)
}

#[tokio::test]
async fn a_daemon_killed_mid_sync_resumes_cleanly_after_restart() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    // `[store]` goes first: after `[[shops]]` it would belong to a shop.
    let toml = format!(
        "[store]\ndata_dir = \"{}\"\n{}",
        dir.path().join("data").display(),
        settings_toml(&shop_toml("demo", &emu.url, TOKEN, ""))
            .replace("format = \"pretty\"", "format = \"json\"")
    );
    std::fs::write(&config, toml).unwrap();
    let http = reqwest::Client::new();

    // 1. Killed (SIGKILL) while its first full sync waits for the bulk operation.
    emu.emulator
        .faults()
        .slow_bulk_operations(Duration::from_secs(120));
    let daemon = start_daemon(&config);
    wait_for(
        "the bulk operation to start",
        Duration::from_secs(20),
        || async { (emu.emulator.counters().bulk_operations_started > 0).then_some(()) },
    )
    .await;
    drop(daemon);

    // 2. Restarted: it syncs from scratch and publishes the complete feed.
    emu.emulator.faults().clear();
    let daemon = start_daemon(&config);
    let ids = wait_for("the first feed", Duration::from_secs(30), || {
        feed_item_ids(&http, &daemon.public)
    })
    .await;
    let expected_max = eligible_variant_ids(&emu.emulator);
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| expected_max.contains(id)));

    // 3. Killed again while an incremental sync is stuck on a hanging request.
    let victim = ids[0].clone();
    emu.emulator
        .set_inventory(&format!("gid://shopify/ProductVariant/{victim}"), 0)
        .unwrap();
    emu.emulator
        .faults()
        .hang_next(1_000, Duration::from_secs(60));
    let requests_before = emu.emulator.counters().requests;
    {
        // Ask for a run now through the CLI path (the daemon holds the lock).
        let mut child = Command::new(env!("CARGO_BIN_EXE_acp-bridge"))
            .args(["sync", "--shop", "demo", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(
            "the incremental request",
            Duration::from_secs(20),
            || async { (emu.emulator.counters().requests > requests_before).then_some(()) },
        )
        .await;
        let _ = child.kill();
        child.wait().unwrap();
    }
    drop(daemon);

    // 4. Restarted: the start-up incremental sync resumes from the stored
    //    cursor and picks up the change.
    emu.emulator.faults().clear();
    let daemon = start_daemon(&config);
    let rows = wait_for("the stock change", Duration::from_secs(30), || async {
        let rows = feed_rows(&http, &daemon.public).await?;
        let row = rows.iter().find(|r| r["item_id"] == victim.as_str())?;
        (row["availability"] != "in_stock").then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), ids.len());
}
