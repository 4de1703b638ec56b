//! Source- and protocol-agnostic types for buying: who buys, where it ships,
//! and what a platform quoted for a cart. The ACP adapters, the Shopify
//! client and the checkout service all speak these.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Money;

/// ISO 3166-1 alpha-2 country code, stored upper-case (`US`, `DE`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an ISO 3166-1 alpha-2 country code (two letters)")]
pub struct CountryCodeError(pub String);

impl CountryCode {
    /// Accepts two ASCII letters in either case.
    ///
    /// # Errors
    /// When `code` is not exactly two ASCII letters.
    pub fn parse(code: &str) -> Result<Self, CountryCodeError> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => Ok(CountryCode([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
            ])),
            _ => Err(CountryCodeError(code.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl TryFrom<String> for CountryCode {
    type Error = CountryCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        CountryCode::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(value: CountryCode) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

/// A postal address as ACP carries it (`name`, `line_one`, …). `state` is the
/// subdivision code where one exists (`CA`, `ON`), otherwise the region name.
///
/// Contains personal data: never log it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    pub name: String,
    pub company: Option<String>,
    pub line_one: String,
    pub line_two: Option<String>,
    pub city: String,
    pub state: String,
    pub country: CountryCode,
    pub postal_code: String,
    pub phone_number: Option<String>,
}

impl fmt::Debug for PostalAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Country only: the rest is personal data.
        f.debug_struct("PostalAddress")
            .field("country", &self.country)
            .finish_non_exhaustive()
    }
}

/// The buyer as far as the agent shared it. Personal data: never log it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
}

impl fmt::Debug for Buyer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buyer")
            .field("has_email", &self.email.is_some())
            .finish_non_exhaustive()
    }
}

/// One cart line: a platform variant and how many of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// The platform's variant id (Shopify: the numeric part of the GID), the
    /// same id the feed publishes as `item_id`/`id`.
    pub variant_id: String,
    pub quantity: u32,
}

/// A tax line as the platform computed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    pub title: String,
    /// The rate as the platform printed it (`"0.0725"`), kept as text so it
    /// round-trips exactly into the order.
    pub rate: String,
    pub amount: Money,
}

/// One shipping rate the platform offers for a cart and address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingRate {
    /// The platform's handle, passed back to select this rate.
    pub handle: String,
    pub title: String,
    pub price: Money,
    /// Delivery estimate in days from now, when the platform gives one.
    pub min_delivery_days: Option<u32>,
    pub max_delivery_days: Option<u32>,
}

/// One priced cart line of a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotedLine {
    pub variant_id: String,
    pub quantity: u32,
    pub title: String,
    pub sku: Option<String>,
    /// Price of one unit before discounts.
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub base_amount: Money,
    /// Discounts allocated to this line (positive amount).
    pub discount: Money,
    /// Tax allocated to this line.
    pub tax: Money,
    pub tax_lines: Vec<TaxLine>,
    pub requires_shipping: bool,
}

/// A platform's authoritative pricing of a cart for an address: what a
/// checkout shows and what complete charges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub lines: Vec<QuotedLine>,
    /// Offered rates; empty until an address is known.
    pub shipping_rates: Vec<ShippingRate>,
    /// The rate the quote was priced with, if one was selected.
    pub selected_shipping: Option<ShippingRate>,
    /// Sum of line base amounts.
    pub items_base: Money,
    /// Sum of all discounts (positive).
    pub discount: Money,
    /// Items after discounts.
    pub subtotal: Money,
    pub shipping: Money,
    pub tax: Money,
    pub tax_lines: Vec<TaxLine>,
    pub taxes_included: bool,
    pub total: Money,
    /// Platform warnings (e.g. not enough stock), as plain text.
    pub warnings: Vec<String>,
}
