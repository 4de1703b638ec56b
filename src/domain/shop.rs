//! Shop identity and the shop-level facts a feed needs (name, domain, policies).

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use super::Currency;

/// The operator's name for a configured shop: `[a-z0-9_-]{1,64}`. It appears
/// in URLs (`/feeds/{shop}/…`), store keys and metric labels, so it is kept
/// small and safe.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShopId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shop id `{0}` must be 1-64 characters of a-z, 0-9, `-` or `_`")]
pub struct ShopIdError(pub String);

impl ShopId {
    /// # Errors
    /// When the id is empty, too long or has characters outside `[a-z0-9_-]`.
    pub fn parse(id: &str) -> Result<Self, ShopIdError> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(ShopId(id.to_owned()))
        } else {
            Err(ShopIdError(id.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ShopId {
    type Error = ShopIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ShopId::parse(&value)
    }
}

impl From<ShopId> for String {
    fn from(value: ShopId) -> Self {
        value.0
    }
}

impl fmt::Display for ShopId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ShopId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShopId({})", self.0)
    }
}

/// Links to the shop's public policies. Each may be overridden in config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopPolicies {
    pub refund: Option<Url>,
    pub privacy: Option<Url>,
    pub terms: Option<Url>,
    pub shipping: Option<Url>,
}

/// What the feed needs to know about the shop itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopFacts {
    pub name: String,
    /// The storefront's public base URL (primary domain), e.g. `https://shop.example`.
    pub url: Url,
    pub currency: Currency,
    /// ISO 3166-1 alpha-2 country the shop is based in.
    pub country: Option<String>,
    /// ISO 3166-1 alpha-2 countries the shop ships to.
    pub ships_to: Vec<String>,
    pub policies: ShopPolicies,
}
