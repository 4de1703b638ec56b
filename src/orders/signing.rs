//! Signatures of outgoing order webhooks (ACP 2026-04-17):
//! `Merchant-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>." + raw body)>`, sent with `Request-Id` and an RFC 3339
//! `Timestamp`. The same format is sent to receivers of every version (the
//! launch version leaves the format open).
//!
//! [`verify`] is the receiver's side (tests and test receivers use it): it
//! parses the header, rejects timestamps outside the tolerance and compares
//! the MAC in constant time.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// Header carrying the signature.
pub const MERCHANT_SIGNATURE: &str = "Merchant-Signature";
/// Header carrying the event's request id.
pub const REQUEST_ID: &str = "Request-Id";
/// Header carrying the signing time (RFC 3339).
pub const TIMESTAMP: &str = "Timestamp";
/// The tolerance ACP recommends to receivers.
pub const DEFAULT_TOLERANCE: std::time::Duration = std::time::Duration::from_secs(300);

/// The headers of one signed delivery. `Debug` hides nothing secret: the
/// signature is a MAC, not the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub merchant_signature: String,
    pub request_id: String,
    pub timestamp: String,
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Merchant-Signature header is missing")]
    Missing,
    #[error("Merchant-Signature must be t=<timestamp>,v1=<64 hex>")]
    Malformed,
    #[error("the signature timestamp is outside the allowed window")]
    Stale,
    #[error("the signature does not match the body")]
    Mismatch,
}

fn mac(secret: &SecretString, t: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Merchant-Signature` value for `body` signed at unix time `t`.
pub fn signature_header(secret: &SecretString, t: i64, body: &[u8]) -> String {
    let digest = mac(secret, t, body).finalize().into_bytes();
    format!("t={t},v1={}", crate::store::hex(&digest))
}

/// Signs `body` at `at` and returns the headers to send with it.
pub fn sign(
    secret: &SecretString,
    body: &[u8],
    at: DateTime<Utc>,
    request_id: &str,
) -> SignedHeaders {
    SignedHeaders {
        merchant_signature: signature_header(secret, at.timestamp(), body),
        request_id: request_id.to_owned(),
        timestamp: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// Checks a `Merchant-Signature` header against `body`: well formed, its
/// timestamp within `tolerance` of `now` (either side), and one of its
/// `v1` MACs matching (compared in constant time).
///
/// # Errors
/// Which of those failed.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &SecretString,
    now: DateTime<Utc>,
    tolerance: std::time::Duration,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                let parsed: i64 = value.parse().map_err(|_| SignatureError::Malformed)?;
                if t.replace(parsed).is_some() {
                    return Err(SignatureError::Malformed);
                }
            }
            "v1" => candidates.push(decode_hex(value).ok_or(SignatureError::Malformed)?),
            // Other schemes may be added by later versions; ignored.
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let skew = now.timestamp().abs_diff(t);
    if skew > tolerance.as_secs() {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, t, body);
    if candidates
        .iter()
        .any(|c| expected.clone().verify_slice(c).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Exactly 64 hex digits (a SHA-256 MAC) as bytes.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("whsec_test_secret")
    }

    fn at(t: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(t, 0).unwrap()
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body_in_hex() {
        // The form: t=<unix seconds>,v1=<64 lower-case hex>.
        let header = signature_header(&secret(), 1_709_123_456, br#"{"a":1}"#);
        let (t, v1) = header.split_once(',').unwrap();
        assert_eq!(t, "t=1709123456");
        let v1 = v1.strip_prefix("v1=").unwrap();
        assert_eq!(v1.len(), 64);
        assert!(
            v1.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        // RFC 4231 test case 2 pins the MAC construction itself.
        let key = SecretString::from("Jefe");
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            crate::store::hex(&m.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // And ours is that MAC over "<t>." + body.
        let ours = signature_header(&key, 7, b"x");
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        m.update(b"7.x");
        assert_eq!(
            ours,
            format!("t=7,v1={}", crate::store::hex(&m.finalize().into_bytes()))
        );
    }

    #[test]
    fn signed_bodies_verify_and_anything_else_is_refused() {
        let body = br#"{"type":"order_create"}"#;
        let now = at(1_800_000_000);
        let signed = sign(&secret(), body, now, "req_1");
        assert_eq!(signed.timestamp, "2027-01-15T08:00:00Z");
        assert_eq!(signed.request_id, "req_1");
        let ok = |header: &str, body: &[u8], now| {
            verify(Some(header), body, &secret(), now, DEFAULT_TOLERANCE)
        };
        assert_eq!(ok(&signed.merchant_signature, body, now), Ok(()));
        // Within the window on either side.
        assert_eq!(
            ok(&signed.merchant_signature, body, at(1_800_000_300)),
            Ok(())
        );
        assert_eq!(
            ok(&signed.merchant_signature, body, at(1_799_999_700)),
            Ok(())
        );
        assert_eq!(
            ok(&signed.merchant_signature, body, at(1_800_000_301)),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            ok(
                &signed.merchant_signature,
                br#"{"type":"order_update"}"#,
                now
            ),
            Err(SignatureError::Mismatch)
        );
        let other = SecretString::from("another secret");
        assert_eq!(
            verify(
                Some(&signed.merchant_signature),
                body,
                &other,
                now,
                DEFAULT_TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is part of what is signed.
        let moved = signed
            .merchant_signature
            .replace("t=1800000000", "t=1800000001");
        assert_eq!(ok(&moved, body, now), Err(SignatureError::Mismatch));
        assert_eq!(
            verify(None, body, &secret(), now, DEFAULT_TOLERANCE),
            Err(SignatureError::Missing)
        );
        for malformed in ["", "t=1800000000", "v1=abcd", "t=x,v1=00", "garbage"] {
            assert_eq!(
                ok(malformed, body, now),
                Err(SignatureError::Malformed),
                "{malformed}"
            );
        }
        // A rotated secret: any matching v1 is enough.
        let both = format!(
            "{},v1={}",
            signature_header(&other, now.timestamp(), body),
            signed.merchant_signature.split_once("v1=").unwrap().1
        );
        assert_eq!(ok(&both, body, now), Ok(()));
    }
}
