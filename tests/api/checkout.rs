//! ACP checkout end to end: the daemon against the Shopify and Stripe
//! emulators, driven through `/acp/{shop}/checkout_sessions…` as an agent
//! would.

use acp_bridge::emulator::shopify::{IndexDelay, LostResponse};
use acp_bridge::emulator::stripe::ResponseLoss;
use serde_json::json;

use crate::checkout_support::{V_NEW, V_OLD, address, complete_body, total, world};

#[tokio::test]
async fn an_agent_buys_a_feed_item_and_the_shop_gets_exactly_one_paid_order() {
    let w = world().await;
    let item = w.item().await;

    // Without an address: priced items, no shipping or tax yet, not payable.
    let (status, created) = w
        .post(
            "/checkout_sessions",
            V_NEW,
            "create-1",
            json!({"currency": "usd", "line_items": [{"id": item, "quantity": 2}]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "not_ready_for_payment");
    assert_eq!(created["line_items"][0]["quantity"], 2);
    assert!(
        created["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["type"] == "error" && m["param"] == "$.fulfillment_details.address"),
        "{created}"
    );
    let id = created["id"].as_str().unwrap().to_owned();

    // With an address: Shopify's rates (cheapest selected) and tax.
    let (status, updated) = w
        .post(
            &format!("/checkout_sessions/{id}"),
            V_NEW,
            "update-1",
            json!({"fulfillment_details": {"name": "Ada Buyer", "address": address()}}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["status"], "ready_for_payment", "{updated}");
    let options = updated["fulfillment_options"].as_array().unwrap();
    assert!(!options.is_empty());
    let cheapest = options
        .iter()
        .map(|o| {
            o["totals"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["type"] == "total")
                .unwrap()["amount"]
                .as_i64()
                .unwrap()
        })
        .min()
        .unwrap();
    assert_eq!(total(&updated, "fulfillment"), Some(cheapest));
    let tax = total(&updated, "tax").unwrap();
    assert!(tax > 0, "a California address is taxed: {updated}");
    let grand_total = total(&updated, "total").unwrap();
    assert_eq!(
        grand_total,
        total(&updated, "subtotal").unwrap() + cheapest + tax
    );

    // Complete with a shared payment token.
    let stock_before = w
        .shopify
        .emulator
        .inventory(&format!("gid://shopify/ProductVariant/{item}"))
        .unwrap();
    let token = w.token("pm_card_visa", 1_000_000);
    let (status, headers, completed) = w
        .call(
            reqwest::Method::POST,
            &format!("/checkout_sessions/{id}/complete"),
            V_NEW,
            Some("complete-1"),
            Some(complete_body(&token)),
        )
        .await;
    assert_eq!(status, 200, "{completed}");
    assert_eq!(completed["status"], "completed", "{completed}");
    assert!(completed["order"]["id"].is_string(), "{completed}");
    assert_eq!(headers["idempotency-key"], "complete-1");
    assert_eq!(headers["request-id"], "req-1");

    let orders = w.shopify.emulator.orders();
    assert_eq!(orders.len(), 1);
    let order = &orders[0];
    assert!(
        order.tags.contains(&format!("acp:{id}")),
        "{:?}",
        order.tags
    );
    assert_eq!(order.total.0, grand_total);
    assert_eq!(order.total_tax.0, tax);
    assert_eq!(
        w.shopify
            .emulator
            .inventory(&format!("gid://shopify/ProductVariant/{item}"))
            .unwrap(),
        stock_before - 2
    );
    let intents = w.stripe.payment_intents();
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0].amount, grand_total);
    assert_eq!(intents[0].status, "succeeded", "authorized, then captured");

    // A retried complete replays the stored answer: no second charge or order.
    let (status, headers, replayed) = w
        .call(
            reqwest::Method::POST,
            &format!("/checkout_sessions/{id}/complete"),
            V_NEW,
            Some("complete-1"),
            Some(complete_body(&token)),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(replayed, completed);
    assert_eq!(w.shopify.emulator.orders().len(), 1);
    assert_eq!(w.stripe.payment_intents().len(), 1);

    // GET returns the same session; cancel is refused now.
    let (status, _, got) = w
        .call(
            reqwest::Method::GET,
            &format!("/checkout_sessions/{id}"),
            V_NEW,
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["status"], "completed");
    let (status, error) = w
        .post(
            &format!("/checkout_sessions/{id}/cancel"),
            V_NEW,
            "cancel-1",
            json!({}),
        )
        .await;
    assert_eq!(status, 405, "{error}");
}

#[tokio::test]
async fn the_launch_version_is_served_side_by_side() {
    let w = world().await;
    let item = w.item().await;
    let (status, created) = w
        .post(
            "/checkout_sessions",
            V_OLD,
            "old-create",
            json!({"items": [{"id": item, "quantity": 1}], "fulfillment_address": address()}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "ready_for_payment", "{created}");
    assert!(created["line_items"][0]["total"].is_i64(), "flat amounts");
    let id = created["id"].as_str().unwrap().to_owned();
    let option = created["fulfillment_options"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|o| o["total"].as_i64())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, updated) = w
        .post(
            &format!("/checkout_sessions/{id}"),
            V_OLD,
            "old-update",
            json!({"fulfillment_option_id": option}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["fulfillment_option_id"], option.as_str());
    let token = w.token("pm_card_visa", 1_000_000);
    let (status, completed) = w
        .post(
            &format!("/checkout_sessions/{id}/complete"),
            V_OLD,
            "old-complete",
            json!({"payment_data": {"token": token, "provider": "stripe"},
                   "buyer": {"first_name": "Ada", "last_name": "Buyer", "email": "ada@example.com"}}),
        )
        .await;
    assert_eq!(status, 200, "{completed}");
    assert_eq!(completed["status"], "completed");
    assert_eq!(w.shopify.emulator.orders().len(), 1);
    assert_eq!(
        w.shopify.emulator.orders()[0].total.0,
        completed["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "total")
            .unwrap()["amount"]
            .as_i64()
            .unwrap()
    );
}

#[tokio::test]
async fn auth_versions_and_idempotency_rules_are_enforced() {
    let w = world().await;
    let item = w.item().await;
    let url = format!("http://{}/acp/acme/checkout_sessions", w.app.public);
    let body = json!({"currency": "usd", "line_items": [{"id": item, "quantity": 1}]});

    // No or a wrong key: 401 before anything else.
    let response = w
        .app
        .http
        .post(&url)
        .header("API-Version", V_NEW)
        .header("Idempotency-Key", "k")
        .bearer_auth("wrong-key-0123456789")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Unknown version: 400 with the supported ones.
    let (status, _, error) = w
        .call(
            reqwest::Method::POST,
            "/checkout_sessions",
            "2024-01-01",
            Some("k"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "unsupported_api_version");
    assert!(
        error["supported_versions"]
            .as_array()
            .is_some_and(|v| v.len() == 2)
    );
    // 2026-04-17 requires a key; 2025-09-29 does not.
    let (status, _, error) = w
        .call(
            reqwest::Method::POST,
            "/checkout_sessions",
            V_NEW,
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "idempotency_key_required");

    // Same key, same body (key order and 1 vs 1.0 aside): replay.
    let (status, first) = w
        .post("/checkout_sessions", V_NEW, "same", body.clone())
        .await;
    assert_eq!(status, 201);
    let (status, headers, again) = w
        .call(
            reqwest::Method::POST,
            "/checkout_sessions",
            V_NEW,
            Some("same"),
            Some(json!({"line_items": [{"quantity": 1.0, "id": item}], "currency": "usd"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(again["id"], first["id"]);
    // Same key, other body: 422 now, 409 in the launch version.
    let (status, error) = w
        .post(
            "/checkout_sessions",
            V_NEW,
            "same",
            json!({"currency": "usd", "line_items": [{"id": item, "quantity": 3}]}),
        )
        .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["code"], "idempotency_conflict");
    let (status, _) = w
        .post(
            "/checkout_sessions",
            V_OLD,
            "old",
            json!({"items": [{"id": item, "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, error) = w
        .post(
            "/checkout_sessions",
            V_OLD,
            "old",
            json!({"items": [{"id": item, "quantity": 2}]}),
        )
        .await;
    assert_eq!(status, 409, "{error}");

    // An item the feed does not list: a session with a message on the item.
    let (status, session) = w
        .post(
            "/checkout_sessions",
            V_NEW,
            "unknown-item",
            json!({"currency": "usd", "line_items": [{"id": "999999999"}]}),
        )
        .await;
    assert_eq!(status, 201);
    assert!(
        session["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["param"] == "$.line_items[0]" && m["code"] == "not_found"),
        "{session}"
    );
    // A body error names the field.
    let (status, error) = w
        .post(
            "/checkout_sessions",
            V_NEW,
            "bad",
            json!({"currency": "usd", "line_items": "x"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["param"], "$.line_items");

    // Cancel once, then 405.
    let id = first["id"].as_str().unwrap();
    let (status, canceled) = w
        .post(
            &format!("/checkout_sessions/{id}/cancel"),
            V_NEW,
            "c1",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(canceled["status"], "canceled");
    let (status, _) = w
        .post(
            &format!("/checkout_sessions/{id}/cancel"),
            V_NEW,
            "c2",
            json!({}),
        )
        .await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn declines_and_lost_upstream_answers_never_double_charge_or_double_order() {
    let w = world().await;
    let item = w.item().await;
    let (_, created) = w
        .post(
            "/checkout_sessions",
            V_NEW,
            "create",
            json!({"currency": "usd", "line_items": [{"id": item}],
                   "fulfillment_details": {"name": "Ada Buyer", "address": address()}}),
        )
        .await;
    assert_eq!(created["status"], "ready_for_payment", "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    // A declined card: a 200 session, still payable, with the reason.
    let declined = w.token("pm_card_chargeDeclined", 1_000_000);
    let (status, session) = w
        .post(
            &format!("/checkout_sessions/{id}/complete"),
            V_NEW,
            "pay-1",
            complete_body(&declined),
        )
        .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["status"], "ready_for_payment");
    assert!(
        session["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["code"] == "payment_declined"),
        "{session}"
    );
    assert!(w.shopify.emulator.orders().is_empty());

    // A good card, but Stripe's answer is lost once and Shopify commits the
    // order and loses its answer, and order search lags: still one charge,
    // one order.
    w.stripe.faults().drop_response_next(
        1,
        ResponseLoss::Gateway(axum::http::StatusCode::BAD_GATEWAY),
    );
    w.shopify
        .emulator
        .faults()
        .lose_order_create_responses(1, LostResponse::BadGateway);
    w.shopify
        .emulator
        .faults()
        .delay_order_indexing(Some(IndexDelay::Searches(2)));
    let token = w.token("pm_card_visa", 1_000_000);
    let (status, session) = w
        .post(
            &format!("/checkout_sessions/{id}/complete"),
            V_NEW,
            "pay-2",
            complete_body(&token),
        )
        .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["status"], "completed", "{session}");
    assert_eq!(w.shopify.emulator.orders().len(), 1);
    assert_eq!(w.stripe.charges_for_token(&token), 1);
    let captured: Vec<_> = w
        .stripe
        .payment_intents()
        .into_iter()
        .filter(|pi| pi.status == "succeeded")
        .collect();
    assert_eq!(captured.len(), 1);
}
