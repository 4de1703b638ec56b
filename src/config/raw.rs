//! The permissive shape of the config file, before validation.
//!
//! Every field is optional here so that `validate` can report every problem
//! at once instead of stopping at the first missing key.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub admin: RawAdmin,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub shutdown: RawShutdown,
    #[serde(default)]
    pub shops: Vec<RawShop>,
    /// The Etsy app shared by every Etsy shop.
    pub etsy: Option<RawEtsyApp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub request_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub data_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
    pub filter: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShutdown {
    pub deadline_secs: Option<u64>,
}

/// Where a secret comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawSecret {
    /// A literal value (only sensible for the demo and tests).
    Literal(String),
    Source(RawSecretSource),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecretSource {
    pub env: Option<String>,
    pub file: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShop {
    pub id: Option<String>,
    pub enabled: Option<bool>,
    pub platform: Option<String>,
    pub shopify: Option<RawShopify>,
    pub etsy: Option<RawEtsyShop>,
    #[serde(default)]
    pub schedule: RawSchedule,
    #[serde(default)]
    pub feed: RawFeed,
    #[serde(default)]
    pub policies: RawPolicies,
    pub checkout: Option<RawCheckout>,
    /// Feed delivery targets (`[[shops.delivery]]`).
    #[serde(default)]
    pub delivery: Vec<super::delivery::RawDelivery>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheckout {
    pub enabled: Option<bool>,
    #[serde(default)]
    pub agents: Vec<RawAgent>,
    pub session_ttl_minutes: Option<u64>,
    pub requests_per_minute: Option<u32>,
    pub max_body_bytes: Option<usize>,
    pub signature_policy: Option<String>,
    pub max_clock_skew_secs: Option<u64>,
    pub order_lookup_attempts: Option<u32>,
    pub order_lookup_interval_ms: Option<u64>,
    pub test_orders: Option<bool>,
    pub send_receipt: Option<bool>,
    pub hostname: Option<String>,
    #[serde(default)]
    pub stripe: RawStripe,
    #[serde(default)]
    pub order_webhooks: RawOrderWebhooks,
    #[serde(default)]
    pub reconcile: RawReconcile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReconcile {
    /// Seconds between runs; fractions allowed (tests use milliseconds).
    pub every_secs: Option<f64>,
    /// Seconds a session or authorization must be left alone first.
    pub grace_secs: Option<f64>,
    /// Hours back completed sessions are checked.
    pub lookback_hours: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrderWebhooks {
    pub max_attempts: Option<u32>,
    /// Seconds; fractions allowed (tests use milliseconds).
    pub initial_backoff_secs: Option<f64>,
    pub max_backoff_secs: Option<f64>,
    pub timeout_secs: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    pub id: Option<String>,
    pub api_key: Option<RawSecret>,
    pub signing_secret: Option<RawSecret>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<RawSecret>,
    pub webhook_api_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStripe {
    pub secret_key: Option<RawSecret>,
    pub merchant_id: Option<String>,
    pub api_base_url: Option<String>,
    pub api_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShopify {
    pub shop_domain: Option<String>,
    pub api_base_url: Option<String>,
    pub api_version: Option<String>,
    pub access_token: Option<RawSecret>,
    pub client_id: Option<String>,
    pub client_secret: Option<RawSecret>,
    pub webhook_secret: Option<RawSecret>,
    pub publication: Option<String>,
    pub request_timeout_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
    pub query_cost_target: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub full_sync_cron: Option<String>,
    pub incremental_interval_secs: Option<u64>,
    pub max_backoff_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub target_countries: Option<Vec<String>>,
    pub store_country: Option<String>,
    pub seller_name: Option<String>,
    pub seller_url: Option<String>,
    pub checkout_eligible: Option<bool>,
    pub max_drop_percent: Option<u32>,
    #[serde(default)]
    pub exclude_tags: Vec<String>,
    #[serde(default)]
    pub exclude_product_types: Vec<String>,
    #[serde(default)]
    pub exclude_vendors: Vec<String>,
    #[serde(default)]
    pub url_params: BTreeMap<String, String>,
    pub accepts_returns: Option<bool>,
    pub return_deadline_in_days: Option<u32>,
    pub bearer_token: Option<RawSecret>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicies {
    pub refund_url: Option<String>,
    pub privacy_url: Option<String>,
    pub terms_url: Option<String>,
    pub shipping_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEtsyApp {
    pub keystring: Option<String>,
    pub shared_secret: Option<RawSecret>,
    pub api_base_url: Option<String>,
    pub connect_url: Option<String>,
    pub redirect_uri: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub request_timeout_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
    pub requests_per_second: Option<u32>,
    pub quota_recheck_secs: Option<u64>,
    pub login_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEtsyShop {
    pub shop_id: Option<u64>,
}
