use super::*;

fn load_str(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let mut table = parse_table(text, "test")?;
    apply_env(
        &mut table,
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )?;
    Settings::from_table(table, None)
}

const MINIMAL: &str = r#"
[[shops]]
id = "acme"
[shops.shopify]
shop_domain = "acme.myshopify.com"
access_token = "shpat_x"
"#;

#[test]
fn minimal_config_gets_documented_defaults() {
    let s = load_str(MINIMAL, &[]).unwrap();
    assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.admin.listen.to_string(), "127.0.0.1:9464");
    let shop = s.shop("acme").unwrap();
    assert_eq!(shop.shopify.api_version, "2026-10");
    assert_eq!(shop.shopify.publication, "Online Store");
    assert_eq!(shop.schedule.full_sync.as_str(), "0 3 * * *");
    assert_eq!(
        shop.schedule.incremental_every,
        Some(Duration::from_secs(300))
    );
    assert_eq!(shop.feed.max_drop_percent, 20);
    assert_eq!(shop.feed.target_countries, vec!["US".to_string()]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
[admin]
listen = "0.0.0.0:9464"
[[shops]]
id = "Bad Id"
[shops.shopify]
shop_domain = "https://acme.myshopify.com/"
api_version = "2026-05"
[shops.schedule]
full_sync_cron = "0 9 * *"
[shops.feed]
target_countries = ["usa"]
max_drop_percent = 150
"#;
    let Err(ConfigError::Invalid(problems)) = load_str(text, &[]) else {
        panic!("expected validation problems");
    };
    let all = problems.join("\n");
    for needle in [
        "admin.listen",
        "Bad Id",
        "shop_domain",
        "api_version",
        "access_token",
        "full_sync_cron",
        "target_countries",
        "max_drop_percent",
    ] {
        assert!(all.contains(needle), "missing {needle} in:\n{all}");
    }
    assert!(problems.len() >= 8, "{problems:#?}");
}

#[test]
fn environment_overrides_sections_and_shops_by_id() {
    let s = load_str(
        MINIMAL,
        &[
            ("ACP_BRIDGE__SERVER__LISTEN", "0.0.0.0:9000"),
            (
                "ACP_BRIDGE__SHOPS__ACME__SCHEDULE__INCREMENTAL_INTERVAL_SECS",
                "0",
            ),
            (
                "ACP_BRIDGE__SHOPS__0__FEED__TARGET_COUNTRIES",
                r#"["CA","US"]"#,
            ),
            ("UNRELATED", "x"),
        ],
    )
    .unwrap();
    assert_eq!(s.server.listen.to_string(), "0.0.0.0:9000");
    let shop = s.shop("acme").unwrap();
    assert_eq!(shop.schedule.incremental_every, None);
    assert_eq!(shop.feed.target_countries, vec!["CA", "US"]);
    let err = load_str(MINIMAL, &[("ACP_BRIDGE__SHOPS__NOPE__ENABLED", "false")]).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn secrets_come_from_env_or_files_and_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "shpat_from_file\n").unwrap();
    let text = format!(
        r#"
[[shops]]
id = "a"
[shops.shopify]
shop_domain = "a.myshopify.com"
access_token = {{ file = "{}" }}
[[shops]]
id = "b"
[shops.shopify]
shop_domain = "b.myshopify.com"
client_id = "cid"
client_secret = {{ env = "ACP_TEST_SECRET_THAT_IS_NOT_SET" }}
"#,
        path.display()
    );
    let err = load_str(&text, &[]).unwrap_err().to_string();
    assert!(err.contains("ACP_TEST_SECRET_THAT_IS_NOT_SET"), "{err}");

    let ok = text.replace(
        "client_id = \"cid\"\nclient_secret = { env = \"ACP_TEST_SECRET_THAT_IS_NOT_SET\" }",
        "access_token = \"literal\"",
    );
    let s = load_str(&ok, &[]).unwrap();
    let a = s.shop("a").unwrap();
    let ShopifyAuthSettings::AccessToken(token) = &a.shopify.auth else {
        panic!("expected a token");
    };
    use secrecy::ExposeSecret;
    assert_eq!(token.expose_secret(), "shpat_from_file");
    let printed = format!("{s:?}");
    assert!(
        !printed.contains("shpat_from_file"),
        "secret leaked: {printed}"
    );
    assert!(!printed.contains("literal"), "secret leaked");
}

#[test]
fn later_files_override_earlier_ones_and_shops_merge_by_id() {
    let mut base = parse_table(MINIMAL, "a").unwrap();
    let over = parse_table(
        r#"
[[shops]]
id = "acme"
[shops.schedule]
full_sync_cron = "15 1 * * 0"
[[shops]]
id = "second"
[shops.shopify]
shop_domain = "second.myshopify.com"
access_token = "t"
"#,
        "b",
    )
    .unwrap();
    merge(&mut base, over);
    let s = Settings::from_table(base, None).unwrap();
    assert_eq!(s.shops.len(), 2);
    let acme = s.shop("acme").unwrap();
    assert_eq!(acme.schedule.full_sync.as_str(), "15 1 * * 0");
    assert_eq!(acme.shopify.shop_domain, "acme.myshopify.com");
}

#[test]
fn shipped_example_and_demo_configs_are_valid() {
    use secrecy::ExposeSecret;
    let demo = Settings::from_toml(DEMO_CONFIG).unwrap();
    assert_eq!(demo.shops[0].id.as_str(), "demo");
    // The example reads secrets from files/env; supply them.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acme-shopify-token"), "t").unwrap();
    std::fs::write(dir.path().join("acme-shopify-webhook-secret"), "whs").unwrap();
    std::fs::write(dir.path().join("globex-shopify-secret"), "s").unwrap();
    std::fs::write(dir.path().join("acme-stripe-secret-key"), "sk_test_x").unwrap();
    let mut table = parse_table(EXAMPLE_CONFIG, "example").unwrap();
    apply_env(&mut table, std::iter::empty()).unwrap();
    let raw: RawSettings = toml::Value::Table(table).try_into().unwrap();
    let dir_path = dir.path().display().to_string();
    let lookup = move |name: &str| match name {
        "CREDENTIALS_DIRECTORY" => Some(dir_path.clone()),
        "ACME_OPENAI_ACP_KEY" => Some("an-agent-key-of-some-length".to_owned()),
        _ => None,
    };
    let s = validate::validate(raw, None, &lookup).unwrap();
    assert_eq!(s.shops.len(), 2);
    let checkout = s.shop("acme").unwrap().checkout.as_ref().unwrap();
    assert_eq!(checkout.agents[0].id, "openai");
    assert!(s.shop("globex").unwrap().checkout.is_none());
    // Webhooks: acme's key from its file; globex (client credentials)
    // verifies with its client secret.
    let secret = |shop: &str| {
        s.shop(shop)
            .unwrap()
            .shopify
            .webhook_secret
            .as_ref()
            .map(|k| k.expose_secret().to_owned())
    };
    assert_eq!(secret("acme").as_deref(), Some("whs"));
    assert_eq!(secret("globex").as_deref(), Some("s"));
    // The demo's webhook key is the emulator's app secret.
    assert_eq!(
        demo.shops[0]
            .shopify
            .webhook_secret
            .as_ref()
            .map(|k| k.expose_secret().to_owned())
            .as_deref(),
        Some(crate::emulator::shopify::EmulatorConfig::DEFAULT_APP_SECRET)
    );
    let demo_checkout = demo.shops[0].checkout.as_ref().unwrap();
    assert_eq!(
        demo_checkout.agents[0].api_key.expose_secret(),
        "demo-agent-key"
    );
}

#[test]
fn checkout_problems_are_all_reported() {
    let text = r#"
[[shops]]
id = "acme"
[shops.shopify]
shop_domain = "acme.myshopify.com"
access_token = "t"
[shops.feed]
checkout_eligible = false
[shops.checkout]
signature_policy = "sometimes"
[[shops.checkout.agents]]
id = "a"
api_key = "short"
[shops.checkout.stripe]
merchant_id = "not-an-account"
"#;
    let Err(ConfigError::Invalid(problems)) = Settings::from_toml(text) else {
        panic!("expected validation problems");
    };
    let all = problems.join("\n");
    for expected in [
        "shops.acme.checkout.agents[0].api_key: must be at least 12 characters",
        "shops.acme.checkout.signature_policy",
        "shops.acme.checkout.stripe.secret_key: missing",
        "shops.acme.checkout.stripe.merchant_id",
        "shops.acme.checkout: needs shops.feed.checkout_eligible = true",
    ] {
        assert!(all.contains(expected), "missing `{expected}` in:\n{all}");
    }
}

const CHECKOUT_SHOP: &str = r#"
[[shops]]
id = "acme"
[shops.shopify]
shop_domain = "acme.myshopify.com"
access_token = "t"
[shops.feed]
checkout_eligible = true
[shops.checkout.stripe]
secret_key = "sk_test_x"
merchant_id = "acct_1"
"#;

#[test]
fn order_webhooks_take_a_signed_url_per_agent_and_a_retry_policy_per_shop() {
    use secrecy::ExposeSecret;
    let text = format!(
        r#"{CHECKOUT_SHOP}
[shops.checkout.order_webhooks]
max_attempts = 5
initial_backoff_secs = 0.5
[[shops.checkout.agents]]
id = "openai"
api_key = "agent-key-0123456789"
webhook_url = "https://agent.example/agentic_checkout/webhooks/order_events?token=abc"
webhook_secret = {{ env = "ACME_WEBHOOK_SECRET" }}
webhook_api_version = "2025-09-29"
[[shops.checkout.agents]]
id = "other"
api_key = "other-key-0123456789"
"#
    );
    let s = load_str(&text, &[]);
    let Err(ConfigError::Invalid(problems)) = s else {
        panic!("the secret's variable is not set: {s:?}");
    };
    assert!(
        problems.iter().any(|p| p.contains("ACME_WEBHOOK_SECRET")),
        "{problems:?}"
    );

    // With the variable (looked up through the injected environment).
    let table = parse_table(&text, "test").unwrap();
    let raw: RawSettings = toml::Value::Table(table).try_into().unwrap();
    let lookup = |name: &str| (name == "ACME_WEBHOOK_SECRET").then(|| "whsec_1".to_owned());
    let s = validate::validate(raw, None, &lookup).unwrap();
    let checkout = s.shop("acme").unwrap().checkout.as_ref().unwrap();
    let hook = checkout.agents[0].webhook.as_ref().unwrap();
    assert_eq!(hook.secret.expose_secret(), "whsec_1");
    assert_eq!(
        hook.api_version,
        Some(crate::checkout::ApiVersion::V2025_09_29)
    );
    assert!(checkout.agents[1].webhook.is_none());
    let debug = format!("{:?}", checkout.agents[0]);
    assert!(
        !debug.contains("whsec_1") && !debug.contains("token=abc"),
        "{debug}"
    );
    let policy = &checkout.order_webhooks;
    assert_eq!(policy.max_attempts, 5);
    assert_eq!(policy.initial_backoff, Duration::from_millis(500));
    assert_eq!(policy.max_backoff, Duration::from_secs(3600), "default");
    assert_eq!(policy.timeout, Duration::from_secs(10), "default");
}

#[test]
fn order_webhook_problems_are_listed_with_the_others() {
    let text = format!(
        r#"{CHECKOUT_SHOP}
[shops.checkout.order_webhooks]
max_attempts = 0
initial_backoff_secs = 120
max_backoff_secs = 60
timeout_secs = -1
[[shops.checkout.agents]]
id = "a"
api_key = "agent-key-0123456789"
webhook_url = "ftp://agent.example/hook"
webhook_api_version = "2026-01-30"
[[shops.checkout.agents]]
id = "b"
api_key = "agent-key-9876543210"
webhook_secret = "whsec_b"
"#
    );
    let Err(ConfigError::Invalid(problems)) = load_str(&text, &[]) else {
        panic!("expected validation problems");
    };
    let all = problems.join("\n");
    for expected in [
        "shops.acme.checkout.order_webhooks.max_attempts: must be at least 1",
        "shops.acme.checkout.order_webhooks.initial_backoff_secs: must not exceed max_backoff_secs",
        "shops.acme.checkout.order_webhooks.timeout_secs",
        "shops.acme.checkout.agents[0].webhook_url: `ftp://agent.example/hook` must be an http(s) URL",
        "shops.acme.checkout.agents[0].webhook_secret: missing",
        "shops.acme.checkout.agents[0].webhook_api_version: `2026-01-30`",
        "shops.acme.checkout.agents[1].webhook_url: missing",
    ] {
        assert!(all.contains(expected), "missing `{expected}` in:\n{all}");
    }
}

#[test]
fn reconciliation_takes_its_schedule_per_shop_and_refuses_nonsense() {
    let agent = "[[shops.checkout.agents]]\nid = \"a\"\napi_key = \"agent-key-0123456789\"\n";
    let s = load_str(&format!("{CHECKOUT_SHOP}\n{agent}"), &[]).unwrap();
    let defaults = &s.shop("acme").unwrap().checkout.as_ref().unwrap().reconcile;
    assert_eq!(defaults.every, Duration::from_secs(300));
    assert_eq!(defaults.grace, Duration::from_secs(300));
    assert_eq!(defaults.lookback, Duration::from_secs(72 * 3600));

    let text = format!(
        "{CHECKOUT_SHOP}\n[shops.checkout.reconcile]\nevery_secs = 60\ngrace_secs = 0.5\nlookback_hours = 24\n{agent}"
    );
    let s = load_str(&text, &[]).unwrap();
    let r = &s.shop("acme").unwrap().checkout.as_ref().unwrap().reconcile;
    assert_eq!(r.every, Duration::from_secs(60));
    assert_eq!(r.grace, Duration::from_millis(500));
    assert_eq!(r.lookback, Duration::from_secs(24 * 3600));

    let text = format!(
        "{CHECKOUT_SHOP}\n[shops.checkout.reconcile]\nevery_secs = 0\ngrace_secs = -3\nlookback_hours = 0\n{agent}"
    );
    let Err(ConfigError::Invalid(problems)) = load_str(&text, &[]) else {
        panic!("expected validation problems");
    };
    let all = problems.join("\n");
    for expected in [
        "shops.acme.checkout.reconcile.every_secs",
        "shops.acme.checkout.reconcile.grace_secs",
        "shops.acme.checkout.reconcile.lookback_hours",
    ] {
        assert!(all.contains(expected), "missing `{expected}` in:\n{all}");
    }
}

const ETSY: &str = r#"
[etsy]
keystring = "abc123"
shared_secret = { env = "ETSY_SECRET" }

[[shops]]
id = "acme"
[shops.shopify]
shop_domain = "acme.myshopify.com"
access_token = "shpat_x"

[[shops]]
id = "crafts"
[shops.etsy]
shop_id = 51234567
[shops.feed]
url_params = { utm_source = "chatgpt" }
"#;

fn etsy_env(name: &str) -> Option<String> {
    (name == "ETSY_SECRET").then(|| "s3cret".to_owned())
}

fn validate_etsy(text: &str) -> Result<Settings, Vec<String>> {
    let raw: RawSettings = toml::Value::Table(parse_table(text, "test").unwrap())
        .try_into()
        .unwrap();
    validate::validate(raw, None, &etsy_env)
}

#[test]
fn etsy_shops_land_in_their_own_list_with_the_shared_app() {
    let s = validate_etsy(ETSY).unwrap();
    assert_eq!(s.shops.len(), 1);
    assert_eq!(s.etsy_shops.len(), 1);
    let shop = s.etsy_shop("crafts").unwrap();
    assert_eq!(shop.etsy_shop_id, 51234567);
    assert!(!shop.feed.checkout_eligible);
    let app = s.etsy.as_ref().unwrap();
    assert_eq!(app.keystring, "abc123");
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&app.shared_secret),
        "s3cret"
    );
    assert_eq!(
        app.redirect_uri.as_str(),
        "http://localhost:3003/etsy/callback"
    );
    assert!(!format!("{app:?}").contains("s3cret"));
}

#[test]
fn etsy_shop_mistakes_are_reported() {
    let both = ETSY.replace("[shops.etsy]\nshop_id = 51234567", "[shops.etsy]\nshop_id = 1\n[shops.shopify]\nshop_domain = \"x.myshopify.com\"\naccess_token = \"t\"");
    let problems = validate_etsy(&both).unwrap_err().join("\n");
    assert!(problems.contains("exactly one"), "{problems}");

    let neither = "[[shops]]\nid = \"x\"\n";
    let problems = validate_etsy(neither).unwrap_err().join("\n");
    assert!(
        problems.contains("[shops.shopify] or a [shops.etsy]"),
        "{problems}"
    );

    let no_app = ETSY.replace(
        "[etsy]\nkeystring = \"abc123\"\nshared_secret = { env = \"ETSY_SECRET\" }\n",
        "",
    );
    let problems = validate_etsy(&no_app).unwrap_err().join("\n");
    assert!(problems.contains("[etsy] app section"), "{problems}");

    let checkout = ETSY.replace(
        "url_params = { utm_source = \"chatgpt\" }",
        "checkout_eligible = true",
    );
    let problems = validate_etsy(&checkout).unwrap_err().join("\n");
    assert!(
        problems.contains("cannot be true for an Etsy shop"),
        "{problems}"
    );

    let delivery = format!(
        "{ETSY}[[shops.delivery]]\nid = \"openai\"\nkind = \"feed_api\"\nbase_url = \"https://agent.example\"\napi_key = \"k\"\n"
    );
    let problems = validate_etsy(&delivery).unwrap_err().join("\n");
    assert!(
        problems.contains("feed delivery is not available for Etsy shops"),
        "{problems}"
    );

    let duplicate = ETSY.replace("id = \"crafts\"", "id = \"acme\"");
    let problems = validate_etsy(&duplicate).unwrap_err().join("\n");
    assert!(problems.contains("duplicate shop id"), "{problems}");
}
