//! `orderCreate`: decodes `OrderCreateOrderInput`, validates it the way
//! Shopify does, claims inventory, computes totals and the financial status,
//! and stores the order in the order book.
//!
//! `orderCreate` does not compute taxes: like Shopify it records the tax
//! lines it is given (per line, or per order and then split across the
//! taxable lines in proportion to their discounted amounts) and adds them
//! up; a tax line without an amount is its rate times its line, rounded half
//! up. Giving tax lines on both the order and its lines is refused. A fixed
//! discount code is allocated to the lines in proportion to their amounts.
//! User errors point at the input path starting with `order` and carry an
//! `OrderCreateUserErrorCode`. Inventory follows `inventoryBehaviour`:
//! `BYPASS` leaves stock alone, `DECREMENT_IGNORING_POLICY` decrements
//! tracked variants, `DECREMENT_OBEYING_POLICY` refuses the whole order with
//! `INVENTORY_CLAIM_FAILED` when a tracked `DENY` variant lacks stock. Stock
//! changes bump the product's `updatedAt`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::catalog::Catalog;
use super::data::{InventoryPolicy, Price, parse_datetime, parse_gid};
use super::draft::{line_name, variant_title};
use super::faults::IndexDelay;
use super::inputs::{AddressInput, AttributeInput, DecimalText, MoneyBagInput, UserErr, err_at};
use super::orders::{
    Address, InventoryBehaviour, Order, OrderBook, OrderLine, OrderShippingLine, Transaction,
};
use super::pricing::{PricingRules, Rate, TaxAmount, allocate, sum_tax_lines};

/// `OrderCreateTaxLineInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaxLineInput {
    #[serde(default)]
    price_set: Option<MoneyBagInput>,
    rate: DecimalText,
    title: String,
}

/// `OrderCreateLineItemInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineInput {
    #[serde(default)]
    price_set: Option<MoneyBagInput>,
    quantity: i64,
    #[serde(default)]
    requires_shipping: Option<bool>,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    tax_lines: Option<Vec<TaxLineInput>>,
    #[serde(default)]
    taxable: Option<bool>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    variant_id: Option<String>,
    #[serde(default)]
    variant_title: Option<String>,
    #[serde(default)]
    vendor: Option<String>,
}

/// `OrderCreateShippingLineInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShippingLineInput {
    #[serde(default)]
    code: Option<String>,
    price_set: MoneyBagInput,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    tax_lines: Option<Vec<TaxLineInput>>,
    title: String,
}

/// `OrderCreateOrderTransactionInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransactionInput {
    amount_set: MoneyBagInput,
    #[serde(default)]
    authorization_code: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    processed_at: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    test: Option<bool>,
}

/// `OrderCreateFixedDiscountCodeAttributesInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FixedDiscountInput {
    code: String,
    #[serde(default)]
    amount_set: Option<MoneyBagInput>,
}

/// `OrderCreateDiscountCodeInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiscountCodeInput {
    #[serde(default)]
    item_fixed_discount_code: Option<FixedDiscountInput>,
}

/// `OrderCreateOrderInput`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderInput {
    #[serde(default)]
    billing_address: Option<AddressInput>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    custom_attributes: Option<Vec<AttributeInput>>,
    #[serde(default)]
    discount_code: Option<DiscountCodeInput>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    financial_status: Option<String>,
    #[serde(default)]
    line_items: Option<Vec<LineInput>>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    processed_at: Option<String>,
    #[serde(default)]
    shipping_address: Option<AddressInput>,
    #[serde(default)]
    shipping_lines: Option<Vec<ShippingLineInput>>,
    #[serde(default)]
    source_identifier: Option<String>,
    #[serde(default)]
    source_name: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    taxes_included: Option<bool>,
    #[serde(default)]
    tax_lines: Option<Vec<TaxLineInput>>,
    #[serde(default)]
    test: Option<bool>,
    #[serde(default)]
    transactions: Option<Vec<TransactionInput>>,
}

impl OrderInput {
    /// The `variantId`s of the lines, as given.
    pub(crate) fn variant_gids(&self) -> impl Iterator<Item = &str> {
        self.line_items
            .iter()
            .flatten()
            .filter_map(|l| l.variant_id.as_deref())
    }
}

/// `OrderCreateOptionsInput`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OptionsInput {
    #[serde(default)]
    inventory_behaviour: Option<InventoryBehaviour>,
}

/// What `orderCreate` answers: the created order (a copy) or user errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderCreateOutcome {
    pub order: Option<Order>,
    pub user_errors: Vec<UserErr>,
}

impl OrderCreateOutcome {
    fn refused(user_errors: Vec<UserErr>) -> Self {
        OrderCreateOutcome {
            order: None,
            user_errors,
        }
    }
}

const ORDER: &str = "order";

fn invalid(rest: &[&str], message: impl Into<String>) -> UserErr {
    err_at(&[ORDER], rest, message).code("INVALID")
}

fn to_path(rest: &[&str]) -> Vec<String> {
    std::iter::once(ORDER)
        .chain(rest.iter().copied())
        .map(str::to_owned)
        .collect()
}

/// A validated tax line: its amount, or `None` to compute it from the rate.
struct TaxSpec {
    title: String,
    rate: Rate,
    amount: Option<Price>,
}

fn tax_specs(
    inputs: Option<&Vec<TaxLineInput>>,
    currency: &str,
    at: &[&str],
    errors: &mut Vec<UserErr>,
) -> Vec<TaxSpec> {
    let mut specs = Vec::new();
    for (i, t) in inputs.into_iter().flatten().enumerate() {
        let index = i.to_string();
        let Some(rate) = Rate::parse(&t.rate.0) else {
            let mut field: Vec<&str> = at.to_vec();
            field.extend([index.as_str(), "rate"]);
            errors.push(invalid(&field, format!("Rate {} is invalid", t.rate.0)));
            continue;
        };
        let amount = match &t.price_set {
            Some(bag) => {
                let mut field: Vec<&str> = at.to_vec();
                field.extend([index.as_str(), "priceSet"]);
                match bag.price(currency, &to_path(&field)) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        errors.push(e.code("INVALID"));
                        continue;
                    }
                }
            }
            None => None,
        };
        specs.push(TaxSpec {
            title: t.title.clone(),
            rate,
            amount,
        });
    }
    specs
}

/// Tax amounts on `base`: given amounts as they are, missing ones computed
/// from the rate and rounded half up.
fn resolve_taxes(specs: &[TaxSpec], base: Price) -> Vec<TaxAmount> {
    specs
        .iter()
        .map(|s| TaxAmount {
            title: s.title.clone(),
            rate: s.rate,
            amount: s.amount.unwrap_or_else(|| {
                let n = i128::from(base.0.max(0)) * i128::from(s.rate.0);
                Price(i64::try_from((2 * n + 1_000_000) / 2_000_000).unwrap_or(0))
            }),
        })
        .collect()
}

fn address(input: &AddressInput, rules: &PricingRules) -> Address {
    let province = match (&input.country_code, &input.province_code) {
        (Some(c), Some(p)) => rules.province_name(c, p).map(str::to_owned),
        _ => None,
    };
    Address {
        first_name: input.first_name.clone(),
        last_name: input.last_name.clone(),
        company: input.company.clone(),
        address1: input.address1.clone(),
        address2: input.address2.clone(),
        city: input.city.clone(),
        province_code: input.province_code.as_ref().map(|p| p.to_ascii_uppercase()),
        province,
        country_code: input.country_code.clone(),
        zip: input.zip.clone(),
        phone: input.phone.clone(),
    }
}

/// `OrderDisplayFinancialStatus` derived from the transactions.
fn derived_financial_status(transactions: &[Transaction], total: Price) -> &'static str {
    let sum = |kinds: &[&str]| -> i64 {
        transactions
            .iter()
            .filter(|t| t.status == "SUCCESS" && kinds.contains(&t.kind.as_str()))
            .map(|t| t.amount.0)
            .sum()
    };
    let paid = sum(&["SALE", "CAPTURE"]);
    let authorized = sum(&["AUTHORIZATION"]);
    if total.0 <= 0 || paid >= total.0 {
        "PAID"
    } else if paid > 0 {
        "PARTIALLY_PAID"
    } else if authorized > 0 {
        "AUTHORIZED"
    } else {
        "PENDING"
    }
}

/// Everything needed to commit an order, once validation passed.
struct Draft {
    lines: Vec<OrderLine>,
    line_taxes: Vec<Vec<TaxSpec>>,
    order_taxes: Vec<TaxSpec>,
    shipping: Vec<(OrderShippingLine, Vec<TaxSpec>)>,
    transactions: Vec<Transaction>,
    discount: Option<(String, Price)>,
    processed_at: Option<i64>,
}

/// Runs `orderCreate`: validates, claims inventory, stores the order.
pub(crate) fn create(
    catalog: &mut Catalog,
    book: &mut OrderBook,
    rules: &PricingRules,
    input: &OrderInput,
    options: &OptionsInput,
    index_delay: Option<IndexDelay>,
) -> OrderCreateOutcome {
    let currency = catalog.shop.currency_code.clone();
    let now = book.stamp();
    let draft = match validate(catalog, rules, input, &currency, now) {
        Ok(draft) => draft,
        Err(errors) => return OrderCreateOutcome::refused(errors),
    };
    let behaviour = options.inventory_behaviour.unwrap_or_default();
    if let Err(errors) = claim_inventory(catalog, &draft.lines, behaviour) {
        return OrderCreateOutcome::refused(errors);
    }
    let Draft {
        mut lines,
        line_taxes,
        order_taxes,
        shipping,
        mut transactions,
        discount,
        processed_at,
    } = draft;

    // Discount allocation, then taxes on the discounted line amounts.
    let totals: Vec<i64> = lines.iter().map(|l| l.total().0).collect();
    let items: i64 = totals.iter().sum();
    let discount_amount = discount.as_ref().map_or(0, |d| d.1.0.min(items));
    for (line, share) in lines.iter_mut().zip(allocate(discount_amount, &totals)) {
        line.discount = Price(share);
    }
    for (line, specs) in lines.iter_mut().zip(&line_taxes) {
        line.tax_lines = resolve_taxes(specs, Price(line.total().0 - line.discount.0));
    }
    if !order_taxes.is_empty() {
        // Order-level tax lines are split across the taxable lines.
        let weights: Vec<i64> = lines
            .iter()
            .map(|l| {
                if l.taxable {
                    l.total().0 - l.discount.0
                } else {
                    0
                }
            })
            .collect();
        let taxable_base = Price(weights.iter().sum());
        // With no taxable amount the whole tax goes to the first taxable
        // line (or the first line), so nothing is lost.
        let fallback = lines.iter().position(|l| l.taxable).unwrap_or(0);
        for tax in resolve_taxes(&order_taxes, taxable_base) {
            let shares = if taxable_base.0 > 0 {
                allocate(tax.amount.0, &weights)
            } else {
                (0..lines.len())
                    .map(|i| if i == fallback { tax.amount.0 } else { 0 })
                    .collect()
            };
            for ((i, line), share) in lines.iter_mut().enumerate().zip(shares) {
                if weights[i] > 0 || share != 0 {
                    line.tax_lines.push(TaxAmount {
                        amount: Price(share),
                        ..tax.clone()
                    });
                }
            }
        }
    }
    let shipping_lines: Vec<OrderShippingLine> = shipping
        .into_iter()
        .map(|(mut line, specs)| {
            line.tax_lines = resolve_taxes(&specs, line.price);
            line
        })
        .collect();
    let tax_lines = sum_tax_lines(
        lines
            .iter()
            .flat_map(|l| &l.tax_lines)
            .chain(shipping_lines.iter().flat_map(|s| &s.tax_lines)),
    );
    let total_tax: i64 = tax_lines.iter().map(|t| t.amount.0).sum();
    let total_shipping: i64 = shipping_lines.iter().map(|s| s.price.0).sum();
    let taxes_included = input.taxes_included.unwrap_or(false);
    let subtotal = items - discount_amount;
    let total = subtotal + total_shipping + if taxes_included { 0 } else { total_tax };

    let reserved = book.reserve(lines.len(), transactions.len());
    for (t, id) in transactions.iter_mut().zip(&reserved.transaction_ids) {
        t.id = *id;
    }
    for (line, id) in lines.iter_mut().zip(&reserved.line_ids) {
        line.id = *id;
    }
    let number = reserved.number;
    let financial_status = match &input.financial_status {
        Some(status) => status.clone(),
        None => derived_financial_status(&transactions, Price(total)).to_owned(),
    };
    let mut order = Order {
        id: reserved.id,
        number,
        name: input.name.clone().unwrap_or_else(|| format!("#{number}")),
        currency,
        created_at: now,
        processed_at: processed_at.unwrap_or(now),
        email: input.email.clone(),
        phone: input.phone.clone(),
        note: input.note.clone(),
        tags: normalized_tags(input.tags.as_deref().unwrap_or_default()),
        source_identifier: input.source_identifier.clone(),
        source_name: input.source_name.clone(),
        custom_attributes: input
            .custom_attributes
            .iter()
            .flatten()
            .map(|a| (a.key.clone(), a.value.clone()))
            .collect(),
        test: input.test.unwrap_or(false),
        taxes_included,
        lines,
        shipping_lines,
        tax_lines,
        transactions,
        shipping_address: input.shipping_address.as_ref().map(|a| address(a, rules)),
        billing_address: input.billing_address.as_ref().map(|a| address(a, rules)),
        discount_code: discount.map(|d| d.0),
        financial_status,
        inventory_behaviour: behaviour,
        subtotal: Price(subtotal),
        total_discounts: Price(discount_amount),
        total_shipping: Price(total_shipping),
        total_tax: Price(total_tax),
        total: Price(total),
        updated_at: now,
        cancelled_at: None,
        cancel_reason: None,
        closed_at: None,
        fulfillment_orders: Vec::new(),
        fulfillments: Vec::new(),
        refunds: Vec::new(),
        index_gate: book.gate(index_delay),
    };
    order.fulfillment_orders = vec![book.initial_fulfillment_order(&order.lines, now)];
    book.push(order.clone());
    OrderCreateOutcome {
        order: Some(order),
        user_errors: Vec::new(),
    }
}

/// Tags as Shopify stores them: trimmed, empty ones dropped, duplicates
/// (case-insensitive) removed, order kept.
fn normalized_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags.iter().flat_map(|t| t.split(',')) {
        let tag = tag.trim();
        if !tag.is_empty() && !out.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            out.push(tag.to_owned());
        }
    }
    out
}

fn validate(
    catalog: &Catalog,
    rules: &PricingRules,
    input: &OrderInput,
    currency: &str,
    now: i64,
) -> Result<Draft, Vec<UserErr>> {
    let mut errors = Vec::new();
    if let Some(c) = &input.currency
        && c != currency
    {
        errors.push(invalid(
            &["currency"],
            format!("Currency {c} is not the shop currency {currency}"),
        ));
    }
    let line_inputs = input.line_items.as_deref().unwrap_or_default();
    if line_inputs.is_empty() {
        errors.push(invalid(&["lineItems"], "Line items can't be blank"));
    }
    let mut lines = Vec::new();
    let mut line_taxes = Vec::new();
    for (i, line) in line_inputs.iter().enumerate() {
        let index = i.to_string();
        let at = |field: &'static str| -> [&str; 3] { ["lineItems", index.as_str(), field] };
        if line.quantity < 1 {
            errors.push(invalid(
                &at("quantity"),
                "Quantity must be greater than or equal to 1",
            ));
        }
        let price = match &line.price_set {
            Some(bag) => match bag.price(currency, &to_path(&at("priceSet"))) {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.push(e.code("INVALID"));
                    continue;
                }
            },
            None => None,
        };
        let taxes = tax_specs(
            line.tax_lines.as_ref(),
            currency,
            &["lineItems", index.as_str(), "taxLines"],
            &mut errors,
        );
        let requires_shipping = line.requires_shipping.unwrap_or(false);
        let taxable = line.taxable.unwrap_or(true);
        let built = match &line.variant_id {
            Some(gid) => {
                let found = parse_gid(gid, "ProductVariant").and_then(|vid| {
                    let product = catalog.get(catalog.variant_owner(vid)?)?;
                    let variant = product.variants.iter().find(|v| v.id == vid)?;
                    Some((product, variant))
                });
                let Some((product, variant)) = found else {
                    errors.push(invalid(
                        &at("variantId"),
                        format!("Product variant {gid} does not exist"),
                    ));
                    continue;
                };
                let vtitle = line
                    .variant_title
                    .clone()
                    .or_else(|| variant_title(&variant.title));
                let title = line.title.clone().unwrap_or_else(|| product.title.clone());
                OrderLine {
                    id: 0,
                    product_id: Some(product.id),
                    variant_id: Some(variant.id),
                    name: line_name(&title, vtitle.as_deref()),
                    title,
                    variant_title: vtitle,
                    sku: line.sku.clone().or_else(|| variant.sku.clone()),
                    vendor: line.vendor.clone().or_else(|| Some(product.vendor.clone())),
                    quantity: line.quantity,
                    unit_price: price.unwrap_or(variant.price),
                    discount: Price(0),
                    tax_lines: Vec::new(),
                    requires_shipping,
                    taxable,
                }
            }
            None => {
                let Some(title) = line.title.as_deref().filter(|t| !t.trim().is_empty()) else {
                    errors.push(invalid(&at("title"), "Title can't be blank"));
                    continue;
                };
                let Some(price) = price else {
                    errors.push(invalid(
                        &at("priceSet"),
                        "Price can't be blank for a custom line item",
                    ));
                    continue;
                };
                OrderLine {
                    id: 0,
                    product_id: None,
                    variant_id: None,
                    name: title.to_owned(),
                    title: title.to_owned(),
                    variant_title: line.variant_title.clone(),
                    sku: line.sku.clone(),
                    vendor: line.vendor.clone(),
                    quantity: line.quantity,
                    unit_price: price,
                    discount: Price(0),
                    tax_lines: Vec::new(),
                    requires_shipping,
                    taxable,
                }
            }
        };
        lines.push(built);
        line_taxes.push(taxes);
    }
    let order_taxes = tax_specs(
        input.tax_lines.as_ref(),
        currency,
        &["taxLines"],
        &mut errors,
    );
    if !order_taxes.is_empty() && line_taxes.iter().any(|t| !t.is_empty()) {
        errors.push(invalid(
            &["taxLines"],
            "Tax lines can be specified on the order or the line items but not both",
        ));
    }
    let mut shipping = Vec::new();
    for (i, s) in input.shipping_lines.iter().flatten().enumerate() {
        let index = i.to_string();
        let taxes = tax_specs(
            s.tax_lines.as_ref(),
            currency,
            &["shippingLines", index.as_str(), "taxLines"],
            &mut errors,
        );
        match s.price_set.price(
            currency,
            &to_path(&["shippingLines", index.as_str(), "priceSet"]),
        ) {
            Ok(price) => shipping.push((
                OrderShippingLine {
                    title: s.title.clone(),
                    code: s.code.clone(),
                    source: s.source.clone(),
                    price,
                    tax_lines: Vec::new(),
                },
                taxes,
            )),
            Err(e) => errors.push(e.code("INVALID")),
        }
    }
    let mut transactions = Vec::new();
    for (i, t) in input.transactions.iter().flatten().enumerate() {
        let index = i.to_string();
        let processed_at = match &t.processed_at {
            Some(text) => match parse_datetime(text) {
                Some(at) => at,
                None => {
                    errors.push(invalid(
                        &["transactions", index.as_str(), "processedAt"],
                        "Processed at is invalid",
                    ));
                    continue;
                }
            },
            None => now,
        };
        match t.amount_set.price(
            currency,
            &to_path(&["transactions", index.as_str(), "amountSet"]),
        ) {
            Ok(amount) => transactions.push(Transaction {
                id: 0,
                kind: t.kind.clone().unwrap_or_else(|| "SALE".to_owned()),
                status: t.status.clone().unwrap_or_else(|| "SUCCESS".to_owned()),
                gateway: t.gateway.clone(),
                authorization_code: t.authorization_code.clone(),
                amount,
                test: t.test.unwrap_or(false),
                processed_at,
            }),
            Err(e) => errors.push(e.code("INVALID")),
        }
    }
    let discount = match input
        .discount_code
        .as_ref()
        .and_then(|d| d.item_fixed_discount_code.as_ref())
    {
        None => None,
        Some(fixed) => {
            let field = to_path(&["discountCode", "itemFixedDiscountCode", "amountSet"]);
            match &fixed.amount_set {
                Some(bag) => match bag.price(currency, &field) {
                    Ok(amount) => Some((fixed.code.clone(), amount)),
                    Err(e) => {
                        errors.push(e.code("INVALID"));
                        None
                    }
                },
                None => {
                    errors.push(UserErr {
                        field,
                        message: "Amount can't be blank for a fixed discount code".to_owned(),
                        code: Some("INVALID"),
                    });
                    None
                }
            }
        }
    };
    for (address, name) in [
        (&input.shipping_address, "shippingAddress"),
        (&input.billing_address, "billingAddress"),
    ] {
        if let Some(address) = address {
            errors.extend(
                rules
                    .check_address(address, &[ORDER, name])
                    .into_iter()
                    .map(|e| e.code("INVALID")),
            );
        }
    }
    let processed_at = match &input.processed_at {
        None => None,
        Some(text) => match parse_datetime(text) {
            Some(at) if at <= now => Some(at),
            Some(_) => {
                errors.push(
                    err_at(
                        &[ORDER],
                        &["processedAt"],
                        "Processed at can't be in the future",
                    )
                    .code("PROCESSED_AT_INVALID"),
                );
                None
            }
            None => {
                errors.push(
                    err_at(&[ORDER], &["processedAt"], "Processed at is invalid")
                        .code("PROCESSED_AT_INVALID"),
                );
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Draft {
        lines,
        line_taxes,
        order_taxes,
        shipping,
        transactions,
        discount,
        processed_at,
    })
}

/// Claims stock for the lines per `behaviour` (all or nothing).
fn claim_inventory(
    catalog: &mut Catalog,
    lines: &[OrderLine],
    behaviour: InventoryBehaviour,
) -> Result<(), Vec<UserErr>> {
    if behaviour == InventoryBehaviour::Bypass {
        return Ok(());
    }
    // Quantity per variant, with the first line that asks for it.
    let mut wanted: BTreeMap<u64, (i64, usize)> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(vid) = line.variant_id {
            wanted.entry(vid).or_insert((0, i)).0 += line.quantity;
        }
    }
    let mut errors = Vec::new();
    let mut changes: Vec<(u64, u64, i64)> = Vec::new();
    for (vid, (quantity, first_line)) in &wanted {
        let Some(pid) = catalog.variant_owner(*vid) else {
            continue;
        };
        let Some(variant) = catalog
            .get(pid)
            .and_then(|p| p.variants.iter().find(|v| v.id == *vid))
        else {
            continue;
        };
        if !variant.tracked {
            continue;
        }
        let available = i64::from(variant.inventory_quantity);
        if behaviour == InventoryBehaviour::DecrementObeyingPolicy
            && variant.inventory_policy == InventoryPolicy::Deny
            && available < *quantity
        {
            let index = first_line.to_string();
            errors.push(
                err_at(
                    &[ORDER],
                    &["lineItems", index.as_str(), "quantity"],
                    format!(
                        "Unable to claim inventory for {}: {quantity} requested, {} available",
                        lines[*first_line].name,
                        available.max(0)
                    ),
                )
                .code("INVENTORY_CLAIM_FAILED"),
            );
            continue;
        }
        changes.push((pid, *vid, *quantity));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (pid, vid, quantity) in changes {
        catalog.update(pid, |p| {
            for v in p.variants.iter_mut().filter(|v| v.id == vid) {
                let left = i64::from(v.inventory_quantity) - quantity;
                v.inventory_quantity = i32::try_from(left).unwrap_or(i32::MIN);
            }
        });
    }
    Ok(())
}
