//! Which products go into a feed at all, and why the others do not.
//!
//! This module owns the product-level decision only (status, publication,
//! merchant exclusion filters, having variants). Whether an individual row is
//! acceptable to the agent is [`super::validate`]'s job.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{Product, ProductStatus};

/// Merchant-configured exclusions. Matching is case-insensitive and ignores
/// surrounding whitespace on both sides (`" Gift Card"` excludes the product
/// type `gift card`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedFilter {
    /// Products carrying any of these tags are left out.
    pub exclude_tags: Vec<String>,
    /// Products whose product type is one of these are left out.
    pub exclude_product_types: Vec<String>,
    /// Products whose vendor is one of these are left out.
    pub exclude_vendors: Vec<String>,
}

/// Why a product is not in the feed. `Display` is written for the merchant
/// ("why isn't my product showing?").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    /// The product is not active on its platform (draft, archived, …).
    NotActive(ProductStatus),
    /// The product is not published to the sales channel the feed is for.
    NotPublished,
    /// The product carries this excluded tag (as written on the product).
    ExcludedTag(String),
    /// The product's type (as written on the product) is excluded.
    ExcludedProductType(String),
    /// The product's vendor (as written on the product) is excluded.
    ExcludedVendor(String),
    /// The product has no variants, so nothing can be bought.
    NoVariants,
}

impl Exclusion {
    /// A short, stable code for metrics labels and APIs
    /// (`not_active`, `not_published`, `excluded_tag`, `excluded_product_type`,
    /// `excluded_vendor`, `no_variants`).
    pub fn code(&self) -> &'static str {
        match self {
            Exclusion::NotActive(_) => "not_active",
            Exclusion::NotPublished => "not_published",
            Exclusion::ExcludedTag(_) => "excluded_tag",
            Exclusion::ExcludedProductType(_) => "excluded_product_type",
            Exclusion::ExcludedVendor(_) => "excluded_vendor",
            Exclusion::NoVariants => "no_variants",
        }
    }
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::NotActive(status) => {
                let status = match status {
                    ProductStatus::Active => "active",
                    ProductStatus::Draft => "a draft",
                    ProductStatus::Archived => "archived",
                    ProductStatus::Unlisted => "unlisted",
                    ProductStatus::Other => "in a status this version does not sell",
                };
                write!(
                    f,
                    "the product is {status}; only active products are listed"
                )
            }
            Exclusion::NotPublished => f.write_str(
                "the product is not published to the sales channel this feed is built for",
            ),
            Exclusion::ExcludedTag(tag) => {
                write!(
                    f,
                    "the product is tagged `{tag}`, which the feed filter excludes"
                )
            }
            Exclusion::ExcludedProductType(kind) => write!(
                f,
                "the product type `{kind}` is excluded by the feed filter"
            ),
            Exclusion::ExcludedVendor(vendor) => {
                write!(f, "the vendor `{vendor}` is excluded by the feed filter")
            }
            Exclusion::NoVariants => f.write_str("the product has no variants to sell"),
        }
    }
}

/// The first reason `product` is left out of the feed, or `None` when it is
/// included. Checks run in this order: status, publication, variants,
/// vendor, product type, tags.
pub fn product_exclusion(product: &Product, filter: &FeedFilter) -> Option<Exclusion> {
    if product.status != ProductStatus::Active {
        return Some(Exclusion::NotActive(product.status));
    }
    if !product.published {
        return Some(Exclusion::NotPublished);
    }
    if product.variants.is_empty() {
        return Some(Exclusion::NoVariants);
    }
    if let Some(vendor) = &product.vendor
        && matches_any(vendor, &filter.exclude_vendors)
    {
        return Some(Exclusion::ExcludedVendor(vendor.clone()));
    }
    if let Some(kind) = &product.product_type
        && matches_any(kind, &filter.exclude_product_types)
    {
        return Some(Exclusion::ExcludedProductType(kind.clone()));
    }
    product
        .tags
        .iter()
        .find(|tag| matches_any(tag, &filter.exclude_tags))
        .map(|tag| Exclusion::ExcludedTag(tag.clone()))
}

fn matches_any(value: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| eq_caseless(value, p))
}

/// Case-insensitive (Unicode lower-case folding) equality of the trimmed
/// strings, without allocating.
fn eq_caseless(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::test_products;

    fn filter(tags: &[&str], types: &[&str], vendors: &[&str]) -> FeedFilter {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        FeedFilter {
            exclude_tags: owned(tags),
            exclude_product_types: owned(types),
            exclude_vendors: owned(vendors),
        }
    }

    #[test]
    fn active_published_products_with_variants_are_included() {
        let p = test_products::apparel();
        assert_eq!(product_exclusion(&p, &FeedFilter::default()), None);
    }

    #[test]
    fn each_exclusion_reason_is_reported() {
        let base = test_products::apparel();
        let none = FeedFilter::default();
        let cases: Vec<(Product, FeedFilter, Exclusion)> = vec![
            (
                Product {
                    status: ProductStatus::Draft,
                    ..base.clone()
                },
                none.clone(),
                Exclusion::NotActive(ProductStatus::Draft),
            ),
            (
                Product {
                    status: ProductStatus::Archived,
                    ..base.clone()
                },
                none.clone(),
                Exclusion::NotActive(ProductStatus::Archived),
            ),
            (
                Product {
                    published: false,
                    ..base.clone()
                },
                none.clone(),
                Exclusion::NotPublished,
            ),
            (
                Product {
                    variants: vec![],
                    ..base.clone()
                },
                none.clone(),
                Exclusion::NoVariants,
            ),
            (
                base.clone(),
                filter(&["SALE-EXCLUDED"], &[], &[]),
                Exclusion::ExcludedTag("sale-excluded".into()),
            ),
            (
                base.clone(),
                filter(&[], &["  running SHOES "], &[]),
                Exclusion::ExcludedProductType("Running Shoes".into()),
            ),
            (
                base.clone(),
                filter(&[], &[], &["northpeak"]),
                Exclusion::ExcludedVendor("NorthPeak".into()),
            ),
        ];
        for (product, filter, want) in cases {
            assert_eq!(product_exclusion(&product, &filter), Some(want));
        }
    }

    #[test]
    fn non_matching_filters_do_not_exclude() {
        let p = test_products::apparel();
        let f = filter(&["sale"], &["Running"], &["North"]);
        assert_eq!(product_exclusion(&p, &f), None);
    }

    #[test]
    fn matching_folds_non_ascii_case() {
        let mut p = test_products::apparel();
        p.vendor = Some("Öko Läufer".into());
        let f = filter(&[], &[], &["ÖKO LÄUFER"]);
        assert_eq!(
            product_exclusion(&p, &f),
            Some(Exclusion::ExcludedVendor("Öko Läufer".into()))
        );
    }

    #[test]
    fn status_is_checked_before_filters() {
        let p = Product {
            status: ProductStatus::Draft,
            ..test_products::apparel()
        };
        let f = filter(&["sale-excluded"], &[], &[]);
        assert_eq!(
            product_exclusion(&p, &f),
            Some(Exclusion::NotActive(ProductStatus::Draft))
        );
    }

    #[test]
    fn reasons_read_as_sentences_for_the_merchant() {
        assert_eq!(
            Exclusion::NotActive(ProductStatus::Draft).to_string(),
            "the product is a draft; only active products are listed"
        );
        assert_eq!(
            Exclusion::ExcludedTag("wholesale".into()).to_string(),
            "the product is tagged `wholesale`, which the feed filter excludes"
        );
        assert_eq!(Exclusion::NoVariants.code(), "no_variants");
    }
}
