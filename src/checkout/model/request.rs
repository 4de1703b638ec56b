//! What the agent asked for, parsed from either wire version. These are
//! inputs to the service, not stored state; the complete request holds the
//! payment token and is deliberately not serialisable.

use std::fmt;
use std::num::NonZeroU32;

use secrecy::SecretString;
use serde_json::{Map, Number, Value};

use super::{AgentCapabilities, FulfillmentContact, FulfillmentKind};
use crate::domain::{Buyer, Currency, PostalAddress};

/// A change to one field of a session in an update request.
///
/// ACP distinguishes an absent key (leave the field alone) from `null`
/// (clear it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// The key was absent.
    #[default]
    Keep,
    /// The key was `null`.
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    /// Applies the change to `current`.
    pub fn apply_to(self, current: &mut Option<T>) {
        match self {
            Patch::Keep => {}
            Patch::Clear => *current = None,
            Patch::Set(value) => *current = Some(value),
        }
    }

    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }

    pub fn as_ref(&self) -> Patch<&T> {
        match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(v),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(f(v)),
        }
    }
}

/// How many units of an item the agent asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestedQuantity {
    /// A whole number of units.
    Units(NonZeroU32),
    /// A decimal quantity ≥ 1 such as `2.5`, kept exactly as sent. Only
    /// 2025-09-29 (whose schema upstream now types quantity as a positive
    /// number) produces it; the service decides whether it can sell it.
    Fractional(Number),
}

impl RequestedQuantity {
    /// The whole number of units, `None` for a fractional quantity.
    pub fn units(&self) -> Option<u32> {
        match self {
            RequestedQuantity::Units(n) => Some(n.get()),
            RequestedQuantity::Fractional(_) => None,
        }
    }
}

/// One item the agent wants: the feed item id and a quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestedLine {
    pub item_id: String,
    pub quantity: RequestedQuantity,
}

/// The agent's choice of a fulfillment option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentSelection {
    pub option_id: String,
    /// The option type the agent named (2026-04-17); `None` when absent or
    /// a type the bridge does not offer (pickup, local delivery).
    pub kind: Option<FulfillmentKind>,
    /// Line or item ids the choice applies to; empty means the whole cart
    /// (2025-09-29 always selects for the whole cart).
    pub item_ids: Vec<String>,
}

/// `POST /checkout_sessions`. `Debug` leaves out notes and metadata.
#[derive(Clone, PartialEq)]
pub struct CreateSession {
    /// At least one line.
    pub lines: Vec<RequestedLine>,
    pub buyer: Option<Buyer>,
    pub fulfillment_contact: Option<FulfillmentContact>,
    pub address: Option<PostalAddress>,
    /// Required by 2026-04-17; 2025-09-29 has no currency on create.
    pub currency: Option<Currency>,
    pub agent_capabilities: AgentCapabilities,
    /// Not in any schema for create, accepted when an agent sends it.
    pub fulfillment_selection: Vec<FulfillmentSelection>,
    /// Codes from `discounts.codes` and the deprecated `coupons`, deduplicated.
    pub discount_codes: Vec<String>,
    pub locale: Option<String>,
    pub metadata: Map<String, Value>,
    pub order_notes: Option<String>,
}

/// `POST /checkout_sessions/{id}`: every field optional. `Debug` leaves
/// out the notes.
#[derive(Clone, Default, PartialEq)]
pub struct UpdateSession {
    /// Replaces the cart when present (cannot be cleared).
    pub lines: Option<Vec<RequestedLine>>,
    pub buyer: Patch<Buyer>,
    pub fulfillment_contact: Patch<FulfillmentContact>,
    pub address: Patch<PostalAddress>,
    pub fulfillment_selection: Patch<Vec<FulfillmentSelection>>,
    /// `Set(vec![])` clears codes as well, per the discount extension.
    pub discount_codes: Patch<Vec<String>>,
    pub order_notes: Patch<String>,
}

/// `POST /checkout_sessions/{id}/complete`. `Debug` shows no token and no
/// notes.
#[derive(Clone)]
pub struct CompleteSession {
    pub payment: PaymentData,
    pub buyer: Option<Buyer>,
    /// 3-D Secure outcome (2026-04-17).
    pub authentication_result: Option<AuthenticationResult>,
    pub order_notes: Option<String>,
}

impl fmt::Debug for CreateSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateSession")
            .field("lines", &self.lines)
            .field("buyer", &self.buyer)
            .field("fulfillment_contact", &self.fulfillment_contact)
            .field("address", &self.address)
            .field("currency", &self.currency)
            .field("agent_capabilities", &self.agent_capabilities)
            .field("fulfillment_selection", &self.fulfillment_selection)
            .field("discount_codes", &self.discount_codes.len())
            .field("locale", &self.locale)
            .field("metadata_keys", &self.metadata.len())
            .field("has_order_notes", &self.order_notes.is_some())
            .finish()
    }
}

impl fmt::Debug for UpdateSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateSession")
            .field("lines", &self.lines)
            .field("buyer", &self.buyer)
            .field("fulfillment_contact", &self.fulfillment_contact)
            .field("address", &self.address)
            .field("fulfillment_selection", &self.fulfillment_selection)
            .field(
                "discount_codes",
                &self.discount_codes.as_ref().map(Vec::len),
            )
            .field("order_notes", &self.order_notes.as_ref().map(|_| "…"))
            .finish()
    }
}

impl fmt::Debug for CompleteSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompleteSession")
            .field("payment", &self.payment)
            .field("buyer", &self.buyer)
            .field("authentication_result", &self.authentication_result)
            .field("has_order_notes", &self.order_notes.is_some())
            .finish()
    }
}

/// How the agent pays.
// One value per complete request, never stored in bulk: boxing the larger
// variant would only make matching on it clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum PaymentData {
    /// A delegated credential (Stripe shared payment token).
    Credential(PaymentCredential),
    /// The 2026-04-17 B2B form: a purchase order, no token.
    PurchaseOrder(PurchaseOrder),
}

/// A delegated payment credential. `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct PaymentCredential {
    /// The token (`spt_…`).
    pub token: SecretString,
    /// 2025-09-29: the PSP the token belongs to (`stripe`).
    pub provider: Option<String>,
    /// 2026-04-17: which of our advertised handlers the agent used.
    pub handler_id: Option<String>,
    /// 2026-04-17: `card`, `seller_backed_saved_card`, …
    pub instrument_type: Option<String>,
    /// 2026-04-17: `spt`, …
    pub credential_type: Option<String>,
    pub billing_address: Option<PostalAddress>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseOrder {
    pub number: String,
    /// `immediate`, `net_30`, … as sent.
    pub payment_terms: Option<String>,
}

/// The 3-D Secure outcome the agent obtained from the issuer.
#[derive(Debug, Clone)]
pub struct AuthenticationResult {
    pub outcome: AuthenticationOutcome,
    pub details: Option<AuthenticationDetails>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticationOutcome {
    Abandoned,
    AttemptAcknowledged,
    Authenticated,
    Canceled,
    Denied,
    Informational,
    InternalError,
    NotSupported,
    ProcessingError,
    Rejected,
    /// A value newer than this bridge, kept as sent.
    Other(String),
}

impl AuthenticationOutcome {
    /// Parses leniently: unknown values become [`AuthenticationOutcome::Other`].
    pub fn parse(value: &str) -> Self {
        match value {
            "abandoned" => AuthenticationOutcome::Abandoned,
            "attempt_acknowledged" => AuthenticationOutcome::AttemptAcknowledged,
            "authenticated" => AuthenticationOutcome::Authenticated,
            "canceled" => AuthenticationOutcome::Canceled,
            "denied" => AuthenticationOutcome::Denied,
            "informational" => AuthenticationOutcome::Informational,
            "internal_error" => AuthenticationOutcome::InternalError,
            "not_supported" => AuthenticationOutcome::NotSupported,
            "processing_error" => AuthenticationOutcome::ProcessingError,
            "rejected" => AuthenticationOutcome::Rejected,
            other => AuthenticationOutcome::Other(other.to_owned()),
        }
    }

    /// Outcomes the spec says must carry `outcome_details`.
    pub fn requires_details(&self) -> bool {
        matches!(
            self,
            AuthenticationOutcome::Authenticated
                | AuthenticationOutcome::Informational
                | AuthenticationOutcome::AttemptAcknowledged
        )
    }
}

/// 3-D Secure data to pass to the PSP. The cryptogram is a secret.
#[derive(Debug, Clone)]
pub struct AuthenticationDetails {
    pub cryptogram: Option<SecretString>,
    /// Electronic commerce indicator (`05`).
    pub eci: Option<String>,
    pub transaction_id: Option<String>,
    /// 3-D Secure protocol version (`2.2.0`).
    pub version: Option<String>,
}

/// `POST /checkout_sessions/{id}/cancel`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CancelSession {
    pub intent_trace: Option<IntentTrace>,
}

/// Why the buyer walked away (2026-04-17 analytics).
#[derive(Debug, Clone, PartialEq)]
pub struct IntentTrace {
    pub reason: CancelReason,
    /// At most 500 characters (longer summaries are cut).
    pub summary: Option<String>,
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelReason {
    PriceSensitivity,
    ShippingCost,
    ShippingSpeed,
    ProductFit,
    TrustSecurity,
    ReturnsPolicy,
    PaymentOptions,
    Comparison,
    TimingDeferred,
    /// `other`, and every value this bridge does not know (the spec asks
    /// servers to treat unknown reasons as `other`).
    Other,
}

impl CancelReason {
    /// Parses leniently: unknown values become [`CancelReason::Other`].
    pub fn parse(value: &str) -> Self {
        match value {
            "price_sensitivity" => CancelReason::PriceSensitivity,
            "shipping_cost" => CancelReason::ShippingCost,
            "shipping_speed" => CancelReason::ShippingSpeed,
            "product_fit" => CancelReason::ProductFit,
            "trust_security" => CancelReason::TrustSecurity,
            "returns_policy" => CancelReason::ReturnsPolicy,
            "payment_options" => CancelReason::PaymentOptions,
            "comparison" => CancelReason::Comparison,
            "timing_deferred" => CancelReason::TimingDeferred,
            _ => CancelReason::Other,
        }
    }

    /// The wire value (a fixed set, safe as a metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::PriceSensitivity => "price_sensitivity",
            CancelReason::ShippingCost => "shipping_cost",
            CancelReason::ShippingSpeed => "shipping_speed",
            CancelReason::ProductFit => "product_fit",
            CancelReason::TrustSecurity => "trust_security",
            CancelReason::ReturnsPolicy => "returns_policy",
            CancelReason::PaymentOptions => "payment_options",
            CancelReason::Comparison => "comparison",
            CancelReason::TimingDeferred => "timing_deferred",
            CancelReason::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_keep_clear_or_set_a_field() {
        let mut field = Some(1);
        Patch::Keep.apply_to(&mut field);
        assert_eq!(field, Some(1));
        Patch::Set(2).apply_to(&mut field);
        assert_eq!(field, Some(2));
        Patch::Clear.apply_to(&mut field);
        assert_eq!(field, None);
    }
}
