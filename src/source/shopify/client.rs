//! The Shopify Admin GraphQL client: one `reqwest::Client`, authentication,
//! the cost-based throttle and the retry policy.
//!
//! Callers never rate-limit or retry by hand: [`ShopifyClient::execute`]
//! waits for throttle budget, retries THROTTLED responses, HTTP 429/423/5xx,
//! timeouts and connection errors with capped, jittered back-off, renews a
//! client-credentials token once on a 401, and turns a 200 whose body holds
//! `errors` into an error. Non-idempotent mutations (`orderCreate`) go
//! through [`ShopifyClient::execute_once`], which retries only failures that
//! prove Shopify did not run the request. Typed operations live in
//! `catalog.rs`, `bulk.rs` and `orders.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use graphql_client::{GraphQLQuery, Response};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use secrecy::ExposeSecret;
use tokio::time::Instant;
use url::Url;

use super::auth::{ShopifyAuth, Token, TokenSource};
use super::error::{ShopifyError, is_retryable_code};
use super::paging::{ProductsSizer, VariantsSizer};
use super::throttle::{CostThrottle, QueryCost, ThrottleStats};
use crate::metrics::{REQUEST_DURATION_SECONDS, REQUESTS_TOTAL, RETRIES_TOTAL, THROTTLED_TOTAL};

/// The Admin API version used unless configured otherwise.
pub const DEFAULT_API_VERSION: &str = "2026-10";
/// Requested-cost ceiling per query used unless configured otherwise.
pub const DEFAULT_QUERY_COST_TARGET: u32 = 400;

/// Longest `Retry-After` honoured; longer values are clamped.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(120);

/// Settings of one shop's client.
#[derive(Debug, Clone)]
pub struct ShopifyClientSettings {
    /// `{shop}.myshopify.com`.
    pub shop_domain: String,
    /// Override of `https://{shop_domain}` (the emulator, a proxy).
    pub api_base_url: Option<Url>,
    /// Admin API version, e.g. `2026-10`.
    pub api_version: String,
    /// Credentials.
    pub auth: ShopifyAuth,
    /// Total time for one GraphQL request (also the read timeout of bulk
    /// downloads, which have no total limit).
    pub request_timeout: Duration,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Retries per request after the first attempt.
    pub max_retries: u32,
    /// Requested cost a single paged query should stay under (Shopify
    /// rejects anything over 1,000).
    pub query_cost_target: u32,
    /// Back-off and polling intervals; the defaults suit production, tests
    /// and benchmarks against the emulator shorten them.
    pub timings: ClientTimings,
}

/// Back-off and bulk polling intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTimings {
    /// First retry back-off step; doubles per retry (with jitter).
    pub backoff_base: Duration,
    /// Longest retry back-off step.
    pub backoff_cap: Duration,
    /// Shortest wait between bulk status polls. The wait grows with the
    /// operation's age, to an eighth of it (see `bulk::poll_wait`), so
    /// completion is noticed at most an eighth of its running time late.
    pub bulk_poll_initial: Duration,
    /// Longest wait between bulk status polls.
    pub bulk_poll_cap: Duration,
    /// Give up on a bulk operation that has not finished after this long.
    pub bulk_poll_deadline: Duration,
    /// First wait before retrying to start a bulk operation while others
    /// are running; doubles per attempt.
    pub bulk_busy_base: Duration,
    /// Longest such wait.
    pub bulk_busy_cap: Duration,
}

impl Default for ClientTimings {
    fn default() -> Self {
        ClientTimings {
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            bulk_poll_initial: Duration::from_millis(500),
            bulk_poll_cap: Duration::from_secs(30),
            // Shopify allows 10 days; a catalog export taking longer than
            // this is treated as stuck.
            bulk_poll_deadline: Duration::from_secs(12 * 60 * 60),
            bulk_busy_base: Duration::from_secs(5),
            bulk_busy_cap: Duration::from_secs(60),
        }
    }
}

impl ShopifyClientSettings {
    /// Settings with the defaults: API 2026-10, 30 s request and 10 s connect
    /// timeouts, 5 retries, cost target 400.
    pub fn new(shop_domain: impl Into<String>, auth: ShopifyAuth) -> Self {
        ShopifyClientSettings {
            shop_domain: shop_domain.into(),
            api_base_url: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            auth,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 5,
            query_cost_target: DEFAULT_QUERY_COST_TARGET,
            timings: ClientTimings::default(),
        }
    }
}

/// A decoded response with the cost Shopify reported for it.
#[derive(Debug)]
pub(crate) struct Executed<T> {
    pub data: T,
    pub cost: Option<QueryCost>,
}

/// Which failures a request may be sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Queries and idempotent mutations: every transient failure.
    Always,
    /// Non-idempotent mutations: only failures that prove Shopify did not run
    /// the request (no connection, throttled, rate limited, shop locked,
    /// token rejected). Anything after the request may have arrived ends
    /// with [`ShopifyError::OutcomeUnknown`].
    OnlyUnexecuted,
}

/// What one attempt ended with, as the retry loop sees it.
enum Attempt<T> {
    Done(Executed<T>),
    /// Retry after `wait` (or the back-off step when `None`).
    Retry {
        error: ShopifyError,
        wait: Option<Duration>,
        reason: &'static str,
        /// Whether Shopify may have run the request (it was sent and not
        /// provably rejected).
        may_have_run: bool,
    },
    /// HTTP 401 with this token.
    Unauthorized(Token),
    Fatal(ShopifyError),
}

pub(crate) struct Inner {
    pub http: reqwest::Client,
    graphql_url: Url,
    tokens: TokenSource,
    pub throttle: CostThrottle,
    pub max_retries: u32,
    pub timings: ClientTimings,
    pub products_sizer: Mutex<ProductsSizer>,
    pub variants_sizer: Mutex<VariantsSizer>,
}

/// A client for one shop. Cheap to clone; clones share the connection pool,
/// token cache and throttle.
#[derive(Clone)]
pub struct ShopifyClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for ShopifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyClient")
            .field("graphql_url", &self.inner.graphql_url.as_str())
            .finish_non_exhaustive()
    }
}

/// `base` with a trailing slash so `join` appends instead of replacing.
fn directory_url(base: &Url) -> Url {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base
}

/// Exponential back-off with "equal jitter": half the step plus a random
/// share of the other half, so waits grow but retries do not align.
pub(crate) fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1).min(16))
        .unwrap_or(u32::MAX);
    let step = base.saturating_mul(factor).min(cap);
    let half = step / 2;
    let jitter_ms = fastrand::u64(0..=half.as_millis().min(u128::from(u64::MAX)) as u64);
    half + Duration::from_millis(jitter_ms)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = value.parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        secs.min(RETRY_AFTER_CAP.as_secs_f64()),
    ))
}

fn error_code(error: &graphql_client::Error) -> Option<String> {
    error
        .extensions
        .as_ref()?
        .get("code")?
        .as_str()
        .map(str::to_owned)
}

impl ShopifyClient {
    /// Builds the client (no request is made).
    ///
    /// # Errors
    /// [`ShopifyError::InvalidSettings`] for an unusable shop domain or base
    /// URL, or when the HTTP client cannot be built.
    pub fn new(settings: ShopifyClientSettings) -> Result<Self, ShopifyError> {
        let invalid = |reason: String| ShopifyError::InvalidSettings { reason };
        let base = match &settings.api_base_url {
            Some(url) => url.clone(),
            None => {
                if settings.shop_domain.is_empty() || settings.shop_domain.contains('/') {
                    return Err(invalid(format!(
                        "shop domain `{}` is not a host name",
                        settings.shop_domain
                    )));
                }
                Url::parse(&format!("https://{}", settings.shop_domain))
                    .map_err(|e| invalid(format!("shop domain: {e}")))?
            }
        };
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid(format!("base URL {base} is not an http(s) URL")));
        }
        let base = directory_url(&base);
        let version = settings.api_version.trim();
        if version.is_empty() || version.contains('/') {
            return Err(invalid(format!("API version `{version}` is invalid")));
        }
        let graphql_url = base
            .join(&format!("admin/api/{version}/graphql.json"))
            .map_err(|e| invalid(format!("GraphQL URL: {e}")))?;
        let token_url = base
            .join("admin/oauth/access_token")
            .map_err(|e| invalid(format!("token URL: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .read_timeout(settings.request_timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("acp-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid(format!("HTTP client: {e}")))?;
        let target = settings.query_cost_target.clamp(10, 1_000);
        Ok(ShopifyClient {
            inner: Arc::new(Inner {
                http,
                graphql_url,
                tokens: TokenSource::new(settings.auth, token_url),
                throttle: CostThrottle::new(),
                max_retries: settings.max_retries,
                timings: settings.timings,
                products_sizer: Mutex::new(ProductsSizer::new(target)),
                variants_sizer: Mutex::new(VariantsSizer::new(target)),
            }),
        })
    }

    /// Throttle figures so far (wait time, points, restore-rate use).
    pub fn throttle_stats(&self) -> ThrottleStats {
        self.inner.throttle.stats()
    }

    /// Runs operation `Q` with retries and returns its data.
    ///
    /// # Errors
    /// See [`ShopifyError`]; retryable failures are only returned once
    /// `max_retries` retries are spent.
    pub(crate) async fn execute<Q: GraphQLQuery>(
        &self,
        variables: Q::Variables,
    ) -> Result<Executed<Q::ResponseData>, ShopifyError> {
        self.execute_with_cost::<Q>(variables, None).await
    }

    /// [`ShopifyClient::execute`] with an explicit cost estimate for the
    /// throttle (used by paged queries whose sizes change per request).
    pub(crate) async fn execute_with_cost<Q: GraphQLQuery>(
        &self,
        variables: Q::Variables,
        estimated_cost: Option<u32>,
    ) -> Result<Executed<Q::ResponseData>, ShopifyError> {
        self.run::<Q>(variables, estimated_cost, Replay::Always)
            .await
    }

    /// Runs a non-idempotent mutation: like [`ShopifyClient::execute`], but
    /// it is sent again only after failures that prove Shopify did not run
    /// it (connection refused, THROTTLED, HTTP 429/423, a rejected token).
    ///
    /// # Errors
    /// [`ShopifyError::OutcomeUnknown`] when the request may have been run
    /// but no usable answer arrived (timeout, dropped connection, HTTP 5xx,
    /// an internal GraphQL error, an unreadable body): the caller must look
    /// for the effect before trying again. Other errors as for `execute`.
    pub(crate) async fn execute_once<Q: GraphQLQuery>(
        &self,
        variables: Q::Variables,
    ) -> Result<Executed<Q::ResponseData>, ShopifyError> {
        self.run::<Q>(variables, None, Replay::OnlyUnexecuted).await
    }

    async fn run<Q: GraphQLQuery>(
        &self,
        variables: Q::Variables,
        estimated_cost: Option<u32>,
        replay: Replay,
    ) -> Result<Executed<Q::ResponseData>, ShopifyError> {
        let body = Q::build_query(variables);
        let operation = body.operation_name;
        let payload = serde_json::to_vec(&body)
            .map_err(|source| ShopifyError::Decode { operation, source })?;
        let mut retries = 0u32;
        let mut renewed = false;
        let mut throttled = 0u32;
        loop {
            let estimate =
                estimated_cost.unwrap_or_else(|| self.inner.throttle.estimate(operation));
            let attempt = self
                .attempt::<Q::ResponseData>(operation, &payload, estimate)
                .await;
            match attempt {
                Attempt::Done(executed) => return Ok(executed),
                Attempt::Fatal(error) => {
                    // A body that does not decode came after Shopify ran it.
                    let ran = matches!(
                        error,
                        ShopifyError::Decode { .. } | ShopifyError::MissingData { .. }
                    );
                    return Err(if replay == Replay::OnlyUnexecuted && ran {
                        outcome_unknown(operation, error)
                    } else {
                        error
                    });
                }
                Attempt::Unauthorized(token) => {
                    if !renewed && self.inner.tokens.invalidate(&token).await {
                        renewed = true;
                        metrics::counter!(RETRIES_TOTAL, "reason" => "unauthorized").increment(1);
                        tracing::info!(
                            graphql.operation = operation,
                            "shopify token rejected, renewing"
                        );
                        continue;
                    }
                    return Err(ShopifyError::Unauthorized);
                }
                Attempt::Retry {
                    error,
                    wait,
                    reason,
                    may_have_run,
                } => {
                    if replay == Replay::OnlyUnexecuted && may_have_run {
                        tracing::warn!(
                            graphql.operation = operation,
                            retry.reason = reason,
                            "shopify mutation may have run; not retrying"
                        );
                        return Err(outcome_unknown(operation, error));
                    }
                    if reason == "throttled" {
                        throttled += 1;
                    }
                    if retries >= self.inner.max_retries {
                        tracing::warn!(
                            graphql.operation = operation,
                            retry.count = retries,
                            retry.reason = reason,
                            "shopify request failed after retries"
                        );
                        return Err(if reason == "throttled" {
                            ShopifyError::Throttled {
                                attempts: retries + 1,
                            }
                        } else {
                            error
                        });
                    }
                    retries += 1;
                    let wait = wait.unwrap_or_else(|| {
                        backoff(
                            retries,
                            self.inner.timings.backoff_base,
                            self.inner.timings.backoff_cap,
                        )
                    });
                    if reason == "throttled" {
                        self.inner.throttle.add_wait(wait);
                    }
                    metrics::counter!(RETRIES_TOTAL, "reason" => reason).increment(1);
                    tracing::debug!(
                        graphql.operation = operation,
                        retry.attempt = retries,
                        retry.reason = reason,
                        retry.wait_ms = wait.as_millis() as u64,
                        throttle.count = throttled,
                        "retrying shopify request"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt<T: for<'de> serde::Deserialize<'de>>(
        &self,
        operation: &'static str,
        payload: &[u8],
        estimate: u32,
    ) -> Attempt<T> {
        let inner = &self.inner;
        let token = match inner.tokens.current(&inner.http).await {
            Ok(token) => token,
            Err(error) if error.is_retryable() => {
                return Attempt::Retry {
                    error,
                    wait: None,
                    reason: "token",
                    may_have_run: false,
                };
            }
            Err(error) => return Attempt::Fatal(error),
        };
        let (permit, _waited) = inner.throttle.acquire(estimate).await;
        let started = Instant::now();
        let sent = inner
            .http
            .post(inner.graphql_url.clone())
            .header("X-Shopify-Access-Token", token.secret.expose_secret())
            .header(CONTENT_TYPE, "application/json")
            .body(payload.to_vec())
            .send()
            .await;
        let count = |outcome: &'static str| {
            metrics::counter!(REQUESTS_TOTAL, "operation" => operation, "outcome" => outcome)
                .increment(1);
            metrics::histogram!(REQUEST_DURATION_SECONDS, "operation" => operation)
                .record(started.elapsed().as_secs_f64());
        };
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                inner.throttle.release(permit);
                count("transport_error");
                // Only a failed connect proves nothing was sent; a timeout or
                // a connection closed mid-exchange may follow a delivered
                // request.
                let may_have_run = !e.is_connect();
                let error = ShopifyError::Transport {
                    source: e.without_url(),
                };
                return if error_is_builder(&error) {
                    Attempt::Fatal(error)
                } else {
                    Attempt::Retry {
                        error,
                        wait: None,
                        reason: "transport",
                        may_have_run,
                    }
                };
            }
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            inner.throttle.release(permit);
            count("unauthorized");
            return Attempt::Unauthorized(token);
        }
        if !status.is_success() {
            inner.throttle.release(permit);
            let code = status.as_u16();
            let error = ShopifyError::Http { status: code };
            return match code {
                429 => {
                    count("throttled");
                    metrics::counter!(THROTTLED_TOTAL).increment(1);
                    Attempt::Retry {
                        error,
                        wait: retry_after(response.headers()),
                        reason: "http_429",
                        may_have_run: false,
                    }
                }
                423 => {
                    count("http_error");
                    Attempt::Retry {
                        error,
                        wait: retry_after(response.headers()),
                        reason: "http_423",
                        may_have_run: false,
                    }
                }
                500..=599 => {
                    count("http_error");
                    Attempt::Retry {
                        error,
                        wait: retry_after(response.headers()),
                        reason: "http_5xx",
                        // 503 is Shopify refusing the request while unavailable;
                        // a 500, or a 502/504 from a gateway in front of it,
                        // may come after the work was done.
                        may_have_run: status.as_u16() != 503,
                    }
                }
                _ => {
                    count("http_error");
                    Attempt::Fatal(error)
                }
            };
        }
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => {
                inner.throttle.release(permit);
                count("transport_error");
                return Attempt::Retry {
                    error: ShopifyError::Transport {
                        source: e.without_url(),
                    },
                    wait: None,
                    reason: "transport",
                    may_have_run: true,
                };
            }
        };
        let decoded: Response<T> = match serde_json::from_slice(&bytes) {
            Ok(decoded) => decoded,
            Err(source) => {
                inner.throttle.release(permit);
                count("decode_error");
                return Attempt::Fatal(ShopifyError::Decode { operation, source });
            }
        };
        let cost = QueryCost::from_extensions(decoded.extensions.as_ref());
        let errors = decoded.errors.unwrap_or_default();
        let codes: Vec<String> = errors.iter().filter_map(error_code).collect();
        let throttled = codes.iter().any(|c| c == "THROTTLED");
        inner
            .throttle
            .record(operation, permit, cost.as_ref(), throttled);
        if let Some(cost) = &cost {
            tracing::debug!(
                graphql.operation = operation,
                cost.requested = cost.requested_query_cost,
                cost.actual = cost.actual_query_cost,
                throttle.available = cost.throttle_status.currently_available,
                "shopify response"
            );
        }
        if throttled {
            count("throttled");
            metrics::counter!(THROTTLED_TOTAL).increment(1);
            return Attempt::Retry {
                error: ShopifyError::Throttled { attempts: 1 },
                wait: Some(inner.throttle.throttled_wait(cost.as_ref(), estimate)),
                reason: "throttled",
                may_have_run: false,
            };
        }
        if !errors.is_empty() {
            count("graphql_error");
            let messages: Vec<String> = errors.into_iter().map(|e| e.message).collect();
            let retryable = codes.iter().any(|c| is_retryable_code(c));
            let error = ShopifyError::GraphQl { messages, codes };
            return if retryable {
                Attempt::Retry {
                    error,
                    wait: None,
                    reason: "graphql_internal",
                    may_have_run: true,
                }
            } else {
                Attempt::Fatal(error)
            };
        }
        match decoded.data {
            Some(data) => {
                count("ok");
                Attempt::Done(Executed { data, cost })
            }
            None => {
                count("decode_error");
                Attempt::Fatal(ShopifyError::MissingData {
                    operation,
                    reason: "neither data nor errors".to_owned(),
                })
            }
        }
    }
}

fn outcome_unknown(operation: &'static str, error: ShopifyError) -> ShopifyError {
    ShopifyError::OutcomeUnknown {
        operation,
        source: Box::new(error),
    }
}

fn error_is_builder(error: &ShopifyError) -> bool {
    matches!(error, ShopifyError::Transport { source } if source.is_builder())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let ClientTimings {
            backoff_base,
            backoff_cap,
            ..
        } = ClientTimings::default();
        for attempt in 1..=20 {
            let step = backoff_base
                .saturating_mul(1u32 << (attempt - 1).min(16))
                .min(backoff_cap);
            let wait = backoff(attempt, backoff_base, backoff_cap);
            assert!(
                wait >= step / 2 && wait <= step,
                "attempt {attempt}: {wait:?}"
            );
        }
    }

    #[test]
    fn retry_after_accepts_seconds_and_clamps() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(RETRY_AFTER, "1.5".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        headers.insert(RETRY_AFTER, "99999".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(RETRY_AFTER_CAP));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn urls_are_built_under_the_base_path() {
        let mut settings =
            ShopifyClientSettings::new("acme.myshopify.com", ShopifyAuth::AccessToken("t".into()));
        let client = ShopifyClient::new(settings.clone()).unwrap();
        assert_eq!(
            client.inner.graphql_url.as_str(),
            "https://acme.myshopify.com/admin/api/2026-10/graphql.json"
        );
        settings.api_base_url = Some(Url::parse("http://127.0.0.1:9/shops/acme").unwrap());
        let client = ShopifyClient::new(settings.clone()).unwrap();
        assert_eq!(
            client.inner.graphql_url.as_str(),
            "http://127.0.0.1:9/shops/acme/admin/api/2026-10/graphql.json"
        );
        settings.api_base_url = None;
        settings.shop_domain = "bad/domain".into();
        assert!(matches!(
            ShopifyClient::new(settings),
            Err(ShopifyError::InvalidSettings { .. })
        ));
    }
}
