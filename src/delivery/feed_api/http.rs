//! One request to the feed API host with the retry policy: 429 (waiting
//! for `Retry-After`), 5xx, timeouts and connection failures are retried
//! with capped, jittered exponential back-off up to `max_retries` times;
//! every other answer ends the request. Every request this client makes
//! may be repeated safely: reads and upserts by id are idempotent, and
//! `POST /feeds` carries one Idempotency-Key across its attempts.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;

use super::FeedApiClient;
use super::error::{ErrorBody, FeedApiError};

pub(crate) const CREATE_FEED: &str = "POST /feeds";
pub(crate) const GET_PRODUCTS: &str = "GET /feeds/{id}/products";
pub(crate) const PATCH_PRODUCTS: &str = "PATCH /feeds/{id}/products";

/// One request as the retry loop repeats it.
pub(crate) struct Call<'a> {
    pub method: Method,
    /// Route template, for errors and logs.
    pub route: &'static str,
    /// Path relative to the base URL (`feeds/{id}/products`).
    pub path: String,
    pub body: Option<Bytes>,
    pub idempotency_key: Option<&'a str>,
    /// The feed the path names, for [`FeedApiError::FeedNotFound`].
    pub feed_id: Option<&'a str>,
}

/// Exponential back-off with "equal jitter": half the step plus a random
/// share of the other half, so waits grow but retries do not align.
pub(crate) fn backoff(retry: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1).min(16))
        .unwrap_or(u32::MAX);
    let step = base.saturating_mul(factor).min(cap);
    let half = step / 2;
    let jitter_ms = fastrand::u64(0..=u64::try_from(half.as_millis()).unwrap_or(u64::MAX));
    half + Duration::from_millis(jitter_ms)
}

/// `Retry-After` in seconds (fractions allowed), clamped to `cap`.
pub(crate) fn retry_after(headers: &HeaderMap, cap: Duration) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = value.parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs.min(cap.as_secs_f64())))
}

/// The server's error body, or its first bytes as the message.
fn error_body(bytes: &[u8]) -> ErrorBody {
    serde_json::from_slice::<ErrorBody>(bytes)
        .ok()
        .filter(|b| !b.message.is_empty() || !b.code.is_empty())
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(bytes);
            ErrorBody {
                message: text.chars().take(300).collect(),
                ..ErrorBody::default()
            }
        })
}

/// What one attempt ended with.
enum Attempt {
    Done(Bytes),
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
    Fatal(FeedApiError),
}

impl FeedApiClient {
    /// Sends `call`, retrying transient failures; returns the 2xx body.
    /// `retries` counts the repeats.
    pub(crate) async fn execute(
        &self,
        call: &Call<'_>,
        retries: &mut u64,
    ) -> Result<Bytes, FeedApiError> {
        let attempts = self.settings.max_retries.saturating_add(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.attempt(call).await {
                Attempt::Done(body) => return Ok(body),
                Attempt::Fatal(error) => return Err(error),
                Attempt::Retry { reason, wait } => {
                    if attempt == attempts {
                        last = reason;
                        break;
                    }
                    let wait = wait.unwrap_or_else(|| {
                        backoff(
                            attempt,
                            self.settings.backoff_base,
                            self.settings.backoff_cap,
                        )
                    });
                    tracing::warn!(
                        http.route = call.route,
                        attempt,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        reason = %reason,
                        "feed api request failed; retrying"
                    );
                    *retries += 1;
                    tokio::time::sleep(wait).await;
                    last = reason;
                }
            }
        }
        Err(FeedApiError::GaveUp {
            route: call.route,
            attempts,
            last,
        })
    }

    async fn attempt(&self, call: &Call<'_>) -> Attempt {
        let url = match self.base_url.join(&call.path) {
            Ok(url) => url,
            Err(e) => {
                return Attempt::Fatal(FeedApiError::InvalidSettings {
                    reason: format!("cannot build the URL of {}: {e}", call.route),
                });
            }
        };
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .header(
                AUTHORIZATION,
                format!("Bearer {}", self.settings.api_key.expose_secret()),
            )
            .header("API-Version", &self.settings.api_version)
            .header(ACCEPT, "application/json");
        if let Some(key) = call.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_builder() => {
                return Attempt::Fatal(FeedApiError::Transport {
                    route: call.route,
                    source: e,
                });
            }
            Err(e) => {
                return Attempt::Retry {
                    reason: transport_reason(&e),
                    wait: None,
                };
            }
        };
        let status = response.status();
        let wait = retry_after(response.headers(), self.settings.retry_after_cap);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => {
                return Attempt::Retry {
                    reason: format!("HTTP {status}, body lost: {}", transport_reason(&e)),
                    wait: None,
                };
            }
        };
        if status.is_success() {
            return Attempt::Done(body);
        }
        let error = error_body(&body);
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Attempt::Retry {
                reason: format!("HTTP {}: {error}", status.as_u16()),
                wait: if status == StatusCode::TOO_MANY_REQUESTS || wait.is_some() {
                    Some(wait.unwrap_or(self.settings.backoff_base))
                } else {
                    None
                },
            };
        }
        Attempt::Fatal(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => FeedApiError::Unauthorized {
                status: status.as_u16(),
                message: error.message,
            },
            StatusCode::NOT_FOUND if call.feed_id.is_some() && error.code == "feed_not_found" => {
                FeedApiError::FeedNotFound {
                    feed_id: call.feed_id.unwrap_or_default().to_owned(),
                    message: error.message,
                }
            }
            _ => FeedApiError::Rejected {
                route: call.route,
                status: status.as_u16(),
                body: Box::new(error),
            },
        })
    }
}

/// A transport failure in words, with its causes (never the URL's
/// credentials: the key travels in a header, not the URL).
fn transport_reason(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    let mut text = format!("{kind}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let (base, cap) = (Duration::from_millis(100), Duration::from_secs(1));
        for retry in 1..20 {
            let wait = backoff(retry, base, cap);
            let step = base.saturating_mul(1 << (retry - 1).min(16)).min(cap);
            assert!(wait >= step / 2 && wait <= step, "{retry}: {wait:?}");
        }
    }

    #[test]
    fn retry_after_accepts_seconds_and_clamps() {
        let cap = Duration::from_secs(60);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers, cap), Some(Duration::from_secs(2)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&headers, cap), Some(Duration::from_millis(500)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(retry_after(&headers, cap), Some(cap));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, cap), None);
    }

    #[test]
    fn error_bodies_are_read_leniently() {
        let body = error_body(
            br#"{"type":"invalid_request","code":"invalid_product_payload","message":"bad","param":"$.products[0]","extra":1}"#,
        );
        assert_eq!(body.code, "invalid_product_payload");
        assert_eq!(
            body.to_string(),
            "invalid_product_payload at $.products[0]: bad"
        );
        let text = error_body(b"<html>Bad Gateway</html>");
        assert_eq!(text.message, "<html>Bad Gateway</html>");
    }
}
