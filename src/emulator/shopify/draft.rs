//! `draftOrderCalculate`: validates a `DraftOrderInput` against the catalog
//! and the shop's rules, then prices it with `pricing.rs`. Nothing is stored.
//!
//! Like Shopify it reports problems as `userErrors` (with the input path in
//! `field`, starting below `input`) and no calculated order: a line without
//! a known variant, a quantity below 1, a custom line without title or
//! price, an invalid address, a presentment currency the shop does not sell
//! in, a shipping rate handle that is not offered. Selling more than a
//! tracked `DENY` variant has in stock is not an error but a `WARNING`
//! alert, as on Shopify, since a draft does not claim stock.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::catalog::Catalog;
use super::data::{InventoryPolicy, Price, parse_gid};
use super::inputs::{AddressInput, MoneyInput, UserErr, err_at};
use super::pricing::{
    CartItem, CartPricing, Destination, PricingError, PricingRules, ShippingChoice,
};

/// `DraftOrderLineItemInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DraftLineInput {
    pub quantity: i64,
    #[serde(default)]
    pub variant_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub original_unit_price_with_currency: Option<MoneyInput>,
    #[serde(default)]
    pub requires_shipping: Option<bool>,
    #[serde(default)]
    pub taxable: Option<bool>,
    #[serde(default)]
    pub sku: Option<String>,
}

/// `ShippingLineInput`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShippingLineInput {
    #[serde(default)]
    pub price_with_currency: Option<MoneyInput>,
    #[serde(default)]
    pub shipping_rate_handle: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

/// `DraftOrderInput` (fields that do not affect the calculation, such as
/// `note` or `tags`, are accepted and ignored).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DraftOrderInput {
    #[serde(default)]
    pub accept_automatic_discounts: Option<bool>,
    #[serde(default)]
    pub billing_address: Option<AddressInput>,
    #[serde(default)]
    pub line_items: Option<Vec<DraftLineInput>>,
    #[serde(default)]
    pub presentment_currency_code: Option<String>,
    #[serde(default)]
    pub shipping_address: Option<AddressInput>,
    #[serde(default)]
    pub shipping_line: Option<ShippingLineInput>,
}

/// A `ResourceAlert` raised while calculating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alert {
    pub title: String,
    pub content: String,
    pub severity: &'static str,
}

/// One calculated line and what it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CalcLine {
    /// `(product id, variant id)`; `None` for a custom line.
    pub variant: Option<(u64, u64)>,
    pub title: String,
    pub variant_title: Option<String>,
    pub name: String,
    pub sku: Option<String>,
    pub vendor: Option<String>,
    pub quantity: i64,
    pub unit_price: Price,
    pub requires_shipping: bool,
    pub taxable: bool,
}

/// A calculated draft order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Calculation {
    pub currency: String,
    pub taxes_included: bool,
    pub accept_automatic_discounts: Option<bool>,
    pub lines: Vec<CalcLine>,
    pub pricing: CartPricing,
    pub alerts: Vec<Alert>,
}

/// What `draftOrderCalculate` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DraftOutcome {
    pub calculated: Option<Calculation>,
    pub user_errors: Vec<UserErr>,
}

/// The display name Shopify gives a line: the product title, plus the
/// variant title unless it is the default one.
pub(crate) fn line_name(product: &str, variant: Option<&str>) -> String {
    match variant {
        Some(v) => format!("{product} - {v}"),
        None => product.to_owned(),
    }
}

/// `variant.title` unless it is Shopify's placeholder for single-variant
/// products.
pub(crate) fn variant_title(title: &str) -> Option<String> {
    (title != "Default Title").then(|| title.to_owned())
}

/// Calculates a draft order.
pub(crate) fn calculate(
    catalog: &Catalog,
    rules: &PricingRules,
    input: &DraftOrderInput,
) -> DraftOutcome {
    let currency = catalog.shop.currency_code.clone();
    let mut errors = Vec::new();
    let mut alerts = Vec::new();
    if let Some(wanted) = &input.presentment_currency_code
        && *wanted != currency
    {
        errors.push(UserErr::at(
            &["presentmentCurrencyCode"],
            format!("Presentment currency {wanted} is not enabled for this shop"),
        ));
    }
    let mut lines = Vec::new();
    let mut wanted: BTreeMap<u64, (i64, String)> = BTreeMap::new();
    for (i, line) in input.line_items.iter().flatten().enumerate() {
        let index = i.to_string();
        let at = |field: &str, message: String| err_at(&["lineItems", &index], &[field], message);
        if line.quantity < 1 {
            errors.push(at(
                "quantity",
                "Quantity must be greater than or equal to 1".to_owned(),
            ));
        }
        match &line.variant_id {
            Some(gid) => {
                let found = parse_gid(gid, "ProductVariant").and_then(|vid| {
                    let product = catalog.get(catalog.variant_owner(vid)?)?;
                    let variant = product.variants.iter().find(|v| v.id == vid)?;
                    Some((product, variant))
                });
                let Some((product, variant)) = found else {
                    errors.push(at(
                        "variantId",
                        format!("Product variant {gid} does not exist"),
                    ));
                    continue;
                };
                let vtitle = variant_title(&variant.title);
                let name = line_name(&product.title, vtitle.as_deref());
                if variant.tracked && variant.inventory_policy == InventoryPolicy::Deny {
                    let entry = wanted.entry(variant.id).or_insert((0, name.clone()));
                    entry.0 += line.quantity.max(0);
                    let available = i64::from(variant.inventory_quantity.max(0));
                    if entry.0 > available && entry.0 - line.quantity.max(0) <= available {
                        alerts.push(Alert {
                            title: "Not enough inventory".to_owned(),
                            content: format!("{name}: only {available} available"),
                            severity: "WARNING",
                        });
                    }
                }
                lines.push(CalcLine {
                    variant: Some((product.id, variant.id)),
                    title: product.title.clone(),
                    variant_title: vtitle,
                    name,
                    sku: variant.sku.clone(),
                    vendor: Some(product.vendor.clone()),
                    quantity: line.quantity,
                    unit_price: variant.price,
                    requires_shipping: line.requires_shipping.unwrap_or(variant.requires_shipping),
                    taxable: line.taxable.unwrap_or(true),
                });
            }
            None => {
                let title = line.title.as_deref().map(str::trim).unwrap_or_default();
                if title.is_empty() {
                    errors.push(at("title", "Title can't be blank".to_owned()));
                }
                let field = vec![
                    "lineItems".to_owned(),
                    index.clone(),
                    "originalUnitPriceWithCurrency".to_owned(),
                ];
                let price = match &line.original_unit_price_with_currency {
                    Some(money) => money.price(&currency, &field),
                    None => Err(UserErr {
                        field,
                        message: "Price can't be blank for a custom line item".to_owned(),
                        code: None,
                    }),
                };
                match price {
                    Ok(unit_price) => lines.push(CalcLine {
                        variant: None,
                        title: title.to_owned(),
                        variant_title: None,
                        name: title.to_owned(),
                        sku: line.sku.clone(),
                        vendor: None,
                        quantity: line.quantity,
                        unit_price,
                        requires_shipping: line.requires_shipping.unwrap_or(true),
                        taxable: line.taxable.unwrap_or(true),
                    }),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    for (address, prefix) in [
        (&input.shipping_address, "shippingAddress"),
        (&input.billing_address, "billingAddress"),
    ] {
        if let Some(address) = address {
            errors.extend(rules.check_address(address, &[prefix]));
        }
    }
    let shipping = match &input.shipping_line {
        None => ShippingChoice::None,
        Some(line) => match (
            &line.shipping_rate_handle,
            &line.title,
            &line.price_with_currency,
        ) {
            (Some(handle), _, _) => ShippingChoice::Rate(handle.clone()),
            (None, Some(title), Some(money)) => {
                let field = ["shippingLine".to_owned(), "priceWithCurrency".to_owned()];
                match money.price(&currency, &field) {
                    Ok(price) => ShippingChoice::Custom {
                        title: title.clone(),
                        price,
                    },
                    Err(e) => {
                        errors.push(e);
                        ShippingChoice::None
                    }
                }
            }
            _ => {
                errors.push(UserErr::at(
                    &["shippingLine"],
                    "Shipping line needs a shipping rate handle, or a title and a price",
                ));
                ShippingChoice::None
            }
        },
    };
    if !errors.is_empty() {
        return DraftOutcome {
            calculated: None,
            user_errors: errors,
        };
    }
    let items: Vec<CartItem> = lines
        .iter()
        .map(|l| CartItem {
            unit_price: l.unit_price,
            quantity: l.quantity,
            taxable: l.taxable,
            requires_shipping: l.requires_shipping,
        })
        .collect();
    let ship_to = input.shipping_address.as_ref().and_then(Destination::of);
    let bill_to = input.billing_address.as_ref().and_then(Destination::of);
    let accept = input.accept_automatic_discounts.unwrap_or(false);
    match rules.price_cart(&items, ship_to, bill_to, &shipping, accept) {
        Ok(pricing) => DraftOutcome {
            calculated: Some(Calculation {
                currency,
                taxes_included: rules.taxes_included,
                accept_automatic_discounts: input.accept_automatic_discounts,
                lines,
                pricing,
                alerts,
            }),
            user_errors: Vec::new(),
        },
        Err(PricingError::UnknownShippingRate) => {
            let handle = match &shipping {
                ShippingChoice::Rate(h) => h.as_str(),
                _ => "",
            };
            DraftOutcome {
                calculated: None,
                user_errors: vec![UserErr::at(
                    &["shippingLine", "shippingRateHandle"],
                    format!("Shipping rate {handle} is not available for this draft order"),
                )],
            }
        }
    }
}
