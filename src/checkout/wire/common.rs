//! Pieces both wire versions share: JSONPath building, body decoding with a
//! precise `param` on every error, `null`-vs-absent fields, and the address,
//! quantity and money conversions whose shapes did not change between
//! versions.

use std::fmt::{self, Write as _};
use std::num::NonZeroU32;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Number, Value, json};

use crate::checkout::error::AcpError;
use crate::checkout::model::{CancelReason, IntentTrace, Patch, RequestedQuantity, Totals};
use crate::domain::{CountryCode, Currency, PostalAddress};

/// An RFC 9535 JSONPath into a request body, built segment by segment:
/// `JsonPath::root().key("line_items").index(0).key("quantity")` is
/// `$.line_items[0].quantity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath(String);

impl JsonPath {
    pub fn root() -> Self {
        JsonPath("$".to_owned())
    }

    /// A member: shorthand `.name` for plain names, `['…']` otherwise.
    #[must_use]
    pub fn key(&self, name: &str) -> Self {
        let mut out = self.0.clone();
        let shorthand = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if shorthand {
            out.push('.');
            out.push_str(name);
        } else {
            out.push_str("['");
            for c in name.chars() {
                match c {
                    '\'' => out.push_str("\\'"),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => {
                        let _ = write!(out, "\\u{:04x}", c as u32);
                    }
                    c => out.push(c),
                }
            }
            out.push_str("']");
        }
        JsonPath(out)
    }

    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        JsonPath(format!("{}[{index}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<JsonPath> for String {
    fn from(value: JsonPath) -> Self {
        value.0
    }
}

/// The path serde was at when it failed.
fn path_of(path: &serde_path_to_error::Path) -> JsonPath {
    use serde_path_to_error::Segment;
    path.iter()
        .fold(JsonPath::root(), |acc, segment| match segment {
            Segment::Seq { index } => acc.index(*index),
            Segment::Map { key } => acc.key(key),
            Segment::Enum { variant } => acc.key(variant),
            Segment::Unknown => acc,
        })
}

/// serde_json appends ` at line L column C`; the JSONPath says more.
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    }
}

/// Decodes a request body into a wire struct. Every failure is a 400 whose
/// `param` points at the offending field: `missing_field` for absent
/// required keys, `invalid_field` for wrong types, `invalid_json` for bytes
/// that are not one JSON value.
///
/// # Errors
/// As above.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, AcpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AcpError::invalid_json("request body is empty"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = path_of(err.path());
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return AcpError::invalid_json(format!("request body is not valid JSON: {inner}"));
        }
        let message = strip_location(&inner.to_string()).to_owned();
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            return AcpError::missing_field(path.key(field));
        }
        AcpError::invalid_field(path.clone(), format!("{path}: {message}"))
    })?;
    de.end()
        .map_err(|e| AcpError::invalid_json(format!("trailing data after the JSON value: {e}")))?;
    Ok(value)
}

/// Whether a body carries nothing (cancel may be sent without one).
pub fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// `deserialize_with` for [`Patch`] fields: `null` clears, a value sets. Use
/// with `#[serde(default)]` so an absent key stays [`Patch::Keep`].
pub fn patch<'de, D, T>(deserializer: D) -> Result<Patch<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(match Option::<T>::deserialize(deserializer)? {
        None => Patch::Clear,
        Some(value) => Patch::Set(value),
    })
}

/// Converts a patched wire value, failing like the conversion does.
pub fn convert_patch<W, M>(
    patch: Patch<W>,
    convert: impl FnOnce(W) -> Result<M, AcpError>,
) -> Result<Patch<M>, AcpError> {
    Ok(match patch {
        Patch::Keep => Patch::Keep,
        Patch::Clear => Patch::Clear,
        Patch::Set(w) => Patch::Set(convert(w)?),
    })
}

/// The address object, the same in both versions (2026-04-17 adds `company`).
#[derive(Deserialize)]
pub struct WireAddress {
    pub name: String,
    pub line_one: String,
    pub line_two: Option<String>,
    pub city: String,
    pub state: String,
    pub country: String,
    pub postal_code: String,
    pub company: Option<String>,
}

fn country(code: &str, at: &JsonPath) -> Result<CountryCode, AcpError> {
    CountryCode::parse(code).map_err(|_| {
        AcpError::invalid_field(
            at.key("country"),
            format!(
                "{}: must be an ISO 3166-1 alpha-2 country code such as US",
                at.key("country")
            ),
        )
    })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl WireAddress {
    /// Checks the country and builds the domain address; `at` is the path of
    /// this address object.
    ///
    /// # Errors
    /// `invalid_field` at `….country` for a country that is not two letters.
    pub fn into_domain(
        self,
        at: &JsonPath,
        phone_number: Option<String>,
    ) -> Result<PostalAddress, AcpError> {
        Ok(PostalAddress {
            country: country(&self.country, at)?,
            name: self.name,
            company: non_empty(self.company),
            line_one: self.line_one,
            line_two: non_empty(self.line_two),
            city: self.city,
            state: self.state,
            postal_code: self.postal_code,
            phone_number,
        })
    }
}

/// A billing address. Agents may hold partial billing data, so only the
/// country is required; missing lines become empty strings.
#[derive(Deserialize)]
pub struct WireBillingAddress {
    pub name: Option<String>,
    pub line_one: Option<String>,
    pub line_two: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: String,
    pub postal_code: Option<String>,
    pub company: Option<String>,
}

impl WireBillingAddress {
    /// # Errors
    /// `invalid_field` at `….country` for a country that is not two letters.
    pub fn into_domain(self, at: &JsonPath) -> Result<PostalAddress, AcpError> {
        Ok(PostalAddress {
            country: country(&self.country, at)?,
            name: self.name.unwrap_or_default(),
            company: non_empty(self.company),
            line_one: self.line_one.unwrap_or_default(),
            line_two: non_empty(self.line_two),
            city: self.city.unwrap_or_default(),
            state: self.state.unwrap_or_default(),
            postal_code: self.postal_code.unwrap_or_default(),
            phone_number: None,
        })
    }
}

/// Checks a requested quantity: at least 1, at most `u32::MAX`, and whole
/// unless `allow_fraction` (2025-09-29 only).
///
/// # Errors
/// `invalid_field` at `at` otherwise.
pub fn quantity(
    number: &Number,
    at: &JsonPath,
    allow_fraction: bool,
) -> Result<RequestedQuantity, AcpError> {
    let invalid = |why: &str| AcpError::invalid_field(at.clone(), format!("{at}: {why}"));
    if let Some(n) = number.as_u64() {
        return u32::try_from(n)
            .ok()
            .and_then(NonZeroU32::new)
            .map(RequestedQuantity::Units)
            .ok_or_else(|| {
                if n == 0 {
                    invalid("quantity must be at least 1")
                } else {
                    invalid("quantity is too large")
                }
            });
    }
    if number.is_i64() {
        return Err(invalid("quantity must be at least 1"));
    }
    let value = number.as_f64().unwrap_or(f64::NAN);
    if !value.is_finite() || value < 1.0 {
        return Err(invalid("quantity must be at least 1"));
    }
    if value > f64::from(u32::MAX) {
        return Err(invalid("quantity is too large"));
    }
    if value.fract() == 0.0 {
        // Exact: a whole f64 within u32 range converts without loss.
        let whole = value as u32;
        return NonZeroU32::new(whole)
            .map(RequestedQuantity::Units)
            .ok_or_else(|| invalid("quantity must be at least 1"));
    }
    if allow_fraction {
        Ok(RequestedQuantity::Fractional(number.clone()))
    } else {
        Err(invalid("quantity must be a whole number"))
    }
}

/// Parses a currency code sent by the agent (either case).
///
/// # Errors
/// `invalid_field` at `at` for anything but three letters.
pub fn currency(code: &str, at: &JsonPath) -> Result<Currency, AcpError> {
    Currency::parse(code).map_err(|_| {
        AcpError::invalid_field(
            at.clone(),
            format!("{at}: must be an ISO 4217 currency code such as usd"),
        )
    })
}

/// The cancel request's `intent_trace` (2026-04-17; parsed leniently from
/// 2025-09-29 bodies too).
#[derive(Deserialize)]
pub struct WireIntentTrace {
    pub reason_code: String,
    pub trace_summary: Option<String>,
    #[serde(default)]
    pub metadata: serde_json::Map<String, Value>,
}

/// Longest `trace_summary` the spec allows.
const TRACE_SUMMARY_MAX_CHARS: usize = 500;

impl WireIntentTrace {
    /// Unknown reason codes become `other`; an over-long summary is cut to
    /// 500 characters rather than failing the cancel.
    pub fn into_model(self) -> IntentTrace {
        IntentTrace {
            reason: CancelReason::parse(&self.reason_code),
            summary: self
                .trace_summary
                .map(|s| s.chars().take(TRACE_SUMMARY_MAX_CHARS).collect()),
            metadata: self.metadata,
        }
    }
}

/// Cancel bodies in both versions: optional, with an optional intent trace.
#[derive(Deserialize)]
pub struct WireCancel {
    pub intent_trace: Option<WireIntentTrace>,
}

/// An RFC 3339 UTC timestamp as ACP prints it (`2026-04-17T10:30:00Z`).
pub fn timestamp(at: &DateTime<Utc>) -> Value {
    json!(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// ACP currency codes are lower case (`usd`).
pub fn currency_code(currency: Currency) -> Value {
    json!(currency.as_str().to_ascii_lowercase())
}

/// One entry of a `totals` array.
pub fn total(kind: &str, display_text: &str, amount: i64) -> Value {
    json!({"type": kind, "display_text": display_text, "amount": amount})
}

/// The cart-level `totals` array (the same entry types in both versions):
/// zero discounts are left out, fulfillment and tax appear once known.
pub fn cart_totals(t: &Totals) -> Value {
    let mut out = vec![total(
        "items_base_amount",
        "Item(s) total",
        t.items_base_amount.amount,
    )];
    if t.items_discount.amount != 0 {
        out.push(total(
            "items_discount",
            "Item discounts",
            t.items_discount.amount,
        ));
    }
    out.push(total("subtotal", "Subtotal", t.subtotal.amount));
    if t.discount.amount != 0 {
        out.push(total("discount", "Discount", t.discount.amount));
    }
    if let Some(f) = t.fulfillment {
        out.push(total("fulfillment", "Shipping", f.amount));
    }
    if let Some(tax) = t.tax {
        out.push(total("tax", "Tax", tax.amount));
    }
    if let Some(fee) = t.fee {
        out.push(total("fee", "Fees", fee.amount));
    }
    out.push(total("total", "Total", t.total.amount));
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Outer {
        #[allow(dead_code)]
        items: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    struct Inner {
        #[allow(dead_code)]
        id: String,
        #[allow(dead_code)]
        quantity: u32,
    }

    #[test]
    fn json_paths_use_shorthand_only_for_plain_names() {
        let p = JsonPath::root().key("line_items").index(2).key("quantity");
        assert_eq!(p.as_str(), "$.line_items[2].quantity");
        assert_eq!(
            JsonPath::root().key("meta").key("a b'c").as_str(),
            "$.meta['a b\\'c']"
        );
        assert_eq!(JsonPath::root().key("3ds").as_str(), "$['3ds']");
    }

    #[test]
    fn decode_points_at_missing_and_mistyped_fields() {
        let err =
            decode::<Outer>(br#"{"items":[{"id":"a","quantity":1},{"quantity":2}]}"#).unwrap_err();
        assert_eq!(err.code, "missing_field");
        assert_eq!(err.param.as_deref(), Some("$.items[1].id"));

        let err = decode::<Outer>(br#"{"items":[{"id":"a","quantity":"2"}]}"#).unwrap_err();
        assert_eq!(err.code, "invalid_field");
        assert_eq!(err.param.as_deref(), Some("$.items[0].quantity"));
        assert!(!err.message.contains("line 1"), "{}", err.message);

        let err = decode::<Outer>(br#"{}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("$.items"));
    }

    #[test]
    fn decode_rejects_non_json_and_trailing_data() {
        for body in [&b""[..], b"  ", b"{", b"not json", br#"{"items":[]} x"#] {
            let err = decode::<Outer>(body).unwrap_err();
            assert_eq!(err.code, "invalid_json", "{body:?}");
            assert_eq!(err.param, None);
        }
        let err = decode::<Outer>(b"[]").unwrap_err();
        assert_eq!(err.code, "invalid_field");
        assert_eq!(err.param.as_deref(), Some("$"));
    }

    fn q(text: &str, allow_fraction: bool) -> Result<RequestedQuantity, AcpError> {
        let n: Number = serde_json::from_str(text).unwrap();
        quantity(&n, &JsonPath::root().key("q"), allow_fraction)
    }

    #[test]
    fn quantities_must_be_at_least_one() {
        assert_eq!(q("3", false).unwrap().units(), Some(3));
        assert_eq!(q("2.0", false).unwrap().units(), Some(2));
        for bad in ["0", "-1", "0.5", "-2.5", "1e300", "4294967296"] {
            let err = q(bad, true).unwrap_err();
            assert_eq!(err.param.as_deref(), Some("$.q"), "{bad}");
        }
    }

    #[test]
    fn fractional_quantities_only_where_allowed() {
        match q("2.5", true).unwrap() {
            RequestedQuantity::Fractional(n) => assert_eq!(n.to_string(), "2.5"),
            other => panic!("{other:?}"),
        }
        assert!(q("2.5", false).is_err());
    }

    #[test]
    fn countries_are_checked_with_their_path() {
        let addr: WireAddress = serde_json::from_value(json!({
            "name": "A", "line_one": "1 St", "city": "C", "state": "S",
            "country": "USA", "postal_code": "1", "line_two": ""
        }))
        .unwrap();
        let at = JsonPath::root().key("fulfillment_address");
        let err = addr.into_domain(&at, None).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("$.fulfillment_address.country"));
    }

    #[test]
    fn unknown_cancel_reasons_become_other_and_long_summaries_are_cut() {
        let trace: WireIntentTrace = serde_json::from_value(json!({
            "reason_code": "buyer_cancelled",
            "trace_summary": "x".repeat(800),
        }))
        .unwrap();
        let model = trace.into_model();
        assert_eq!(model.reason, CancelReason::Other);
        assert_eq!(model.summary.map(|s| s.chars().count()), Some(500));
    }
}
