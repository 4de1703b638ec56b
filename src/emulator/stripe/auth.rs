//! Secret-key authentication: `Authorization: Bearer sk_…` or HTTP Basic
//! with the key as user name, Stripe's 401 messages (the key redacted the
//! way Stripe prints it). Keys are never logged.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use base64::Engine;

use super::config::ApiKey;
use super::error::ApiError;

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    pub account: String,
    pub livemode: bool,
}

/// The accepted keys.
pub(crate) struct Keys {
    by_secret: HashMap<String, String>,
}

const NO_KEY: &str = "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.";

/// `sk_test_****************abcd`: the mode prefix and the last four
/// characters stay, the rest is starred.
pub(crate) fn redact_key(key: &str) -> String {
    let prefix_len = [
        "sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_",
    ]
    .iter()
    .find(|p| key.starts_with(**p))
    .map_or(0, |p| p.len());
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= prefix_len + 4 {
        return format!(
            "{}{}",
            &key[..prefix_len],
            "*".repeat(chars.len() - prefix_len)
        );
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!(
        "{}{}{tail}",
        &key[..prefix_len],
        "*".repeat(chars.len() - prefix_len - 4)
    )
}

fn presented_key(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
        return Some(user.to_owned());
    }
    None
}

impl Keys {
    pub(crate) fn new(keys: &[ApiKey]) -> Self {
        Keys {
            by_secret: keys
                .iter()
                .map(|k| (k.secret.clone(), k.account.clone()))
                .collect(),
        }
    }

    /// The caller, or Stripe's 401.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let Some(key) = presented_key(headers).filter(|k| !k.is_empty()) else {
            return Err(ApiError::unauthorized(NO_KEY));
        };
        match self.by_secret.get(&key) {
            Some(account) if key.starts_with("sk_") => Ok(Caller {
                account: account.clone(),
                livemode: key.starts_with("sk_live_"),
            }),
            _ => Err(ApiError::unauthorized(format!(
                "Invalid API Key provided: {}",
                redact_key(&key)
            ))),
        }
    }
}
