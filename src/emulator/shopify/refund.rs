//! Money and units going back: `refundCreate` (refunded lines with or
//! without restocking, refund transactions, shipping) and `orderCancel`
//! (cancellation with a reason, optional refund of what was paid, optional
//! restock of what was not shipped), shared by the GraphQL mutations and the
//! merchant helpers on `ShopifyEmulator`.
//!
//! Rules enforced: a line can be refunded up to its current quantity;
//! `CANCEL` restocks only unshipped units, `RETURN` only shipped ones;
//! `LEGACY_RESTOCK` is refused for new refunds; refund transactions must be
//! `REFUND`s whose parent is a payment of the order; the money refunded may
//! not exceed what was received unless `allowOverRefunding`. Refunding
//! unshipped units removes them from the fulfillment orders. An order is
//! cancelled once; cancelling closes it, voids an unpaid one and, with
//! `refund`, returns the outstanding payment.
//!
//! Each operation validates first and changes nothing on a user error; on
//! success it returns the webhook events (`refunds/create`,
//! `orders/cancelled`, `orders/updated`, and the product and inventory
//! events of restocked variants).

use serde::Deserialize;

use super::catalog::Catalog;
use super::data::{Price, parse_datetime, parse_gid};
use super::fulfillment::{Done, order_events};
use super::inputs::{DecimalText, UserErr, parse_cents};
use super::lifecycle::{CancelReason, FulfillmentOrderStatus, Refund, RefundLine, RestockType};
use super::orders::{Order, OrderBook, Transaction};
use super::payloads::{order_json, refund_json, restock};
use super::webhooks::{Emitted, WebhookTopic};

/// `RefundLineItemInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundLineInput {
    line_item_id: String,
    quantity: i64,
    #[serde(default)]
    restock_type: Option<String>,
}

/// `ShippingRefundInput`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShippingInput {
    #[serde(default)]
    amount: Option<DecimalText>,
    #[serde(default)]
    full_refund: Option<bool>,
}

/// `OrderTransactionInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransactionInput {
    amount: DecimalText,
    gateway: String,
    kind: String,
    #[serde(default)]
    parent_id: Option<String>,
}

/// `RefundInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundInput {
    order_id: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    shipping: Option<ShippingInput>,
    #[serde(default)]
    processed_at: Option<String>,
    #[serde(default)]
    refund_line_items: Option<Vec<RefundLineInput>>,
    #[serde(default)]
    transactions: Option<Vec<TransactionInput>>,
    #[serde(default)]
    allow_over_refunding: Option<bool>,
}

/// One line to refund.
#[derive(Debug, Clone)]
pub(crate) struct RefundLineRequest {
    pub line_id: Option<u64>,
    pub quantity: i64,
    /// `None`: `NO_RESTOCK`; `Err`: a value new refunds may not use.
    pub restock_type: Result<RestockType, String>,
}

/// One refund transaction.
#[derive(Debug, Clone)]
pub(crate) struct RefundMoney {
    /// The amount text as given (for errors).
    pub amount: String,
    pub kind: String,
    pub gateway: String,
    /// `None`: no parent given; `Some(None)`: a parent id that is not one.
    pub parent_id: Option<Option<u64>>,
}

/// A refund to make.
#[derive(Debug, Clone, Default)]
pub(crate) struct RefundRequest {
    pub order_id: Option<u64>,
    pub note: Option<String>,
    pub lines: Vec<RefundLineRequest>,
    pub transactions: Vec<RefundMoney>,
    /// Shipping to refund: an amount, or everything not refunded yet.
    pub shipping: Option<Price>,
    pub full_shipping: bool,
    pub processed_at: Option<i64>,
    pub allow_over_refunding: bool,
}

impl RefundRequest {
    /// From `RefundInput`; the error is a user error the input itself
    /// causes.
    pub(crate) fn from_input(input: &RefundInput) -> Result<Self, Vec<UserErr>> {
        let mut errors = Vec::new();
        let lines = input
            .refund_line_items
            .iter()
            .flatten()
            .map(|l| RefundLineRequest {
                line_id: parse_gid(&l.line_item_id, "LineItem"),
                quantity: l.quantity,
                restock_type: match l.restock_type.as_deref() {
                    None | Some("NO_RESTOCK") => Ok(RestockType::NoRestock),
                    Some("RETURN") => Ok(RestockType::Return),
                    Some("CANCEL") => Ok(RestockType::Cancel),
                    Some(other) => Err(other.to_owned()),
                },
            })
            .collect();
        let transactions = input
            .transactions
            .iter()
            .flatten()
            .map(|t| RefundMoney {
                amount: t.amount.0.clone(),
                kind: t.kind.clone(),
                gateway: t.gateway.clone(),
                parent_id: t
                    .parent_id
                    .as_ref()
                    .map(|p| parse_gid(p, "OrderTransaction")),
            })
            .collect();
        let shipping = input.shipping.clone().unwrap_or_default();
        let shipping_amount = match &shipping.amount {
            None => None,
            Some(text) => match parse_cents(&text.0) {
                Some(c) if c >= 0 => Some(Price(c)),
                _ => {
                    errors.push(UserErr::at(
                        &["shipping", "amount"],
                        format!("Amount {} is not a valid amount", text.0),
                    ));
                    None
                }
            },
        };
        let processed_at = match &input.processed_at {
            None => None,
            Some(text) => match parse_datetime(text) {
                Some(t) => Some(t),
                None => {
                    errors.push(UserErr::at(&["processedAt"], "Processed at is invalid"));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(RefundRequest {
            order_id: parse_gid(&input.order_id, "Order"),
            note: input.note.clone(),
            lines,
            transactions,
            shipping: shipping_amount,
            full_shipping: shipping.full_refund.unwrap_or(false),
            processed_at,
            allow_over_refunding: input.allow_over_refunding.unwrap_or(false),
        })
    }
}

/// The payment a refund goes back to: the first successful sale or capture.
fn first_payment(order: &Order) -> Option<&Transaction> {
    order
        .transactions
        .iter()
        .find(|t| t.status == "SUCCESS" && matches!(t.kind.as_str(), "SALE" | "CAPTURE"))
}

/// Unit value (after its discount share) and tax of `quantity` units.
fn line_value(order: &Order, line_id: u64, quantity: i64) -> (Price, Price, Price) {
    let Some(line) = order.line(line_id) else {
        return (Price(0), Price(0), Price(0));
    };
    let q = line.quantity.max(1);
    let net = line.total().0 - line.discount.0;
    let tax: i64 = line.tax_lines.iter().map(|t| t.amount.0).sum();
    (
        Price(net / q),
        Price(net * quantity / q),
        Price(tax * quantity / q),
    )
}

fn dollars(p: Price) -> String {
    format!("${p}")
}

fn validate_refund(
    order: &Order,
    request: &RefundRequest,
) -> Result<Vec<(Price, Transaction)>, Vec<UserErr>> {
    let mut errors = Vec::new();
    for (i, l) in request.lines.iter().enumerate() {
        let index = i.to_string();
        let at = |field: &'static str| vec!["refundLineItems", index.as_str(), field];
        let Some(line) = l.line_id.and_then(|id| order.line(id)) else {
            errors.push(UserErr::at(&at("lineItemId"), "Line item does not exist"));
            continue;
        };
        let restock = match &l.restock_type {
            Ok(r) => *r,
            Err(other) => {
                errors.push(UserErr::at(
                    &at("restockType"),
                    format!(
                        "Restock type {} is not allowed for new refunds",
                        other.to_ascii_lowercase()
                    ),
                ));
                continue;
            }
        };
        if l.quantity < 1 {
            errors.push(UserErr::at(
                &at("quantity"),
                "Quantity must be greater than 0",
            ));
            continue;
        }
        let earlier: i64 = request.lines[..i]
            .iter()
            .filter(|o| o.line_id == l.line_id)
            .map(|o| o.quantity)
            .sum();
        if earlier + l.quantity > order.refundable_quantity(line) {
            errors.push(UserErr::at(
                &at("quantity"),
                "Quantity cannot refund more items than were purchased",
            ));
            continue;
        }
        match restock {
            RestockType::Cancel if l.quantity > order.unfulfilled_quantity(line.id) => {
                errors.push(UserErr::at(
                    &at("quantity"),
                    "Refund line items cannot remove more than the fulfillable quantity.",
                ));
            }
            RestockType::Return
                if l.quantity
                    > order.fulfilled_quantity(line.id) - order.returned_quantity(line.id) =>
            {
                errors.push(UserErr::at(
                    &at("quantity"),
                    "Refund line items cannot return more than the fulfilled quantity.",
                ));
            }
            _ => {}
        }
    }
    let mut money = Vec::new();
    for t in &request.transactions {
        if !t.kind.eq_ignore_ascii_case("REFUND") {
            errors.push(UserErr::at(
                &[],
                format!(
                    "Kind {} is not a valid transaction",
                    t.kind.to_ascii_lowercase()
                ),
            ));
            continue;
        }
        let parent = match t.parent_id {
            Some(Some(id)) => order.transactions.iter().find(|p| p.id == id),
            Some(None) => None,
            None if order.transactions.is_empty() => None,
            None => {
                errors.push(UserErr::at(
                    &["transactions"],
                    "Transactions require a parent_id associated with the order",
                ));
                continue;
            }
        };
        if t.parent_id.is_some() && parent.is_none() {
            errors.push(UserErr::at(
                &["transactions"],
                "Transactions require a parent_id associated with the order",
            ));
            continue;
        }
        let Some(cents) = parse_cents(&t.amount).filter(|c| *c >= 0) else {
            errors.push(UserErr::at(
                &["transactions"],
                format!("Amount {} is not a valid amount", t.amount),
            ));
            continue;
        };
        money.push((
            Price(cents),
            Transaction {
                id: 0,
                kind: "REFUND".to_owned(),
                status: "SUCCESS".to_owned(),
                gateway: parent
                    .and_then(|p| p.gateway.clone())
                    .or_else(|| Some(t.gateway.clone())),
                authorization_code: parent.and_then(|p| p.authorization_code.clone()),
                amount: Price(cents),
                test: parent.is_some_and(|p| p.test),
                processed_at: 0,
            },
        ));
    }
    if errors.is_empty() && !request.allow_over_refunding {
        let asked: i64 = money.iter().map(|(p, _)| p.0).sum();
        let left = (order.received().0 - order.refunded().0).max(0);
        if asked > left {
            errors.push(UserErr::at(
                &[],
                format!(
                    "Refund amount {} is greater than net payment received {}",
                    dollars(Price(asked)),
                    dollars(Price(left))
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(money)
    } else {
        Err(errors)
    }
}

/// Removes up to `quantity` unshipped units of `line_id` from the open
/// fulfillment orders; returns how many were removed.
fn remove_unshipped(order: &mut Order, line_id: u64, quantity: i64, stamp: i64) -> i64 {
    let mut left = quantity;
    for fo in order
        .fulfillment_orders
        .iter_mut()
        .filter(|fo| fo.status.is_fulfillable())
    {
        let mut touched = false;
        for line in fo.lines.iter_mut().filter(|l| l.line_id == line_id) {
            let take = left.min(line.remaining);
            line.remaining -= take;
            left -= take;
            touched |= take > 0;
        }
        if touched {
            fo.updated_at = stamp;
            fo.settle();
        }
    }
    quantity - left
}

/// `refundCreate`.
pub(crate) fn create(
    catalog: &mut Catalog,
    book: &mut OrderBook,
    request: &RefundRequest,
) -> Result<Done, Vec<UserErr>> {
    let Some(order_id) = request.order_id.filter(|id| book.get(*id).is_some()) else {
        return Err(vec![UserErr::at(&["orderId"], "Order does not exist")]);
    };
    let order = book.get(order_id).ok_or_else(Vec::new)?;
    let money = validate_refund(order, request)?;
    let stamp = book.stamp();
    let refund_id = book.next_id();
    let line_ids: Vec<u64> = request.lines.iter().map(|_| book.next_id()).collect();
    let transaction_ids: Vec<u64> = money.iter().map(|_| book.next_transaction_id()).collect();
    let Some(order) = book.get_mut(order_id) else {
        return Err(vec![UserErr::at(&["orderId"], "Order does not exist")]);
    };
    let mut lines = Vec::new();
    let mut to_restock = Vec::new();
    for (l, id) in request.lines.iter().zip(line_ids) {
        let line_id = l.line_id.unwrap_or_default();
        let restock_type = l.restock_type.clone().unwrap_or(RestockType::NoRestock);
        if restock_type != RestockType::Return {
            remove_unshipped(order, line_id, l.quantity, stamp);
        }
        if restock_type.restocks()
            && let Some(vid) = order.line(line_id).and_then(|line| line.variant_id)
        {
            to_restock.push((vid, l.quantity));
        }
        let (price, subtotal, total_tax) = line_value(order, line_id, l.quantity);
        lines.push(RefundLine {
            id,
            line_id,
            quantity: l.quantity,
            restock_type,
            price,
            subtotal,
            total_tax,
        });
    }
    let shipping_left =
        (order.total_shipping.0 - order.refunds.iter().map(|r| r.shipping.0).sum::<i64>()).max(0);
    let shipping = if request.full_shipping {
        Price(shipping_left)
    } else {
        Price(request.shipping.map_or(0, |p| p.0).min(shipping_left))
    };
    let processed_at = request.processed_at.unwrap_or(stamp);
    let transactions: Vec<Transaction> = money
        .into_iter()
        .zip(transaction_ids)
        .map(|((_, mut t), id)| {
            t.id = id;
            t.processed_at = processed_at;
            t
        })
        .collect();
    order.transactions.extend(transactions.iter().cloned());
    order.refunds.push(Refund {
        id: refund_id,
        note: request.note.clone(),
        restock: !to_restock.is_empty(),
        lines,
        transactions,
        shipping,
        created_at: stamp,
        processed_at,
    });
    order.updated_at = stamp;
    order.settle_financial_status();
    let mut emitted = Vec::new();
    emitted.extend(restock(catalog, &to_restock));
    if let Some(order) = book.get(order_id)
        && let Some(refund) = order.refunds.last()
    {
        emitted.insert(
            0,
            Emitted::new(
                WebhookTopic::RefundsCreate,
                refund_json(order, refund, catalog),
            ),
        );
        emitted.insert(
            1,
            Emitted::new(WebhookTopic::OrdersUpdated, order_json(order, catalog)),
        );
    }
    Ok(Done {
        order_id,
        target: refund_id,
        emitted,
    })
}

/// An order cancellation.
#[derive(Debug, Clone)]
pub(crate) struct CancelRequest {
    pub order_id: Option<u64>,
    pub reason: CancelReason,
    /// Refund what was paid and not refunded yet.
    pub refund: bool,
    /// Put unshipped units back into stock.
    pub restock: bool,
    pub staff_note: Option<String>,
}

fn cancel_error(field: &str, message: &str, code: &'static str) -> Vec<UserErr> {
    vec![UserErr::at(&[field], message).code(code)]
}

/// `orderCancel`; the target of the result is the job id.
pub(crate) fn cancel(
    catalog: &mut Catalog,
    book: &mut OrderBook,
    request: &CancelRequest,
) -> Result<Done, Vec<UserErr>> {
    if request
        .staff_note
        .as_ref()
        .is_some_and(|n| n.chars().count() > 255)
    {
        return Err(cancel_error(
            "staffNote",
            "Staff note is too long (maximum is 255 characters)",
            "INVALID",
        ));
    }
    let Some(order_id) = request.order_id.filter(|id| book.get(*id).is_some()) else {
        return Err(cancel_error("orderId", "Order does not exist", "NOT_FOUND"));
    };
    let order = book.get(order_id).ok_or_else(Vec::new)?;
    if order.cancelled_at.is_some() {
        return Err(cancel_error(
            "orderId",
            "Order has already been cancelled",
            "INVALID",
        ));
    }
    // Unshipped units per line: they are cancelled (and maybe restocked).
    let unshipped: Vec<(u64, Option<u64>, i64)> = order
        .lines
        .iter()
        .map(|l| (l.id, l.variant_id, order.unfulfilled_quantity(l.id)))
        .filter(|(_, _, q)| *q > 0)
        .collect();
    let outstanding = Price((order.received().0 - order.refunded().0).max(0));
    let payment = first_payment(order).cloned();
    let stamp = book.stamp();
    let job_id = book.next_id();
    book.jobs.push(job_id);
    let record_refund = !unshipped.is_empty() || (request.refund && outstanding.0 > 0);
    let refund_id = book.next_id();
    let line_ids: Vec<u64> = unshipped.iter().map(|_| book.next_id()).collect();
    let transaction_id = book.next_transaction_id();
    let Some(order) = book.get_mut(order_id) else {
        return Err(cancel_error("orderId", "Order does not exist", "NOT_FOUND"));
    };
    let restock_type = if request.restock {
        RestockType::Cancel
    } else {
        RestockType::NoRestock
    };
    let mut lines = Vec::new();
    for ((line_id, _, quantity), id) in unshipped.iter().zip(line_ids) {
        let (price, subtotal, total_tax) = line_value(order, *line_id, *quantity);
        lines.push(RefundLine {
            id,
            line_id: *line_id,
            quantity: *quantity,
            restock_type,
            price,
            subtotal,
            total_tax,
        });
    }
    for fo in &mut order.fulfillment_orders {
        if !fo.status.is_fulfillable() {
            continue;
        }
        let shipped = fo.lines.iter().any(|l| l.remaining < l.total);
        for line in &mut fo.lines {
            line.remaining = 0;
        }
        fo.status = if shipped {
            FulfillmentOrderStatus::Closed
        } else {
            FulfillmentOrderStatus::Cancelled
        };
        fo.updated_at = stamp;
    }
    let transactions = if request.refund && outstanding.0 > 0 {
        vec![Transaction {
            id: transaction_id,
            kind: "REFUND".to_owned(),
            status: "SUCCESS".to_owned(),
            gateway: payment.as_ref().and_then(|p| p.gateway.clone()),
            authorization_code: payment.as_ref().and_then(|p| p.authorization_code.clone()),
            amount: outstanding,
            test: payment.as_ref().is_some_and(|p| p.test),
            processed_at: stamp,
        }]
    } else {
        Vec::new()
    };
    if record_refund {
        order.transactions.extend(transactions.iter().cloned());
        order.refunds.push(Refund {
            id: refund_id,
            note: None,
            restock: request.restock && !lines.is_empty(),
            lines,
            transactions,
            shipping: Price(0),
            created_at: stamp,
            processed_at: stamp,
        });
    }
    order.cancelled_at = Some(stamp);
    order.cancel_reason = Some(request.reason);
    order.closed_at = Some(stamp);
    order.updated_at = stamp;
    order.settle_financial_status();
    let to_restock: Vec<(u64, i64)> = if request.restock {
        unshipped
            .iter()
            .filter_map(|(_, vid, q)| vid.map(|v| (v, *q)))
            .collect()
    } else {
        Vec::new()
    };
    let mut emitted = Vec::new();
    if let Some(order) = book.get(order_id) {
        emitted.push(Emitted::new(
            WebhookTopic::OrdersCancelled,
            order_json(order, catalog),
        ));
        if record_refund && let Some(refund) = order.refunds.last() {
            emitted.push(Emitted::new(
                WebhookTopic::RefundsCreate,
                refund_json(order, refund, catalog),
            ));
        }
        emitted.extend(order_events(order, catalog, false));
    }
    emitted.extend(restock(catalog, &to_restock));
    Ok(Done {
        order_id,
        target: job_id,
        emitted,
    })
}
