//! The command line as an operator uses it: the real binary, real config
//! files, the emulator as the shop.

use std::process::{Command, Output};

use serde_json::Value;

use crate::helpers::*;

fn acp_bridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acp-bridge"))
        .args(args)
        .env_remove("ACP_BRIDGE_CONFIG")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn check_config_lists_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
[[shops]]
id = "acme"
[shops.shopify]
shop_domain = "acme.myshopify.com"
[shops.schedule]
full_sync_cron = "0 9 1 * MON"
incremental_interval_secs = 3
"#,
    )
    .unwrap();

    let out = acp_bridge(&["check-config", "--config", path.to_str().unwrap()]);

    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let all = text(&out);
    for needle in [
        "access_token",
        "full_sync_cron",
        "incremental_interval_secs",
    ] {
        assert!(all.contains(needle), "{needle} missing from:\n{all}");
    }
}

#[test]
fn check_config_shows_the_next_three_runs_in_crontab_terms() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.toml");
    std::fs::write(
        &path,
        r#"
[[shops]]
id = "acme"
[shops.shopify]
shop_domain = "acme.myshopify.com"
access_token = "t"
[shops.schedule]
full_sync_cron = "30 2 * * 1"
"#,
    )
    .unwrap();

    let out = acp_bridge(&["check-config", "--config", path.to_str().unwrap()]);

    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let runs: Vec<&str> = stdout.lines().filter(|l| l.contains("02:30 UTC")).collect();
    assert_eq!(runs.len(), 3, "{stdout}");
    // Crontab weekday 1 is Monday.
    assert!(
        runs.iter().all(|l| l.trim_start().starts_with("Mon ")),
        "{stdout}"
    );
}

#[tokio::test]
async fn one_shot_sync_then_validate_export_and_status_without_a_daemon() {
    let emu = spawn_emulator(sample_emulator_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let toml = format!(
        "[store]\ndata_dir = \"{}\"\n{}",
        dir.path().join("data").display(),
        shop_toml("demo", &emu.url, TOKEN, "")
    );
    std::fs::write(&config, toml).unwrap();
    let cfg = config.to_str().unwrap().to_owned();
    let run = move |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            acp_bridge(&refs)
        })
    };
    let args = |list: &[&str]| -> Vec<String> {
        list.iter()
            .map(|s| s.to_string())
            .chain(["--config".to_string(), cfg.clone()])
            .collect()
    };

    let sync = run(args(&["sync", "--shop", "demo", "--full"]))
        .await
        .unwrap();
    assert!(sync.status.success(), "{}", text(&sync));
    assert!(String::from_utf8_lossy(&sync.stdout).contains("feed published"));

    // `feed validate` explains exclusions and exits 1 while rows are invalid.
    let validate = run(args(&["feed", "validate", "--shop", "demo"]))
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&validate.stdout);
    assert!(report.contains("products not listed"), "{report}");
    assert!(report.contains("invalid rows"), "{report}");
    assert_eq!(validate.status.code(), Some(1));

    let out = dir.path().join("feed.jsonl");
    let export = run(args(&[
        "feed",
        "export",
        "--shop",
        "demo",
        "--format",
        "acp-jsonl",
        "-o",
        out.to_str().unwrap(),
    ]))
    .await
    .unwrap();
    assert!(export.status.success(), "{}", text(&export));
    let exported = std::fs::read_to_string(&out).unwrap();
    let first: Value = serde_json::from_str(exported.lines().next().unwrap()).unwrap();
    assert!(first["variants"].is_array());

    let status = run(args(&["status", "--json"])).await.unwrap();
    assert!(status.status.success(), "{}", text(&status));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status[0]["shop"], "demo");
    assert!(status[0]["feed"]["rows_valid"].as_u64().unwrap() > 0);
    assert!(status[0]["last_full"].is_object());

    // A failing sync exits non-zero (for timers and cron).
    emu.emulator.faults().revoke_token(TOKEN);
    let failed = run(args(&["sync", "--shop", "demo"])).await.unwrap();
    assert!(!failed.status.success());
}
