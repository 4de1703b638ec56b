//! GraphQL objects of checkout pricing and orders (`CalculatedDraftOrder`,
//! `Order`, `MoneyBag`, `TaxLine`, …) and their field resolvers, plus the
//! `order`/`orders` query fields.
//!
//! Money is printed as Shopify prints `MoneyV2.amount` (`"10.0"`,
//! `"79.99"`); both `shopMoney` and `presentmentMoney` are in the shop
//! currency, the only one the emulated shop sells in.

use apollo_compiler::response::{JsonMap, JsonValue};

use super::catalog::{SortPos, SortValue};
use super::data::{Price, format_datetime, parse_gid};
use super::draft::{Alert, CalcLine, Calculation, DraftOutcome};
use super::inputs::{UserErr, decimal_string};
use super::order_create::OrderCreateOutcome;
use super::order_read;
use super::order_search::OrderQuery;
use super::orders::{Address, Order, OrderBook, OrderLine, OrderShippingLine, Transaction};
use super::page::{PageArgs, paginate_list};
use super::pricing::{OfferedRate, PricedShipping, TaxAmount};
use super::resolve::{Context, Obj, Resolved, connection};

/// One object of this module's part of the schema.
#[derive(Clone)]
pub(crate) enum Co<'a> {
    DraftPayload(&'a DraftOutcome),
    Calculated(&'a Calculation),
    CalcLine(&'a Calculation, &'a CalcLine, usize),
    CalcShipping(&'a Calculation, &'a PricedShipping),
    Rate(&'a OfferedRate, &'a str),
    Alert(&'a Alert),
    UserError(&'a UserErr),
    CreatePayload(&'a OrderCreateOutcome),
    CreateUserError(&'a UserErr),
    Order(&'a Order),
    Line(&'a Order, &'a OrderLine),
    OrderShipping(&'a Order, &'a OrderShippingLine),
    Transaction(&'a Order, &'a Transaction),
    Address(&'a Address),
    Attribute(&'a str, &'a str),
    Tax(&'a TaxAmount, &'a str),
    Bag(Price, &'a str),
    Money(Price, &'a str),
}

impl Co<'_> {
    /// The concrete GraphQL object type.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Co::DraftPayload(_) => "DraftOrderCalculatePayload",
            Co::Calculated(_) => "CalculatedDraftOrder",
            Co::CalcLine(..) => "CalculatedDraftOrderLineItem",
            Co::CalcShipping(..) | Co::OrderShipping(..) => "ShippingLine",
            Co::Rate(..) => "ShippingRate",
            Co::Alert(_) => "ResourceAlert",
            Co::UserError(_) => "UserError",
            Co::CreatePayload(_) => "OrderCreatePayload",
            Co::CreateUserError(_) => "OrderCreateUserError",
            Co::Order(_) => "Order",
            Co::Line(..) => "LineItem",
            Co::Transaction(..) => "OrderTransaction",
            Co::Address(_) => "MailingAddress",
            Co::Attribute(..) => "Attribute",
            Co::Tax(..) => "TaxLine",
            Co::Bag(..) => "MoneyBag",
            Co::Money(..) => "MoneyV2",
        }
    }

    /// The GID of a node object.
    pub(crate) fn gid(&self) -> Option<String> {
        match self {
            Co::Order(o) => Some(o.gid()),
            _ => None,
        }
    }
}

fn leaf<'a>(v: impl Into<JsonValue>) -> Result<Resolved<'a>, String> {
    Ok(Resolved::Leaf(v.into()))
}

fn opt_leaf<'a, T: Into<JsonValue>>(v: Option<T>) -> Result<Resolved<'a>, String> {
    Ok(v.map_or(Resolved::Null, |v| Resolved::Leaf(v.into())))
}

fn obj(co: Co<'_>) -> Result<Resolved<'_>, String> {
    Ok(Resolved::Object(Obj::Commerce(co)))
}

fn opt_obj(co: Option<Co<'_>>) -> Result<Resolved<'_>, String> {
    Ok(co.map_or(Resolved::Null, |co| Resolved::Object(Obj::Commerce(co))))
}

fn list<'a>(items: impl IntoIterator<Item = Co<'a>>) -> Result<Resolved<'a>, String> {
    Ok(Resolved::List(
        items
            .into_iter()
            .map(|c| Resolved::Object(Obj::Commerce(c)))
            .collect(),
    ))
}

fn strings<'a>(items: impl IntoIterator<Item = &'a String>) -> Result<Resolved<'a>, String> {
    Ok(Resolved::List(
        items
            .into_iter()
            .map(|s| Resolved::Leaf(s.as_str().into()))
            .collect(),
    ))
}

/// `first` of a plain list field (`taxLines(first:)`, `transactions(first:)`).
fn take_first(args: &JsonMap) -> usize {
    args.get("first")
        .and_then(|v| v.as_i64())
        .map_or(usize::MAX, |n| {
            usize::try_from(n.max(0)).unwrap_or(usize::MAX)
        })
}

/// The catalog product and variant a line refers to, if they still exist.
fn variant_obj<'a>(variant: Option<(u64, u64)>, cx: &Context<'a>) -> Option<Obj<'a>> {
    let (pid, vid) = variant?;
    let product = &**cx.catalog?.get(pid)?;
    let v = product.variants.iter().find(|v| v.id == vid)?;
    Some(Obj::Variant(product, v))
}

fn product_obj<'a>(product_id: Option<u64>, cx: &Context<'a>) -> Option<Obj<'a>> {
    Some(Obj::Product(&**cx.catalog?.get(product_id?)?))
}

fn from_obj<'a>(o: Option<Obj<'a>>) -> Result<Resolved<'a>, String> {
    Ok(o.map_or(Resolved::Null, Resolved::Object))
}

fn user_error_field<'a>(e: &'a UserErr, field: &str) -> Option<Result<Resolved<'a>, String>> {
    Some(match field {
        "field" => strings(&e.field),
        "message" => leaf(e.message.as_str()),
        _ => return None,
    })
}

/// Resolves one field of a commerce object.
pub(crate) fn resolve<'a>(
    co: &Co<'a>,
    field: &str,
    args: &JsonMap,
    cx: &Context<'a>,
) -> Result<Resolved<'a>, String> {
    let unknown = || {
        Err(format!(
            "Field '{field}' doesn't exist on type '{}'",
            co.type_name()
        ))
    };
    match *co {
        Co::DraftPayload(outcome) => match field {
            "calculatedDraftOrder" => opt_obj(outcome.calculated.as_ref().map(Co::Calculated)),
            "userErrors" => list(outcome.user_errors.iter().map(Co::UserError)),
            _ => unknown(),
        },
        Co::UserError(e) => user_error_field(e, field).unwrap_or_else(unknown),
        Co::CreateUserError(e) => match field {
            "code" => opt_leaf(e.code),
            _ => user_error_field(e, field).unwrap_or_else(unknown),
        },
        Co::Calculated(c) => resolve_calculated(c, field).unwrap_or_else(unknown),
        Co::CalcLine(c, line, i) => {
            let priced = &c.pricing.lines[i];
            let cur = c.currency.as_str();
            match field {
                "custom" => leaf(line.variant.is_none()),
                "name" => leaf(line.name.as_str()),
                "title" => leaf(line.title.as_str()),
                "variantTitle" => opt_leaf(line.variant_title.as_deref()),
                "sku" => opt_leaf(line.sku.as_deref()),
                "vendor" => opt_leaf(line.vendor.as_deref()),
                "quantity" => leaf(line.quantity),
                "requiresShipping" => leaf(line.requires_shipping),
                "taxable" => leaf(line.taxable),
                "originalUnitPriceSet" => obj(Co::Bag(line.unit_price, cur)),
                "originalTotalSet" => obj(Co::Bag(priced.base, cur)),
                "totalDiscountSet" => obj(Co::Bag(priced.discount, cur)),
                "discountedTotalSet" => obj(Co::Bag(Price(priced.base.0 - priced.discount.0), cur)),
                "variant" => from_obj(variant_obj(line.variant, cx)),
                "product" => from_obj(product_obj(line.variant.map(|v| v.0), cx)),
                _ => unknown(),
            }
        }
        Co::CalcShipping(c, s) => {
            let cur = c.currency.as_str();
            match field {
                "code" | "title" => leaf(s.title.as_str()),
                "custom" => leaf(s.handle.is_none()),
                "id" => Ok(Resolved::Null),
                "shippingRateHandle" => opt_leaf(s.handle.as_deref()),
                "source" => opt_leaf(s.handle.is_some().then_some("shopify")),
                "originalPriceSet" | "discountedPriceSet" => obj(Co::Bag(s.price, cur)),
                "taxLines" => list(s.tax_lines.iter().map(|t| Co::Tax(t, cur))),
                _ => unknown(),
            }
        }
        Co::Rate(r, cur) => match field {
            "handle" => leaf(r.handle.as_str()),
            "title" => leaf(r.title.as_str()),
            "price" => obj(Co::Money(r.price, cur)),
            _ => unknown(),
        },
        Co::Alert(a) => match field {
            "title" => leaf(a.title.as_str()),
            "content" => leaf(a.content.as_str()),
            "severity" => leaf(a.severity),
            _ => unknown(),
        },
        Co::CreatePayload(outcome) => match field {
            "order" => opt_obj(outcome.order.as_ref().map(Co::Order)),
            "userErrors" => list(outcome.user_errors.iter().map(Co::CreateUserError)),
            _ => unknown(),
        },
        Co::Order(o) => resolve_order(o, field, args)
            .or_else(|| order_read::order_field(o, field, args, cx))
            .unwrap_or_else(unknown),
        Co::Line(o, line) => {
            let cur = o.currency.as_str();
            match field {
                "id" => leaf(format!("gid://shopify/LineItem/{}", line.id)),
                "name" => leaf(line.name.as_str()),
                "title" => leaf(line.title.as_str()),
                "variantTitle" => opt_leaf(line.variant_title.as_deref()),
                "sku" => opt_leaf(line.sku.as_deref()),
                "vendor" => opt_leaf(line.vendor.as_deref()),
                "quantity" => leaf(line.quantity),
                "requiresShipping" => leaf(line.requires_shipping),
                "taxable" => leaf(line.taxable),
                "customAttributes" => list(std::iter::empty()),
                "originalUnitPriceSet" => obj(Co::Bag(line.unit_price, cur)),
                "originalTotalSet" => obj(Co::Bag(line.total(), cur)),
                "totalDiscountSet" => obj(Co::Bag(line.discount, cur)),
                "discountedTotalSet" => obj(Co::Bag(Price(line.total().0 - line.discount.0), cur)),
                "taxLines" => list(
                    line.tax_lines
                        .iter()
                        .take(take_first(args))
                        .map(|t| Co::Tax(t, cur)),
                ),
                "variant" => from_obj(variant_obj(line.product_id.zip(line.variant_id), cx)),
                "product" => from_obj(product_obj(line.product_id, cx)),
                _ => order_read::line_field(o, line, field).unwrap_or_else(unknown),
            }
        }
        Co::OrderShipping(o, s) => {
            let cur = o.currency.as_str();
            match field {
                "title" => leaf(s.title.as_str()),
                "code" => opt_leaf(s.code.as_deref()),
                "source" => opt_leaf(s.source.as_deref()),
                "custom" => leaf(s.source.as_deref() != Some("shopify")),
                "id" | "shippingRateHandle" => Ok(Resolved::Null),
                "originalPriceSet" | "discountedPriceSet" => obj(Co::Bag(s.price, cur)),
                "taxLines" => list(s.tax_lines.iter().map(|t| Co::Tax(t, cur))),
                _ => unknown(),
            }
        }
        Co::Transaction(o, t) => match field {
            "id" => leaf(format!("gid://shopify/OrderTransaction/{}", t.id)),
            "amountSet" => obj(Co::Bag(t.amount, o.currency.as_str())),
            "createdAt" => leaf(format_datetime(o.created_at)),
            "processedAt" => leaf(format_datetime(t.processed_at)),
            "gateway" => opt_leaf(t.gateway.as_deref()),
            "kind" => leaf(t.kind.as_str()),
            "status" => leaf(t.status.as_str()),
            "test" => leaf(t.test),
            _ => unknown(),
        },
        Co::Address(a) => match field {
            "address1" => opt_leaf(a.address1.as_deref()),
            "address2" => opt_leaf(a.address2.as_deref()),
            "city" => opt_leaf(a.city.as_deref()),
            "company" => opt_leaf(a.company.as_deref()),
            "countryCodeV2" => opt_leaf(a.country_code.as_deref()),
            "firstName" => opt_leaf(a.first_name.as_deref()),
            "lastName" => opt_leaf(a.last_name.as_deref()),
            "name" => {
                let parts: Vec<&str> = [a.first_name.as_deref(), a.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .filter(|p| !p.is_empty())
                    .collect();
                opt_leaf((!parts.is_empty()).then(|| parts.join(" ")))
            }
            "phone" => opt_leaf(a.phone.as_deref()),
            "province" => opt_leaf(a.province.as_deref()),
            "provinceCode" => opt_leaf(a.province_code.as_deref()),
            "zip" => opt_leaf(a.zip.as_deref()),
            _ => unknown(),
        },
        Co::Attribute(key, value) => match field {
            "key" => leaf(key),
            "value" => leaf(value),
            _ => unknown(),
        },
        Co::Tax(t, cur) => match field {
            "title" => leaf(t.title.as_str()),
            "rate" => leaf(t.rate.as_fraction()),
            "ratePercentage" => leaf(t.rate.as_percentage()),
            "priceSet" => obj(Co::Bag(t.amount, cur)),
            "channelLiable" => leaf(false),
            "source" => leaf("Shopify"),
            _ => unknown(),
        },
        Co::Bag(amount, cur) => match field {
            "shopMoney" | "presentmentMoney" => obj(Co::Money(amount, cur)),
            _ => unknown(),
        },
        Co::Money(amount, cur) => match field {
            "amount" => leaf(decimal_string(amount)),
            "currencyCode" => leaf(cur),
            _ => unknown(),
        },
    }
}

fn resolve_calculated<'a>(c: &'a Calculation, field: &str) -> Option<Result<Resolved<'a>, String>> {
    let p = &c.pricing;
    let cur = c.currency.as_str();
    let bag = |amount: Price| obj(Co::Bag(amount, cur));
    Some(match field {
        "acceptAutomaticDiscounts" => opt_leaf(c.accept_automatic_discounts),
        "alerts" => list(c.alerts.iter().map(Co::Alert)),
        "availableShippingRates" => list(p.rates.iter().map(|r| Co::Rate(r, cur))),
        "currencyCode" | "presentmentCurrencyCode" => leaf(cur),
        "lineItems" => list(
            c.lines
                .iter()
                .enumerate()
                .map(|(i, l)| Co::CalcLine(c, l, i)),
        ),
        "shippingLine" => opt_obj(p.shipping.as_ref().map(|s| Co::CalcShipping(c, s))),
        "taxLines" => list(p.tax_lines.iter().map(|t| Co::Tax(t, cur))),
        "taxesIncluded" => leaf(c.taxes_included),
        "totalQuantityOfLineItems" => leaf(c.lines.iter().map(|l| l.quantity).sum::<i64>()),
        "totalLineItemsPriceSet" => bag(p.items_base),
        "totalDiscountsSet" => bag(p.discount),
        "subtotalPriceSet" => bag(p.subtotal),
        "totalShippingPriceSet" => bag(p.shipping_total),
        "totalTaxSet" => bag(p.tax_total),
        "totalPriceSet" => bag(p.total),
        _ => return None,
    })
}

fn int_pos(i: usize, id: u64) -> SortPos {
    SortPos {
        value: SortValue::Int(i as i64),
        id,
    }
}

fn resolve_order<'a>(
    o: &'a Order,
    field: &str,
    args: &JsonMap,
) -> Option<Result<Resolved<'a>, String>> {
    let cur = o.currency.as_str();
    let bag = |amount: Price| obj(Co::Bag(amount, cur));
    Some(match field {
        "id" => leaf(o.gid()),
        "legacyResourceId" => leaf(o.id.to_string()),
        "name" => leaf(o.name.as_str()),
        "createdAt" => leaf(format_datetime(o.created_at)),
        "processedAt" => leaf(format_datetime(o.processed_at)),
        "currencyCode" => leaf(cur),
        "email" => opt_leaf(o.email.as_deref()),
        "phone" => opt_leaf(o.phone.as_deref()),
        "note" => opt_leaf(o.note.as_deref()),
        "tags" => strings(&o.tags),
        "sourceIdentifier" => opt_leaf(o.source_identifier.as_deref()),
        "sourceName" => opt_leaf(o.source_name.as_deref()),
        "test" => leaf(o.test),
        "taxesIncluded" => leaf(o.taxes_included),
        "displayFinancialStatus" => leaf(o.financial_status.as_str()),
        "customAttributes" => list(
            o.custom_attributes
                .iter()
                .map(|(k, v)| Co::Attribute(k.as_str(), v.as_str())),
        ),
        "shippingAddress" => opt_obj(o.shipping_address.as_ref().map(Co::Address)),
        "billingAddress" => opt_obj(o.billing_address.as_ref().map(Co::Address)),
        "taxLines" => list(o.tax_lines.iter().map(|t| Co::Tax(t, cur))),
        "transactions" => list(
            o.transactions
                .iter()
                .take(take_first(args))
                .map(|t| Co::Transaction(o, t)),
        ),
        "subtotalPriceSet" => bag(o.subtotal),
        "totalDiscountsSet" => bag(o.total_discounts),
        "totalShippingPriceSet" => bag(o.total_shipping),
        "totalTaxSet" => bag(o.total_tax),
        "totalPriceSet" => bag(o.total),
        "lineItems" => {
            let page_args = match PageArgs::from_args(args, false) {
                Ok(a) => a,
                Err(e) => return Some(Err(e)),
            };
            let items = o
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| (int_pos(i, l.id), Obj::Commerce(Co::Line(o, l))))
                .collect();
            connection(
                "LineItemConnection",
                "LineItemEdge",
                paginate_list(items, &page_args),
            )
        }
        "shippingLines" => {
            let page_args = match PageArgs::from_args(args, false) {
                Ok(a) => a,
                Err(e) => return Some(Err(e)),
            };
            let items = o
                .shipping_lines
                .iter()
                .enumerate()
                .map(|(i, s)| (int_pos(i, i as u64), Obj::Commerce(Co::OrderShipping(o, s))))
                .collect();
            connection(
                "ShippingLineConnection",
                "ShippingLineEdge",
                paginate_list(items, &page_args),
            )
        }
        _ => return None,
    })
}

/// `QueryRoot.order(id:)`: direct lookups never wait for the search index.
pub(crate) fn order_by_id<'a>(book: &'a OrderBook, args: &JsonMap) -> Result<Resolved<'a>, String> {
    let id = match args.get("id").and_then(|v| v.as_str()) {
        Some(text) if text.starts_with("gid://") || text.parse::<u64>().is_ok() => {
            parse_gid(text, "Order")
        }
        Some(text) => return Err(format!("Invalid global id '{text}'")),
        None => None,
    };
    opt_obj(id.and_then(|id| book.get(id)).map(Co::Order))
}

/// `QueryRoot.orders`: searchable (indexed) orders matching `query`, in the
/// `sortKey` order.
pub(crate) fn orders_connection<'a>(
    book: &'a OrderBook,
    args: &JsonMap,
) -> Result<Resolved<'a>, String> {
    let page_args = PageArgs::from_args(args, false)?;
    let query = OrderQuery::parse(
        args.get("query")
            .and_then(|v| v.as_str())
            .unwrap_or_default(),
    );
    let sort = args
        .get("sortKey")
        .and_then(|v| v.as_str())
        .unwrap_or("PROCESSED_AT");
    let mut items: Vec<(SortPos, Obj<'a>)> = book
        .searchable()
        .filter(|o| query.matches(o))
        .map(|o| {
            let value = match sort {
                "CREATED_AT" => SortValue::Int(o.created_at),
                "UPDATED_AT" => SortValue::Int(o.updated_at),
                "PROCESSED_AT" => SortValue::Int(o.processed_at),
                "ORDER_NUMBER" => SortValue::Int(i64::try_from(o.number).unwrap_or(i64::MAX)),
                "TOTAL_PRICE" | "CURRENT_TOTAL_PRICE" => SortValue::Int(o.total.0),
                "FINANCIAL_STATUS" => SortValue::Text(o.financial_status.clone()),
                _ => SortValue::Int(i64::try_from(o.id).unwrap_or(i64::MAX)),
            };
            (SortPos { value, id: o.id }, Obj::Commerce(Co::Order(o)))
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    connection(
        "OrderConnection",
        "OrderEdge",
        paginate_list(items, &page_args),
    )
}
