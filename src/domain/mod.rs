//! The typed core shared by every source, the feed and (later) checkout.
//!
//! Nothing here knows about Shopify, Etsy, sled or HTTP: sources map their
//! wire types into these, the store persists them, the feed reads them.

mod catalog;
mod commerce;
mod money;
mod shop;

pub use catalog::{
    Availability, InventoryPolicy, Media, Platform, Product, ProductOption, ProductStatus,
    SelectedOption, Variant, Weight, WeightUnit,
};
pub use commerce::{
    Buyer, CartLine, CountryCode, CountryCodeError, PostalAddress, Quote, QuotedLine, ShippingRate,
    TaxLine,
};
pub use money::{Currency, Money, MoneyError};
pub use shop::{ShopFacts, ShopId, ShopIdError, ShopPolicies};
