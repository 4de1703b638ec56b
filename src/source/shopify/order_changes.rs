//! ACP orders that changed in Shopify since a time
//! ([`ShopifyClient::acp_orders_changed`]), for the reconciliation job that
//! catches lost webhooks.
//!
//! Each order is returned in the shape of an `orders/updated` webhook
//! payload (REST field names: `fulfillments[]` with `shipment_status` and
//! tracking, `refunds[]` with transactions and `refund_line_items`,
//! `cancelled_at`), so one code path (`orders::inbound::apply`) applies
//! both what webhooks deliver and what polling finds.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::client::ShopifyClient;
use super::error::{MapError, ShopifyError};
use super::gql::{OrdersChanged, orders_changed as oc};
use super::orders_map::ACP_ORDER_TAG;

/// Orders per page: with the nested lists of `orders_changed.graphql` a
/// page requests about 530 points, well under the 1,000-point cap.
const PAGE_ORDERS: i64 = 3;

/// One changed order as an `orders/updated` payload.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedOrder {
    /// The numeric order id (`legacyResourceId`).
    pub id: String,
    pub updated_at: DateTime<Utc>,
    /// REST-shaped order: `id`, `updated_at`, `cancelled_at`,
    /// `cancel_reason`, `fulfillments`, `refunds`.
    pub payload: Value,
}

/// A page of changed orders, oldest change first.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedOrders {
    pub orders: Vec<ChangedOrder>,
    /// Cursor of the next page, when there is one.
    pub next: Option<String>,
}

/// The search for ACP orders updated at or after `since`.
fn changed_search(since: DateTime<Utc>) -> String {
    format!(
        "tag:'{ACP_ORDER_TAG}' updated_at:>='{}'",
        since.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

fn time(text: &str) -> Result<DateTime<Utc>, ShopifyError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ShopifyError::Map {
            what: "order updatedAt".to_owned(),
            source: MapError::Timestamp(text.to_owned()),
        })
}

fn fulfillment_status(status: &oc::FulfillmentStatus) -> &'static str {
    match status {
        oc::FulfillmentStatus::SUCCESS => "success",
        oc::FulfillmentStatus::CANCELLED => "cancelled",
        oc::FulfillmentStatus::ERROR => "error",
        oc::FulfillmentStatus::FAILURE => "failure",
        oc::FulfillmentStatus::OPEN => "open",
        oc::FulfillmentStatus::PENDING | oc::FulfillmentStatus::Other(_) => "pending",
    }
}

/// The REST `shipment_status` a fulfillment's display status stands for.
fn shipment_status(status: &oc::FulfillmentDisplayStatus) -> Option<&'static str> {
    use oc::FulfillmentDisplayStatus as D;
    Some(match status {
        D::ATTEMPTED_DELIVERY => "attempted_delivery",
        D::CONFIRMED => "confirmed",
        D::DELIVERED | D::PICKED_UP => "delivered",
        D::FAILURE | D::NOT_DELIVERED => "failure",
        D::IN_TRANSIT | D::CARRIER_PICKED_UP | D::DELAYED => "in_transit",
        D::LABEL_PRINTED => "label_printed",
        D::LABEL_PURCHASED => "label_purchased",
        D::OUT_FOR_DELIVERY => "out_for_delivery",
        D::READY_FOR_PICKUP => "ready_for_pickup",
        D::CANCELED
        | D::FULFILLED
        | D::LABEL_VOIDED
        | D::MARKED_AS_FULFILLED
        | D::SUBMITTED
        | D::Other(_) => return None,
    })
}

fn transaction_kind(kind: &oc::OrderTransactionKind) -> &'static str {
    use oc::OrderTransactionKind as K;
    match kind {
        K::SALE => "sale",
        K::CAPTURE => "capture",
        K::AUTHORIZATION => "authorization",
        K::VOID => "void",
        K::REFUND => "refund",
        K::CHANGE => "change",
        K::EMV_AUTHORIZATION => "emv_authorization",
        K::SUGGESTED_REFUND => "suggested_refund",
        K::Other(_) => "other",
    }
}

fn transaction_status(status: &oc::OrderTransactionStatus) -> &'static str {
    use oc::OrderTransactionStatus as S;
    match status {
        S::SUCCESS => "success",
        S::FAILURE => "failure",
        S::ERROR => "error",
        S::PENDING | S::AWAITING_RESPONSE | S::UNKNOWN | S::Other(_) => "pending",
    }
}

fn cancel_reason(reason: &oc::OrderCancelReason) -> String {
    use oc::OrderCancelReason as R;
    match reason {
        R::CUSTOMER => "customer",
        R::DECLINED => "declined",
        R::FRAUD => "fraud",
        R::INVENTORY => "inventory",
        R::STAFF => "staff",
        R::OTHER => "other",
        R::Other(other) => return other.to_ascii_lowercase(),
    }
    .to_owned()
}

fn variant_id(
    variant: Option<
        &oc::OrdersChangedOrdersNodesFulfillmentsFulfillmentLineItemsNodesLineItemVariant,
    >,
) -> Value {
    variant.map_or(Value::Null, |v| Value::String(v.legacy_resource_id.clone()))
}

fn refund_variant_id(
    variant: Option<&oc::OrdersChangedOrdersNodesRefundsRefundLineItemsNodesLineItemVariant>,
) -> Value {
    variant.map_or(Value::Null, |v| Value::String(v.legacy_resource_id.clone()))
}

fn fulfillment(f: &oc::OrdersChangedOrdersNodesFulfillments) -> Value {
    let tracking = f.tracking_info.first();
    json!({
        "id": f.legacy_resource_id,
        "status": fulfillment_status(&f.status),
        "shipment_status": f.display_status.as_ref().and_then(shipment_status),
        "created_at": f.created_at,
        "updated_at": f.updated_at,
        "tracking_company": tracking.and_then(|t| t.company.clone()),
        "tracking_number": tracking.and_then(|t| t.number.clone()),
        "tracking_url": tracking.and_then(|t| t.url.clone()),
        "line_items": f.fulfillment_line_items.nodes.iter().map(|n| json!({
            "variant_id": variant_id(n.line_item.variant.as_ref()),
            "quantity": n.quantity.unwrap_or(0),
        })).collect::<Vec<_>>(),
    })
}

fn refund(r: &oc::OrdersChangedOrdersNodesRefunds) -> Value {
    json!({
        "id": r.legacy_resource_id,
        "created_at": r.created_at,
        "processed_at": r.processed_at,
        "note": r.note,
        "transactions": r.transactions.nodes.iter().map(|t| json!({
            "kind": transaction_kind(&t.kind),
            "status": transaction_status(&t.status),
            "amount": t.amount_set.shop_money.amount,
        })).collect::<Vec<_>>(),
        "refund_line_items": r.refund_line_items.nodes.iter().map(|n| json!({
            "quantity": n.quantity,
            "line_item": { "variant_id": refund_variant_id(n.line_item.variant.as_ref()) },
        })).collect::<Vec<_>>(),
    })
}

fn changed_order(node: &oc::OrdersChangedOrdersNodes) -> Result<ChangedOrder, ShopifyError> {
    let updated_at = time(&node.updated_at)?;
    let payload = json!({
        "id": node.legacy_resource_id,
        "updated_at": node.updated_at,
        "cancelled_at": node.cancelled_at,
        "cancel_reason": node.cancel_reason.as_ref().map(cancel_reason),
        "fulfillments": node.fulfillments.iter().map(fulfillment).collect::<Vec<_>>(),
        "refunds": node.refunds.iter().map(refund).collect::<Vec<_>>(),
    });
    Ok(ChangedOrder {
        id: node.legacy_resource_id.clone(),
        updated_at,
        payload,
    })
}

impl ShopifyClient {
    /// One page of the orders placed through ACP checkout (tag `acp`)
    /// updated at or after `since`, oldest change first. Pass the previous
    /// page's `next` as `after` to go on.
    ///
    /// # Errors
    /// Request failures, or an order whose timestamps do not parse.
    #[tracing::instrument(skip_all, err)]
    pub async fn acp_orders_changed(
        &self,
        since: DateTime<Utc>,
        after: Option<String>,
    ) -> Result<ChangedOrders, ShopifyError> {
        let executed = self
            .execute::<OrdersChanged>(oc::Variables {
                query: changed_search(since),
                first: PAGE_ORDERS,
                after,
            })
            .await?;
        let page = executed.data.orders;
        let orders = page
            .nodes
            .iter()
            .map(changed_order)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if page.page_info.has_next_page {
            page.page_info.end_cursor
        } else {
            None
        };
        Ok(ChangedOrders { orders, next })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_search_asks_for_acp_orders_changed_since_the_time() {
        let since = Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 5).unwrap();
        assert_eq!(
            changed_search(since),
            "tag:'acp' updated_at:>='2026-11-29T08:00:05Z'"
        );
    }

    #[test]
    fn display_statuses_become_the_rest_shipment_statuses_the_webhooks_carry() {
        use oc::FulfillmentDisplayStatus as D;
        assert_eq!(shipment_status(&D::IN_TRANSIT), Some("in_transit"));
        assert_eq!(shipment_status(&D::DELIVERED), Some("delivered"));
        assert_eq!(
            shipment_status(&D::OUT_FOR_DELIVERY),
            Some("out_for_delivery")
        );
        assert_eq!(shipment_status(&D::FAILURE), Some("failure"));
        assert_eq!(shipment_status(&D::FULFILLED), None);
    }
}
