//! Admin API credentials: a static access token or the client-credentials
//! grant, with a cached, proactively renewed token.
//!
//! Tokens only ever live in [`SecretString`]s; nothing here logs or formats
//! them. Renewal is single-flight: concurrent callers wait on one request.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::error::ShopifyError;
use crate::metrics::TOKEN_REQUESTS_TOTAL;

/// How the client authenticates to the Admin API.
#[derive(Clone)]
pub enum ShopifyAuth {
    /// A non-expiring Admin API token (legacy admin-created custom apps).
    AccessToken(SecretString),
    /// The client-credentials grant of a Dev Dashboard app installed on the
    /// merchant's own store; tokens last about 24 hours and are renewed.
    ClientCredentials {
        /// The app's client id (not secret).
        client_id: String,
        /// The app's client secret.
        client_secret: SecretString,
    },
}

impl fmt::Debug for ShopifyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShopifyAuth::AccessToken(_) => f.write_str("AccessToken([REDACTED])"),
            ShopifyAuth::ClientCredentials { client_id, .. } => f
                .debug_struct("ClientCredentials")
                .field("client_id", client_id)
                .field("client_secret", &"[REDACTED]")
                .finish(),
        }
    }
}

/// Share of a token's lifetime after which it is renewed proactively.
const RENEW_AT_PERCENT: u64 = 90;
/// Lifetime assumed when the token response has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// A token handed to one request, with the generation it came from so a 401
/// only invalidates the token that was actually rejected.
#[derive(Clone)]
pub(crate) struct Token {
    pub secret: SecretString,
    generation: u64,
}

struct Cached {
    secret: SecretString,
    renew_at: Instant,
    generation: u64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

/// Hands out the current token, fetching or renewing it when needed.
pub(crate) struct TokenSource {
    auth: ShopifyAuth,
    token_url: Url,
    cache: Mutex<Option<Cached>>,
    generations: std::sync::atomic::AtomicU64,
}

impl TokenSource {
    /// `token_url` is `{base}/admin/oauth/access_token`.
    pub fn new(auth: ShopifyAuth, token_url: Url) -> Self {
        TokenSource {
            auth,
            token_url,
            cache: Mutex::new(None),
            generations: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// The token to send now.
    ///
    /// # Errors
    /// The client-credentials grant failed (refused, HTTP error, transport).
    pub async fn current(&self, http: &reqwest::Client) -> Result<Token, ShopifyError> {
        let (client_id, client_secret) = match &self.auth {
            ShopifyAuth::AccessToken(secret) => {
                return Ok(Token {
                    secret: secret.clone(),
                    generation: 0,
                });
            }
            ShopifyAuth::ClientCredentials {
                client_id,
                client_secret,
            } => (client_id, client_secret),
        };
        // Held across the request on purpose: concurrent callers wait for the
        // one renewal instead of each asking for a token.
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && Instant::now() < cached.renew_at
        {
            return Ok(Token {
                secret: cached.secret.clone(),
                generation: cached.generation,
            });
        }
        let fresh = self.request(http, client_id, client_secret).await;
        metrics::counter!(
            TOKEN_REQUESTS_TOTAL,
            "outcome" => if fresh.is_ok() { "ok" } else { "error" }
        )
        .increment(1);
        let (secret, lifetime) = fresh?;
        let generation = self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let renew_after = lifetime.mul_f64(RENEW_AT_PERCENT as f64 / 100.0);
        tracing::info!(
            token.lifetime_secs = lifetime.as_secs(),
            "shopify access token issued"
        );
        *cache = Some(Cached {
            secret: secret.clone(),
            renew_at: Instant::now() + renew_after,
            generation,
        });
        Ok(Token { secret, generation })
    }

    /// Drops `rejected` from the cache after a 401. Returns whether asking
    /// again can help (only the client-credentials grant can renew).
    pub async fn invalidate(&self, rejected: &Token) -> bool {
        if matches!(self.auth, ShopifyAuth::AccessToken(_)) {
            return false;
        }
        let mut cache = self.cache.lock().await;
        if cache
            .as_ref()
            .is_some_and(|c| c.generation == rejected.generation)
        {
            *cache = None;
        }
        true
    }

    async fn request(
        &self,
        http: &reqwest::Client,
        client_id: &str,
        client_secret: &SecretString,
    ) -> Result<(SecretString, Duration), ShopifyError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret.expose_secret()),
        ];
        let response = http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| ShopifyError::Transport {
                source: e.without_url(),
            })?;
        let status = response.status();
        if matches!(status.as_u16(), 400 | 401 | 403) {
            tracing::warn!(
                http.status = status.as_u16(),
                "shopify token request refused"
            );
            return Err(ShopifyError::Unauthorized);
        }
        if !status.is_success() {
            return Err(ShopifyError::TokenRequest {
                status: status.as_u16(),
            });
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ShopifyError::Transport {
                source: e.without_url(),
            })?;
        let body: TokenResponse =
            serde_json::from_slice(&bytes).map_err(|source| ShopifyError::Decode {
                operation: "access_token",
                source,
            })?;
        let lifetime = body
            .expires_in
            .filter(|s| *s > 0)
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        Ok((SecretString::from(body.access_token), lifetime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_secrets() {
        let token = ShopifyAuth::AccessToken(SecretString::from("shpat_secret"));
        let creds = ShopifyAuth::ClientCredentials {
            client_id: "abc".into(),
            client_secret: SecretString::from("shpss_secret"),
        };
        let printed = format!("{token:?} {creds:?}");
        assert!(!printed.contains("secret\""), "{printed}");
        assert!(!printed.contains("shpat_secret") && !printed.contains("shpss_secret"));
        assert!(printed.contains("abc"));
    }
}
