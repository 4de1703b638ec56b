//! Checkout pricing (`draftOrderCalculate`) and orders (`orderCreate`,
//! `order`, `orders(query:)`) through the router, with the lost-response and
//! index-delay faults.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use tower::ServiceExt;

use super::*;
use crate::emulator::shopify::{IndexDelay, LostResponse, Price, Product};

/// Adds a one-variant product at `cents` with `stock` (tracked, `DENY`) and
/// returns its variant GID.
fn add_variant(emu: &ShopifyEmulator, title: &str, cents: i64, stock: i32) -> String {
    let mut product = Product::new(title);
    product.variants[0].price = Price(cents);
    product.variants[0].inventory_quantity = stock;
    let gid = emu.add_product(product);
    emu.product(&gid).unwrap().variants[0].gid()
}

fn address(country: &str, province: Option<&str>, zip: &str) -> Value {
    json!({
        "firstName": "Ada", "lastName": "Lovelace", "address1": "1 Main St",
        "city": "Springfield", "countryCode": country, "provinceCode": province, "zip": zip
    })
}

fn line(variant: &str, quantity: i64) -> Value {
    json!({ "variantId": variant, "quantity": quantity })
}

async fn calculate(emu: &ShopifyEmulator, input: Value) -> Value {
    let body = gql(emu, DRAFT_ORDER_CALCULATE, json!({ "input": input })).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["draftOrderCalculate"].clone()
}

fn amount(bag: &Value) -> &str {
    bag["shopMoney"]["amount"].as_str().unwrap()
}

fn error_fields(payload: &Value) -> Vec<Value> {
    payload["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect()
}

/// An orderCreate input for one line at its catalog price, tagged for
/// `checkout`, paid with one successful sale.
fn order_input(variant: &str, quantity: i64, unit: &str, total: &str, checkout: &str) -> Value {
    json!({
        "currency": "USD",
        "email": "ada@example.com",
        "lineItems": [{
            "variantId": variant, "quantity": quantity, "requiresShipping": true,
            "priceSet": { "shopMoney": { "amount": unit, "currencyCode": "USD" } }
        }],
        "shippingAddress": address("US", Some("OR"), "97201"),
        "tags": [format!("acp:{checkout}")],
        "sourceIdentifier": checkout,
        "customAttributes": [{ "key": "acp_checkout_session_id", "value": checkout }],
        "transactions": [{
            "kind": "SALE", "status": "SUCCESS", "gateway": "stripe",
            "authorizationCode": "pi_123",
            "amountSet": { "shopMoney": { "amount": total, "currencyCode": "USD" } }
        }]
    })
}

async fn create_order(emu: &ShopifyEmulator, order: Value, behaviour: &str) -> Value {
    let variables = json!({ "order": order, "options": { "inventoryBehaviour": behaviour } });
    let body = gql(emu, ORDER_CREATE, variables).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["orderCreate"].clone()
}

async fn search(emu: &ShopifyEmulator, query: &str) -> Vec<Value> {
    let body = gql(emu, ORDERS_BY_QUERY, json!({ "query": query, "first": 5 })).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["orders"]["nodes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_quote_without_an_address_has_no_rates_and_no_tax() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);

    let payload = calculate(&emu, json!({ "lineItems": [line(&lantern, 2)] })).await;

    let calc = &payload["calculatedDraftOrder"];
    assert_eq!(error_fields(&payload), Vec::<Value>::new());
    assert_eq!(calc["availableShippingRates"], json!([]));
    assert_eq!(calc["taxLines"], json!([]));
    assert_eq!(amount(&calc["totalLineItemsPriceSet"]), "39.98");
    assert_eq!(amount(&calc["totalPriceSet"]), "39.98");
    assert_eq!(calc["lineItems"][0]["name"], "Lantern");
    assert_eq!(calc["lineItems"][0]["variant"]["id"], lantern.as_str());
}

#[tokio::test]
async fn a_us_address_brings_rates_and_state_tax_and_a_selected_rate_is_charged() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let to_ny = address("US", Some("NY"), "10001");

    let offered = calculate(
        &emu,
        json!({ "lineItems": [line(&lantern, 3)], "shippingAddress": to_ny }),
    )
    .await;
    let rates = offered["calculatedDraftOrder"]["availableShippingRates"]
        .as_array()
        .unwrap()
        .clone();
    let express = rates.iter().find(|r| r["title"] == "Express").unwrap();
    let priced = calculate(
        &emu,
        json!({
            "lineItems": [line(&lantern, 3)],
            "shippingAddress": to_ny,
            "shippingLine": { "shippingRateHandle": express["handle"] }
        }),
    )
    .await;

    let titles: Vec<&str> = rates.iter().map(|r| r["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Standard", "Express"]);
    assert_eq!(rates[0]["price"]["amount"], "6.95");
    let calc = &priced["calculatedDraftOrder"];
    assert_eq!(
        calc["shippingLine"]["shippingRateHandle"],
        express["handle"]
    );
    // NY 4 %: items 59.97 → 2.3988 → 2.40; shipping 19.95 → 0.798 → 0.80.
    assert_eq!(calc["taxLines"][0]["title"], "NY State Tax");
    assert_eq!(calc["taxLines"][0]["rate"], 0.04);
    assert_eq!(amount(&calc["taxLines"][0]["priceSet"]), "3.2");
    assert_eq!(
        amount(&calc["shippingLine"]["taxLines"][0]["priceSet"]),
        "0.8"
    );
    assert_eq!(amount(&calc["totalShippingPriceSet"]), "19.95");
    assert_eq!(amount(&calc["totalPriceSet"]), "83.12");
}

#[tokio::test]
async fn address_errors_name_the_offending_field_and_return_no_calculation() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);

    let payload = calculate(
        &emu,
        json!({
            "lineItems": [line(&lantern, 1)],
            "shippingAddress": address("US", None, "10001"),
            "billingAddress": address("CA", Some("XX"), "K2P 0V6"),
        }),
    )
    .await;

    assert_eq!(payload["calculatedDraftOrder"], Value::Null);
    assert_eq!(
        error_fields(&payload),
        [
            json!(["shippingAddress", "provinceCode"]),
            json!(["billingAddress", "provinceCode"])
        ]
    );
    // A country outside the CountryCode enum fails variable coercion.
    let body = gql(
        &emu,
        DRAFT_ORDER_CALCULATE,
        json!({ "input": { "lineItems": [line(&lantern, 1)], "shippingAddress": address("XX", None, "1") } }),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_VARIABLE");
}

#[tokio::test]
async fn unknown_variants_bad_quantities_and_unknown_rates_are_user_errors() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);

    let payload = calculate(
        &emu,
        json!({ "lineItems": [line("gid://shopify/ProductVariant/1", 1), line(&lantern, 0)] }),
    )
    .await;
    let rate = calculate(
        &emu,
        json!({
            "lineItems": [line(&lantern, 1)],
            "shippingAddress": address("US", Some("CA"), "94103"),
            "shippingLine": { "shippingRateHandle": "shopify-Overnight-99.00" }
        }),
    )
    .await;

    assert_eq!(
        error_fields(&payload),
        [
            json!(["lineItems", "0", "variantId"]),
            json!(["lineItems", "1", "quantity"])
        ]
    );
    assert_eq!(
        error_fields(&rate),
        [json!(["shippingLine", "shippingRateHandle"])]
    );
    assert_eq!(rate["calculatedDraftOrder"], Value::Null);
}

#[tokio::test]
async fn too_little_stock_is_a_warning_alert_not_an_error() {
    let emu = emulator();
    let candle = add_variant(&emu, "Candle", 4000, 2);

    let payload = calculate(&emu, json!({ "lineItems": [line(&candle, 3)] })).await;

    assert_eq!(error_fields(&payload), Vec::<Value>::new());
    let alerts = payload["calculatedDraftOrder"]["alerts"]
        .as_array()
        .unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["severity"], "WARNING");
    assert!(alerts[0]["content"].as_str().unwrap().contains("Candle"));
}

#[tokio::test]
async fn the_automatic_discount_applies_only_when_accepted() {
    let emu = emulator();
    let candle = add_variant(&emu, "Candle", 4000, 20);
    let cart = json!([line(&candle, 6)]);

    let without = calculate(&emu, json!({ "lineItems": cart })).await;
    let with = calculate(
        &emu,
        json!({ "lineItems": cart, "acceptAutomaticDiscounts": true }),
    )
    .await;

    assert_eq!(
        amount(&without["calculatedDraftOrder"]["totalDiscountsSet"]),
        "0.0"
    );
    let calc = &with["calculatedDraftOrder"];
    assert_eq!(amount(&calc["totalDiscountsSet"]), "24.0");
    assert_eq!(amount(&calc["lineItems"][0]["totalDiscountSet"]), "24.0");
    assert_eq!(amount(&calc["subtotalPriceSet"]), "216.0");
}

#[tokio::test]
async fn an_order_is_created_with_its_details_and_stock_is_decremented() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let product = emu
        .products()
        .into_iter()
        .find(|p| p.title == "Lantern")
        .unwrap();
    let before = product.updated_at;

    let payload = create_order(
        &emu,
        order_input(&lantern, 3, "19.99", "59.97", "cs_1"),
        "DECREMENT_OBEYING_POLICY",
    )
    .await;

    assert_eq!(error_fields(&payload), Vec::<Value>::new());
    let order = &payload["order"];
    assert_eq!(order["name"], "#1001");
    assert_eq!(amount(&order["totalPriceSet"]), "59.97");
    assert_eq!(emu.inventory(&lantern), Some(7));
    assert!(emu.product(&product.gid()).unwrap().updated_at > before);
    let stored = emu.order(order["id"].as_str().unwrap()).unwrap();
    assert_eq!(order["legacyResourceId"], stored.id.to_string());
    assert_eq!(stored.tags, ["acp:cs_1"]);
    assert_eq!(stored.source_identifier.as_deref(), Some("cs_1"));
    assert_eq!(stored.financial_status, "PAID");
    assert_eq!(stored.transactions[0].gateway.as_deref(), Some("stripe"));
    assert_eq!(
        stored.transactions[0].authorization_code.as_deref(),
        Some("pi_123")
    );
    assert_eq!(stored.lines[0].quantity, 3);
    assert_eq!(
        stored.custom_attributes,
        [("acp_checkout_session_id".to_owned(), "cs_1".to_owned())]
    );
    let found = search(&emu, "tag:'acp:cs_1'").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["sourceIdentifier"], "cs_1");
    assert!(search(&emu, "tag:'acp:cs_2'").await.is_empty());
    assert!(search(&emu, "checkout:'cs_1'").await.is_empty());
}

#[tokio::test]
async fn a_deny_variant_without_stock_refuses_the_claim_and_bypass_leaves_stock_alone() {
    let emu = emulator();
    let candle = add_variant(&emu, "Candle", 4000, 2);

    let refused = create_order(
        &emu,
        order_input(&candle, 3, "40.00", "120.00", "cs_1"),
        "DECREMENT_OBEYING_POLICY",
    )
    .await;
    let bypassed = create_order(
        &emu,
        order_input(&candle, 3, "40.00", "120.00", "cs_2"),
        "BYPASS",
    )
    .await;

    assert_eq!(refused["order"], Value::Null);
    assert_eq!(refused["userErrors"][0]["code"], "INVENTORY_CLAIM_FAILED");
    assert_eq!(
        refused["userErrors"][0]["field"],
        json!(["order", "lineItems", "0", "quantity"])
    );
    assert_eq!(
        bypassed["order"]["name"], "#1001",
        "the refused order used no number"
    );
    assert_eq!(emu.inventory(&candle), Some(2));
    assert_eq!(emu.orders().len(), 1);
}

#[tokio::test]
async fn order_input_is_validated_like_shopify() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let mut order = order_input(&lantern, 0, "19.99", "0.00", "cs_1");
    order["shippingAddress"] = address("US", Some("ZZ"), "97201");
    order["lineItems"][0]["taxLines"] = json!([{ "title": "X", "rate": "0.05" }]);
    order["taxLines"] = json!([{ "title": "X", "rate": "0.05" }]);
    order["transactions"][0]["amountSet"]["shopMoney"]["currencyCode"] = json!("EUR");

    let payload = create_order(&emu, order, "BYPASS").await;

    assert_eq!(payload["order"], Value::Null);
    let mut fields = error_fields(&payload);
    fields.sort_by_key(|f| f.to_string());
    assert_eq!(
        fields,
        [
            json!(["order", "lineItems", "0", "quantity"]),
            json!(["order", "shippingAddress", "provinceCode"]),
            json!(["order", "taxLines"]),
            json!([
                "order",
                "transactions",
                "0",
                "amountSet",
                "shopMoney",
                "currencyCode"
            ]),
        ]
    );
    assert!(
        payload["userErrors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["code"] == "INVALID")
    );
    assert!(emu.orders().is_empty());
}

#[tokio::test]
async fn tax_lines_and_a_fixed_discount_add_up_to_the_order_totals() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 2000, 10);
    let candle = add_variant(&emu, "Candle", 1000, 10);
    let mut order = order_input(&lantern, 1, "20.00", "35.91", "cs_1");
    order["lineItems"] = json!([
        { "variantId": lantern, "quantity": 1, "requiresShipping": true,
          "priceSet": { "shopMoney": { "amount": "20.00", "currencyCode": "USD" } } },
        { "variantId": candle, "quantity": 1, "requiresShipping": true,
          "priceSet": { "shopMoney": { "amount": "10.00", "currencyCode": "USD" } } }
    ]);
    order["discountCode"] = json!({ "itemFixedDiscountCode": {
        "code": "WELCOME", "amountSet": { "shopMoney": { "amount": "3.00", "currencyCode": "USD" } } } });
    // Order-level tax on the discounted 27.00, split 18:9 across the lines.
    order["taxLines"] = json!([{ "title": "CA State Tax", "rate": "0.0725",
        "priceSet": { "shopMoney": { "amount": "1.96", "currencyCode": "USD" } } }]);
    order["shippingLines"] = json!([{ "title": "Standard", "code": "shopify-Standard-6.95",
        "source": "shopify", "priceSet": { "shopMoney": { "amount": "6.95", "currencyCode": "USD" } } }]);

    let payload = create_order(&emu, order, "BYPASS").await;

    assert_eq!(error_fields(&payload), Vec::<Value>::new());
    let stored = emu.order(payload["order"]["id"].as_str().unwrap()).unwrap();
    let discounts: Vec<i64> = stored.lines.iter().map(|l| l.discount.0).collect();
    assert_eq!(discounts, [200, 100]);
    let taxes: Vec<i64> = stored
        .lines
        .iter()
        .map(|l| l.tax_lines.iter().map(|t| t.amount.0).sum())
        .collect();
    assert_eq!(taxes, [131, 65]);
    assert_eq!(stored.total_tax, Price(196));
    assert_eq!(stored.subtotal, Price(2700));
    assert_eq!(stored.total, Price(2700 + 695 + 196));
    assert_eq!(stored.discount_code.as_deref(), Some("WELCOME"));
    assert_eq!(amount(&payload["order"]["totalPriceSet"]), "35.91");
    assert_eq!(stored.financial_status, "PAID");
}

#[tokio::test]
async fn a_lost_502_still_commits_the_order() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    emu.faults()
        .lose_order_create_responses(1, LostResponse::BadGateway);
    let variables = json!({
        "order": order_input(&lantern, 1, "19.99", "19.99", "cs_1"),
        "options": { "inventoryBehaviour": "DECREMENT_OBEYING_POLICY" }
    });

    let reply = post_graphql(
        &emu,
        "2026-10",
        Some(TOKEN),
        json!({ "query": ORDER_CREATE, "variables": variables }),
    )
    .await;

    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(emu.orders().len(), 1);
    assert_eq!(emu.inventory(&lantern), Some(9));
    // Only the next orderCreate was affected.
    let again = create_order(
        &emu,
        order_input(&lantern, 1, "19.99", "19.99", "cs_2"),
        "BYPASS",
    )
    .await;
    assert_eq!(again["order"]["name"], "#1002");
}

#[tokio::test]
async fn a_dropped_connection_after_commit_breaks_the_body() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    emu.faults()
        .lose_order_create_responses(1, LostResponse::Disconnect);
    // Queries are not affected by the fault.
    assert!(search(&emu, "tag:'acp:cs_1'").await.is_empty());
    let variables = json!({ "order": order_input(&lantern, 1, "19.99", "19.99", "cs_1") });
    let body = json!({ "query": ORDER_CREATE, "variables": variables }).to_string();
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/admin/api/2026-10/graphql.json")
        .header("content-type", "application/json")
        .header("x-shopify-access-token", TOKEN)
        .body(axum::body::Body::from(body))
        .unwrap();

    let response = emu.router().oneshot(request).await.unwrap();
    let read = axum::body::to_bytes(response.into_body(), usize::MAX).await;

    assert!(read.is_err(), "the body must break off");
    assert_eq!(emu.orders().len(), 1);
}

#[tokio::test]
async fn new_orders_reach_the_search_index_late_but_are_readable_by_id() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    emu.faults()
        .delay_order_indexing(Some(IndexDelay::Searches(2)));

    let payload = create_order(
        &emu,
        order_input(&lantern, 1, "19.99", "19.99", "cs_1"),
        "BYPASS",
    )
    .await;

    let id = payload["order"]["id"].as_str().unwrap().to_owned();
    assert!(search(&emu, "tag:'acp:cs_1'").await.is_empty());
    let by_id = gql(
        &emu,
        "query($id: ID!) { order(id: $id) { name } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(by_id["data"]["order"]["name"], "#1001");
    assert!(search(&emu, "tag:'acp:cs_1'").await.is_empty());
    assert_eq!(search(&emu, "tag:'acp:cs_1'").await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_timed_index_delay_hides_orders_until_it_passes() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    emu.faults()
        .delay_order_indexing(Some(IndexDelay::For(Duration::from_secs(5))));
    create_order(
        &emu,
        order_input(&lantern, 1, "19.99", "19.99", "cs_1"),
        "BYPASS",
    )
    .await;

    assert!(search(&emu, "source_identifier:cs_1").await.is_empty());
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(search(&emu, "source_identifier:cs_1").await.len(), 1);
}

#[tokio::test]
async fn order_mutations_cost_ten_points_and_searches_cost_by_page_size() {
    let emu = emulator();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);

    let calc = gql(
        &emu,
        DRAFT_ORDER_CALCULATE,
        json!({ "input": { "lineItems": [line(&lantern, 1)] } }),
    )
    .await;
    let orders = gql(
        &emu,
        ORDERS_BY_QUERY,
        json!({ "query": "tag:x", "first": 5 }),
    )
    .await;

    assert_eq!(calc["extensions"]["cost"]["requestedQueryCost"], 10);
    assert_eq!(calc["extensions"]["cost"]["actualQueryCost"], 10);
    assert_eq!(orders["extensions"]["cost"]["requestedQueryCost"], 7);
    assert_eq!(orders["extensions"]["cost"]["actualQueryCost"], 2);
}

#[tokio::test]
async fn price_and_rule_changes_show_up_in_the_next_quote() {
    let emu = emulator();
    let candle = add_variant(&emu, "Candle", 4000, 20);
    let input = json!({ "lineItems": [line(&candle, 6)], "acceptAutomaticDiscounts": true });
    emu.set_price(&candle, Price(5000)).unwrap();
    let mut rules = emu.pricing();
    rules.automatic_discounts.clear();
    emu.set_pricing(rules);

    let calc = calculate(&emu, input).await;

    let calc = &calc["calculatedDraftOrder"];
    assert_eq!(
        amount(&calc["lineItems"][0]["originalUnitPriceSet"]),
        "50.0"
    );
    assert_eq!(amount(&calc["totalDiscountsSet"]), "0.0");
    assert_eq!(amount(&calc["totalPriceSet"]), "300.0");
}
