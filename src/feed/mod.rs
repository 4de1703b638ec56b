//! Feed rows, validation and encodings: the pure core of feed generation.
//!
//! Owns turning domain [`Product`](crate::domain::Product)s into what AI
//! shopping agents read, with no I/O of its own beyond writing to a caller's
//! `std::io::Write`:
//!
//! - [`eligibility`]: which products are listed at all, and why not;
//! - [`map`]: product → OpenAI flat feed rows (one per variant);
//! - [`validate`]: the spec's per-row rules, as errors and warnings;
//! - [`acp`]: the ACP Feed API (2026-04-17) `Product` form of the valid rows;
//! - [`encode`]: streaming `jsonl.gz`, `csv.gz`, `tsv.gz` and ACP `jsonl`
//!   writers, plus a stable row hash;
//! - [`html`], [`gtin`]: description text and barcode helpers;
//! - [`FeedFormat`]: the files a generation contains and their names.
//!
//! It must not touch the store, the network or the clock; orchestration
//! (reading the catalog, publishing generations) lives elsewhere.

pub mod acp;
pub mod eligibility;
pub mod encode;
mod format;
pub mod generation;
pub mod gtin;
pub mod html;
pub mod index;
pub mod map;
pub mod segment;
pub mod validate;

pub use acp::{AcpProduct, acp_product};
pub use eligibility::{Exclusion, FeedFilter, product_exclusion};
pub use encode::{
    AcpJsonlWriter, Delimiter, EncodeStats, FlatDelimitedGzWriter, FlatJsonlGzWriter, ProductTexts,
    hex, row_hash,
};
pub use format::FeedFormat;
pub use map::{FLAT_COLUMNS, FeedOptions, FlatRow, RowMapper, flat_rows};
pub use validate::{RowIssue, Severity, has_errors, validate_row};

/// What can go wrong preparing a feed from shop facts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The feed needs `store_country`, and the platform did not say where the
    /// shop is.
    #[error("the shop has no country; set the store country in the feed settings")]
    MissingStoreCountry,
    /// A configured or platform country is not ISO 3166-1 alpha-2.
    #[error("`{0}` is not an ISO 3166-1 alpha-2 country code")]
    InvalidCountry(String),
}

/// Realistic domain products for the feed tests (and for other modules'
/// tests that need catalog data).
#[cfg(test)]
pub(crate) mod test_products {
    use chrono::{TimeZone, Utc};
    use url::Url;

    use super::FeedOptions;
    use crate::domain::{
        Currency, InventoryPolicy, Media, Money, Platform, Product, ProductOption, ProductStatus,
        SelectedOption, Variant, Weight, WeightUnit,
    };

    pub(crate) fn usd(cents: i64) -> Money {
        Money::new(cents, Currency::USD)
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn image(s: &str, alt: Option<&str>) -> Media {
        Media {
            url: url(s),
            alt_text: alt.map(str::to_owned),
            width: Some(2048),
            height: Some(2048),
        }
    }

    fn opt(name: &str, value: &str) -> SelectedOption {
        SelectedOption {
            name: name.into(),
            value: value.into(),
        }
    }

    /// A single-variant product with Shopify's `Title: Default Title` option.
    fn simple(id: &str, variant_id: &str, title: &str, handle: &str) -> Product {
        Product {
            platform: Platform::Shopify,
            id: id.into(),
            handle: handle.into(),
            title: title.into(),
            description_html: format!("<p>{title} from NorthPeak.</p>"),
            vendor: Some("NorthPeak".into()),
            product_type: None,
            tags: vec![],
            status: ProductStatus::Active,
            published: true,
            url: Some(url(&format!("https://northpeak.example/products/{handle}"))),
            category: None,
            options: vec![ProductOption {
                name: "Title".into(),
                values: vec!["Default Title".into()],
            }],
            media: vec![image(
                &format!("https://cdn.example/{handle}.jpg"),
                Some(title),
            )],
            variants: vec![Variant {
                id: variant_id.into(),
                title: "Default Title".into(),
                sku: None,
                barcode: None,
                price: usd(500),
                compare_at_price: None,
                inventory_tracked: false,
                inventory_quantity: 0,
                inventory_policy: InventoryPolicy::Deny,
                available_for_sale: true,
                selected_options: vec![opt("Title", "Default Title")],
                weight: None,
                requires_shipping: true,
                media: vec![],
                position: 1,
            }],
            updated_at: Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap(),
        }
    }

    /// Multi-variant apparel (colour × size): a sale price on variant 0, a
    /// compare-at equal to the price on 1, an invalid GTIN and no stock
    /// (DENY) on 2, no stock with CONTINUE on 3; HTML description; variant
    /// images on the blue variants only.
    pub(crate) fn apparel() -> Product {
        let variant = |id: &str, color: &str, size: &str, sku: &str| Variant {
            id: id.into(),
            title: format!("{color} / {size}"),
            sku: Some(sku.into()),
            barcode: None,
            price: usd(12999),
            compare_at_price: None,
            inventory_tracked: true,
            inventory_quantity: 4,
            inventory_policy: InventoryPolicy::Deny,
            available_for_sale: true,
            selected_options: vec![opt("Color", color), opt("Size", size)],
            weight: Some(Weight {
                value: 0.255,
                unit: WeightUnit::Kilograms,
            }),
            requires_shipping: true,
            media: vec![],
            position: 1,
        };
        let blue = image(
            "https://cdn.example/trail-runner-blue.jpg",
            Some("Trail Runner in blue"),
        );
        let mut v0 = variant("4400001", "Blue", "9", "TR2-BLU-09");
        v0.price = usd(9999);
        v0.compare_at_price = Some(usd(12999));
        v0.barcode = Some("0036000291452".into());
        v0.media = vec![blue.clone()];
        let mut v1 = variant("4400002", "Blue", "10", "TR2-BLU-10");
        v1.compare_at_price = Some(usd(12999));
        v1.media = vec![blue.clone()];
        v1.position = 2;
        let mut v2 = variant("4400003", "Black", "9", "TR2-BLK-09");
        v2.barcode = Some("036000291453".into());
        v2.inventory_quantity = 0;
        v2.available_for_sale = false;
        v2.position = 3;
        let mut v3 = variant("4400004", "Black", "10", "TR2-BLK-10");
        v3.inventory_quantity = 0;
        v3.inventory_policy = InventoryPolicy::Continue;
        v3.position = 4;
        Product {
            platform: Platform::Shopify,
            id: "9100001".into(),
            handle: "trail-runner".into(),
            title: "Trail Runner".into(),
            description_html: include_str!("../../tests/fixtures/feed/description.html").into(),
            vendor: Some("NorthPeak".into()),
            product_type: Some("Running Shoes".into()),
            tags: vec!["trail".into(), "sale-excluded".into(), "men".into()],
            status: ProductStatus::Active,
            published: true,
            url: Some(url("https://northpeak.example/products/trail-runner")),
            category: Some("Apparel & Accessories > Shoes > Athletic Shoes".into()),
            options: vec![
                ProductOption {
                    name: "Color".into(),
                    values: vec!["Blue".into(), "Black".into()],
                },
                ProductOption {
                    name: "Size".into(),
                    values: vec!["9".into(), "10".into()],
                },
            ],
            media: vec![
                image("https://cdn.example/trail-runner.jpg", Some("Trail Runner")),
                blue,
                image("https://cdn.example/trail-runner-sole.jpg", None),
                image("https://cdn.example/trail-runner-side.jpg?v=1,2", Some("")),
            ],
            variants: vec![v0, v1, v2, v3],
            updated_at: Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap(),
        }
    }

    /// One untracked, option-less variant without SKU, barcode or vendor.
    pub(crate) fn single_untracked() -> Product {
        let mut p = simple("9100002", "5500001", "Gift Wrap", "gift-wrap");
        p.vendor = None;
        p.variants[0].requires_shipping = false;
        p
    }

    /// Tracked, zero stock, policy DENY: out of stock.
    pub(crate) fn out_of_stock_deny() -> Product {
        let mut p = simple("9100003", "6600001", "Merino Beanie", "merino-beanie");
        let v = &mut p.variants[0];
        v.inventory_tracked = true;
        v.inventory_quantity = 0;
        v.available_for_sale = false;
        v.price = usd(3500);
        v.sku = Some("MB-001".into());
        v.barcode = Some("96385074".into());
        p
    }

    /// Tracked, oversold, policy CONTINUE: backorder.
    pub(crate) fn backorder_continue() -> Product {
        let mut p = simple("9100004", "7700001", "Expedition Tent", "expedition-tent");
        p.category = Some("Sporting Goods > Outdoor Recreation > Camping > Tents".into());
        let v = &mut p.variants[0];
        v.inventory_tracked = true;
        v.inventory_quantity = -2;
        v.inventory_policy = InventoryPolicy::Continue;
        v.price = usd(49900);
        v.weight = Some(Weight {
            value: 4.2,
            unit: WeightUnit::Pounds,
        });
        p
    }

    /// No images anywhere: its row is invalid (`image_url` is required).
    pub(crate) fn missing_image() -> Product {
        let mut p = simple("9100005", "8800001", "Mystery Sample", "mystery-sample");
        p.media.clear();
        p
    }

    pub(crate) fn all() -> Vec<Product> {
        vec![
            apparel(),
            single_untracked(),
            out_of_stock_deny(),
            backorder_continue(),
            missing_image(),
        ]
    }

    /// Options for the NorthPeak test shop, checkout enabled, all policies.
    pub(crate) fn options() -> FeedOptions {
        FeedOptions {
            seller_name: "NorthPeak Outfitters".into(),
            seller_url: url("https://northpeak.example"),
            storefront_url: url("https://northpeak.example"),
            target_countries: vec!["US".into()],
            store_country: "US".into(),
            privacy_policy_url: Some(url("https://northpeak.example/policies/privacy-policy")),
            terms_of_service_url: Some(url("https://northpeak.example/policies/terms-of-service")),
            return_policy_url: Some(url("https://northpeak.example/policies/refund-policy")),
            shipping_policy_url: Some(url("https://northpeak.example/policies/shipping-policy")),
            checkout_eligible: true,
            url_params: vec![],
            accepts_returns: None,
            return_deadline_in_days: None,
        }
    }
}
