//! Webhook bodies: the REST Admin resource JSON Shopify sends for each
//! topic (order, fulfillment, refund, product, inventory level, product
//! publication, shop), built from the emulator's model.
//!
//! REST conventions, unlike GraphQL: numeric ids beside
//! `admin_graphql_api_id`, money as two-decimal strings with
//! `*_set` `{shop_money, presentment_money}` twins, lower-case enum values,
//! tags as one comma-separated string, timestamps with a UTC offset
//! (`2026-11-28T10:00:00+00:00`). The emulated shop has one location,
//! [`LOCATION_ID`], which holds all stock.

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};

use super::catalog::Catalog;
use super::data::{InventoryPolicy, MediaKind, Price, Product, ShopInfo, Variant, WeightUnit};
use super::lifecycle::{Fulfillment, FulfillmentLine, Refund};
use super::orders::{Address, Order, OrderLine};
use super::pricing::TaxAmount;
use super::webhooks::{Emitted, WebhookTopic};

/// The id of the shop's only location.
pub(crate) const LOCATION_ID: u64 = 71_230_000_001;

/// Inventory item ids sit at a fixed distance from their variant's id.
const INVENTORY_ITEM_OFFSET: u64 = 3_000_000_000_000;

/// The inventory item id of a variant.
pub(crate) fn inventory_item_id(variant_id: u64) -> u64 {
    variant_id + INVENTORY_ITEM_OFFSET
}

/// The variant whose inventory item is `item` (the inverse of
/// [`inventory_item_id`]).
pub(crate) fn variant_of_inventory_item(item: u64) -> Option<u64> {
    item.checked_sub(INVENTORY_ITEM_OFFSET).filter(|v| *v > 0)
}

/// A REST timestamp (`2026-11-28T10:00:00+00:00`).
pub(crate) fn rest_time(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Secs, false),
        None => "1970-01-01T00:00:00+00:00".to_owned(),
    }
}

fn money(p: Price) -> String {
    p.to_string()
}

fn money_set(p: Price, currency: &str) -> Value {
    let one = json!({ "amount": money(p), "currency_code": currency });
    json!({ "shop_money": one, "presentment_money": one })
}

fn tax_lines(taxes: &[TaxAmount], currency: &str) -> Value {
    Value::Array(
        taxes
            .iter()
            .map(|t| {
                json!({
                    "price": money(t.amount),
                    "rate": t.rate.as_fraction(),
                    "title": t.title,
                    "price_set": money_set(t.amount, currency),
                    "channel_liable": false,
                })
            })
            .collect(),
    )
}

fn address(a: &Address) -> Value {
    let name = [a.first_name.as_deref(), a.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    json!({
        "first_name": a.first_name,
        "last_name": a.last_name,
        "name": name,
        "company": a.company,
        "address1": a.address1,
        "address2": a.address2,
        "city": a.city,
        "province": a.province,
        "province_code": a.province_code,
        "country_code": a.country_code,
        "zip": a.zip,
        "phone": a.phone,
    })
}

fn grams(v: &Variant) -> i64 {
    let Some(w) = v.weight else { return 0 };
    let g = match w.unit {
        WeightUnit::Grams => w.value,
        WeightUnit::Kilograms => w.value * 1000.0,
        WeightUnit::Ounces => w.value * 28.349_523_125,
        WeightUnit::Pounds => w.value * 453.592_37,
    };
    g.round() as i64
}

fn line_item(order: &Order, line: &OrderLine, quantity: i64, catalog: &Catalog) -> Value {
    let cur = order.currency.as_str();
    let variant = line
        .product_id
        .zip(line.variant_id)
        .and_then(|(pid, vid)| catalog.get(pid)?.variants.iter().find(|v| v.id == vid));
    let fulfilled = order.fulfilled_quantity(line.id);
    let fulfillment_status = if fulfilled >= line.quantity {
        Some("fulfilled")
    } else if fulfilled > 0 {
        Some("partial")
    } else {
        None
    };
    json!({
        "id": line.id,
        "admin_graphql_api_id": format!("gid://shopify/LineItem/{}", line.id),
        "current_quantity": order.current_quantity(line),
        "fulfillable_quantity": order.unfulfilled_quantity(line.id),
        "fulfillment_service": "manual",
        "fulfillment_status": fulfillment_status,
        "gift_card": false,
        "grams": variant.map_or(0, grams),
        "name": line.name,
        "price": money(line.unit_price),
        "price_set": money_set(line.unit_price, cur),
        "product_exists": variant.is_some(),
        "product_id": line.product_id,
        "properties": [],
        "quantity": quantity,
        "requires_shipping": line.requires_shipping,
        "sku": line.sku,
        "taxable": line.taxable,
        "title": line.title,
        "total_discount": money(line.discount),
        "total_discount_set": money_set(line.discount, cur),
        "variant_id": line.variant_id,
        "variant_inventory_management": variant.filter(|v| v.tracked).map(|_| "shopify"),
        "variant_title": line.variant_title,
        "vendor": line.vendor,
        "tax_lines": tax_lines(&line.tax_lines, cur),
        "duties": [],
        "discount_allocations": if line.discount.0 > 0 {
            json!([{
                "amount": money(line.discount),
                "amount_set": money_set(line.discount, cur),
                "discount_application_index": 0,
            }])
        } else {
            json!([])
        },
    })
}

fn fulfillment_line(order: &Order, fl: &FulfillmentLine, catalog: &Catalog) -> Option<Value> {
    let line = order.line(fl.line_id)?;
    Some(line_item(order, line, fl.quantity, catalog))
}

/// The `fulfillments/create|update` body (also embedded in orders).
pub(crate) fn fulfillment_json(order: &Order, f: &Fulfillment, catalog: &Catalog) -> Value {
    let first = f.tracking.first();
    json!({
        "id": f.id,
        "admin_graphql_api_id": f.gid(),
        "created_at": rest_time(f.created_at),
        "location_id": LOCATION_ID,
        "name": f.name,
        "order_id": order.id,
        "origin_address": {},
        "receipt": {},
        "service": "manual",
        "shipment_status": f.shipment_status().map(|s| s.rest()),
        "status": f.status.rest(),
        "tracking_company": first.and_then(|t| t.company.clone()),
        "tracking_number": first.and_then(|t| t.number.clone()),
        "tracking_numbers": f.tracking.iter().filter_map(|t| t.number.clone()).collect::<Vec<_>>(),
        "tracking_url": first.and_then(|t| t.url.clone()),
        "tracking_urls": f.tracking.iter().filter_map(|t| t.url.clone()).collect::<Vec<_>>(),
        "updated_at": rest_time(f.updated_at),
        "line_items": f
            .lines
            .iter()
            .filter_map(|l| fulfillment_line(order, l, catalog))
            .collect::<Vec<_>>(),
    })
}

/// The `refunds/create` body (also embedded in orders).
pub(crate) fn refund_json(order: &Order, r: &Refund, catalog: &Catalog) -> Value {
    let cur = order.currency.as_str();
    let transactions: Vec<Value> = r
        .transactions
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "admin_graphql_api_id": format!("gid://shopify/OrderTransaction/{}", t.id),
                "amount": money(t.amount),
                "authorization": t.authorization_code,
                "created_at": rest_time(t.processed_at),
                "currency": cur,
                "gateway": t.gateway,
                "kind": t.kind.to_ascii_lowercase(),
                "order_id": order.id,
                "parent_id": order
                    .transactions
                    .iter()
                    .find(|p| p.kind == "SALE" || p.kind == "CAPTURE")
                    .map(|p| p.id),
                "processed_at": rest_time(t.processed_at),
                "status": t.status.to_ascii_lowercase(),
                "test": t.test,
            })
        })
        .collect();
    let lines: Vec<Value> = r
        .lines
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "line_item_id": l.line_id,
                "location_id": l.restock_type.restocks().then_some(LOCATION_ID),
                "quantity": l.quantity,
                "restock_type": l.restock_type.rest(),
                "subtotal": l.subtotal.0 as f64 / 100.0,
                "subtotal_set": money_set(l.subtotal, cur),
                "total_tax": l.total_tax.0 as f64 / 100.0,
                "total_tax_set": money_set(l.total_tax, cur),
                "line_item": order
                    .line(l.line_id)
                    .map(|line| line_item(order, line, line.quantity, catalog)),
            })
        })
        .collect();
    json!({
        "id": r.id,
        "admin_graphql_api_id": r.gid(),
        "created_at": rest_time(r.created_at),
        "note": r.note,
        "order_id": order.id,
        "processed_at": rest_time(r.processed_at),
        "restock": r.restock,
        "total_duties_set": money_set(Price(0), cur),
        "user_id": null,
        "order_adjustments": [],
        "transactions": transactions,
        "refund_line_items": lines,
        "refund_shipping_lines": [],
        "duties": [],
    })
}

/// The `orders/*` body.
pub(crate) fn order_json(order: &Order, catalog: &Catalog) -> Value {
    let cur = order.currency.as_str();
    let line_total: i64 = order.lines.iter().map(|l| l.total().0).sum();
    let refunded_tax: i64 = order
        .refunds
        .iter()
        .flat_map(|r| &r.lines)
        .map(|l| l.total_tax.0)
        .sum();
    let refunded_goods: i64 = order
        .refunds
        .iter()
        .flat_map(|r| &r.lines)
        .map(|l| l.subtotal.0)
        .sum();
    let current_subtotal = Price((order.subtotal.0 - refunded_goods).max(0));
    let current_tax = Price((order.total_tax.0 - refunded_tax).max(0));
    let outstanding = Price((order.total.0 - order.received().0).max(0));
    let tags = order.tags.join(", ");
    let shipping_lines: Vec<Value> = order
        .shipping_lines
        .iter()
        .enumerate()
        .map(|(i, s)| shipping_line(order, i, s))
        .collect();
    let mut head = json!({
        "id": order.id,
        "admin_graphql_api_id": order.gid(),
        "app_id": null,
        "browser_ip": null,
        "buyer_accepts_marketing": false,
        "cancel_reason": order.cancel_reason.map(|r| r.rest()),
        "cancelled_at": order.cancelled_at.map(rest_time),
        "cart_token": null,
        "checkout_id": null,
        "checkout_token": null,
        "closed_at": order.closed_at.map(rest_time),
        "confirmed": true,
        "contact_email": order.email,
        "created_at": rest_time(order.created_at),
        "currency": cur,
        "current_subtotal_price": money(current_subtotal),
        "current_subtotal_price_set": money_set(current_subtotal, cur),
        "current_total_discounts": money(order.total_discounts),
        "current_total_discounts_set": money_set(order.total_discounts, cur),
        "current_total_price": money(order.current_total()),
        "current_total_price_set": money_set(order.current_total(), cur),
        "current_total_tax": money(current_tax),
        "current_total_tax_set": money_set(current_tax, cur),
        "customer_locale": null,
        "discount_codes": order.discount_code.as_ref().map_or(json!([]), |code| json!([{
            "code": code,
            "amount": money(order.total_discounts),
            "type": "fixed_amount",
        }])),
        "email": order.email,
        "estimated_taxes": false,
        "financial_status": order.financial_status.to_ascii_lowercase(),
        "fulfillment_status": order.rest_fulfillment_status(),
        "name": order.name,
    });
    let tail = json!({
        "note": order.note,
        "note_attributes": order
            .custom_attributes
            .iter()
            .map(|(k, v)| json!({ "name": k, "value": v }))
            .collect::<Vec<_>>(),
        "number": order.number.saturating_sub(1000),
        "order_number": order.number,
        "phone": order.phone,
        "presentment_currency": cur,
        "processed_at": rest_time(order.processed_at),
        "source_identifier": order.source_identifier,
        "source_name": order.source_name,
        "subtotal_price": money(order.subtotal),
        "subtotal_price_set": money_set(order.subtotal, cur),
        "tags": tags,
        "tax_lines": tax_lines(&order.tax_lines, cur),
        "taxes_included": order.taxes_included,
        "test": order.test,
        "total_discounts": money(order.total_discounts),
        "total_discounts_set": money_set(order.total_discounts, cur),
        "total_line_items_price": money(Price(line_total)),
        "total_line_items_price_set": money_set(Price(line_total), cur),
        "total_outstanding": money(outstanding),
        "total_price": money(order.total),
        "total_price_set": money_set(order.total, cur),
        "total_shipping_price_set": money_set(order.total_shipping, cur),
        "total_tax": money(order.total_tax),
        "total_tax_set": money_set(order.total_tax, cur),
        "total_weight": 0,
        "updated_at": rest_time(order.updated_at),
        "billing_address": order.billing_address.as_ref().map(address),
        "shipping_address": order.shipping_address.as_ref().map(address),
        "customer": null,
        "line_items": order
            .lines
            .iter()
            .map(|l| line_item(order, l, l.quantity, catalog))
            .collect::<Vec<_>>(),
        "fulfillments": order
            .fulfillments
            .iter()
            .map(|f| fulfillment_json(order, f, catalog))
            .collect::<Vec<_>>(),
        "refunds": order
            .refunds
            .iter()
            .map(|r| refund_json(order, r, catalog))
            .collect::<Vec<_>>(),
        "shipping_lines": shipping_lines,
    });
    if let (Value::Object(head), Value::Object(tail)) = (&mut head, tail) {
        head.extend(tail);
    }
    head
}

fn shipping_line(order: &Order, i: usize, s: &super::orders::OrderShippingLine) -> Value {
    let cur = order.currency.as_str();
    json!({
        "id": order.id * 10 + i as u64,
        "code": s.code,
        "price": money(s.price),
        "price_set": money_set(s.price, cur),
        "discounted_price": money(s.price),
        "discounted_price_set": money_set(s.price, cur),
        "source": s.source,
        "title": s.title,
        "tax_lines": tax_lines(&s.tax_lines, cur),
    })
}

fn weight_unit(v: &Variant) -> &'static str {
    match v.weight.map(|w| w.unit) {
        Some(WeightUnit::Kilograms) => "kg",
        Some(WeightUnit::Ounces) => "oz",
        Some(WeightUnit::Pounds) => "lb",
        _ => "g",
    }
}

fn variant_json(p: &Product, v: &Variant, position: usize) -> Value {
    let option = |i: usize| v.selected_options.get(i).map(|o| o.value.clone());
    let image_id = v.media_ids.first().copied();
    json!({
        "id": v.id,
        "admin_graphql_api_id": v.gid(),
        "product_id": p.id,
        "title": v.title,
        "price": money(v.price),
        "compare_at_price": v.compare_at_price.map(money),
        "sku": v.sku,
        "barcode": v.barcode,
        "position": position,
        "inventory_policy": match v.inventory_policy {
            InventoryPolicy::Deny => "deny",
            InventoryPolicy::Continue => "continue",
        },
        "option1": option(0),
        "option2": option(1),
        "option3": option(2),
        "created_at": rest_time(p.created_at),
        "updated_at": rest_time(p.updated_at),
        "taxable": true,
        "fulfillment_service": "manual",
        "grams": grams(v),
        "weight": v.weight.map_or(0.0, |w| w.value),
        "weight_unit": weight_unit(v),
        "inventory_management": v.tracked.then_some("shopify"),
        "requires_shipping": v.requires_shipping,
        "inventory_item_id": inventory_item_id(v.id),
        "inventory_quantity": v.inventory_quantity,
        "old_inventory_quantity": v.inventory_quantity,
        "image_id": image_id,
    })
}

/// The `products/create|update` body.
pub(crate) fn product_json(p: &Product, online_store: Option<u64>) -> Value {
    let published = online_store.is_some_and(|id| p.publications.contains(&id));
    let images: Vec<Value> = p
        .media
        .iter()
        .filter_map(|m| match &m.kind {
            MediaKind::Image(image) => Some((m, image)),
            _ => None,
        })
        .enumerate()
        .map(|(i, (m, image))| {
            json!({
                "id": m.id,
                "admin_graphql_api_id": format!("gid://shopify/ProductImage/{}", m.id),
                "product_id": p.id,
                "position": i + 1,
                "created_at": rest_time(p.created_at),
                "updated_at": rest_time(p.updated_at),
                "alt": image.alt_text.clone().or_else(|| m.alt.clone()),
                "width": image.width,
                "height": image.height,
                "src": image.url,
                "variant_ids": p
                    .variants
                    .iter()
                    .filter(|v| v.media_ids.contains(&m.id))
                    .map(|v| v.id)
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "id": p.id,
        "admin_graphql_api_id": p.gid(),
        "title": p.title,
        "body_html": p.description_html,
        "vendor": p.vendor,
        "product_type": p.product_type,
        "created_at": rest_time(p.created_at),
        "handle": p.handle,
        "updated_at": rest_time(p.updated_at),
        "published_at": published.then(|| rest_time(p.created_at)),
        "template_suffix": null,
        "published_scope": "global",
        "tags": p.tags.join(", "),
        "status": p.status.as_str().to_ascii_lowercase(),
        "variants": p
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| variant_json(p, v, i + 1))
            .collect::<Vec<_>>(),
        "options": p
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| json!({
                "id": p.id * 10 + i as u64 + 1,
                "product_id": p.id,
                "name": o.name,
                "position": i + 1,
                "values": o.values,
            }))
            .collect::<Vec<_>>(),
        "image": images.first().cloned(),
        "images": images,
    })
}

/// The `products/delete` body.
pub(crate) fn product_delete_json(id: u64) -> Value {
    json!({ "id": id })
}

/// The `inventory_levels/update` body for a variant's stock at the shop's
/// location.
pub(crate) fn inventory_level_json(v: &Variant, updated_at: i64) -> Value {
    let item = inventory_item_id(v.id);
    json!({
        "inventory_item_id": item,
        "location_id": LOCATION_ID,
        "available": v.inventory_quantity,
        "updated_at": rest_time(updated_at),
        "admin_graphql_api_id": format!(
            "gid://shopify/InventoryLevel/{LOCATION_ID}?inventory_item_id={item}"
        ),
    })
}

/// The id of a product's listing on a publication (`ProductPublication`).
fn product_publication_id(product_id: u64, publication_id: u64) -> u64 {
    product_id * 100 + publication_id % 100
}

/// The `product_publications/create|update` body.
pub(crate) fn product_publication_json(p: &Product, publication_id: u64) -> Value {
    json!({
        "id": product_publication_id(p.id, publication_id),
        "publication_id": publication_id,
        "published_at": rest_time(p.updated_at),
        "published": true,
        "created_at": rest_time(p.updated_at),
        "updated_at": rest_time(p.updated_at),
        "product_id": p.id,
    })
}

/// The `product_publications/delete` body.
pub(crate) fn product_publication_delete_json(product_id: u64, publication_id: u64) -> Value {
    json!({ "id": product_publication_id(product_id, publication_id) })
}

/// The `app/uninstalled` (shop) body.
pub(crate) fn shop_json(shop: &ShopInfo) -> Value {
    json!({
        "id": shop.id,
        "name": shop.name,
        "domain": shop.primary_domain_host,
        "myshopify_domain": shop.myshopify_domain,
        "country_code": shop.country_code,
        "currency": shop.currency_code,
        "primary_locale": "en",
        "plan_name": "basic",
        "taxes_included": false,
    })
}

/// The events of one product change: `products/create|update|delete`,
/// `inventory_levels/update` for each variant whose stock moved, and
/// `product_publications/create|delete` for each channel joined or left.
pub(crate) fn product_events(
    before: Option<&Product>,
    after: Option<&Product>,
    online_store: Option<u64>,
) -> Vec<Emitted> {
    use WebhookTopic as T;
    let mut out = Vec::new();
    match (before, after) {
        (None, None) => {}
        (None, Some(p)) => {
            out.push(Emitted::new(
                T::ProductsCreate,
                product_json(p, online_store),
            ));
            for publication in &p.publications {
                out.push(Emitted::new(
                    T::ProductPublicationsCreate,
                    product_publication_json(p, *publication),
                ));
            }
        }
        (Some(p), None) => {
            out.push(Emitted::new(T::ProductsDelete, product_delete_json(p.id)));
            for publication in &p.publications {
                out.push(Emitted::new(
                    T::ProductPublicationsDelete,
                    product_publication_delete_json(p.id, *publication),
                ));
            }
        }
        (Some(old), Some(new)) => {
            out.push(Emitted::new(
                T::ProductsUpdate,
                product_json(new, online_store),
            ));
            for v in &new.variants {
                let was = old.variants.iter().find(|o| o.id == v.id);
                if was.is_none_or(|o| o.inventory_quantity != v.inventory_quantity) {
                    out.push(Emitted::new(
                        T::InventoryLevelsUpdate,
                        inventory_level_json(v, new.updated_at),
                    ));
                }
            }
            for publication in new.publications.difference(&old.publications) {
                out.push(Emitted::new(
                    T::ProductPublicationsCreate,
                    product_publication_json(new, *publication),
                ));
            }
            for publication in old.publications.difference(&new.publications) {
                out.push(Emitted::new(
                    T::ProductPublicationsDelete,
                    product_publication_delete_json(new.id, *publication),
                ));
            }
        }
    }
    out
}

/// Adds `quantity` to each tracked variant's stock and returns the events
/// (products grouped, so each product announces once).
pub(crate) fn restock(catalog: &mut Catalog, items: &[(u64, i64)]) -> Vec<Emitted> {
    let mut by_product: std::collections::BTreeMap<u64, Vec<(u64, i64)>> =
        std::collections::BTreeMap::new();
    for (vid, quantity) in items.iter().filter(|(_, q)| *q != 0) {
        if let Some(pid) = catalog.variant_owner(*vid) {
            by_product.entry(pid).or_default().push((*vid, *quantity));
        }
    }
    let online_store = catalog.online_store_id();
    let mut out = Vec::new();
    for (pid, changes) in by_product {
        let Some(before) = catalog.get(pid).cloned() else {
            continue;
        };
        let tracked = |vid: u64| before.variants.iter().any(|v| v.id == vid && v.tracked);
        if !changes.iter().any(|(vid, _)| tracked(*vid)) {
            continue;
        }
        catalog.update(pid, |p| {
            for v in p.variants.iter_mut().filter(|v| v.tracked) {
                for (_, q) in changes.iter().filter(|(vid, _)| *vid == v.id) {
                    let total = i64::from(v.inventory_quantity) + q;
                    v.inventory_quantity = i32::try_from(total).unwrap_or(i32::MAX);
                }
            }
        });
        if let Some(after) = catalog.get(pid) {
            out.extend(product_events(Some(&before), Some(after), online_store));
        }
    }
    out
}
