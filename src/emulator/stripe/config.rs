//! Configuration of the emulated Stripe platform: accounts and their secret
//! keys, API versions, and search indexing lag.
//!
//! Plain data only; nothing here starts tasks or touches the network.

use std::fmt;
use std::time::Duration;

/// The first preview version that knows shared payment granted tokens and
/// `payment_method_data[shared_payment_granted_token]`.
pub const SHARED_PAYMENT_PREVIEW_FLOOR: &str = "2026-04-22.preview";

/// API versions the emulator answers. GA versions do not know the shared
/// payment endpoints or parameters; previews from
/// [`SHARED_PAYMENT_PREVIEW_FLOOR`] on do.
pub const SUPPORTED_VERSIONS: [&str; 10] = [
    "2024-06-20",
    "2024-11-20.acacia",
    "2025-03-31.basil",
    "2025-05-28.basil",
    "2025-12-15.clover",
    "2026-02-25.clover",
    "2026-04-22.preview",
    "2026-06-24.dahlia",
    "2026-07-29.preview",
    "2026-09-30.preview",
];

/// One secret key and the account it belongs to. Idempotency keys and all
/// objects are scoped to the account (and to test/live mode, which the key's
/// `sk_test_`/`sk_live_` prefix decides).
#[derive(Clone)]
pub struct ApiKey {
    /// The secret key, e.g. `sk_test_…`. Never logged; `Debug` redacts it.
    pub secret: String,
    /// The account id, e.g. `acct_…`.
    pub account: String,
}

impl ApiKey {
    /// A key of `account`.
    pub fn new(secret: impl Into<String>, account: impl Into<String>) -> Self {
        ApiKey {
            secret: secret.into(),
            account: account.into(),
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("secret", &"[redacted]")
            .field("account", &self.account)
            .finish()
    }
}

/// Everything that configures one emulated Stripe.
///
/// `Default` gives one test-mode account ([`StripeEmulatorConfig::DEFAULT_ACCOUNT`])
/// with the key [`StripeEmulatorConfig::DEFAULT_SECRET_KEY`], the account
/// default version `2026-02-25.clover` (GA, so callers must send a preview
/// `Stripe-Version` to use shared payment tokens, as with real Stripe), and
/// search results visible immediately.
#[derive(Clone)]
pub struct StripeEmulatorConfig {
    /// Accepted secret keys.
    pub api_keys: Vec<ApiKey>,
    /// Version used for requests without a `Stripe-Version` header.
    pub account_api_version: String,
    /// Versions accepted in `Stripe-Version`; anything else is rejected as
    /// an invalid version.
    pub supported_versions: Vec<String>,
    /// How long a new or changed PaymentIntent takes to show up in search.
    /// Real Stripe documents "under a minute, longer during outages"; the
    /// default of zero keeps tests simple, raise it to exercise callers that
    /// must not rely on read-after-write search.
    pub search_index_delay: Duration,
}

impl StripeEmulatorConfig {
    /// The secret key present in [`StripeEmulatorConfig::default`].
    pub const DEFAULT_SECRET_KEY: &'static str = "sk_test_51EmuLat0rAcpBridge0000000000000000";
    /// The account of [`StripeEmulatorConfig::DEFAULT_SECRET_KEY`].
    pub const DEFAULT_ACCOUNT: &'static str = "acct_1EmuLat0rAcpBr1d";
}

impl Default for StripeEmulatorConfig {
    fn default() -> Self {
        StripeEmulatorConfig {
            api_keys: vec![ApiKey::new(Self::DEFAULT_SECRET_KEY, Self::DEFAULT_ACCOUNT)],
            account_api_version: "2026-02-25.clover".to_owned(),
            supported_versions: SUPPORTED_VERSIONS.iter().map(|v| (*v).to_owned()).collect(),
            search_index_delay: Duration::ZERO,
        }
    }
}

impl fmt::Debug for StripeEmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeEmulatorConfig")
            .field("api_keys", &self.api_keys)
            .field("account_api_version", &self.account_api_version)
            .field("supported_versions", &self.supported_versions)
            .field("search_index_delay", &self.search_index_delay)
            .finish()
    }
}

/// Whether `version` (a supported version) knows shared payment tokens.
pub(crate) fn knows_shared_payment(version: &str) -> bool {
    version
        .strip_suffix(".preview")
        .zip(SHARED_PAYMENT_PREVIEW_FLOOR.strip_suffix(".preview"))
        .is_some_and(|(date, floor)| date >= floor)
}
