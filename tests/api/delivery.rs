//! Feed delivery run by the daemon: a shop with two targets (OpenAI-style
//! SFTP snapshots to a real OpenSSH server, and an ACP Feed API emulator),
//! delivered through the admin API as the schedule or `acp-bridge deliver`
//! does: what each target receives, that an unchanged feed sends nothing,
//! that each attempt is recorded and shown in the status, and that a
//! failing target does not hold up the other.

use acp_bridge::emulator::feed_api::{FeedApiEmulator, FeedApiEmulatorConfig, FeedApiServer};
use acp_bridge::emulator::shopify::Price;
use serde_json::Value;

use crate::helpers::*;
use crate::sftp::SshServer;

struct Setup {
    shop: TestEmulator,
    app: TestApp,
    feed_api: FeedApiServer,
    sshd: SshServer,
}

async fn setup() -> Setup {
    let shop = spawn_emulator(sample_emulator_config()).await;
    let sshd = SshServer::start().await;
    let feed_api = FeedApiEmulator::new(FeedApiEmulatorConfig {
        spec_dir: acp_spec_dir(),
        ..FeedApiEmulatorConfig::default()
    })
    .unwrap()
    .start()
    .await
    .unwrap();
    let extra = format!(
        r#"
[[shops.delivery]]
id = "openai"
kind = "sftp"
schedule = "@yearly"
host = "127.0.0.1"
port = {port}
user = "{user}"
private_key = "{key}"
host_key = "{host_key}"
remote_dir = "{dir}"
formats = ["parquet", "jsonl.gz"]
file_prefix = "demo-products"
connect_timeout_secs = 5
io_timeout_secs = 5
[[shops.delivery]]
id = "agent"
kind = "feed_api"
schedule = "@yearly"
base_url = "{feed_api}"
api_key = "{api_key}"
target_country = "US"
"#,
        port = sshd.port,
        user = sshd.user,
        key = sshd.root().join("user_ed25519").display(),
        host_key = sshd.known_hosts_line(),
        dir = sshd.upload_dir().display(),
        feed_api = feed_api.base_url(),
        api_key = FeedApiEmulatorConfig::DEFAULT_API_KEY,
    );
    let app = spawn_app(&settings_toml(&shop_toml("demo", &shop.url, TOKEN, &extra))).await;
    app.sync("demo", true).await.unwrap();
    Setup {
        shop,
        app,
        feed_api,
        sshd,
    }
}

async fn deliver(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app
        .http
        .post(format!(
            "http://{}/admin/shops/demo/deliver?{query}",
            app.admin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let records: Value = response.json().await.unwrap();
    records.as_array().unwrap().clone()
}

fn record<'a>(records: &'a [Value], target: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["target"] == target)
        .unwrap_or_else(|| panic!("no record of {target}: {records:?}"))
}

async fn status_deliveries(app: &TestApp) -> Value {
    let all: Value = app
        .http
        .get(format!("http://{}/admin/status", app.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all[0]["deliveries"].clone()
}

#[tokio::test]
async fn both_targets_get_the_feed_once_and_a_failing_one_does_not_stop_the_other() {
    let s = setup().await;
    let rows = s
        .app
        .store
        .feed_meta(&acp_bridge::domain::ShopId::parse("demo").unwrap())
        .unwrap()
        .unwrap();

    let first = deliver(&s.app, "").await;

    let sftp = record(&first, "openai");
    assert_eq!(sftp["outcome"], "delivered", "{sftp}");
    assert_eq!(sftp["rows"], rows.rows_valid);
    assert!(sftp["bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        s.sshd.listing(),
        [
            "demo-products-00001.jsonl.gz",
            "demo-products-00001.parquet"
        ]
    );
    let api = record(&first, "agent");
    assert_eq!(api["outcome"], "delivered", "{api}");
    let feeds = s.feed_api.emulator().feeds();
    assert_eq!(feeds.len(), 1);
    assert_eq!(feeds[0].products as u64, api["rows"].as_u64().unwrap());
    assert!(feeds[0].products > 0);

    // Nothing changed: nothing is sent to either.
    let uploaded = std::fs::metadata(s.sshd.upload_dir().join("demo-products-00001.parquet"))
        .unwrap()
        .modified()
        .unwrap();
    let requests = s.feed_api.emulator().counters().requests;
    let second = deliver(&s.app, "").await;
    for target in ["openai", "agent"] {
        let r = record(&second, target);
        assert_eq!(r["outcome"], "unchanged", "{r}");
        assert_eq!(r["bytes"], 0, "{r}");
    }
    assert_eq!(s.feed_api.emulator().counters().requests, requests);
    assert_eq!(
        std::fs::metadata(s.sshd.upload_dir().join("demo-products-00001.parquet"))
            .unwrap()
            .modified()
            .unwrap(),
        uploaded
    );

    // A price changes; the SFTP server is gone.
    let product = s.feed_api.emulator().products(&feeds[0].id).unwrap()[0].clone();
    let product_id = product["id"].as_str().unwrap().to_owned();
    s.shop
        .emulator
        .update_product(&format!("gid://shopify/Product/{product_id}"), |p| {
            for v in &mut p.variants {
                v.price = Price::new(777, 0);
                v.compare_at_price = None;
            }
        })
        .unwrap();
    s.app.sync("demo", false).await.unwrap();
    let Setup {
        app,
        feed_api,
        sshd,
        ..
    } = s;
    drop(sshd);

    let third = deliver(&app, "").await;

    let failed = record(&third, "openai");
    assert_eq!(failed["outcome"], "failed", "{failed}");
    assert!(failed["error"].as_str().is_some_and(|e| !e.is_empty()));
    let api = record(&third, "agent");
    assert_eq!(api["outcome"], "delivered", "{api}");
    assert!(
        api["detail"].as_str().unwrap().starts_with("1 upserted"),
        "{api}"
    );
    let stored = feed_api
        .emulator()
        .product(&feeds[0].id, &product_id)
        .unwrap();
    assert_eq!(stored["variants"][0]["price"]["amount"], 77700);

    // The status shows both targets, the failure counted.
    let deliveries = status_deliveries(&app).await;
    let by_target = |t: &str| {
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d[0] == t)
            .map(|d| d[1].clone())
            .unwrap()
    };
    let openai = by_target("openai");
    assert_eq!(openai["consecutive_failures"], 1);
    assert_eq!(openai["last_attempt"]["outcome"], "failed");
    assert!(openai["last_success"].is_string());
    let agent = by_target("agent");
    assert_eq!(agent["consecutive_failures"], 0);
    assert_eq!(agent["feed_api"]["feed_id"], feeds[0].id.as_str());
}

#[tokio::test]
async fn an_unknown_target_is_refused_and_force_sends_an_unchanged_feed() {
    let s = setup().await;
    let response = s
        .app
        .http
        .post(format!(
            "http://{}/admin/shops/demo/deliver?target=nope",
            s.app.admin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let first = deliver(&s.app, "target=openai").await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["outcome"], "delivered");
    let again = deliver(&s.app, "target=openai&force=true").await;
    assert_eq!(again[0]["outcome"], "delivered", "{:?}", again[0]);
    assert_eq!(again[0]["hash"], first[0]["hash"], "the same files again");
}
