//! The Stripe client: one `reqwest::Client`, the secret key, the pinned
//! `Stripe-Version`, the retry policy and the typed operations.
//!
//! Retries: connection errors, timeouts, lost answers, HTTP 5xx, 429 and
//! 409 `idempotency_key_in_use` are retried with capped, jittered
//! exponential back-off, always with the same Idempotency-Key, which makes
//! retrying a write safe (Stripe replays the first answer instead of acting
//! twice). `Stripe-Should-Retry` overrides the choice when present. When the
//! budget runs out, a write that may have reached Stripe ends as
//! [`StripeError::Ambiguous`]; anything known not to have been applied ends
//! as [`StripeError::Unavailable`] or [`StripeError::RateLimited`].
//!
//! Secrets: the key goes only into the `Authorization` header, the token
//! only into the form body or URL path; reqwest errors are stripped of
//! their URL and Stripe messages pass through [`super::redact`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::error::{StripeError, TokenUnusableReason, redact};
use super::model::{
    CancellationReason, CaptureMode, ChargeRequest, GrantedToken, IdempotencyKey, PaymentIntent,
    Refund,
};
use super::wire::{
    ErrorEnvelope, WireError, WireGrantedToken, WireIntent, WireRefund, WireSearch, to_stripe,
};
use crate::domain::Money;

/// Stripe's API host.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";
/// The pinned API version: the first preview that takes
/// `payment_method_data[shared_payment_granted_token]`.
pub const DEFAULT_API_VERSION: &str = "2026-04-22.preview";

/// Longest `Retry-After` honoured.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);
/// Search pages read by [`StripeClient::find_by_metadata`] at most (100
/// results each).
const MAX_SEARCH_PAGES: usize = 10;
/// The parameter Stripe reports token problems on.
const TOKEN_PARAM: &str = "payment_method_data[shared_payment_granted_token]";

/// Back-off between attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First back-off step; doubles per retry, with jitter.
    pub backoff_base: Duration,
    /// Longest back-off step.
    pub backoff_cap: Duration,
}

impl Default for RetryPolicy {
    /// Three retries, 500 ms doubling up to 5 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(5),
        }
    }
}

/// Settings of the client.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    /// `https://api.stripe.com`, or the emulator's mount point.
    pub api_base_url: Url,
    /// The secret key (`sk_live_…`/`sk_test_…`).
    pub secret_key: SecretString,
    /// Sent as `Stripe-Version` on every request.
    pub api_version: String,
    /// Total time for one attempt.
    pub request_timeout: Duration,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
}

impl StripeSettings {
    /// Settings with the defaults: Stripe's host, [`DEFAULT_API_VERSION`],
    /// 30 s request and 5 s connect timeouts, [`RetryPolicy::default`].
    pub fn new(secret_key: SecretString) -> Self {
        StripeSettings {
            // Invariant: a constant, valid URL.
            #[allow(clippy::expect_used)]
            api_base_url: Url::parse(DEFAULT_API_BASE).expect("constant URL parses"),
            secret_key,
            api_version: DEFAULT_API_VERSION.to_owned(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    secret_key: SecretString,
    api_version: String,
    retry: RetryPolicy,
}

/// A Stripe client. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct StripeClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.inner.base.as_str())
            .field("api_version", &self.inner.api_version)
            .finish_non_exhaustive()
    }
}

/// How error answers of an operation are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// Token problems become [`StripeError::TokenUnusable`].
    Token,
    Plain,
}

/// One logical call, attempted until it settles.
struct Call<'a> {
    operation: &'static str,
    method: Method,
    url: Url,
    form: Vec<(String, String)>,
    idempotency_key: Option<&'a IdempotencyKey>,
    context: Context,
}

/// Exponential back-off with "equal jitter": half the step plus a random
/// share of the other half, so waits grow but retries do not align.
/// `value` as a quoted string of Stripe's search query language.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn backoff(retry: u32, policy: &RetryPolicy) -> Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1).min(16))
        .unwrap_or(u32::MAX);
    let step = policy
        .backoff_base
        .saturating_mul(factor)
        .min(policy.backoff_cap);
    let half = step / 2;
    let jitter_ms = fastrand::u64(0..=u64::try_from(half.as_millis()).unwrap_or(u64::MAX));
    half + Duration::from_millis(jitter_ms)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(RETRY_AFTER_CAP))
}

fn should_retry_header(headers: &HeaderMap) -> Option<bool> {
    match headers.get("stripe-should-retry")?.to_str().ok()? {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A path segment that is a Stripe object id (`pi_…`, `spt_…`).
fn object_id<'i>(id: &'i str, what: &str) -> Result<&'i str, StripeError> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(id)
    } else {
        Err(StripeError::InvalidArgument {
            reason: format!("{what} is not a Stripe object id"),
        })
    }
}

fn token_reason(code: Option<&str>) -> TokenUnusableReason {
    match code {
        Some("resource_missing") => TokenUnusableReason::NotFound,
        Some("shared_payment_granted_token_expired") => TokenUnusableReason::Expired,
        Some("shared_payment_granted_token_revoked") => TokenUnusableReason::Revoked,
        Some("shared_payment_granted_token_consumed") => TokenUnusableReason::Consumed,
        Some("shared_payment_granted_token_resolved") => TokenUnusableReason::Resolved,
        Some("shared_payment_granted_token_currency_mismatch") => {
            TokenUnusableReason::CurrencyMismatch
        }
        Some("amount_too_large") => TokenUnusableReason::OverLimit,
        _ => TokenUnusableReason::Other,
    }
}

/// Maps a final (non-retried) error answer.
fn map_error(status: StatusCode, error: Option<WireError>, context: Context) -> StripeError {
    let code = status.as_u16();
    if matches!(code, 401 | 403) {
        return StripeError::Authentication { status: code };
    }
    let Some(error) = error else {
        return StripeError::InvalidRequest {
            status: code,
            code: None,
            param: None,
            message: format!("HTTP {code} without a Stripe error body"),
        };
    };
    let message = redact(error.message.as_deref().unwrap_or(""));
    match error.kind.as_deref() {
        Some("card_error") => {
            return StripeError::Declined {
                code: error.code.unwrap_or_else(|| "card_declined".to_owned()),
                decline_code: error.decline_code,
                message,
                payment_intent: error.payment_intent.map(|p| p.id),
            };
        }
        Some("idempotency_error") => return StripeError::IdempotencyConflict,
        _ => {}
    }
    let about_token = error
        .param
        .as_deref()
        .is_some_and(|p| p == TOKEN_PARAM || p == "shared_payment_granted_token")
        || error
            .code
            .as_deref()
            .is_some_and(|c| c.starts_with("shared_payment_granted_token"));
    // `parameter_*` codes on the token param mean our request was wrong
    // (e.g. a version that does not know the parameter), not the token.
    let request_shape = error
        .code
        .as_deref()
        .is_some_and(|c| c.starts_with("parameter"));
    if context == Context::Token && about_token && !request_shape {
        return StripeError::TokenUnusable {
            reason: token_reason(error.code.as_deref()),
        };
    }
    StripeError::InvalidRequest {
        status: code,
        code: error.code,
        param: error.param,
        message,
    }
}

/// The last failure of a retried call.
enum Last {
    Transport(reqwest::Error),
    Status(StatusCode),
}

impl StripeClient {
    /// Builds the client (no request is made).
    ///
    /// # Errors
    /// [`StripeError::InvalidSettings`] for a base URL that is not http(s),
    /// an empty version, or an HTTP client that cannot be built.
    pub fn new(settings: StripeSettings) -> Result<Self, StripeError> {
        let invalid = |reason: String| StripeError::InvalidSettings { reason };
        let mut base = settings.api_base_url.clone();
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid(format!("base URL {base} is not an http(s) URL")));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let version = settings.api_version.trim();
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(format!("API version `{version}` is invalid")));
        }
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("acp-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid(format!("HTTP client: {}", e.without_url())))?;
        Ok(StripeClient {
            inner: Arc::new(Inner {
                http,
                base,
                secret_key: settings.secret_key,
                api_version: version.to_owned(),
                retry: settings.retry,
            }),
        })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, StripeError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| StripeError::InvalidSettings {
                reason: "base URL cannot take a path".to_owned(),
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Retrieves a granted token to check it before charging.
    ///
    /// # Errors
    /// [`StripeError::TokenUnusable`] with [`TokenUnusableReason::NotFound`]
    /// for an unknown token; transport and API errors otherwise.
    #[tracing::instrument(skip_all, fields(stripe.operation = "retrieve_granted_token"), err(level = "warn"))]
    pub async fn retrieve_granted_token(
        &self,
        token: &SecretString,
    ) -> Result<GrantedToken, StripeError> {
        let id = object_id(token.expose_secret(), "the shared payment token")?;
        let url = self.url(&["v1", "shared_payment", "granted_tokens", id])?;
        let wire: WireGrantedToken = self
            .send(Call {
                operation: "retrieve_granted_token",
                method: Method::GET,
                url,
                form: Vec::new(),
                idempotency_key: None,
                context: Context::Token,
            })
            .await?;
        wire.into_model()
    }

    /// Creates and confirms a PaymentIntent paid with the shared payment
    /// token. With [`CaptureMode::Manual`] the result is `requires_capture`,
    /// otherwise `succeeded`.
    ///
    /// # Errors
    /// [`StripeError::Declined`] (nothing charged),
    /// [`StripeError::TokenUnusable`] (nothing charged),
    /// [`StripeError::Ambiguous`] (reconcile before acting),
    /// and the other variants.
    #[tracing::instrument(
        skip_all,
        fields(stripe.operation = "charge", idempotency_key = %request.idempotency_key),
        err(level = "warn")
    )]
    pub async fn charge(&self, request: ChargeRequest) -> Result<PaymentIntent, StripeError> {
        let (amount, currency) = to_stripe(request.amount)?;
        object_id(request.token.expose_secret(), "the shared payment token")?;
        if request.metadata.len() > 50 {
            return Err(StripeError::InvalidArgument {
                reason: "Stripe accepts at most 50 metadata keys".to_owned(),
            });
        }
        let mut form = vec![
            ("amount".to_owned(), amount.to_string()),
            ("currency".to_owned(), currency),
            ("confirm".to_owned(), "true".to_owned()),
            (
                "capture_method".to_owned(),
                match request.capture {
                    CaptureMode::Manual => "manual",
                    CaptureMode::Automatic => "automatic",
                }
                .to_owned(),
            ),
            (
                TOKEN_PARAM.to_owned(),
                request.token.expose_secret().to_owned(),
            ),
        ];
        for (key, value) in &request.metadata {
            if key.is_empty() || key.chars().count() > 40 || key.contains(['[', ']']) {
                return Err(StripeError::InvalidArgument {
                    reason: format!(
                        "metadata key `{key}` must be 1-40 characters without brackets"
                    ),
                });
            }
            form.push((format!("metadata[{key}]"), value.clone()));
        }
        if let Some(description) = &request.description {
            form.push(("description".to_owned(), description.clone()));
        }
        let url = self.url(&["v1", "payment_intents"])?;
        let wire: WireIntent = self
            .send(Call {
                operation: "charge",
                method: Method::POST,
                url,
                form,
                idempotency_key: Some(&request.idempotency_key),
                context: Context::Token,
            })
            .await?;
        let intent = wire.into_model()?;
        tracing::info!(
            payment_intent.id = %intent.id,
            payment_intent.status = ?intent.status,
            "stripe payment intent confirmed"
        );
        Ok(intent)
    }

    /// Captures an authorized PaymentIntent, all of it or `amount` (which
    /// must be in the PaymentIntent's currency and at most
    /// `amount_capturable`; the rest is released).
    ///
    /// # Errors
    /// [`StripeError::InvalidRequest`] with code
    /// `payment_intent_unexpected_state` when it is not `requires_capture`;
    /// see [`StripeError`].
    #[tracing::instrument(skip_all, fields(stripe.operation = "capture", payment_intent.id = %id), err(level = "warn"))]
    pub async fn capture(
        &self,
        id: &str,
        amount: Option<Money>,
        idempotency_key: &IdempotencyKey,
    ) -> Result<PaymentIntent, StripeError> {
        let id = object_id(id, "the PaymentIntent id")?;
        let mut form = Vec::new();
        if let Some(amount) = amount {
            form.push((
                "amount_to_capture".to_owned(),
                to_stripe(amount)?.0.to_string(),
            ));
        }
        let url = self.url(&["v1", "payment_intents", id, "capture"])?;
        self.intent_call("capture", url, form, idempotency_key)
            .await
    }

    /// Cancels a PaymentIntent (releases an authorization).
    ///
    /// # Errors
    /// [`StripeError::InvalidRequest`] with code
    /// `payment_intent_unexpected_state` when it can no longer be canceled
    /// (e.g. `succeeded`); see [`StripeError`].
    #[tracing::instrument(skip_all, fields(stripe.operation = "cancel", payment_intent.id = %id), err(level = "warn"))]
    pub async fn cancel(
        &self,
        id: &str,
        reason: Option<CancellationReason>,
        idempotency_key: &IdempotencyKey,
    ) -> Result<PaymentIntent, StripeError> {
        let id = object_id(id, "the PaymentIntent id")?;
        let form = reason
            .map(|r| vec![("cancellation_reason".to_owned(), r.as_str().to_owned())])
            .unwrap_or_default();
        let url = self.url(&["v1", "payment_intents", id, "cancel"])?;
        self.intent_call("cancel", url, form, idempotency_key).await
    }

    async fn intent_call(
        &self,
        operation: &'static str,
        url: Url,
        form: Vec<(String, String)>,
        idempotency_key: &IdempotencyKey,
    ) -> Result<PaymentIntent, StripeError> {
        let wire: WireIntent = self
            .send(Call {
                operation,
                method: Method::POST,
                url,
                form,
                idempotency_key: Some(idempotency_key),
                context: Context::Plain,
            })
            .await?;
        wire.into_model()
    }

    /// Retrieves a PaymentIntent.
    ///
    /// # Errors
    /// [`StripeError::InvalidRequest`] with code `resource_missing` for an
    /// unknown id; see [`StripeError`].
    #[tracing::instrument(skip_all, fields(stripe.operation = "retrieve", payment_intent.id = %id), err(level = "warn"))]
    pub async fn retrieve(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        let id = object_id(id, "the PaymentIntent id")?;
        let url = self.url(&["v1", "payment_intents", id])?;
        let wire: WireIntent = self
            .send(Call {
                operation: "retrieve",
                method: Method::GET,
                url,
                form: Vec::new(),
                idempotency_key: None,
                context: Context::Plain,
            })
            .await?;
        wire.into_model()
    }

    /// PaymentIntents whose metadata `key` equals `value`, newest first
    /// (Stripe search: results can lag writes by up to a minute, so prefer
    /// replaying the charge's idempotency key to reconcile a lost answer).
    ///
    /// # Errors
    /// [`StripeError::InvalidArgument`] for a key with quotes or brackets;
    /// see [`StripeError`].
    #[tracing::instrument(skip_all, fields(stripe.operation = "search", metadata.key = %key), err(level = "warn"))]
    pub async fn find_by_metadata(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<PaymentIntent>, StripeError> {
        if key.is_empty() || key.contains(['\'', '"', '[', ']', '\\']) {
            return Err(StripeError::InvalidArgument {
                reason: format!("metadata key `{key}` cannot be searched"),
            });
        }
        let query = format!("metadata['{key}']:{}", quoted(value));
        self.search(&query).await
    }

    /// PaymentIntents of this shop (metadata `shop`) that are authorized
    /// and not captured: what the reconciliation job checks for
    /// authorizations without an order. Newest first; search lags writes.
    ///
    /// # Errors
    /// See [`StripeError`].
    #[tracing::instrument(skip_all, fields(stripe.operation = "search"), err(level = "warn"))]
    pub async fn uncaptured_for_shop(&self, shop: &str) -> Result<Vec<PaymentIntent>, StripeError> {
        let query = format!(
            "metadata['shop']:{} AND status:'requires_capture'",
            quoted(shop)
        );
        self.search(&query).await
    }

    /// Every PaymentIntent matching a search `query`, following pages.
    async fn search(&self, query: &str) -> Result<Vec<PaymentIntent>, StripeError> {
        let mut found = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..MAX_SEARCH_PAGES {
            let mut url = self.url(&["v1", "payment_intents", "search"])?;
            {
                let mut pairs = url.query_pairs_mut();
                pairs
                    .append_pair("query", query)
                    .append_pair("limit", "100");
                if let Some(page) = &page {
                    pairs.append_pair("page", page);
                }
            }
            let result: WireSearch = self
                .send(Call {
                    operation: "search",
                    method: Method::GET,
                    url,
                    form: Vec::new(),
                    idempotency_key: None,
                    context: Context::Plain,
                })
                .await?;
            for wire in result.data {
                found.push(wire.into_model()?);
            }
            match (result.has_more, result.next_page) {
                (true, Some(next)) => page = Some(next),
                _ => break,
            }
        }
        Ok(found)
    }

    /// Refunds a captured PaymentIntent, all that is left or `amount`.
    ///
    /// # Errors
    /// [`StripeError::InvalidRequest`] (e.g. `amount_too_large`,
    /// `charge_already_refunded`); see [`StripeError`].
    #[tracing::instrument(skip_all, fields(stripe.operation = "refund", payment_intent.id = %payment_intent), err(level = "warn"))]
    pub async fn refund(
        &self,
        payment_intent: &str,
        amount: Option<Money>,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Refund, StripeError> {
        let id = object_id(payment_intent, "the PaymentIntent id")?;
        let mut form = vec![("payment_intent".to_owned(), id.to_owned())];
        if let Some(amount) = amount {
            form.push(("amount".to_owned(), to_stripe(amount)?.0.to_string()));
        }
        let url = self.url(&["v1", "refunds"])?;
        let wire: WireRefund = self
            .send(Call {
                operation: "refund",
                method: Method::POST,
                url,
                form,
                idempotency_key: Some(idempotency_key),
                context: Context::Plain,
            })
            .await?;
        wire.into_model()
    }

    /// Attempts `call` until it settles (see the module docs).
    async fn send<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, StripeError> {
        let inner = &self.inner;
        let write = call.method == Method::POST;
        let mut maybe_applied = false;
        let mut attempts = 0u32;
        let mut wait: Option<Duration> = None;
        let last = loop {
            if attempts > 0 {
                let pause = wait
                    .take()
                    .unwrap_or_else(|| backoff(attempts, &inner.retry));
                tokio::time::sleep(pause).await;
            }
            attempts += 1;
            let mut request = inner
                .http
                .request(call.method.clone(), call.url.clone())
                .bearer_auth(inner.secret_key.expose_secret())
                .header("Stripe-Version", &inner.api_version);
            if let Some(key) = call.idempotency_key {
                request = request.header("Idempotency-Key", key.as_str());
            }
            if write {
                request = request.form(&call.form);
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    response.bytes().await.map(|body| (status, headers, body))
                }
                Err(error) => Err(error),
            };
            let (status, headers, body) = match outcome {
                Ok(answer) => answer,
                Err(error) => {
                    let error = error.without_url();
                    if error.is_builder() {
                        return Err(StripeError::InvalidArgument {
                            reason: "the request could not be built".to_owned(),
                        });
                    }
                    // A refused connection never reached Stripe; anything
                    // later (timeout, reset, lost answer) may have.
                    maybe_applied |= write && !error.is_connect();
                    tracing::debug!(
                        stripe.operation = call.operation,
                        retry.attempt = attempts,
                        error.timeout = error.is_timeout(),
                        error.connect = error.is_connect(),
                        "stripe request failed in transport"
                    );
                    if attempts > inner.retry.max_retries {
                        break Last::Transport(error);
                    }
                    continue;
                }
            };
            if status.is_success() {
                if headers
                    .get("idempotent-replayed")
                    .is_some_and(|v| v.as_bytes() == b"true")
                {
                    tracing::info!(
                        stripe.operation = call.operation,
                        "stripe replayed a saved response"
                    );
                }
                return serde_json::from_slice(&body).map_err(|source| StripeError::Decode {
                    operation: call.operation,
                    source,
                });
            }
            let error = serde_json::from_slice::<ErrorEnvelope>(&body)
                .ok()
                .map(|e| e.error);
            let in_flight = status == StatusCode::CONFLICT
                && error
                    .as_ref()
                    .is_some_and(|e| e.code.as_deref() == Some("idempotency_key_in_use"));
            let retryable =
                status == StatusCode::TOO_MANY_REQUESTS || in_flight || status.is_server_error();
            let retryable = should_retry_header(&headers).unwrap_or(retryable);
            if status.is_server_error() || in_flight {
                maybe_applied |= write;
            }
            if !retryable {
                if status.is_server_error() {
                    break Last::Status(status);
                }
                return Err(map_error(status, error, call.context));
            }
            tracing::debug!(
                stripe.operation = call.operation,
                retry.attempt = attempts,
                http.status = status.as_u16(),
                "stripe request will be retried"
            );
            if attempts > inner.retry.max_retries {
                break Last::Status(status);
            }
            wait = retry_after(&headers);
        };
        tracing::warn!(
            stripe.operation = call.operation,
            retry.count = attempts,
            ambiguous = write && maybe_applied,
            "stripe request gave up"
        );
        if write && maybe_applied {
            return Err(StripeError::Ambiguous {
                operation: call.operation,
                attempts,
            });
        }
        Err(match last {
            Last::Status(StatusCode::TOO_MANY_REQUESTS) => StripeError::RateLimited { attempts },
            Last::Status(status) => StripeError::Unavailable {
                attempts,
                status: Some(status.as_u16()),
                source: None,
            },
            Last::Transport(source) => StripeError::Unavailable {
                attempts,
                status: None,
                source: Some(source),
            },
        })
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        for retry in 1..=12 {
            let step = policy
                .backoff_base
                .saturating_mul(1u32 << (retry - 1).min(16))
                .min(policy.backoff_cap);
            let wait = backoff(retry, &policy);
            assert!(wait >= step / 2 && wait <= step, "retry {retry}: {wait:?}");
        }
    }

    #[test]
    fn base_url_keeps_its_path() {
        let mut settings = StripeSettings::new(SecretString::from("sk_test_x"));
        settings.api_base_url = Url::parse("http://127.0.0.1:9/_emulator/stripe").unwrap();
        let client = StripeClient::new(settings).unwrap();
        assert_eq!(
            client
                .url(&["v1", "payment_intents", "pi_1", "capture"])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/_emulator/stripe/v1/payment_intents/pi_1/capture"
        );
    }

    #[test]
    fn ids_that_could_escape_the_path_are_refused() {
        assert!(object_id("pi_123", "id").is_ok());
        for bad in ["", "../x", "pi_1/capture", "pi 1", "pi_1?x=1"] {
            assert!(object_id(bad, "id").is_err(), "{bad}");
        }
    }
}
