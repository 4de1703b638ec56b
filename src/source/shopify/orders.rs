//! Checkout pricing and order write-back: [`ShopifyClient::calculate_quote`]
//! prices a cart with Shopify's own taxes, shipping rates and automatic
//! discounts (`draftOrderCalculate`, nothing is created);
//! [`ShopifyClient::create_order`] writes a paid checkout back as a native
//! order (`orderCreate`); [`ShopifyClient::find_order_by_checkout`] finds
//! that order by its `acp:<checkout id>` tag.
//!
//! `orderCreate` is not idempotent. It is sent once: retried only after
//! failures that prove Shopify did not run it, otherwise it ends with
//! [`ShopifyError::OutcomeUnknown`]. The caller then looks the order up with
//! `find_order_by_checkout` (order search is eventually consistent, so an
//! order created seconds ago may not be found yet; look a few times over
//! ~30 s) and only creates it again when it is really absent.
//!
//! Mapping lives in `orders_map.rs`; nothing here logs addresses or emails.

use chrono::{DateTime, Utc};

use super::client::ShopifyClient;
use super::error::{ShopifyError, UserError};
use super::gql::{
    DraftOrderCalculate, OrderCreate, OrdersByQuery, draft_order_calculate, order_create,
    orders_by_query,
};
use super::orders_map::{
    checkout_orders, checkout_search, created_order, draft_input, map_quote, order_input,
    order_user_errors, quote_problems,
};
use crate::domain::{Buyer, CartLine, Currency, Money, PostalAddress, Quote};

/// Orders fetched per checkout lookup (more than one means duplicates).
const LOOKUP_FIRST: i64 = 5;

/// A cart to price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRequest {
    /// The currency the checkout shows; must be the shop's currency.
    pub currency: Currency,
    pub lines: Vec<CartLine>,
    /// Where it ships; without it there are no rates and no tax.
    pub address: Option<PostalAddress>,
    pub email: Option<String>,
    /// A handle from an earlier quote's `shipping_rates`.
    pub shipping_rate_handle: Option<String>,
}

/// Which part of an address a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressField {
    Country,
    /// The state or province (`PostalAddress::state`).
    Province,
    PostalCode,
    City,
    LineOne,
    LineTwo,
    Name,
    Phone,
    Other,
}

/// What a quote problem is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteProblemKind {
    /// A field of the shipping address.
    Address(AddressField),
    /// The variant does not exist (any more).
    UnknownVariant { variant_id: String },
    /// The quantity is not accepted (below 1).
    InvalidQuantity { variant_id: String },
    /// The selected rate is not offered for this cart and address.
    ShippingRateUnavailable { handle: String },
    /// The shop does not sell in the requested currency.
    Currency {
        requested: Currency,
        /// The shop's currency, when known.
        shop: Option<Currency>,
    },
    /// Anything else Shopify refused, with its input path.
    Other { field: Vec<String> },
}

/// One reason a cart could not be priced, with Shopify's message (which
/// names fields, never the buyer's data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteProblem {
    pub kind: QuoteProblemKind,
    pub message: String,
}

/// A priced cart, or why it could not be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per quote and matched at once; a box would only add noise"
)]
pub enum QuoteOutcome {
    Quoted(Quote),
    Rejected(Vec<QuoteProblem>),
}

/// `OrderTransactionKind` of the recorded payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentKind {
    /// Authorized and captured at once.
    Sale,
    /// Authorized only.
    Authorization,
    /// Captured after an earlier authorization.
    Capture,
}

/// `OrderTransactionStatus` of the recorded payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Success,
    Pending,
    Failure,
}

/// A payment collected outside Shopify (the ACP delegated payment), recorded
/// on the order as a transaction; nothing is charged by Shopify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub amount: Money,
    /// The payment gateway name, e.g. `stripe`.
    pub gateway: String,
    /// The processor's reference (the Stripe PaymentIntent id), recorded as
    /// the transaction's authorization code.
    pub reference: String,
    pub kind: PaymentKind,
    pub status: PaymentStatus,
}

/// A paid checkout to write back as a Shopify order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// Becomes the tag `acp:<id>`, the `sourceIdentifier` and a custom
    /// attribute, so the order can be found again.
    pub checkout_session_id: String,
    /// The quote as shown to the buyer: the order gets exactly its lines,
    /// prices, taxes, discount and shipping.
    pub quote: Quote,
    pub shipping_address: Option<PostalAddress>,
    pub billing_address: Option<PostalAddress>,
    pub buyer: Buyer,
    pub payment: PaymentRecord,
    /// Let Shopify email its order confirmation.
    pub send_receipt: bool,
    /// Mark the order and transaction as test data.
    pub test: bool,
}

/// A Shopify order created for (or found by) a checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedOrder {
    /// The GID, `gid://shopify/Order/…`.
    pub id: String,
    /// The numeric id (`legacyResourceId`).
    pub legacy_id: u64,
    /// The display name, e.g. `#1001`.
    pub name: String,
    pub created_at: DateTime<Utc>,
}

fn user_errors(
    errors: Vec<draft_order_calculate::DraftOrderCalculateDraftOrderCalculateUserErrors>,
) -> Vec<UserError> {
    errors
        .into_iter()
        .map(|e| UserError {
            field: e.field.unwrap_or_default(),
            message: e.message,
            code: None,
        })
        .collect()
}

impl ShopifyClient {
    /// Prices a cart with Shopify's taxes, shipping rates and automatic
    /// discounts. Rates are offered once the request has an address; the
    /// selected rate is charged. Per-line tax is allocated from Shopify's
    /// order taxes (see `orders_map.rs`).
    ///
    /// # Errors
    /// Request failures (retried as usual), or an unmappable response.
    /// Problems with the cart itself come back as
    /// [`QuoteOutcome::Rejected`], not as errors.
    #[tracing::instrument(skip_all, fields(line.count = request.lines.len()), err)]
    pub async fn calculate_quote(
        &self,
        request: &QuoteRequest,
    ) -> Result<QuoteOutcome, ShopifyError> {
        let input = match draft_input(request) {
            Ok(input) => input,
            Err(problems) => return Ok(QuoteOutcome::Rejected(problems)),
        };
        let executed = self
            .execute::<DraftOrderCalculate>(draft_order_calculate::Variables { input })
            .await?;
        let payload =
            executed
                .data
                .draft_order_calculate
                .ok_or_else(|| ShopifyError::MissingData {
                    operation: "DraftOrderCalculate",
                    reason: "no payload".to_owned(),
                })?;
        if !payload.user_errors.is_empty() {
            let problems = quote_problems(request, user_errors(payload.user_errors));
            tracing::debug!(problem.count = problems.len(), "shopify refused the quote");
            return Ok(QuoteOutcome::Rejected(problems));
        }
        let calculated =
            payload
                .calculated_draft_order
                .ok_or_else(|| ShopifyError::MissingData {
                    operation: "DraftOrderCalculate",
                    reason: "neither a calculated order nor user errors".to_owned(),
                })?;
        map_quote(request, calculated)
    }

    /// Creates the order of a paid checkout, claiming stock obeying each
    /// variant's inventory policy.
    ///
    /// # Errors
    /// - [`ShopifyError::OutcomeUnknown`]: the request may have created the
    ///   order; call [`ShopifyClient::find_order_by_checkout`] before trying
    ///   again.
    /// - [`ShopifyError::InventoryClaimFailed`]: a variant lacks stock; no
    ///   order exists.
    /// - [`ShopifyError::UserErrors`]: Shopify refused the input; no order.
    /// - [`ShopifyError::InvalidRequest`]: the request is inconsistent; it
    ///   was not sent.
    /// - Other request failures; none of them can have created an order.
    #[tracing::instrument(skip_all, fields(checkout.id = %request.checkout_session_id), err)]
    pub async fn create_order(&self, request: &OrderRequest) -> Result<CreatedOrder, ShopifyError> {
        let (order, options) = order_input(request)?;
        let executed = self
            .execute_once::<OrderCreate>(order_create::Variables {
                order,
                options: Some(options),
            })
            .await?;
        let payload = executed
            .data
            .order_create
            .ok_or_else(|| ShopifyError::MissingData {
                operation: "OrderCreate",
                reason: "no payload".to_owned(),
            })?;
        if !payload.user_errors.is_empty() {
            return Err(order_user_errors(payload.user_errors));
        }
        let order = payload.order.ok_or_else(|| ShopifyError::MissingData {
            operation: "OrderCreate",
            reason: "neither an order nor user errors".to_owned(),
        })?;
        let total = &order.total_price_set.shop_money;
        if Money::parse_decimal(&total.amount, request.quote.total.currency).ok()
            != Some(request.quote.total)
        {
            tracing::warn!(
                order.id = %order.id,
                "shopify order total differs from the quote"
            );
        }
        let created = created_order(
            order.id,
            &order.legacy_resource_id,
            order.name,
            &order.created_at,
        )?;
        tracing::info!(order.id = %created.id, order.name = %created.name, "shopify order created");
        Ok(created)
    }

    /// The order created for a checkout, found by its tag: the oldest one if
    /// several exist (a warning is logged). `None` when search does not find
    /// one, which right after a creation may only mean the search index has
    /// not caught up.
    ///
    /// # Errors
    /// Request failures, or an unmappable order.
    #[tracing::instrument(skip_all, fields(checkout.id = %checkout_session_id), err)]
    pub async fn find_order_by_checkout(
        &self,
        checkout_session_id: &str,
    ) -> Result<Option<CreatedOrder>, ShopifyError> {
        let executed = self
            .execute::<OrdersByQuery>(orders_by_query::Variables {
                query: checkout_search(checkout_session_id),
                first: LOOKUP_FIRST,
            })
            .await?;
        let mut found = checkout_orders(checkout_session_id, executed.data.orders.nodes)?;
        if found.len() > 1 {
            tracing::warn!(
                order.count = found.len(),
                "several shopify orders carry one checkout's tag"
            );
        }
        Ok((!found.is_empty()).then(|| found.remove(0)))
    }
}

#[cfg(test)]
mod tests;
