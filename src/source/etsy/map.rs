//! Etsy wire shapes → domain types. Pure: no I/O.
//!
//! - One variant per enabled, non-deleted offering of a non-deleted
//!   product; disabled offerings produce no row.
//! - Item ids are `etsy-{listing_id}` plus the product's property value ids
//!   (stable across inventory edits, unlike Etsy's product and offering
//!   ids); the group is the listing.
//! - Prices are `amount / divisor` converted exactly into the currency's
//!   minor units with integer arithmetic; a price that would need rounding
//!   rejects the listing with an error naming it.
//! - A listing without an inventory record becomes one variant from the
//!   listing's own price and quantity.
//! - Descriptions are plain text on Etsy; they are escaped into HTML
//!   paragraphs for the domain's `description_html`.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use super::client::modified_at;
use super::error::EtsyError;
use super::wire;
use crate::domain::{
    Currency, InventoryPolicy, Media, Money, Platform, Product, ProductOption, ProductStatus,
    SelectedOption, ShopFacts, ShopPolicies, Variant, Weight, WeightUnit,
};

/// Every Etsy item id starts with this.
pub const ITEM_ID_PREFIX: &str = "etsy-";

/// Whether `id` is an item id of an Etsy listing (as the feed publishes
/// them). Shopify item ids are plain numbers and never match.
pub fn is_etsy_item_id(id: &str) -> bool {
    id.strip_prefix(ITEM_ID_PREFIX)
        .and_then(|rest| rest.split('-').next())
        .is_some_and(|listing| !listing.is_empty() && listing.bytes().all(|b| b.is_ascii_digit()))
}

/// A listing as a domain product.
#[derive(Debug, Clone)]
pub struct MappedListing {
    pub product: Product,
}

/// Converts an Etsy `{amount, divisor, currency_code}` exactly.
///
/// # Errors
/// [`EtsyError::Price`] when the value needs rounding in the currency's
/// minor unit, the divisor is not positive, the code is not ISO 4217, or the
/// result overflows.
pub fn offering_price(
    listing_id: u64,
    amount: i64,
    divisor: i64,
    currency_code: &str,
) -> Result<Money, EtsyError> {
    let fail = |source| EtsyError::Price {
        listing_id,
        amount,
        divisor,
        currency: currency_code.to_owned(),
        source,
    };
    let currency = Currency::parse(currency_code).map_err(fail)?;
    Money::from_fraction(amount, divisor, currency).map_err(fail)
}

fn price(listing_id: u64, m: &wire::Money) -> Result<Money, EtsyError> {
    offering_price(listing_id, m.amount, m.divisor, &m.currency_code)
}

/// Maps one listing (with its `images` and `inventory` includes).
///
/// # Errors
/// A price that cannot be converted exactly.
pub(super) fn map_listing(
    listing: &wire::Listing,
    shop_currency: Currency,
) -> Result<MappedListing, EtsyError> {
    let id = listing.listing_id;
    let mut options: Vec<ProductOption> = Vec::new();
    let mut variants: Vec<Variant> = Vec::new();
    let weight = weight(listing);
    let requires_shipping = listing.listing_type.as_deref() != Some("download");
    let products = listing
        .inventory
        .as_ref()
        .map(|i| i.products.as_slice())
        .unwrap_or_default();
    for product in products.iter().filter(|p| !p.is_deleted) {
        let selected: Vec<SelectedOption> = product
            .property_values
            .iter()
            .map(|pv| SelectedOption {
                name: property_name(pv),
                value: pv.values.join(", "),
            })
            .collect();
        for option in &selected {
            match options.iter_mut().find(|o| o.name == option.name) {
                Some(o) if !o.values.contains(&option.value) => o.values.push(option.value.clone()),
                Some(_) => {}
                None => options.push(ProductOption {
                    name: option.name.clone(),
                    values: vec![option.value.clone()],
                }),
            }
        }
        let offerings = product
            .offerings
            .iter()
            .filter(|o| !o.is_deleted && o.is_enabled);
        for (n, offering) in offerings.enumerate() {
            let mut item_id = item_id(id, &product.property_values);
            if n > 0 || variants.iter().any(|v| v.id == item_id) {
                // Not seen on Etsy (one offering per product), but ids must
                // stay unique within the feed.
                item_id = format!("{item_id}-o{}", offering.offering_id);
            }
            let title = if selected.is_empty() {
                listing.title.trim().to_owned()
            } else {
                selected
                    .iter()
                    .map(|o| o.value.as_str())
                    .collect::<Vec<_>>()
                    .join(" / ")
            };
            variants.push(Variant {
                id: item_id,
                title,
                sku: product.sku.clone().filter(|s| !s.trim().is_empty()),
                barcode: None,
                price: price(id, &offering.price)?,
                compare_at_price: None,
                inventory_tracked: true,
                inventory_quantity: offering.quantity,
                inventory_policy: InventoryPolicy::Deny,
                available_for_sale: offering.quantity > 0,
                selected_options: selected.clone(),
                weight,
                requires_shipping,
                media: Vec::new(),
                position: u32::try_from(variants.len() + 1).unwrap_or(u32::MAX),
            });
        }
    }
    if listing.inventory.is_none()
        && let Some(p) = &listing.price
    {
        let quantity = listing.quantity.unwrap_or(0);
        variants.push(Variant {
            id: format!("{ITEM_ID_PREFIX}{id}"),
            title: listing.title.trim().to_owned(),
            sku: None,
            barcode: None,
            price: price(id, p)?,
            compare_at_price: None,
            inventory_tracked: true,
            inventory_quantity: quantity,
            inventory_policy: InventoryPolicy::Deny,
            available_for_sale: quantity > 0,
            selected_options: Vec::new(),
            weight,
            requires_shipping,
            media: Vec::new(),
            position: 1,
        });
    }
    // A listing priced in another currency than the shop's would produce
    // rows the feed cannot compare; Etsy prices listings in the shop's
    // currency, so this only guards against surprises.
    if let Some(other) = variants.iter().find(|v| v.price.currency != shop_currency) {
        return Err(EtsyError::Price {
            listing_id: id,
            amount: other.price.amount,
            divisor: 1,
            currency: other.price.currency.to_string(),
            source: crate::domain::MoneyError::CurrencyMismatch(
                other.price.currency,
                shop_currency,
            ),
        });
    }
    let mut images: Vec<&wire::Image> = listing.images.iter().flatten().collect();
    images.sort_by_key(|i| (i.rank.unwrap_or(u32::MAX), i.listing_image_id));
    let media = images
        .into_iter()
        .filter_map(|i| {
            let url = i.url_fullxfull.as_deref().or(i.url_570xn.as_deref())?;
            Some(Media {
                url: Url::parse(url).ok()?,
                alt_text: i.alt_text.clone().filter(|a| !a.trim().is_empty()),
                width: i.full_width,
                height: i.full_height,
            })
        })
        .collect();
    let status = match listing.state.as_str() {
        "active" => ProductStatus::Active,
        "draft" => ProductStatus::Draft,
        "inactive" | "expired" | "sold_out" => ProductStatus::Unlisted,
        _ => ProductStatus::Other,
    };
    let updated_at: DateTime<Utc> = modified_at(listing);
    Ok(MappedListing {
        product: Product {
            platform: Platform::Etsy,
            id: id.to_string(),
            handle: id.to_string(),
            title: listing.title.trim().to_owned(),
            description_html: text_to_html(&listing.description),
            vendor: None,
            product_type: None,
            tags: listing.tags.clone(),
            status,
            published: listing.is_private != Some(true),
            url: listing.url.as_deref().and_then(|u| Url::parse(u).ok()),
            category: None,
            options,
            media,
            variants,
            updated_at,
        },
    })
}

fn property_name(pv: &wire::PropertyValue) -> String {
    pv.property_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("Property {}", pv.property_id))
}

/// `etsy-{listing}` plus one segment per property value: its value ids, or
/// (for values without ids) a short hash of the property and its text.
fn item_id(listing_id: u64, values: &[wire::PropertyValue]) -> String {
    let mut id = format!("{ITEM_ID_PREFIX}{listing_id}");
    for pv in values {
        id.push('-');
        if pv.value_ids.is_empty() {
            let digest = Sha256::digest(format!("{}={}", pv.property_id, pv.values.join(",")));
            for b in &digest[..4] {
                id.push_str(&format!("{b:02x}"));
            }
        } else {
            let ids: Vec<String> = pv.value_ids.iter().map(u64::to_string).collect();
            id.push_str(&ids.join("_"));
        }
    }
    id
}

fn weight(listing: &wire::Listing) -> Option<Weight> {
    let value = listing.item_weight.filter(|w| w.is_finite() && *w > 0.0)?;
    let unit = match listing.item_weight_unit.as_deref()? {
        "oz" => WeightUnit::Ounces,
        "lb" => WeightUnit::Pounds,
        "g" => WeightUnit::Grams,
        "kg" => WeightUnit::Kilograms,
        _ => return None,
    };
    Some(Weight { value, unit })
}

/// Plain text → escaped HTML paragraphs (blank lines split paragraphs,
/// single newlines become `<br>`).
fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str("<p>");
        for (i, line) in para.lines().enumerate() {
            if i > 0 {
                out.push_str("<br>");
            }
            for c in line.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    c => out.push(c),
                }
            }
        }
        out.push_str("</p>");
    }
    out
}

/// Shop facts from Etsy's shop record, with configured policy links.
///
/// # Errors
/// [`EtsyError::Http`] when the shop's currency or URL is unusable.
pub(super) fn shop_facts(
    shop: &wire::Shop,
    overrides: &ShopPolicies,
) -> Result<ShopFacts, EtsyError> {
    let bad = |message: String| EtsyError::Http {
        operation: "get_shop",
        status: 200,
        message,
    };
    let currency =
        Currency::parse(&shop.currency_code).map_err(|e| bad(format!("shop currency: {e}")))?;
    let url = shop
        .url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .map(|mut u| {
            // Etsy appends its own tracking parameters to shop URLs.
            u.set_query(None);
            u
        })
        .or_else(|| Url::parse(&format!("https://www.etsy.com/shop/{}", shop.shop_name)).ok())
        .ok_or_else(|| bad("the shop has no usable URL".into()))?;
    Ok(ShopFacts {
        name: if shop.shop_name.trim().is_empty() {
            shop.title.clone().unwrap_or_default()
        } else {
            shop.shop_name.clone()
        },
        url,
        currency,
        country: shop
            .shop_location_country_iso
            .as_deref()
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty()),
        ships_to: Vec::new(),
        policies: overrides.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(json: serde_json::Value) -> wire::Listing {
        serde_json::from_value(json).unwrap()
    }

    fn money(amount: i64, divisor: i64, code: &str) -> serde_json::Value {
        serde_json::json!({"amount": amount, "divisor": divisor, "currency_code": code})
    }

    fn variation_listing() -> wire::Listing {
        listing(serde_json::json!({
            "listing_id": 1001,
            "title": "Linen apron",
            "description": "Hand sewn.\n\nWash <cold> & dry flat.",
            "state": "active",
            "url": "https://www.etsy.com/listing/1001/linen-apron",
            "tags": ["apron"],
            "last_modified_timestamp": 1_700_000_000,
            "item_weight": 8.5, "item_weight_unit": "oz",
            "images": [
                {"listing_image_id": 2, "rank": 2, "url_fullxfull": "https://i.etsystatic.com/2.jpg"},
                {"listing_image_id": 1, "rank": 1, "url_fullxfull": "https://i.etsystatic.com/1.jpg", "alt_text": "Front"}
            ],
            "inventory": {"products": [
                {"product_id": 11, "sku": "AP-S", "offerings": [
                    {"offering_id": 111, "quantity": 3, "is_enabled": true, "price": money(2500, 100, "USD")}],
                 "property_values": [{"property_id": 100, "property_name": "Size", "value_ids": [501], "values": ["S"]}]},
                {"product_id": 12, "sku": "AP-M", "offerings": [
                    {"offering_id": 121, "quantity": 0, "is_enabled": true, "price": money(2750, 100, "USD")}],
                 "property_values": [{"property_id": 100, "property_name": "Size", "value_ids": [502], "values": ["M"]}]},
                {"product_id": 13, "sku": "AP-L", "offerings": [
                    {"offering_id": 131, "quantity": 5, "is_enabled": false, "price": money(2750, 100, "USD")}],
                 "property_values": [{"property_id": 100, "property_name": "Size", "value_ids": [503], "values": ["L"]}]},
                {"product_id": 14, "is_deleted": true, "offerings": [
                    {"offering_id": 141, "quantity": 5, "is_enabled": true, "price": money(2750, 100, "USD")}],
                 "property_values": [{"property_id": 100, "property_name": "Size", "value_ids": [504], "values": ["XL"]}]}
            ]}
        }))
    }

    #[test]
    fn enabled_offerings_become_variants_with_stable_ids_and_options() {
        let p = map_listing(&variation_listing(), Currency::USD)
            .unwrap()
            .product;
        assert_eq!(p.platform, Platform::Etsy);
        assert_eq!(p.id, "1001");
        let ids: Vec<&str> = p.variants.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["etsy-1001-501", "etsy-1001-502"]);
        assert!(ids.iter().all(|id| is_etsy_item_id(id)));
        assert_eq!(p.variants[0].price, Money::new(2500, Currency::USD));
        assert_eq!(p.variants[1].price, Money::new(2750, Currency::USD));
        assert_eq!(p.variants[1].inventory_quantity, 0);
        assert!(!p.variants[1].available_for_sale);
        assert_eq!(p.variants[0].sku.as_deref(), Some("AP-S"));
        assert_eq!(p.variants[0].selected_options[0].name, "Size");
        assert_eq!(p.variants[0].title, "S");
        // The disabled L offering is not sellable but its value is still an
        // option of the listing; the deleted XL product is gone entirely.
        assert_eq!(p.options[0].values, ["S", "M", "L"]);
        assert_eq!(p.media[0].alt_text.as_deref(), Some("Front"));
        assert_eq!(p.media[1].url.as_str(), "https://i.etsystatic.com/2.jpg");
        assert_eq!(
            p.description_html,
            "<p>Hand sewn.</p><p>Wash &lt;cold&gt; &amp; dry flat.</p>"
        );
        assert_eq!(
            p.variants[0].weight.map(|w| w.unit),
            Some(WeightUnit::Ounces)
        );
    }

    #[test]
    fn item_ids_survive_etsy_renumbering_products_and_offerings() {
        let before = map_listing(&variation_listing(), Currency::USD)
            .unwrap()
            .product;
        let mut renumbered = variation_listing();
        for (i, p) in renumbered
            .inventory
            .as_mut()
            .unwrap()
            .products
            .iter_mut()
            .enumerate()
        {
            p.offerings[0].offering_id = 9900 + i as u64;
        }
        let after = map_listing(&renumbered, Currency::USD).unwrap().product;
        let ids = |p: &Product| p.variants.iter().map(|v| v.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&before), ids(&after));
    }

    #[test]
    fn listings_without_inventory_use_the_listing_price() {
        let l = listing(serde_json::json!({
            "listing_id": 7, "title": "Print", "state": "active",
            "price": money(1500, 1, "JPY"), "quantity": 2
        }));
        let p = map_listing(&l, Currency::JPY).unwrap().product;
        assert_eq!(p.variants.len(), 1);
        assert_eq!(p.variants[0].id, "etsy-7");
        assert_eq!(p.variants[0].price, Money::new(1500, Currency::JPY));
    }

    #[test]
    fn prices_convert_exactly_across_divisors_and_currency_exponents() {
        let ok =
            |a, d, c: &str| offering_price(1, a, d, c).map(|m| (m.amount, m.currency.to_string()));
        assert_eq!(ok(2500, 100, "USD").unwrap(), (2500, "USD".into()));
        assert_eq!(ok(25, 1, "USD").unwrap(), (2500, "USD".into()));
        assert_eq!(ok(25000, 1000, "EUR").unwrap(), (2500, "EUR".into()));
        // Currencies without minor units.
        assert_eq!(ok(1500, 1, "JPY").unwrap(), (1500, "JPY".into()));
        assert_eq!(ok(150000, 100, "JPY").unwrap(), (1500, "JPY".into()));
        // Three-decimal currency.
        assert_eq!(ok(1250, 100, "KWD").unwrap(), (12500, "KWD".into()));
        for (a, d, c) in [
            (1999, 1000, "USD"),
            (150050, 100, "JPY"),
            (1, 3, "USD"),
            (5, 0, "USD"),
            (5, -100, "USD"),
            (5, 100, "U$D"),
        ] {
            let err = offering_price(42, a, d, c).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("listing 42") && text.contains(&format!("{a}/{d}")),
                "{text}"
            );
        }
        assert!(offering_price(1, i64::MAX, 1, "USD").is_err());
    }

    #[test]
    fn an_inexact_offering_price_rejects_the_listing() {
        let mut l = variation_listing();
        l.inventory.as_mut().unwrap().products[1].offerings[0]
            .price
            .divisor = 1000;
        l.inventory.as_mut().unwrap().products[1].offerings[0]
            .price
            .amount = 27_505;
        let err = map_listing(&l, Currency::USD).unwrap_err();
        assert!(
            matches!(
                err,
                EtsyError::Price {
                    listing_id: 1001,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn etsy_item_ids_are_recognised_and_shopify_ids_are_not() {
        assert!(is_etsy_item_id("etsy-123"));
        assert!(is_etsy_item_id("etsy-123-45_6-7"));
        assert!(!is_etsy_item_id("123456789"));
        assert!(!is_etsy_item_id("etsy-"));
        assert!(!is_etsy_item_id("etsy-abc"));
    }
}
