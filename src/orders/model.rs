//! The durable state of one ACP order: what was bought, how it is being
//! fulfilled, what was refunded or canceled, and the status derived from
//! that.
//!
//! Built once from a completed checkout ([`OrderState::from_completed`]),
//! then changed only through the `apply_*` methods, which upsert by the
//! upstream id (so applying the same fulfillment or refund twice changes
//! nothing), re-derive quantities, totals and status, and bump `revision`
//! when anything changed. Quantities follow ACP's three-field model:
//! `ordered` never changes, `current` drops with cancellations and
//! removing refunds, `fulfilled` counts units in dispatched fulfillments.
//!
//! Holds no personal data (no buyer, address or payment data), so an order
//! can be logged by id and sent to the agent whole.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::checkout::ApiVersion;
use crate::checkout::model::SessionStatus;
use crate::checkout::service::CheckoutRecord;
use crate::domain::{Currency, Money, ShopId};
use crate::store::Revisioned;

/// Why an order could not be built or a change not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("checkout session {0} has not completed with an order")]
    NotCompleted(String),
    #[error("order {order} has no line `{line}`")]
    UnknownLine { order: String, line: String },
    #[error("order {order} is in {expected}, the change is in {got}")]
    Currency {
        order: String,
        expected: Currency,
        got: Currency,
    },
}

/// Order-level status (ACP `Order.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed; nothing has happened since.
    Created,
    /// The shop acknowledged the order.
    Confirmed,
    /// Held for a manual check (fraud review and the like).
    ManualReview,
    /// Fulfillment has started, not every unit is dispatched.
    Processing,
    /// Every current unit is in a dispatched fulfillment.
    Shipped,
    /// Every current unit was delivered (or picked up).
    Completed,
    /// Canceled, or nothing is left on the order.
    Canceled,
}

impl OrderStatus {
    /// The 2026-04-17 value.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::ManualReview => "manual_review",
            OrderStatus::Processing => "processing",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Completed => "completed",
            OrderStatus::Canceled => "canceled",
        }
    }
}

/// Per-line fulfillment progress (ACP `OrderLineItem.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    Processing,
    Partial,
    Fulfilled,
    Removed,
}

impl LineStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LineStatus::Processing => "processing",
            LineStatus::Partial => "partial",
            LineStatus::Fulfilled => "fulfilled",
            LineStatus::Removed => "removed",
        }
    }
}

/// ACP's three quantities of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineQuantity {
    /// What the buyer ordered; never changes.
    pub ordered: u32,
    /// Still on the order after cancellations and removals.
    pub current: u32,
    /// In dispatched fulfillments (at most `current`).
    pub fulfilled: u32,
}

/// One bought line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The checkout session's line id (fulfillments and adjustments refer
    /// to lines by it).
    pub id: String,
    /// The feed item id (the platform variant id).
    pub item_id: String,
    pub title: String,
    pub image_url: Option<Url>,
    pub quantity: LineQuantity,
    pub unit_price: Money,
    /// `unit_price × ordered`, before discounts.
    pub base_amount: Money,
    /// Discount allocated to the line (positive).
    pub discount: Money,
    /// `base_amount − discount`.
    pub subtotal: Money,
    pub tax: Money,
    /// `subtotal + tax`.
    pub total: Money,
}

impl OrderLine {
    /// Derived as ACP prescribes: removed when nothing is left, fulfilled
    /// when everything left is, partial in between.
    pub fn status(&self) -> LineStatus {
        let q = self.quantity;
        if q.current == 0 {
            LineStatus::Removed
        } else if q.fulfilled >= q.current {
            LineStatus::Fulfilled
        } else if q.fulfilled > 0 {
            LineStatus::Partial
        } else {
            LineStatus::Processing
        }
    }
}

/// Units of one line in a fulfillment or an adjustment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineUnits {
    /// [`OrderLine::id`].
    pub line_id: String,
    pub quantity: u32,
}

/// How a fulfillment reaches the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentKind {
    Shipping,
    Pickup,
    Digital,
}

impl FulfillmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FulfillmentKind::Shipping => "shipping",
            FulfillmentKind::Pickup => "pickup",
            FulfillmentKind::Digital => "digital",
        }
    }
}

/// Where a fulfillment is (ACP `Fulfillment.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    Pending,
    Processing,
    Shipped,
    InTransit,
    OutForDelivery,
    ReadyForPickup,
    Delivered,
    Failed,
    Canceled,
}

impl FulfillmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FulfillmentStatus::Pending => "pending",
            FulfillmentStatus::Processing => "processing",
            FulfillmentStatus::Shipped => "shipped",
            FulfillmentStatus::InTransit => "in_transit",
            FulfillmentStatus::OutForDelivery => "out_for_delivery",
            FulfillmentStatus::ReadyForPickup => "ready_for_pickup",
            FulfillmentStatus::Delivered => "delivered",
            FulfillmentStatus::Failed => "failed",
            FulfillmentStatus::Canceled => "canceled",
        }
    }

    /// Whether the units have left the seller (they count as fulfilled).
    pub fn is_dispatched(self) -> bool {
        matches!(
            self,
            FulfillmentStatus::Shipped
                | FulfillmentStatus::InTransit
                | FulfillmentStatus::OutForDelivery
                | FulfillmentStatus::Delivered
        )
    }
}

/// A point in a fulfillment's life (ACP `FulfillmentEvent.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentEventKind {
    Processing,
    Shipped,
    InTransit,
    OutForDelivery,
    ReadyForPickup,
    Delivered,
    FailedAttempt,
    ReturnedToSender,
    Canceled,
    Undeliverable,
}

impl FulfillmentEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FulfillmentEventKind::Processing => "processing",
            FulfillmentEventKind::Shipped => "shipped",
            FulfillmentEventKind::InTransit => "in_transit",
            FulfillmentEventKind::OutForDelivery => "out_for_delivery",
            FulfillmentEventKind::ReadyForPickup => "ready_for_pickup",
            FulfillmentEventKind::Delivered => "delivered",
            FulfillmentEventKind::FailedAttempt => "failed_attempt",
            FulfillmentEventKind::ReturnedToSender => "returned_to_sender",
            FulfillmentEventKind::Canceled => "canceled",
            FulfillmentEventKind::Undeliverable => "undeliverable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentEvent {
    /// Upstream id; events are kept once per id, in arrival order.
    pub id: String,
    pub kind: FulfillmentEventKind,
    pub occurred_at: DateTime<Utc>,
    pub description: Option<String>,
    /// A place name (`Memphis, TN`), never the buyer's address.
    pub location: Option<String>,
}

/// A fulfillment as the platform reports it; [`OrderState::apply_fulfillment`]
/// stores it under its `id` (replacing what was known, merging events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fulfillment {
    pub id: String,
    pub kind: FulfillmentKind,
    pub status: FulfillmentStatus,
    pub lines: Vec<LineUnits>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<Url>,
    pub events: Vec<FulfillmentEvent>,
}

/// What kind of post-order change an adjustment is (ACP `Adjustment.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentKind {
    /// Money back to the original payment.
    Refund,
    /// Money back as store credit.
    Credit,
    Return,
    Exchange,
    PriceAdjustment,
    Cancellation,
    Dispute,
}

impl AdjustmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AdjustmentKind::Refund => "refund",
            AdjustmentKind::Credit => "credit",
            AdjustmentKind::Return => "return",
            AdjustmentKind::Exchange => "exchange",
            AdjustmentKind::PriceAdjustment => "price_adjustment",
            AdjustmentKind::Cancellation => "cancellation",
            AdjustmentKind::Dispute => "dispute",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentStatus {
    Pending,
    Completed,
    Failed,
}

impl AdjustmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AdjustmentStatus::Pending => "pending",
            AdjustmentStatus::Completed => "completed",
            AdjustmentStatus::Failed => "failed",
        }
    }
}

/// A refund, credit or cancellation as stored on the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub id: String,
    pub kind: AdjustmentKind,
    pub status: AdjustmentStatus,
    /// What went back to the buyer, tax included.
    pub amount: Option<Money>,
    pub lines: Vec<LineUnits>,
    /// Whether `lines` left the order (their units no longer count in
    /// `current`) unless the adjustment failed.
    pub removes_units: bool,
    pub occurred_at: DateTime<Utc>,
    /// A short reason code from the platform (`customer`, `defective`).
    pub reason: Option<String>,
}

/// Where refunded money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundDestination {
    OriginalPayment,
    StoreCredit,
}

/// A refund as the platform reports it; [`OrderState::apply_refund`]
/// stores it under its `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub status: AdjustmentStatus,
    /// Total returned to the buyer, tax included.
    pub amount: Money,
    pub destination: RefundDestination,
    /// The units refunded, if the refund names them.
    pub lines: Vec<LineUnits>,
    /// The refunded units leave the order (restocked or returned), so
    /// their line's `current` drops.
    pub removes_units: bool,
    pub occurred_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// A cancellation of the whole order; [`OrderState::apply_cancellation`]
/// removes every unit not yet dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancellation {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// Order-level amounts. Discounts are positive amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTotals {
    pub items_base_amount: Money,
    pub items_discount: Money,
    pub subtotal: Money,
    pub discount: Money,
    pub fulfillment: Option<Money>,
    pub tax: Option<Money>,
    pub fee: Option<Money>,
    /// What was charged; stays at the original charge after refunds.
    pub total: Money,
    /// Completed refunds to the original payment, cumulative.
    pub amount_refunded: Money,
}

/// The shop platform's identifiers of the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformOrder {
    /// `gid://shopify/Order/…`.
    pub gid: String,
    pub legacy_id: u64,
    /// The shop's order name (`#1001`).
    pub name: String,
}

/// The durable state of one order.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    /// The ACP order id (the id the completed session's `order` carries).
    pub id: String,
    pub shop: ShopId,
    pub checkout_session_id: String,
    /// The agent that created the session (it receives the events).
    pub agent: Option<String>,
    /// The API version the session was created with.
    pub created_with: ApiVersion,
    pub platform: PlatformOrder,
    /// Where the buyer sees the order.
    pub permalink_url: Url,
    pub currency: Currency,
    pub lines: Vec<OrderLine>,
    pub fulfillments: Vec<Fulfillment>,
    pub adjustments: Vec<Adjustment>,
    pub totals: OrderTotals,
    /// Derived from the parts above and the flags below.
    pub status: OrderStatus,
    pub confirmed: bool,
    pub manual_review: bool,
    pub canceled: bool,
    /// 0 when created; +1 for every applied change.
    pub revision: u64,
    pub created_at: DateTime<Utc>,
    /// The newest platform timestamp (`updated_at` of the order or
    /// fulfillment, a refund's processing time) whose payload was applied;
    /// an older payload arriving later is stale and skipped.
    #[serde(default)]
    pub platform_seen_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderState")
            .field("id", &self.id)
            .field("shop", &self.shop)
            .field("checkout_session_id", &self.checkout_session_id)
            .field("status", &self.status)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

impl Revisioned for OrderState {
    fn revision(&self) -> u64 {
        self.revision
    }
}

impl OrderState {
    /// The order a completed checkout created, as it stands right after
    /// completion (status `created`, revision 0).
    ///
    /// # Errors
    /// [`OrderError::NotCompleted`] unless the session is completed and
    /// carries its order.
    pub fn from_completed(record: &CheckoutRecord) -> Result<Self, OrderError> {
        let session = &record.session;
        let not_completed = || OrderError::NotCompleted(session.id.clone());
        if session.status != SessionStatus::Completed {
            return Err(not_completed());
        }
        let order = session.order.as_ref().ok_or_else(not_completed)?;
        let created = record
            .completion
            .as_ref()
            .and_then(|c| c.order.as_ref())
            .ok_or_else(not_completed)?;
        let lines = session
            .lines
            .iter()
            .filter(|l| l.quantity > 0)
            .map(|l| OrderLine {
                id: l.id.clone(),
                item_id: l.item_id.clone(),
                title: l.title.clone(),
                image_url: l.image_url.clone(),
                quantity: LineQuantity {
                    ordered: l.quantity,
                    current: l.quantity,
                    fulfilled: 0,
                },
                unit_price: l.unit_amount,
                base_amount: l.base_amount,
                discount: l.discount,
                subtotal: l.subtotal,
                tax: l.tax,
                total: l.total,
            })
            .collect();
        let t = &session.totals;
        let mut state = OrderState {
            id: order.id.clone(),
            shop: session.shop.clone(),
            checkout_session_id: session.id.clone(),
            agent: record.agent.clone(),
            created_with: session.created_with,
            platform: PlatformOrder {
                gid: created.id.clone(),
                legacy_id: created.legacy_id,
                name: created.name.clone(),
            },
            permalink_url: order.permalink_url.clone(),
            currency: session.currency,
            lines,
            fulfillments: Vec::new(),
            adjustments: Vec::new(),
            totals: OrderTotals {
                items_base_amount: t.items_base_amount,
                items_discount: t.items_discount,
                subtotal: t.subtotal,
                discount: t.discount,
                fulfillment: t.fulfillment,
                tax: t.tax,
                fee: t.fee,
                total: t.total,
                amount_refunded: Money::new(0, session.currency),
            },
            status: OrderStatus::Created,
            confirmed: false,
            manual_review: false,
            canceled: false,
            revision: 0,
            created_at: session.updated_at,
            platform_seen_at: None,
        };
        state.derive();
        Ok(state)
    }

    /// The line bought as feed item `item_id` (platform webhooks name
    /// variants, not our line ids).
    pub fn line_for_item(&self, item_id: &str) -> Option<&OrderLine> {
        self.lines.iter().find(|l| l.item_id == item_id)
    }

    /// Records a fulfillment (new, or a newer view of a known one).
    /// Returns whether the order changed.
    ///
    /// # Errors
    /// A unit reference to a line the order does not have.
    pub fn apply_fulfillment(&mut self, fulfillment: Fulfillment) -> Result<bool, OrderError> {
        self.check_lines(&fulfillment.lines)?;
        Ok(self.change(|order| {
            match order
                .fulfillments
                .iter_mut()
                .find(|f| f.id == fulfillment.id)
            {
                Some(known) => {
                    let mut events = std::mem::take(&mut known.events);
                    for event in fulfillment.events.iter() {
                        match events.iter_mut().find(|e| e.id == event.id) {
                            Some(seen) => *seen = event.clone(),
                            None => events.push(event.clone()),
                        }
                    }
                    *known = Fulfillment {
                        events,
                        ..fulfillment
                    };
                }
                None => order.fulfillments.push(fulfillment),
            }
        }))
    }

    /// Records a refund (new, or a newer status of a known one). Returns
    /// whether the order changed.
    ///
    /// # Errors
    /// A unit reference to an unknown line, or an amount in another
    /// currency.
    pub fn apply_refund(&mut self, refund: Refund) -> Result<bool, OrderError> {
        self.check_lines(&refund.lines)?;
        self.check_currency(refund.amount.currency)?;
        let adjustment = Adjustment {
            id: refund.id,
            kind: match refund.destination {
                RefundDestination::OriginalPayment => AdjustmentKind::Refund,
                RefundDestination::StoreCredit => AdjustmentKind::Credit,
            },
            status: refund.status,
            amount: Some(refund.amount),
            lines: refund.lines,
            removes_units: refund.removes_units,
            occurred_at: refund.occurred_at,
            reason: refund.reason,
        };
        Ok(self.change(|order| order.upsert_adjustment(adjustment)))
    }

    /// Cancels the order: every unit not yet dispatched leaves it, and the
    /// status becomes `canceled`. Applying the same cancellation again
    /// changes nothing. Money going back arrives as refunds.
    pub fn apply_cancellation(&mut self, cancellation: Cancellation) -> bool {
        if self
            .adjustments
            .iter()
            .any(|a| a.kind == AdjustmentKind::Cancellation && a.id == cancellation.id)
        {
            return false;
        }
        let removed: Vec<LineUnits> = self
            .lines
            .iter()
            .filter(|l| l.quantity.current > l.quantity.fulfilled)
            .map(|l| LineUnits {
                line_id: l.id.clone(),
                quantity: l.quantity.current - l.quantity.fulfilled,
            })
            .collect();
        self.change(|order| {
            order.canceled = true;
            order.adjustments.push(Adjustment {
                id: cancellation.id,
                kind: AdjustmentKind::Cancellation,
                status: AdjustmentStatus::Completed,
                amount: None,
                lines: removed,
                removes_units: true,
                occurred_at: cancellation.occurred_at,
                reason: cancellation.reason,
            });
        })
    }

    /// The shop acknowledged the order. Returns whether the order changed.
    pub fn confirm(&mut self) -> bool {
        self.change(|order| order.confirmed = true)
    }

    /// Puts the order on (or takes it off) manual review. Returns whether
    /// the order changed.
    pub fn set_manual_review(&mut self, on: bool) -> bool {
        self.change(|order| order.manual_review = on)
    }

    fn check_lines(&self, units: &[LineUnits]) -> Result<(), OrderError> {
        match units
            .iter()
            .find(|u| !self.lines.iter().any(|l| l.id == u.line_id))
        {
            Some(unknown) => Err(OrderError::UnknownLine {
                order: self.id.clone(),
                line: unknown.line_id.clone(),
            }),
            None => Ok(()),
        }
    }

    fn check_currency(&self, got: Currency) -> Result<(), OrderError> {
        if got == self.currency {
            Ok(())
        } else {
            Err(OrderError::Currency {
                order: self.id.clone(),
                expected: self.currency,
                got,
            })
        }
    }

    fn upsert_adjustment(&mut self, adjustment: Adjustment) {
        match self
            .adjustments
            .iter_mut()
            .find(|a| a.id == adjustment.id && a.kind == adjustment.kind)
        {
            Some(known) => *known = adjustment,
            None => self.adjustments.push(adjustment),
        }
    }

    /// Runs `edit`, re-derives, and bumps the revision when the state
    /// differs from before. Returns whether it did.
    fn change(&mut self, edit: impl FnOnce(&mut OrderState)) -> bool {
        let before = self.clone();
        edit(self);
        self.derive();
        if *self == before {
            return false;
        }
        self.revision = before.revision + 1;
        true
    }

    /// Recomputes quantities, refund totals and the status from the
    /// fulfillments, adjustments and flags.
    fn derive(&mut self) {
        for line in &mut self.lines {
            let removed: u32 = self
                .adjustments
                .iter()
                .filter(|a| a.removes_units && a.status != AdjustmentStatus::Failed)
                .flat_map(|a| a.lines.iter())
                .filter(|u| u.line_id == line.id)
                .map(|u| u.quantity)
                .sum();
            let current = line.quantity.ordered.saturating_sub(removed);
            let dispatched: u32 = units_in(&self.fulfillments, &line.id, |s| s.is_dispatched());
            line.quantity.current = current;
            line.quantity.fulfilled = dispatched.min(current);
        }
        let refunded: i64 = self
            .adjustments
            .iter()
            .filter(|a| a.kind == AdjustmentKind::Refund && a.status == AdjustmentStatus::Completed)
            .filter_map(|a| a.amount)
            .map(|m| m.amount)
            .sum();
        self.totals.amount_refunded = Money::new(refunded, self.currency);
        self.status = self.derived_status();
    }

    fn derived_status(&self) -> OrderStatus {
        let active: Vec<&OrderLine> = self
            .lines
            .iter()
            .filter(|l| l.quantity.current > 0)
            .collect();
        if self.canceled || active.is_empty() {
            return OrderStatus::Canceled;
        }
        if self.manual_review {
            return OrderStatus::ManualReview;
        }
        let delivered = active.iter().all(|l| {
            units_in(&self.fulfillments, &l.id, |s| {
                s == FulfillmentStatus::Delivered
            }) >= l.quantity.current
        });
        if delivered {
            return OrderStatus::Completed;
        }
        if active
            .iter()
            .all(|l| l.quantity.fulfilled >= l.quantity.current)
        {
            return OrderStatus::Shipped;
        }
        let started = active.iter().any(|l| l.quantity.fulfilled > 0)
            || self.fulfillments.iter().any(|f| {
                !matches!(
                    f.status,
                    FulfillmentStatus::Canceled | FulfillmentStatus::Failed
                )
            });
        if started {
            OrderStatus::Processing
        } else if self.confirmed {
            OrderStatus::Confirmed
        } else {
            OrderStatus::Created
        }
    }
}

/// Units of `line` in fulfillments whose status passes `counts`.
fn units_in(
    fulfillments: &[Fulfillment],
    line: &str,
    counts: impl Fn(FulfillmentStatus) -> bool,
) -> u32 {
    fulfillments
        .iter()
        .filter(|f| counts(f.status))
        .flat_map(|f| f.lines.iter())
        .filter(|u| u.line_id == line)
        .map(|u| u.quantity)
        .sum()
}
