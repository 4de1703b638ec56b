//! The merchant side of an order's life through the router: fulfilments
//! with tracking and carrier events, refunds, cancellation, the reads the
//! daemon reconciles with, and the user errors Shopify answers bad input
//! with; plus the Rust merchant helpers.

use serde_json::{Value, json};

use super::documents::*;
use super::support::*;
use super::*;
use crate::domain::{Currency, Money};
use crate::emulator::shopify::{
    CancelOrder, CancelReason, EmulatorError, RefundLineRequest, RefundOrder, RestockType,
    ShipmentStatus, TrackingInfo,
};

async fn lifecycle(emu: &ShopifyEmulator, order: &str) -> Value {
    let body = gql(emu, ORDER_LIFECYCLE, json!({ "id": order })).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["order"].clone()
}

fn messages(payload: &Value, key: &str) -> Vec<String> {
    payload[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

fn line_quantities(order: &Value, line: &str) -> (i64, i64, i64, i64) {
    let node = order["lineItems"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == line)
        .unwrap()
        .clone();
    let q = |k: &str| node[k].as_i64().unwrap();
    (
        q("quantity"),
        q("currentQuantity"),
        q("unfulfilledQuantity"),
        q("refundableQuantity"),
    )
}

async fn ship(emu: &ShopifyEmulator, fulfillment: Value) -> Value {
    let body = gql(
        emu,
        FULFILLMENT_CREATE,
        json!({ "fulfillment": fulfillment }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["fulfillmentCreate"].clone()
}

#[tokio::test]
async fn orders_get_one_open_fulfillment_order_covering_every_unit() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 2500, 10);
    let (_, cord) = add_variant(&emu, "Cord", 500, 10);
    let order = place_order(&emu, "cs_fo", &[(&lamp, 2, "25.00"), (&cord, 1, "5.00")]).await;

    let fos = fulfillment_orders(&emu, &order.id).await;

    assert_eq!(fos.len(), 1);
    assert_eq!(fos[0].1, "OPEN");
    let remaining: Vec<(String, i64)> = fos[0].2.iter().map(|l| (l.0.clone(), l.2)).collect();
    assert_eq!(
        remaining,
        vec![(order.lines[0].clone(), 2), (order.lines[1].clone(), 1)]
    );
}

#[tokio::test]
async fn fulfilling_some_units_with_tracking_then_the_rest_moves_the_order_to_fulfilled() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 2500, 10);
    let (_, cord) = add_variant(&emu, "Cord", 500, 10);
    let order = place_order(&emu, "cs_ship", &[(&lamp, 2, "25.00"), (&cord, 1, "5.00")]).await;
    let before = lifecycle(&emu, &order.id).await;
    let fos = fulfillment_orders(&emu, &order.id).await;
    let (fo, _, lines) = &fos[0];

    let first = ship(
        &emu,
        json!({
            "lineItemsByFulfillmentOrder": [{
                "fulfillmentOrderId": fo,
                "fulfillmentOrderLineItems": [{ "id": lines[0].1, "quantity": 1 }]
            }],
            "trackingInfo": { "company": "UPS", "number": "1Z999", "url": "https://ups.example/1Z999" }
        }),
    )
    .await;

    assert_eq!(first["userErrors"], json!([]));
    let f = &first["fulfillment"];
    assert_eq!(f["name"], "#1001.1");
    assert_eq!(f["status"], "SUCCESS");
    assert_eq!(f["displayStatus"], "FULFILLED");
    assert_eq!(f["totalQuantity"], 1);
    assert_eq!(
        f["trackingInfo"],
        json!([{ "company": "UPS", "number": "1Z999", "url": "https://ups.example/1Z999" }])
    );
    let partly = lifecycle(&emu, &order.id).await;
    assert_eq!(partly["displayFulfillmentStatus"], "PARTIALLY_FULFILLED");
    assert_eq!(line_quantities(&partly, &order.lines[0]), (2, 2, 1, 2));
    assert_eq!(line_quantities(&partly, &order.lines[1]), (1, 1, 1, 1));
    assert!(partly["updatedAt"].as_str().unwrap() >= before["updatedAt"].as_str().unwrap());
    assert_eq!(
        fulfillment_orders(&emu, &order.id).await[0].1,
        "IN_PROGRESS"
    );

    let rest = ship(
        &emu,
        json!({ "lineItemsByFulfillmentOrder": [{ "fulfillmentOrderId": fo }] }),
    )
    .await;

    assert_eq!(rest["userErrors"], json!([]));
    assert_eq!(rest["fulfillment"]["name"], "#1001.2");
    assert_eq!(rest["fulfillment"]["totalQuantity"], 2);
    let done = lifecycle(&emu, &order.id).await;
    assert_eq!(done["displayFulfillmentStatus"], "FULFILLED");
    assert_eq!(done["fulfillments"].as_array().unwrap().len(), 2);
    assert_eq!(fulfillment_orders(&emu, &order.id).await[0].1, "CLOSED");
}

#[tokio::test]
async fn carrier_events_move_the_shipment_to_in_transit_and_delivered() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 2500, 10);
    let order = place_order(&emu, "cs_track", &[(&lamp, 1, "25.00")]).await;
    let fo = fulfillment_orders(&emu, &order.id).await[0].0.clone();
    let shipped = ship(
        &emu,
        json!({ "lineItemsByFulfillmentOrder": [{ "fulfillmentOrderId": fo }] }),
    )
    .await;
    let fulfillment = shipped["fulfillment"]["id"].as_str().unwrap().to_owned();

    for (status, at) in [
        ("IN_TRANSIT", "2026-11-28T10:00:00Z"),
        ("DELIVERED", "2026-11-29T16:30:00Z"),
    ] {
        let body = gql(
            &emu,
            FULFILLMENT_EVENT_CREATE,
            json!({ "event": { "fulfillmentId": fulfillment, "status": status, "happenedAt": at, "message": "scan" } }),
        )
        .await;
        let payload = &body["data"]["fulfillmentEventCreate"];
        assert_eq!(payload["userErrors"], json!([]), "{body}");
        assert_eq!(payload["fulfillmentEvent"]["status"], status);
        assert_eq!(payload["fulfillmentEvent"]["happenedAt"], at);
    }
    let retracked = gql(
        &emu,
        TRACKING_UPDATE,
        json!({ "id": fulfillment, "tracking": { "company": "FedEx", "numbers": ["F1", "F2"], "urls": ["https://fedex.example/F1", "https://fedex.example/F2"] } }),
    )
    .await;
    assert_eq!(
        retracked["data"]["fulfillmentTrackingInfoUpdate"]["userErrors"],
        json!([])
    );

    let order = lifecycle(&emu, &order.id).await;
    let f = &order["fulfillments"][0];
    assert_eq!(f["displayStatus"], "DELIVERED");
    assert_eq!(f["inTransitAt"], "2026-11-28T10:00:00Z");
    assert_eq!(f["deliveredAt"], "2026-11-29T16:30:00Z");
    assert_eq!(
        f["events"]["nodes"],
        json!([
            { "status": "IN_TRANSIT", "happenedAt": "2026-11-28T10:00:00Z" },
            { "status": "DELIVERED", "happenedAt": "2026-11-29T16:30:00Z" }
        ])
    );
    assert_eq!(
        f["trackingInfo"],
        json!([
            { "company": "FedEx", "number": "F1", "url": "https://fedex.example/F1" },
            { "company": "FedEx", "number": "F2", "url": "https://fedex.example/F2" }
        ])
    );
}

#[tokio::test]
async fn bad_fulfillment_input_gets_shopifys_user_errors_and_changes_nothing() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 2500, 10);
    let order = place_order(&emu, "cs_bad_ship", &[(&lamp, 2, "25.00")]).await;
    let fos = fulfillment_orders(&emu, &order.id).await;
    let (fo, _, lines) = &fos[0];
    let with_lines = |id: &str, quantity: i64| {
        json!({ "lineItemsByFulfillmentOrder": [{
            "fulfillmentOrderId": fo,
            "fulfillmentOrderLineItems": [{ "id": id, "quantity": quantity }]
        }] })
    };

    let zero = ship(&emu, with_lines(&lines[0].1, 0)).await;
    let too_many = ship(&emu, with_lines(&lines[0].1, 3)).await;
    let unknown = ship(
        &emu,
        json!({ "lineItemsByFulfillmentOrder": [{ "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1" }] }),
    )
    .await;

    assert_eq!(zero["fulfillment"], Value::Null);
    assert_eq!(
        zero["userErrors"],
        json!([{
            "field": ["fulfillment", "lineItemsByFulfillmentOrder", "0", "fulfillmentOrderLineItems", "0", "quantity"],
            "message": "Quantity must be greater than 0"
        }])
    );
    assert_eq!(
        too_many["userErrors"],
        json!([{ "field": ["fulfillment"], "message": "Invalid fulfillment order line item quantity requested." }])
    );
    assert_eq!(
        unknown["userErrors"],
        json!([{ "field": ["fulfillment"], "message": "Fulfillment order does not exist." }])
    );
    assert_eq!(fulfillment_orders(&emu, &order.id).await[0].2[0].2, 2);
    assert_eq!(lifecycle(&emu, &order.id).await["fulfillments"], json!([]));

    let malformed = gql(&emu, FULFILLMENT_CANCEL, json!({ "id": "not-a-gid" })).await;
    assert!(
        malformed["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid global id"),
        "{malformed}"
    );
}

#[tokio::test]
async fn cancelling_a_fulfillment_puts_its_units_back_to_ship() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 2500, 10);
    let order = place_order(&emu, "cs_unship", &[(&lamp, 2, "25.00")]).await;
    let fo = fulfillment_orders(&emu, &order.id).await[0].0.clone();
    let shipped = ship(
        &emu,
        json!({ "lineItemsByFulfillmentOrder": [{ "fulfillmentOrderId": fo }] }),
    )
    .await;
    let id = shipped["fulfillment"]["id"].clone();

    let cancelled = gql(&emu, FULFILLMENT_CANCEL, json!({ "id": id })).await;
    let again = gql(&emu, FULFILLMENT_CANCEL, json!({ "id": id })).await;

    let payload = &cancelled["data"]["fulfillmentCancel"];
    assert_eq!(payload["fulfillment"]["status"], "CANCELLED");
    assert_eq!(payload["fulfillment"]["displayStatus"], "CANCELED");
    let order_now = lifecycle(&emu, &order.id).await;
    assert_eq!(order_now["displayFulfillmentStatus"], "UNFULFILLED");
    assert_eq!(line_quantities(&order_now, &order.lines[0]).2, 2);
    assert_eq!(fulfillment_orders(&emu, &order.id).await[0].1, "OPEN");
    assert_eq!(
        messages(&again["data"]["fulfillmentCancel"], "userErrors"),
        ["Fulfillment has already been cancelled."]
    );
}

#[tokio::test]
async fn a_partial_refund_with_restock_returns_money_and_stock() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 1999, 10);
    let order = place_order(&emu, "cs_refund", &[(&lamp, 2, "19.99")]).await;
    assert_eq!(emu.inventory(&lamp), Some(8));
    let sale = emu.order(&order.id).unwrap().transactions[0].id;

    let body = gql(
        &emu,
        REFUND_CREATE,
        json!({ "input": {
            "orderId": order.id,
            "note": "one arrived broken",
            "refundLineItems": [{ "lineItemId": order.lines[0], "quantity": 1, "restockType": "CANCEL" }],
            "transactions": [{
                "orderId": order.id, "kind": "REFUND", "gateway": "stripe", "amount": "19.99",
                "parentId": format!("gid://shopify/OrderTransaction/{sale}")
            }]
        } }),
    )
    .await;

    let payload = &body["data"]["refundCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    let refund = &payload["refund"];
    assert_eq!(
        refund["totalRefundedSet"]["shopMoney"],
        json!({ "amount": "19.99", "currencyCode": "USD" })
    );
    assert_eq!(
        refund["refundLineItems"]["nodes"],
        json!([{ "quantity": 1, "restockType": "CANCEL", "restocked": true, "lineItem": { "id": order.lines[0] } }])
    );
    assert_eq!(
        refund["transactions"]["nodes"],
        json!([{ "kind": "REFUND", "status": "SUCCESS", "gateway": "stripe", "amountSet": { "shopMoney": { "amount": "19.99" } } }])
    );
    assert_eq!(
        payload["order"]["displayFinancialStatus"],
        "PARTIALLY_REFUNDED"
    );
    let now = lifecycle(&emu, &order.id).await;
    assert_eq!(now["totalRefundedSet"]["shopMoney"]["amount"], "19.99");
    assert_eq!(now["currentTotalPriceSet"]["shopMoney"]["amount"], "19.99");
    assert_eq!(line_quantities(&now, &order.lines[0]), (2, 1, 1, 1));
    assert_eq!(emu.inventory(&lamp), Some(9));
}

#[tokio::test]
async fn bad_refunds_get_shopifys_user_errors_and_change_nothing() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 1000, 10);
    let order = place_order(&emu, "cs_bad_refund", &[(&lamp, 1, "10.00")]).await;
    let sale = format!(
        "gid://shopify/OrderTransaction/{}",
        emu.order(&order.id).unwrap().transactions[0].id
    );
    let refund = |input: Value| {
        let emu = emu.clone();
        async move {
            let body = gql(&emu, REFUND_CREATE, json!({ "input": input })).await;
            assert!(body.get("errors").is_none(), "{body}");
            body["data"]["refundCreate"].clone()
        }
    };
    let money = |amount: &str, parent: Option<&str>| json!([{ "orderId": order.id, "kind": "REFUND", "gateway": "stripe", "amount": amount, "parentId": parent }]);

    let too_many = refund(json!({ "orderId": order.id, "refundLineItems": [{ "lineItemId": order.lines[0], "quantity": 2 }] })).await;
    let unknown_line = refund(json!({ "orderId": order.id, "refundLineItems": [{ "lineItemId": "gid://shopify/LineItem/1", "quantity": 1 }] })).await;
    let over =
        refund(json!({ "orderId": order.id, "transactions": money("25.00", Some(&sale)) })).await;
    let orphan = refund(json!({ "orderId": order.id, "transactions": money("5.00", None) })).await;
    let unknown_order = refund(json!({ "orderId": "gid://shopify/Order/42" })).await;
    let legacy = refund(json!({ "orderId": order.id, "refundLineItems": [{ "lineItemId": order.lines[0], "quantity": 1, "restockType": "LEGACY_RESTOCK" }] })).await;
    let not_refund = refund(json!({ "orderId": order.id, "transactions": [{ "orderId": order.id, "kind": "SALE", "gateway": "stripe", "amount": "1.00", "parentId": sale }] })).await;

    assert_eq!(
        too_many["userErrors"],
        json!([{ "field": ["refundLineItems", "0", "quantity"], "message": "Quantity cannot refund more items than were purchased" }])
    );
    assert_eq!(
        unknown_line["userErrors"],
        json!([{ "field": ["refundLineItems", "0", "lineItemId"], "message": "Line item does not exist" }])
    );
    assert_eq!(
        over["userErrors"],
        json!([{ "field": null, "message": "Refund amount $25.00 is greater than net payment received $10.00" }])
    );
    assert_eq!(
        orphan["userErrors"],
        json!([{ "field": ["transactions"], "message": "Transactions require a parent_id associated with the order" }])
    );
    assert_eq!(
        unknown_order["userErrors"],
        json!([{ "field": ["orderId"], "message": "Order does not exist" }])
    );
    assert_eq!(
        legacy["userErrors"][0]["field"],
        json!(["refundLineItems", "0", "restockType"])
    );
    assert_eq!(
        not_refund["userErrors"],
        json!([{ "field": null, "message": "Kind sale is not a valid transaction" }])
    );
    for payload in [&too_many, &over, &orphan, &legacy, &not_refund] {
        assert_eq!(payload["refund"], Value::Null);
    }
    let now = lifecycle(&emu, &order.id).await;
    assert_eq!(now["refunds"], json!([]));
    assert_eq!(now["displayFinancialStatus"], "PAID");
}

#[tokio::test]
async fn cancelling_an_order_refunds_restocks_and_closes_it_once() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 1000, 5);
    let order = place_order(&emu, "cs_cancel", &[(&lamp, 3, "10.00")]).await;
    assert_eq!(emu.inventory(&lamp), Some(2));
    let cancel = |order: &str, note: Option<String>| {
        json!({
            "orderId": order, "reason": "CUSTOMER", "restock": true,
            "refundMethod": { "originalPaymentMethodsRefund": true }, "staffNote": note
        })
    };

    let body = gql(&emu, ORDER_CANCEL, cancel(&order.id, None)).await;

    let payload = &body["data"]["orderCancel"];
    assert_eq!(payload["orderCancelUserErrors"], json!([]), "{body}");
    assert_eq!(payload["job"]["done"], false);
    let job = gql(&emu, JOB, json!({ "id": payload["job"]["id"] })).await;
    assert_eq!(job["data"]["job"]["done"], true);
    let now = lifecycle(&emu, &order.id).await;
    assert!(now["cancelledAt"].is_string());
    assert_eq!(now["cancelReason"], "CUSTOMER");
    assert_eq!(now["closed"], true);
    assert_eq!(now["displayFinancialStatus"], "REFUNDED");
    assert_eq!(now["totalRefundedSet"]["shopMoney"]["amount"], "30.0");
    assert_eq!(now["displayFulfillmentStatus"], "RESTOCKED");
    assert_eq!(line_quantities(&now, &order.lines[0]), (3, 0, 0, 0));
    assert_eq!(emu.inventory(&lamp), Some(5));

    let again = gql(&emu, ORDER_CANCEL, cancel(&order.id, None)).await;
    let unknown = gql(&emu, ORDER_CANCEL, cancel("gid://shopify/Order/1", None)).await;
    let long_note = gql(&emu, ORDER_CANCEL, cancel(&order.id, Some("x".repeat(256)))).await;
    assert_eq!(
        again["data"]["orderCancel"]["orderCancelUserErrors"],
        json!([{ "field": ["orderId"], "message": "Order has already been cancelled", "code": "INVALID" }])
    );
    assert_eq!(
        unknown["data"]["orderCancel"]["orderCancelUserErrors"],
        json!([{ "field": ["orderId"], "message": "Order does not exist", "code": "NOT_FOUND" }])
    );
    assert_eq!(
        long_note["data"]["orderCancel"]["orderCancelUserErrors"][0]["field"],
        json!(["staffNote"])
    );
    assert_eq!(emu.inventory(&lamp), Some(5));
}

#[tokio::test]
async fn an_unpaid_order_cancelled_without_refund_or_restock_is_voided_and_keeps_its_stock_claim() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 1000, 5);
    let body = gql(
        &emu,
        ORDER_CREATE_SIMPLE,
        json!({ "order": {
            "currency": "USD",
            "lineItems": [{ "variantId": lamp, "quantity": 1, "priceSet": { "shopMoney": { "amount": "10.00", "currencyCode": "USD" } } }],
            "financialStatus": "PENDING"
        }, "options": { "inventoryBehaviour": "DECREMENT_OBEYING_POLICY" } }),
    )
    .await;
    let unpaid = body["data"]["orderCreate"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(emu.inventory(&lamp), Some(4));

    emu.cancel_order(
        &unpaid,
        CancelOrder {
            reason: CancelReason::Inventory,
            refund: false,
            restock: false,
            staff_note: None,
        },
    )
    .unwrap();

    let now = lifecycle(&emu, &unpaid).await;
    assert_eq!(now["displayFinancialStatus"], "VOIDED");
    assert_eq!(now["cancelReason"], "INVENTORY");
    assert_eq!(now["totalRefundedSet"]["shopMoney"]["amount"], "0.0");
    assert_eq!(emu.inventory(&lamp), Some(4));
}

#[tokio::test]
async fn orders_changed_since_a_time_are_found_by_updated_at() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 1000, 5);
    let quiet = place_order(&emu, "cs_quiet", &[(&lamp, 1, "10.00")]).await;
    let busy = place_order(&emu, "cs_busy", &[(&lamp, 1, "10.00")]).await;
    // updated_at is compared in whole seconds on the wire; shift the quiet
    // order's stamp back so the cut-off separates the two.
    let cutoff = {
        let mut commerce = crate::emulator::shopify::write(&emu.inner.commerce);
        let id = crate::emulator::shopify::data::parse_gid(&quiet.id, "Order").unwrap();
        let o = commerce.orders.get_mut(id).unwrap();
        o.updated_at -= 60_000;
        crate::emulator::shopify::data::format_datetime(o.updated_at + 30_000)
    };
    emu.fulfill(&busy.id, &[], None).unwrap();

    let body = gql(
        &emu,
        ORDERS_CHANGED,
        json!({ "query": format!("updated_at:>'{cutoff}'") }),
    )
    .await;
    let tagged = gql(
        &emu,
        ORDERS_CHANGED,
        json!({ "query": "tag:'acp:cs_quiet'" }),
    )
    .await;

    let nodes = body["data"]["orders"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{body}");
    assert_eq!(nodes[0]["id"], busy.id.as_str());
    assert_eq!(nodes[0]["displayFulfillmentStatus"], "FULFILLED");
    assert_eq!(
        tagged["data"]["orders"]["nodes"][0]["id"],
        quiet.id.as_str()
    );
}

#[tokio::test]
async fn merchant_helpers_ship_track_refund_and_refuse_like_the_api() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 1500, 10);
    let order = place_order(&emu, "cs_helpers", &[(&lamp, 3, "15.00")]).await;

    let fulfillment = emu
        .fulfill(
            &order.id,
            &[(order.lines[0].as_str(), 2)],
            Some(TrackingInfo::new(
                "DHL",
                "JD0001",
                "https://dhl.example/JD0001",
            )),
        )
        .unwrap();
    emu.set_shipment_status(&fulfillment, ShipmentStatus::OutForDelivery)
        .unwrap();
    let refund = emu
        .refund(
            &order.id,
            RefundOrder {
                lines: vec![RefundLineRequest {
                    line_item_id: order.lines[0].clone(),
                    quantity: 1,
                    restock_type: RestockType::Return,
                }],
                amount: Some(Money::new(1500, Currency::USD)),
                ..RefundOrder::default()
            },
        )
        .unwrap();
    let too_much = emu.refund(
        &order.id,
        RefundOrder {
            amount: Some(Money::new(5000, Currency::USD)),
            ..RefundOrder::default()
        },
    );
    let over_ship = emu.fulfill(&order.id, &[(order.lines[0].as_str(), 5)], None);

    let stored = emu.fulfillment(&fulfillment).unwrap();
    assert_eq!(
        stored.shipment_status(),
        Some(ShipmentStatus::OutForDelivery)
    );
    assert_eq!(stored.tracking[0].number.as_deref(), Some("JD0001"));
    assert!(refund.starts_with("gid://shopify/Refund/"));
    let now = lifecycle(&emu, &order.id).await;
    assert_eq!(now["displayFinancialStatus"], "PARTIALLY_REFUNDED");
    assert_eq!(
        now["refunds"][0]["refundLineItems"]["nodes"][0]["restockType"],
        "RETURN"
    );
    assert_eq!(line_quantities(&now, &order.lines[0]), (3, 2, 1, 2));
    assert_eq!(emu.inventory(&lamp), Some(8));
    match too_much {
        Err(EmulatorError::Refused { messages, .. }) => assert_eq!(
            messages,
            ["Refund amount $50.00 is greater than net payment received $30.00"]
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(over_ship, Err(EmulatorError::Refused { .. })));
    assert!(matches!(
        emu.fulfill("gid://shopify/Order/1", &[], None),
        Err(EmulatorError::UnknownOrder(_))
    ));
}

#[tokio::test]
async fn lifecycle_mutations_cost_ten_points_and_reads_cost_by_selection() {
    let emu = emulator();
    let (_, lamp) = add_variant(&emu, "Lamp", 1000, 5);
    let order = place_order(&emu, "cs_cost", &[(&lamp, 1, "10.00")]).await;
    let fo = fulfillment_orders(&emu, &order.id).await[0].0.clone();

    let shipped = gql(
        &emu,
        FULFILLMENT_CREATE,
        json!({ "fulfillment": { "lineItemsByFulfillmentOrder": [{ "fulfillmentOrderId": fo }] } }),
    )
    .await;
    let read = gql(&emu, ORDER_LIFECYCLE, json!({ "id": order.id })).await;

    let cost = |body: &Value, key: &str| body["extensions"]["cost"][key].as_u64().unwrap();
    assert_eq!(cost(&shipped, "actualQueryCost"), 10);
    assert!(cost(&read, "requestedQueryCost") > cost(&read, "actualQueryCost"));
    assert!(cost(&read, "actualQueryCost") > 1);
}
