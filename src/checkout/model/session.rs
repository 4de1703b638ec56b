//! The stored checkout session and its parts.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use super::Message;
use crate::checkout::version::ApiVersion;
use crate::domain::{Buyer, Currency, Money, PostalAddress, ShopId, ShopPolicies};

/// A checkout session: the authoritative cart state every response renders.
///
/// Holds personal data (buyer, address, notes): its `Debug` shows ids and
/// status only.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Our id, chosen by the service (`cs_…`).
    pub id: String,
    pub shop: ShopId,
    /// The API version of the create call (informational; any served version
    /// may read or update the session afterwards).
    pub created_with: ApiVersion,
    pub status: SessionStatus,
    /// Settlement currency of every amount in the session.
    pub currency: Currency,
    /// Priced lines, in the order the agent listed them: message targets
    /// index this list.
    pub lines: Vec<SessionLine>,
    pub buyer: Option<Buyer>,
    /// Who receives the goods, when the agent gave contact details with
    /// the fulfillment details (2026-04-17).
    #[serde(default)]
    pub fulfillment_contact: Option<FulfillmentContact>,
    /// Where the goods ship.
    pub address: Option<PostalAddress>,
    /// Options offered for the current cart and address; empty until known.
    pub fulfillment_options: Vec<FulfillmentOption>,
    /// Id of the selected entry of `fulfillment_options`.
    pub selected_fulfillment: Option<String>,
    pub totals: Totals,
    pub messages: Vec<Message>,
    /// Session-specific links, rendered after the shop's policy links
    /// (usually empty).
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub discounts: Discounts,
    /// What the agent offered at create (2026-04-17 capability negotiation).
    #[serde(default)]
    pub agent_capabilities: AgentCapabilities,
    /// 3-D Secure parameters, present while `status` is
    /// [`SessionStatus::AuthenticationRequired`].
    #[serde(default)]
    pub authentication: Option<AuthenticationMetadata>,
    /// The order created by complete.
    pub order: Option<OrderRef>,
    #[serde(default)]
    pub order_notes: Option<String>,
    /// BCP 47 locale the agent asked for (`en-US`).
    #[serde(default)]
    pub locale: Option<String>,
    /// Agent-supplied metadata, echoed back (2026-04-17).
    #[serde(default)]
    pub metadata: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Where the buyer can finish in the shop itself (a Shopify cart
    /// permalink for the same lines) when in-chat checkout cannot.
    #[serde(default)]
    pub continue_url: Option<Url>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("shop", &self.shop)
            .field("status", &self.status)
            .field("lines", &self.lines.len())
            .field("has_order", &self.order.is_some())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The selected fulfillment option, when the selection names an offered one.
    pub fn selected_option(&self) -> Option<&FulfillmentOption> {
        let id = self.selected_fulfillment.as_deref()?;
        self.fulfillment_options.iter().find(|o| o.id == id)
    }
}

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Something is missing or wrong (address, option, stock); `messages`
    /// say what.
    NotReadyForPayment,
    /// Everything needed to charge is known; complete may be called.
    ReadyForPayment,
    /// Complete needs a 3-D Secure result first (`authentication`).
    AuthenticationRequired,
    /// Complete is charging or placing the order.
    CompleteInProgress,
    Completed,
    Canceled,
    Expired,
}

impl SessionStatus {
    /// Completed, canceled and expired sessions accept no further change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionStatus::Completed | SessionStatus::Canceled | SessionStatus::Expired
        )
    }

    /// Lower-case words for messages (`ready for payment`).
    pub fn describe(self) -> &'static str {
        match self {
            SessionStatus::NotReadyForPayment => "not ready for payment",
            SessionStatus::ReadyForPayment => "ready for payment",
            SessionStatus::AuthenticationRequired => "waiting for authentication",
            SessionStatus::CompleteInProgress => "being completed",
            SessionStatus::Completed => "completed",
            SessionStatus::Canceled => "canceled",
            SessionStatus::Expired => "expired",
        }
    }
}

/// One priced cart line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLine {
    /// Our stable line id; survives updates of the same item.
    pub id: String,
    /// The feed item id the agent sent (the platform variant id).
    pub item_id: String,
    pub quantity: u32,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub image_url: Option<Url>,
    #[serde(default)]
    pub sku: Option<String>,
    /// Price of one unit before discounts.
    pub unit_amount: Money,
    /// `unit_amount × quantity`.
    pub base_amount: Money,
    /// Discount allocated to this line, as a positive amount.
    pub discount: Money,
    /// `base_amount − discount`.
    pub subtotal: Money,
    pub tax: Money,
    /// `subtotal + tax`.
    pub total: Money,
    pub availability: Option<LineAvailability>,
}

/// Stock information for a line, when the platform reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineAvailability {
    pub status: StockStatus,
    pub available_quantity: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockStatus {
    InStock,
    LowStock,
    OutOfStock,
    Backorder,
    PreOrder,
}

/// Contact details for fulfillment. Personal data: never log it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentContact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
}

impl fmt::Debug for FulfillmentContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FulfillmentContact")
            .field("has_email", &self.email.is_some())
            .finish_non_exhaustive()
    }
}

/// How an option delivers the goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentKind {
    Shipping,
    Digital,
}

/// One way of fulfilling the cart, with its price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentOption {
    /// Our id for the option (stable while cart and address are unchanged).
    pub id: String,
    pub kind: FulfillmentKind,
    pub title: String,
    /// Extra line such as "Arrives in 4-5 days".
    pub subtitle: Option<String>,
    /// Shipping only.
    pub carrier: Option<String>,
    /// Shipping only.
    pub earliest_delivery: Option<DateTime<Utc>>,
    /// Shipping only.
    pub latest_delivery: Option<DateTime<Utc>>,
    pub subtotal: Money,
    pub tax: Money,
    pub total: Money,
}

/// Cart-level totals. Discounts are positive amounts that reduce the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Sum of line base amounts.
    pub items_base_amount: Money,
    /// Sum of line discounts.
    pub items_discount: Money,
    /// Items after line discounts.
    pub subtotal: Money,
    /// Order-level discount.
    pub discount: Money,
    /// Price of the selected fulfillment option; `None` until one is selected.
    pub fulfillment: Option<Money>,
    /// `None` until tax can be computed (usually: until an address is known).
    pub tax: Option<Money>,
    /// Fees the shop adds, if any.
    pub fee: Option<Money>,
    pub total: Money,
}

impl Totals {
    /// All-zero totals for an empty or not yet priced cart.
    pub fn zero(currency: Currency) -> Self {
        let zero = Money::new(0, currency);
        Totals {
            items_base_amount: zero,
            items_discount: zero,
            subtotal: zero,
            discount: zero,
            fulfillment: None,
            tax: None,
            fee: None,
            total: zero,
        }
    }
}

/// What a link points at. Each version renders the kinds it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    TermsOfUse,
    PrivacyPolicy,
    ReturnPolicy,
    ShippingPolicy,
    ContactUs,
    AboutUs,
    Faq,
    Support,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub kind: LinkKind,
    pub url: Url,
    pub title: Option<String>,
}

impl Link {
    /// The shop's policy pages as links (terms, privacy, refunds, shipping).
    pub fn from_policies(policies: &ShopPolicies) -> Vec<Link> {
        [
            (LinkKind::TermsOfUse, &policies.terms, "Terms of service"),
            (LinkKind::PrivacyPolicy, &policies.privacy, "Privacy policy"),
            (LinkKind::ReturnPolicy, &policies.refund, "Refund policy"),
            (
                LinkKind::ShippingPolicy,
                &policies.shipping,
                "Shipping policy",
            ),
        ]
        .into_iter()
        .filter_map(|(kind, url, title)| {
            url.as_ref().map(|url| Link {
                kind,
                url: url.clone(),
                title: Some(title.to_owned()),
            })
        })
        .collect()
    }
}

/// The order created by a completed session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRef {
    /// Our order id.
    pub id: String,
    /// The shop's human-readable number (`#1001`).
    pub number: Option<String>,
    /// Where the buyer can see the order.
    pub permalink_url: Url,
    pub confirmation_email_sent: Option<bool>,
}

/// Discount codes and their outcome (2026-04-17 discount extension).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discounts {
    /// Codes the agent submitted, as sent.
    pub codes: Vec<String>,
    pub applied: Vec<AppliedDiscount>,
    pub rejected: Vec<RejectedDiscount>,
}

impl Discounts {
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty() && self.applied.is_empty() && self.rejected.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDiscount {
    /// Our id for this application.
    pub id: String,
    /// The code, `None` for automatic discounts.
    pub code: Option<String>,
    /// The promotion's display name.
    pub title: String,
    /// Positive amount taken off.
    pub amount: Money,
    pub automatic: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedDiscount {
    pub code: String,
    pub reason: DiscountRejection,
    pub message: Option<String>,
}

/// Why a discount code was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountRejection {
    Expired,
    Invalid,
    AlreadyApplied,
    CombinationDisallowed,
    MinimumNotMet,
    UserNotLoggedIn,
    UserIneligible,
    UsageLimitReached,
}

/// Interventions (buyer-facing challenges) a party can handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterventionType {
    #[serde(rename = "3ds")]
    ThreeDs,
    Biometric,
    AddressVerification,
}

impl InterventionType {
    /// The ACP value (`3ds`).
    pub fn as_str(self) -> &'static str {
        match self {
            InterventionType::ThreeDs => "3ds",
            InterventionType::Biometric => "biometric",
            InterventionType::AddressVerification => "address_verification",
        }
    }
}

/// What the agent offered at create (2026-04-17 `capabilities`). Empty for
/// 2025-09-29 sessions, which have no negotiation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCapabilities {
    /// Interventions the agent can present (unknown values dropped).
    pub interventions: Vec<InterventionType>,
    /// Names of the payment handlers the agent offered
    /// (`dev.acp.tokenized.card`); `None` when it did not restrict them.
    pub payment_handlers: Option<Vec<String>>,
    /// Extension names the agent understands (`discount`).
    pub extensions: Vec<String>,
}

/// 3-D Secure parameters for the agent's authentication flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationMetadata {
    pub acquirer_bin: String,
    /// ISO 3166-1 alpha-2.
    pub acquirer_country: String,
    pub acquirer_merchant_id: String,
    pub merchant_name: String,
    pub requestor_id: Option<String>,
    pub directory_server: DirectoryServer,
    pub flow_preference: Option<FlowPreference>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectoryServer {
    AmericanExpress,
    Mastercard,
    Visa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowPreference {
    Challenge,
    Frictionless,
}
