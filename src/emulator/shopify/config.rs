//! Configuration of one emulated shop: identity, credentials, rate-limit
//! bucket, bulk-operation behaviour and the seed catalog.
//!
//! Plain data only; nothing here starts tasks or touches the network.

use std::fmt;
use std::time::Duration;

use super::data::ShopData;
use super::webhooks::WebhookSettings;

/// Admin API versions the emulator answers, oldest first (as of 2026-11-28:
/// three stable versions, the latest stable and the release candidate).
pub const SUPPORTED_VERSIONS: [&str; 5] = ["2026-01", "2026-04", "2026-07", "2026-10", "2027-01"];

/// Default scope string returned by the client-credentials endpoint.
pub const DEFAULT_SCOPE: &str =
    "read_products,read_inventory,read_locations,read_publications,read_legal_policies";

/// Client id and secret accepted by `POST /admin/oauth/access_token`.
#[derive(Clone)]
pub struct ClientCredentials {
    /// The app's client id (public).
    pub client_id: String,
    /// The app's client secret. Never logged; `Debug` redacts it.
    pub client_secret: String,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// Everything that configures one emulated shop.
///
/// `Default` gives the sample shop ([`ShopData::sample`]) with the static token
/// [`EmulatorConfig::DEFAULT_TOKEN`], Shopify's Standard-plan bucket
/// (2,000 points, 100 points/s), a 100 ms bulk completion delay and the
/// 2026-01 limit of 5 concurrent bulk queries.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The shop's `*.myshopify.com` domain; overrides `data.shop.myshopify_domain`.
    pub shop_domain: String,
    /// Non-expiring Admin API tokens (legacy custom-app style).
    pub static_tokens: Vec<String>,
    /// Client id/secret for the client-credentials grant; `None` disables it.
    pub client_credentials: Option<ClientCredentials>,
    /// Lifetime of tokens issued by the client-credentials grant
    /// (Shopify: 86,399 s).
    pub token_lifetime: Duration,
    /// Scope string reported with issued tokens.
    pub scope: String,
    /// Leaky-bucket size in points (`maximumAvailable`).
    pub bucket_size: u32,
    /// Leaky-bucket restore rate in points per second (`restoreRate`).
    pub restore_rate: u32,
    /// Largest accepted `requestedQueryCost` of one query.
    pub max_query_cost: u64,
    /// Time a bulk operation spends `RUNNING` after its file is written.
    pub bulk_completion_delay: Duration,
    /// How many bulk queries may be `CREATED`/`RUNNING` at once.
    pub max_concurrent_bulk_operations: usize,
    /// Seed for the order of child lines in bulk JSONL output.
    pub bulk_shuffle_seed: u64,
    /// API versions answered, oldest first; older versions fall forward to
    /// the first entry.
    pub supported_versions: Vec<String>,
    /// The catalog and shop facts to start from.
    pub data: ShopData,
    /// The app's client secret ("API secret key"), which signs webhook
    /// deliveries (`X-Shopify-Hmac-Sha256`). When `client_credentials` is
    /// set, its `client_secret` is the app's secret and wins over this one.
    /// Never logged; `Debug` redacts it.
    pub app_secret: String,
    /// Webhook delivery: timeout, retries, payload API version.
    pub webhooks: WebhookSettings,
}

impl EmulatorConfig {
    /// The static token present in [`EmulatorConfig::default`].
    pub const DEFAULT_TOKEN: &'static str = "shpat_emulator_0000000000000000";

    /// The app secret present in [`EmulatorConfig::default`].
    pub const DEFAULT_APP_SECRET: &'static str = "shpss_emulator_0000000000000000";

    /// The secret webhook deliveries are signed with: the client-credentials
    /// secret when configured, else [`EmulatorConfig::app_secret`].
    pub fn webhook_secret(&self) -> &str {
        self.client_credentials
            .as_ref()
            .map_or(self.app_secret.as_str(), |c| c.client_secret.as_str())
    }

    /// The default configuration with another seed catalog.
    pub fn with_data(data: ShopData) -> Self {
        Self {
            shop_domain: data.shop.myshopify_domain.clone(),
            data,
            ..Self::default()
        }
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        let data = ShopData::sample();
        Self {
            shop_domain: data.shop.myshopify_domain.clone(),
            static_tokens: vec![Self::DEFAULT_TOKEN.to_owned()],
            client_credentials: None,
            token_lifetime: Duration::from_secs(86_399),
            scope: DEFAULT_SCOPE.to_owned(),
            bucket_size: 2_000,
            restore_rate: 100,
            max_query_cost: 1_000,
            bulk_completion_delay: Duration::from_millis(100),
            max_concurrent_bulk_operations: 5,
            bulk_shuffle_seed: 0x5EED_B01C,
            supported_versions: SUPPORTED_VERSIONS.iter().map(|v| (*v).to_owned()).collect(),
            data,
            app_secret: Self::DEFAULT_APP_SECRET.to_owned(),
            webhooks: WebhookSettings::default(),
        }
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("shop_domain", &self.shop_domain)
            .field(
                "static_tokens",
                &format_args!("[{} redacted]", self.static_tokens.len()),
            )
            .field("client_credentials", &self.client_credentials)
            .field("token_lifetime", &self.token_lifetime)
            .field("bucket_size", &self.bucket_size)
            .field("restore_rate", &self.restore_rate)
            .field("max_query_cost", &self.max_query_cost)
            .field("bulk_completion_delay", &self.bulk_completion_delay)
            .field(
                "max_concurrent_bulk_operations",
                &self.max_concurrent_bulk_operations,
            )
            .field("supported_versions", &self.supported_versions)
            .field("products", &self.data.products.len())
            .field("app_secret", &"[redacted]")
            .field("webhooks", &self.webhooks)
            .finish()
    }
}
