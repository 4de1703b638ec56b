//! GraphQL objects of the order lifecycle and webhook subscriptions
//! (`FulfillmentOrder`, `Fulfillment`, `FulfillmentEvent`, `Refund`,
//! `Job`, `WebhookSubscription`, the mutation payloads), the lifecycle
//! fields of `Order` and `LineItem`, and the query root fields
//! `fulfillment`, `fulfillmentOrder`, `job`, `webhookSubscription(s)`.
//!
//! Reads only: the objects borrow the order book (queries) or the order
//! copies kept in mutation outcomes (`mutate.rs`).

use apollo_compiler::response::{JsonMap, JsonValue};

use super::catalog::{SortPos, SortValue};
use super::commerce::Co;
use super::data::{Price, format_datetime, parse_gid};
use super::inputs::UserErr;
use super::lifecycle::{
    Fulfillment, FulfillmentEvent, FulfillmentLine, FulfillmentOrder, FulfillmentOrderLine, Refund,
    RefundLine, TrackingInfo,
};
use super::mutate::{Commerce, LifeKind, LifeOutcome};
use super::orders::{Order, OrderLine};
use super::page::{PageArgs, paginate_list};
use super::payloads::inventory_item_id;
use super::resolve::{Context, Obj, Resolved, connection};
use super::subscriptions::{HookOutcome, WebhookFormat, WebhookSubscription};
use super::webhooks::WebhookTopic;

/// One object of this module's part of the schema.
#[derive(Clone)]
pub(crate) enum Lo<'a> {
    FulfillmentOrder(&'a Order, &'a FulfillmentOrder),
    FulfillmentOrderLine(&'a Order, &'a FulfillmentOrderLine),
    Fulfillment(&'a Order, &'a Fulfillment),
    FulfillmentLine(&'a Order, &'a FulfillmentLine),
    Tracking(&'a TrackingInfo),
    Event(&'a FulfillmentEvent),
    Refund(&'a Order, &'a Refund),
    RefundLine(&'a Order, &'a RefundLine),
    Job(u64, bool),
    /// `UserError`; an empty field path prints as `null`.
    UserError(&'a UserErr),
    CancelUserError(&'a UserErr),
    Payload(&'a LifeOutcome),
    HookPayload(&'a HookOutcome),
    Subscription(&'a WebhookSubscription),
    ApiVersion(&'a str),
    HttpEndpoint(&'a str),
}

impl Lo<'_> {
    /// The concrete GraphQL object type.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Lo::FulfillmentOrder(..) => "FulfillmentOrder",
            Lo::FulfillmentOrderLine(..) => "FulfillmentOrderLineItem",
            Lo::Fulfillment(..) => "Fulfillment",
            Lo::FulfillmentLine(..) => "FulfillmentLineItem",
            Lo::Tracking(_) => "FulfillmentTrackingInfo",
            Lo::Event(_) => "FulfillmentEvent",
            Lo::Refund(..) => "Refund",
            Lo::RefundLine(..) => "RefundLineItem",
            Lo::Job(..) => "Job",
            Lo::UserError(_) => "UserError",
            Lo::CancelUserError(_) => "OrderCancelUserError",
            Lo::Payload(o) => match o.kind {
                LifeKind::FulfillmentCreate => "FulfillmentCreatePayload",
                LifeKind::TrackingUpdate => "FulfillmentTrackingInfoUpdatePayload",
                LifeKind::EventCreate => "FulfillmentEventCreatePayload",
                LifeKind::FulfillmentCancel => "FulfillmentCancelPayload",
                LifeKind::RefundCreate => "RefundCreatePayload",
                LifeKind::OrderCancel => "OrderCancelPayload",
            },
            Lo::HookPayload(h) => match h {
                HookOutcome::Created(..) => "WebhookSubscriptionCreatePayload",
                HookOutcome::Updated(..) => "WebhookSubscriptionUpdatePayload",
                HookOutcome::Deleted(..) => "WebhookSubscriptionDeletePayload",
            },
            Lo::Subscription(_) => "WebhookSubscription",
            Lo::ApiVersion(_) => "ApiVersion",
            Lo::HttpEndpoint(_) => "WebhookHttpEndpoint",
        }
    }

    /// The GID of a node object.
    pub(crate) fn gid(&self) -> Option<String> {
        match self {
            Lo::FulfillmentOrder(_, fo) => Some(fo.gid()),
            Lo::Fulfillment(_, f) => Some(f.gid()),
            Lo::Refund(_, r) => Some(r.gid()),
            Lo::Subscription(s) => Some(s.gid()),
            _ => None,
        }
    }
}

type Field<'a> = Result<Resolved<'a>, String>;

fn leaf<'a>(v: impl Into<JsonValue>) -> Field<'a> {
    Ok(Resolved::Leaf(v.into()))
}

fn opt_leaf<'a, T: Into<JsonValue>>(v: Option<T>) -> Field<'a> {
    Ok(v.map_or(Resolved::Null, |v| Resolved::Leaf(v.into())))
}

fn obj(lo: Lo<'_>) -> Field<'_> {
    Ok(Resolved::Object(Obj::Life(lo)))
}

fn opt_obj(lo: Option<Lo<'_>>) -> Field<'_> {
    Ok(lo.map_or(Resolved::Null, |lo| Resolved::Object(Obj::Life(lo))))
}

fn co(c: Co<'_>) -> Field<'_> {
    Ok(Resolved::Object(Obj::Commerce(c)))
}

fn list<'a>(items: impl IntoIterator<Item = Obj<'a>>) -> Field<'a> {
    Ok(Resolved::List(
        items.into_iter().map(Resolved::Object).collect(),
    ))
}

fn strings<'a>(items: impl IntoIterator<Item = &'a String>) -> Field<'a> {
    Ok(Resolved::List(
        items
            .into_iter()
            .map(|s| Resolved::Leaf(s.as_str().into()))
            .collect(),
    ))
}

fn time<'a>(ms: i64) -> Field<'a> {
    leaf(format_datetime(ms))
}

fn opt_time<'a>(ms: Option<i64>) -> Field<'a> {
    opt_leaf(ms.map(format_datetime))
}

fn bag(amount: Price, order: &Order) -> Field<'_> {
    co(Co::Bag(amount, order.currency.as_str()))
}

/// `first` of a plain list field.
fn take_first(args: &JsonMap) -> usize {
    args.get("first")
        .and_then(|v| v.as_i64())
        .map_or(usize::MAX, |n| usize::try_from(n.max(0)).unwrap_or(0))
}

fn pos(i: usize, id: u64) -> SortPos {
    SortPos {
        value: SortValue::Int(i as i64),
        id,
    }
}

/// A paginated connection over an ordered list of (id, node).
fn paged<'a>(
    type_name: &'static str,
    edge_type: &'static str,
    items: Vec<(u64, Obj<'a>)>,
    args: &JsonMap,
    cx: &Context<'a>,
) -> Field<'a> {
    let page_args = PageArgs::from_args(args, cx.bulk)?;
    let items = items
        .into_iter()
        .enumerate()
        .map(|(i, (id, node))| (pos(i, id), node))
        .collect();
    connection(type_name, edge_type, paginate_list(items, &page_args))
}

fn user_error<'a>(e: &'a UserErr, field: &str) -> Option<Field<'a>> {
    Some(match field {
        "field" if e.field.is_empty() => Ok(Resolved::Null),
        "field" => strings(&e.field),
        "message" => leaf(e.message.as_str()),
        _ => return None,
    })
}

/// Parses an `ID` argument of `kind`; a malformed id is a field error.
pub(crate) fn id_arg(args: &JsonMap, name: &str, kind: &str) -> Result<Option<u64>, String> {
    match args.get(name).and_then(|v| v.as_str()) {
        Some(text) if text.starts_with("gid://") || text.parse::<u64>().is_ok() => {
            Ok(parse_gid(text, kind))
        }
        Some(text) => Err(format!("Invalid global id '{text}'")),
        None => Ok(None),
    }
}

fn line_obj<'a>(order: &'a Order, line_id: u64) -> Option<Obj<'a>> {
    order
        .line(line_id)
        .map(|l| Obj::Commerce(Co::Line(order, l)))
}

fn variant_obj<'a>(line: &OrderLine, cx: &Context<'a>) -> Option<Obj<'a>> {
    let product = &**cx.catalog?.get(line.product_id?)?;
    let v = product
        .variants
        .iter()
        .find(|v| Some(v.id) == line.variant_id)?;
    Some(Obj::Variant(product, v))
}

fn from_obj(o: Option<Obj<'_>>) -> Field<'_> {
    Ok(o.map_or(Resolved::Null, Resolved::Object))
}

/// Lifecycle fields of `Order` (`None`: not one of them).
pub(crate) fn order_field<'a>(
    o: &'a Order,
    field: &str,
    args: &JsonMap,
    cx: &Context<'a>,
) -> Option<Field<'a>> {
    Some(match field {
        "updatedAt" => time(o.updated_at),
        "cancelledAt" => opt_time(o.cancelled_at),
        "cancelReason" => opt_leaf(o.cancel_reason.map(|r| r.as_str())),
        "closed" => leaf(o.closed_at.is_some()),
        "closedAt" => opt_time(o.closed_at),
        "number" => leaf(o.number),
        "displayFulfillmentStatus" => leaf(o.display_fulfillment_status()),
        "fulfillable" => leaf(
            o.cancelled_at.is_none() && o.lines.iter().any(|l| o.unfulfilled_quantity(l.id) > 0),
        ),
        "refundable" => leaf(
            o.received().0 > o.refunded().0 || o.lines.iter().any(|l| o.refundable_quantity(l) > 0),
        ),
        "currentSubtotalLineItemsQuantity" => {
            leaf(o.lines.iter().map(|l| o.current_quantity(l)).sum::<i64>())
        }
        "currentTotalPriceSet" => bag(o.current_total(), o),
        "totalReceivedSet" => bag(o.received(), o),
        "totalRefundedSet" => bag(o.refunded(), o),
        "netPaymentSet" => bag(Price(o.received().0 - o.refunded().0), o),
        "fulfillments" => list(
            o.fulfillments
                .iter()
                .take(take_first(args))
                .map(|f| Obj::Life(Lo::Fulfillment(o, f))),
        ),
        "refunds" => list(
            o.refunds
                .iter()
                .take(take_first(args))
                .map(|r| Obj::Life(Lo::Refund(o, r))),
        ),
        "fulfillmentOrders" => paged(
            "FulfillmentOrderConnection",
            "FulfillmentOrderEdge",
            o.fulfillment_orders
                .iter()
                .map(|fo| (fo.id, Obj::Life(Lo::FulfillmentOrder(o, fo))))
                .collect(),
            args,
            cx,
        ),
        _ => return None,
    })
}

/// Lifecycle fields of `LineItem` (`None`: not one of them).
pub(crate) fn line_field<'a>(o: &'a Order, line: &'a OrderLine, field: &str) -> Option<Field<'a>> {
    Some(match field {
        "currentQuantity" => leaf(o.current_quantity(line)),
        "refundableQuantity" => leaf(o.refundable_quantity(line)),
        "unfulfilledQuantity" => leaf(o.unfulfilled_quantity(line.id)),
        "nonFulfillableQuantity" => leaf(
            (line.quantity - o.fulfilled_quantity(line.id) - o.unfulfilled_quantity(line.id))
                .max(0),
        ),
        _ => return None,
    })
}

fn find_fulfillment(book_orders: &[Order], id: u64) -> Option<(&Order, &Fulfillment)> {
    book_orders
        .iter()
        .find_map(|o| o.fulfillments.iter().find(|f| f.id == id).map(|f| (o, f)))
}

/// Query root fields of this module (`None`: not one of them).
pub(crate) fn query_field<'a>(
    field: &str,
    args: &JsonMap,
    cx: &Context<'a>,
    commerce: &'a Commerce,
) -> Option<Field<'a>> {
    let orders = commerce.orders.all();
    Some(match field {
        "fulfillment" => id_arg(args, "id", "Fulfillment").and_then(|id| {
            opt_obj(
                id.and_then(|id| find_fulfillment(orders, id))
                    .map(|(o, f)| Lo::Fulfillment(o, f)),
            )
        }),
        "fulfillmentOrder" => id_arg(args, "id", "FulfillmentOrder").and_then(|id| {
            opt_obj(id.and_then(|id| {
                orders.iter().find_map(|o| {
                    o.fulfillment_orders
                        .iter()
                        .find(|fo| fo.id == id)
                        .map(|fo| Lo::FulfillmentOrder(o, fo))
                })
            }))
        }),
        "job" => id_arg(args, "id", "Job").and_then(|id| {
            opt_obj(
                id.filter(|id| commerce.orders.jobs.contains(id))
                    .map(|id| Lo::Job(id, true)),
            )
        }),
        "webhookSubscription" => id_arg(args, "id", "WebhookSubscription").and_then(|id| {
            opt_obj(
                id.and_then(|id| commerce.hooks.get(id))
                    .map(Lo::Subscription),
            )
        }),
        "webhookSubscriptions" => {
            let topics: Option<Vec<WebhookTopic>> =
                args.get("topics").and_then(|v| v.as_array()).map(|list| {
                    list.iter()
                        .filter_map(|t| t.as_str().and_then(WebhookTopic::parse))
                        .collect()
                });
            let uri = args.get("uri").and_then(|v| v.as_str());
            let format = args.get("format").and_then(|v| v.as_str());
            let items = commerce
                .hooks
                .all()
                .iter()
                .filter(|s| topics.as_ref().is_none_or(|t| t.contains(&s.topic)))
                .filter(|s| uri.is_none_or(|u| s.uri == u))
                .filter(|s| format.is_none_or(|f| s.format.as_str() == f))
                .map(|s| (s.id, Obj::Life(Lo::Subscription(s))))
                .collect();
            paged(
                "WebhookSubscriptionConnection",
                "WebhookSubscriptionEdge",
                items,
                args,
                cx,
            )
        }
        _ => return None,
    })
}

fn unknown<'a>(lo: &Lo<'_>, field: &str) -> Field<'a> {
    Err(format!(
        "Field '{field}' doesn't exist on type '{}'",
        lo.type_name()
    ))
}

/// Resolves one field of a lifecycle or subscription object.
pub(crate) fn resolve<'a>(lo: &Lo<'a>, field: &str, args: &JsonMap, cx: &Context<'a>) -> Field<'a> {
    let resolved = match *lo {
        Lo::FulfillmentOrder(o, fo) => fulfillment_order(o, fo, field, args, cx),
        Lo::FulfillmentOrderLine(o, l) => fulfillment_order_line(o, l, field, cx),
        Lo::Fulfillment(o, f) => fulfillment(o, f, field, args, cx),
        Lo::FulfillmentLine(o, l) => {
            let line = o.line(l.line_id);
            let value = |q: i64| {
                line.map_or(Price(0), |line| {
                    Price((line.total().0 - line.discount.0) * q / line.quantity.max(1))
                })
            };
            let original = line.map_or(Price(0), |line| Price(line.unit_price.0 * l.quantity));
            Some(match field {
                "id" => leaf(format!("gid://shopify/FulfillmentLineItem/{}", l.id)),
                "quantity" => leaf(l.quantity),
                "lineItem" => from_obj(line_obj(o, l.line_id)),
                "originalTotalSet" => bag(original, o),
                "discountedTotalSet" => bag(value(l.quantity), o),
                _ => return unknown(lo, field),
            })
        }
        Lo::Tracking(t) => Some(match field {
            "company" => opt_leaf(t.company.as_deref()),
            "number" => opt_leaf(t.number.as_deref()),
            "url" => opt_leaf(t.url.as_deref()),
            _ => return unknown(lo, field),
        }),
        Lo::Event(e) => Some(match field {
            "id" => leaf(format!("gid://shopify/FulfillmentEvent/{}", e.id)),
            "status" => leaf(e.status.as_str()),
            "message" => opt_leaf(e.message.as_deref()),
            "happenedAt" => time(e.happened_at),
            "createdAt" => time(e.created_at),
            "estimatedDeliveryAt" => opt_time(e.estimated_delivery_at),
            "city" => opt_leaf(e.city.as_deref()),
            "province" => opt_leaf(e.province.as_deref()),
            "country" => opt_leaf(e.country.as_deref()),
            "zip" => opt_leaf(e.zip.as_deref()),
            "address1" => opt_leaf(e.address1.as_deref()),
            _ => return unknown(lo, field),
        }),
        Lo::Refund(o, r) => refund(o, r, field, args, cx),
        Lo::RefundLine(o, l) => Some(match field {
            "id" => leaf(format!("gid://shopify/RefundLineItem/{}", l.id)),
            "quantity" => leaf(l.quantity),
            "restockType" => leaf(l.restock_type.as_str()),
            "restocked" => leaf(l.restock_type.restocks()),
            "lineItem" => from_obj(line_obj(o, l.line_id)),
            "priceSet" => bag(l.price, o),
            "subtotalSet" => bag(l.subtotal, o),
            "totalTaxSet" => bag(l.total_tax, o),
            _ => return unknown(lo, field),
        }),
        Lo::Job(id, done) => Some(match field {
            "id" => leaf(format!("gid://shopify/Job/{id}")),
            "done" => leaf(done),
            _ => return unknown(lo, field),
        }),
        Lo::UserError(e) => user_error(e, field),
        Lo::CancelUserError(e) => match field {
            "code" => Some(opt_leaf(e.code)),
            _ => user_error(e, field),
        },
        Lo::Payload(outcome) => payload(outcome, field),
        Lo::HookPayload(outcome) => hook_payload(outcome, field),
        Lo::Subscription(s) => Some(match field {
            "id" => leaf(s.gid()),
            "legacyResourceId" => leaf(s.id.to_string()),
            "topic" => leaf(s.topic.as_enum()),
            "uri" | "callbackUrl" => leaf(s.uri.as_str()),
            "endpoint" => obj(Lo::HttpEndpoint(s.uri.as_str())),
            "format" => leaf(match s.format {
                WebhookFormat::Json => "JSON",
                WebhookFormat::Xml => "XML",
            }),
            "includeFields" => strings(&s.include_fields),
            "metafieldNamespaces" => strings(&s.metafield_namespaces),
            "apiVersion" => obj(Lo::ApiVersion(s.api_version.as_str())),
            "createdAt" => time(s.created_at),
            "updatedAt" => time(s.updated_at),
            _ => return unknown(lo, field),
        }),
        Lo::ApiVersion(v) => Some(match field {
            "handle" | "displayName" => leaf(v),
            "supported" => leaf(true),
            _ => return unknown(lo, field),
        }),
        Lo::HttpEndpoint(uri) => Some(match field {
            "callbackUrl" => leaf(uri),
            _ => return unknown(lo, field),
        }),
    };
    resolved.unwrap_or_else(|| unknown(lo, field))
}

fn fulfillment_order<'a>(
    o: &'a Order,
    fo: &'a FulfillmentOrder,
    field: &str,
    args: &JsonMap,
    cx: &Context<'a>,
) -> Option<Field<'a>> {
    Some(match field {
        "id" => leaf(fo.gid()),
        "status" => leaf(fo.status.as_str()),
        "requestStatus" => leaf("UNSUBMITTED"),
        "createdAt" => time(fo.created_at),
        "updatedAt" => time(fo.updated_at),
        "order" => co(Co::Order(o)),
        "orderId" => leaf(o.gid()),
        "orderName" => leaf(o.name.as_str()),
        "orderProcessedAt" => time(o.processed_at),
        "lineItems" => paged(
            "FulfillmentOrderLineItemConnection",
            "FulfillmentOrderLineItemEdge",
            fo.lines
                .iter()
                .map(|l| (l.id, Obj::Life(Lo::FulfillmentOrderLine(o, l))))
                .collect(),
            args,
            cx,
        ),
        _ => return None,
    })
}

fn fulfillment_order_line<'a>(
    o: &'a Order,
    l: &'a FulfillmentOrderLine,
    field: &str,
    cx: &Context<'a>,
) -> Option<Field<'a>> {
    let line = o.line(l.line_id)?;
    Some(match field {
        "id" => leaf(format!("gid://shopify/FulfillmentOrderLineItem/{}", l.id)),
        "totalQuantity" => leaf(l.total),
        "remainingQuantity" => leaf(l.remaining),
        "lineItem" => from_obj(line_obj(o, l.line_id)),
        "productTitle" => leaf(line.title.as_str()),
        "variantTitle" => opt_leaf(line.variant_title.as_deref()),
        "sku" => opt_leaf(line.sku.as_deref()),
        "vendor" => opt_leaf(line.vendor.as_deref()),
        "requiresShipping" => leaf(line.requires_shipping),
        "inventoryItemId" => opt_leaf(
            line.variant_id
                .map(|v| format!("gid://shopify/InventoryItem/{}", inventory_item_id(v))),
        ),
        "variant" => from_obj(variant_obj(line, cx)),
        _ => return None,
    })
}

fn fulfillment<'a>(
    o: &'a Order,
    f: &'a Fulfillment,
    field: &str,
    args: &JsonMap,
    cx: &Context<'a>,
) -> Option<Field<'a>> {
    use super::lifecycle::ShipmentStatus;
    Some(match field {
        "id" => leaf(f.gid()),
        "legacyResourceId" => leaf(f.id.to_string()),
        "name" => leaf(f.name.as_str()),
        "status" => leaf(f.status.as_str()),
        "displayStatus" => leaf(f.display_status()),
        "createdAt" => time(f.created_at),
        "updatedAt" => time(f.updated_at),
        "inTransitAt" => opt_time(f.first_event_at(ShipmentStatus::InTransit)),
        "deliveredAt" => opt_time(f.first_event_at(ShipmentStatus::Delivered)),
        "estimatedDeliveryAt" => {
            opt_time(f.events.iter().rev().find_map(|e| e.estimated_delivery_at))
        }
        "totalQuantity" => leaf(f.total_quantity()),
        "requiresShipping" => leaf(
            f.lines
                .iter()
                .any(|l| o.line(l.line_id).is_some_and(|line| line.requires_shipping)),
        ),
        "order" => co(Co::Order(o)),
        "trackingInfo" => list(
            f.tracking
                .iter()
                .take(take_first(args))
                .map(|t| Obj::Life(Lo::Tracking(t))),
        ),
        "events" => {
            let mut events: Vec<&FulfillmentEvent> = f.events.iter().collect();
            if args.get("sortKey").and_then(|v| v.as_str()) == Some("ID") {
                events.sort_by_key(|e| e.id);
            } else {
                events.sort_by_key(|e| (e.happened_at, e.id));
            }
            paged(
                "FulfillmentEventConnection",
                "FulfillmentEventEdge",
                events
                    .into_iter()
                    .map(|e| (e.id, Obj::Life(Lo::Event(e))))
                    .collect(),
                args,
                cx,
            )
        }
        "fulfillmentLineItems" => paged(
            "FulfillmentLineItemConnection",
            "FulfillmentLineItemEdge",
            f.lines
                .iter()
                .map(|l| (l.id, Obj::Life(Lo::FulfillmentLine(o, l))))
                .collect(),
            args,
            cx,
        ),
        _ => return None,
    })
}

fn refund<'a>(
    o: &'a Order,
    r: &'a Refund,
    field: &str,
    args: &JsonMap,
    cx: &Context<'a>,
) -> Option<Field<'a>> {
    Some(match field {
        "id" => leaf(r.gid()),
        "legacyResourceId" => leaf(r.id.to_string()),
        "note" => opt_leaf(r.note.as_deref()),
        "createdAt" => time(r.created_at),
        "updatedAt" => time(r.created_at),
        "processedAt" => time(r.processed_at),
        "order" => co(Co::Order(o)),
        "totalRefundedSet" => bag(r.total(), o),
        "refundLineItems" => paged(
            "RefundLineItemConnection",
            "RefundLineItemEdge",
            r.lines
                .iter()
                .map(|l| (l.id, Obj::Life(Lo::RefundLine(o, l))))
                .collect(),
            args,
            cx,
        ),
        "transactions" => paged(
            "OrderTransactionConnection",
            "OrderTransactionEdge",
            r.transactions
                .iter()
                .map(|t| (t.id, Obj::Commerce(Co::Transaction(o, t))))
                .collect(),
            args,
            cx,
        ),
        _ => return None,
    })
}

fn payload<'a>(outcome: &'a LifeOutcome, field: &str) -> Option<Field<'a>> {
    let order = outcome.order.as_ref();
    let fulfillment = || {
        let o = order?;
        let f = o
            .fulfillments
            .iter()
            .find(|f| Some(f.id) == outcome.target)?;
        Some(Lo::Fulfillment(o, f))
    };
    Some(match (outcome.kind, field) {
        (LifeKind::OrderCancel, "orderCancelUserErrors") => list(
            outcome
                .user_errors
                .iter()
                .map(|e| Obj::Life(Lo::CancelUserError(e))),
        ),
        (_, "userErrors") => list(
            outcome
                .user_errors
                .iter()
                .map(|e| Obj::Life(Lo::UserError(e))),
        ),
        (LifeKind::OrderCancel, "job") => opt_obj(outcome.target.map(|id| Lo::Job(id, false))),
        (
            LifeKind::FulfillmentCreate | LifeKind::TrackingUpdate | LifeKind::FulfillmentCancel,
            "fulfillment",
        ) => opt_obj(fulfillment()),
        (LifeKind::EventCreate, "fulfillmentEvent") => opt_obj(order.and_then(|o| {
            o.fulfillments
                .iter()
                .flat_map(|f| &f.events)
                .find(|e| Some(e.id) == outcome.target)
                .map(Lo::Event)
        })),
        (LifeKind::RefundCreate, "order") => Ok(order.map_or(Resolved::Null, |o| {
            Resolved::Object(Obj::Commerce(Co::Order(o)))
        })),
        (LifeKind::RefundCreate, "refund") => opt_obj(order.and_then(|o| {
            o.refunds
                .iter()
                .find(|r| Some(r.id) == outcome.target)
                .map(|r| Lo::Refund(o, r))
        })),
        _ => return None,
    })
}

fn hook_payload<'a>(outcome: &'a HookOutcome, field: &str) -> Option<Field<'a>> {
    let errors = |e: &'a [UserErr]| list(e.iter().map(|e| Obj::Life(Lo::UserError(e))));
    Some(match (outcome, field) {
        (
            HookOutcome::Created(_, e) | HookOutcome::Updated(_, e) | HookOutcome::Deleted(_, e),
            "userErrors",
        ) => errors(e),
        (HookOutcome::Created(s, _) | HookOutcome::Updated(s, _), "webhookSubscription") => {
            opt_obj(s.as_ref().map(Lo::Subscription))
        }
        (HookOutcome::Deleted(id, _), "deletedWebhookSubscriptionId") => opt_leaf(id.as_deref()),
        _ => return None,
    })
}
