//! Orders of the emulated shop: the stored model (what tests inspect), the
//! order book with its ids and `#1001`-style names, and the eventually
//! consistent search index behind `orders(query:)` (an order may reach it
//! late, see [`IndexDelay`]). `order_create.rs` creates orders.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use tokio::time::Instant;

use super::data::Price;
use super::faults::IndexDelay;
use super::lifecycle::{
    CancelReason, Fulfillment, FulfillmentOrder, FulfillmentOrderLine, FulfillmentOrderStatus,
    Refund,
};
use super::pricing::TaxAmount;

/// First order number of a shop (`#1001`).
const FIRST_ORDER_NUMBER: u64 = 1001;
/// Order ids start here, line and transaction ids at their own bases.
const ORDER_ID_BASE: u64 = 6_100_000_000_000;
const LINE_ID_BASE: u64 = 16_100_000_000_000;
const TRANSACTION_ID_BASE: u64 = 7_100_000_000_000;
/// Fulfillment orders, fulfillments, refunds and their parts share one id
/// sequence (their GIDs carry the kind).
const OBJECT_ID_BASE: u64 = 9_100_000_000_000;

/// A postal address stored on an order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub province_code: Option<String>,
    /// The province's name, when the shop knows the country's provinces.
    pub province: Option<String>,
    pub country_code: Option<String>,
    pub zip: Option<String>,
    pub phone: Option<String>,
}

/// `OrderCreateInputsInventoryBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InventoryBehaviour {
    #[default]
    Bypass,
    DecrementIgnoringPolicy,
    DecrementObeyingPolicy,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub id: u64,
    pub product_id: Option<u64>,
    pub variant_id: Option<u64>,
    pub title: String,
    pub variant_title: Option<String>,
    pub name: String,
    pub sku: Option<String>,
    pub vendor: Option<String>,
    pub quantity: i64,
    pub unit_price: Price,
    /// Share of the order discount.
    pub discount: Price,
    pub tax_lines: Vec<TaxAmount>,
    pub requires_shipping: bool,
    pub taxable: bool,
}

impl OrderLine {
    /// `unit_price × quantity`.
    pub fn total(&self) -> Price {
        Price(self.unit_price.0 * self.quantity)
    }
}

/// One shipping line of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderShippingLine {
    pub title: String,
    pub code: Option<String>,
    pub source: Option<String>,
    pub price: Price,
    pub tax_lines: Vec<TaxAmount>,
}

/// One payment transaction recorded on an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub id: u64,
    /// `OrderTransactionKind` (`SALE`, `AUTHORIZATION`, …).
    pub kind: String,
    /// `OrderTransactionStatus` (`SUCCESS`, `PENDING`, …).
    pub status: String,
    pub gateway: Option<String>,
    pub authorization_code: Option<String>,
    pub amount: Price,
    pub test: bool,
    /// Epoch milliseconds.
    pub processed_at: i64,
}

/// When an order becomes visible to `orders` searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexGate {
    Immediate,
    /// After this many more searches.
    AfterSearch(u64),
    At(Instant),
}

/// An order as the emulated shop stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: u64,
    pub number: u64,
    pub name: String,
    pub currency: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub processed_at: i64,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub note: Option<String>,
    pub tags: Vec<String>,
    pub source_identifier: Option<String>,
    pub source_name: Option<String>,
    pub custom_attributes: Vec<(String, String)>,
    pub test: bool,
    pub taxes_included: bool,
    pub lines: Vec<OrderLine>,
    pub shipping_lines: Vec<OrderShippingLine>,
    /// Order tax lines: line and shipping taxes summed per title and rate.
    pub tax_lines: Vec<TaxAmount>,
    pub transactions: Vec<Transaction>,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    pub discount_code: Option<String>,
    /// `OrderDisplayFinancialStatus`.
    pub financial_status: String,
    pub inventory_behaviour: InventoryBehaviour,
    pub subtotal: Price,
    pub total_discounts: Price,
    pub total_shipping: Price,
    pub total_tax: Price,
    pub total: Price,
    /// Epoch milliseconds; moves forward on every change to the order.
    pub updated_at: i64,
    pub cancelled_at: Option<i64>,
    pub cancel_reason: Option<CancelReason>,
    pub closed_at: Option<i64>,
    pub fulfillment_orders: Vec<FulfillmentOrder>,
    pub fulfillments: Vec<Fulfillment>,
    pub refunds: Vec<Refund>,
    pub(crate) index_gate: IndexGate,
}

impl Order {
    /// The GID, e.g. `gid://shopify/Order/6100000000001`.
    pub fn gid(&self) -> String {
        format!("gid://shopify/Order/{}", self.id)
    }
}

/// The shop's orders.
#[derive(Debug)]
pub(crate) struct OrderBook {
    orders: Vec<Order>,
    next_number: u64,
    next_line_id: u64,
    next_transaction_id: u64,
    next_object_id: u64,
    /// Last `updatedAt` handed out (strictly increasing).
    last_stamp: i64,
    /// Ids of the jobs `orderCancel` started (they finish at once).
    pub(crate) jobs: Vec<u64>,
    /// `orders` searches run so far (the clock of [`IndexGate::AfterSearch`]).
    searches: AtomicU64,
}

impl Default for OrderBook {
    fn default() -> Self {
        OrderBook {
            orders: Vec::new(),
            next_number: FIRST_ORDER_NUMBER,
            next_line_id: LINE_ID_BASE + 1,
            next_transaction_id: TRANSACTION_ID_BASE + 1,
            next_object_id: OBJECT_ID_BASE + 1,
            last_stamp: 0,
            jobs: Vec::new(),
            searches: AtomicU64::new(0),
        }
    }
}

impl OrderBook {
    /// Every order, oldest first.
    pub(crate) fn all(&self) -> &[Order] {
        &self.orders
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Order> {
        self.orders.iter().find(|o| o.id == id)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Order> {
        self.orders.iter_mut().find(|o| o.id == id)
    }

    /// The order owning a fulfillment, fulfillment order or refund id.
    pub(crate) fn owner_of(&self, object_id: u64) -> Option<u64> {
        self.orders
            .iter()
            .find(|o| {
                o.fulfillments.iter().any(|f| f.id == object_id)
                    || o.fulfillment_orders.iter().any(|f| f.id == object_id)
                    || o.refunds.iter().any(|r| r.id == object_id)
            })
            .map(|o| o.id)
    }

    /// A fresh id for a lifecycle object (fulfillment, refund, job, …).
    pub(crate) fn next_id(&mut self) -> u64 {
        let id = self.next_object_id;
        self.next_object_id += 1;
        id
    }

    /// A fresh transaction id (refund transactions).
    pub(crate) fn next_transaction_id(&mut self) -> u64 {
        let id = self.next_transaction_id;
        self.next_transaction_id += 1;
        id
    }

    /// The next `updatedAt`: wall-clock milliseconds, strictly after the
    /// previous stamp, so `updated_at:>` searches see every change.
    pub(crate) fn stamp(&mut self) -> i64 {
        let now = chrono::Utc::now().timestamp_millis();
        self.last_stamp = now.max(self.last_stamp + 1);
        self.last_stamp
    }

    /// One open fulfillment order covering every unit of `lines`.
    pub(crate) fn initial_fulfillment_order(
        &mut self,
        lines: &[OrderLine],
        at: i64,
    ) -> FulfillmentOrder {
        let id = self.next_id();
        let lines = lines
            .iter()
            .map(|l| FulfillmentOrderLine {
                id: self.next_id(),
                line_id: l.id,
                total: l.quantity,
                remaining: l.quantity,
            })
            .collect();
        FulfillmentOrder {
            id,
            status: FulfillmentOrderStatus::Open,
            lines,
            created_at: at,
            updated_at: at,
        }
    }

    /// Starts one search: the orders it may see (indexed ones).
    pub(crate) fn searchable(&self) -> impl Iterator<Item = &Order> {
        let search = self.searches.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        self.orders.iter().filter(move |o| match o.index_gate {
            IndexGate::Immediate => true,
            IndexGate::AfterSearch(n) => search > n,
            IndexGate::At(at) => now >= at,
        })
    }

    /// Reserves the next order number and `lines` line ids and
    /// `transactions` transaction ids.
    pub(crate) fn reserve(&mut self, lines: usize, transactions: usize) -> Reserved {
        let number = self.next_number;
        self.next_number += 1;
        let line_ids = (0..lines as u64).map(|i| self.next_line_id + i).collect();
        self.next_line_id += lines as u64;
        let transaction_ids = (0..transactions as u64)
            .map(|i| self.next_transaction_id + i)
            .collect();
        self.next_transaction_id += transactions as u64;
        Reserved {
            id: ORDER_ID_BASE + number,
            number,
            line_ids,
            transaction_ids,
        }
    }

    /// Stores a new order.
    pub(crate) fn push(&mut self, order: Order) {
        self.orders.push(order);
    }

    /// When an order created now becomes searchable.
    pub(crate) fn gate(&self, delay: Option<IndexDelay>) -> IndexGate {
        match delay {
            None => IndexGate::Immediate,
            Some(IndexDelay::Searches(n)) => {
                IndexGate::AfterSearch(self.searches.load(Ordering::Relaxed) + u64::from(n))
            }
            Some(IndexDelay::For(d)) => IndexGate::At(Instant::now() + d),
        }
    }
}

/// Ids reserved for one new order.
pub(crate) struct Reserved {
    pub id: u64,
    pub number: u64,
    pub line_ids: Vec<u64>,
    pub transaction_ids: Vec<u64>,
}
