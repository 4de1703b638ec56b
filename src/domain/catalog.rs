//! Products and variants in a source-agnostic form.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::Money;

/// Which platform a product came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Shopify,
    Etsy,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::Etsy => "etsy",
        }
    }
}

/// Lifecycle status of a product on its platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    Active,
    Draft,
    Archived,
    Unlisted,
    /// A status this build does not know; treated as not sellable.
    Other,
}

/// Whether a variant may be sold when its tracked stock is zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InventoryPolicy {
    /// Stop selling at zero.
    Deny,
    /// Keep selling (oversell / backorder).
    Continue,
}

/// Availability as the feed states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    InStock,
    OutOfStock,
    PreOrder,
    Backorder,
    Unknown,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::InStock => "in_stock",
            Availability::OutOfStock => "out_of_stock",
            Availability::PreOrder => "pre_order",
            Availability::Backorder => "backorder",
            Availability::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub url: Url,
    pub alt_text: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductOption {
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectedOption {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightUnit {
    Grams,
    Kilograms,
    Ounces,
    Pounds,
}

impl WeightUnit {
    /// The unit as the OpenAI feed writes it (`item_weight_unit`).
    pub fn feed_unit(self) -> &'static str {
        match self {
            WeightUnit::Grams => "g",
            WeightUnit::Kilograms => "kg",
            WeightUnit::Ounces => "oz",
            WeightUnit::Pounds => "lb",
        }
    }
}

/// A shipping weight. Not money, so a float is acceptable; it is only ever
/// printed, never summed into a price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weight {
    pub value: f64,
    pub unit: WeightUnit,
}

/// One purchasable variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// The platform's stable numeric id (Shopify: the number in
    /// `gid://shopify/ProductVariant/{id}`). Feed `item_id`s derive from it.
    pub id: String,
    pub title: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub price: Money,
    pub compare_at_price: Option<Money>,
    /// Whether the platform tracks stock for this variant.
    pub inventory_tracked: bool,
    /// Sellable quantity across locations (meaningful when tracked).
    pub inventory_quantity: i64,
    pub inventory_policy: InventoryPolicy,
    pub available_for_sale: bool,
    pub selected_options: Vec<SelectedOption>,
    pub weight: Option<Weight>,
    pub requires_shipping: bool,
    pub media: Vec<Media>,
    pub position: u32,
}

impl Variant {
    /// Availability from stock and inventory policy: tracked and at or below
    /// zero is out of stock unless the policy allows overselling, which makes
    /// it a backorder.
    pub fn availability(&self) -> Availability {
        if !self.inventory_tracked {
            return if self.available_for_sale {
                Availability::InStock
            } else {
                Availability::OutOfStock
            };
        }
        if self.inventory_quantity > 0 {
            Availability::InStock
        } else if self.inventory_policy == InventoryPolicy::Continue {
            Availability::Backorder
        } else {
            Availability::OutOfStock
        }
    }
}

/// A product with its variants, as synced from a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub platform: Platform,
    /// The platform's stable numeric id (Shopify: `gid://shopify/Product/{id}`).
    pub id: String,
    pub handle: String,
    pub title: String,
    pub description_html: String,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    pub tags: Vec<String>,
    pub status: ProductStatus,
    /// Published to the sales channel (publication) the feed is for.
    pub published: bool,
    /// Product page on the storefront, when the platform gives one.
    pub url: Option<Url>,
    /// Category path, e.g. `Apparel & Accessories > Clothing > Shirts`.
    pub category: Option<String>,
    pub options: Vec<ProductOption>,
    pub media: Vec<Media>,
    pub variants: Vec<Variant>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn variant(tracked: bool, qty: i64, policy: InventoryPolicy, afs: bool) -> Variant {
        Variant {
            id: "1".into(),
            title: "Default".into(),
            sku: None,
            barcode: None,
            price: Money::new(100, Currency::USD),
            compare_at_price: None,
            inventory_tracked: tracked,
            inventory_quantity: qty,
            inventory_policy: policy,
            available_for_sale: afs,
            selected_options: vec![],
            weight: None,
            requires_shipping: true,
            media: vec![],
            position: 1,
        }
    }

    #[test]
    fn availability_follows_stock_and_policy() {
        use Availability::*;
        use InventoryPolicy::*;
        let cases = [
            (true, 5, Deny, true, InStock),
            (true, 0, Deny, false, OutOfStock),
            (true, -2, Deny, false, OutOfStock),
            (true, 0, Continue, true, Backorder),
            (true, -3, Continue, true, Backorder),
            (false, 0, Deny, true, InStock),
            (false, 0, Deny, false, OutOfStock),
        ];
        for (tracked, qty, policy, afs, want) in cases {
            assert_eq!(
                variant(tracked, qty, policy, afs).availability(),
                want,
                "tracked={tracked} qty={qty} policy={policy:?}"
            );
        }
    }
}
