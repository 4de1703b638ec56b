//! Mutations with state: the shop's commerce state (pricing rules, the
//! order book, webhook subscriptions) and the step that applies
//! `draftOrderCalculate`, `orderCreate`, the order lifecycle mutations
//! (`fulfillmentCreate`, `fulfillmentTrackingInfoUpdate`,
//! `fulfillmentEventCreate`, `fulfillmentCancel`, `refundCreate`,
//! `orderCancel`) and the `webhookSubscription*` mutations before a
//! mutation document is executed, then hands the webhook events they caused
//! to the delivery hub.
//!
//! Execution reads the catalog through a shared borrow, so a mutation cannot
//! write while it is being rendered. Instead `graphql.rs` calls [`apply`]
//! first: it takes the catalog and commerce write locks (always in that
//! order), runs each stateful root field in document order, and keeps the
//! outcomes by response key. The executor then renders the selection sets
//! against those outcomes (`Obj::Mutation`) with read access, so payloads see
//! the state after the mutation, as on Shopify.

use std::sync::Arc;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable::Operation;
use apollo_compiler::response::{JsonMap, JsonValue};
use serde::de::DeserializeOwned;

use super::catalog::Catalog;
use super::data::{Product, parse_gid};
use super::draft::{DraftOrderInput, DraftOutcome, calculate};
use super::exec::field_arguments;
use super::fields::collect_fields;
use super::fulfillment::{
    self, Done, EventInput, EventRequest, FulfillRequest, FulfillmentInput, TrackingInput,
};
use super::inputs::{UserErr, decode};
use super::lifecycle::CancelReason;
use super::order_create::{OptionsInput, OrderCreateOutcome, OrderInput, create};
use super::order_read::id_arg;
use super::orders::{Order, OrderBook};
use super::payloads::{order_json, product_events};
use super::pricing::PricingRules;
use super::refund::{self, CancelRequest, RefundInput, RefundRequest};
use super::subscriptions::{HookOutcome, SubscriptionBook, decode_input};
use super::webhooks::{Emitted, WebhookTopic};
use super::{Inner, write};

/// Pricing rules, orders and webhook subscriptions, behind the emulator's
/// `commerce` lock.
pub(crate) struct Commerce {
    pub pricing: PricingRules,
    pub orders: OrderBook,
    pub hooks: SubscriptionBook,
}

/// Which lifecycle mutation an outcome answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LifeKind {
    FulfillmentCreate,
    TrackingUpdate,
    EventCreate,
    FulfillmentCancel,
    RefundCreate,
    OrderCancel,
}

/// What a lifecycle mutation answers: the order after it (a copy), the
/// object it made or changed (fulfillment, event, refund, or the job of a
/// cancellation), or user errors.
#[derive(Debug, Clone)]
pub(crate) struct LifeOutcome {
    pub kind: LifeKind,
    pub order: Option<Order>,
    pub target: Option<u64>,
    pub user_errors: Vec<UserErr>,
}

impl LifeOutcome {
    fn from_result(
        kind: LifeKind,
        result: Result<Done, Vec<UserErr>>,
        book: &OrderBook,
        emitted: &mut Vec<Emitted>,
    ) -> Self {
        match result {
            Ok(done) => {
                emitted.extend(done.emitted);
                LifeOutcome {
                    kind,
                    order: book.get(done.order_id).cloned(),
                    target: Some(done.target),
                    user_errors: Vec::new(),
                }
            }
            Err(user_errors) => LifeOutcome {
                kind,
                order: None,
                target: None,
                user_errors,
            },
        }
    }
}

/// What a stateful root mutation field produced.
pub(crate) enum Outcome {
    Draft(Box<DraftOutcome>),
    Create(Box<OrderCreateOutcome>),
    Life(Box<LifeOutcome>),
    Hook(Box<HookOutcome>),
}

/// Outcomes of one mutation document's stateful fields, by response key; a
/// `String` is a field error.
#[derive(Default)]
pub(crate) struct Applied {
    outcomes: Vec<(String, Result<Outcome, String>)>,
    ran_order_create: bool,
}

impl Applied {
    /// The outcome of the field at response key `key`, if it was applied.
    pub(crate) fn get(&self, key: &str) -> Option<&Result<Outcome, String>> {
        self.outcomes.iter().find(|(k, _)| k == key).map(|(_, o)| o)
    }

    /// Whether the document ran `orderCreate` (the lost-response fault
    /// applies only to those).
    pub(crate) fn ran_order_create(&self) -> bool {
        self.ran_order_create
    }
}

/// Root mutation fields that change or read commerce state.
fn is_stateful(name: &str) -> bool {
    matches!(
        name,
        "draftOrderCalculate"
            | "orderCreate"
            | "fulfillmentCreate"
            | "fulfillmentTrackingInfoUpdate"
            | "fulfillmentEventCreate"
            | "fulfillmentCancel"
            | "refundCreate"
            | "orderCancel"
            | "webhookSubscriptionCreate"
            | "webhookSubscriptionUpdate"
            | "webhookSubscriptionDelete"
    )
}

/// Decodes an optional input object; absent or `null` is the default.
fn decode_or_default<T: DeserializeOwned + Default>(
    value: Option<&JsonValue>,
) -> Result<T, String> {
    match value {
        None | Some(JsonValue::Null) => Ok(T::default()),
        Some(v) => decode(Some(v)),
    }
}

/// Applies the stateful root fields of mutation `op` in document order,
/// then queues the webhook events they caused.
pub(crate) fn apply(
    inner: &Inner,
    doc: &ExecutableDocument,
    op: &Operation,
    vars: &JsonMap,
) -> Applied {
    let fields = collect_fields(doc, vars, "Mutation", &[&op.selection_set]);
    let stateful: Vec<_> = fields
        .into_iter()
        .filter(|(_, f)| is_stateful(f[0].name.as_str()))
        .collect();
    let mut applied = Applied::default();
    if stateful.is_empty() {
        return applied;
    }
    let mut catalog = write(&inner.catalog);
    let mut commerce = write(&inner.commerce);
    let Commerce {
        pricing,
        orders,
        hooks,
    } = &mut *commerce;
    let mut emitted = Vec::new();
    for (key, fields) in stateful {
        let field = fields[0];
        let args = field_arguments(field, vars);
        let name = field.name.as_str();
        let outcome = match name {
            "draftOrderCalculate" => decode::<DraftOrderInput>(args.get("input"))
                .map(|input| Outcome::Draft(Box::new(calculate(&catalog, pricing, &input)))),
            "orderCreate" => {
                applied.ran_order_create = true;
                let input = decode::<OrderInput>(args.get("order"));
                let options = decode_or_default::<OptionsInput>(args.get("options"));
                input.and_then(|input| {
                    options.map(|options| {
                        let delay = inner.faults.order_index_delay();
                        let before = products_of(&catalog, &input);
                        let outcome =
                            create(&mut catalog, orders, pricing, &input, &options, delay);
                        if let Some(order) = &outcome.order {
                            emitted.extend(order_created_events(order, &catalog, &before));
                        }
                        Outcome::Create(Box::new(outcome))
                    })
                })
            }
            "webhookSubscriptionCreate"
            | "webhookSubscriptionUpdate"
            | "webhookSubscriptionDelete" => subscription_field(inner, hooks, name, &args),
            _ => lifecycle_field(&mut catalog, orders, name, &args, &mut emitted)
                .map(|o| Outcome::Life(Box::new(o))),
        };
        applied.outcomes.push((key.to_owned(), outcome));
    }
    inner.webhooks.publish(hooks.all(), emitted);
    applied
}

/// The products an order's lines refer to, before the order claims stock.
fn products_of(catalog: &Catalog, input: &OrderInput) -> Vec<Arc<Product>> {
    let mut out: Vec<Arc<Product>> = Vec::new();
    for gid in input.variant_gids() {
        let found = parse_gid(gid, "ProductVariant")
            .and_then(|vid| catalog.variant_owner(vid))
            .and_then(|pid| catalog.get(pid));
        if let Some(p) = found
            && !out.iter().any(|o| o.id == p.id)
        {
            out.push(p.clone());
        }
    }
    out
}

/// `orders/create`, `orders/paid` when paid, and the product and inventory
/// events of stock the order claimed.
fn order_created_events(order: &Order, catalog: &Catalog, before: &[Arc<Product>]) -> Vec<Emitted> {
    let body = order_json(order, catalog);
    let mut out = vec![Emitted::new(WebhookTopic::OrdersCreate, body.clone())];
    if order.financial_status == "PAID" {
        out.push(Emitted::new(WebhookTopic::OrdersPaid, body));
    }
    for old in before {
        if let Some(new) = catalog.get(old.id)
            && new.updated_at != old.updated_at
        {
            out.extend(product_events(
                Some(old),
                Some(new),
                catalog.online_store_id(),
            ));
        }
    }
    out
}

fn subscription_field(
    inner: &Inner,
    hooks: &mut SubscriptionBook,
    name: &str,
    args: &JsonMap,
) -> Result<Outcome, String> {
    let settings = inner.webhooks.settings();
    let allow = settings.allow_loopback_http;
    let outcome = match name {
        "webhookSubscriptionCreate" => {
            let topic = args
                .get("topic")
                .and_then(|v| v.as_str())
                .and_then(WebhookTopic::parse)
                .ok_or("Invalid webhook subscription topic")?;
            let input = decode_input(args.get("webhookSubscription"))?;
            hooks.create(topic, &input, &settings.api_version, allow)
        }
        "webhookSubscriptionUpdate" => {
            let id = id_arg(args, "id", "WebhookSubscription")?;
            let input = decode_input(args.get("webhookSubscription"))?;
            hooks.update(id, &input, allow)
        }
        _ => hooks.delete(id_arg(args, "id", "WebhookSubscription")?),
    };
    Ok(Outcome::Hook(Box::new(outcome)))
}

fn lifecycle_field(
    catalog: &mut Catalog,
    orders: &mut OrderBook,
    name: &str,
    args: &JsonMap,
    emitted: &mut Vec<Emitted>,
) -> Result<LifeOutcome, String> {
    let (kind, result) = match name {
        "fulfillmentCreate" => {
            let input = decode::<FulfillmentInput>(args.get("fulfillment"))?;
            let request = FulfillRequest::from(&input);
            (
                LifeKind::FulfillmentCreate,
                fulfillment::create(catalog, orders, &request),
            )
        }
        "fulfillmentTrackingInfoUpdate" => {
            let id = id_arg(args, "fulfillmentId", "Fulfillment")?;
            let input = decode::<TrackingInput>(args.get("trackingInfoInput"))?;
            (
                LifeKind::TrackingUpdate,
                fulfillment::update_tracking(catalog, orders, id, input.entries()),
            )
        }
        "fulfillmentEventCreate" => {
            let input = decode::<EventInput>(args.get("fulfillmentEvent"))?;
            let result = EventRequest::from_input(&input)
                .map_err(|e| vec![e])
                .and_then(|request| fulfillment::add_event(catalog, orders, &request));
            (LifeKind::EventCreate, result)
        }
        "fulfillmentCancel" => {
            let id = id_arg(args, "id", "Fulfillment")?;
            (
                LifeKind::FulfillmentCancel,
                fulfillment::cancel(catalog, orders, id),
            )
        }
        "refundCreate" => {
            let input = decode::<RefundInput>(args.get("input"))?;
            let result = RefundRequest::from_input(&input)
                .and_then(|request| refund::create(catalog, orders, &request));
            (LifeKind::RefundCreate, result)
        }
        _ => {
            let order_id = id_arg(args, "orderId", "Order")?;
            let flag = |name: &str| args.get(name).and_then(|v| v.as_bool());
            let refund_method = args.get("refundMethod").filter(|v| !v.is_null()).map(|m| {
                m.get("originalPaymentMethodsRefund")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false)
            });
            let result = if flag("refund") == Some(true) && refund_method.is_some() {
                Err(vec![
                    UserErr::at(
                        &["refund"],
                        "Refund and refundMethod cannot both be present.",
                    )
                    .code("INVALID"),
                ])
            } else {
                let reason = args
                    .get("reason")
                    .and_then(|v| v.as_str())
                    .and_then(CancelReason::parse)
                    .unwrap_or(CancelReason::Other);
                let request = CancelRequest {
                    order_id,
                    reason,
                    refund: refund_method.unwrap_or(false) || flag("refund") == Some(true),
                    restock: flag("restock").unwrap_or(false),
                    staff_note: args
                        .get("staffNote")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned),
                };
                refund::cancel(catalog, orders, &request)
            };
            (LifeKind::OrderCancel, result)
        }
    };
    Ok(LifeOutcome::from_result(kind, result, orders, emitted))
}
