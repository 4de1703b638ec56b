//! Pure mapping for checkout pricing and orders: domain requests to the
//! `graphql_client` inputs of `DraftOrderCalculate`/`OrderCreate`, and their
//! responses back to domain types. No I/O, no logging.
//!
//! Tax per line: `draftOrderCalculate` reports tax per order and per
//! shipping line only, so each order tax line's item part (its amount minus
//! the same tax on shipping) is allocated to the lines in proportion to their
//! discounted amounts: shares are floored and leftover cents go to the
//! largest remainders, earlier lines first. Line taxes therefore add up to
//! the order's tax exactly, and the order written back with those line taxes
//! plus the shipping tax carries the totals the buyer was shown.

use serde::de::DeserializeOwned;

use super::error::{MapError, ShopifyError, UserError};
use super::gql::{draft_order_calculate as doc, order_create as oc, orders_by_query as obq};
use super::map::{numeric_id, parse_timestamp};
use super::orders::{
    AddressField, CreatedOrder, OrderRequest, PaymentKind, PaymentStatus, QuoteOutcome,
    QuoteProblem, QuoteProblemKind, QuoteRequest,
};
use super::wire::enum_name;
use crate::domain::{Currency, Money, PostalAddress, Quote, QuotedLine, ShippingRate, TaxLine};

/// The tag that marks the Shopify order of an ACP checkout session.
pub fn checkout_tag(checkout_session_id: &str) -> String {
    format!("acp:{checkout_session_id}")
}

/// The tag every order placed through ACP checkout carries, so the
/// reconciliation job can ask Shopify for the ACP orders that changed.
pub const ACP_ORDER_TAG: &str = "acp";

/// The order custom attribute that carries the checkout session id.
pub const CHECKOUT_ATTRIBUTE: &str = "acp_checkout_session_id";

/// The discount code under which a quote's automatic discounts are written
/// to the order (`orderCreate` applies no automatic discounts itself).
pub const AUTOMATIC_DISCOUNT_CODE: &str = "Automatic discount";

/// The `orders(query:)` search for a checkout's tag, quoted and escaped.
pub(crate) fn checkout_search(checkout_session_id: &str) -> String {
    let tag = checkout_tag(checkout_session_id);
    let escaped = tag.replace('\\', "\\\\").replace('\'', "\\'");
    format!("tag:'{escaped}'")
}

/// `gid://shopify/ProductVariant/{id}` for a numeric variant id.
pub(crate) fn variant_gid(id: &str) -> Option<String> {
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("gid://shopify/ProductVariant/{id}"))
}

/// A generated enum value by its GraphQL name (unknown names become the
/// generated `Other` variant).
fn from_name<T: DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// First and last name from a full name: the last word is the last name.
fn split_name(name: &str) -> (Option<String>, Option<String>) {
    let name = name.trim();
    if name.is_empty() {
        return (None, None);
    }
    match name.rsplit_once(char::is_whitespace) {
        Some((first, last)) => (Some(first.trim().to_owned()), Some(last.to_owned())),
        None => (None, Some(name.to_owned())),
    }
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// `fn $name(&PostalAddress) -> Option<$m::MailingAddressInput>` for one
/// generated module; `None` when the country is not a Shopify `CountryCode`.
macro_rules! address_input {
    ($name:ident, $m:ident) => {
        pub(crate) fn $name(a: &PostalAddress) -> Option<$m::MailingAddressInput> {
            let country = match from_name::<$m::CountryCode>(a.country.as_str())? {
                $m::CountryCode::Other(_) => return None,
                known => known,
            };
            let (first_name, last_name) = split_name(&a.name);
            Some($m::MailingAddressInput {
                address1: non_empty(&a.line_one),
                address2: a.line_two.as_deref().and_then(non_empty),
                city: non_empty(&a.city),
                company: a.company.as_deref().and_then(non_empty),
                country_code: Some(country),
                first_name,
                last_name,
                phone: a.phone_number.as_deref().and_then(non_empty),
                province_code: non_empty(&a.state),
                zip: non_empty(&a.postal_code),
            })
        }
    };
}

address_input!(draft_address, doc);
address_input!(order_address, oc);

/// The shop-money bag of an amount.
fn order_money(amount: Money, currency: &oc::CurrencyCode) -> oc::MoneyBagInput {
    oc::MoneyBagInput {
        shop_money: oc::MoneyInput {
            amount: amount.major_string(),
            currency_code: currency.clone(),
        },
        presentment_money: None,
    }
}

fn problem(kind: QuoteProblemKind, message: impl Into<String>) -> QuoteProblem {
    QuoteProblem {
        kind,
        message: message.into(),
    }
}

/// The `DraftOrderInput` of a quote request, or the problems that keep it
/// from being sent (a variant id that is not numeric, a country Shopify does
/// not know).
pub(crate) fn draft_input(req: &QuoteRequest) -> Result<doc::DraftOrderInput, Vec<QuoteProblem>> {
    let mut problems = Vec::new();
    let mut line_items = Vec::with_capacity(req.lines.len());
    for line in &req.lines {
        match variant_gid(&line.variant_id) {
            Some(gid) => line_items.push(doc::DraftOrderLineItemInput {
                custom_attributes: None,
                original_unit_price_with_currency: None,
                quantity: i64::from(line.quantity),
                requires_shipping: None,
                sku: None,
                taxable: None,
                title: None,
                variant_id: Some(gid),
            }),
            None => problems.push(problem(
                QuoteProblemKind::UnknownVariant {
                    variant_id: line.variant_id.clone(),
                },
                format!("`{}` is not a Shopify variant id", line.variant_id),
            )),
        }
    }
    let shipping_address = match &req.address {
        None => None,
        Some(a) => {
            let converted = draft_address(a);
            if converted.is_none() {
                problems.push(problem(
                    QuoteProblemKind::Address(AddressField::Country),
                    format!("Country {} is not supported", a.country),
                ));
            }
            converted
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(doc::DraftOrderInput {
        accept_automatic_discounts: Some(true),
        billing_address: None,
        custom_attributes: None,
        email: req.email.clone(),
        line_items: Some(line_items),
        note: None,
        phone: None,
        presentment_currency_code: None,
        shipping_address,
        shipping_line: req
            .shipping_rate_handle
            .as_ref()
            .map(|handle| doc::ShippingLineInput {
                price_with_currency: None,
                shipping_rate_handle: Some(handle.clone()),
                title: None,
            }),
        tags: None,
    })
}

fn address_field(name: &str) -> AddressField {
    match name {
        "countryCode" | "country" => AddressField::Country,
        "provinceCode" | "province" => AddressField::Province,
        "zip" => AddressField::PostalCode,
        "city" => AddressField::City,
        "address1" => AddressField::LineOne,
        "address2" => AddressField::LineTwo,
        "firstName" | "lastName" => AddressField::Name,
        "phone" => AddressField::Phone,
        _ => AddressField::Other,
    }
}

/// Turns `draftOrderCalculate` user errors into problems the checkout can
/// show: which address field, which cart line, which shipping rate.
pub(crate) fn quote_problems(req: &QuoteRequest, errors: Vec<UserError>) -> Vec<QuoteProblem> {
    errors
        .into_iter()
        .map(|e| {
            let field: Vec<&str> = e.field.iter().map(String::as_str).collect();
            let path = match field.as_slice() {
                ["input", rest @ ..] => rest,
                all => all,
            };
            let line_variant = |index: &str| {
                index
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| req.lines.get(i))
                    .map(|l| l.variant_id.clone())
                    .unwrap_or_default()
            };
            let kind = match path {
                ["lineItems", index, "variantId", ..] => QuoteProblemKind::UnknownVariant {
                    variant_id: line_variant(index),
                },
                ["lineItems", index, "quantity", ..] => QuoteProblemKind::InvalidQuantity {
                    variant_id: line_variant(index),
                },
                ["shippingAddress" | "billingAddress", name, ..] => {
                    QuoteProblemKind::Address(address_field(name))
                }
                ["shippingAddress" | "billingAddress"] => {
                    QuoteProblemKind::Address(AddressField::Other)
                }
                ["shippingLine", ..] => QuoteProblemKind::ShippingRateUnavailable {
                    handle: req.shipping_rate_handle.clone().unwrap_or_default(),
                },
                ["presentmentCurrencyCode", ..] => QuoteProblemKind::Currency {
                    requested: req.currency,
                    shop: None,
                },
                _ => QuoteProblemKind::Other {
                    field: e.field.clone(),
                },
            };
            problem(kind, e.message)
        })
        .collect()
}

fn map_error(what: &str, source: MapError) -> ShopifyError {
    ShopifyError::Map {
        what: what.to_owned(),
        source,
    }
}

fn quote_money(
    amount: &str,
    currency_code: &doc::CurrencyCode,
    currency: Currency,
    what: &str,
) -> Result<Money, ShopifyError> {
    let code = enum_name(currency_code);
    let got = Currency::parse(&code).map_err(|e| map_error(what, MapError::Currency(e)))?;
    if got != currency {
        return Err(map_error(
            what,
            MapError::Currency(crate::domain::MoneyError::CurrencyMismatch(got, currency)),
        ));
    }
    Money::parse_decimal(amount, currency).map_err(|e| map_error(what, MapError::Money(e)))
}

fn bag(b: &doc::ShopAmount, currency: Currency, what: &str) -> Result<Money, ShopifyError> {
    quote_money(
        &b.shop_money.amount,
        &b.shop_money.currency_code,
        currency,
        what,
    )
}

/// The rate of a tax line as a decimal string (`0.0725`), from Shopify's
/// `Float`. The shortest representation that reads back as the same float
/// is exactly the decimal Shopify stores.
fn rate_text(rate: Option<f64>) -> String {
    match rate {
        Some(r) if r.is_finite() && r >= 0.0 => format!("{r}"),
        _ => "0".to_owned(),
    }
}

fn tax_line(t: &doc::TaxAmount, currency: Currency) -> Result<TaxLine, ShopifyError> {
    Ok(TaxLine {
        title: t.title.clone(),
        rate: rate_text(t.rate),
        amount: bag(&t.price_set, currency, "tax line")?,
    })
}

/// Splits `total` proportionally to `weights` (see the module docs).
pub(crate) fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    if weights.is_empty() || total <= 0 {
        return vec![0; weights.len()];
    }
    let clean: Vec<i128> = weights.iter().map(|w| i128::from((*w).max(0))).collect();
    let sum: i128 = clean.iter().sum();
    let (weights, sum) = if sum == 0 {
        (vec![1; clean.len()], clean.len() as i128)
    } else {
        (clean, sum)
    };
    let total = i128::from(total);
    let mut shares: Vec<i128> = weights.iter().map(|w| total * w / sum).collect();
    let mut order: Vec<(i128, usize)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| (total * w % sum, i))
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = total - shares.iter().sum::<i128>();
    for (_, i) in order {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
        .into_iter()
        .map(|s| i64::try_from(s).unwrap_or(i64::MAX))
        .collect()
}

/// Sum of `lines`' amounts for the tax `(title, rate)`.
fn tax_sum<'a>(lines: impl Iterator<Item = &'a TaxLine>, of: &TaxLine) -> i64 {
    lines
        .filter(|t| t.title == of.title && t.rate == of.rate)
        .map(|t| t.amount.amount)
        .sum()
}

/// Plain text of an alert's HTML content: tags dropped, spaces collapsed.
fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

type Calculated = doc::DraftOrderCalculateDraftOrderCalculateCalculatedDraftOrder;

/// Maps a calculated draft order to a [`Quote`] (or to the problems that
/// make it unusable: another currency, the selected rate not applied).
///
/// # Errors
/// Amounts that do not parse or are in another currency than the order's,
/// and a line count that does not match the request.
pub(crate) fn map_quote(
    req: &QuoteRequest,
    calc: Calculated,
) -> Result<QuoteOutcome, ShopifyError> {
    let shop_code = enum_name(&calc.currency_code);
    let currency = Currency::parse(&shop_code)
        .map_err(|e| map_error("quote currency", MapError::Currency(e)))?;
    if currency != req.currency {
        return Ok(QuoteOutcome::Rejected(vec![problem(
            QuoteProblemKind::Currency {
                requested: req.currency,
                shop: Some(currency),
            },
            format!("The shop sells in {currency}, not {}", req.currency),
        )]));
    }
    if calc.line_items.len() != req.lines.len() {
        return Err(ShopifyError::MissingData {
            operation: "DraftOrderCalculate",
            reason: format!(
                "{} lines priced for {} requested",
                calc.line_items.len(),
                req.lines.len()
            ),
        });
    }
    let selected = match &calc.shipping_line {
        Some(s) => Some((
            s.shipping_rate_handle.clone(),
            s.title.clone(),
            bag(&s.discounted_price_set, currency, "shipping line")?,
        )),
        None => None,
    };
    if let Some(wanted) = &req.shipping_rate_handle
        && selected.as_ref().and_then(|s| s.0.as_ref()) != Some(wanted)
    {
        return Ok(QuoteOutcome::Rejected(vec![problem(
            QuoteProblemKind::ShippingRateUnavailable {
                handle: wanted.clone(),
            },
            "The selected shipping rate is no longer offered",
        )]));
    }
    let shipping_taxes: Vec<TaxLine> = match &calc.shipping_line {
        Some(s) => s
            .tax_lines
            .iter()
            .map(|t| tax_line(t, currency))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let tax_lines: Vec<TaxLine> = calc
        .tax_lines
        .iter()
        .map(|t| tax_line(t, currency))
        .collect::<Result<_, _>>()?;

    let mut lines = Vec::with_capacity(calc.line_items.len());
    for (wire, asked) in calc.line_items.iter().zip(&req.lines) {
        let variant_id = match &wire.variant {
            Some(v) => numeric_id(&v.id)
                .map_err(|e| map_error("line variant", e))?
                .to_owned(),
            None => asked.variant_id.clone(),
        };
        let base_amount = bag(&wire.original_total_set, currency, "line total")?;
        let discount = bag(&wire.total_discount_set, currency, "line discount")?;
        lines.push(QuotedLine {
            variant_id,
            quantity: u32::try_from(wire.quantity.max(0)).unwrap_or(u32::MAX),
            title: wire.name.clone(),
            sku: wire.sku.clone().filter(|s| !s.trim().is_empty()),
            unit_price: bag(&wire.original_unit_price_set, currency, "unit price")?,
            base_amount,
            discount,
            tax: Money::new(0, currency),
            tax_lines: Vec::new(),
            requires_shipping: wire.requires_shipping,
        });
    }
    let weights: Vec<i64> = calc
        .line_items
        .iter()
        .zip(&lines)
        .map(|(wire, line)| {
            if wire.taxable {
                line.base_amount.amount - line.discount.amount
            } else {
                0
            }
        })
        .collect();
    for tax in &tax_lines {
        let items_part = tax.amount.amount - tax_sum(shipping_taxes.iter(), tax);
        let shares = if weights.iter().any(|w| *w > 0) {
            allocate(items_part, &weights)
        } else {
            // Nothing taxable by amount: the first line carries it all.
            (0..lines.len())
                .map(|i| if i == 0 { items_part.max(0) } else { 0 })
                .collect()
        };
        for (line, share) in lines.iter_mut().zip(shares) {
            if share != 0 {
                line.tax_lines.push(TaxLine {
                    amount: Money::new(share, currency),
                    ..tax.clone()
                });
                line.tax.amount += share;
            }
        }
    }

    let shipping_rates: Vec<ShippingRate> = calc
        .available_shipping_rates
        .iter()
        .map(|r| {
            Ok(ShippingRate {
                handle: r.handle.clone(),
                title: r.title.clone(),
                price: quote_money(
                    &r.price.amount,
                    &r.price.currency_code,
                    currency,
                    "shipping rate",
                )?,
                min_delivery_days: None,
                max_delivery_days: None,
            })
        })
        .collect::<Result<_, ShopifyError>>()?;
    let selected_shipping = selected.map(|(handle, title, price)| {
        shipping_rates
            .iter()
            .find(|r| handle.as_deref() == Some(r.handle.as_str()))
            .cloned()
            .unwrap_or(ShippingRate {
                handle: handle.unwrap_or_default(),
                title,
                price,
                min_delivery_days: None,
                max_delivery_days: None,
            })
    });
    let warnings = calc
        .alerts
        .iter()
        .filter(|a| matches!(enum_name(&a.severity).as_str(), "WARNING" | "CRITICAL"))
        .map(|a| {
            let text = plain_text(&a.content);
            if text.is_empty() {
                a.title.clone()
            } else {
                format!("{}: {text}", a.title)
            }
        })
        .collect();
    Ok(QuoteOutcome::Quoted(Quote {
        lines,
        shipping_rates,
        selected_shipping,
        items_base: bag(&calc.total_line_items_price_set, currency, "items total")?,
        discount: bag(&calc.total_discounts_set, currency, "discounts")?,
        subtotal: bag(&calc.subtotal_price_set, currency, "subtotal")?,
        shipping: bag(&calc.total_shipping_price_set, currency, "shipping total")?,
        tax: bag(&calc.total_tax_set, currency, "tax total")?,
        tax_lines,
        taxes_included: calc.taxes_included,
        total: bag(&calc.total_price_set, currency, "total")?,
        warnings,
    }))
}

fn invalid(reason: impl Into<String>) -> ShopifyError {
    ShopifyError::InvalidRequest {
        operation: "OrderCreate",
        reason: reason.into(),
    }
}

fn order_tax_line(t: &TaxLine, currency: &oc::CurrencyCode) -> oc::OrderCreateTaxLineInput {
    oc::OrderCreateTaxLineInput {
        channel_liable: None,
        price_set: Some(order_money(t.amount, currency)),
        rate: t.rate.clone(),
        title: t.title.clone(),
    }
}

/// The `orderCreate` arguments for a paid checkout: its quote's lines with
/// their prices and taxes, the shipping line with the tax on shipping (the
/// quote's tax lines minus the lines' share), the quote's discount as one
/// fixed discount code, the payment as a transaction, the checkout's tag,
/// source identifier and custom attribute, and stock claimed obeying each
/// variant's policy.
///
/// # Errors
/// [`ShopifyError::InvalidRequest`] for an inconsistent request: amounts in
/// different currencies, a variant id that is not numeric, an address in a
/// country Shopify does not know, tax or shipping the quote cannot account
/// for.
pub(crate) fn order_input(
    req: &OrderRequest,
) -> Result<(oc::OrderCreateOrderInput, oc::OrderCreateOptionsInput), ShopifyError> {
    let quote = &req.quote;
    let currency = quote.total.currency;
    let amounts = quote
        .lines
        .iter()
        .flat_map(|l| {
            [l.unit_price, l.base_amount, l.discount, l.tax]
                .into_iter()
                .chain(l.tax_lines.iter().map(|t| t.amount))
        })
        .chain(quote.tax_lines.iter().map(|t| t.amount))
        .chain([
            quote.shipping,
            quote.discount,
            quote.tax,
            req.payment.amount,
        ]);
    if let Some(other) = amounts.map(|m| m.currency).find(|c| *c != currency) {
        return Err(invalid(format!("amounts in {currency} and {other}")));
    }
    let code = match from_name::<oc::CurrencyCode>(currency.as_str()) {
        Some(oc::CurrencyCode::Other(_)) | None => {
            return Err(invalid(format!("{currency} is not a Shopify currency")));
        }
        Some(known) => known,
    };
    let mut line_items = Vec::with_capacity(quote.lines.len());
    for line in &quote.lines {
        let gid = variant_gid(&line.variant_id)
            .ok_or_else(|| invalid(format!("`{}` is not a variant id", line.variant_id)))?;
        line_items.push(oc::OrderCreateLineItemInput {
            price_set: Some(order_money(line.unit_price, &code)),
            quantity: i64::from(line.quantity),
            requires_shipping: Some(line.requires_shipping),
            sku: None,
            tax_lines: Some(
                line.tax_lines
                    .iter()
                    .map(|t| order_tax_line(t, &code))
                    .collect(),
            ),
            taxable: None,
            title: None,
            variant_id: Some(gid),
            variant_title: None,
            vendor: None,
        });
    }
    let mut shipping_taxes = Vec::new();
    for tax in &quote.tax_lines {
        let on_lines = tax_sum(quote.lines.iter().flat_map(|l| &l.tax_lines), tax);
        let rest = tax.amount.amount - on_lines;
        if rest < 0 {
            return Err(invalid(format!(
                "line taxes exceed the order's {} tax line",
                tax.title
            )));
        }
        if rest > 0 {
            shipping_taxes.push(TaxLine {
                amount: Money::new(rest, currency),
                ..tax.clone()
            });
        }
    }
    let shipping_lines = match &quote.selected_shipping {
        Some(rate) => vec![oc::OrderCreateShippingLineInput {
            code: non_empty(&rate.handle),
            price_set: order_money(quote.shipping, &code),
            source: Some("shopify".to_owned()),
            tax_lines: Some(
                shipping_taxes
                    .iter()
                    .map(|t| order_tax_line(t, &code))
                    .collect(),
            ),
            title: rate.title.clone(),
        }],
        None if quote.shipping.amount == 0 && shipping_taxes.is_empty() => Vec::new(),
        None => return Err(invalid("shipping is charged but no rate was selected")),
    };
    let address =
        |a: &Option<PostalAddress>| -> Result<Option<oc::MailingAddressInput>, ShopifyError> {
            match a {
                None => Ok(None),
                Some(a) => order_address(a)
                    .map(Some)
                    .ok_or_else(|| invalid(format!("country {} is not supported", a.country))),
            }
        };
    let payment = &req.payment;
    let order = oc::OrderCreateOrderInput {
        billing_address: address(&req.billing_address)?,
        currency: Some(code.clone()),
        custom_attributes: Some(vec![oc::OrderCreateCustomAttributeInput {
            key: CHECKOUT_ATTRIBUTE.to_owned(),
            value: req.checkout_session_id.clone(),
        }]),
        discount_code: (quote.discount.amount > 0).then(|| oc::OrderCreateDiscountCodeInput {
            item_fixed_discount_code: Some(oc::OrderCreateFixedDiscountCodeAttributesInput {
                code: AUTOMATIC_DISCOUNT_CODE.to_owned(),
                amount_set: Some(order_money(quote.discount, &code)),
            }),
        }),
        email: req.buyer.email.clone(),
        financial_status: None,
        line_items: Some(line_items),
        name: None,
        note: None,
        phone: None,
        processed_at: None,
        shipping_address: address(&req.shipping_address)?,
        shipping_lines: Some(shipping_lines),
        source_identifier: Some(req.checkout_session_id.clone()),
        source_name: None,
        tags: Some(vec![
            ACP_ORDER_TAG.to_owned(),
            checkout_tag(&req.checkout_session_id),
        ]),
        taxes_included: Some(quote.taxes_included),
        tax_lines: None,
        test: Some(req.test),
        transactions: Some(vec![oc::OrderCreateOrderTransactionInput {
            amount_set: order_money(payment.amount, &code),
            authorization_code: Some(payment.reference.clone()),
            gateway: Some(payment.gateway.clone()),
            kind: Some(match payment.kind {
                PaymentKind::Sale => oc::OrderTransactionKind::SALE,
                PaymentKind::Authorization => oc::OrderTransactionKind::AUTHORIZATION,
                PaymentKind::Capture => oc::OrderTransactionKind::CAPTURE,
            }),
            processed_at: None,
            status: Some(match payment.status {
                PaymentStatus::Success => oc::OrderTransactionStatus::SUCCESS,
                PaymentStatus::Pending => oc::OrderTransactionStatus::PENDING,
                PaymentStatus::Failure => oc::OrderTransactionStatus::FAILURE,
            }),
            test: Some(req.test),
        }]),
    };
    let options = oc::OrderCreateOptionsInput {
        inventory_behaviour: Some(oc::OrderCreateInputsInventoryBehavior::DECREMENT_OBEYING_POLICY),
        send_receipt: Some(req.send_receipt),
        send_fulfillment_receipt: None,
    };
    Ok((order, options))
}

/// A created or found order.
///
/// # Errors
/// A malformed GID, legacy id or timestamp.
pub(crate) fn created_order(
    id: String,
    legacy_id: &str,
    name: String,
    created_at: &str,
) -> Result<CreatedOrder, ShopifyError> {
    numeric_id(&id).map_err(|e| map_error("order id", e))?;
    let legacy_id = legacy_id
        .parse::<u64>()
        .map_err(|_| map_error("order legacy id", MapError::Gid(legacy_id.to_owned())))?;
    let created_at =
        parse_timestamp(created_at).map_err(|e| map_error("order creation time", e))?;
    Ok(CreatedOrder {
        id,
        legacy_id,
        name,
        created_at,
    })
}

/// The user errors of `orderCreate` as an error: `INVENTORY_CLAIM_FAILED`
/// gets its own variant.
pub(crate) fn order_user_errors(errors: Vec<oc::OrderCreateOrderCreateUserErrors>) -> ShopifyError {
    let errors: Vec<UserError> = errors
        .into_iter()
        .map(|e| UserError {
            field: e.field.unwrap_or_default(),
            message: e.message,
            code: e.code.map(|c| enum_name(&c)),
        })
        .collect();
    if errors
        .iter()
        .any(|e| e.code.as_deref() == Some("INVENTORY_CLAIM_FAILED"))
    {
        ShopifyError::InventoryClaimFailed { errors }
    } else {
        ShopifyError::UserErrors {
            operation: "OrderCreate",
            errors,
        }
    }
}

/// The orders of a search that belong to `checkout_session_id` (exact tag
/// or source identifier), oldest first as Shopify sorted them.
pub(crate) fn checkout_orders(
    checkout_session_id: &str,
    nodes: Vec<obq::OrdersByQueryOrdersNodes>,
) -> Result<Vec<CreatedOrder>, ShopifyError> {
    let tag = checkout_tag(checkout_session_id);
    nodes
        .into_iter()
        .filter(|n| {
            n.tags.iter().any(|t| t.eq_ignore_ascii_case(&tag))
                || n.source_identifier.as_deref() == Some(checkout_session_id)
        })
        .map(|n| created_order(n.id, &n.legacy_resource_id, n.name, &n.created_at))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_proportional_and_exact() {
        assert_eq!(allocate(196, &[1800, 900]), vec![131, 65]);
        assert_eq!(allocate(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(allocate(5, &[0, 0]), vec![3, 2]);
        assert_eq!(allocate(0, &[3, 4]), vec![0, 0]);
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..2_000 {
            let weights: Vec<i64> = (0..rng.usize(1..6)).map(|_| rng.i64(0..100_000)).collect();
            let total = rng.i64(0..10_000);
            assert_eq!(allocate(total, &weights).iter().sum::<i64>(), total);
        }
    }

    #[test]
    fn names_split_at_the_last_word() {
        assert_eq!(
            split_name("Ada King Lovelace"),
            (Some("Ada King".into()), Some("Lovelace".into()))
        );
        assert_eq!(split_name("Cher"), (None, Some("Cher".into())));
        assert_eq!(split_name("  "), (None, None));
    }

    #[test]
    fn checkout_searches_quote_and_escape_the_tag() {
        assert_eq!(checkout_search("cs_1"), "tag:'acp:cs_1'");
        assert_eq!(checkout_search(r"a'b\c"), r"tag:'acp:a\'b\\c'");
    }

    #[test]
    fn rates_print_as_the_shortest_decimal() {
        assert_eq!(rate_text(Some(0.0725)), "0.0725");
        assert_eq!(rate_text(Some(0.09975)), "0.09975");
        assert_eq!(rate_text(Some(0.13)), "0.13");
        assert_eq!(rate_text(None), "0");
    }

    #[test]
    fn alert_html_becomes_plain_text() {
        assert_eq!(plain_text("<p>Only <b>2</b>\n left</p>"), "Only 2 left");
    }
}
