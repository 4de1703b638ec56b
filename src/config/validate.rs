//! Turns [`RawSettings`] into [`Settings`], collecting every problem.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::raw::{
    RawCheckout, RawEtsyApp, RawEtsyShop, RawFeed, RawOrderWebhooks, RawPolicies, RawReconcile,
    RawSchedule, RawSecret, RawShop, RawShopify,
};
use super::{
    AdminSettings, AgentSettings, AgentWebhook, CheckoutSettings, CronSchedule, EtsyAppConfig,
    EtsyShopSettings, FeedSettings, LogFormat, OrderWebhookSettings, RawSettings,
    ReconcileSettings, ScheduleSettings, ServerSettings, Settings, ShopSettings,
    ShopifyAuthSettings, ShopifySettings, SignaturePolicy, StripeCheckoutSettings,
};
use crate::domain::{ShopId, ShopPolicies};

/// Collects problems with their key path.
pub(super) struct Problems(pub(super) Vec<String>);

impl Problems {
    pub(super) fn add(&mut self, key: &str, message: impl std::fmt::Display) {
        self.0.push(format!("{key}: {message}"));
    }
}

pub(super) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(super) fn validate(
    raw: RawSettings,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Result<Settings, Vec<String>> {
    let mut p = Problems(Vec::new());

    let listen = addr(
        &mut p,
        "server.listen",
        raw.server.listen.as_deref(),
        "127.0.0.1:8080",
    );
    let public_url = raw
        .server
        .public_url
        .as_deref()
        .and_then(|u| url(&mut p, "server.public_url", u));
    let admin_listen = addr(
        &mut p,
        "admin.listen",
        raw.admin.listen.as_deref(),
        "127.0.0.1:9464",
    );
    if let Some(a) = admin_listen
        && !a.ip().is_loopback()
    {
        p.add(
            "admin.listen",
            "must be a loopback address: it serves /metrics and the admin API without auth",
        );
    }
    let log_format = match raw.log.format.as_deref().unwrap_or("json") {
        "json" => LogFormat::Json,
        "pretty" => LogFormat::Pretty,
        other => {
            p.add("log.format", format!("`{other}` is not `json` or `pretty`"));
            LogFormat::Json
        }
    };
    let data_dir = PathBuf::from(raw.store.data_dir.as_deref().unwrap_or("./data"));

    let mut seen = HashSet::new();
    let mut shops = Vec::new();
    let mut etsy_shops = Vec::new();
    let etsy = raw
        .etsy
        .map(|app| validate_etsy_app(&mut p, "etsy", app, base_dir, env));
    for (i, mut shop) in raw.shops.into_iter().enumerate() {
        let label = shop
            .id
            .clone()
            .map_or_else(|| format!("shops[{i}]"), |id| format!("shops.{id}"));
        if let Some(id) = &shop.id
            && !seen.insert(id.clone())
        {
            p.add(&label, "duplicate shop id");
        }
        if shop.shopify.is_some() && shop.etsy.is_some() {
            p.add(
                &label,
                "has both a [shops.shopify] and a [shops.etsy] section; a shop has exactly one",
            );
            continue;
        }
        if let Some(raw_etsy) = shop.etsy.take() {
            if etsy.is_none() {
                p.add(
                    &format!("{label}.etsy"),
                    "an Etsy shop needs the [etsy] app section (keystring, shared_secret)",
                );
            }
            if let Some(s) = validate_etsy_shop(&mut p, &label, shop, raw_etsy, base_dir, env) {
                etsy_shops.push(s);
            }
            continue;
        }
        if shop.shopify.is_none() {
            p.add(&label, "needs a [shops.shopify] or a [shops.etsy] section");
            continue;
        }
        if let Some(s) = validate_shop(&mut p, &label, shop, base_dir, env) {
            shops.push(s);
        }
    }

    let settings = Settings {
        server: ServerSettings {
            listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            public_url,
            request_timeout: Duration::from_millis(raw.server.request_timeout_ms.unwrap_or(30_000)),
        },
        admin: AdminSettings {
            listen: admin_listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9464))),
        },
        data_dir,
        log_format,
        log_filter: raw.log.filter.unwrap_or_else(|| "info".to_owned()),
        shutdown_deadline: Duration::from_secs(raw.shutdown.deadline_secs.unwrap_or(20)),
        shops,
        etsy: etsy.flatten(),
        etsy_shops,
    };
    if p.0.is_empty() {
        Ok(settings)
    } else {
        Err(p.0)
    }
}

fn addr(p: &mut Problems, key: &str, value: Option<&str>, default: &str) -> Option<SocketAddr> {
    let text = value.unwrap_or(default);
    match text.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            p.add(key, format!("`{text}` is not an ip:port address"));
            None
        }
    }
}

pub(super) fn url(p: &mut Problems, key: &str, value: &str) -> Option<Url> {
    match Url::parse(value) {
        Ok(u) if u.scheme() == "https" || u.scheme() == "http" => Some(u),
        Ok(_) => {
            p.add(key, format!("`{value}` must be an http(s) URL"));
            None
        }
        Err(e) => {
            p.add(key, format!("`{value}` is not a URL ({e})"));
            None
        }
    }
}

fn country(p: &mut Problems, key: &str, value: &str) -> Option<String> {
    if value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Some(value.to_owned())
    } else {
        p.add(
            key,
            format!("`{value}` is not an ISO 3166-1 alpha-2 code like `US`"),
        );
        None
    }
}

/// Resolves a secret from a literal, an environment variable or a file.
pub(super) fn secret(
    p: &mut Problems,
    key: &str,
    raw: &RawSecret,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Option<SecretString> {
    let (env_name, file, value) = match raw {
        RawSecret::Literal(v) => (None, None, Some(v.clone())),
        RawSecret::Source(s) => (s.env.clone(), s.file.clone(), s.value.clone()),
    };
    let given = [env_name.is_some(), file.is_some(), value.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given != 1 {
        p.add(key, "give exactly one of `env`, `file` or `value`");
        return None;
    }
    let resolved = if let Some(name) = env_name {
        match env(&name) {
            Some(v) => v,
            None => {
                p.add(key, format!("environment variable `{name}` is not set"));
                return None;
            }
        }
    } else if let Some(path) = file {
        // Relative paths are relative to the config file; systemd
        // credentials are usually given via $CREDENTIALS_DIRECTORY.
        let expanded = path.replace(
            "${CREDENTIALS_DIRECTORY}",
            &env("CREDENTIALS_DIRECTORY").unwrap_or_default(),
        );
        let mut full = PathBuf::from(&expanded);
        if full.is_relative()
            && let Some(dir) = base_dir
        {
            full = dir.join(full);
        }
        match std::fs::read_to_string(&full) {
            Ok(v) => v.trim_end_matches(['\n', '\r']).to_owned(),
            Err(e) => {
                p.add(
                    key,
                    format!("cannot read secret file {}: {e}", full.display()),
                );
                return None;
            }
        }
    } else {
        value.unwrap_or_default()
    };
    if resolved.trim().is_empty() {
        p.add(key, "secret is empty");
        return None;
    }
    Some(SecretString::from(resolved))
}

/// The shop's `id`, reported when missing or invalid.
fn shop_id(p: &mut Problems, label: &str, id: Option<&str>) -> Option<ShopId> {
    match id {
        None => {
            p.add(label, "missing `id`");
            None
        }
        Some(id) => ShopId::parse(id).map_err(|e| p.add(label, e)).ok(),
    }
}

fn validate_shop(
    p: &mut Problems,
    label: &str,
    raw: RawShop,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Option<ShopSettings> {
    let before = p.0.len();
    let id = shop_id(p, label, raw.id.as_deref());
    match raw.platform.as_deref().unwrap_or("shopify") {
        "shopify" => {}
        other => p.add(
            &format!("{label}.platform"),
            format!("`{other}` is not supported by this build (supported: shopify)"),
        ),
    }
    let shopify = validate_shopify(
        p,
        &format!("{label}.shopify"),
        raw.shopify.unwrap_or_default(),
        base_dir,
        env,
    );
    let schedule = validate_schedule(p, &format!("{label}.schedule"), raw.schedule);
    let checkout_eligible = raw.feed.checkout_eligible.unwrap_or(false);
    let feed = validate_feed(p, &format!("{label}.feed"), raw.feed, base_dir, env);
    let policy_overrides = validate_policies(p, &format!("{label}.policies"), raw.policies);
    let delivery = super::delivery::validate_deliveries(
        p,
        &format!("{label}.delivery"),
        raw.id.as_deref().unwrap_or("shop"),
        raw.delivery,
        base_dir,
        env,
    );
    let checkout = raw
        .checkout
        .filter(|c| c.enabled.unwrap_or(true))
        .and_then(|c| {
            if !checkout_eligible {
                p.add(
                    &format!("{label}.checkout"),
                    "needs shops.feed.checkout_eligible = true (the feed must offer what checkout sells)",
                );
            }
            validate_checkout(p, &format!("{label}.checkout"), c, base_dir, env)
        });
    if p.0.len() != before {
        return None;
    }
    Some(ShopSettings {
        id: id?,
        enabled: raw.enabled.unwrap_or(true),
        shopify: shopify?,
        schedule: schedule?,
        feed: feed?,
        policy_overrides,
        checkout,
        delivery,
    })
}

fn validate_checkout(
    p: &mut Problems,
    key: &str,
    raw: RawCheckout,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Option<CheckoutSettings> {
    let before = p.0.len();
    if raw.agents.is_empty() {
        p.add(
            &format!("{key}.agents"),
            "at least one agent with an `api_key` is needed to accept checkouts",
        );
    }
    let mut ids = HashSet::new();
    let mut agents = Vec::new();
    for (i, agent) in raw.agents.into_iter().enumerate() {
        let akey = format!("{key}.agents[{i}]");
        let id = match agent.id {
            Some(id) if !id.trim().is_empty() && id.len() <= 64 => id,
            _ => {
                p.add(
                    &format!("{akey}.id"),
                    "missing or longer than 64 characters",
                );
                continue;
            }
        };
        if !ids.insert(id.clone()) {
            p.add(
                &format!("{akey}.id"),
                format!("agent `{id}` is listed twice"),
            );
        }
        let api_key = match agent.api_key.as_ref() {
            Some(s) => secret(p, &format!("{akey}.api_key"), s, base_dir, env),
            None => {
                p.add(&format!("{akey}.api_key"), "missing");
                None
            }
        };
        if let Some(k) = &api_key
            && secrecy::ExposeSecret::expose_secret(k).len() < 12
        {
            p.add(&format!("{akey}.api_key"), "must be at least 12 characters");
        }
        let signing_secret = agent
            .signing_secret
            .as_ref()
            .and_then(|s| secret(p, &format!("{akey}.signing_secret"), s, base_dir, env));
        let webhook = validate_webhook(
            p,
            &akey,
            RawWebhook {
                url: agent.webhook_url.as_deref(),
                secret: agent.webhook_secret.as_ref(),
                api_version: agent.webhook_api_version.as_deref(),
            },
            base_dir,
            env,
        );
        if let Some(api_key) = api_key {
            agents.push(AgentSettings {
                id,
                api_key,
                signing_secret,
                webhook,
            });
        }
    }
    let signature_policy = match raw.signature_policy.as_deref().unwrap_or("off") {
        "strict" => SignaturePolicy::Strict,
        "log" => SignaturePolicy::Log,
        "off" => SignaturePolicy::Off,
        other => {
            p.add(
                &format!("{key}.signature_policy"),
                format!("`{other}` is not one of strict, log, off"),
            );
            SignaturePolicy::Off
        }
    };
    if signature_policy != SignaturePolicy::Off && agents.iter().any(|a| a.signing_secret.is_none())
    {
        p.add(
            &format!("{key}.signature_policy"),
            "checking signatures needs a `signing_secret` for every agent",
        );
    }
    let stripe_key = format!("{key}.stripe");
    let secret_key = match raw.stripe.secret_key.as_ref() {
        Some(s) => secret(p, &format!("{stripe_key}.secret_key"), s, base_dir, env),
        None => {
            p.add(&format!("{stripe_key}.secret_key"), "missing");
            None
        }
    };
    let merchant_id = match raw.stripe.merchant_id {
        Some(m) if m.starts_with("acct_") => Some(m),
        Some(m) => {
            p.add(
                &format!("{stripe_key}.merchant_id"),
                format!("`{m}` is not a Stripe account id (acct_…)"),
            );
            None
        }
        None => {
            p.add(&format!("{stripe_key}.merchant_id"), "missing");
            None
        }
    };
    let api_base_url = raw
        .stripe
        .api_base_url
        .as_deref()
        .and_then(|u| url(p, &format!("{stripe_key}.api_base_url"), u));
    let ttl = raw.session_ttl_minutes.unwrap_or(360);
    if ttl == 0 {
        p.add(&format!("{key}.session_ttl_minutes"), "must be positive");
    }
    let rpm = raw.requests_per_minute.unwrap_or(300);
    if rpm == 0 {
        p.add(&format!("{key}.requests_per_minute"), "must be positive");
    }
    let order_webhooks =
        validate_order_webhooks(p, &format!("{key}.order_webhooks"), &raw.order_webhooks);
    let reconcile = validate_reconcile(p, &format!("{key}.reconcile"), &raw.reconcile);
    if p.0.len() != before {
        return None;
    }
    Some(CheckoutSettings {
        agents,
        session_ttl: Duration::from_secs(ttl * 60),
        requests_per_minute: rpm,
        max_body_bytes: raw.max_body_bytes.unwrap_or(64 * 1024),
        signature_policy,
        max_clock_skew: Duration::from_secs(raw.max_clock_skew_secs.unwrap_or(300)),
        order_lookup_attempts: raw.order_lookup_attempts.unwrap_or(6).max(1),
        order_lookup_interval: Duration::from_millis(raw.order_lookup_interval_ms.unwrap_or(5_000)),
        test_orders: raw.test_orders.unwrap_or(false),
        send_receipt: raw.send_receipt.unwrap_or(false),
        hostname: raw.hostname.map(|h| h.trim().to_ascii_lowercase()),
        stripe: StripeCheckoutSettings {
            secret_key: secret_key?,
            merchant_id: merchant_id?,
            api_base_url,
            api_version: raw.stripe.api_version,
        },
        order_webhooks,
        reconcile,
    })
}

/// The webhook keys of one agent entry.
struct RawWebhook<'a> {
    url: Option<&'a str>,
    secret: Option<&'a RawSecret>,
    api_version: Option<&'a str>,
}

/// An agent's order webhook: a URL and the secret that signs its events,
/// both or neither.
fn validate_webhook(
    p: &mut Problems,
    akey: &str,
    agent: RawWebhook<'_>,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Option<AgentWebhook> {
    let url_key = format!("{akey}.webhook_url");
    let secret_key = format!("{akey}.webhook_secret");
    let version_key = format!("{akey}.webhook_api_version");
    let target = agent.url.and_then(|u| url(p, &url_key, u));
    let signing = agent
        .secret
        .and_then(|s| secret(p, &secret_key, s, base_dir, env));
    let api_version = agent.api_version.and_then(|v| {
        crate::checkout::ApiVersion::parse(v)
            .map_err(|_| {
                p.add(
                    &version_key,
                    format!("`{v}` is not a served ACP version (2025-09-29 or 2026-04-17)"),
                );
            })
            .ok()
    });
    match (agent.url.is_some(), agent.secret.is_some()) {
        (true, false) => p.add(
            &secret_key,
            "missing: order webhooks are signed with the secret the agent issued",
        ),
        (false, true) => p.add(&url_key, "missing: webhook_secret is set without a URL"),
        (false, false) if agent.api_version.is_some() => {
            p.add(&version_key, "needs a webhook_url");
        }
        _ => {}
    }
    Some(AgentWebhook {
        url: target?,
        secret: signing?,
        api_version,
    })
}

fn validate_order_webhooks(
    p: &mut Problems,
    key: &str,
    raw: &RawOrderWebhooks,
) -> OrderWebhookSettings {
    let defaults = OrderWebhookSettings::default();
    let mut seconds = |name: &str, value: Option<f64>, default: Duration| match value {
        None => default,
        // At most a week: longer waits are a typo, not a policy.
        Some(v) if v.is_finite() && v > 0.0 && v <= 604_800.0 => Duration::from_secs_f64(v),
        Some(v) => {
            p.add(
                &format!("{key}.{name}"),
                format!("{v} is not a positive number of seconds (at most a week)"),
            );
            default
        }
    };
    let initial_backoff = seconds(
        "initial_backoff_secs",
        raw.initial_backoff_secs,
        defaults.initial_backoff,
    );
    let max_backoff = seconds(
        "max_backoff_secs",
        raw.max_backoff_secs,
        defaults.max_backoff,
    );
    let timeout = seconds("timeout_secs", raw.timeout_secs, defaults.timeout);
    if initial_backoff > max_backoff {
        p.add(
            &format!("{key}.initial_backoff_secs"),
            "must not exceed max_backoff_secs",
        );
    }
    let max_attempts = raw.max_attempts.unwrap_or(defaults.max_attempts);
    if max_attempts == 0 {
        p.add(&format!("{key}.max_attempts"), "must be at least 1");
    }
    OrderWebhookSettings {
        max_attempts: max_attempts.max(1),
        initial_backoff,
        max_backoff,
        timeout,
    }
}

fn validate_reconcile(p: &mut Problems, key: &str, raw: &RawReconcile) -> ReconcileSettings {
    let defaults = ReconcileSettings::default();
    let mut seconds = |name: &str, value: Option<f64>, default: Duration| match value {
        None => default,
        Some(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Duration::from_secs_f64(v),
        Some(v) => {
            p.add(
                &format!("{key}.{name}"),
                format!("{v} is not a positive number of seconds (at most a day)"),
            );
            default
        }
    };
    let every = seconds("every_secs", raw.every_secs, defaults.every);
    let grace = seconds("grace_secs", raw.grace_secs, defaults.grace);
    let lookback = match raw.lookback_hours {
        None => defaults.lookback,
        Some(h) if (1..=24 * 90).contains(&h) => Duration::from_secs(h * 3600),
        Some(h) => {
            p.add(
                &format!("{key}.lookback_hours"),
                format!("{h} is not between 1 and 2160 hours"),
            );
            defaults.lookback
        }
    };
    ReconcileSettings {
        every,
        grace,
        lookback,
    }
}

fn validate_shopify(
    p: &mut Problems,
    key: &str,
    raw: RawShopify,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Option<ShopifySettings> {
    let shop_domain = match raw.shop_domain {
        Some(d) if !d.is_empty() && !d.contains('/') && !d.contains(':') => Some(d),
        Some(d) => {
            p.add(
                &format!("{key}.shop_domain"),
                format!("`{d}` should be a bare host such as `acme.myshopify.com`"),
            );
            None
        }
        None => {
            p.add(&format!("{key}.shop_domain"), "missing");
            None
        }
    };
    let api_base_url = raw
        .api_base_url
        .as_deref()
        .and_then(|u| url(p, &format!("{key}.api_base_url"), u));
    let api_version = raw.api_version.unwrap_or_else(|| "2026-10".to_owned());
    let version_ok = api_version == "unstable"
        || (api_version.len() == 7
            && api_version.as_bytes()[4] == b'-'
            && api_version[..4].bytes().all(|b| b.is_ascii_digit())
            && matches!(&api_version[5..], "01" | "04" | "07" | "10"));
    if !version_ok {
        p.add(
            &format!("{key}.api_version"),
            format!("`{api_version}` is not a Shopify API version (YYYY-01/04/07/10 or unstable)"),
        );
    }
    let auth = match (&raw.access_token, &raw.client_id, &raw.client_secret) {
        (Some(token), None, None) => {
            secret(p, &format!("{key}.access_token"), token, base_dir, env)
                .map(ShopifyAuthSettings::AccessToken)
        }
        (None, Some(client_id), Some(client_secret)) => secret(
            p,
            &format!("{key}.client_secret"),
            client_secret,
            base_dir,
            env,
        )
        .map(|client_secret| ShopifyAuthSettings::ClientCredentials {
            client_id: client_id.clone(),
            client_secret,
        }),
        _ => {
            p.add(
                key,
                "set either `access_token` or both `client_id` and `client_secret`",
            );
            None
        }
    };
    let webhook_secret = match (&raw.webhook_secret, &auth) {
        (Some(given), _) => secret(p, &format!("{key}.webhook_secret"), given, base_dir, env),
        // An app using the client-credentials grant signs with its secret.
        (None, Some(ShopifyAuthSettings::ClientCredentials { client_secret, .. })) => {
            Some(client_secret.clone())
        }
        (None, _) => None,
    };
    let max_retries = raw.max_retries.unwrap_or(6);
    let query_cost_target = raw.query_cost_target.unwrap_or(400);
    if !(50..=1000).contains(&query_cost_target) {
        p.add(
            &format!("{key}.query_cost_target"),
            "must be between 50 and 1000 (Shopify rejects single queries above 1000 points)",
        );
    }
    Some(ShopifySettings {
        shop_domain: shop_domain?,
        api_base_url,
        api_version,
        auth: auth?,
        webhook_secret,
        publication: raw.publication.unwrap_or_else(|| "Online Store".to_owned()),
        request_timeout: Duration::from_millis(raw.request_timeout_ms.unwrap_or(30_000)),
        connect_timeout: Duration::from_millis(raw.connect_timeout_ms.unwrap_or(5_000)),
        max_retries,
        query_cost_target,
    })
}

fn validate_schedule(p: &mut Problems, key: &str, raw: RawSchedule) -> Option<ScheduleSettings> {
    let text = raw.full_sync_cron.unwrap_or_else(|| "0 3 * * *".to_owned());
    let full_sync = CronSchedule::parse(&text)
        .map_err(|e| p.add(&format!("{key}.full_sync_cron"), format!("`{text}`: {e}")))
        .ok();
    let incremental_every = match raw.incremental_interval_secs.unwrap_or(300) {
        0 => None,
        s if s < 10 => {
            p.add(
                &format!("{key}.incremental_interval_secs"),
                "must be 0 (off) or at least 10",
            );
            None
        }
        s => Some(Duration::from_secs(s)),
    };
    Some(ScheduleSettings {
        full_sync: full_sync?,
        incremental_every,
        max_backoff: Duration::from_secs(raw.max_backoff_secs.unwrap_or(900).max(1)),
    })
}

fn validate_feed(
    p: &mut Problems,
    key: &str,
    raw: RawFeed,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Option<FeedSettings> {
    let target_countries: Vec<String> = raw
        .target_countries
        .unwrap_or_else(|| vec!["US".to_owned()])
        .iter()
        .filter_map(|c| country(p, &format!("{key}.target_countries"), c))
        .collect();
    if target_countries.is_empty() {
        p.add(
            &format!("{key}.target_countries"),
            "needs at least one country",
        );
    }
    let store_country = raw
        .store_country
        .as_deref()
        .and_then(|c| country(p, &format!("{key}.store_country"), c));
    let seller_url = raw
        .seller_url
        .as_deref()
        .and_then(|u| url(p, &format!("{key}.seller_url"), u));
    let max_drop_percent = raw.max_drop_percent.unwrap_or(20);
    if max_drop_percent > 100 {
        p.add(&format!("{key}.max_drop_percent"), "must be 0-100");
    }
    if raw.return_deadline_in_days == Some(0) {
        p.add(
            &format!("{key}.return_deadline_in_days"),
            "must be positive",
        );
    }
    let bearer_token = raw
        .bearer_token
        .as_ref()
        .and_then(|s| secret(p, &format!("{key}.bearer_token"), s, base_dir, env));
    Some(FeedSettings {
        target_countries,
        store_country,
        seller_name: raw.seller_name,
        seller_url,
        checkout_eligible: raw.checkout_eligible.unwrap_or(false),
        max_drop_percent,
        exclude_tags: raw.exclude_tags,
        exclude_product_types: raw.exclude_product_types,
        exclude_vendors: raw.exclude_vendors,
        url_params: raw.url_params,
        accepts_returns: raw.accepts_returns,
        return_deadline_in_days: raw.return_deadline_in_days,
        bearer_token,
    })
}

fn validate_policies(p: &mut Problems, key: &str, raw: RawPolicies) -> ShopPolicies {
    let mut one = |name: &str, v: Option<String>| {
        v.as_deref()
            .and_then(|u| url(p, &format!("{key}.{name}"), u))
    };
    ShopPolicies {
        refund: one("refund_url", raw.refund_url),
        privacy: one("privacy_url", raw.privacy_url),
        terms: one("terms_url", raw.terms_url),
        shipping: one("shipping_url", raw.shipping_url),
    }
}

fn validate_etsy_app(
    p: &mut Problems,
    key: &str,
    raw: RawEtsyApp,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Option<EtsyAppConfig> {
    let before = p.0.len();
    let keystring = match raw.keystring {
        Some(k) if !k.trim().is_empty() && !k.contains(':') => Some(k),
        Some(_) => {
            p.add(
                &format!("{key}.keystring"),
                "must be the app's keystring (no `:`)",
            );
            None
        }
        None => {
            p.add(&format!("{key}.keystring"), "missing");
            None
        }
    };
    let shared_secret = match raw.shared_secret.as_ref() {
        Some(s) => secret(p, &format!("{key}.shared_secret"), s, base_dir, env),
        None => {
            p.add(
                &format!("{key}.shared_secret"),
                "missing: Etsy requires `x-api-key: keystring:shared_secret` on every call",
            );
            None
        }
    };
    let api_base_url = raw
        .api_base_url
        .as_deref()
        .and_then(|u| url(p, &format!("{key}.api_base_url"), u));
    let connect_url = raw
        .connect_url
        .as_deref()
        .and_then(|u| url(p, &format!("{key}.connect_url"), u));
    let redirect_text = raw
        .redirect_uri
        .unwrap_or_else(|| "http://localhost:3003/etsy/callback".to_owned());
    let redirect_uri = url(p, &format!("{key}.redirect_uri"), &redirect_text);
    if let Some(r) = &redirect_uri
        && r.port_or_known_default().is_none()
    {
        p.add(&format!("{key}.redirect_uri"), "needs a port to listen on");
    }
    let scopes = raw.scopes.unwrap_or_else(|| {
        crate::source::etsy::DEFAULT_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    });
    for needed in crate::source::etsy::DEFAULT_SCOPES {
        if !scopes.iter().any(|s| s == needed) {
            p.add(
                &format!("{key}.scopes"),
                format!("must include `{needed}` (the catalog sync reads with it)"),
            );
        }
    }
    let requests_per_second = raw.requests_per_second.unwrap_or(10);
    if requests_per_second == 0 {
        p.add(&format!("{key}.requests_per_second"), "must be positive");
    }
    if p.0.len() != before {
        return None;
    }
    Some(EtsyAppConfig {
        keystring: keystring?,
        shared_secret: shared_secret?,
        api_base_url,
        connect_url,
        redirect_uri: redirect_uri?,
        scopes,
        request_timeout: Duration::from_millis(raw.request_timeout_ms.unwrap_or(30_000)),
        connect_timeout: Duration::from_millis(raw.connect_timeout_ms.unwrap_or(5_000)),
        max_retries: raw.max_retries.unwrap_or(5),
        requests_per_second,
        quota_recheck: Duration::from_secs(raw.quota_recheck_secs.unwrap_or(7_200)),
        login_timeout: Duration::from_secs(raw.login_timeout_secs.unwrap_or(600)),
    })
}

fn validate_etsy_shop(
    p: &mut Problems,
    label: &str,
    raw: RawShop,
    etsy: RawEtsyShop,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Option<EtsyShopSettings> {
    let before = p.0.len();
    let id = shop_id(p, label, raw.id.as_deref());
    if let Some(platform) = raw.platform.as_deref()
        && platform != "etsy"
    {
        p.add(
            &format!("{label}.platform"),
            format!("`{platform}` does not match the [shops.etsy] section"),
        );
    }
    let etsy_shop_id = etsy.shop_id.filter(|id| *id > 0);
    if etsy_shop_id.is_none() {
        p.add(
            &format!("{label}.etsy.shop_id"),
            "missing (the numeric Etsy shop id)",
        );
    }
    if raw.feed.checkout_eligible == Some(true) {
        p.add(
            &format!("{label}.feed.checkout_eligible"),
            "cannot be true for an Etsy shop: Etsy has no API to create an order, so buyers check out on Etsy",
        );
    }
    if raw.checkout.is_some() {
        p.add(
            &format!("{label}.checkout"),
            "Etsy shops cannot take ACP checkouts (Etsy has no API to create an order); remove the section",
        );
    }
    if !raw.delivery.is_empty() {
        // Said, not dropped: a target the daemon would never run must not
        // look configured.
        p.add(
            &format!("{label}.delivery"),
            "feed delivery is not available for Etsy shops yet; their feeds are served for pull only (remove the [[shops.delivery]] sections)",
        );
    }
    let schedule = validate_schedule(p, &format!("{label}.schedule"), raw.schedule);
    let feed = validate_feed(p, &format!("{label}.feed"), raw.feed, base_dir, env);
    let policy_overrides = validate_policies(p, &format!("{label}.policies"), raw.policies);
    if p.0.len() != before {
        return None;
    }
    Some(EtsyShopSettings {
        id: id?,
        enabled: raw.enabled.unwrap_or(true),
        etsy_shop_id: etsy_shop_id?,
        schedule: schedule?,
        feed: feed?,
        policy_overrides,
    })
}
