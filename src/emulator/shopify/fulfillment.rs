//! Shipping orders: `fulfillmentCreate` (units of fulfillment orders become
//! a fulfillment with tracking), `fulfillmentTrackingInfoUpdate`,
//! `fulfillmentEventCreate` (carrier statuses: in transit, delivered, …) and
//! `fulfillmentCancel`, shared by the GraphQL mutations and the merchant
//! helpers on `ShopifyEmulator`.
//!
//! Each operation validates first and changes nothing on a user error; on
//! success it stamps the order's `updatedAt` and returns the webhook events
//! the change causes (`fulfillments/create|update`, `orders/updated`,
//! `orders/fulfilled` or `orders/partially_fulfilled`).
//!
//! User error messages follow Shopify's where they are known ("Fulfillment
//! order does not exist.", "Invalid fulfillment order line item quantity
//! requested.", "Quantity must be greater than 0").

use serde::Deserialize;

use super::catalog::Catalog;
use super::data::{parse_datetime, parse_gid};
use super::inputs::UserErr;
use super::lifecycle::{
    Fulfillment, FulfillmentEvent, FulfillmentLine, FulfillmentStatus, ShipmentStatus, TrackingInfo,
};
use super::orders::{Order, OrderBook};
use super::payloads::{fulfillment_json, order_json};
use super::webhooks::{Emitted, WebhookTopic};

/// `FulfillmentTrackingInput`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TrackingInput {
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    company: Option<String>,
    #[serde(default)]
    numbers: Option<Vec<String>>,
    #[serde(default)]
    urls: Option<Vec<String>>,
}

impl TrackingInput {
    /// The tracking entries it describes: one per number (URLs paired by
    /// position), or one entry from `number`/`url`/`company`.
    pub(crate) fn entries(&self) -> Vec<TrackingInfo> {
        let numbers = self.numbers.clone().unwrap_or_default();
        let urls = self.urls.clone().unwrap_or_default();
        if numbers.is_empty() {
            if self.number.is_none() && self.url.is_none() && self.company.is_none() {
                return Vec::new();
            }
            return vec![TrackingInfo {
                company: self.company.clone(),
                number: self.number.clone(),
                url: self.url.clone().or_else(|| urls.first().cloned()),
            }];
        }
        numbers
            .into_iter()
            .enumerate()
            .map(|(i, number)| TrackingInfo {
                company: self.company.clone(),
                number: Some(number),
                url: urls
                    .get(i)
                    .cloned()
                    .or_else(|| (i == 0).then(|| self.url.clone()).flatten()),
            })
            .collect()
    }
}

/// `FulfillmentOrderLineItemInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineInput {
    id: String,
    quantity: i64,
}

/// `FulfillmentOrderLineItemsInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupInput {
    fulfillment_order_id: String,
    #[serde(default)]
    fulfillment_order_line_items: Option<Vec<LineInput>>,
}

/// `FulfillmentInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FulfillmentInput {
    #[serde(default)]
    tracking_info: Option<TrackingInput>,
    #[serde(default)]
    notify_customer: Option<bool>,
    line_items_by_fulfillment_order: Vec<GroupInput>,
}

/// `FulfillmentEventInput`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventInput {
    fulfillment_id: String,
    status: String,
    #[serde(default)]
    happened_at: Option<String>,
    #[serde(default)]
    estimated_delivery_at: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    province: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    zip: Option<String>,
    #[serde(default)]
    address1: Option<String>,
}

/// Units to take from one fulfillment order (`None`: all remaining).
#[derive(Debug, Clone)]
pub(crate) struct FulfillGroup {
    pub fulfillment_order_id: Option<u64>,
    pub lines: Option<Vec<(Option<u64>, i64)>>,
}

/// A validated-shape request to ship units.
#[derive(Debug, Clone, Default)]
pub(crate) struct FulfillRequest {
    pub groups: Vec<FulfillGroup>,
    pub tracking: Vec<TrackingInfo>,
    pub notify_customer: bool,
}

impl From<&FulfillmentInput> for FulfillRequest {
    fn from(input: &FulfillmentInput) -> Self {
        FulfillRequest {
            groups: input
                .line_items_by_fulfillment_order
                .iter()
                .map(|g| FulfillGroup {
                    fulfillment_order_id: parse_gid(&g.fulfillment_order_id, "FulfillmentOrder"),
                    lines: g.fulfillment_order_line_items.as_ref().map(|lines| {
                        lines
                            .iter()
                            .map(|l| (parse_gid(&l.id, "FulfillmentOrderLineItem"), l.quantity))
                            .collect()
                    }),
                })
                .collect(),
            tracking: input
                .tracking_info
                .as_ref()
                .map(TrackingInput::entries)
                .unwrap_or_default(),
            notify_customer: input.notify_customer.unwrap_or(false),
        }
    }
}

/// A carrier event to record.
#[derive(Debug, Clone)]
pub(crate) struct EventRequest {
    pub fulfillment_id: Option<u64>,
    pub status: ShipmentStatus,
    pub happened_at: Option<i64>,
    pub estimated_delivery_at: Option<i64>,
    pub message: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub country: Option<String>,
    pub zip: Option<String>,
    pub address1: Option<String>,
}

impl EventRequest {
    /// Just a status, now.
    pub(crate) fn status(fulfillment_id: u64, status: ShipmentStatus) -> Self {
        EventRequest {
            fulfillment_id: Some(fulfillment_id),
            status,
            happened_at: None,
            estimated_delivery_at: None,
            message: None,
            city: None,
            province: None,
            country: None,
            zip: None,
            address1: None,
        }
    }

    /// From `FulfillmentEventInput`; the error is the user error to report.
    pub(crate) fn from_input(input: &EventInput) -> Result<Self, UserErr> {
        let at = |field: &str| {
            let label = match field {
                "happenedAt" => "Happened at",
                "estimatedDeliveryAt" => "Estimated delivery at",
                _ => "Status",
            };
            UserErr::at(&["fulfillmentEvent", field], format!("{label} is invalid"))
        };
        let status = ShipmentStatus::parse(&input.status).ok_or_else(|| at("status"))?;
        let time = |text: &Option<String>, field: &str| -> Result<Option<i64>, UserErr> {
            match text {
                None => Ok(None),
                Some(t) => parse_datetime(t).map(Some).ok_or_else(|| at(field)),
            }
        };
        Ok(EventRequest {
            fulfillment_id: parse_gid(&input.fulfillment_id, "Fulfillment"),
            status,
            happened_at: time(&input.happened_at, "happenedAt")?,
            estimated_delivery_at: time(&input.estimated_delivery_at, "estimatedDeliveryAt")?,
            message: input.message.clone(),
            city: input.city.clone(),
            province: input.province.clone(),
            country: input.country.clone(),
            zip: input.zip.clone(),
            address1: input.address1.clone(),
        })
    }
}

/// A successful change: the order it touched, the object it made or
/// changed (fulfillment, event, refund, or the job of a cancellation), and
/// its webhook events.
#[derive(Debug)]
pub(crate) struct Done {
    pub order_id: u64,
    pub target: u64,
    pub emitted: Vec<Emitted>,
}

fn fail(field: &[&str], message: &str) -> Vec<UserErr> {
    vec![UserErr::at(field, message)]
}

/// `orders/updated` plus, after shipping, `orders/fulfilled` or
/// `orders/partially_fulfilled`.
pub(crate) fn order_events(order: &Order, catalog: &Catalog, shipped: bool) -> Vec<Emitted> {
    let body = order_json(order, catalog);
    let mut out = vec![Emitted::new(WebhookTopic::OrdersUpdated, body.clone())];
    if shipped {
        match order.display_fulfillment_status() {
            "FULFILLED" => out.push(Emitted::new(WebhookTopic::OrdersFulfilled, body)),
            "PARTIALLY_FULFILLED" => {
                out.push(Emitted::new(WebhookTopic::OrdersPartiallyFulfilled, body));
            }
            _ => {}
        }
    }
    out
}

/// `fulfillmentCreate`.
pub(crate) fn create(
    catalog: &Catalog,
    book: &mut OrderBook,
    request: &FulfillRequest,
) -> Result<Done, Vec<UserErr>> {
    let mut errors = Vec::new();
    for (i, group) in request.groups.iter().enumerate() {
        for (j, (_, quantity)) in group.lines.iter().flatten().enumerate() {
            if *quantity <= 0 {
                let (i, j) = (i.to_string(), j.to_string());
                errors.push(UserErr::at(
                    &[
                        "fulfillment",
                        "lineItemsByFulfillmentOrder",
                        i.as_str(),
                        "fulfillmentOrderLineItems",
                        j.as_str(),
                        "quantity",
                    ],
                    "Quantity must be greater than 0",
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if request.groups.is_empty() {
        return Err(fail(
            &["fulfillment", "lineItemsByFulfillmentOrder"],
            "Line items by fulfillment order can't be blank",
        ));
    }
    // Every fulfillment order must exist and belong to one order.
    let mut order_id = None;
    for group in &request.groups {
        let owner = group.fulfillment_order_id.and_then(|id| book.owner_of(id));
        let Some(owner) = owner else {
            return Err(fail(&["fulfillment"], "Fulfillment order does not exist."));
        };
        if order_id.is_some_and(|o| o != owner) {
            return Err(fail(
                &["fulfillment"],
                "All fulfillment orders must belong to the same order.",
            ));
        }
        order_id = Some(owner);
    }
    let Some(order_id) = order_id else {
        return Err(fail(&["fulfillment"], "Fulfillment order does not exist."));
    };
    let Some(order) = book.get(order_id) else {
        return Err(fail(&["fulfillment"], "Fulfillment order does not exist."));
    };
    // (fulfillment order line id, order line id, quantity) to take.
    let mut takes: Vec<(u64, u64, i64)> = Vec::new();
    for group in &request.groups {
        let Some(fo) = order
            .fulfillment_orders
            .iter()
            .find(|fo| Some(fo.id) == group.fulfillment_order_id)
        else {
            return Err(fail(&["fulfillment"], "Fulfillment order does not exist."));
        };
        if !fo.status.is_fulfillable() {
            return Err(fail(
                &["fulfillment"],
                &format!(
                    "Fulfillment order {} has an unfulfillable status= {}.",
                    fo.id,
                    fo.status.as_str().to_ascii_lowercase()
                ),
            ));
        }
        match &group.lines {
            None => takes.extend(
                fo.lines
                    .iter()
                    .filter(|l| l.remaining > 0)
                    .map(|l| (l.id, l.line_id, l.remaining)),
            ),
            Some(lines) => {
                for (id, quantity) in lines {
                    let line = fo.lines.iter().find(|l| Some(l.id) == *id);
                    let Some(line) = line else {
                        return Err(fail(
                            &["fulfillment"],
                            "Invalid fulfillment order line item quantity requested.",
                        ));
                    };
                    let already: i64 = takes.iter().filter(|t| t.0 == line.id).map(|t| t.2).sum();
                    if already + quantity > line.remaining {
                        return Err(fail(
                            &["fulfillment"],
                            "Invalid fulfillment order line item quantity requested.",
                        ));
                    }
                    takes.push((line.id, line.line_id, *quantity));
                }
            }
        }
    }
    if takes.is_empty() {
        return Err(fail(
            &["fulfillment"],
            "Invalid fulfillment order line item quantity requested.",
        ));
    }
    let stamp = book.stamp();
    let fulfillment_id = book.next_id();
    let line_ids: Vec<u64> = takes.iter().map(|_| book.next_id()).collect();
    let Some(order) = book.get_mut(order_id) else {
        return Err(fail(&["fulfillment"], "Fulfillment order does not exist."));
    };
    for fo in &mut order.fulfillment_orders {
        let mut touched = false;
        for line in &mut fo.lines {
            for take in takes.iter().filter(|t| t.0 == line.id) {
                line.remaining -= take.2;
                touched = true;
            }
        }
        if touched {
            fo.updated_at = stamp;
            fo.settle();
        }
    }
    let fulfillment = Fulfillment {
        id: fulfillment_id,
        name: format!("{}.{}", order.name, order.fulfillments.len() + 1),
        status: FulfillmentStatus::Success,
        tracking: request.tracking.clone(),
        lines: takes
            .iter()
            .zip(line_ids)
            .map(|(t, id)| FulfillmentLine {
                id,
                line_id: t.1,
                fulfillment_order_line_id: t.0,
                quantity: t.2,
            })
            .collect(),
        events: Vec::new(),
        notify_customer: request.notify_customer,
        created_at: stamp,
        updated_at: stamp,
    };
    order.fulfillments.push(fulfillment);
    order.updated_at = stamp;
    let order = &*order;
    let mut emitted = Vec::new();
    if let Some(f) = order.fulfillments.last() {
        emitted.push(Emitted::new(
            WebhookTopic::FulfillmentsCreate,
            fulfillment_json(order, f, catalog),
        ));
    }
    emitted.extend(order_events(order, catalog, true));
    Ok(Done {
        order_id,
        target: fulfillment_id,
        emitted,
    })
}

/// Finds a fulfillment's order; the error names `field`.
fn locate(
    book: &OrderBook,
    fulfillment_id: Option<u64>,
    field: &[&str],
) -> Result<u64, Vec<UserErr>> {
    fulfillment_id
        .and_then(|id| book.owner_of(id))
        .ok_or_else(|| fail(field, "Fulfillment does not exist."))
}

/// Applies `edit` to a fulfillment, stamps it and its order, and returns the
/// `fulfillments/update` + `orders/updated` events.
fn edit_fulfillment(
    catalog: &Catalog,
    book: &mut OrderBook,
    order_id: u64,
    fulfillment_id: u64,
    edit: impl FnOnce(&mut Order, usize, i64),
) -> Vec<Emitted> {
    let stamp = book.stamp();
    let Some(order) = book.get_mut(order_id) else {
        return Vec::new();
    };
    let Some(index) = order
        .fulfillments
        .iter()
        .position(|f| f.id == fulfillment_id)
    else {
        return Vec::new();
    };
    edit(order, index, stamp);
    order.fulfillments[index].updated_at = stamp;
    order.updated_at = stamp;
    let order = &*order;
    let mut emitted = vec![Emitted::new(
        WebhookTopic::FulfillmentsUpdate,
        fulfillment_json(order, &order.fulfillments[index], catalog),
    )];
    emitted.extend(order_events(order, catalog, false));
    emitted
}

fn active(book: &OrderBook, order_id: u64, fulfillment_id: u64) -> bool {
    book.get(order_id)
        .and_then(|o| o.fulfillments.iter().find(|f| f.id == fulfillment_id))
        .is_some_and(Fulfillment::is_active)
}

/// `fulfillmentTrackingInfoUpdate`: replaces the tracking entries.
pub(crate) fn update_tracking(
    catalog: &Catalog,
    book: &mut OrderBook,
    fulfillment_id: Option<u64>,
    tracking: Vec<TrackingInfo>,
) -> Result<Done, Vec<UserErr>> {
    let order_id = locate(book, fulfillment_id, &["fulfillmentId"])?;
    let id = fulfillment_id.unwrap_or_default();
    if !active(book, order_id, id) {
        return Err(fail(
            &["fulfillmentId"],
            "Cannot update tracking info of a cancelled fulfillment.",
        ));
    }
    let emitted = edit_fulfillment(catalog, book, order_id, id, |order, i, _| {
        order.fulfillments[i].tracking = tracking;
    });
    Ok(Done {
        order_id,
        target: id,
        emitted,
    })
}

/// `fulfillmentEventCreate`: records a carrier status; the target of the
/// result is the new event's id.
pub(crate) fn add_event(
    catalog: &Catalog,
    book: &mut OrderBook,
    request: &EventRequest,
) -> Result<Done, Vec<UserErr>> {
    let order_id = locate(
        book,
        request.fulfillment_id,
        &["fulfillmentEvent", "fulfillmentId"],
    )?;
    let id = request.fulfillment_id.unwrap_or_default();
    if !active(book, order_id, id) {
        return Err(fail(
            &["fulfillmentEvent", "fulfillmentId"],
            "Cannot create events for a cancelled fulfillment.",
        ));
    }
    let event_id = book.next_id();
    let emitted = edit_fulfillment(catalog, book, order_id, id, |order, i, stamp| {
        order.fulfillments[i].events.push(FulfillmentEvent {
            id: event_id,
            status: request.status,
            message: request.message.clone(),
            city: request.city.clone(),
            province: request.province.clone(),
            country: request.country.clone(),
            zip: request.zip.clone(),
            address1: request.address1.clone(),
            happened_at: request.happened_at.unwrap_or(stamp),
            created_at: stamp,
            estimated_delivery_at: request.estimated_delivery_at,
        });
    });
    Ok(Done {
        order_id,
        target: event_id,
        emitted,
    })
}

/// `fulfillmentCancel`: the units go back to their fulfillment orders.
pub(crate) fn cancel(
    catalog: &Catalog,
    book: &mut OrderBook,
    fulfillment_id: Option<u64>,
) -> Result<Done, Vec<UserErr>> {
    let order_id = locate(book, fulfillment_id, &["id"])?;
    let id = fulfillment_id.unwrap_or_default();
    if !active(book, order_id, id) {
        return Err(fail(&["id"], "Fulfillment has already been cancelled."));
    }
    let emitted = edit_fulfillment(catalog, book, order_id, id, |order, i, stamp| {
        order.fulfillments[i].status = FulfillmentStatus::Cancelled;
        let lines = order.fulfillments[i].lines.clone();
        for fo in &mut order.fulfillment_orders {
            let mut touched = false;
            for line in &mut fo.lines {
                for back in lines
                    .iter()
                    .filter(|l| l.fulfillment_order_line_id == line.id)
                {
                    line.remaining += back.quantity;
                    touched = true;
                }
            }
            if touched {
                fo.updated_at = stamp;
                fo.settle();
            }
        }
    });
    Ok(Done {
        order_id,
        target: id,
        emitted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_numbers_pair_with_urls_by_position() {
        let input = TrackingInput {
            company: Some("UPS".into()),
            numbers: Some(vec!["1Z1".into(), "1Z2".into()]),
            urls: Some(vec!["https://ups.example/1Z1".into()]),
            ..TrackingInput::default()
        };
        let entries = input.entries();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].url.as_deref(), Some("https://ups.example/1Z1"));
        assert_eq!(entries[1].number.as_deref(), Some("1Z2"));
        assert_eq!(entries[1].url, None);
        assert!(TrackingInput::default().entries().is_empty());
    }
}
