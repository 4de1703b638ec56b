//! The ACP Product Feed API form (spec 2026-04-17, `schema.feed.json`
//! `$defs/Product` and `$defs/Variant`) of one product's valid flat rows.
//!
//! Built from rows that already passed [`super::validate`], so the two feed
//! forms always list the same variants with the same ids, prices and URLs.
//! Types here serialize exactly to the schema (which forbids unknown
//! properties); they are not meant for parsing.

use std::sync::Arc;

use serde::Serialize;

use super::map::{FeedOptions, FlatRow, is_default_options, product_url};
use crate::domain::{Availability, Currency, Media, Money, Product, Variant};

/// `$defs/Product`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcpProduct {
    /// The product's platform id (the flat feed's `group_id`).
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<AcpDescription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// All product images in platform order (the first is the featured one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<AcpMedia>,
    pub variants: Vec<AcpVariant>,
}

/// `$defs/Description`; only the plain form is emitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcpDescription {
    pub plain: String,
}

/// `$defs/Variant`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcpVariant {
    /// The flat feed's `item_id`: the id checkout accepts.
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub barcodes: Vec<AcpBarcode>,
    /// The price the buyer pays now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<AcpPrice>,
    /// The pre-discount price, only when it is higher than `price`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_price: Option<AcpPrice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<AcpAvailability>,
    /// Shared by all variants of a product.
    #[serde(
        skip_serializing_if = "is_empty_slice",
        serialize_with = "serialize_shared"
    )]
    pub categories: Arc<[AcpCategory]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variant_options: Vec<AcpVariantOption>,
    /// The row's primary image first, then the variant's other images.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<AcpMedia>,
    /// Shared by all variants of a feed.
    #[serde(serialize_with = "serialize_shared")]
    pub seller: Arc<AcpSeller>,
}

fn is_empty_slice<T>(items: &Arc<[T]>) -> bool {
    items.is_empty()
}

/// Serializes shared values as the value itself (serde's `rc` feature is not
/// enabled, so `Arc<T>` has no `Serialize` of its own).
fn serialize_shared<T: Serialize + ?Sized, S: serde::Serializer>(
    value: &Arc<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    (**value).serialize(s)
}

/// `$defs/Price`: integer minor units and an upper-case ISO 4217 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AcpPrice {
    pub amount: u64,
    pub currency: Currency,
}

impl AcpPrice {
    /// `None` for negative amounts, which the schema does not allow.
    pub fn from_money(money: Money) -> Option<Self> {
        Some(AcpPrice {
            amount: u64::try_from(money.amount).ok()?,
            currency: money.currency,
        })
    }
}

/// `$defs/Availability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AcpAvailability {
    pub available: bool,
    /// One of the spec's known values: `in_stock`, `backorder`, `preorder`,
    /// `out_of_stock`.
    pub status: &'static str,
}

impl AcpAvailability {
    /// `None` for [`Availability::Unknown`]: saying nothing beats guessing.
    pub fn from_availability(availability: Availability) -> Option<Self> {
        let (available, status) = match availability {
            Availability::InStock => (true, "in_stock"),
            Availability::Backorder => (true, "backorder"),
            Availability::PreOrder => (true, "preorder"),
            Availability::OutOfStock => (false, "out_of_stock"),
            Availability::Unknown => return None,
        };
        Some(AcpAvailability { available, status })
    }
}

/// `$defs/Barcode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcpBarcode {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

/// `$defs/Category`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcpCategory {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taxonomy: Option<&'static str>,
}

/// `$defs/VariantOption`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcpVariantOption {
    pub name: String,
    pub value: String,
}

/// `$defs/Media`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcpMedia {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

impl AcpMedia {
    fn image(media: &Media) -> Self {
        AcpMedia {
            kind: "image",
            url: media.url.as_str().to_owned(),
            alt_text: media
                .alt_text
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
            width: media.width,
            height: media.height,
        }
    }
}

/// `$defs/Seller`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcpSeller {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<AcpLink>,
}

/// `$defs/Link`. Types used: `privacy_policy`, `terms_of_service`,
/// `refund_policy` (the flat feed's `return_policy`), `shipping_policy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcpLink {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub url: String,
}

impl AcpSeller {
    /// The seller block shared by every variant of a feed.
    pub fn from_options(opts: &FeedOptions) -> Self {
        let links = [
            ("privacy_policy", "Privacy Policy", &opts.privacy_policy_url),
            (
                "terms_of_service",
                "Terms of Service",
                &opts.terms_of_service_url,
            ),
            ("refund_policy", "Refund Policy", &opts.return_policy_url),
            (
                "shipping_policy",
                "Shipping Policy",
                &opts.shipping_policy_url,
            ),
        ]
        .into_iter()
        .filter_map(|(kind, title, url)| {
            url.as_ref().map(|url| AcpLink {
                kind,
                title,
                url: url.as_str().to_owned(),
            })
        })
        .collect();
        AcpSeller {
            name: opts.seller_name.clone(),
            links,
        }
    }
}

/// The ACP form of `product`, with one variant per row of `rows` (in row
/// order). `rows` should be this product's rows that passed validation; a
/// row whose `item_id` matches no variant of `product` still becomes a
/// variant, without options or variant images. With no rows the product has
/// no variants, and callers should leave it out.
pub fn acp_product(product: &Product, rows: &[FlatRow], opts: &FeedOptions) -> AcpProduct {
    let seller = Arc::new(AcpSeller::from_options(opts));
    let mut categories = Vec::with_capacity(2);
    if let Some(category) = product.category.as_deref().map(str::trim)
        && !category.is_empty()
    {
        categories.push(AcpCategory {
            value: category.to_owned(),
            taxonomy: Some(product.platform.as_str()),
        });
    }
    if let Some(kind) = product.product_type.as_deref().map(str::trim)
        && !kind.is_empty()
    {
        categories.push(AcpCategory {
            value: kind.to_owned(),
            taxonomy: Some("merchant"),
        });
    }

    let categories: Arc<[AcpCategory]> = categories.into();

    let mut lookup = VariantLookup::new(&product.variants);
    let variants = rows
        .iter()
        .map(|row| acp_variant(row, lookup.find(&row.item_id), &categories, &seller))
        .collect();

    AcpProduct {
        id: product.id.clone(),
        title: product.title.trim().to_owned(),
        description: rows.first().map(|r| AcpDescription {
            plain: r.description.to_string(),
        }),
        url: product_url(product, opts),
        media: product.media.iter().map(AcpMedia::image).collect(),
        variants,
    }
}

fn acp_variant(
    row: &FlatRow,
    variant: Option<&Variant>,
    categories: &Arc<[AcpCategory]>,
    seller: &Arc<AcpSeller>,
) -> AcpVariant {
    let (price, list_price) = match row.sale_price {
        Some(sale) => (sale, Some(row.price)),
        None => (row.price, None),
    };
    let mut media = Vec::new();
    if let Some(primary) = &row.image_url {
        media.push(AcpMedia {
            kind: "image",
            url: primary.clone(),
            alt_text: None,
            width: None,
            height: None,
        });
    }
    if let Some(variant) = variant {
        for m in &variant.media {
            if media.first().is_some_and(|p| p.url == m.url.as_str()) {
                // Same image as the primary entry: keep its details.
                media[0] = AcpMedia::image(m);
            } else {
                media.push(AcpMedia::image(m));
            }
        }
    }
    let variant_options = variant
        .filter(|v| !is_default_options(&v.selected_options))
        .map(|v| {
            v.selected_options
                .iter()
                .map(|o| AcpVariantOption {
                    name: o.name.trim().to_owned(),
                    value: o.value.trim().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();

    AcpVariant {
        id: row.item_id.clone(),
        title: row.title.clone(),
        url: (!row.url.is_empty()).then(|| row.url.clone()),
        barcodes: row
            .gtin
            .iter()
            .map(|g| AcpBarcode {
                kind: "GTIN",
                value: g.clone(),
            })
            .collect(),
        price: AcpPrice::from_money(price),
        list_price: list_price.and_then(AcpPrice::from_money),
        availability: AcpAvailability::from_availability(row.availability),
        categories: Arc::clone(categories),
        variant_options,
        media,
        seller: Arc::clone(seller),
    }
}

/// Finds variants by id, expecting rows in variant order (the common case
/// costs one comparison per row).
struct VariantLookup<'a> {
    variants: &'a [Variant],
    next: usize,
}

impl<'a> VariantLookup<'a> {
    fn new(variants: &'a [Variant]) -> Self {
        VariantLookup { variants, next: 0 }
    }

    fn find(&mut self, id: &str) -> Option<&'a Variant> {
        let n = self.variants.len();
        (0..n)
            .map(|k| (self.next + k) % n)
            .find(|&i| self.variants[i].id == id)
            .map(|i| {
                self.next = i + 1;
                &self.variants[i]
            })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::{Value, json};

    use super::*;
    use crate::feed::map::flat_rows;
    use crate::feed::test_products::{self, options};
    use crate::feed::validate::{has_errors, validate_row};

    fn valid_rows(product: &Product, opts: &FeedOptions) -> Vec<FlatRow> {
        flat_rows(product, opts)
            .into_iter()
            .filter(|r| !has_errors(&validate_row(r)))
            .collect()
    }

    fn spec_dir() -> PathBuf {
        match std::env::var_os("ACP_SPEC_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/acp-spec"),
        }
    }

    /// A validator for `$defs/Product` of the 2026-04-17 feed schema, with
    /// `format` (uri) checks on.
    fn product_validator() -> jsonschema::Validator {
        let path = spec_dir().join("2026-04-17/schema.feed.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read the ACP feed schema at {} ({e}); set ACP_SPEC_DIR to the acp-spec directory",
                path.display()
            )
        });
        let mut schema: Value = serde_json::from_str(&text).expect("schema.feed.json is JSON");
        assert!(
            schema["$defs"]["Product"].is_object(),
            "schema.feed.json has no $defs/Product"
        );
        // The bundle has no root type: validate against its Product entry.
        schema["$ref"] = json!("#/$defs/Product");
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema.feed.json compiles")
    }

    #[test]
    fn acp_products_validate_against_the_feed_schema() {
        let validator = product_validator();
        let mut opts = options();
        opts.url_params = vec![("utm_source".into(), "chatgpt".into())];
        for product in test_products::all() {
            let rows = valid_rows(&product, &opts);
            let acp = acp_product(&product, &rows, &opts);
            let value = serde_json::to_value(&acp).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{}: {errors:#?}\n{value:#}",
                product.title
            );
        }
    }

    #[test]
    fn an_invalid_product_shape_is_rejected_by_the_schema_check() {
        // Guards against a validator that accepts everything.
        let validator = product_validator();
        let product = test_products::apparel();
        let rows = valid_rows(&product, &options());
        let mut value = serde_json::to_value(acp_product(&product, &rows, &options())).unwrap();
        value["variants"][0]["price"]["amount"] = json!("99.99");
        value["unexpected"] = json!(true);
        assert!(validator.iter_errors(&value).count() >= 2);
    }

    #[test]
    fn variants_mirror_the_valid_rows() {
        let product = test_products::apparel();
        let rows = valid_rows(&product, &options());
        let acp = acp_product(&product, &rows, &options());
        assert_eq!(acp.id, "9100001");
        assert_eq!(acp.variants.len(), rows.len());
        let ids: Vec<&str> = acp.variants.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["4400001", "4400002", "4400003", "4400004"]);
        let sale = &acp.variants[0];
        assert_eq!(sale.price.map(|p| p.amount), Some(9999));
        assert_eq!(sale.list_price.map(|p| p.amount), Some(12999));
        assert_eq!(
            sale.barcodes,
            vec![AcpBarcode {
                kind: "GTIN",
                value: "0036000291452".into()
            }]
        );
        assert_eq!(
            sale.variant_options,
            vec![
                AcpVariantOption {
                    name: "Color".into(),
                    value: "Blue".into()
                },
                AcpVariantOption {
                    name: "Size".into(),
                    value: "9".into()
                },
            ]
        );
        assert_eq!(
            sale.media[0].url,
            "https://cdn.example/trail-runner-blue.jpg"
        );
        assert_eq!(
            sale.media[0].alt_text.as_deref(),
            Some("Trail Runner in blue")
        );
        assert_eq!(sale.media.len(), 1);
        assert!(acp.variants[1].list_price.is_none());
        assert_eq!(
            acp.variants[2].availability,
            Some(AcpAvailability {
                available: false,
                status: "out_of_stock"
            })
        );
        assert_eq!(
            acp.variants[3].availability,
            Some(AcpAvailability {
                available: true,
                status: "backorder"
            })
        );
        assert!(acp.variants[2].barcodes.is_empty());
        assert_eq!(acp.media.len(), 4);
        assert_eq!(
            acp.url.as_deref(),
            Some("https://northpeak.example/products/trail-runner")
        );
    }

    #[test]
    fn seller_links_use_the_feed_schema_link_types() {
        let json = serde_json::to_value(AcpSeller::from_options(&options())).unwrap();
        let kinds: Vec<&str> = json["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "privacy_policy",
                "terms_of_service",
                "refund_policy",
                "shipping_policy"
            ]
        );
        assert_eq!(json["name"], "NorthPeak Outfitters");
    }

    #[test]
    fn categories_carry_their_taxonomy() {
        let product = test_products::apparel();
        let rows = valid_rows(&product, &options());
        let json = serde_json::to_value(acp_product(&product, &rows, &options())).unwrap();
        assert_eq!(
            json["variants"][0]["categories"],
            json!([
                {"value": "Apparel & Accessories > Shoes > Athletic Shoes", "taxonomy": "shopify"},
                {"value": "Running Shoes", "taxonomy": "merchant"}
            ])
        );
    }

    #[test]
    fn default_variants_have_no_options_and_money_is_minor_units() {
        let product = test_products::backorder_continue();
        let rows = valid_rows(&product, &options());
        let json = serde_json::to_value(acp_product(&product, &rows, &options())).unwrap();
        let variant = &json["variants"][0];
        assert!(variant.get("variant_options").is_none());
        assert_eq!(
            variant["price"],
            json!({"amount": 49900, "currency": "USD"})
        );
        assert_eq!(variant["title"], "Expedition Tent");
        assert_eq!(
            json["description"]["plain"],
            "Expedition Tent from NorthPeak."
        );
    }

    #[test]
    fn a_product_without_valid_rows_has_no_variants() {
        let product = test_products::missing_image();
        let rows = valid_rows(&product, &options());
        assert!(rows.is_empty());
        let acp = acp_product(&product, &rows, &options());
        assert!(acp.variants.is_empty());
        assert!(acp.description.is_none());
    }

    #[test]
    fn rows_out_of_variant_order_still_find_their_variant() {
        let product = test_products::apparel();
        let mut rows = valid_rows(&product, &options());
        rows.reverse();
        let acp = acp_product(&product, &rows, &options());
        assert_eq!(acp.variants[0].id, "4400004");
        assert_eq!(acp.variants[0].variant_options[0].value, "Black");
        assert_eq!(acp.variants[3].variant_options[1].value, "9");
    }
}
