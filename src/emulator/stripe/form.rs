//! Form-encoded parameters with bracket keys (`usage_limits[max_amount]=…`,
//! `metadata[key]=…`, `expand[]=…`) and Stripe's parameter validation
//! errors (`parameter_unknown`, `parameter_missing`,
//! `parameter_invalid_integer`, `parameter_invalid_empty`, metadata limits).

use std::collections::BTreeMap;

use super::error::ApiError;

/// Metadata limits Stripe documents: 50 keys, keys up to 40 characters
/// (no square brackets), values up to 500 characters.
const METADATA_MAX_KEYS: usize = 50;
const METADATA_MAX_KEY_LEN: usize = 40;
const METADATA_MAX_VALUE_LEN: usize = 500;

/// What an endpoint accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Allowed {
    /// One exact key, e.g. `amount` or `usage_limits[currency]`.
    Key(&'static str),
    /// A string map, e.g. `metadata` accepts `metadata[anything]`.
    Map(&'static str),
    /// A list, e.g. `expand` accepts `expand[]` and `expand[0]`.
    List(&'static str),
}

/// The decoded parameters of one request, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

fn inner_of<'k>(key: &'k str, name: &str) -> Option<&'k str> {
    key.strip_prefix(name)?.strip_prefix('[')?.strip_suffix(']')
}

impl Params {
    /// Decodes `application/x-www-form-urlencoded` bytes (also a query string).
    pub fn parse(raw: &[u8]) -> Self {
        Params {
            pairs: url::form_urlencoded::parse(raw)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// The parameters sorted, for comparing two requests.
    pub fn fingerprint(&self) -> Vec<(String, String)> {
        let mut pairs = self.pairs.clone();
        pairs.sort();
        pairs
    }

    /// Rejects the first key no entry of `allowed` accepts.
    pub fn check_known(&self, allowed: &[Allowed]) -> Result<(), ApiError> {
        for (key, _) in &self.pairs {
            let known = allowed.iter().any(|a| match a {
                Allowed::Key(k) => key == k,
                Allowed::Map(name) => {
                    key == name || inner_of(key, name).is_some_and(|inner| !inner.contains('['))
                }
                Allowed::List(name) => inner_of(key, name).is_some_and(|inner| {
                    inner.is_empty() || inner.bytes().all(|b| b.is_ascii_digit())
                }),
            });
            if !known {
                return Err(
                    ApiError::invalid(format!("Received unknown parameter: {key}"))
                        .code("parameter_unknown")
                        .param(key),
                );
            }
        }
        Ok(())
    }

    /// The last value sent for `key`, empty or not.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// An optional string; an empty value means "unset" as in Stripe.
    pub fn opt_str(&self, key: &str) -> Option<&str> {
        self.raw(key).filter(|v| !v.is_empty())
    }

    /// A required, non-empty string.
    pub fn required_str(&self, key: &str) -> Result<&str, ApiError> {
        match self.raw(key) {
            None => Err(missing(key)),
            Some("") => Err(empty(key)),
            Some(v) => Ok(v),
        }
    }

    /// An optional integer.
    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.opt_str(key) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid(format!("Invalid integer: {v}"))
                    .code("parameter_invalid_integer")
                    .param(key)
            }),
        }
    }

    /// A required integer.
    pub fn required_i64(&self, key: &str) -> Result<i64, ApiError> {
        self.required_str(key)?;
        self.opt_i64(key)?.ok_or_else(|| missing(key))
    }

    /// An optional boolean (`true`/`false`).
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.opt_str(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(format!("Invalid boolean: {v}")).param(key)),
        }
    }

    /// An optional value from a closed set.
    pub fn opt_enum(
        &self,
        key: &str,
        values: &[&'static str],
    ) -> Result<Option<&'static str>, ApiError> {
        let Some(v) = self.opt_str(key) else {
            return Ok(None);
        };
        values
            .iter()
            .find(|x| **x == v)
            .copied()
            .map(Some)
            .ok_or_else(|| {
                let listed = match values.split_last() {
                    Some((last, rest)) if !rest.is_empty() => {
                        format!("{}, or {last}", rest.join(", "))
                    }
                    _ => values.join(", "),
                };
                ApiError::invalid(format!("Invalid {key}: must be one of {listed}")).param(key)
            })
    }

    /// A string map such as `metadata[…]`, with Stripe's metadata limits.
    /// Empty values unset a key, so they are left out.
    pub fn metadata(&self, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
        let mut map = BTreeMap::new();
        for (key, value) in &self.pairs {
            let Some(inner) = inner_of(key, name) else {
                continue;
            };
            if inner.is_empty() || inner.chars().count() > METADATA_MAX_KEY_LEN {
                return Err(ApiError::invalid(format!(
                    "Metadata keys must be between 1 and {METADATA_MAX_KEY_LEN} characters long."
                ))
                .param(key));
            }
            if value.chars().count() > METADATA_MAX_VALUE_LEN {
                return Err(ApiError::invalid(format!(
                    "Metadata values can have up to {METADATA_MAX_VALUE_LEN} characters, but you passed in a value that is {} characters.",
                    value.chars().count()
                ))
                .param(key));
            }
            if value.is_empty() {
                map.remove(inner);
            } else {
                map.insert(inner.to_owned(), value.clone());
            }
        }
        if map.len() > METADATA_MAX_KEYS {
            return Err(ApiError::invalid(format!(
                "You can specify up to {METADATA_MAX_KEYS} keys in metadata."
            ))
            .param(name));
        }
        Ok(map)
    }
}

/// `parameter_missing` for `key`.
pub(crate) fn missing(key: &str) -> ApiError {
    ApiError::invalid(format!("Missing required param: {key}."))
        .code("parameter_missing")
        .param(key)
}

/// `parameter_invalid_empty` for `key`.
pub(crate) fn empty(key: &str) -> ApiError {
    ApiError::invalid(format!(
        "You passed an empty string for '{key}'. We assume empty values are an attempt to unset a parameter; however '{key}' cannot be unset. You should remove '{key}' from your request or supply a non-empty value."
    ))
    .code("parameter_invalid_empty")
    .param(key)
}
