//! What a merchant does in the Shopify admin, as methods tests call: ship
//! (all or some units, with carrier tracking), move a shipment along
//! (in transit, delivered, …), refund (units and/or money, with or without
//! restocking), cancel an order, uninstall the app. They run the same code
//! as the GraphQL mutations, so they enforce the same rules and announce
//! the same webhooks; the webhook controls (subscribe, wait for
//! deliveries, counters, log) are here too.

use crate::domain::Money;

use super::catalog::Catalog;
use super::data::parse_gid;
use super::fulfillment::{self, Done, EventRequest, FulfillGroup, FulfillRequest};
use super::inputs::UserErr;
use super::lifecycle::{CancelReason, Fulfillment, RestockType, ShipmentStatus, TrackingInfo};
use super::orders::OrderBook;
use super::payloads::shop_json;
use super::refund::{self, CancelRequest, RefundMoney, RefundRequest};
use super::subscriptions::{HookOutcome, SubscriptionInput, WebhookSubscription};
use super::webhooks::{DeliveryRecord, Emitted, WebhookCounters, WebhookTopic};
use super::{EmulatorError, ShopifyEmulator, read, write};

/// One line of a merchant refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLineRequest {
    /// The order line's GID (`gid://shopify/LineItem/…`).
    pub line_item_id: String,
    pub quantity: i64,
    pub restock_type: RestockType,
}

/// A merchant refund: lines (possibly none) and money (possibly none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefundOrder {
    pub lines: Vec<RefundLineRequest>,
    /// Money sent back to the original payment method.
    pub amount: Option<Money>,
    /// Part of `amount` that refunds shipping.
    pub shipping: Option<Money>,
    pub note: Option<String>,
}

/// A merchant cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOrder {
    pub reason: CancelReason,
    /// Refund what was paid and not refunded yet.
    pub refund: bool,
    /// Put unshipped units back into stock.
    pub restock: bool,
    pub staff_note: Option<String>,
}

fn refused(operation: &'static str, errors: Vec<UserErr>) -> EmulatorError {
    EmulatorError::Refused {
        operation,
        messages: errors
            .into_iter()
            .map(|e| {
                if e.field.is_empty() {
                    e.message
                } else {
                    format!("{}: {}", e.field.join("."), e.message)
                }
            })
            .collect(),
    }
}

impl ShopifyEmulator {
    /// Runs one lifecycle change under the catalog and commerce locks and
    /// announces its webhooks; returns (order id, target id).
    fn run_change(
        &self,
        operation: &'static str,
        change: impl FnOnce(&mut Catalog, &mut OrderBook) -> Result<Done, Vec<UserErr>>,
    ) -> Result<(u64, u64), EmulatorError> {
        let mut catalog = write(&self.inner.catalog);
        let mut commerce = write(&self.inner.commerce);
        let done = change(&mut catalog, &mut commerce.orders).map_err(|e| refused(operation, e))?;
        self.inner
            .webhooks
            .publish(commerce.hooks.all(), done.emitted);
        Ok((done.order_id, done.target))
    }

    fn order_id(&self, order_gid: &str) -> Result<u64, EmulatorError> {
        let unknown = || EmulatorError::UnknownOrder(order_gid.to_owned());
        let id = parse_gid(order_gid, "Order").ok_or_else(unknown)?;
        read(&self.inner.commerce)
            .orders
            .get(id)
            .map(|o| o.id)
            .ok_or_else(unknown)
    }

    fn fulfillment_id(&self, gid: &str) -> Result<u64, EmulatorError> {
        parse_gid(gid, "Fulfillment")
            .ok_or_else(|| EmulatorError::UnknownFulfillment(gid.to_owned()))
    }

    /// Ships units of an order: `lines` are (line item GID, quantity) pairs,
    /// or empty for every unit still to ship. Returns the fulfillment's GID.
    ///
    /// # Errors
    /// Unknown order; [`EmulatorError::Refused`] with Shopify's messages
    /// (more units than remain, a cancelled order, …).
    pub fn fulfill(
        &self,
        order_gid: &str,
        lines: &[(&str, i64)],
        tracking: Option<TrackingInfo>,
    ) -> Result<String, EmulatorError> {
        let order_id = self.order_id(order_gid)?;
        let (_, id) = self.run_change("fulfillmentCreate", |catalog, book| {
            let order = book
                .get(order_id)
                .ok_or_else(|| vec![UserErr::at(&["orderId"], "Order does not exist")])?;
            let open: Vec<_> = order
                .fulfillment_orders
                .iter()
                .filter(|fo| fo.status.is_fulfillable())
                .collect();
            let groups = if lines.is_empty() {
                open.iter()
                    .map(|fo| FulfillGroup {
                        fulfillment_order_id: Some(fo.id),
                        lines: None,
                    })
                    .collect()
            } else {
                let mut groups: Vec<FulfillGroup> = Vec::new();
                for (line_gid, quantity) in lines {
                    let line_id = parse_gid(line_gid, "LineItem");
                    let mut left = *quantity;
                    for fo in &open {
                        for l in fo.lines.iter().filter(|l| Some(l.line_id) == line_id) {
                            let take = if left > l.remaining {
                                l.remaining
                            } else {
                                left
                            };
                            if take <= 0 {
                                continue;
                            }
                            left -= take;
                            let group = match groups
                                .iter_mut()
                                .find(|g| g.fulfillment_order_id == Some(fo.id))
                            {
                                Some(g) => g,
                                None => {
                                    groups.push(FulfillGroup {
                                        fulfillment_order_id: Some(fo.id),
                                        lines: Some(Vec::new()),
                                    });
                                    let last = groups.len() - 1;
                                    &mut groups[last]
                                }
                            };
                            group
                                .lines
                                .get_or_insert_with(Vec::new)
                                .push((Some(l.id), take));
                        }
                    }
                    if left != 0 || line_id.is_none() {
                        return Err(vec![UserErr::at(
                            &["fulfillment"],
                            "Invalid fulfillment order line item quantity requested.",
                        )]);
                    }
                }
                groups
            };
            let request = FulfillRequest {
                groups,
                tracking: tracking.into_iter().collect(),
                notify_customer: false,
            };
            fulfillment::create(catalog, book, &request)
        })?;
        Ok(format!("gid://shopify/Fulfillment/{id}"))
    }

    /// Records a carrier status on a fulfillment (its `shipment_status`).
    ///
    /// # Errors
    /// Unknown or cancelled fulfillment.
    pub fn set_shipment_status(
        &self,
        fulfillment_gid: &str,
        status: ShipmentStatus,
    ) -> Result<(), EmulatorError> {
        let id = self.fulfillment_id(fulfillment_gid)?;
        self.run_change("fulfillmentEventCreate", |catalog, book| {
            fulfillment::add_event(catalog, book, &EventRequest::status(id, status))
        })
        .map(drop)
    }

    /// Replaces a fulfillment's tracking entries.
    ///
    /// # Errors
    /// Unknown or cancelled fulfillment.
    pub fn update_tracking(
        &self,
        fulfillment_gid: &str,
        tracking: Vec<TrackingInfo>,
    ) -> Result<(), EmulatorError> {
        let id = self.fulfillment_id(fulfillment_gid)?;
        self.run_change("fulfillmentTrackingInfoUpdate", |catalog, book| {
            fulfillment::update_tracking(catalog, book, Some(id), tracking)
        })
        .map(drop)
    }

    /// Cancels a fulfillment; its units are to ship again.
    ///
    /// # Errors
    /// Unknown or already cancelled fulfillment.
    pub fn cancel_fulfillment(&self, fulfillment_gid: &str) -> Result<(), EmulatorError> {
        let id = self.fulfillment_id(fulfillment_gid)?;
        self.run_change("fulfillmentCancel", |catalog, book| {
            fulfillment::cancel(catalog, book, Some(id))
        })
        .map(drop)
    }

    /// Refunds units and/or money; returns the refund's GID. Money goes back
    /// to the order's first payment.
    ///
    /// # Errors
    /// Unknown order; [`EmulatorError::Refused`] with Shopify's messages
    /// (more units than refundable, more money than received, a currency
    /// other than the shop's, …).
    pub fn refund(&self, order_gid: &str, request: RefundOrder) -> Result<String, EmulatorError> {
        let order_id = self.order_id(order_gid)?;
        let shop_currency = read(&self.inner.catalog).shop.currency_code.clone();
        for m in request.amount.iter().chain(&request.shipping) {
            if m.currency.as_str() != shop_currency {
                return Err(refused(
                    "refundCreate",
                    vec![UserErr::at(
                        &["currency"],
                        format!(
                            "Currency {} is not the shop currency {shop_currency}",
                            m.currency
                        ),
                    )],
                ));
            }
        }
        let (_, id) = self.run_change("refundCreate", |catalog, book| {
            let order = book
                .get(order_id)
                .ok_or_else(|| vec![UserErr::at(&["orderId"], "Order does not exist")])?;
            let payment = order
                .transactions
                .iter()
                .find(|t| t.status == "SUCCESS" && matches!(t.kind.as_str(), "SALE" | "CAPTURE"));
            let transactions = request
                .amount
                .map(|m| RefundMoney {
                    amount: m.major_string(),
                    kind: "REFUND".to_owned(),
                    gateway: payment
                        .and_then(|p| p.gateway.clone())
                        .unwrap_or_else(|| "manual".to_owned()),
                    parent_id: payment.map(|p| Some(p.id)),
                })
                .into_iter()
                .collect();
            let refund_request = RefundRequest {
                order_id: Some(order_id),
                note: request.note.clone(),
                lines: request
                    .lines
                    .iter()
                    .map(|l| refund::RefundLineRequest {
                        line_id: parse_gid(&l.line_item_id, "LineItem"),
                        quantity: l.quantity,
                        restock_type: Ok(l.restock_type),
                    })
                    .collect(),
                transactions,
                shipping: request.shipping.map(|m| super::data::Price(m.amount)),
                full_shipping: false,
                processed_at: None,
                allow_over_refunding: false,
            };
            refund::create(catalog, book, &refund_request)
        })?;
        Ok(format!("gid://shopify/Refund/{id}"))
    }

    /// Cancels an order (see [`CancelOrder`]).
    ///
    /// # Errors
    /// Unknown order; [`EmulatorError::Refused`] when it is already
    /// cancelled or the staff note is too long.
    pub fn cancel_order(&self, order_gid: &str, request: CancelOrder) -> Result<(), EmulatorError> {
        let order_id = self.order_id(order_gid)?;
        self.run_change("orderCancel", |catalog, book| {
            refund::cancel(
                catalog,
                book,
                &CancelRequest {
                    order_id: Some(order_id),
                    reason: request.reason,
                    refund: request.refund,
                    restock: request.restock,
                    staff_note: request.staff_note.clone(),
                },
            )
        })
        .map(drop)
    }

    /// GID of the shop's only location (where all stock sits and from which
    /// every fulfillment ships).
    pub fn location_id(&self) -> String {
        format!("gid://shopify/Location/{}", super::payloads::LOCATION_ID)
    }

    /// One fulfillment by GID.
    pub fn fulfillment(&self, gid: &str) -> Option<Fulfillment> {
        let id = parse_gid(gid, "Fulfillment")?;
        read(&self.inner.commerce)
            .orders
            .all()
            .iter()
            .flat_map(|o| &o.fulfillments)
            .find(|f| f.id == id)
            .cloned()
    }

    /// The merchant uninstalls the app: `app/uninstalled` goes out, then the
    /// app's subscriptions are deleted and its access tokens stop working
    /// (until `faults().clear()`).
    pub fn uninstall_app(&self) {
        let shop = read(&self.inner.catalog).shop.clone();
        let mut commerce = write(&self.inner.commerce);
        self.inner.webhooks.publish(
            commerce.hooks.all(),
            vec![Emitted::new(WebhookTopic::AppUninstalled, shop_json(&shop))],
        );
        commerce.hooks.clear();
        self.inner.faults.revoke_all();
    }

    /// Subscribes `uri` to `topic` as `webhookSubscriptionCreate` does;
    /// returns the subscription's GID.
    ///
    /// # Errors
    /// [`EmulatorError::Refused`] with Shopify's address messages.
    pub fn subscribe_webhook(
        &self,
        topic: WebhookTopic,
        uri: &str,
    ) -> Result<String, EmulatorError> {
        let settings = self.inner.webhooks.settings();
        let outcome = write(&self.inner.commerce).hooks.create(
            topic,
            &SubscriptionInput::address(uri),
            &settings.api_version,
            settings.allow_loopback_http,
        );
        match outcome {
            HookOutcome::Created(Some(sub), _) => Ok(sub.gid()),
            HookOutcome::Created(None, errors)
            | HookOutcome::Updated(_, errors)
            | HookOutcome::Deleted(_, errors) => Err(refused("webhookSubscriptionCreate", errors)),
        }
    }

    /// The app's webhook subscriptions, oldest first.
    pub fn webhook_subscriptions(&self) -> Vec<WebhookSubscription> {
        read(&self.inner.commerce).hooks.all().to_vec()
    }

    /// Waits until every webhook delivery queued so far reached a final
    /// state: delivered, given up after its retries, or dropped by a fault.
    pub async fn wait_for_webhooks(&self) {
        self.inner.webhooks.wait_idle().await;
    }

    /// Webhook delivery counts per topic.
    pub fn webhook_counters(&self) -> WebhookCounters {
        self.inner.webhooks.counters()
    }

    /// Every delivery attempt so far (and dropped deliveries), oldest first.
    pub fn webhook_deliveries(&self) -> Vec<DeliveryRecord> {
        self.inner.webhooks.log()
    }
}
