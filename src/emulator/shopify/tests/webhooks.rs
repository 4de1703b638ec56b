//! Webhook subscriptions through GraphQL, and deliveries to a real receiver
//! on 127.0.0.1: signatures, headers and payloads per action, duplicates,
//! out-of-order and dropped deliveries, retries and give-ups, uninstalling.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::documents::*;
use super::support::*;
use super::*;
use crate::domain::{Currency, Money};
use crate::emulator::shopify::{
    AttemptOutcome, CancelOrder, CancelReason, RefundLineRequest, RefundOrder, RestockType,
    ShipmentStatus, TrackingInfo, WebhookSettings, WebhookTopic,
};

const SECRET: &str = EmulatorConfig::DEFAULT_APP_SECRET;

async fn subscribe(emu: &ShopifyEmulator, topic: &str, uri: &str) -> Value {
    let body = gql(
        emu,
        WEBHOOK_CREATE,
        json!({ "topic": topic, "sub": { "uri": uri, "format": "JSON" } }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["webhookSubscriptionCreate"].clone()
}

#[tokio::test]
async fn subscriptions_are_created_listed_updated_and_deleted() {
    let emu = emulator();
    let uri = "https://hooks.example.com/shopify";

    let created = subscribe(&emu, "ORDERS_UPDATED", uri).await;
    let other = subscribe(&emu, "REFUNDS_CREATE", uri).await;

    assert_eq!(created["userErrors"], json!([]));
    let sub = &created["webhookSubscription"];
    assert_eq!(sub["topic"], "ORDERS_UPDATED");
    assert_eq!(sub["uri"], uri);
    assert_eq!(sub["format"], "JSON");
    assert_eq!(sub["apiVersion"]["handle"], "2026-01");
    let id = sub["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("gid://shopify/WebhookSubscription/"));
    let listed = gql(
        &emu,
        WEBHOOK_LIST,
        json!({ "topics": ["ORDERS_UPDATED"], "uri": uri }),
    )
    .await;
    assert_eq!(
        listed["data"]["webhookSubscriptions"]["nodes"],
        json!([{ "id": id, "topic": "ORDERS_UPDATED", "uri": uri, "format": "JSON" }])
    );
    let all = gql(&emu, WEBHOOK_LIST, json!({})).await;
    assert_eq!(
        all["data"]["webhookSubscriptions"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let moved = gql(
        &emu,
        WEBHOOK_UPDATE,
        json!({ "id": id, "sub": { "uri": "https://hooks.example.com/v2" } }),
    )
    .await;
    assert_eq!(
        moved["data"]["webhookSubscriptionUpdate"]["webhookSubscription"]["uri"],
        "https://hooks.example.com/v2"
    );

    let deleted = gql(&emu, WEBHOOK_DELETE, json!({ "id": id })).await;
    assert_eq!(
        deleted["data"]["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"],
        id.as_str()
    );
    let left = emu.webhook_subscriptions();
    assert_eq!(left.len(), 1);
    assert_eq!(
        Some(left[0].gid()),
        other["webhookSubscription"]["id"]
            .as_str()
            .map(str::to_owned)
    );
}

#[tokio::test]
async fn duplicate_and_invalid_addresses_get_shopifys_user_errors() {
    let emu = emulator();
    let uri = "https://hooks.example.com/shopify";
    subscribe(&emu, "ORDERS_CREATE", uri).await;
    let field = json!(["webhookSubscription", "callbackUrl"]);
    let error = |message: &str| json!([{ "field": field, "message": message }]);

    for (address, message) in [
        (uri, "Address for this topic has already been taken"),
        (
            "http://hooks.example.com/shopify",
            "Address protocol http:// is not supported",
        ),
        (
            "http://127.0.0.1:8080/hooks",
            "Address protocol http:// is not supported",
        ),
        (
            "https://my-shop.myshopify.com/hooks",
            "Address cannot be a Shopify or an internal domain",
        ),
        ("", "Address can't be blank"),
        ("hooks dot example", "Address is invalid"),
    ] {
        let payload = subscribe(&emu, "ORDERS_CREATE", address).await;
        assert_eq!(payload["webhookSubscription"], Value::Null, "{address}");
        assert_eq!(payload["userErrors"], error(message), "{address}");
    }
    let same_uri_other_topic = subscribe(&emu, "ORDERS_CANCELLED", uri).await;
    assert_eq!(same_uri_other_topic["userErrors"], json!([]));
    let missing = gql(
        &emu,
        WEBHOOK_DELETE,
        json!({ "id": "gid://shopify/WebhookSubscription/9" }),
    )
    .await;
    assert_eq!(
        missing["data"]["webhookSubscriptionDelete"],
        json!({ "deletedWebhookSubscriptionId": null, "userErrors": [{ "field": ["id"], "message": "Webhook subscription does not exist" }] })
    );
    let missing_update = gql(
        &emu,
        WEBHOOK_UPDATE,
        json!({ "id": "gid://shopify/WebhookSubscription/9", "sub": { "uri": uri } }),
    )
    .await;
    assert_eq!(
        missing_update["data"]["webhookSubscriptionUpdate"]["userErrors"],
        json!([{ "field": ["id"], "message": "Webhook subscription does not exist" }])
    );
    let bad_topic = gql(
        &emu,
        WEBHOOK_CREATE,
        json!({ "topic": "ORDERS_EXPLODED", "sub": { "uri": uri } }),
    )
    .await;
    assert!(bad_topic.get("errors").is_some(), "{bad_topic}");
    assert_eq!(emu.webhook_subscriptions().len(), 2);
}

/// Checks the headers every delivery must carry.
fn assert_shopify_headers(r: &Received, emu: &ShopifyEmulator) {
    assert!(r.signed_with(SECRET), "bad signature on {}", r.topic());
    assert_eq!(r.header("x-shopify-shop-domain"), emu.shop_domain());
    assert_eq!(r.header("x-shopify-api-version"), "2026-01");
    assert_eq!(r.header("content-type"), "application/json");
    assert!(uuid::Uuid::parse_str(r.header("x-shopify-webhook-id")).is_ok());
    assert!(uuid::Uuid::parse_str(r.header("x-shopify-event-id")).is_ok());
    assert!(chrono::DateTime::parse_from_rfc3339(r.header("x-shopify-triggered-at")).is_ok());
}

#[tokio::test]
async fn order_actions_deliver_signed_rest_payloads_for_each_topic() {
    let emu = hook_emulator(3);
    let rx = receiver().await;
    use WebhookTopic as T;
    subscribe_all(
        &emu,
        &rx.url,
        &[
            T::OrdersCreate,
            T::OrdersPaid,
            T::OrdersUpdated,
            T::OrdersPartiallyFulfilled,
            T::FulfillmentsCreate,
            T::FulfillmentsUpdate,
            T::RefundsCreate,
            T::OrdersCancelled,
        ],
    );
    let (_, lamp) = add_variant(&emu, "Lamp", 1200, 10);

    let order = place_order(&emu, "cs_hooks", &[(&lamp, 3, "12.00")]).await;
    let fulfillment = emu
        .fulfill(
            &order.id,
            &[(order.lines[0].as_str(), 1)],
            Some(TrackingInfo::new("UPS", "1Z42", "https://ups.example/1Z42")),
        )
        .unwrap();
    emu.set_shipment_status(&fulfillment, ShipmentStatus::InTransit)
        .unwrap();
    emu.refund(
        &order.id,
        RefundOrder {
            lines: vec![RefundLineRequest {
                line_item_id: order.lines[0].clone(),
                quantity: 1,
                restock_type: RestockType::Cancel,
            }],
            amount: Some(Money::new(1200, Currency::USD)),
            ..RefundOrder::default()
        },
    )
    .unwrap();
    emu.cancel_order(
        &order.id,
        CancelOrder {
            reason: CancelReason::Customer,
            refund: true,
            restock: true,
            staff_note: None,
        },
    )
    .unwrap();
    emu.wait_for_webhooks().await;

    for r in rx.received() {
        assert_shopify_headers(&r, &emu);
    }
    let numeric = emu.order(&order.id).unwrap().id;
    let created = rx.of(T::OrdersCreate);
    assert_eq!(created.len(), 1);
    let body = created[0].json();
    assert_eq!(body["id"], numeric);
    assert_eq!(body["admin_graphql_api_id"], order.id.as_str());
    assert_eq!(body["name"], "#1001");
    assert_eq!(body["tags"], "acp:cs_hooks");
    assert_eq!(body["source_identifier"], "cs_hooks");
    assert_eq!(body["financial_status"], "paid");
    assert_eq!(body["fulfillment_status"], Value::Null);
    assert_eq!(body["line_items"][0]["quantity"], 3);
    assert_eq!(body["line_items"][0]["fulfillable_quantity"], 3);
    assert_eq!(rx.of(T::OrdersPaid).len(), 1);

    let shipped = rx.of(T::FulfillmentsCreate);
    assert_eq!(shipped.len(), 1);
    let f = shipped[0].json();
    assert_eq!(f["admin_graphql_api_id"], fulfillment.as_str());
    assert_eq!(f["order_id"], numeric);
    assert_eq!(f["status"], "success");
    assert_eq!(f["shipment_status"], Value::Null);
    assert_eq!(f["tracking_company"], "UPS");
    assert_eq!(f["tracking_number"], "1Z42");
    assert_eq!(f["tracking_numbers"], json!(["1Z42"]));
    assert_eq!(f["tracking_url"], "https://ups.example/1Z42");
    assert_eq!(f["line_items"][0]["quantity"], 1);
    assert_eq!(rx.of(T::OrdersPartiallyFulfilled).len(), 1);
    let moved = rx.of(T::FulfillmentsUpdate);
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].json()["shipment_status"], "in_transit");

    let refunds = rx.of(T::RefundsCreate);
    assert_eq!(
        refunds.len(),
        2,
        "the partial refund, then the cancellation's"
    );
    let partial = refunds[0].json();
    assert_eq!(partial["order_id"], numeric);
    assert_eq!(partial["transactions"][0]["amount"], "12.00");
    assert_eq!(partial["transactions"][0]["kind"], "refund");
    assert_eq!(partial["refund_line_items"][0]["quantity"], 1);
    assert_eq!(partial["refund_line_items"][0]["restock_type"], "cancel");
    assert_eq!(
        partial["refund_line_items"][0]["line_item_id"],
        order.lines[0]
            .rsplit('/')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    );
    assert!(partial["created_at"].is_string());
    assert_eq!(refunds[1].json()["transactions"][0]["amount"], "24.00");

    let cancelled = rx.of(T::OrdersCancelled);
    assert_eq!(cancelled.len(), 1);
    let c = cancelled[0].json();
    assert_eq!(c["cancel_reason"], "customer");
    assert!(c["cancelled_at"].is_string());
    assert_eq!(c["financial_status"], "refunded");
    assert_eq!(
        c["line_items"][0]["current_quantity"], 1,
        "the shipped unit stays"
    );
    assert_eq!(c["line_items"][0]["fulfillable_quantity"], 0);
    assert_eq!(c["fulfillments"][0]["shipment_status"], "in_transit");
    assert_eq!(c["refunds"].as_array().unwrap().len(), 2);

    let updates: Vec<Value> = rx.of(T::OrdersUpdated).iter().map(Received::json).collect();
    assert!(updates.len() >= 4, "{}", updates.len());
    let stamps: Vec<&str> = updates
        .iter()
        .map(|u| u["updated_at"].as_str().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
    let counts = emu.webhook_counters().topic(T::OrdersUpdated);
    assert_eq!(counts.delivered, updates.len() as u64);
    assert_eq!(counts.failed_attempts, 0);
}

#[tokio::test]
async fn product_edits_stock_changes_publications_and_deletes_are_announced() {
    let emu = hook_emulator(3);
    let rx = receiver().await;
    use WebhookTopic as T;
    subscribe_all(
        &emu,
        &rx.url,
        &[
            T::ProductsCreate,
            T::ProductsUpdate,
            T::ProductsDelete,
            T::InventoryLevelsUpdate,
            T::ProductPublicationsCreate,
            T::ProductPublicationsDelete,
        ],
    );
    let (product, variant) = add_variant(&emu, "Kettle", 3000, 7);
    let numeric_product = emu.product(&product).unwrap().id;
    let numeric_variant = emu.product(&product).unwrap().variants[0].id;

    emu.update_product(&product, |p| p.title = "Kettle Pro".into())
        .unwrap();
    emu.set_inventory(&variant, 2).unwrap();
    let online = emu.online_store_publication_id();
    emu.publish(&product, &online).unwrap();
    emu.unpublish(&product, &online).unwrap();
    emu.delete_product(&product).unwrap();
    emu.wait_for_webhooks().await;

    for r in rx.received() {
        assert_shopify_headers(&r, &emu);
    }
    let created = rx.of(T::ProductsCreate);
    assert_eq!(created[0].json()["title"], "Kettle");
    assert_eq!(created[0].json()["admin_graphql_api_id"], product.as_str());
    let updates: Vec<Value> = rx
        .of(T::ProductsUpdate)
        .iter()
        .map(Received::json)
        .collect();
    assert_eq!(updates.len(), 4, "title, stock, publish, unpublish");
    assert_eq!(updates[0]["title"], "Kettle Pro");
    assert_eq!(updates[0]["status"], "active");
    assert_eq!(updates[1]["variants"][0]["inventory_quantity"], 2);
    assert_eq!(updates[0]["variants"][0]["price"], "30.00");
    let levels = rx.of(T::InventoryLevelsUpdate);
    assert_eq!(levels.len(), 1);
    let level = levels[0].json();
    assert_eq!(level["available"], 2);
    assert_eq!(
        level["inventory_item_id"],
        updates[0]["variants"][0]["inventory_item_id"]
    );
    assert!(level["location_id"].is_u64());
    assert!(level["updated_at"].is_string());
    let published = rx.of(T::ProductPublicationsCreate);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].json()["product_id"], numeric_product);
    assert_eq!(rx.of(T::ProductPublicationsDelete).len(), 1);
    let deleted = rx.of(T::ProductsDelete);
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].json(), json!({ "id": numeric_product }));
    assert_ne!(numeric_product, numeric_variant);
}

#[tokio::test]
async fn graphql_changes_deliver_too_and_include_fields_trim_the_payload() {
    let emu = hook_emulator(3);
    let rx = receiver().await;
    let body = gql(
        &emu,
        WEBHOOK_CREATE,
        json!({ "topic": "ORDERS_CREATE", "sub": { "uri": rx.url, "includeFields": ["id", "updated_at"] } }),
    )
    .await;
    assert_eq!(
        body["data"]["webhookSubscriptionCreate"]["userErrors"],
        json!([])
    );
    assert_eq!(
        body["data"]["webhookSubscriptionCreate"]["webhookSubscription"]["includeFields"],
        json!(["id", "updated_at"])
    );
    let (_, lamp) = add_variant(&emu, "Lamp", 1000, 5);

    let order = place_order(&emu, "cs_trim", &[(&lamp, 1, "10.00")]).await;
    emu.wait_for_webhooks().await;

    let got = rx.of(WebhookTopic::OrdersCreate);
    assert_eq!(got.len(), 1);
    let payload = got[0].json();
    let keys: Vec<&String> = payload.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "updated_at"]);
    assert_eq!(payload["id"], emu.order(&order.id).unwrap().id);
    assert!(got[0].signed_with(SECRET));
}

#[tokio::test]
async fn duplicated_deliveries_share_the_event_id_with_a_new_webhook_id() {
    let emu = hook_emulator(3);
    let rx = receiver().await;
    subscribe_all(&emu, &rx.url, &[WebhookTopic::ProductsUpdate]);
    let (product, _) = add_variant(&emu, "Mug", 800, 3);
    emu.faults().duplicate_webhooks(1);

    emu.update_product(&product, |p| p.title = "Big Mug".into())
        .unwrap();
    emu.wait_for_webhooks().await;

    let got = rx.of(WebhookTopic::ProductsUpdate);
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].header("x-shopify-event-id"),
        got[1].header("x-shopify-event-id")
    );
    assert_ne!(
        got[0].header("x-shopify-webhook-id"),
        got[1].header("x-shopify-webhook-id")
    );
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(
        emu.webhook_counters()
            .topic(WebhookTopic::ProductsUpdate)
            .duplicated,
        1
    );
}

#[tokio::test]
async fn a_held_back_delivery_arrives_after_the_next_one() {
    let emu = hook_emulator(3);
    let rx = receiver().await;
    subscribe_all(&emu, &rx.url, &[WebhookTopic::ProductsUpdate]);
    let (product, _) = add_variant(&emu, "Bowl", 800, 3);
    emu.faults().reorder_webhooks(1);

    emu.update_product(&product, |p| p.title = "First".into())
        .unwrap();
    emu.update_product(&product, |p| p.title = "Second".into())
        .unwrap();
    emu.wait_for_webhooks().await;

    let titles: Vec<Value> = rx
        .of(WebhookTopic::ProductsUpdate)
        .iter()
        .map(|r| r.json()["title"].clone())
        .collect();
    assert_eq!(titles, [json!("Second"), json!("First")]);
    assert_eq!(
        emu.webhook_counters()
            .topic(WebhookTopic::ProductsUpdate)
            .held_back,
        1
    );
}

#[tokio::test]
async fn a_held_back_delivery_with_nothing_after_it_is_still_sent() {
    let emu = hook_emulator(3);
    let rx = receiver().await;
    subscribe_all(&emu, &rx.url, &[WebhookTopic::ProductsUpdate]);
    let (product, _) = add_variant(&emu, "Plate", 800, 3);
    emu.faults().reorder_webhooks(1);

    emu.update_product(&product, |p| p.title = "Only".into())
        .unwrap();
    emu.wait_for_webhooks().await;

    assert_eq!(rx.of(WebhookTopic::ProductsUpdate).len(), 1);
}

#[tokio::test]
async fn dropped_deliveries_never_arrive_and_are_counted() {
    let emu = hook_emulator(3);
    let rx = receiver().await;
    subscribe_all(&emu, &rx.url, &[WebhookTopic::ProductsUpdate]);
    let (product, _) = add_variant(&emu, "Cup", 800, 3);
    emu.faults().drop_webhooks(1);

    emu.update_product(&product, |p| p.title = "Lost".into())
        .unwrap();
    emu.update_product(&product, |p| p.title = "Kept".into())
        .unwrap();
    emu.wait_for_webhooks().await;

    let got = rx.of(WebhookTopic::ProductsUpdate);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["title"], "Kept");
    let counts = emu.webhook_counters().topic(WebhookTopic::ProductsUpdate);
    assert_eq!((counts.queued, counts.dropped, counts.delivered), (2, 1, 1));
    assert!(
        emu.webhook_deliveries()
            .iter()
            .any(|d| d.outcome == AttemptOutcome::Dropped)
    );
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_the_same_webhook_id_until_it_answers() {
    let emu = hook_emulator(5);
    let rx = receiver_with(
        &[
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::SERVICE_UNAVAILABLE,
        ],
        None,
    )
    .await;
    subscribe_all(&emu, &rx.url, &[WebhookTopic::ProductsUpdate]);
    let (product, _) = add_variant(&emu, "Jar", 800, 3);

    emu.update_product(&product, |p| p.title = "Retried".into())
        .unwrap();
    emu.wait_for_webhooks().await;

    let got = rx.of(WebhookTopic::ProductsUpdate);
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|r| r.header("x-shopify-webhook-id") == got[0].header("x-shopify-webhook-id"))
    );
    assert!(
        got.iter()
            .all(|r| r.body == got[0].body && r.signed_with(SECRET))
    );
    let counts = emu.webhook_counters().topic(WebhookTopic::ProductsUpdate);
    assert_eq!(
        (
            counts.attempts,
            counts.failed_attempts,
            counts.delivered,
            counts.abandoned
        ),
        (3, 2, 1, 0)
    );
    let outcomes: Vec<(u32, AttemptOutcome)> = emu
        .webhook_deliveries()
        .into_iter()
        .map(|d| (d.attempt, d.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, AttemptOutcome::Rejected(500)),
            (2, AttemptOutcome::Rejected(503)),
            (3, AttemptOutcome::Delivered(200)),
        ]
    );
}

#[tokio::test]
async fn a_receiver_that_never_answers_in_time_is_given_up_after_max_attempts() {
    let emu = emulator_with(|c| {
        c.webhooks = WebhookSettings {
            timeout: Duration::from_millis(100),
            ..WebhookSettings::for_tests(2, Duration::from_millis(10))
        };
    });
    let rx = receiver_with(&[], Some(Duration::from_millis(400))).await;
    subscribe_all(&emu, &rx.url, &[WebhookTopic::ProductsUpdate]);
    let (product, _) = add_variant(&emu, "Tray", 800, 3);

    emu.update_product(&product, |p| p.title = "Slow".into())
        .unwrap();
    emu.wait_for_webhooks().await;

    let counts = emu.webhook_counters().topic(WebhookTopic::ProductsUpdate);
    assert_eq!(
        (counts.attempts, counts.delivered, counts.abandoned),
        (2, 0, 1)
    );
    assert!(
        emu.webhook_deliveries()
            .iter()
            .all(|d| d.outcome == AttemptOutcome::TimedOut)
    );
}

#[tokio::test]
async fn an_unreachable_receiver_is_given_up_after_max_attempts() {
    let emu = hook_emulator(2);
    // Bind and drop: nothing listens on this port any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
    drop(listener);
    subscribe_all(&emu, &url, &[WebhookTopic::ProductsUpdate]);
    let (product, _) = add_variant(&emu, "Vase", 800, 3);

    emu.update_product(&product, |p| p.title = "Nobody".into())
        .unwrap();
    emu.wait_for_webhooks().await;

    let counts = emu.webhook_counters().topic(WebhookTopic::ProductsUpdate);
    assert_eq!((counts.attempts, counts.abandoned), (2, 1));
}

#[tokio::test]
async fn uninstalling_the_app_announces_it_then_drops_subscriptions_and_tokens() {
    let emu = hook_emulator(3);
    let rx = receiver().await;
    subscribe_all(
        &emu,
        &rx.url,
        &[WebhookTopic::AppUninstalled, WebhookTopic::ProductsUpdate],
    );
    let (product, _) = add_variant(&emu, "Lid", 800, 3);

    emu.uninstall_app();
    emu.update_product(&product, |p| p.title = "After".into())
        .unwrap();
    emu.wait_for_webhooks().await;

    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].topic(), "app/uninstalled");
    assert!(got[0].signed_with(SECRET));
    assert_eq!(got[0].json()["myshopify_domain"], emu.shop_domain());
    assert!(emu.webhook_subscriptions().is_empty());
    let refused = post_graphql(
        &emu,
        "2026-10",
        Some(TOKEN),
        json!({ "query": "{ shop { name } }" }),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_credentials_secret_signs_deliveries_when_configured() {
    let emu = emulator_with(|c| {
        c.webhooks = WebhookSettings::for_tests(2, Duration::from_millis(10));
        c.client_credentials = Some(crate::emulator::shopify::ClientCredentials {
            client_id: "client".into(),
            client_secret: "shpss_from_credentials".into(),
        });
    });
    let rx = receiver().await;
    subscribe_all(&emu, &rx.url, &[WebhookTopic::ProductsCreate]);

    add_variant(&emu, "Spoon", 300, 3);
    emu.wait_for_webhooks().await;

    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].signed_with("shpss_from_credentials"));
    assert!(!got[0].signed_with(SECRET));
}

#[tokio::test]
async fn events_without_subscribers_queue_nothing_and_waiting_returns_at_once() {
    let emu = hook_emulator(3);
    let (product, _) = add_variant(&emu, "Fork", 300, 3);

    emu.update_product(&product, |p| p.title = "Unheard".into())
        .unwrap();
    emu.wait_for_webhooks().await;

    assert_eq!(emu.webhook_counters(), Default::default());
    assert!(emu.webhook_deliveries().is_empty());
}
