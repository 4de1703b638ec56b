//! Money as integer minor units plus an ISO 4217 currency.
//!
//! Platform strings such as Shopify's `Money`/`Decimal` ("79.99") are parsed
//! digit by digit into minor units; no value ever passes through a float.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an amount or a currency could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not an ISO 4217 currency code (three upper-case letters)")]
    InvalidCurrency(String),
    #[error("`{0}` is not a decimal amount")]
    InvalidAmount(String),
    #[error("`{amount}` has more fractional digits than {currency} allows ({exponent})")]
    TooPrecise {
        amount: String,
        currency: Currency,
        exponent: u32,
    },
    #[error("`{0}` does not fit in 64-bit minor units")]
    Overflow(String),
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// An ISO 4217 alphabetic currency code, stored as three ASCII upper-case letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");
    pub const GBP: Currency = Currency(*b"GBP");
    pub const JPY: Currency = Currency(*b"JPY");

    /// Parses a code such as `USD`.
    ///
    /// # Errors
    /// Anything other than exactly three ASCII letters. Lower case is accepted
    /// and normalised, because some platforms send `usd`.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(MoneyError::InvalidCurrency(code.to_owned()));
        }
        Ok(Currency([
            bytes[0].to_ascii_uppercase(),
            bytes[1].to_ascii_uppercase(),
            bytes[2].to_ascii_uppercase(),
        ]))
    }

    pub fn as_str(&self) -> &str {
        // Invariant: constructed only from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Number of digits after the decimal point in the minor unit (ISO 4217
    /// "E" column). Codes not listed use 2, which is what the standard gives
    /// for almost every circulating currency.
    pub fn exponent(&self) -> u32 {
        match &self.0 {
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG"
            | b"RWF" | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            b"CLF" | b"UYW" => 4,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: integer minor units (cents for USD, yen for JPY,
/// fils for KWD) with its currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// Parses a decimal string in major units (`"79.99"`, `"-0.5"`, `"1200"`)
    /// exactly into minor units of `currency`.
    ///
    /// Extra fractional digits are accepted only when they are zeros
    /// (`"10.000"` in USD is 1000 cents); `"10.005"` in USD is an error, never
    /// a silent rounding.
    ///
    /// # Errors
    /// Malformed numbers, too many significant fractional digits, overflow.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let exponent = currency.exponent();
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        let valid = !(int_part.is_empty() && frac_part.is_empty())
            && int_part.bytes().all(|b| b.is_ascii_digit())
            && frac_part.bytes().all(|b| b.is_ascii_digit())
            && !(digits.contains('.') && frac_part.is_empty() && int_part.is_empty());
        if !valid {
            return Err(MoneyError::InvalidAmount(text.to_owned()));
        }
        let exp = exponent as usize;
        let (kept, dropped) = if frac_part.len() > exp {
            frac_part.split_at(exp)
        } else {
            (frac_part, "")
        };
        if dropped.bytes().any(|b| b != b'0') {
            return Err(MoneyError::TooPrecise {
                amount: text.to_owned(),
                currency,
                exponent,
            });
        }
        let overflow = || MoneyError::Overflow(text.to_owned());
        let mut minor: i64 = 0;
        for b in int_part.bytes().chain(kept.bytes()) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or_else(overflow)?;
        }
        for _ in kept.len()..exp {
            minor = minor.checked_mul(10).ok_or_else(overflow)?;
        }
        Ok(Money {
            amount: if negative { -minor } else { minor },
            currency,
        })
    }

    /// Converts an amount expressed as `amount / divisor` (Etsy's form) into
    /// minor units exactly.
    ///
    /// # Errors
    /// When the value cannot be represented in the currency's minor unit
    /// without rounding, or the divisor is zero.
    pub fn from_fraction(
        amount: i64,
        divisor: i64,
        currency: Currency,
    ) -> Result<Self, MoneyError> {
        let text = || format!("{amount}/{divisor}");
        if divisor <= 0 {
            return Err(MoneyError::InvalidAmount(text()));
        }
        let scale = 10i128.pow(currency.exponent());
        let numerator = i128::from(amount) * scale;
        if numerator % i128::from(divisor) != 0 {
            return Err(MoneyError::TooPrecise {
                amount: text(),
                currency,
                exponent: currency.exponent(),
            });
        }
        let minor = i64::try_from(numerator / i128::from(divisor))
            .map_err(|_| MoneyError::Overflow(text()))?;
        Ok(Money {
            amount: minor,
            currency,
        })
    }

    /// The amount in major units as a decimal string with exactly the
    /// currency's number of fractional digits: `7999` USD → `"79.99"`.
    pub fn major_string(&self) -> String {
        let exp = self.currency.exponent();
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10u64.pow(exp);
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = exp as usize
        )
    }

    /// Adds two amounts of the same currency.
    ///
    /// # Errors
    /// Different currencies or overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        self.amount
            .checked_add(other.amount)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or_else(|| MoneyError::Overflow(format!("{self} + {other}")))
    }

    /// Multiplies by a quantity.
    ///
    /// # Errors
    /// Overflow.
    pub fn checked_mul(self, quantity: i64) -> Result<Money, MoneyError> {
        self.amount
            .checked_mul(quantity)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or_else(|| MoneyError::Overflow(format!("{self} * {quantity}")))
    }
}

/// `"79.99 USD"`, the OpenAI feed's price format.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.major_string(), self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Result<i64, MoneyError> {
        Money::parse_decimal(s, Currency::USD).map(|m| m.amount)
    }

    #[test]
    fn parses_shopify_money_strings_exactly() {
        assert_eq!(usd("79.99"), Ok(7999));
        assert_eq!(usd("0.1"), Ok(10));
        assert_eq!(usd("1200"), Ok(120000));
        assert_eq!(usd("10.000"), Ok(1000));
        assert_eq!(usd("-3.50"), Ok(-350));
        assert_eq!(usd(".5"), Ok(50));
        // The float route gives 1.15 * 100 = 114.99999999999999.
        assert_eq!(usd("1.15"), Ok(115));
    }

    #[test]
    fn rejects_amounts_that_would_need_rounding_or_are_malformed() {
        assert!(matches!(usd("10.005"), Err(MoneyError::TooPrecise { .. })));
        for bad in ["", "-", ".", "1.2.3", "1e5", "12a", " 1 2", "NaN"] {
            assert!(
                matches!(usd(bad), Err(MoneyError::InvalidAmount(_))),
                "{bad:?} should be rejected"
            );
        }
        assert!(matches!(
            usd("99999999999999999999"),
            Err(MoneyError::Overflow(_))
        ));
    }

    #[test]
    fn respects_currency_exponents() {
        let jpy = Money::parse_decimal("1500", Currency::JPY).unwrap();
        assert_eq!(jpy.amount, 1500);
        assert_eq!(jpy.to_string(), "1500 JPY");
        assert!(Money::parse_decimal("1500.5", Currency::JPY).is_err());
        let kwd = Currency::parse("KWD").unwrap();
        let m = Money::parse_decimal("1.5", kwd).unwrap();
        assert_eq!(m.amount, 1500);
        assert_eq!(m.to_string(), "1.500 KWD");
    }

    #[test]
    fn formats_major_units_for_feeds() {
        assert_eq!(Money::new(7999, Currency::USD).to_string(), "79.99 USD");
        assert_eq!(Money::new(5, Currency::EUR).to_string(), "0.05 EUR");
        assert_eq!(Money::new(-5, Currency::EUR).major_string(), "-0.05");
        assert_eq!(Money::new(0, Currency::GBP).major_string(), "0.00");
    }

    #[test]
    fn converts_etsy_fractions_without_rounding() {
        assert_eq!(
            Money::from_fraction(2500, 100, Currency::USD)
                .unwrap()
                .amount,
            2500
        );
        assert_eq!(
            Money::from_fraction(25, 1, Currency::USD).unwrap().amount,
            2500
        );
        assert!(Money::from_fraction(1999, 1000, Currency::USD).is_err());
        assert_eq!(
            Money::from_fraction(150000, 100, Currency::JPY)
                .unwrap()
                .amount,
            1500
        );
        assert!(Money::from_fraction(1, 0, Currency::USD).is_err());
    }

    #[test]
    fn currency_codes_are_normalised_and_validated() {
        assert_eq!(Currency::parse("usd").unwrap(), Currency::USD);
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
        assert!(Currency::parse("USDX").is_err());
    }

    #[test]
    fn parse_and_format_round_trip_for_many_values() {
        // A deterministic sweep stands in for a property test: every amount
        // formats to a string that parses back to itself.
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..10_000 {
            let amount = rng.i64(-10_000_000_000..10_000_000_000);
            for currency in [
                Currency::USD,
                Currency::JPY,
                Currency::parse("KWD").unwrap(),
            ] {
                let m = Money::new(amount, currency);
                assert_eq!(Money::parse_decimal(&m.major_string(), currency), Ok(m));
            }
        }
    }
}
