//! `graphql_client` derives for the operation documents in `queries/shopify/`.
//!
//! This is the only place the generated wire types are declared; `wire.rs`
//! converts them into the shapes `map.rs` maps to domain types. The bulk inner
//! query (`bulk_products.graphql`) is not derived: it is sent as a string
//! ([`bulk_products_query`]).
//!
//! Custom scalars of the Admin schema arrive as JSON strings (except `JSON`),
//! so they are plain aliases here and are parsed by `map.rs` (money through
//! `Money::parse_decimal`, never a float).

#![allow(
    clippy::upper_case_acronyms,
    reason = "aliases must carry the schema's scalar names exactly"
)]

use graphql_client::GraphQLQuery;

/// `URL` scalar: an absolute URL as a string.
pub type URL = String;
/// `HTML` scalar: kept as-is; the feed converts it.
pub type HTML = String;
/// `DateTime` scalar: ISO 8601 with offset.
pub type DateTime = String;
/// `Money` scalar: a decimal string without currency, e.g. `"79.99"`.
pub type Money = String;
/// `UnsignedInt64` scalar: a string of digits.
pub type UnsignedInt64 = String;
/// `Decimal` scalar: an arbitrary-precision decimal string (`"10.0"`).
pub type Decimal = String;
/// `Date` scalar: an ISO 8601 date.
#[allow(dead_code, reason = "declared for operations that select it")]
pub type Date = String;
/// `JSON` scalar: an arbitrary JSON value.
#[allow(dead_code, reason = "declared for operations that select it")]
pub type JSON = serde_json::Value;

/// Shop-level facts (`shop.graphql`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/shop.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug, Clone"
)]
pub struct ShopInfo;

/// The shop's publications (`publications.graphql`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/publications.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug, Clone"
)]
pub struct Publications;

/// One page of products (`products_page.graphql`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/products_page.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug, Clone"
)]
pub struct ProductsPage;

/// The remaining variants of one product (`product_variants.graphql`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/product_variants.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug, Clone"
)]
pub struct ProductVariantsPage;

/// Starts a bulk query (`bulk_run_query.graphql`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/bulk_run_query.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug, Clone"
)]
pub struct BulkRunQuery;

/// Polls one bulk operation (`bulk_status.graphql`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/bulk_status.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug, Clone"
)]
pub struct BulkStatus;

/// Prices a cart with Shopify's taxes, rates and discounts
/// (`draft_order_calculate.graphql`). Unset optional inputs are left out of
/// the variables rather than sent as `null`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/draft_order_calculate.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug, Clone",
    skip_serializing_none
)]
pub struct DraftOrderCalculate;

/// Creates an order (`order_create.graphql`); not idempotent. Unset optional
/// inputs are left out, so schema defaults (`taxable: true`, …) apply.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/order_create.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug, Clone",
    skip_serializing_none
)]
pub struct OrderCreate;

/// Orders matching a search query, oldest first (`orders_by_query.graphql`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/orders_by_query.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug, Clone"
)]
pub struct OrdersByQuery;

/// ACP orders changed since a time, with fulfillments and refunds
/// (`orders_changed.graphql`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/orders_changed.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug, Clone"
)]
pub struct OrdersChanged;

/// The bulk inner query document with its `__PUBLICATION_ID__` placeholder.
pub const BULK_PRODUCTS_TEMPLATE: &str =
    include_str!("../../../queries/shopify/bulk_products.graphql");

/// The placeholder in [`BULK_PRODUCTS_TEMPLATE`], including its quotes.
const PUBLICATION_PLACEHOLDER: &str = "\"__PUBLICATION_ID__\"";

/// The bulk inner query for `publication_gid`: comment lines are dropped and
/// the placeholder string literal is replaced by the GID as a JSON string
/// literal, which is also a valid GraphQL string literal (quotes,
/// backslashes and control characters escaped).
pub fn bulk_products_query(publication_gid: &str) -> String {
    // Serialising a &str to JSON cannot fail; the fallback keeps this total.
    let literal = serde_json::to_string(publication_gid).unwrap_or_else(|_| "\"\"".to_owned());
    let mut query = String::with_capacity(BULK_PRODUCTS_TEMPLATE.len());
    for line in BULK_PRODUCTS_TEMPLATE
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
    {
        query.push_str(&line.replace(PUBLICATION_PLACEHOLDER, &literal));
        query.push('\n');
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_query_substitutes_an_escaped_publication_gid() {
        let q = bulk_products_query("gid://shopify/Publication/1\"x");
        assert!(q.contains(
            r#"publishedOnPublication(publicationId: "gid://shopify/Publication/1\"x")"#
        ));
        assert!(!q.contains("__PUBLICATION_ID__"));
    }
}

/// The product of an inventory item (`inventory_item_product.graphql`).
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/inventory_item_product.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug, Clone"
)]
pub struct InventoryItemProduct;

/// `webhook_subscriptions.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/webhook_subscriptions.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct WebhookSubscriptions;

/// `webhook_subscription_create.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/webhook_subscription_create.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct WebhookSubscriptionCreate;

/// `webhook_subscription_update.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "queries/shopify/schema.graphql",
    query_path = "queries/shopify/webhook_subscription_update.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Debug, Clone"
)]
pub struct WebhookSubscriptionUpdate;
