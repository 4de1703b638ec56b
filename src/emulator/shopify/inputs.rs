//! Input objects shared by the order mutations (`MailingAddressInput`,
//! `MoneyInput`, `MoneyBagInput`), decoding of coerced arguments into typed
//! structs, exact `Decimal` parsing, and the `userErrors` entries both
//! mutations report.
//!
//! Arguments reach the resolvers already validated against the schema, so
//! decoding only fails on values the schema cannot express (an amount that
//! is not a decimal number); those become user errors, never panics.

use apollo_compiler::response::JsonValue;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::data::Price;

/// One `userErrors` entry: the input path, Shopify's message and, for
/// `OrderCreateUserError`, its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserErr {
    pub field: Vec<String>,
    pub message: String,
    pub code: Option<&'static str>,
}

impl UserErr {
    /// An error at `field` (path segments; list indexes as strings).
    pub(crate) fn at(field: &[&str], message: impl Into<String>) -> Self {
        UserErr {
            field: field.iter().map(|s| (*s).to_owned()).collect(),
            message: message.into(),
            code: None,
        }
    }

    /// The same error with an `OrderCreateUserErrorCode`.
    pub(crate) fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }
}

/// A path prefix plus more segments (`["order", "lineItems"] + "0"`).
pub(crate) fn path(prefix: &[&str], rest: &[&str]) -> Vec<String> {
    prefix.iter().chain(rest).map(|s| (*s).to_owned()).collect()
}

/// Builds a [`UserErr`] at `prefix + rest`.
pub(crate) fn err_at(prefix: &[&str], rest: &[&str], message: impl Into<String>) -> UserErr {
    UserErr {
        field: path(prefix, rest),
        message: message.into(),
        code: None,
    }
}

/// Decodes a coerced argument into `T`. The value has passed schema
/// validation, so a failure means a shape the resolver does not model; it is
/// reported as a field error.
pub(crate) fn decode<T: DeserializeOwned>(value: Option<&JsonValue>) -> Result<T, String> {
    let value = serde_json::to_value(value.unwrap_or(&JsonValue::Null))
        .map_err(|e| format!("Invalid input: {e}"))?;
    serde_json::from_value(value).map_err(|e| format!("Invalid input: {e}"))
}

/// A `Decimal` input: a JSON string or number, kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecimalText(pub String);

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(DecimalText(s)),
            serde_json::Value::Number(n) => Ok(DecimalText(n.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a decimal, got {other}"
            ))),
        }
    }
}

/// Parses a decimal into cents exactly. Extra fractional digits must be
/// zeros; `None` for anything else (the caller reports it as invalid).
pub(crate) fn parse_cents(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit())
        || frac[frac.len().min(2)..].bytes().any(|b| b != b'0')
    {
        return None;
    }
    let mut cents: i64 = 0;
    for b in int.bytes() {
        cents = cents.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    let mut frac_digits = frac.bytes().take(2);
    for _ in 0..2 {
        let digit = frac_digits.next().map_or(0, |b| i64::from(b - b'0'));
        cents = cents.checked_mul(10)?.checked_add(digit)?;
    }
    Some(if negative { -cents } else { cents })
}

/// `MoneyInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MoneyInput {
    pub amount: DecimalText,
    pub currency_code: String,
}

/// `MoneyBagInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MoneyBagInput {
    pub shop_money: MoneyInput,
    #[serde(default)]
    pub presentment_money: Option<MoneyInput>,
}

impl MoneyInput {
    /// The amount in the shop's currency, or the user error explaining why
    /// it is not one (at `field`).
    pub(crate) fn price(&self, shop_currency: &str, field: &[String]) -> Result<Price, UserErr> {
        let at = |suffix: &str, message: String| UserErr {
            field: field
                .iter()
                .cloned()
                .chain(std::iter::once(suffix.to_owned()))
                .collect(),
            message,
            code: None,
        };
        if self.currency_code != shop_currency {
            return Err(at(
                "currencyCode",
                format!(
                    "Currency {} does not match the shop currency {shop_currency}",
                    self.currency_code
                ),
            ));
        }
        match parse_cents(&self.amount.0) {
            Some(cents) if cents >= 0 => Ok(Price(cents)),
            Some(_) => Err(at(
                "amount",
                "Amount must be greater than or equal to 0".to_owned(),
            )),
            None => Err(at(
                "amount",
                format!("Amount {} is not a valid amount", self.amount.0),
            )),
        }
    }
}

impl MoneyBagInput {
    /// The shop-money amount; a presentment amount in another currency is
    /// refused (the emulated shop has no other presentment currency).
    pub(crate) fn price(&self, shop_currency: &str, field: &[String]) -> Result<Price, UserErr> {
        let mut shop_path = field.to_vec();
        shop_path.push("shopMoney".to_owned());
        let price = self.shop_money.price(shop_currency, &shop_path)?;
        if let Some(presentment) = &self.presentment_money {
            let mut p = field.to_vec();
            p.push("presentmentMoney".to_owned());
            let other = presentment.price(shop_currency, &p)?;
            if other != price {
                return Err(UserErr {
                    field: p,
                    message: "Presentment money must equal shop money in the shop currency"
                        .to_owned(),
                    code: None,
                });
            }
        }
        Ok(price)
    }
}

/// `MailingAddressInput` (the fields of the schema subset).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddressInput {
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub company: Option<String>,
    pub country_code: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub province_code: Option<String>,
    pub zip: Option<String>,
}

/// A `key`/`value` pair (`AttributeInput`, `OrderCreateCustomAttributeInput`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AttributeInput {
    pub key: String,
    pub value: String,
}

/// Formats cents the way Shopify prints a `Decimal` amount (`MoneyV2.amount`):
/// trailing zeros dropped but one decimal kept (`"10.0"`, `"7.5"`, `"79.99"`).
pub(crate) fn decimal_string(price: Price) -> String {
    let sign = if price.0 < 0 { "-" } else { "" };
    let abs = price.0.unsigned_abs();
    let (units, cents) = (abs / 100, abs % 100);
    if cents % 10 == 0 {
        format!("{sign}{units}.{}", cents / 10)
    } else {
        format!("{sign}{units}.{cents:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_to_cents_exactly() {
        assert_eq!(parse_cents("79.99"), Some(7999));
        assert_eq!(parse_cents("10"), Some(1000));
        assert_eq!(parse_cents("10.5"), Some(1050));
        assert_eq!(parse_cents("10.500"), Some(1050));
        assert_eq!(parse_cents("-3.25"), Some(-325));
        assert_eq!(parse_cents("10.005"), None);
        assert_eq!(parse_cents("1e3"), None);
        assert_eq!(parse_cents(".5"), None);
        assert_eq!(parse_cents(""), None);
    }

    #[test]
    fn decimal_amounts_print_like_shopify() {
        assert_eq!(decimal_string(Price(1000)), "10.0");
        assert_eq!(decimal_string(Price(750)), "7.5");
        assert_eq!(decimal_string(Price(7999)), "79.99");
        assert_eq!(decimal_string(Price(5)), "0.05");
        assert_eq!(decimal_string(Price(0)), "0.0");
    }

    #[test]
    fn money_in_another_currency_is_a_user_error_at_its_path() {
        let input = MoneyInput {
            amount: DecimalText("5.00".into()),
            currency_code: "EUR".into(),
        };
        let err = input
            .price("USD", &["order".into(), "lineItems".into()])
            .unwrap_err();
        assert_eq!(err.field, ["order", "lineItems", "currencyCode"]);
    }
}
