//! The ACP API versions this bridge serves, chosen per request by the
//! `API-Version` header. Owns header parsing and the version errors; knows
//! nothing about the wire shapes of each version (see [`super::wire`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A dated ACP API version served by the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ApiVersion {
    /// The launch version (ChatGPT Instant Checkout): `items`,
    /// `fulfillment_address`, `payment_provider`, token + provider payment.
    #[serde(rename = "2025-09-29")]
    V2025_09_29,
    /// Latest stable: `line_items` with `totals[]`, `fulfillment_details`,
    /// capabilities and payment handlers, mandatory idempotency.
    #[serde(rename = "2026-04-17")]
    V2026_04_17,
}

/// Why the `API-Version` header could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("the API-Version header is required")]
    Missing,
    #[error("API version `{0}` is not supported")]
    Unsupported(String),
}

impl VersionError {
    /// The ACP error code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            VersionError::Missing => "missing_api_version",
            VersionError::Unsupported(_) => "unsupported_api_version",
        }
    }
}

impl ApiVersion {
    /// Every served version, oldest first (the order discovery publishes).
    pub const SUPPORTED: [ApiVersion; 2] = [ApiVersion::V2025_09_29, ApiVersion::V2026_04_17];

    /// The newest served version.
    pub const LATEST: ApiVersion = ApiVersion::V2026_04_17;

    /// Position in [`Self::SUPPORTED`], for tables kept per version.
    pub fn index(self) -> usize {
        match self {
            ApiVersion::V2025_09_29 => 0,
            ApiVersion::V2026_04_17 => 1,
        }
    }

    /// The version as it appears on the wire (`2026-04-17`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V2025_09_29 => "2025-09-29",
            ApiVersion::V2026_04_17 => "2026-04-17",
        }
    }

    /// Parses one exact version string (surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`VersionError::Unsupported`] for anything that is not a served
    /// version, including intermediate releases such as `2026-01-30`.
    pub fn parse(value: &str) -> Result<Self, VersionError> {
        let trimmed = value.trim();
        ApiVersion::SUPPORTED
            .into_iter()
            .find(|v| v.as_str() == trimmed)
            .ok_or_else(|| VersionError::Unsupported(truncate(trimmed)))
    }

    /// Parses the `API-Version` header value, `None` when the header is absent.
    ///
    /// # Errors
    /// [`VersionError::Missing`] for an absent or blank header,
    /// [`VersionError::Unsupported`] for an unknown value.
    pub fn from_header(value: Option<&str>) -> Result<Self, VersionError> {
        match value {
            None => Err(VersionError::Missing),
            Some(v) if v.trim().is_empty() => Err(VersionError::Missing),
            Some(v) => ApiVersion::parse(v),
        }
    }

    /// Whether this version requires an `Idempotency-Key` on every POST.
    pub fn requires_idempotency_key(self) -> bool {
        self >= ApiVersion::V2026_04_17
    }
}

/// Keeps a hostile header from ending up whole in an error body.
fn truncate(value: &str) -> String {
    value.chars().take(40).collect()
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ApiVersion {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApiVersion::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_version_indexes_its_own_slot() {
        for (i, v) in ApiVersion::SUPPORTED.into_iter().enumerate() {
            assert_eq!(v.index(), i, "{v:?}");
        }
    }

    #[test]
    fn served_versions_parse_from_the_header() {
        assert_eq!(
            ApiVersion::from_header(Some("2025-09-29")),
            Ok(ApiVersion::V2025_09_29)
        );
        assert_eq!(
            ApiVersion::from_header(Some(" 2026-04-17 ")),
            Ok(ApiVersion::V2026_04_17)
        );
    }

    #[test]
    fn absent_or_blank_header_is_missing() {
        assert_eq!(ApiVersion::from_header(None), Err(VersionError::Missing));
        assert_eq!(
            ApiVersion::from_header(Some("  ")),
            Err(VersionError::Missing)
        );
        assert_eq!(VersionError::Missing.code(), "missing_api_version");
    }

    #[test]
    fn unserved_versions_are_unsupported() {
        for v in ["2026-01-30", "2025-12-12", "latest", "2026-4-17"] {
            let err = ApiVersion::from_header(Some(v)).unwrap_err();
            assert_eq!(err, VersionError::Unsupported(v.to_owned()));
            assert_eq!(err.code(), "unsupported_api_version");
        }
        let long = "9".repeat(500);
        match ApiVersion::parse(&long) {
            Err(VersionError::Unsupported(echo)) => assert_eq!(echo.len(), 40),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn supported_is_ordered_oldest_first_and_ends_with_latest() {
        let s = ApiVersion::SUPPORTED;
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s.last(), Some(&ApiVersion::LATEST));
        assert!(s.iter().all(|v| v.as_str().parse::<ApiVersion>() == Ok(*v)));
    }

    #[test]
    fn only_the_newer_version_requires_idempotency_keys() {
        assert!(!ApiVersion::V2025_09_29.requires_idempotency_key());
        assert!(ApiVersion::V2026_04_17.requires_idempotency_key());
    }

    #[test]
    fn serialises_as_the_wire_date() {
        assert_eq!(
            serde_json::to_value(ApiVersion::V2025_09_29).unwrap(),
            serde_json::json!("2025-09-29")
        );
    }
}
