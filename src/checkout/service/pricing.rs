//! Repricing a session with Shopify's own quote.

use chrono::Utc;

use super::{CheckoutRecord, CheckoutService, ServiceError, error_message, same_currency};
use crate::checkout::error::AcpError;
use crate::checkout::model::{
    AddressField, ErrorCode, FulfillmentKind, FulfillmentOption, Message, MessageTarget,
    RequestedLine, SessionLine, SessionStatus, Totals,
};
use crate::domain::{CartLine, Currency, Money, Quote};
use crate::source::shopify::{
    AddressField as ShopifyAddressField, QuoteOutcome, QuoteProblem, QuoteProblemKind,
    QuoteRequest, ShopifyError,
};

/// Most units of one item per session; more is refused as
/// `quantity_exceeded` before Shopify is asked.
const MAX_QUANTITY: u32 = 999;

impl CheckoutService {
    /// Reprices `record` for `requested` lines: checks items against the
    /// published feed, asks Shopify for a quote (twice when a shipping rate
    /// must be picked first), and sets lines, options, totals, messages and
    /// status from it.
    pub(super) async fn reprice(
        &self,
        record: &mut CheckoutRecord,
        requested: &[RequestedLine],
        currency: Currency,
    ) -> Result<(), ServiceError> {
        // Etsy listings are published for discovery only: refuse them with
        // a protocol error before anything is priced.
        if let Some((i, line)) = requested
            .iter()
            .enumerate()
            .find(|(_, l)| crate::source::etsy::is_etsy_item_id(&l.item_id))
        {
            let field = if record.session.created_with == crate::checkout::ApiVersion::V2025_09_29 {
                "items"
            } else {
                "line_items"
            };
            return Err(AcpError::etsy_item(format!("$.{field}[{i}].id"), &line.item_id).into());
        }
        let items = self.feed_items()?;
        let mut messages: Vec<Message> = Vec::new();
        let mut cart: Vec<(usize, CartLine)> = Vec::new();
        for (i, line) in requested.iter().enumerate() {
            let Some(quantity) = line.quantity.units() else {
                messages.push(error_message(
                    ErrorCode::Invalid,
                    MessageTarget::LineQuantity(i),
                    "Quantities must be whole units for this item.",
                ));
                continue;
            };
            if quantity > MAX_QUANTITY {
                messages.push(error_message(
                    ErrorCode::QuantityExceeded,
                    MessageTarget::LineQuantity(i),
                    format!("At most {MAX_QUANTITY} units of one item can be bought at once."),
                ));
                continue;
            }
            if !self.deps.feed_checkout_eligible || !items.contains(&line.item_id) {
                messages.push(error_message(
                    ErrorCode::NotFound,
                    MessageTarget::Line(i),
                    format!(
                        "Item {} is not available for checkout from this shop.",
                        line.item_id
                    ),
                ));
                continue;
            }
            cart.push((
                i,
                CartLine {
                    variant_id: line.item_id.clone(),
                    quantity,
                },
            ));
        }
        // Keep the requested order and quantities so a later update without
        // `line_items` reprices the same cart.
        let s = &mut record.session;
        s.lines = cart
            .iter()
            .map(|(i, c)| SessionLine {
                id: format!("li_{}", i + 1),
                item_id: c.variant_id.clone(),
                quantity: c.quantity,
                title: c.variant_id.clone(),
                description: None,
                image_url: None,
                sku: None,
                unit_amount: Money::new(0, currency),
                base_amount: Money::new(0, currency),
                discount: Money::new(0, currency),
                subtotal: Money::new(0, currency),
                tax: Money::new(0, currency),
                total: Money::new(0, currency),
                availability: None,
            })
            .collect();
        record.quote = None;
        s.fulfillment_options.clear();
        s.totals = Totals::zero(currency);

        if !cart.is_empty() {
            let mut request = QuoteRequest {
                currency,
                lines: cart.iter().map(|(_, c)| c.clone()).collect(),
                address: s.address.clone(),
                email: s.buyer.as_ref().and_then(|b| b.email.clone()),
                shipping_rate_handle: s.selected_fulfillment.clone(),
            };
            let mut outcome = self.quote(&request).await?;
            // A selected rate that is no longer offered: say so, then price
            // with the cheapest one instead.
            if let QuoteOutcome::Rejected(problems) = &outcome
                && problems
                    .iter()
                    .any(|p| matches!(p.kind, QuoteProblemKind::ShippingRateUnavailable { .. }))
            {
                messages.push(
                    error_message(
                        ErrorCode::Invalid,
                        MessageTarget::FulfillmentOption,
                        "The selected shipping option is not offered for this cart and address; the cheapest one was selected instead.",
                    ),
                );
                request.shipping_rate_handle = None;
                outcome = self.quote(&request).await?;
            }
            // No rate selected yet: pick the cheapest and price with it.
            if let QuoteOutcome::Quoted(quote) = &outcome
                && request.shipping_rate_handle.is_none()
                && let Some(cheapest) = quote.shipping_rates.iter().min_by_key(|r| r.price.amount)
            {
                request.shipping_rate_handle = Some(cheapest.handle.clone());
                outcome = self.quote(&request).await?;
            }
            match outcome {
                QuoteOutcome::Quoted(quote) => {
                    apply_quote(record, &cart, &quote, currency, &mut messages);
                    record.session.selected_fulfillment =
                        quote.selected_shipping.as_ref().map(|r| r.handle.clone());
                    record.quote = Some(quote);
                }
                QuoteOutcome::Rejected(problems) => {
                    for problem in &problems {
                        messages.push(problem_message(problem, &cart));
                    }
                    record.session.selected_fulfillment = None;
                }
            }
        } else if requested.is_empty() {
            messages.push(error_message(
                ErrorCode::Missing,
                MessageTarget::None,
                "Add at least one item.",
            ));
        }

        let s = &mut record.session;
        let needs_shipping = record
            .quote
            .as_ref()
            .is_some_and(|q| q.lines.iter().any(|l| l.requires_shipping));
        if s.address.is_none() && (needs_shipping || record.quote.is_none()) {
            messages.push(error_message(
                ErrorCode::Missing,
                MessageTarget::FulfillmentAddress,
                "Add a shipping address to see shipping options, tax and the total.",
            ));
        } else if needs_shipping
            && s.selected_fulfillment.is_none()
            && !messages.iter().any(|m| m.is_error())
        {
            messages.push(error_message(
                ErrorCode::Missing,
                MessageTarget::FulfillmentOption,
                "No shipping option is available for this address.",
            ));
        }
        let ready = record.quote.is_some()
            && !messages.iter().any(Message::is_error)
            && s.address.is_some()
            && (!needs_shipping || s.selected_fulfillment.is_some());
        s.messages = messages;
        s.status = if ready {
            SessionStatus::ReadyForPayment
        } else {
            SessionStatus::NotReadyForPayment
        };
        s.updated_at = Utc::now();
        Ok(())
    }

    async fn quote(&self, request: &QuoteRequest) -> Result<QuoteOutcome, ServiceError> {
        match self.deps.shopify.calculate_quote(request).await {
            Ok(outcome) => Ok(outcome),
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "pricing the cart failed");
                Err(upstream(&e).into())
            }
        }
    }
}

/// A Shopify failure as the agent sees it.
pub(super) fn upstream(e: &ShopifyError) -> AcpError {
    if e.is_retryable() || matches!(e, ShopifyError::OutcomeUnknown { .. }) {
        AcpError::upstream_unavailable(Some(5))
    } else {
        AcpError::internal()
    }
}

fn apply_quote(
    record: &mut CheckoutRecord,
    cart: &[(usize, CartLine)],
    quote: &Quote,
    currency: Currency,
    messages: &mut Vec<Message>,
) {
    let s = &mut record.session;
    if !same_currency(quote.total.currency, currency) {
        messages.push(error_message(
            ErrorCode::Invalid,
            MessageTarget::None,
            "The shop priced this cart in another currency.",
        ));
        return;
    }
    for (line, quoted) in s.lines.iter_mut().zip(&quote.lines) {
        line.title.clone_from(&quoted.title);
        line.sku.clone_from(&quoted.sku);
        line.unit_amount = quoted.unit_price;
        line.base_amount = quoted.base_amount;
        line.discount = quoted.discount;
        let subtotal = quoted.base_amount.amount - quoted.discount.amount;
        line.subtotal = Money::new(subtotal, currency);
        line.tax = quoted.tax;
        line.total = Money::new(subtotal + quoted.tax.amount, currency);
    }
    let _ = cart;
    s.fulfillment_options = quote
        .shipping_rates
        .iter()
        .map(|rate| FulfillmentOption {
            id: rate.handle.clone(),
            kind: FulfillmentKind::Shipping,
            title: rate.title.clone(),
            subtitle: None,
            carrier: None,
            earliest_delivery: None,
            latest_delivery: None,
            subtotal: rate.price,
            tax: Money::new(0, currency),
            total: rate.price,
        })
        .collect();
    let has_address = s.address.is_some();
    s.totals = Totals {
        items_base_amount: quote.items_base,
        items_discount: quote.discount,
        subtotal: quote.subtotal,
        discount: quote.discount,
        fulfillment: quote.selected_shipping.as_ref().map(|_| quote.shipping),
        tax: has_address.then_some(quote.tax),
        fee: None,
        total: quote.total,
    };
    // Shopify's calculation alerts are about stock a draft cannot claim
    // (not enough of a variant that may not be oversold): not payable.
    for warning in &quote.warnings {
        messages.push(error_message(
            ErrorCode::OutOfStock,
            MessageTarget::None,
            warning.clone(),
        ));
    }
}

fn problem_message(problem: &QuoteProblem, cart: &[(usize, CartLine)]) -> Message {
    let line_of = |variant: &str| {
        cart.iter()
            .find(|(_, c)| c.variant_id == variant)
            .map(|(i, _)| *i)
    };
    match &problem.kind {
        QuoteProblemKind::Address(field) => {
            let target = match field {
                ShopifyAddressField::Country => {
                    MessageTarget::FulfillmentAddressField(AddressField::Country)
                }
                ShopifyAddressField::Province => {
                    MessageTarget::FulfillmentAddressField(AddressField::State)
                }
                ShopifyAddressField::PostalCode => {
                    MessageTarget::FulfillmentAddressField(AddressField::PostalCode)
                }
                ShopifyAddressField::City => {
                    MessageTarget::FulfillmentAddressField(AddressField::City)
                }
                ShopifyAddressField::LineOne => {
                    MessageTarget::FulfillmentAddressField(AddressField::LineOne)
                }
                ShopifyAddressField::LineTwo => {
                    MessageTarget::FulfillmentAddressField(AddressField::LineTwo)
                }
                ShopifyAddressField::Name => {
                    MessageTarget::FulfillmentAddressField(AddressField::Name)
                }
                ShopifyAddressField::Phone | ShopifyAddressField::Other => {
                    MessageTarget::FulfillmentAddress
                }
            };
            error_message(ErrorCode::Invalid, target, problem.message.clone())
        }
        QuoteProblemKind::UnknownVariant { variant_id } => error_message(
            ErrorCode::NotFound,
            line_of(variant_id).map_or(MessageTarget::None, MessageTarget::Line),
            problem.message.clone(),
        ),
        QuoteProblemKind::InvalidQuantity { variant_id } => error_message(
            ErrorCode::Invalid,
            line_of(variant_id).map_or(MessageTarget::None, MessageTarget::LineQuantity),
            problem.message.clone(),
        ),
        QuoteProblemKind::ShippingRateUnavailable { .. } => error_message(
            ErrorCode::Invalid,
            MessageTarget::FulfillmentOption,
            problem.message.clone(),
        ),
        _ => error_message(
            ErrorCode::Invalid,
            MessageTarget::None,
            problem.message.clone(),
        ),
    }
}
