//! Router-level tests of the Shopify emulator: requests go through
//! `tower::ServiceExt::oneshot`, so no sockets are needed.

mod api;
mod bulk;
mod documents;
mod faults;
mod lifecycle;
mod orders;
mod support;
mod webhooks;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{EmulatorConfig, ShopifyEmulator};

pub(super) const TOKEN: &str = EmulatorConfig::DEFAULT_TOKEN;
pub(super) const BASE: &str = "http://emulator.test/_emulator/shopify";

pub(super) const SHOP: &str = include_str!("../../../../queries/shopify/shop.graphql");
pub(super) const PRODUCTS_PAGE: &str =
    include_str!("../../../../queries/shopify/products_page.graphql");
pub(super) const PUBLICATIONS: &str =
    include_str!("../../../../queries/shopify/publications.graphql");
pub(super) const VARIANTS_PAGE: &str =
    include_str!("../../../../queries/shopify/product_variants.graphql");
pub(super) const BULK_RUN: &str =
    include_str!("../../../../queries/shopify/bulk_run_query.graphql");
pub(super) const BULK_STATUS: &str =
    include_str!("../../../../queries/shopify/bulk_status.graphql");
pub(super) const BULK_PRODUCTS: &str =
    include_str!("../../../../queries/shopify/bulk_products.graphql");
pub(super) const DRAFT_ORDER_CALCULATE: &str =
    include_str!("../../../../queries/shopify/draft_order_calculate.graphql");
pub(super) const ORDER_CREATE: &str =
    include_str!("../../../../queries/shopify/order_create.graphql");
pub(super) const ORDERS_BY_QUERY: &str =
    include_str!("../../../../queries/shopify/orders_by_query.graphql");

/// An emulator with the default config adjusted by `edit`, base URL set.
pub(super) fn emulator_with(edit: impl FnOnce(&mut EmulatorConfig)) -> ShopifyEmulator {
    let mut config = EmulatorConfig::default();
    edit(&mut config);
    let emulator = ShopifyEmulator::new(config);
    emulator.set_base_url(BASE);
    emulator
}

pub(super) fn emulator() -> ShopifyEmulator {
    emulator_with(|_| {})
}

/// A raw response: status, headers and body (JSON when it parses, else a string).
pub(super) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// Sends one request through the router.
pub(super) async fn send(
    emulator: &ShopifyEmulator,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Reply {
    let mut builder = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder.body(body.into()).unwrap();
    let response = emulator.router().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::String(text.clone()));
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// POSTs a GraphQL request with `token` to API version `version`.
pub(super) async fn post_graphql(
    emulator: &ShopifyEmulator,
    version: &str,
    token: Option<&str>,
    body: Value,
) -> Reply {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(t) = token {
        headers.push(("x-shopify-access-token", t));
    }
    let path = format!("/admin/api/{version}/graphql.json");
    send(emulator, "POST", &path, &headers, body.to_string()).await
}

/// Runs a query with the default token and returns the JSON body, asserting HTTP 200.
pub(super) async fn gql(emulator: &ShopifyEmulator, query: &str, variables: Value) -> Value {
    let reply = post_graphql(
        emulator,
        "2026-10",
        Some(TOKEN),
        json!({ "query": query, "variables": variables }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}
