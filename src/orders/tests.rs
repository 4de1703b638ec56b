//! Order model, rendering and schema conformance of every rendered body.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};
use url::Url;

use super::model::{
    AdjustmentStatus, Cancellation, Fulfillment, FulfillmentEvent, FulfillmentEventKind,
    FulfillmentKind, FulfillmentStatus, LineStatus, LineUnits, OrderError, OrderState, OrderStatus,
    Refund, RefundDestination,
};
use super::render::{EventKind, event_value};
use super::spec;
use crate::checkout::ApiVersion;
use crate::checkout::model::{
    AgentCapabilities, Discounts, OrderRef, Session, SessionLine, SessionStatus, Totals,
};
use crate::checkout::service::{CheckoutRecord, Completion, CreatedOrderRef};
use crate::domain::{Currency, Money, ShopId};

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::USD)
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, day, hour, 0, 0).unwrap()
}

fn line(id: &str, item: &str, quantity: u32, unit: i64) -> SessionLine {
    let base = unit * i64::from(quantity);
    let tax = base / 10;
    SessionLine {
        id: id.into(),
        item_id: item.into(),
        quantity,
        title: format!("Item {item}"),
        description: None,
        image_url: Some(Url::parse(&format!("https://cdn.example/{item}.jpg")).unwrap()),
        sku: None,
        unit_amount: usd(unit),
        base_amount: usd(base),
        discount: usd(0),
        subtotal: usd(base),
        tax: usd(tax),
        total: usd(base + tax),
        availability: None,
    }
}

/// A session completed by agent `openai`: two units of li_1 and one of
/// li_2, order #1001.
fn completed_record() -> CheckoutRecord {
    let lines = vec![
        line("li_1", "45001", 2, 2500),
        line("li_2", "45002", 1, 1000),
    ];
    let mut totals = Totals::zero(Currency::USD);
    totals.items_base_amount = usd(6000);
    totals.subtotal = usd(6000);
    totals.fulfillment = Some(usd(500));
    totals.tax = Some(usd(600));
    totals.total = usd(7100);
    let session = Session {
        id: "cs_1".into(),
        shop: ShopId::parse("acme").unwrap(),
        created_with: ApiVersion::V2026_04_17,
        status: SessionStatus::Completed,
        currency: Currency::USD,
        lines,
        buyer: None,
        fulfillment_contact: None,
        address: None,
        fulfillment_options: Vec::new(),
        selected_fulfillment: None,
        totals,
        messages: Vec::new(),
        links: Vec::new(),
        discounts: Discounts::default(),
        agent_capabilities: AgentCapabilities::default(),
        authentication: None,
        order: Some(OrderRef {
            id: "5001".into(),
            number: Some("#1001".into()),
            permalink_url: Url::parse("https://shop.example/account/orders/5001").unwrap(),
            confirmation_email_sent: None,
        }),
        order_notes: None,
        locale: None,
        metadata: Map::new(),
        created_at: at(1, 9),
        updated_at: at(1, 10),
        expires_at: None,
        continue_url: None,
    };
    CheckoutRecord {
        session,
        quote: None,
        completion: Some(Completion {
            order: Some(CreatedOrderRef {
                id: "gid://shopify/Order/5001".into(),
                legacy_id: 5001,
                name: "#1001".into(),
            }),
            captured: true,
            ..Completion::default()
        }),
        agent: Some("openai".into()),
    }
}

fn order() -> OrderState {
    OrderState::from_completed(&completed_record()).unwrap()
}

fn units(line: &str, quantity: u32) -> LineUnits {
    LineUnits {
        line_id: line.into(),
        quantity,
    }
}

fn shipment(id: &str, status: FulfillmentStatus, lines: Vec<LineUnits>) -> Fulfillment {
    let mut events = vec![FulfillmentEvent {
        id: format!("{id}_shipped"),
        kind: FulfillmentEventKind::Shipped,
        occurred_at: at(2, 9),
        description: None,
        location: Some("Memphis, TN".into()),
    }];
    if status == FulfillmentStatus::Delivered {
        events.push(FulfillmentEvent {
            id: format!("{id}_delivered"),
            kind: FulfillmentEventKind::Delivered,
            occurred_at: at(4, 15),
            description: Some("Left at front door".into()),
            location: None,
        });
    }
    Fulfillment {
        id: id.into(),
        kind: FulfillmentKind::Shipping,
        status,
        lines,
        carrier: Some("USPS".into()),
        tracking_number: Some("9400111899223456789012".into()),
        tracking_url: Some(
            Url::parse(
                "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223456789012",
            )
            .unwrap(),
        ),
        events,
    }
}

fn refund(id: &str, amount: i64, status: AdjustmentStatus) -> Refund {
    Refund {
        id: id.into(),
        status,
        amount: usd(amount),
        destination: RefundDestination::OriginalPayment,
        lines: vec![units("li_2", 1)],
        removes_units: false,
        occurred_at: at(5, 12),
        reason: Some("defective".into()),
    }
}

fn line_status(order: &OrderState, id: &str) -> LineStatus {
    order.lines.iter().find(|l| l.id == id).unwrap().status()
}

fn quantities(order: &OrderState) -> Vec<(u32, u32, u32)> {
    order
        .lines
        .iter()
        .map(|l| (l.quantity.ordered, l.quantity.current, l.quantity.fulfilled))
        .collect()
}

// ------------------------------------------------------------------ model

#[test]
fn a_completed_checkout_becomes_a_created_order_with_its_lines_and_totals() {
    let o = order();
    assert_eq!(o.id, "5001");
    assert_eq!(o.checkout_session_id, "cs_1");
    assert_eq!(o.agent.as_deref(), Some("openai"));
    assert_eq!(o.created_with, ApiVersion::V2026_04_17);
    assert_eq!(o.platform.gid, "gid://shopify/Order/5001");
    assert_eq!(o.platform.name, "#1001");
    assert_eq!(o.status, OrderStatus::Created);
    assert_eq!(o.revision, 0);
    assert_eq!(quantities(&o), [(2, 2, 0), (1, 1, 0)]);
    assert_eq!(o.lines[0].unit_price, usd(2500));
    assert_eq!(o.lines[0].subtotal, usd(5000));
    assert_eq!(o.totals.total, usd(7100));
    assert_eq!(o.totals.amount_refunded, usd(0));
    assert_eq!(line_status(&o, "li_1"), LineStatus::Processing);

    let mut open = completed_record();
    open.session.status = SessionStatus::CompleteInProgress;
    assert_eq!(
        OrderState::from_completed(&open).unwrap_err(),
        OrderError::NotCompleted("cs_1".into())
    );
    let mut no_order = completed_record();
    no_order.session.order = None;
    assert!(OrderState::from_completed(&no_order).is_err());
}

#[test]
fn fulfillments_move_the_order_from_processing_to_shipped_to_completed() {
    let mut o = order();
    // Part of li_1 is packed, not yet gone: processing, nothing fulfilled.
    let packing = Fulfillment {
        status: FulfillmentStatus::Processing,
        events: Vec::new(),
        ..shipment(
            "ful_1",
            FulfillmentStatus::Processing,
            vec![units("li_1", 1)],
        )
    };
    assert!(o.apply_fulfillment(packing).unwrap());
    assert_eq!(o.status, OrderStatus::Processing);
    assert_eq!(quantities(&o), [(2, 2, 0), (1, 1, 0)]);

    // It ships: li_1 is partial.
    let first = shipment("ful_1", FulfillmentStatus::Shipped, vec![units("li_1", 1)]);
    assert!(o.apply_fulfillment(first.clone()).unwrap());
    assert_eq!(o.revision, 2);
    assert_eq!(quantities(&o), [(2, 2, 1), (1, 1, 0)]);
    assert_eq!(line_status(&o, "li_1"), LineStatus::Partial);
    assert_eq!(o.status, OrderStatus::Processing);
    // The same report again changes nothing.
    assert!(!o.apply_fulfillment(first).unwrap());
    assert_eq!(o.revision, 2);

    // The rest ships: every current unit is dispatched.
    let second = shipment(
        "ful_2",
        FulfillmentStatus::InTransit,
        vec![units("li_1", 1), units("li_2", 1)],
    );
    assert!(o.apply_fulfillment(second).unwrap());
    assert_eq!(o.status, OrderStatus::Shipped);
    assert_eq!(line_status(&o, "li_1"), LineStatus::Fulfilled);
    assert_eq!(line_status(&o, "li_2"), LineStatus::Fulfilled);

    // One parcel delivered is not enough; both are.
    let delivered_1 = shipment(
        "ful_1",
        FulfillmentStatus::Delivered,
        vec![units("li_1", 1)],
    );
    assert!(o.apply_fulfillment(delivered_1).unwrap());
    assert_eq!(o.status, OrderStatus::Shipped);
    let delivered_2 = shipment(
        "ful_2",
        FulfillmentStatus::Delivered,
        vec![units("li_1", 1), units("li_2", 1)],
    );
    assert!(o.apply_fulfillment(delivered_2).unwrap());
    assert_eq!(o.status, OrderStatus::Completed);
    // Events are kept once per id, in arrival order.
    let kinds: Vec<_> = o.fulfillments[0].events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            FulfillmentEventKind::Shipped,
            FulfillmentEventKind::Delivered
        ]
    );

    let unknown = shipment("ful_3", FulfillmentStatus::Shipped, vec![units("li_9", 1)]);
    assert_eq!(
        o.apply_fulfillment(unknown).unwrap_err(),
        OrderError::UnknownLine {
            order: "5001".into(),
            line: "li_9".into()
        }
    );
}

#[test]
fn refunds_count_once_completed_and_removing_refunds_lower_the_current_quantity() {
    let mut o = order();
    assert!(
        o.apply_refund(refund("r_1", 1100, AdjustmentStatus::Pending))
            .unwrap()
    );
    assert_eq!(
        o.totals.amount_refunded,
        usd(0),
        "pending is not refunded yet"
    );
    assert!(
        o.apply_refund(refund("r_1", 1100, AdjustmentStatus::Completed))
            .unwrap()
    );
    assert_eq!(o.totals.amount_refunded, usd(1100));
    assert_eq!(
        o.adjustments.len(),
        1,
        "the same refund is updated, not added"
    );
    assert!(
        !o.apply_refund(refund("r_1", 1100, AdjustmentStatus::Completed))
            .unwrap()
    );
    assert_eq!(
        o.totals.total,
        usd(7100),
        "the total stays the original charge"
    );
    assert_eq!(quantities(&o), [(2, 2, 0), (1, 1, 0)]);

    // A returned unit leaves the order.
    let returned = Refund {
        removes_units: true,
        lines: vec![units("li_1", 1)],
        ..refund("r_2", 2750, AdjustmentStatus::Completed)
    };
    assert!(o.apply_refund(returned).unwrap());
    assert_eq!(quantities(&o), [(2, 1, 0), (1, 1, 0)]);
    assert_eq!(o.totals.amount_refunded, usd(3850));
    // Store credit is an adjustment, not money back on the payment.
    let credit = Refund {
        destination: RefundDestination::StoreCredit,
        lines: Vec::new(),
        ..refund("r_3", 500, AdjustmentStatus::Completed)
    };
    assert!(o.apply_refund(credit).unwrap());
    assert_eq!(o.totals.amount_refunded, usd(3850));

    let euros = Refund {
        amount: Money::new(100, Currency::parse("EUR").unwrap()),
        ..refund("r_4", 100, AdjustmentStatus::Completed)
    };
    assert!(matches!(
        o.apply_refund(euros),
        Err(OrderError::Currency { .. })
    ));
}

#[test]
fn a_cancellation_removes_every_unit_not_yet_dispatched() {
    let mut o = order();
    let partial = shipment("ful_1", FulfillmentStatus::Shipped, vec![units("li_1", 1)]);
    o.apply_fulfillment(partial).unwrap();
    let cancel = Cancellation {
        id: "cancel_1".into(),
        occurred_at: at(3, 8),
        reason: Some("customer".into()),
    };
    assert!(o.apply_cancellation(cancel.clone()));
    assert_eq!(o.status, OrderStatus::Canceled);
    assert_eq!(quantities(&o), [(2, 1, 1), (1, 0, 0)]);
    assert_eq!(line_status(&o, "li_2"), LineStatus::Removed);
    assert_eq!(line_status(&o, "li_1"), LineStatus::Fulfilled);
    assert!(!o.apply_cancellation(cancel));

    // Before anything shipped: nothing is left.
    let mut o = order();
    assert!(o.apply_cancellation(Cancellation {
        id: "cancel_2".into(),
        occurred_at: at(3, 8),
        reason: None,
    }));
    assert_eq!(quantities(&o), [(2, 0, 0), (1, 0, 0)]);
    assert_eq!(o.status, OrderStatus::Canceled);
}

#[test]
fn confirmation_and_manual_review_set_the_status_until_fulfillment_starts() {
    let mut o = order();
    assert!(o.confirm());
    assert_eq!(o.status, OrderStatus::Confirmed);
    assert!(!o.confirm());
    assert!(o.set_manual_review(true));
    assert_eq!(o.status, OrderStatus::ManualReview);
    assert!(o.set_manual_review(false));
    assert_eq!(o.status, OrderStatus::Confirmed);
    assert_eq!(o.revision, 3);
}

// ------------------------------------------------------------------ render

/// The order in the four states the tests render: created, shipped with
/// tracking, partially refunded, canceled.
fn states() -> Vec<(&'static str, EventKind, OrderState)> {
    let created = order();
    let mut shipped = order();
    shipped
        .apply_fulfillment(shipment(
            "ful_1",
            FulfillmentStatus::Shipped,
            vec![units("li_1", 2), units("li_2", 1)],
        ))
        .unwrap();
    let mut refunded = shipped.clone();
    refunded
        .apply_fulfillment(shipment(
            "ful_1",
            FulfillmentStatus::Delivered,
            vec![units("li_1", 2), units("li_2", 1)],
        ))
        .unwrap();
    refunded
        .apply_refund(refund("r_1", 1100, AdjustmentStatus::Completed))
        .unwrap();
    let mut canceled = order();
    canceled.apply_cancellation(Cancellation {
        id: "cancel_1".into(),
        occurred_at: at(3, 8),
        reason: Some("customer".into()),
    });
    vec![
        ("created", EventKind::OrderCreate, created),
        ("shipped", EventKind::OrderUpdate, shipped),
        ("refunded", EventKind::OrderUpdate, refunded),
        ("canceled", EventKind::OrderUpdate, canceled),
    ]
}

#[test]
fn every_rendered_event_matches_the_webhook_schema_of_its_version() {
    for version in ApiVersion::SUPPORTED {
        let validator = spec::webhook_event_validator(version.as_str());
        for (name, kind, state) in states() {
            let body = event_value(version, kind, &state);
            let errors = spec::webhook_errors(&validator, &body);
            assert!(
                errors.is_empty(),
                "{} {name}: {errors:#?}\n{body:#}",
                version.as_str()
            );
        }
    }
}

#[test]
fn the_webhook_schemas_refuse_what_each_version_does_not_define() {
    // The validators are real: each version refuses the other's shapes.
    let old = spec::webhook_event_validator("2025-09-29");
    let new = spec::webhook_event_validator("2026-04-17");
    let (_, _, shipped) = states().remove(1);
    let new_body = event_value(ApiVersion::V2026_04_17, EventKind::OrderUpdate, &shipped);
    assert!(!spec::webhook_errors(&old, &new_body).is_empty());
    let mut completed = event_value(ApiVersion::V2025_09_29, EventKind::OrderUpdate, &shipped);
    completed["data"]["status"] = json!("completed");
    assert!(!spec::webhook_errors(&old, &completed).is_empty());
    let mut extra = new_body.clone();
    extra["data"]["payment_token"] = json!("spt_123");
    assert!(!spec::webhook_errors(&new, &extra).is_empty());
    let mut no_session = new_body;
    no_session["data"]
        .as_object_mut()
        .unwrap()
        .remove("checkout_session_id");
    assert!(!spec::webhook_errors(&new, &no_session).is_empty());
}

#[test]
fn the_2026_body_is_the_whole_order_with_tracking_and_refunds() {
    let all = states();
    let body = |i: usize| {
        let (_, kind, state) = &all[i];
        event_value(ApiVersion::V2026_04_17, *kind, state)
    };
    let created = body(0);
    assert_eq!(created["type"], "order_create");
    let data = &created["data"];
    assert_eq!(data["type"], "order");
    assert_eq!(data["id"], "5001");
    assert_eq!(data["checkout_session_id"], "cs_1");
    assert_eq!(data["order_number"], "#1001");
    assert_eq!(
        data["permalink_url"],
        "https://shop.example/account/orders/5001"
    );
    assert_eq!(data["status"], "created");
    assert_eq!(
        data["line_items"][0]["quantity"],
        json!({"ordered": 2, "current": 2, "fulfilled": 0})
    );
    assert_eq!(data["line_items"][0]["unit_price"], 2500);
    let totals: Vec<(String, i64)> = data["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["type"].as_str().unwrap().to_owned(),
                t["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, i64)> = [
        ("subtotal", 6000),
        ("fulfillment", 500),
        ("tax", 600),
        ("total", 7100),
    ]
    .iter()
    .map(|(t, a)| ((*t).to_owned(), *a))
    .collect();
    assert_eq!(totals, expected);

    let shipped = body(1);
    assert_eq!(shipped["type"], "order_update");
    let f = &shipped["data"]["fulfillments"][0];
    assert_eq!(shipped["data"]["status"], "shipped");
    assert_eq!(f["status"], "shipped");
    assert_eq!(f["carrier"], "USPS");
    assert_eq!(f["tracking_number"], "9400111899223456789012");
    assert_eq!(f["line_items"][0], json!({"id": "li_1", "quantity": 2}));
    assert_eq!(f["events"][0]["occurred_at"], "2026-05-02T09:00:00Z");
    assert_eq!(shipped["data"]["line_items"][1]["status"], "fulfilled");

    let refunded = body(2);
    let d = &refunded["data"];
    assert_eq!(d["status"], "completed");
    assert_eq!(d["adjustments"][0]["type"], "refund");
    assert_eq!(d["adjustments"][0]["amount"], 1100);
    assert_eq!(d["adjustments"][0]["currency"], "usd");
    let last = d["totals"].as_array().unwrap().last().unwrap();
    assert_eq!(
        last,
        &json!({"type": "amount_refunded", "display_text": "Refunded", "amount": 1100})
    );

    let canceled = body(3);
    assert_eq!(canceled["data"]["status"], "canceled");
    assert_eq!(canceled["data"]["line_items"][0]["status"], "removed");
    assert_eq!(canceled["data"]["adjustments"][0]["type"], "cancellation");
}

#[test]
fn the_2025_body_maps_statuses_onto_the_launch_set_and_lists_refunds() {
    let statuses: Vec<Value> = states()
        .iter()
        .map(|(_, kind, state)| {
            event_value(ApiVersion::V2025_09_29, *kind, state)["data"]["status"].clone()
        })
        .collect();
    assert_eq!(statuses, ["created", "shipped", "fulfilled", "canceled"]);
    let (_, kind, refunded) = &states()[2];
    let body = event_value(ApiVersion::V2025_09_29, *kind, refunded);
    assert_eq!(
        body["data"]["refunds"],
        json!([{"type": "original_payment", "amount": 1100}])
    );
    assert_eq!(
        body["data"].as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "checkout_session_id",
            "permalink_url",
            "refunds",
            "status",
            "type"
        ]
    );
    let mut processing = order();
    processing
        .apply_fulfillment(shipment(
            "ful_1",
            FulfillmentStatus::Shipped,
            vec![units("li_1", 1)],
        ))
        .unwrap();
    assert_eq!(processing.status, OrderStatus::Processing);
    assert_eq!(
        event_value(ApiVersion::V2025_09_29, EventKind::OrderUpdate, &processing)["data"]["status"],
        "confirmed"
    );
}

// ------------------------------------------------------------------ spec reader

#[test]
fn the_webhook_contracts_read_from_the_spec_are_the_published_ones() {
    let old = spec::webhook_event_schema("2025-09-29");
    let data = &old["components"]["schemas"]["EventDataOrder"];
    assert_eq!(
        data["properties"]["status"]["enum"],
        json!([
            "created",
            "manual_review",
            "confirmed",
            "canceled",
            "shipped",
            "fulfilled"
        ])
    );
    assert_eq!(
        old["components"]["schemas"]["Refund"]["properties"]["type"]["enum"],
        json!(["store_credit", "original_payment"])
    );
    let new = spec::webhook_event_schema("2026-04-17");
    assert_eq!(
        new["components"]["schemas"]["EventDataOrder"]["allOf"][0]["$ref"],
        "#/$defs/Order"
    );
    assert!(new["$defs"]["OrderLineItem"].is_object());
}

#[test]
fn shopify_refunds_map_to_completed_pending_or_failed_by_their_transactions() {
    use super::inbound::refund;
    use super::model::AdjustmentStatus;
    let order = order();
    let item = order.lines[0].item_id.clone();
    let with = |transactions: Value| {
        json!({
            "id": 900,
            "processed_at": "2026-11-29T10:00:00Z",
            "transactions": transactions,
            "refund_line_items": [{"quantity": 1, "line_item": {"variant_id": item.parse::<u64>().unwrap()}}],
        })
    };
    let done = refund(
        &order,
        &with(json!([
            {"kind": "refund", "status": "success", "amount": "5.00"},
            {"kind": "refund", "status": "success", "amount": "1.25"},
            {"kind": "sale", "status": "success", "amount": "99.00"},
        ])),
    )
    .unwrap();
    assert_eq!(done.status, AdjustmentStatus::Completed);
    assert_eq!(done.amount, Money::new(625, order.currency));
    assert_eq!(done.lines.len(), 1);
    assert!(done.removes_units);

    let waiting = refund(
        &order,
        &with(json!([{"kind": "refund", "status": "pending", "amount": "5.00"}])),
    )
    .unwrap();
    assert_eq!(waiting.status, AdjustmentStatus::Pending);
    assert_eq!(waiting.amount.amount, 0);
    let refused = refund(
        &order,
        &with(json!([{"kind": "refund", "status": "failure", "amount": "5.00"}])),
    )
    .unwrap();
    assert_eq!(refused.status, AdjustmentStatus::Failed);
    // Units only, no money moved: done at once.
    let units_only = refund(&order, &with(json!([]))).unwrap();
    assert_eq!(units_only.status, AdjustmentStatus::Completed);
    assert_eq!(units_only.amount.amount, 0);
}
