//! The GraphQL documents the lifecycle and webhook tests send, and the
//! checks that keep them and `schema_orders.graphql` honest: every document
//! validates against the real Admin schema (2026-01) and selects nothing
//! deprecated, and every type, field, argument and enum value the emulator
//! adds exists in the real schema with the same signature.
//!
//! The real schema is read from `$SHOPIFY_ADMIN_SCHEMA`, by default
//! `../shared/shopify-admin-schema/2026-01.graphql` next to the crate; a
//! missing file fails these tests with the path.

use std::path::PathBuf;
use std::sync::LazyLock;

use apollo_compiler::ast::{Definition, Document, InputValueDefinition};
use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};

use crate::emulator::shopify::exec::{ORDERS_SDL, SCHEMA};

pub(super) const ORDER_CREATE_SIMPLE: &str = r#"
mutation LifecycleOrderCreate($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { id name lineItems(first: 10) { nodes { id quantity } } }
    userErrors { field message code }
  }
}
"#;

pub(super) const FULFILLMENT_ORDERS: &str = r#"
query OrderFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 5) {
      nodes {
        id
        status
        orderId
        lineItems(first: 10) {
          nodes { id totalQuantity remainingQuantity lineItem { id } }
        }
      }
    }
  }
}
"#;

pub(super) const FULFILLMENT_CREATE: &str = r#"
mutation ShipUnits($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment {
      id
      name
      status
      displayStatus
      totalQuantity
      trackingInfo(first: 5) { company number url }
      fulfillmentLineItems(first: 10) { nodes { id quantity lineItem { id } } }
    }
    userErrors { field message }
  }
}
"#;

pub(super) const FULFILLMENT_EVENT_CREATE: &str = r#"
mutation ShipmentMoved($event: FulfillmentEventInput!) {
  fulfillmentEventCreate(fulfillmentEvent: $event) {
    fulfillmentEvent { id status happenedAt message }
    userErrors { field message }
  }
}
"#;

pub(super) const TRACKING_UPDATE: &str = r#"
mutation Retrack($id: ID!, $tracking: FulfillmentTrackingInput!) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $tracking, notifyCustomer: false) {
    fulfillment { id trackingInfo { company number url } }
    userErrors { field message }
  }
}
"#;

pub(super) const FULFILLMENT_CANCEL: &str = r#"
mutation Unship($id: ID!) {
  fulfillmentCancel(id: $id) {
    fulfillment { id status displayStatus }
    userErrors { field message }
  }
}
"#;

pub(super) const REFUND_CREATE: &str = r#"
mutation GiveBack($input: RefundInput!) {
  refundCreate(input: $input) {
    refund {
      id
      totalRefundedSet { shopMoney { amount currencyCode } }
      refundLineItems(first: 10) { nodes { quantity restockType restocked lineItem { id } } }
      transactions(first: 5) { nodes { kind status gateway amountSet { shopMoney { amount } } } }
    }
    order { id displayFinancialStatus totalRefundedSet { shopMoney { amount } } }
    userErrors { field message }
  }
}
"#;

pub(super) const ORDER_CANCEL: &str = r#"
mutation CancelIt($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!, $refundMethod: OrderCancelRefundMethodInput, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, refundMethod: $refundMethod, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
"#;

pub(super) const JOB: &str = r#"
query JobDone($id: ID!) { job(id: $id) { id done } }
"#;

pub(super) const ORDER_LIFECYCLE: &str = r#"
query OrderLifecycle($id: ID!) {
  order(id: $id) {
    id
    updatedAt
    cancelledAt
    cancelReason
    closed
    displayFinancialStatus
    displayFulfillmentStatus
    totalRefundedSet { shopMoney { amount currencyCode } }
    currentTotalPriceSet { shopMoney { amount } }
    lineItems(first: 10) {
      nodes { id quantity currentQuantity unfulfilledQuantity refundableQuantity variant { id } }
    }
    fulfillments(first: 10) {
      id
      name
      status
      displayStatus
      inTransitAt
      deliveredAt
      trackingInfo(first: 5) { company number url }
      events(first: 10) { nodes { status happenedAt } }
    }
    refunds(first: 10) {
      id
      createdAt
      totalRefundedSet { shopMoney { amount } }
      refundLineItems(first: 10) { nodes { quantity restockType lineItem { id } } }
    }
  }
}
"#;

pub(super) const ORDERS_CHANGED: &str = r#"
query OrdersChanged($query: String!) {
  orders(first: 10, query: $query, sortKey: UPDATED_AT) {
    nodes { id name updatedAt displayFulfillmentStatus displayFinancialStatus cancelledAt }
  }
}
"#;

pub(super) const WEBHOOK_CREATE: &str = r#"
mutation Subscribe($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic uri format includeFields apiVersion { handle } createdAt }
    userErrors { field message }
  }
}
"#;

pub(super) const WEBHOOK_UPDATE: &str = r#"
mutation Resubscribe($id: ID!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $sub) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"#;

pub(super) const WEBHOOK_DELETE: &str = r#"
mutation Unsubscribe($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}
"#;

pub(super) const WEBHOOK_LIST: &str = r#"
query Subscriptions($topics: [WebhookSubscriptionTopic!], $uri: String) {
  webhookSubscriptions(first: 10, topics: $topics, uri: $uri) {
    nodes { id topic uri format }
    pageInfo { hasNextPage }
  }
}
"#;

/// Every document above, by name.
fn documents() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ORDER_CREATE_SIMPLE", ORDER_CREATE_SIMPLE),
        ("FULFILLMENT_ORDERS", FULFILLMENT_ORDERS),
        ("FULFILLMENT_CREATE", FULFILLMENT_CREATE),
        ("FULFILLMENT_EVENT_CREATE", FULFILLMENT_EVENT_CREATE),
        ("TRACKING_UPDATE", TRACKING_UPDATE),
        ("FULFILLMENT_CANCEL", FULFILLMENT_CANCEL),
        ("REFUND_CREATE", REFUND_CREATE),
        ("ORDER_CANCEL", ORDER_CANCEL),
        ("JOB", JOB),
        ("ORDER_LIFECYCLE", ORDER_LIFECYCLE),
        ("ORDERS_CHANGED", ORDERS_CHANGED),
        ("WEBHOOK_CREATE", WEBHOOK_CREATE),
        ("WEBHOOK_UPDATE", WEBHOOK_UPDATE),
        ("WEBHOOK_DELETE", WEBHOOK_DELETE),
        ("WEBHOOK_LIST", WEBHOOK_LIST),
    ]
}

const SCHEMA_ENV: &str = "SHOPIFY_ADMIN_SCHEMA";

fn real_schema_path() -> PathBuf {
    match std::env::var_os(SCHEMA_ENV) {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/shopify-admin-schema/2026-01.graphql"),
    }
}

static REAL: LazyLock<Result<Valid<Schema>, String>> = LazyLock::new(|| {
    let path = real_schema_path();
    let source = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read the real Shopify Admin schema at {} ({e}); set {SCHEMA_ENV} to the \
             2026-01 SDL (default ../shared/shopify-admin-schema/2026-01.graphql relative to \
             the crate)",
            path.display()
        )
    })?;
    Schema::parse_and_validate(source, &path)
        .map_err(|e| format!("the schema at {} is invalid:\n{}", path.display(), e.errors))
});

fn real() -> &'static Valid<Schema> {
    match &*REAL {
        Ok(schema) => schema,
        Err(message) => panic!("{message}"),
    }
}

#[test]
fn every_test_document_validates_against_the_real_admin_schema_and_the_emulator() {
    let mut problems = Vec::new();
    for (name, text) in documents() {
        for (which, schema) in [("real", real()), ("emulator", &*SCHEMA)] {
            if let Err(e) = ExecutableDocument::parse_and_validate(schema, text, name) {
                problems.push(format!("{name} against the {which} schema:\n{}", e.errors));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

fn deprecated_selections(set: &SelectionSet, path: &str, out: &mut Vec<String>) {
    for selection in &set.selections {
        match selection {
            Selection::Field(field) => {
                let here = format!("{path}.{}", field.name);
                if field.definition.directives.get("deprecated").is_some() {
                    out.push(here.clone());
                }
                deprecated_selections(&field.selection_set, &here, out);
            }
            Selection::InlineFragment(f) => deprecated_selections(&f.selection_set, path, out),
            Selection::FragmentSpread(_) => {}
        }
    }
}

#[test]
fn no_test_document_selects_a_deprecated_field() {
    let mut found = Vec::new();
    for (name, text) in documents() {
        let Ok(doc) = ExecutableDocument::parse_and_validate(real(), text, name) else {
            continue;
        };
        for op in doc.operations.iter() {
            deprecated_selections(&op.selection_set, name, &mut found);
        }
    }
    assert!(found.is_empty(), "deprecated in the real schema: {found:?}");
}

fn same_input_values(
    owner: &str,
    ours: &[Node<InputValueDefinition>],
    theirs: Vec<&Node<InputValueDefinition>>,
    problems: &mut Vec<String>,
) {
    for value in ours {
        match theirs.iter().find(|r| r.name == value.name) {
            None => problems.push(format!(
                "{owner}: `{}` is not in the real schema",
                value.name
            )),
            Some(r) => {
                if value.ty.to_string() != r.ty.to_string() {
                    problems.push(format!(
                        "{owner}: `{}` is `{}`, real `{}`",
                        value.name, value.ty, r.ty
                    ));
                }
                let default =
                    |v: &InputValueDefinition| v.default_value.as_ref().map(|d| d.to_string());
                if default(value) != default(r) {
                    problems.push(format!("{owner}: `{}` default differs", value.name));
                }
            }
        }
    }
    for r in theirs {
        let required = r.ty.is_non_null() && r.default_value.is_none();
        if required && !ours.iter().any(|v| v.name == r.name) {
            problems.push(format!("{owner}: required `{}` is missing", r.name));
        }
    }
}

#[test]
fn the_emulator_schema_additions_match_the_real_admin_schema() {
    let real = real();
    let ours = Document::parse(ORDERS_SDL, "schema_orders.graphql").unwrap();
    let mut problems = Vec::new();
    for def in &ours.definitions {
        let Some(name) = def.name() else { continue };
        let Some(real_ty) = real.types.get(name) else {
            problems.push(format!("type `{name}` is not in the real schema"));
            continue;
        };
        match (def, real_ty) {
            (Definition::ObjectTypeDefinition(o), ExtendedType::Object(r)) => {
                for f in &o.fields {
                    let owner = format!("{name}.{}", f.name);
                    let Some(rf) = r.fields.get(&f.name) else {
                        problems.push(format!("{owner} is not in the real schema"));
                        continue;
                    };
                    if f.ty.to_string() != rf.ty.to_string() {
                        problems.push(format!("{owner} returns `{}`, real `{}`", f.ty, rf.ty));
                    }
                    same_input_values(
                        &owner,
                        &f.arguments,
                        rf.arguments.iter().collect(),
                        &mut problems,
                    );
                }
            }
            (Definition::InputObjectTypeDefinition(i), ExtendedType::InputObject(r)) => {
                same_input_values(
                    &format!("input {name}"),
                    &i.fields,
                    r.fields.values().map(|f| &f.node).collect(),
                    &mut problems,
                );
            }
            (Definition::EnumTypeDefinition(e), ExtendedType::Enum(r)) => {
                for v in &e.values {
                    if !r.values.contains_key(&v.value) {
                        problems.push(format!("enum {name}: `{}` is not real", v.value));
                    }
                }
            }
            (Definition::UnionTypeDefinition(u), ExtendedType::Union(r)) => {
                for m in &u.members {
                    if !r.members.iter().any(|x| x.name == *m) {
                        problems.push(format!("union {name}: `{m}` is not a real member"));
                    }
                }
            }
            (Definition::ScalarTypeDefinition(_), ExtendedType::Scalar(_)) => {}
            _ => problems.push(format!(
                "type `{name}` is a different kind in the real schema"
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_merged_emulator_schema_keeps_the_daemon_subset_and_adds_the_lifecycle() {
    // Forces the merge; a conflict would panic in the LazyLock.
    let mutation = SCHEMA.get_object("Mutation").unwrap();
    for field in [
        "orderCreate",
        "fulfillmentCreate",
        "refundCreate",
        "webhookSubscriptionCreate",
    ] {
        assert!(mutation.fields.contains_key(field), "{field}");
    }
    let order = SCHEMA.get_object("Order").unwrap();
    for field in [
        "totalPriceSet",
        "fulfillments",
        "refunds",
        "displayFulfillmentStatus",
    ] {
        assert!(order.fields.contains_key(field), "{field}");
    }
}

#[test]
fn merging_keeps_fields_both_files_define_once() {
    let base = "type Query { a: Int b: Int }\nenum E { X }";
    let extra = "type Query { b: Int c: String }\nenum E { X Y }\ntype T { id: ID! }";
    let merged = crate::emulator::shopify::exec::merge_sdl(base, extra);
    let doc = Document::parse(merged, "merged.graphql").unwrap();
    let query = doc
        .definitions
        .iter()
        .find_map(|d| match d {
            Definition::ObjectTypeDefinition(o) if o.name == "Query" => Some(o),
            _ => None,
        })
        .unwrap();
    let names: Vec<&str> = query.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(
        doc.definitions
            .iter()
            .any(|d| d.name().is_some_and(|n| n == "T"))
    );
    let values = doc
        .definitions
        .iter()
        .find_map(|d| match d {
            Definition::EnumTypeDefinition(e) => Some(e.values.len()),
            _ => None,
        })
        .unwrap();
    assert_eq!(values, 2);
}
