//! [`EtsyApp`]: the app's HTTP client, key and limiter (one per daemon, so
//! every Etsy shop shares the app's quota) and its token endpoint;
//! [`EtsyShopClient`]: one shop's tokens and catalog reads.
//!
//! Every request carries `x-api-key: {keystring}:{shared_secret}`; requests
//! for a seller's data also carry `Authorization: Bearer {user_id}.{token}`.
//! Both headers are marked sensitive. Access tokens are renewed five minutes
//! before their hour is up, and each rotated refresh token is saved (and
//! flushed) before the new access token is used.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tracing::{debug, info, instrument, warn};
use url::Url;

use super::auth::{Pkce, verifier_text};
use super::error::EtsyError;
use super::limiter::{After429, EtsyLimiter, QuotaHeaders, QuotaSnapshot};
use super::map::{MappedListing, map_listing};
use super::wire;
use crate::domain::{Currency, Product, ShopFacts, ShopId, ShopPolicies};
use crate::store::{EtsyTokens, RejectedListing, Store, access_token_fresh};

pub const DEFAULT_API_BASE_URL: &str = "https://api.etsy.com";
pub const DEFAULT_CONNECT_URL: &str = "https://www.etsy.com/oauth/connect";
/// What the bridge reads: listings (with inventory and SKUs) and shop data.
pub const DEFAULT_SCOPES: [&str; 2] = ["listings_r", "shops_r"];
/// Etsy's largest page.
pub const PAGE_LIMIT: u32 = 100;
/// Renew access tokens this long before they expire.
const REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);
/// Etsy refresh tokens live 90 days.
const REFRESH_LIFETIME: chrono::Duration = chrono::Duration::days(90);
/// Related listing data fetched with every page (one request per 100
/// listings instead of three per listing).
const INCLUDES: &str = "Images,Inventory";

/// The Etsy app: its credentials and limits.
#[derive(Clone)]
pub struct EtsyAppSettings {
    /// The app's keystring (the OAuth `client_id`).
    pub keystring: String,
    /// The app's shared secret, sent as the second half of `x-api-key`.
    pub shared_secret: SecretString,
    /// `https://api.etsy.com` unless overridden (the emulator).
    pub api_base_url: Url,
    /// `https://www.etsy.com/oauth/connect` unless overridden.
    pub connect_url: Url,
    pub scopes: Vec<String>,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries of one request after 429s, 5xx and transport errors.
    pub max_retries: u32,
    /// Requests per second until Etsy's headers say otherwise.
    pub requests_per_second: u32,
    /// How long an exhausted daily quota is left alone when Etsy gives no
    /// `Retry-After`.
    pub quota_recheck: Duration,
}

impl std::fmt::Debug for EtsyAppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtsyAppSettings")
            .field("keystring", &self.keystring)
            .field("shared_secret", &"[redacted]")
            .field("api_base_url", &self.api_base_url.as_str())
            .field("connect_url", &self.connect_url.as_str())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl EtsyAppSettings {
    /// Settings with Etsy's hosts and the defaults used in production.
    ///
    /// # Panics
    /// Never: the default URLs are constants that parse.
    pub fn new(keystring: String, shared_secret: SecretString) -> Self {
        #[allow(clippy::expect_used)] // constant URLs
        EtsyAppSettings {
            keystring,
            shared_secret,
            api_base_url: Url::parse(DEFAULT_API_BASE_URL).expect("constant URL"),
            connect_url: Url::parse(DEFAULT_CONNECT_URL).expect("constant URL"),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_retries: 5,
            requests_per_second: 10,
            quota_recheck: Duration::from_secs(2 * 3600),
        }
    }
}

/// The app: HTTP client, key header and the shared limiter. Cheap to clone.
#[derive(Clone)]
pub struct EtsyApp {
    inner: Arc<AppInner>,
}

struct AppInner {
    http: reqwest::Client,
    settings: EtsyAppSettings,
    api_key: HeaderValue,
    limiter: EtsyLimiter,
}

/// A response that made it through the limiter and retries.
struct Answer {
    status: StatusCode,
    body: bytes::Bytes,
}

impl Answer {
    fn message(&self) -> String {
        let parsed: wire::ErrorBody = serde_json::from_slice(&self.body).unwrap_or_default();
        match (parsed.error, parsed.error_description) {
            (Some(e), Some(d)) => format!("{e}: {d}"),
            (Some(e), None) => e,
            (None, Some(d)) => d,
            (None, None) => String::from_utf8_lossy(&self.body)
                .chars()
                .take(200)
                .collect(),
        }
    }

    fn error_code(&self) -> Option<String> {
        serde_json::from_slice::<wire::ErrorBody>(&self.body)
            .ok()
            .and_then(|b| b.error)
    }
}

impl EtsyApp {
    /// # Errors
    /// The HTTP client cannot be built or the key is not a valid header.
    pub fn new(settings: EtsyAppSettings) -> Result<Self, EtsyError> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .user_agent(concat!("acp-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EtsyError::InvalidSettings {
                reason: e.to_string(),
            })?;
        let mut api_key = HeaderValue::from_str(&format!(
            "{}:{}",
            settings.keystring,
            settings.shared_secret.expose_secret()
        ))
        .map_err(|_| EtsyError::InvalidSettings {
            reason: "the keystring or shared secret has characters a header cannot carry".into(),
        })?;
        api_key.set_sensitive(true);
        let limiter = EtsyLimiter::new(settings.requests_per_second, settings.quota_recheck);
        Ok(EtsyApp {
            inner: Arc::new(AppInner {
                http,
                settings,
                api_key,
                limiter,
            }),
        })
    }

    pub fn settings(&self) -> &EtsyAppSettings {
        &self.inner.settings
    }

    pub fn quota(&self) -> QuotaSnapshot {
        self.inner.limiter.snapshot()
    }

    pub fn limiter(&self) -> &EtsyLimiter {
        &self.inner.limiter
    }

    /// The client of one shop.
    pub fn shop_client(&self, shop: ShopId, etsy_shop_id: u64, store: Store) -> EtsyShopClient {
        EtsyShopClient {
            app: self.clone(),
            shop,
            etsy_shop_id,
            store,
            token_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.inner.settings.api_base_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{path}"));
        url
    }

    /// Sends one request through the limiter, retrying 429s, 5xx and
    /// transport failures with backoff.
    async fn send(
        &self,
        operation: &'static str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        bearer: Option<&SecretString>,
    ) -> Result<Answer, EtsyError> {
        let max = self.inner.settings.max_retries;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.inner
                .limiter
                .acquire()
                .await
                .map_err(|until| EtsyError::QuotaExhausted { until })?;
            let mut request =
                build(&self.inner.http).header("x-api-key", self.inner.api_key.clone());
            if let Some(token) = bearer {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                    .map_err(|_| EtsyError::Unauthorized {
                        operation,
                        message: "the stored access token is not a valid header value".into(),
                    })?;
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
            let result = request.send().await;
            let response = match result {
                Ok(r) => r,
                Err(source) if attempt <= max => {
                    let delay = backoff(attempt);
                    warn!(operation, attempt, error = %source, retry_in_ms = delay.as_millis() as u64, "Etsy request failed; retrying");
                    tokio::time::sleep(delay).await;
                    continue;
                }
                Err(source) => return Err(EtsyError::Transport { operation, source }),
            };
            let now = Instant::now();
            let headers = QuotaHeaders::from_headers(response.headers());
            self.inner.limiter.observe(&headers, now);
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                match self.inner.limiter.on_429(retry_after, now) {
                    After429::Exhausted(until) => {
                        warn!(operation, until = %until, "Etsy daily quota exhausted");
                        return Err(EtsyError::QuotaExhausted { until });
                    }
                    After429::Retry(_) if attempt > max => {
                        return Err(EtsyError::RateLimited {
                            operation,
                            attempts: attempt,
                        });
                    }
                    After429::Retry(wait) => {
                        debug!(
                            operation,
                            wait_ms = wait.as_millis() as u64,
                            "Etsy rate limited; waiting"
                        );
                        continue;
                    }
                }
            }
            let body = response
                .bytes()
                .await
                .map_err(|source| EtsyError::Transport { operation, source })?;
            if status.is_server_error() && attempt <= max {
                let delay = backoff(attempt);
                warn!(
                    operation,
                    status = status.as_u16(),
                    attempt,
                    "Etsy answered a server error; retrying"
                );
                tokio::time::sleep(delay).await;
                continue;
            }
            return Ok(Answer { status, body });
        }
    }

    async fn token_request(
        &self,
        operation: &'static str,
        form: &[(&str, &str)],
    ) -> Result<Result<EtsyTokens, Answer>, EtsyError> {
        let url = self.url("/v3/public/oauth/token");
        let answer = self
            .send(operation, |http| http.post(url.clone()).form(form), None)
            .await?;
        if !answer.status.is_success() {
            return Ok(Err(answer));
        }
        let token: wire::TokenResponse = serde_json::from_slice(&answer.body)
            .map_err(|source| EtsyError::Decode { operation, source })?;
        let user_id = token
            .access_token
            .split_once('.')
            .and_then(|(id, _)| id.parse::<u64>().ok())
            .ok_or_else(|| EtsyError::Http {
                operation,
                status: answer.status.as_u16(),
                message: "the access token has no numeric user id prefix".into(),
            })?;
        let now = Utc::now();
        Ok(Ok(EtsyTokens {
            user_id,
            access_token: SecretString::from(token.access_token),
            refresh_token: SecretString::from(token.refresh_token),
            access_expires_at: now + chrono::Duration::seconds(token.expires_in),
            refresh_expires_at: now + REFRESH_LIFETIME,
            issued_at: now,
        }))
    }

    /// Exchanges an authorization code and its PKCE verifier for tokens.
    ///
    /// # Errors
    /// [`EtsyError::CodeRejected`] when Etsy refuses the code or verifier;
    /// transport, quota and decoding failures.
    #[instrument(skip_all, err)]
    pub async fn exchange_code(
        &self,
        code: &SecretString,
        pkce: &Pkce,
        redirect_uri: &Url,
    ) -> Result<EtsyTokens, EtsyError> {
        let settings = &self.inner.settings;
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", settings.keystring.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code", code.expose_secret()),
            ("code_verifier", verifier_text(pkce)),
        ];
        match self.token_request("exchange_code", &form).await? {
            Ok(tokens) => Ok(tokens),
            Err(answer) => Err(EtsyError::CodeRejected {
                message: answer.message(),
            }),
        }
    }

    /// Trades a refresh token for a new pair (Etsy rotates the refresh
    /// token: the old one is dead afterwards).
    async fn refresh(
        &self,
        shop: &ShopId,
        refresh: &SecretString,
    ) -> Result<EtsyTokens, EtsyError> {
        let settings = &self.inner.settings;
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", settings.keystring.as_str()),
            ("refresh_token", refresh.expose_secret()),
        ];
        match self.token_request("refresh_token", &form).await? {
            Ok(tokens) => Ok(tokens),
            Err(answer) if answer.status.is_client_error() => Err(EtsyError::RefreshRejected {
                shop: shop.to_string(),
                message: answer.message(),
            }),
            Err(answer) => Err(EtsyError::Http {
                operation: "refresh_token",
                status: answer.status.as_u16(),
                message: answer.message(),
            }),
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(200).saturating_mul(2u32.saturating_pow(attempt.min(8)));
    base.min(Duration::from_secs(30))
        .mul_f64(0.8 + fastrand::f64() * 0.4)
}

/// A shop's single return policy: `(accepts_returns, return_deadline_days)`.
pub type ReturnTerms = (bool, Option<u32>);

/// Which listings a page lists (Etsy's `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingFilter {
    Active,
    Inactive,
    SoldOut,
    Expired,
}

impl ListingFilter {
    fn as_str(self) -> &'static str {
        match self {
            ListingFilter::Active => "active",
            ListingFilter::Inactive => "inactive",
            ListingFilter::SoldOut => "sold_out",
            ListingFilter::Expired => "expired",
        }
    }
}

/// How listings are ordered when paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOn {
    /// Oldest first by creation: stable offsets for a full pass.
    Created,
    /// Most recently modified first: incremental runs stop at the cursor.
    Updated,
}

/// One page of mapped listings.
#[derive(Debug, Clone, Default)]
pub struct CatalogPage {
    /// Etsy's `count`: listings matching the query across all pages.
    pub total: u64,
    /// Listings on this page (mapped or not).
    pub listings_on_page: usize,
    pub products: Vec<Product>,
    /// Listings whose price could not be converted exactly.
    pub rejected: Vec<RejectedListing>,
    /// Ids of every listing on the page (products and rejected alike).
    pub listing_ids: Vec<String>,
    /// Modification times of the page's listings, in page order.
    pub modified: Vec<DateTime<Utc>>,
}

/// One Etsy shop: its tokens and catalog reads.
pub struct EtsyShopClient {
    app: EtsyApp,
    shop: ShopId,
    etsy_shop_id: u64,
    store: Store,
    /// Serializes token renewals: using a refresh token twice would burn it.
    token_lock: tokio::sync::Mutex<()>,
}

impl EtsyShopClient {
    pub fn app(&self) -> &EtsyApp {
        &self.app
    }

    pub fn etsy_shop_id(&self) -> u64 {
        self.etsy_shop_id
    }

    /// Saves tokens from a login after checking they belong to this shop.
    ///
    /// # Errors
    /// [`EtsyError::WrongShop`] when the approving account owns another
    /// shop; request and store failures.
    pub async fn save_login(&self, tokens: EtsyTokens) -> Result<(), EtsyError> {
        let me: wire::Me = self
            .get_with(
                "get_me",
                self.app.url("/v3/application/users/me"),
                &tokens.access_token,
            )
            .await?;
        if me.shop_id != Some(self.etsy_shop_id) {
            return Err(EtsyError::WrongShop {
                expected: self.etsy_shop_id,
                actual: me
                    .shop_id
                    .map_or_else(|| "none".to_owned(), |id| id.to_string()),
            });
        }
        self.store.put_etsy_tokens(&self.shop, &tokens)?;
        self.store
            .update_etsy_state(&self.shop, |s| s.login_required = None)?;
        info!(shop = %self.shop, etsy.user_id = me.user_id, "Etsy login saved");
        Ok(())
    }

    /// A usable access token, renewed (and the rotated refresh token saved)
    /// when it expires within five minutes or `force` is set.
    async fn access_token(&self, force: bool) -> Result<SecretString, EtsyError> {
        let _guard = self.token_lock.lock().await;
        let tokens = self
            .store
            .etsy_tokens(&self.shop)?
            .ok_or_else(|| EtsyError::NotLoggedIn {
                shop: self.shop.to_string(),
            })?;
        if !force && access_token_fresh(&tokens, Utc::now(), REFRESH_MARGIN) {
            return Ok(tokens.access_token);
        }
        match self.app.refresh(&self.shop, &tokens.refresh_token).await {
            Ok(fresh) => {
                // Saved and flushed before first use: the old refresh token
                // is already dead at Etsy.
                self.store.put_etsy_tokens(&self.shop, &fresh)?;
                info!(shop = %self.shop, "Etsy access token renewed");
                Ok(fresh.access_token)
            }
            Err(e @ EtsyError::RefreshRejected { .. }) => {
                let message = e.to_string();
                self.store
                    .update_etsy_state(&self.shop, |s| s.login_required = Some(message.clone()))?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn get_with<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        url: Url,
        token: &SecretString,
    ) -> Result<T, EtsyError> {
        let answer = self
            .app
            .send(operation, |http| http.get(url.clone()), Some(token))
            .await?;
        decode(operation, answer)
    }

    /// GET with the shop's token; one renewal and retry after a 401.
    async fn get_private<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        url: Url,
    ) -> Result<T, EtsyError> {
        let token = self.access_token(false).await?;
        let answer = self
            .app
            .send(operation, |http| http.get(url.clone()), Some(&token))
            .await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return decode(operation, answer);
        }
        debug!(operation, "Etsy refused the access token; renewing it");
        let token = self.access_token(true).await?;
        let answer = self
            .app
            .send(operation, |http| http.get(url.clone()), Some(&token))
            .await?;
        decode(operation, answer)
    }

    async fn get_public<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        url: Url,
    ) -> Result<T, EtsyError> {
        let answer = self
            .app
            .send(operation, |http| http.get(url.clone()), None)
            .await?;
        decode(operation, answer)
    }

    /// Shop facts (name, URL, currency, country) with `overrides` applied
    /// to the policy links, and the shop's return policy when it has a
    /// single one: `(accepts_returns, return_deadline_days)`.
    ///
    /// # Errors
    /// Request failures; a currency Etsy reports that is not ISO 4217.
    #[instrument(skip_all, fields(shop.id = %self.shop), err)]
    pub async fn shop_facts(
        &self,
        overrides: &ShopPolicies,
    ) -> Result<(ShopFacts, Option<ReturnTerms>), EtsyError> {
        let shop: wire::Shop = self
            .get_public(
                "get_shop",
                self.app
                    .url(&format!("/v3/application/shops/{}", self.etsy_shop_id)),
            )
            .await?;
        let policies: wire::Page<wire::ReturnPolicy> = self
            .get_private(
                "get_shop_return_policies",
                self.app.url(&format!(
                    "/v3/application/shops/{}/policies/return",
                    self.etsy_shop_id
                )),
            )
            .await?;
        let returns = match policies.results.as_slice() {
            [one] => Some((one.accepts_returns, one.return_deadline)),
            [first, rest @ ..]
                if rest.iter().all(|p| {
                    p.accepts_returns == first.accepts_returns
                        && p.return_deadline == first.return_deadline
                }) =>
            {
                Some((first.accepts_returns, first.return_deadline))
            }
            _ => None,
        };
        let facts = super::map::shop_facts(&shop, overrides)?;
        Ok((facts, returns))
    }

    /// One page (up to 100) of the shop's listings in `filter`'s state,
    /// with images and inventory.
    ///
    /// # Errors
    /// Request and decoding failures.
    #[instrument(skip_all, fields(shop.id = %self.shop, offset), err)]
    pub async fn listings_page(
        &self,
        filter: ListingFilter,
        offset: u64,
        sort: SortOn,
        currency: Currency,
    ) -> Result<CatalogPage, EtsyError> {
        let mut url = self.app.url(&format!(
            "/v3/application/shops/{}/listings",
            self.etsy_shop_id
        ));
        url.query_pairs_mut()
            .append_pair("state", filter.as_str())
            .append_pair("limit", &PAGE_LIMIT.to_string())
            .append_pair("offset", &offset.to_string())
            .append_pair(
                "sort_on",
                match sort {
                    SortOn::Created => "created",
                    SortOn::Updated => "updated",
                },
            )
            .append_pair(
                "sort_order",
                match sort {
                    SortOn::Created => "asc",
                    SortOn::Updated => "desc",
                },
            )
            .append_pair("includes", INCLUDES);
        let page: wire::Page<wire::Listing> = self.get_private("get_listings_by_shop", url).await?;
        Ok(to_page(page, currency))
    }

    /// Listings by id (at most 100), for targeted refetches.
    ///
    /// # Errors
    /// Request and decoding failures.
    #[instrument(skip_all, fields(shop.id = %self.shop, listings = ids.len()), err)]
    pub async fn listings_by_ids(
        &self,
        ids: &[u64],
        currency: Currency,
    ) -> Result<CatalogPage, EtsyError> {
        let mut url = self.app.url("/v3/application/listings/batch");
        let joined: Vec<String> = ids
            .iter()
            .take(PAGE_LIMIT as usize)
            .map(u64::to_string)
            .collect();
        url.query_pairs_mut()
            .append_pair("listing_ids", &joined.join(","))
            .append_pair("includes", INCLUDES);
        let page: wire::Page<wire::Listing> =
            self.get_public("get_listings_by_listing_ids", url).await?;
        Ok(to_page(page, currency))
    }
}

fn to_page(page: wire::Page<wire::Listing>, currency: Currency) -> CatalogPage {
    let mut out = CatalogPage {
        total: page.count,
        listings_on_page: page.results.len(),
        ..CatalogPage::default()
    };
    for listing in &page.results {
        out.listing_ids.push(listing.listing_id.to_string());
        out.modified.push(modified_at(listing));
        match map_listing(listing, currency) {
            Ok(MappedListing { product }) => out.products.push(product),
            Err(e) => {
                warn!(listing.id = listing.listing_id, error = %e, "Etsy listing left out");
                out.rejected.push(RejectedListing {
                    listing_id: listing.listing_id,
                    message: e.to_string(),
                });
            }
        }
    }
    out
}

pub(super) fn modified_at(listing: &wire::Listing) -> DateTime<Utc> {
    let secs = listing
        .last_modified_timestamp
        .or(listing.updated_timestamp)
        .unwrap_or(0);
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

fn decode<T: DeserializeOwned>(operation: &'static str, answer: Answer) -> Result<T, EtsyError> {
    let status = answer.status;
    if status.is_success() {
        return serde_json::from_slice(&answer.body)
            .map_err(|source| EtsyError::Decode { operation, source });
    }
    let message = answer.message();
    match status {
        StatusCode::UNAUTHORIZED => Err(EtsyError::Unauthorized { operation, message }),
        StatusCode::FORBIDDEN
            if answer.error_code().is_some_and(|e| {
                let e = e.to_ascii_lowercase();
                e.contains("api key") || e.contains("x-api-key") || e.contains("shared secret")
            }) =>
        {
            Err(EtsyError::ApiKey { operation, message })
        }
        _ => Err(EtsyError::Http {
            operation,
            status: status.as_u16(),
            message,
        }),
    }
}
