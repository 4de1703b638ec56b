//! Access tokens: the configured static tokens, tokens issued by the
//! client-credentials grant (with expiry on the tokio clock), and checks.
//! Tokens and secrets are never logged.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::config::ClientCredentials;
use super::lock;

/// A token issued by the client-credentials grant.
pub(crate) struct IssuedToken {
    pub access_token: String,
    pub scope: String,
    pub expires_in: u64,
}

/// Why the grant was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantError {
    UnsupportedGrantType,
    InvalidClient,
}

/// The token registry of one shop.
pub(crate) struct Tokens {
    static_tokens: HashSet<String>,
    credentials: Option<ClientCredentials>,
    lifetime: Duration,
    scope: String,
    issued: Mutex<HashMap<String, Instant>>,
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Tokens {
    pub(crate) fn new(
        static_tokens: &[String],
        credentials: Option<ClientCredentials>,
        lifetime: Duration,
        scope: String,
    ) -> Self {
        Tokens {
            static_tokens: static_tokens.iter().cloned().collect(),
            credentials,
            lifetime,
            scope,
            issued: Mutex::new(HashMap::new()),
        }
    }

    /// Is this a configured token or an issued, unexpired one?
    pub(crate) fn is_valid(&self, token: &str) -> bool {
        if self.static_tokens.contains(token) {
            return true;
        }
        lock(&self.issued)
            .get(token)
            .is_some_and(|expiry| Instant::now() < *expiry)
    }

    /// The client-credentials grant.
    pub(crate) fn issue(
        &self,
        grant_type: Option<&str>,
        client_id: Option<&str>,
        client_secret: Option<&str>,
    ) -> Result<IssuedToken, GrantError> {
        if grant_type != Some("client_credentials") {
            return Err(GrantError::UnsupportedGrantType);
        }
        let Some(creds) = &self.credentials else {
            return Err(GrantError::InvalidClient);
        };
        let ok = client_id.is_some_and(|id| same(id, &creds.client_id))
            && client_secret.is_some_and(|secret| same(secret, &creds.client_secret));
        if !ok {
            return Err(GrantError::InvalidClient);
        }
        let token = format!("shpat_{}", uuid::Uuid::new_v4().simple());
        let now = Instant::now();
        let mut issued = lock(&self.issued);
        issued.retain(|_, expiry| *expiry > now);
        issued.insert(token.clone(), now + self.lifetime);
        Ok(IssuedToken {
            access_token: token,
            scope: self.scope.clone(),
            expires_in: self.lifetime.as_secs(),
        })
    }
}
