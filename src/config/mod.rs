//! Settings: layered loading, then one validation step that reports every
//! problem at once.
//!
//! Layers, later ones win: each `--config` file in order, then environment
//! variables `ACP_BRIDGE__SECTION__KEY` (for shops:
//! `ACP_BRIDGE__SHOPS__{shop id or index}__SHOPIFY__API_VERSION`). The result
//! is a fully typed [`Settings`]: durations, URLs, parsed schedules and
//! secrets resolved from env vars or files (systemd credentials).

mod crontab;
mod delivery;
mod raw;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

pub use crontab::CronSchedule;
pub use delivery::{DeliveryKind, DeliveryTarget, FeedApiTarget, SftpTarget};
pub use raw::RawSettings;

use crate::domain::{ShopId, ShopPolicies};

/// The embedded configuration `acp-bridge demo` runs with.
pub const DEMO_CONFIG: &str = include_str!("../../config/demo.toml");
/// The fully commented example, printed by `acp-bridge print-config`.
pub const EXAMPLE_CONFIG: &str = include_str!("../../config/example.toml");

/// Everything that can go wrong loading settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: String, message: String },
    #[error("environment override {var}: {message}")]
    Env { var: String, message: String },
    #[error("config does not match the expected shape: {0}")]
    Shape(String),
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub admin: AdminSettings,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub log_filter: String,
    /// The whole graceful stop must finish inside this; keep it below
    /// systemd's `TimeoutStopSec`.
    pub shutdown_deadline: Duration,
    pub shops: Vec<ShopSettings>,
    /// The Etsy app (`[etsy]`), needed when any shop is an Etsy shop.
    pub etsy: Option<EtsyAppConfig>,
    /// Shops with a `[shops.etsy]` section (ids unique across both lists).
    pub etsy_shops: Vec<EtsyShopSettings>,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub public_url: Option<Url>,
    pub request_timeout: Duration,
}

/// The localhost-only listener for `/metrics` and the admin API the CLI uses.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    pub listen: SocketAddr,
}

#[derive(Clone)]
pub enum ShopifyAuthSettings {
    AccessToken(SecretString),
    ClientCredentials {
        client_id: String,
        client_secret: SecretString,
    },
}

impl fmt::Debug for ShopifyAuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShopifyAuthSettings::AccessToken(_) => f.write_str("AccessToken([redacted])"),
            ShopifyAuthSettings::ClientCredentials { client_id, .. } => f
                .debug_struct("ClientCredentials")
                .field("client_id", client_id)
                .field("client_secret", &"[redacted]")
                .finish(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ShopifySettings {
    pub shop_domain: String,
    /// Base URL override (the emulator); `https://{shop_domain}` otherwise.
    pub api_base_url: Option<Url>,
    pub api_version: String,
    pub auth: ShopifyAuthSettings,
    /// The key Shopify signs webhooks with (the app's client secret, or the
    /// key shown under Settings → Notifications for webhooks made by hand).
    /// Without it `/webhooks/shopify/{shop}` refuses every delivery.
    pub webhook_secret: Option<SecretString>,
    /// The sales channel whose published products make up the feed.
    pub publication: String,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_retries: u32,
    pub query_cost_target: u32,
}

#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    pub full_sync: CronSchedule,
    pub incremental_every: Option<Duration>,
    pub max_backoff: Duration,
}

#[derive(Clone)]
pub struct FeedSettings {
    pub target_countries: Vec<String>,
    pub store_country: Option<String>,
    pub seller_name: Option<String>,
    pub seller_url: Option<Url>,
    pub checkout_eligible: bool,
    pub max_drop_percent: u32,
    pub exclude_tags: Vec<String>,
    pub exclude_product_types: Vec<String>,
    pub exclude_vendors: Vec<String>,
    pub url_params: BTreeMap<String, String>,
    pub accepts_returns: Option<bool>,
    pub return_deadline_in_days: Option<u32>,
    /// When set, feed downloads need `Authorization: Bearer <token>`.
    pub bearer_token: Option<SecretString>,
}

impl fmt::Debug for FeedSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedSettings")
            .field("target_countries", &self.target_countries)
            .field("store_country", &self.store_country)
            .field("checkout_eligible", &self.checkout_eligible)
            .field("max_drop_percent", &self.max_drop_percent)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct ShopSettings {
    pub id: ShopId,
    pub enabled: bool,
    pub shopify: ShopifySettings,
    pub schedule: ScheduleSettings,
    pub feed: FeedSettings,
    /// Policy links that override what Shopify reports.
    pub policy_overrides: ShopPolicies,
    /// ACP checkout for this shop; `None` when not configured or disabled.
    pub checkout: Option<CheckoutSettings>,
    /// Where the published feed is pushed (SFTP snapshots, ACP Feed API).
    pub delivery: Vec<DeliveryTarget>,
}

/// The Etsy app every Etsy shop uses: one keystring and shared secret, so
/// one per-app quota shared by all Etsy shops.
#[derive(Clone)]
pub struct EtsyAppConfig {
    /// The app's keystring (OAuth `client_id`).
    pub keystring: String,
    /// The app's shared secret (second half of `x-api-key`).
    pub shared_secret: SecretString,
    /// Override of `https://api.etsy.com` (the emulator).
    pub api_base_url: Option<Url>,
    /// Override of `https://www.etsy.com/oauth/connect`.
    pub connect_url: Option<Url>,
    /// Where Etsy sends the seller back after consent; must be registered
    /// on the app. `etsy login` listens on its loopback port.
    pub redirect_uri: Url,
    pub scopes: Vec<String>,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_retries: u32,
    /// Requests per second until Etsy's headers say otherwise.
    pub requests_per_second: u32,
    /// How long an exhausted daily quota is left alone without a
    /// `Retry-After` (Etsy frees its rolling day in buckets).
    pub quota_recheck: Duration,
    /// How long `etsy login` waits for the seller's approval.
    pub login_timeout: Duration,
}

impl fmt::Debug for EtsyAppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtsyAppConfig")
            .field("keystring", &self.keystring)
            .field("shared_secret", &"[redacted]")
            .field("api_base_url", &self.api_base_url)
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// One Etsy shop. Its feed rows are never checkout-eligible: Etsy has no
/// API to create an order, so buyers are sent to the listing on Etsy.
#[derive(Debug, Clone)]
pub struct EtsyShopSettings {
    pub id: ShopId,
    pub enabled: bool,
    /// The numeric Etsy shop id.
    pub etsy_shop_id: u64,
    pub schedule: ScheduleSettings,
    /// `checkout_eligible` is always false; `url_params` are the
    /// attribution parameters added to every listing URL.
    pub feed: FeedSettings,
    pub policy_overrides: ShopPolicies,
}

/// What to do with a request's `Signature` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignaturePolicy {
    /// Missing or bad signatures are refused with 401.
    Strict,
    /// Missing or bad signatures are logged and accepted.
    Log,
    /// Signatures are not checked.
    Off,
}

/// One agent allowed to call a shop's checkout API.
#[derive(Clone)]
pub struct AgentSettings {
    /// Names the caller in logs, metrics and idempotency scopes.
    pub id: String,
    /// The bearer key the agent sends.
    pub api_key: SecretString,
    /// Shared secret for the `Signature` header (HMAC-SHA256 of the raw
    /// body, base64url), when the agent signs requests.
    pub signing_secret: Option<SecretString>,
    /// Where the agent receives order webhooks, when it does.
    pub webhook: Option<AgentWebhook>,
}

/// An agent's order-webhook endpoint.
#[derive(Clone)]
pub struct AgentWebhook {
    /// The receiver (`…/agentic_checkout/webhooks/order_events`).
    pub url: Url,
    /// HMAC key of the `Merchant-Signature` header (issued by the agent).
    pub secret: SecretString,
    /// The ACP version of the bodies; `None`: the version each session
    /// was created with.
    pub api_version: Option<crate::checkout::ApiVersion>,
}

impl fmt::Debug for AgentWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a token in its query: only its host is shown.
        f.debug_struct("AgentWebhook")
            .field("host", &self.url.host_str())
            .field("secret", &"[redacted]")
            .field("api_version", &self.api_version)
            .finish()
    }
}

/// Retry policy of a shop's order webhooks.
#[derive(Debug, Clone)]
pub struct OrderWebhookSettings {
    /// Failed attempts after which an event is dead (kept for `outbox retry`).
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each further one.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Limit of one delivery request (connect and answer).
    pub timeout: Duration,
}

impl Default for OrderWebhookSettings {
    fn default() -> Self {
        OrderWebhookSettings {
            max_attempts: 12,
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for AgentSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentSettings")
            .field("id", &self.id)
            .field("api_key", &"[redacted]")
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("webhook", &self.webhook)
            .finish()
    }
}

/// Stripe account that charges the agents' shared payment tokens.
#[derive(Clone)]
pub struct StripeCheckoutSettings {
    pub secret_key: SecretString,
    /// The Stripe account (`acct_…`) advertised in the payment handler.
    pub merchant_id: String,
    /// Override of `https://api.stripe.com` (the emulator).
    pub api_base_url: Option<Url>,
    pub api_version: Option<String>,
}

impl fmt::Debug for StripeCheckoutSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeCheckoutSettings")
            .field("secret_key", &"[redacted]")
            .field("merchant_id", &self.merchant_id)
            .field("api_base_url", &self.api_base_url)
            .field("api_version", &self.api_version)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct CheckoutSettings {
    pub agents: Vec<AgentSettings>,
    /// Sessions not completed within this time expire.
    pub session_ttl: Duration,
    /// Requests per minute per agent before 429.
    pub requests_per_minute: u32,
    pub max_body_bytes: usize,
    pub signature_policy: SignaturePolicy,
    pub max_clock_skew: Duration,
    /// How often complete looks for an order whose creation had no answer
    /// before creating it again (order search is eventually consistent).
    pub order_lookup_attempts: u32,
    pub order_lookup_interval: Duration,
    /// Mark created Shopify orders as test orders.
    pub test_orders: bool,
    /// Let Shopify email its order confirmation to the buyer.
    pub send_receipt: bool,
    /// A host name bound to this shop alone: `/.well-known/acp.json` on it
    /// serves this shop's discovery document.
    pub hostname: Option<String>,
    pub stripe: StripeCheckoutSettings,
    /// Retry policy of the order webhooks sent to the agents.
    pub order_webhooks: OrderWebhookSettings,
    /// The reconciliation job of the shop's checkouts and orders.
    pub reconcile: ReconcileSettings,
}

/// How the reconciliation job runs (`orders::reconcile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileSettings {
    /// Time between runs (the first runs at start).
    pub every: Duration,
    /// A session being completed, or an authorization, must have been left
    /// alone this long before the job acts on it: the agent's own retries
    /// come first.
    pub grace: Duration,
    /// How far back completed sessions are checked (failed captures,
    /// missing order events), and where order polling starts on a new
    /// store.
    pub lookback: Duration,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            every: Duration::from_secs(300),
            grace: Duration::from_secs(300),
            lookback: Duration::from_secs(72 * 3600),
        }
    }
}

impl Settings {
    /// Loads and validates settings from `files` (in order) plus environment
    /// overrides from `env`.
    ///
    /// # Errors
    /// Unreadable files, bad TOML, or every validation problem found.
    pub fn load(
        files: &[PathBuf],
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut merged = toml::Table::new();
        for path in files {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let table = parse_table(&text, &path.display().to_string())?;
            merge(&mut merged, table);
        }
        apply_env(&mut merged, env)?;
        Self::from_table(merged, files.first().map(PathBuf::as_path))
    }

    /// Validates settings from TOML text (the embedded demo config).
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        Self::from_table(parse_table(text, "<embedded>")?, None)
    }

    fn from_table(table: toml::Table, base: Option<&Path>) -> Result<Settings, ConfigError> {
        let raw: RawSettings = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Shape(e.to_string()))?;
        let base_dir = base.and_then(Path::parent).map(Path::to_path_buf);
        validate::validate(raw, base_dir.as_deref(), &|name| std::env::var(name).ok())
            .map_err(ConfigError::Invalid)
    }

    pub fn shop(&self, id: &str) -> Option<&ShopSettings> {
        self.shops.iter().find(|s| s.id.as_str() == id)
    }

    pub fn etsy_shop(&self, id: &str) -> Option<&EtsyShopSettings> {
        self.etsy_shops.iter().find(|s| s.id.as_str() == id)
    }
}

fn parse_table(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: origin.to_owned(),
            message: e.to_string(),
        })
}

/// Deep-merges `over` into `base`: tables merge key by key, arrays of shop
/// tables merge by `id`, anything else is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (Some(toml::Value::Array(b)), toml::Value::Array(o)) if key == "shops" => {
                for item in o {
                    let id = item.get("id").and_then(|v| v.as_str()).map(str::to_owned);
                    let existing = id.as_ref().and_then(|id| {
                        b.iter_mut()
                            .find(|x| x.get("id").and_then(|v| v.as_str()) == Some(id.as_str()))
                    });
                    match (existing, item) {
                        (Some(toml::Value::Table(e)), toml::Value::Table(i)) => merge(e, i),
                        (_, item) => b.push(item),
                    }
                }
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

const ENV_PREFIX: &str = "ACP_BRIDGE__";

fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (var, raw_value) in env {
        let Some(path) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let segments: Vec<String> = path.split("__").map(str::to_lowercase).collect();
        let value = parse_env_value(&raw_value);
        set_path(table, &segments, value).map_err(|message| ConfigError::Env {
            var: var.clone(),
            message,
        })?;
    }
    Ok(())
}

/// Environment values are read as TOML scalars or arrays when they parse as
/// such (`300`, `true`, `["US","CA"]`), otherwise as plain strings.
fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((head, rest)) = path.split_first() else {
        return Err("empty key".to_owned());
    };
    if rest.is_empty() {
        table.insert(head.clone(), value);
        return Ok(());
    }
    let entry = table
        .entry(head.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(t) => set_path(t, rest, value),
        toml::Value::Array(items) => {
            let (selector, rest) = rest
                .split_first()
                .ok_or_else(|| format!("`{head}` needs an index or an id"))?;
            let item = match selector.parse::<usize>() {
                Ok(i) => items.get_mut(i),
                Err(_) => items
                    .iter_mut()
                    .find(|x| x.get("id").and_then(|v| v.as_str()) == Some(selector.as_str())),
            }
            .ok_or_else(|| format!("no `{head}` entry `{selector}`"))?;
            match item {
                toml::Value::Table(t) if !rest.is_empty() => set_path(t, rest, value),
                _ => Err(format!("cannot set `{selector}` of `{head}`")),
            }
        }
        _ => Err(format!("`{head}` is not a table")),
    }
}

#[cfg(test)]
mod tests;
