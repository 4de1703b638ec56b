//! What happens to an order after it is placed: its fulfillment orders,
//! fulfillments (with tracking and shipment events), refunds and
//! cancellation, and the figures Shopify derives from them (fulfilled,
//! refunded and remaining quantities, `displayFulfillmentStatus`,
//! `displayFinancialStatus`, refunded totals).
//!
//! Plain data and arithmetic only: `fulfillment.rs` and `refund.rs` change
//! orders, `order_read.rs` renders them, `payloads.rs` turns them into
//! webhook bodies.

use super::data::Price;
use super::orders::{Order, OrderLine, Transaction};

/// `FulfillmentOrderStatus` values the emulator produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulfillmentOrderStatus {
    Open,
    InProgress,
    Closed,
    Cancelled,
}

impl FulfillmentOrderStatus {
    /// The enum value as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            FulfillmentOrderStatus::Open => "OPEN",
            FulfillmentOrderStatus::InProgress => "IN_PROGRESS",
            FulfillmentOrderStatus::Closed => "CLOSED",
            FulfillmentOrderStatus::Cancelled => "CANCELLED",
        }
    }

    /// Can work still be fulfilled from it?
    pub fn is_fulfillable(self) -> bool {
        matches!(
            self,
            FulfillmentOrderStatus::Open | FulfillmentOrderStatus::InProgress
        )
    }
}

/// One line of a fulfillment order: how many units of an order line it
/// covers and how many are still to ship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentOrderLine {
    pub id: u64,
    /// The order line (`LineItem`) id.
    pub line_id: u64,
    pub total: i64,
    pub remaining: i64,
}

/// The work of shipping (part of) an order from the shop's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentOrder {
    pub id: u64,
    pub status: FulfillmentOrderStatus,
    pub lines: Vec<FulfillmentOrderLine>,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl FulfillmentOrder {
    /// The GID, e.g. `gid://shopify/FulfillmentOrder/1`.
    pub fn gid(&self) -> String {
        format!("gid://shopify/FulfillmentOrder/{}", self.id)
    }

    /// Recomputes the status from the remaining quantities (a cancelled
    /// fulfillment order stays cancelled).
    pub(crate) fn settle(&mut self) {
        if self.status == FulfillmentOrderStatus::Cancelled {
            return;
        }
        let remaining: i64 = self.lines.iter().map(|l| l.remaining).sum();
        let total: i64 = self.lines.iter().map(|l| l.total).sum();
        self.status = if remaining == 0 {
            FulfillmentOrderStatus::Closed
        } else if remaining < total {
            FulfillmentOrderStatus::InProgress
        } else {
            FulfillmentOrderStatus::Open
        };
    }
}

/// `FulfillmentStatus` values the emulator produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulfillmentStatus {
    Success,
    Cancelled,
}

impl FulfillmentStatus {
    /// The enum value as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            FulfillmentStatus::Success => "SUCCESS",
            FulfillmentStatus::Cancelled => "CANCELLED",
        }
    }

    /// The REST (webhook) spelling.
    pub fn rest(self) -> &'static str {
        match self {
            FulfillmentStatus::Success => "success",
            FulfillmentStatus::Cancelled => "cancelled",
        }
    }
}

/// A carrier's shipment status (`FulfillmentEventStatus`), the latest of
/// which is a fulfillment's `shipment_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipmentStatus {
    LabelPurchased,
    LabelPrinted,
    ReadyForPickup,
    Confirmed,
    InTransit,
    OutForDelivery,
    AttemptedDelivery,
    Delayed,
    Delivered,
    Failure,
    CarrierPickedUp,
}

impl ShipmentStatus {
    /// Every value, in the schema's order.
    pub const ALL: [ShipmentStatus; 11] = [
        ShipmentStatus::LabelPurchased,
        ShipmentStatus::LabelPrinted,
        ShipmentStatus::ReadyForPickup,
        ShipmentStatus::Confirmed,
        ShipmentStatus::InTransit,
        ShipmentStatus::OutForDelivery,
        ShipmentStatus::AttemptedDelivery,
        ShipmentStatus::Delayed,
        ShipmentStatus::Delivered,
        ShipmentStatus::Failure,
        ShipmentStatus::CarrierPickedUp,
    ];

    /// The enum value as the API prints it (`IN_TRANSIT`).
    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentStatus::LabelPurchased => "LABEL_PURCHASED",
            ShipmentStatus::LabelPrinted => "LABEL_PRINTED",
            ShipmentStatus::ReadyForPickup => "READY_FOR_PICKUP",
            ShipmentStatus::Confirmed => "CONFIRMED",
            ShipmentStatus::InTransit => "IN_TRANSIT",
            ShipmentStatus::OutForDelivery => "OUT_FOR_DELIVERY",
            ShipmentStatus::AttemptedDelivery => "ATTEMPTED_DELIVERY",
            ShipmentStatus::Delayed => "DELAYED",
            ShipmentStatus::Delivered => "DELIVERED",
            ShipmentStatus::Failure => "FAILURE",
            ShipmentStatus::CarrierPickedUp => "CARRIER_PICKED_UP",
        }
    }

    /// Parses the enum value.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The REST `shipment_status` spelling (`in_transit`).
    pub fn rest(self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}

/// One tracking entry of a fulfillment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackingInfo {
    pub company: Option<String>,
    pub number: Option<String>,
    pub url: Option<String>,
}

impl TrackingInfo {
    /// Tracking by a carrier with one number and URL.
    pub fn new(company: &str, number: &str, url: &str) -> Self {
        TrackingInfo {
            company: Some(company.to_owned()),
            number: Some(number.to_owned()),
            url: Some(url.to_owned()),
        }
    }
}

/// How many units of an order line a fulfillment shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentLine {
    pub id: u64,
    pub line_id: u64,
    /// The fulfillment order line the units came from.
    pub fulfillment_order_line_id: u64,
    pub quantity: i64,
}

/// A carrier event on a fulfillment (`fulfillmentEventCreate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentEvent {
    pub id: u64,
    pub status: ShipmentStatus,
    pub message: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub country: Option<String>,
    pub zip: Option<String>,
    pub address1: Option<String>,
    /// Epoch milliseconds.
    pub happened_at: i64,
    pub created_at: i64,
    pub estimated_delivery_at: Option<i64>,
}

/// A shipment of some or all units of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulfillment {
    pub id: u64,
    /// `#1001.1`: the order name and the fulfillment's sequence number.
    pub name: String,
    pub status: FulfillmentStatus,
    pub tracking: Vec<TrackingInfo>,
    pub lines: Vec<FulfillmentLine>,
    pub events: Vec<FulfillmentEvent>,
    pub notify_customer: bool,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl Fulfillment {
    /// The GID, e.g. `gid://shopify/Fulfillment/1`.
    pub fn gid(&self) -> String {
        format!("gid://shopify/Fulfillment/{}", self.id)
    }

    /// The latest carrier status, if any event was recorded.
    pub fn shipment_status(&self) -> Option<ShipmentStatus> {
        self.events.last().map(|e| e.status)
    }

    /// Units shipped.
    pub fn total_quantity(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    /// Does it still count (not cancelled)?
    pub fn is_active(&self) -> bool {
        self.status == FulfillmentStatus::Success
    }

    /// When the first event with `status` happened.
    pub fn first_event_at(&self, status: ShipmentStatus) -> Option<i64> {
        self.events
            .iter()
            .find(|e| e.status == status)
            .map(|e| e.happened_at)
    }

    /// `FulfillmentDisplayStatus`.
    pub fn display_status(&self) -> &'static str {
        if !self.is_active() {
            return "CANCELED";
        }
        match self.shipment_status() {
            None => "FULFILLED",
            Some(s) => s.as_str(),
        }
    }
}

/// `RefundLineItemRestockType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestockType {
    /// Units returned after shipping go back to stock.
    Return,
    /// Unshipped units are cancelled and go back to stock.
    Cancel,
    /// Refunded without restocking.
    NoRestock,
}

impl RestockType {
    /// The enum value as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            RestockType::Return => "RETURN",
            RestockType::Cancel => "CANCEL",
            RestockType::NoRestock => "NO_RESTOCK",
        }
    }

    /// The REST (webhook) spelling.
    pub fn rest(self) -> &'static str {
        match self {
            RestockType::Return => "return",
            RestockType::Cancel => "cancel",
            RestockType::NoRestock => "no_restock",
        }
    }

    /// Does it put units back into stock?
    pub fn restocks(self) -> bool {
        self != RestockType::NoRestock
    }
}

/// One refunded line: units, their value and tax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLine {
    pub id: u64,
    pub line_id: u64,
    pub quantity: i64,
    pub restock_type: RestockType,
    /// Unit price after the line's discount share.
    pub price: Price,
    pub subtotal: Price,
    pub total_tax: Price,
}

/// A refund: refunded lines (possibly none) and the money sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: u64,
    pub note: Option<String>,
    pub lines: Vec<RefundLine>,
    /// `REFUND` transactions.
    pub transactions: Vec<Transaction>,
    /// Shipping refunded (part of the transactions' total).
    pub shipping: Price,
    /// Whether the lines went back to stock (REST `restock`).
    pub restock: bool,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub processed_at: i64,
}

impl Refund {
    /// The GID, e.g. `gid://shopify/Refund/1`.
    pub fn gid(&self) -> String {
        format!("gid://shopify/Refund/{}", self.id)
    }

    /// Money returned by this refund.
    pub fn total(&self) -> Price {
        Price(self.transactions.iter().map(|t| t.amount.0).sum())
    }
}

/// `OrderCancelReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    Customer,
    Declined,
    Fraud,
    Inventory,
    Staff,
    Other,
}

impl CancelReason {
    /// Every value, in the schema's order.
    pub const ALL: [CancelReason; 6] = [
        CancelReason::Customer,
        CancelReason::Declined,
        CancelReason::Fraud,
        CancelReason::Inventory,
        CancelReason::Staff,
        CancelReason::Other,
    ];

    /// The enum value as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::Customer => "CUSTOMER",
            CancelReason::Declined => "DECLINED",
            CancelReason::Fraud => "FRAUD",
            CancelReason::Inventory => "INVENTORY",
            CancelReason::Staff => "STAFF",
            CancelReason::Other => "OTHER",
        }
    }

    /// Parses the enum value.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The REST (webhook) spelling.
    pub fn rest(self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}

/// Sum of successful transactions of the given kinds.
fn settled(transactions: &[Transaction], kinds: &[&str]) -> i64 {
    transactions
        .iter()
        .filter(|t| t.status == "SUCCESS" && kinds.contains(&t.kind.as_str()))
        .map(|t| t.amount.0)
        .sum()
}

impl Order {
    /// Units of `line_id` shipped by active fulfillments.
    pub fn fulfilled_quantity(&self, line_id: u64) -> i64 {
        self.fulfillments
            .iter()
            .filter(|f| f.is_active())
            .flat_map(|f| &f.lines)
            .filter(|l| l.line_id == line_id)
            .map(|l| l.quantity)
            .sum()
    }

    /// Units of `line_id` refunded so far.
    pub fn refunded_quantity(&self, line_id: u64) -> i64 {
        self.refunds
            .iter()
            .flat_map(|r| &r.lines)
            .filter(|l| l.line_id == line_id)
            .map(|l| l.quantity)
            .sum()
    }

    /// Units of `line_id` returned (refunded after shipping) so far.
    pub fn returned_quantity(&self, line_id: u64) -> i64 {
        self.refunds
            .iter()
            .flat_map(|r| &r.lines)
            .filter(|l| l.line_id == line_id && l.restock_type == RestockType::Return)
            .map(|l| l.quantity)
            .sum()
    }

    /// Units of `line_id` still to ship (open fulfillment order lines).
    pub fn unfulfilled_quantity(&self, line_id: u64) -> i64 {
        self.fulfillment_orders
            .iter()
            .filter(|fo| fo.status.is_fulfillable())
            .flat_map(|fo| &fo.lines)
            .filter(|l| l.line_id == line_id)
            .map(|l| l.remaining)
            .sum()
    }

    /// `currentQuantity`: ordered units less refunded ones.
    pub fn current_quantity(&self, line: &OrderLine) -> i64 {
        (line.quantity - self.refunded_quantity(line.id)).max(0)
    }

    /// `refundableQuantity`: units not refunded yet.
    pub fn refundable_quantity(&self, line: &OrderLine) -> i64 {
        self.current_quantity(line)
    }

    /// Money received: successful sales and captures.
    pub fn received(&self) -> Price {
        Price(settled(&self.transactions, &["SALE", "CAPTURE"]))
    }

    /// Money refunded over all refunds.
    pub fn refunded(&self) -> Price {
        Price(self.refunds.iter().map(|r| r.total().0).sum())
    }

    /// `currentTotalPriceSet`: the total less the value of refunded lines and
    /// refunded shipping.
    pub fn current_total(&self) -> Price {
        let removed: i64 = self
            .refunds
            .iter()
            .flat_map(|r| &r.lines)
            .map(|l| l.subtotal.0 + l.total_tax.0)
            .sum();
        let shipping: i64 = self.refunds.iter().map(|r| r.shipping.0).sum();
        Price((self.total.0 - removed - shipping).max(0))
    }

    /// `OrderDisplayFulfillmentStatus`.
    pub fn display_fulfillment_status(&self) -> &'static str {
        let shipped: i64 = self
            .lines
            .iter()
            .map(|l| self.fulfilled_quantity(l.id))
            .sum();
        let open: i64 = self
            .lines
            .iter()
            .map(|l| self.unfulfilled_quantity(l.id))
            .sum();
        match (shipped, open) {
            (0, 0) if self.refunds.iter().any(|r| r.restock) => "RESTOCKED",
            (0, _) => "UNFULFILLED",
            (_, 0) => "FULFILLED",
            _ => "PARTIALLY_FULFILLED",
        }
    }

    /// The REST `fulfillment_status`: `null`, `partial`, `fulfilled` or
    /// `restocked`.
    pub fn rest_fulfillment_status(&self) -> Option<&'static str> {
        match self.display_fulfillment_status() {
            "FULFILLED" => Some("fulfilled"),
            "PARTIALLY_FULFILLED" => Some("partial"),
            "RESTOCKED" => Some("restocked"),
            _ => None,
        }
    }

    /// Recomputes `displayFinancialStatus` after a refund or cancellation.
    pub(crate) fn settle_financial_status(&mut self) {
        let refunded = self.refunded().0;
        let received = self.received().0;
        if refunded > 0 {
            self.financial_status = if refunded >= received {
                "REFUNDED"
            } else {
                "PARTIALLY_REFUNDED"
            }
            .to_owned();
        } else if self.cancelled_at.is_some()
            && matches!(self.financial_status.as_str(), "PENDING" | "AUTHORIZED")
        {
            self.financial_status = "VOIDED".to_owned();
        }
    }

    /// The order line with this id.
    pub fn line(&self, line_id: u64) -> Option<&OrderLine> {
        self.lines.iter().find(|l| l.id == line_id)
    }
}
