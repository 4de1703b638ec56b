//! The emulator's own data model: wire-ish records of a shop, its
//! publications and its products, close to what the Admin API exposes.
//!
//! Amounts are integer minor units ([`Price`]), timestamps are milliseconds
//! since the Unix epoch; the GraphQL layer formats both exactly as Shopify
//! prints them. Nothing here knows about GraphQL or HTTP.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

use super::pricing::PricingRules;

/// A money amount in minor units (cents for USD); printed as `"79.99"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(pub i64);

impl Price {
    /// Builds an amount from whole units and cents: `Price::new(79, 99)`.
    pub const fn new(units: i64, cents: i64) -> Self {
        Price(units * 100 + cents)
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// `ProductStatus` of the Admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProductStatus {
    Active,
    Archived,
    Draft,
    Unlisted,
}

impl ProductStatus {
    /// The enum value as the API prints it (`ACTIVE`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Active => "ACTIVE",
            ProductStatus::Archived => "ARCHIVED",
            ProductStatus::Draft => "DRAFT",
            ProductStatus::Unlisted => "UNLISTED",
        }
    }
}

/// `ProductVariantInventoryPolicy`: may the variant be sold at zero stock?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InventoryPolicy {
    Deny,
    Continue,
}

impl InventoryPolicy {
    /// The enum value as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            InventoryPolicy::Deny => "DENY",
            InventoryPolicy::Continue => "CONTINUE",
        }
    }
}

/// `WeightUnit` of the Admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightUnit {
    Grams,
    Kilograms,
    Ounces,
    Pounds,
}

impl WeightUnit {
    /// The enum value as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            WeightUnit::Grams => "GRAMS",
            WeightUnit::Kilograms => "KILOGRAMS",
            WeightUnit::Ounces => "OUNCES",
            WeightUnit::Pounds => "POUNDS",
        }
    }
}

/// A shipping weight (`InventoryItem.measurement.weight`); the API types
/// `value` as `Float`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weight {
    pub value: f64,
    pub unit: WeightUnit,
}

/// What a media item is; decides its `__typename` and `mediaContentType`.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaKind {
    /// `MediaImage` with its image.
    Image(Image),
    /// `Video` hosted by Shopify.
    Video,
    /// `ExternalVideo` (YouTube, Vimeo).
    ExternalVideo,
    /// `Model3d`.
    Model3d,
}

/// An image of a `MediaImage`.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub url: String,
    pub alt_text: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// One media item of a product, in position order.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub id: u64,
    pub alt: Option<String>,
    pub kind: MediaKind,
}

impl Media {
    /// The concrete GraphQL type of this media item.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            MediaKind::Image(_) => "MediaImage",
            MediaKind::Video => "Video",
            MediaKind::ExternalVideo => "ExternalVideo",
            MediaKind::Model3d => "Model3d",
        }
    }

    /// `mediaContentType` of this media item.
    pub fn content_type(&self) -> &'static str {
        match self.kind {
            MediaKind::Image(_) => "IMAGE",
            MediaKind::Video => "VIDEO",
            MediaKind::ExternalVideo => "EXTERNAL_VIDEO",
            MediaKind::Model3d => "MODEL_3D",
        }
    }

    /// The GID, e.g. `gid://shopify/MediaImage/1`.
    pub fn gid(&self) -> String {
        format!("gid://shopify/{}/{}", self.type_name(), self.id)
    }
}

/// A product option (`Size`, `Color`) and its values in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductOption {
    pub name: String,
    pub values: Vec<String>,
}

/// One `name: value` pair of a variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedOption {
    pub name: String,
    pub value: String,
}

/// A product variant. Its `position` is its 1-based index in
/// [`Product::variants`].
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub id: u64,
    pub title: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub price: Price,
    pub compare_at_price: Option<Price>,
    pub inventory_quantity: i32,
    pub inventory_policy: InventoryPolicy,
    /// Whether Shopify tracks inventory for the variant's inventory item.
    pub tracked: bool,
    pub requires_shipping: bool,
    pub weight: Option<Weight>,
    pub selected_options: Vec<SelectedOption>,
    /// Ids of entries of [`Product::media`] attached to this variant.
    pub media_ids: Vec<u64>,
}

impl Variant {
    /// `availableForSale`: untracked, in stock, or oversellable.
    pub fn available_for_sale(&self) -> bool {
        !self.tracked
            || self.inventory_quantity > 0
            || self.inventory_policy == InventoryPolicy::Continue
    }

    /// The GID, e.g. `gid://shopify/ProductVariant/1`.
    pub fn gid(&self) -> String {
        format!("gid://shopify/ProductVariant/{}", self.id)
    }
}

/// A product with its variants and media.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub id: u64,
    pub title: String,
    pub handle: String,
    pub description_html: String,
    pub vendor: String,
    pub product_type: String,
    pub tags: Vec<String>,
    pub status: ProductStatus,
    /// `category.fullName` in the Standard Product Taxonomy.
    pub category: Option<String>,
    pub options: Vec<ProductOption>,
    pub media: Vec<Media>,
    pub variants: Vec<Variant>,
    /// Ids of the publications (sales channels) the product is published on.
    pub publications: BTreeSet<u64>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Milliseconds since the Unix epoch; strictly increasing across the shop.
    pub updated_at: i64,
}

impl Product {
    /// A minimal active product with one "Default Title" variant at 10.00,
    /// for tests that add products. Ids are assigned by the emulator.
    pub fn new(title: &str) -> Self {
        Product {
            id: 0,
            title: title.to_owned(),
            handle: handleize(title),
            description_html: format!("<p>{title}</p>"),
            vendor: "Northwind Outfitters".to_owned(),
            product_type: "Accessories".to_owned(),
            tags: Vec::new(),
            status: ProductStatus::Active,
            category: None,
            options: vec![ProductOption {
                name: "Title".to_owned(),
                values: vec!["Default Title".to_owned()],
            }],
            media: Vec::new(),
            variants: vec![Variant {
                id: 0,
                title: "Default Title".to_owned(),
                sku: None,
                barcode: None,
                price: Price::new(10, 0),
                compare_at_price: None,
                inventory_quantity: 10,
                inventory_policy: InventoryPolicy::Deny,
                tracked: true,
                requires_shipping: true,
                weight: None,
                selected_options: vec![SelectedOption {
                    name: "Title".to_owned(),
                    value: "Default Title".to_owned(),
                }],
                media_ids: Vec::new(),
            }],
            publications: BTreeSet::new(),
            created_at: 0,
            updated_at: 0,
        }
    }

    /// The GID, e.g. `gid://shopify/Product/1`.
    pub fn gid(&self) -> String {
        format!("gid://shopify/Product/{}", self.id)
    }

    /// Total inventory over all variants (sort key `INVENTORY_TOTAL`).
    pub fn total_inventory(&self) -> i64 {
        self.variants
            .iter()
            .map(|v| i64::from(v.inventory_quantity))
            .sum()
    }
}

/// `ShopPolicyType` values the sample shop uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    Refund,
    Shipping,
    Privacy,
    TermsOfService,
}

impl PolicyType {
    /// The enum value as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Refund => "REFUND_POLICY",
            PolicyType::Shipping => "SHIPPING_POLICY",
            PolicyType::Privacy => "PRIVACY_POLICY",
            PolicyType::TermsOfService => "TERMS_OF_SERVICE",
        }
    }
}

/// One legal policy and its public URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub kind: PolicyType,
    pub url: String,
}

/// Shop-level facts (`QueryRoot.shop`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopInfo {
    pub id: u64,
    pub name: String,
    pub myshopify_domain: String,
    /// ISO 4217 code as the `CurrencyCode` enum prints it.
    pub currency_code: String,
    /// `CountryCode` values.
    pub ships_to_countries: Vec<String>,
    /// Host of the primary (storefront) domain.
    pub primary_domain_host: String,
    /// `shopAddress.countryCodeV2`.
    pub country_code: String,
    pub policies: Vec<Policy>,
}

impl ShopInfo {
    /// `primaryDomain.url`.
    pub fn primary_url(&self) -> String {
        format!("https://{}", self.primary_domain_host)
    }
}

/// A publication (sales channel) and the title of its catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub id: u64,
    /// `catalog.title`: "Online Store", "Point of Sale", "Shop".
    pub name: String,
}

impl Publication {
    /// The GID, e.g. `gid://shopify/Publication/1`.
    pub fn gid(&self) -> String {
        format!("gid://shopify/Publication/{}", self.id)
    }
}

/// The seed of an emulated shop.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopData {
    pub shop: ShopInfo,
    /// The first publication is the Online Store.
    pub publications: Vec<Publication>,
    pub products: Vec<Product>,
    /// Taxes, shipping zones and automatic discounts (checkout pricing).
    pub pricing: PricingRules,
}

/// Formats epoch milliseconds the way Shopify prints `DateTime`
/// (`2026-11-28T10:00:00Z`, whole seconds, UTC).
pub fn format_datetime(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        None => "1970-01-01T00:00:00Z".to_owned(),
    }
}

/// Parses an ISO 8601 date-time (or a bare date, taken as midnight UTC) into
/// epoch milliseconds.
pub fn parse_datetime(text: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return Some(t.and_utc().timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Turns a title into a Shopify-style handle (`Merino Crew Socks` →
/// `merino-crew-socks`).
pub fn handleize(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Splits a GID `gid://shopify/{kind}/{id}` (or a bare number) into its id,
/// checking the kind.
pub fn parse_gid(text: &str, kind: &str) -> Option<u64> {
    if let Ok(id) = text.parse::<u64>() {
        return Some(id);
    }
    let rest = text.strip_prefix("gid://shopify/")?;
    let (k, id) = rest.split_once('/')?;
    let id = id.split('?').next()?;
    if k != kind {
        return None;
    }
    id.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_print_with_two_decimals() {
        assert_eq!(Price::new(79, 99).to_string(), "79.99");
        assert_eq!(Price::new(20, 0).to_string(), "20.00");
        assert_eq!(Price(5).to_string(), "0.05");
        assert_eq!(Price(-150).to_string(), "-1.50");
    }

    #[test]
    fn datetimes_print_in_whole_seconds_utc_and_parse_back() {
        let ms = parse_datetime("2026-11-28T10:00:00Z").unwrap();
        assert_eq!(format_datetime(ms + 999), "2026-11-28T10:00:00Z");
        assert_eq!(
            parse_datetime("2026-11-28"),
            parse_datetime("2026-11-28T00:00:00Z")
        );
        assert_eq!(parse_datetime("2026-11-28T11:00:00+01:00"), Some(ms));
    }

    #[test]
    fn gids_parse_only_for_their_kind() {
        assert_eq!(parse_gid("gid://shopify/Product/42", "Product"), Some(42));
        assert_eq!(parse_gid("42", "Product"), Some(42));
        assert_eq!(
            parse_gid("gid://shopify/ProductVariant/42", "Product"),
            None
        );
        assert_eq!(parse_gid("nonsense", "Product"), None);
    }

    #[test]
    fn handles_are_lowercase_and_dashed() {
        assert_eq!(
            handleize("Merino Crew Socks (3-Pack)"),
            "merino-crew-socks-3-pack"
        );
    }
}
