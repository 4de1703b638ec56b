//! Pure mapping from Shopify wire shapes to domain types.
//!
//! Inputs are the source-neutral shapes of `wire.rs` (built from either the
//! `graphql_client` types or bulk JSON lines) and `ShopInfo`'s response.
//! Money goes through `Money::parse_decimal` (never a float), ids are the
//! numeric tails of GIDs, HTML is kept as-is and the product `url` is only
//! `onlineStoreUrl` (the feed decides any fallback). No I/O, no logging.
//!
//! Media order: bulk output carries no media position and lists lines in
//! no particular order. Both paths put the product's `featuredMedia` (the
//! merchant's primary image) first, then order the other images by
//! ascending media id (upload order), keeping [`MEDIA_PER_PRODUCT`] per
//! product and [`MEDIA_PER_VARIANT`] per variant. Bulk and paged syncs of the
//! same catalog therefore produce identical products, except for products
//! with more images than a page fetches whose positions disagree with their
//! upload order (the paged sync sees only the first images by position).

use chrono::{DateTime, Utc};
use url::Url;

use super::error::MapError;
use super::gql::shop_info;
use super::wire::{WireImage, WireProduct, WireVariant};
use crate::domain::{
    Currency, InventoryPolicy, Media, Money, Platform, Product, ProductOption, ProductStatus,
    SelectedOption, ShopFacts, ShopPolicies, Variant, Weight, WeightUnit,
};

/// The numeric tail of a GID: `gid://shopify/ProductVariant/123` → `"123"`.
/// Query strings some GIDs carry (`…/123?foo=1`) are dropped.
///
/// # Errors
/// When `gid` is not of the form `gid://shopify/{Type}/{id}`.
pub fn numeric_id(gid: &str) -> Result<&str, MapError> {
    let (_, id) = gid_parts(gid)?;
    Ok(id)
}

/// `(type, id)` of a GID: `gid://shopify/Product/1` → `("Product", "1")`.
///
/// # Errors
/// When `gid` is not of the form `gid://shopify/{Type}/{id}`.
pub fn gid_parts(gid: &str) -> Result<(&str, &str), MapError> {
    let rest = gid
        .strip_prefix("gid://shopify/")
        .ok_or_else(|| MapError::Gid(gid.to_owned()))?;
    let (kind, id) = rest
        .split_once('/')
        .ok_or_else(|| MapError::Gid(gid.to_owned()))?;
    let id = id.split_once('?').map_or(id, |(id, _)| id);
    if kind.is_empty() || id.is_empty() || id.contains('/') {
        return Err(MapError::Gid(gid.to_owned()));
    }
    Ok((kind, id))
}

fn parse_url(value: &str) -> Result<Url, MapError> {
    Url::parse(value).map_err(|source| MapError::Url {
        value: value.to_owned(),
        source,
    })
}

fn parse_money(value: &str, currency: Currency) -> Result<Money, MapError> {
    Money::parse_decimal(value, currency).map_err(MapError::Money)
}

/// Parses an RFC 3339 `DateTime` scalar into UTC.
///
/// # Errors
/// When the string is not RFC 3339.
pub fn parse_timestamp(value: &str) -> Result<DateTime<Utc>, MapError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| MapError::Timestamp(value.to_owned()))
}

/// Maps a `ProductStatus` enum name; unknown names become
/// [`ProductStatus::Other`].
pub fn product_status(name: &str) -> ProductStatus {
    match name {
        "ACTIVE" => ProductStatus::Active,
        "DRAFT" => ProductStatus::Draft,
        "ARCHIVED" => ProductStatus::Archived,
        "UNLISTED" => ProductStatus::Unlisted,
        _ => ProductStatus::Other,
    }
}

/// Maps `ProductVariantInventoryPolicy`; anything but `CONTINUE` is the safe
/// `Deny` (never oversell on a value we do not understand).
pub fn inventory_policy(name: &str) -> InventoryPolicy {
    match name {
        "CONTINUE" => InventoryPolicy::Continue,
        _ => InventoryPolicy::Deny,
    }
}

/// Maps a `WeightUnit` enum name; unknown units give no weight.
pub fn weight_unit(name: &str) -> Option<WeightUnit> {
    match name {
        "GRAMS" => Some(WeightUnit::Grams),
        "KILOGRAMS" => Some(WeightUnit::Kilograms),
        "OUNCES" => Some(WeightUnit::Ounces),
        "POUNDS" => Some(WeightUnit::Pounds),
        _ => None,
    }
}

/// Images kept per product (paging fetches exactly this many).
pub(crate) const MEDIA_PER_PRODUCT: usize = 5;
/// Images kept per variant (paging fetches exactly this many).
pub(crate) const MEDIA_PER_VARIANT: usize = 1;

/// Orders images: the featured one first, then by ascending numeric media
/// id (images without a usable id last, in their given order); keeps the
/// first `limit`.
fn order_images(
    mut images: Vec<WireImage>,
    featured: Option<&str>,
    limit: usize,
) -> Vec<WireImage> {
    images.sort_by_key(|image| {
        let is_featured = featured.is_some() && image.id.as_deref() == featured;
        let id = image
            .id
            .as_deref()
            .and_then(|gid| numeric_id(gid).ok())
            .and_then(|id| id.parse::<u64>().ok());
        match (is_featured, id) {
            (true, _) => (0, 0),
            (false, Some(id)) => (1, id),
            (false, None) => (2, 0),
        }
    });
    images.truncate(limit);
    images
}

fn dimension(value: Option<i64>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

fn non_empty(value: String) -> Option<String> {
    if value.trim().is_empty() {
        None
    } else {
        Some(value)
    }
}

/// Maps one image.
///
/// # Errors
/// When its URL does not parse.
pub(crate) fn map_media(image: WireImage) -> Result<Media, MapError> {
    Ok(Media {
        url: parse_url(&image.url)?,
        alt_text: image.alt_text.and_then(non_empty),
        width: dimension(image.width),
        height: dimension(image.height),
    })
}

/// Maps one variant; prices are in the shop's `currency`.
///
/// # Errors
/// Malformed GID, money or media URL.
pub(crate) fn map_variant(v: WireVariant, currency: Currency) -> Result<Variant, MapError> {
    Ok(Variant {
        id: numeric_id(&v.id)?.to_owned(),
        title: v.title,
        sku: v.sku.and_then(non_empty),
        barcode: v.barcode.and_then(non_empty),
        price: parse_money(&v.price, currency)?,
        compare_at_price: v
            .compare_at_price
            .as_deref()
            .map(|p| parse_money(p, currency))
            .transpose()?,
        inventory_tracked: v.tracked,
        inventory_quantity: v.inventory_quantity.unwrap_or(0),
        inventory_policy: inventory_policy(&v.inventory_policy),
        available_for_sale: v.available_for_sale,
        selected_options: v
            .selected_options
            .into_iter()
            .map(|(name, value)| SelectedOption { name, value })
            .collect(),
        weight: v
            .weight
            .and_then(|(value, unit)| weight_unit(&unit).map(|unit| Weight { value, unit })),
        requires_shipping: v.requires_shipping,
        media: order_images(v.media, None, MEDIA_PER_VARIANT)
            .into_iter()
            .map(map_media)
            .collect::<Result<_, _>>()?,
        position: u32::try_from(v.position.max(0)).unwrap_or(u32::MAX),
    })
}

/// Maps one product with its attached variants (sorted by `position`) and
/// media (ordered as the module docs say); prices are in the shop's
/// `currency`.
///
/// # Errors
/// Malformed GID, money, timestamp or URL anywhere in the product.
pub(crate) fn map_product(p: WireProduct, currency: Currency) -> Result<Product, MapError> {
    let mut variants = p
        .variants
        .into_iter()
        .map(|v| map_variant(v, currency))
        .collect::<Result<Vec<_>, _>>()?;
    variants.sort_by(|a, b| a.position.cmp(&b.position).then_with(|| a.id.cmp(&b.id)));
    Ok(Product {
        platform: Platform::Shopify,
        id: numeric_id(&p.id)?.to_owned(),
        handle: p.handle,
        title: p.title,
        description_html: p.description_html,
        vendor: non_empty(p.vendor),
        product_type: non_empty(p.product_type),
        tags: p.tags,
        status: product_status(&p.status),
        published: p.published,
        url: p.online_store_url.as_deref().map(parse_url).transpose()?,
        category: p.category.and_then(non_empty),
        options: p
            .options
            .into_iter()
            .map(|(name, values)| ProductOption { name, values })
            .collect(),
        media: order_images(p.media, p.featured_media_id.as_deref(), MEDIA_PER_PRODUCT)
            .into_iter()
            .map(map_media)
            .collect::<Result<_, _>>()?,
        variants,
        updated_at: parse_timestamp(&p.updated_at)?,
    })
}

/// The schema name of a generated enum value (`CurrencyCode::USD` → `"USD"`),
/// using the `Serialize` impl `graphql_client` always generates for enums.
fn enum_name<T: serde::Serialize>(value: &T) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

/// Maps the `ShopInfo` response to [`ShopFacts`]. Policies of types the feed
/// does not use are ignored; a policy whose URL does not parse is left out
/// rather than failing the whole shop.
///
/// # Errors
/// When the currency or the primary domain URL is invalid.
pub(crate) fn map_shop(shop: shop_info::ShopInfoShop) -> Result<ShopFacts, MapError> {
    let currency_name = enum_name(&shop.currency_code).unwrap_or_default();
    let currency = Currency::parse(&currency_name).map_err(MapError::Currency)?;
    let mut policies = ShopPolicies::default();
    for policy in shop.shop_policies {
        let Ok(url) = parse_url(&policy.url) else {
            continue;
        };
        match policy.type_ {
            shop_info::ShopPolicyType::REFUND_POLICY => policies.refund = Some(url),
            shop_info::ShopPolicyType::PRIVACY_POLICY => policies.privacy = Some(url),
            shop_info::ShopPolicyType::TERMS_OF_SERVICE => policies.terms = Some(url),
            shop_info::ShopPolicyType::SHIPPING_POLICY => policies.shipping = Some(url),
            _ => {}
        }
    }
    Ok(ShopFacts {
        name: shop.name,
        url: parse_url(&shop.primary_domain.url)?,
        currency,
        country: shop
            .shop_address
            .country_code_v2
            .as_ref()
            .and_then(enum_name)
            .filter(|c| c != "ZZ"),
        ships_to: shop
            .ships_to_countries
            .iter()
            .filter_map(enum_name)
            .filter(|c| c != "ZZ")
            .collect(),
        policies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::shopify::gql::{ShopInfo, products_page};
    use crate::source::shopify::wire::{BulkMediaLine, BulkProductLine, BulkVariantLine};
    use graphql_client::{GraphQLQuery, Response};

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/shopify/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    #[test]
    fn gids_yield_their_numeric_tail() {
        assert_eq!(
            numeric_id("gid://shopify/ProductVariant/123").unwrap(),
            "123"
        );
        assert_eq!(
            gid_parts("gid://shopify/Product/9?variant=2").unwrap(),
            ("Product", "9")
        );
        for bad in [
            "123",
            "gid://shopify/Product",
            "gid://shopify/Product/",
            "gid://other/P/1",
        ] {
            assert!(numeric_id(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn unknown_statuses_policies_and_units_map_to_safe_values() {
        assert_eq!(product_status("ACTIVE"), ProductStatus::Active);
        assert_eq!(product_status("UNLISTED"), ProductStatus::Unlisted);
        assert_eq!(product_status("SOMETHING_NEW"), ProductStatus::Other);
        assert_eq!(inventory_policy("CONTINUE"), InventoryPolicy::Continue);
        assert_eq!(inventory_policy("WHATEVER"), InventoryPolicy::Deny);
        assert_eq!(weight_unit("KILOGRAMS"), Some(WeightUnit::Kilograms));
        assert_eq!(weight_unit("STONES"), None);
    }

    #[test]
    fn products_page_fixture_maps_to_domain_products() {
        let body = fixture("products_page.json");
        let response: Response<products_page::ResponseData> = serde_json::from_str(&body).unwrap();
        let nodes = response.data.unwrap().products.nodes;
        let products: Vec<Product> = nodes
            .into_iter()
            .map(|n| map_product(WireProduct::from(n), Currency::USD).unwrap())
            .collect();
        assert_eq!(products.len(), 2);

        let shirt = &products[0];
        assert_eq!(shirt.id, "1001");
        assert_eq!(shirt.handle, "linen-shirt");
        assert_eq!(shirt.status, ProductStatus::Active);
        assert!(shirt.published);
        assert_eq!(
            shirt.url.as_ref().map(Url::as_str),
            Some("https://shop.example/products/linen-shirt")
        );
        assert_eq!(
            shirt.description_html,
            "<p>Soft <strong>linen</strong>.</p>"
        );
        assert_eq!(shirt.vendor.as_deref(), Some("Acme"));
        assert_eq!(
            shirt.category.as_deref(),
            Some("Apparel & Accessories > Clothing > Shirts")
        );
        assert_eq!(shirt.media.len(), 1, "the video is not an image");
        assert_eq!(shirt.media[0].width, Some(800));
        assert_eq!(shirt.updated_at.to_rfc3339(), "2026-11-20T10:00:00+00:00");
        // Variants come back sorted by position even though the page lists
        // position 2 first.
        let ids: Vec<&str> = shirt.variants.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["2001", "2002"]);
        let small = &shirt.variants[0];
        assert_eq!(small.price, Money::new(7999, Currency::USD));
        assert_eq!(
            small.compare_at_price,
            Some(Money::new(9900, Currency::USD))
        );
        assert_eq!(small.inventory_policy, InventoryPolicy::Deny);
        assert_eq!(
            small.weight,
            Some(Weight {
                value: 250.0,
                unit: WeightUnit::Grams
            })
        );
        assert_eq!(small.media.len(), 1);
        let large = &shirt.variants[1];
        assert_eq!(large.sku, None, "empty SKU is no SKU");
        assert_eq!(large.inventory_quantity, 0, "null quantity counts as zero");
        assert_eq!(large.inventory_policy, InventoryPolicy::Continue);
        assert_eq!(large.weight, None);

        let draft = &products[1];
        assert_eq!(draft.status, ProductStatus::Draft);
        assert_eq!(draft.updated_at.to_rfc3339(), "2026-11-21T07:30:00+00:00");
        assert_eq!(draft.url, None, "no onlineStoreUrl: the feed decides");
        assert!(!draft.published);
        assert_eq!(draft.vendor, None);
        assert_eq!(draft.category, None);
    }

    #[test]
    fn bulk_lines_fixture_maps_to_the_same_domain_shapes() {
        let body = fixture("bulk_products.jsonl");
        let mut lines = body.lines();
        let root: BulkProductLine = serde_json::from_str(lines.next().unwrap()).unwrap();
        let mut product = WireProduct::from(root);
        let mut variant_lines = Vec::new();
        for line in lines {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let parent = value["__parentId"].as_str().unwrap().to_owned();
            if value.get("price").is_some() {
                variant_lines.push(serde_json::from_value::<BulkVariantLine>(value).unwrap());
            } else if parent.contains("/Product/") {
                let media: BulkMediaLine = serde_json::from_value(value).unwrap();
                product.media.extend(Option::<WireImage>::from(media));
            }
        }
        product
            .variants
            .extend(variant_lines.into_iter().map(WireVariant::from));
        let product = map_product(product, Currency::EUR).unwrap();
        assert_eq!(product.id, "1001");
        assert!(product.published);
        assert_eq!(product.media.len(), 1);
        assert_eq!(product.variants.len(), 2);
        assert_eq!(product.variants[0].price, Money::new(7999, Currency::EUR));
        assert_eq!(
            product.variants[1].weight.map(|w| w.unit),
            Some(WeightUnit::Kilograms)
        );
    }

    #[test]
    fn shop_fixture_maps_to_shop_facts_with_policies() {
        let body = fixture("shop.json");
        let response: Response<<ShopInfo as GraphQLQuery>::ResponseData> =
            serde_json::from_str(&body).unwrap();
        let facts = map_shop(response.data.unwrap().shop).unwrap();
        assert_eq!(facts.name, "Acme Linen");
        assert_eq!(facts.url.as_str(), "https://shop.example/");
        assert_eq!(facts.currency, Currency::USD);
        assert_eq!(facts.country.as_deref(), Some("US"));
        assert_eq!(facts.ships_to, ["US", "CA", "DE"]);
        assert_eq!(
            facts.policies.refund.as_ref().map(Url::as_str),
            Some("https://shop.example/policies/refund-policy")
        );
        assert!(facts.policies.privacy.is_some());
        assert!(facts.policies.terms.is_some());
        assert_eq!(
            facts.policies.shipping, None,
            "no shipping policy published"
        );
    }

    #[test]
    fn images_are_ordered_featured_first_then_by_media_id_and_capped() {
        let image = |id: Option<u64>| WireImage {
            id: id.map(|i| format!("gid://shopify/MediaImage/{i}")),
            url: format!("https://cdn.example/{}.jpg", id.unwrap_or(0)),
            alt_text: None,
            width: None,
            height: None,
        };
        let ids = |images: Vec<WireImage>| -> Vec<Option<String>> {
            images.into_iter().map(|i| i.id).collect()
        };
        let mixed = vec![
            image(None),
            image(Some(30)),
            image(Some(4)),
            image(Some(100)),
            image(Some(7)),
        ];
        let gid = |i: u64| Some(format!("gid://shopify/MediaImage/{i}"));
        assert_eq!(
            ids(order_images(mixed.clone(), None, 10)),
            [gid(4), gid(7), gid(30), gid(100), None]
        );
        assert_eq!(ids(order_images(mixed.clone(), None, 2)), [gid(4), gid(7)]);
        // The merchant's featured image leads whatever its id.
        let featured = gid(100).unwrap();
        assert_eq!(
            ids(order_images(mixed, Some(&featured), 3)),
            [gid(100), gid(4), gid(7)]
        );
    }

    #[test]
    fn malformed_money_is_an_error_not_a_rounding() {
        let variant = WireVariant {
            id: "gid://shopify/ProductVariant/1".into(),
            title: "Default".into(),
            sku: None,
            barcode: None,
            price: "10.005".into(),
            compare_at_price: None,
            inventory_quantity: Some(1),
            inventory_policy: "DENY".into(),
            available_for_sale: true,
            position: 1,
            selected_options: vec![],
            tracked: true,
            requires_shipping: true,
            weight: None,
            media: vec![],
        };
        assert!(matches!(
            map_variant(variant, Currency::USD),
            Err(MapError::Money(_))
        ));
    }
}
