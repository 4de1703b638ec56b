//! Buyer-facing session messages. A message names what it is about with a
//! version-neutral [`MessageTarget`]; each wire adapter turns the target into
//! the JSONPath its version uses, and each message code into one that
//! version defines.

use serde::{Deserialize, Serialize};

/// One message shown with the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub kind: MessageKind,
    pub target: MessageTarget,
    /// Plain text (never markdown, never HTML).
    pub content: String,
    /// Who can resolve it (2026-04-17 only; ignored by older versions).
    #[serde(default)]
    pub resolution: Option<Resolution>,
}

impl Message {
    /// An informational message about the whole session.
    pub fn info(content: impl Into<String>) -> Self {
        Message {
            kind: MessageKind::Info,
            target: MessageTarget::None,
            content: content.into(),
            resolution: None,
        }
    }

    /// A non-blocking warning about `target`.
    pub fn warning(code: WarningCode, target: MessageTarget, content: impl Into<String>) -> Self {
        Message {
            kind: MessageKind::Warning(code),
            target,
            content: content.into(),
            resolution: None,
        }
    }

    /// A problem that keeps the session from being paid, about `target`.
    pub fn error(code: ErrorCode, target: MessageTarget, content: impl Into<String>) -> Self {
        Message {
            kind: MessageKind::Error(code),
            target,
            content: content.into(),
            resolution: None,
        }
    }

    /// Sets who resolves the message.
    #[must_use]
    pub fn with_resolution(mut self, resolution: Resolution) -> Self {
        self.resolution = Some(resolution);
        self
    }

    pub fn is_error(&self) -> bool {
        matches!(self.kind, MessageKind::Error(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Info,
    /// 2025-09-29 has no warnings: rendered there as info.
    Warning(WarningCode),
    Error(ErrorCode),
}

/// What a message is about, independent of any version's field names.
/// Line indexes refer to [`super::Session::lines`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageTarget {
    /// The session as a whole (no `param`).
    None,
    Line(usize),
    LineQuantity(usize),
    FulfillmentAddress,
    FulfillmentAddressField(AddressField),
    /// The fulfillment option selection.
    FulfillmentOption,
    Buyer,
    BuyerEmail,
    BuyerPhone,
    Payment,
    /// The n-th submitted discount code (2026-04-17 only).
    DiscountCode(usize),
    /// The 3-D Secure result on complete (2026-04-17 only).
    AuthenticationResult,
}

/// A field of a postal address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressField {
    Name,
    LineOne,
    LineTwo,
    City,
    State,
    Country,
    PostalCode,
}

impl AddressField {
    /// The field name ACP uses in every version.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressField::Name => "name",
            AddressField::LineOne => "line_one",
            AddressField::LineTwo => "line_two",
            AddressField::City => "city",
            AddressField::State => "state",
            AddressField::Country => "country",
            AddressField::PostalCode => "postal_code",
        }
    }
}

/// Who can resolve a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The agent can fix it through the API.
    Recoverable,
    RequiresBuyerInput,
    RequiresBuyerReview,
}

/// Warning codes (2026-04-17 set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    LowStock,
    HighDemand,
    ShippingDelay,
    PriceChange,
    ExpiringPromotion,
    LimitedAvailability,
    DiscountCodeExpired,
    DiscountCodeInvalid,
    DiscountCodeAlreadyApplied,
    DiscountCodeCombinationDisallowed,
    DiscountCodeMinimumNotMet,
    DiscountCodeUserNotLoggedIn,
    DiscountCodeUserIneligible,
    DiscountCodeUsageLimitReached,
}

impl WarningCode {
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::LowStock => "low_stock",
            WarningCode::HighDemand => "high_demand",
            WarningCode::ShippingDelay => "shipping_delay",
            WarningCode::PriceChange => "price_change",
            WarningCode::ExpiringPromotion => "expiring_promotion",
            WarningCode::LimitedAvailability => "limited_availability",
            WarningCode::DiscountCodeExpired => "discount_code_expired",
            WarningCode::DiscountCodeInvalid => "discount_code_invalid",
            WarningCode::DiscountCodeAlreadyApplied => "discount_code_already_applied",
            WarningCode::DiscountCodeCombinationDisallowed => {
                "discount_code_combination_disallowed"
            }
            WarningCode::DiscountCodeMinimumNotMet => "discount_code_minimum_not_met",
            WarningCode::DiscountCodeUserNotLoggedIn => "discount_code_user_not_logged_in",
            WarningCode::DiscountCodeUserIneligible => "discount_code_user_ineligible",
            WarningCode::DiscountCodeUsageLimitReached => "discount_code_usage_limit_reached",
        }
    }
}

/// Message error codes: the union of both versions' sets. 2025-09-29 knows
/// only the first six; its adapter maps the rest to the nearest of those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Missing,
    Invalid,
    OutOfStock,
    PaymentDeclined,
    RequiresSignIn,
    #[serde(rename = "requires_3ds")]
    Requires3ds,
    LowStock,
    QuantityExceeded,
    CouponInvalid,
    CouponExpired,
    MinimumNotMet,
    MaximumExceeded,
    RegionRestricted,
    AgeVerificationRequired,
    ApprovalRequired,
    Unsupported,
    NotFound,
    Conflict,
    RateLimited,
    Expired,
    InterventionRequired,
}

impl ErrorCode {
    /// The 2026-04-17 wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Missing => "missing",
            ErrorCode::Invalid => "invalid",
            ErrorCode::OutOfStock => "out_of_stock",
            ErrorCode::PaymentDeclined => "payment_declined",
            ErrorCode::RequiresSignIn => "requires_sign_in",
            ErrorCode::Requires3ds => "requires_3ds",
            ErrorCode::LowStock => "low_stock",
            ErrorCode::QuantityExceeded => "quantity_exceeded",
            ErrorCode::CouponInvalid => "coupon_invalid",
            ErrorCode::CouponExpired => "coupon_expired",
            ErrorCode::MinimumNotMet => "minimum_not_met",
            ErrorCode::MaximumExceeded => "maximum_exceeded",
            ErrorCode::RegionRestricted => "region_restricted",
            ErrorCode::AgeVerificationRequired => "age_verification_required",
            ErrorCode::ApprovalRequired => "approval_required",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Expired => "expired",
            ErrorCode::InterventionRequired => "intervention_required",
        }
    }

    /// Every code, for exhaustive tests of the adapters' mappings.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::Missing,
        ErrorCode::Invalid,
        ErrorCode::OutOfStock,
        ErrorCode::PaymentDeclined,
        ErrorCode::RequiresSignIn,
        ErrorCode::Requires3ds,
        ErrorCode::LowStock,
        ErrorCode::QuantityExceeded,
        ErrorCode::CouponInvalid,
        ErrorCode::CouponExpired,
        ErrorCode::MinimumNotMet,
        ErrorCode::MaximumExceeded,
        ErrorCode::RegionRestricted,
        ErrorCode::AgeVerificationRequired,
        ErrorCode::ApprovalRequired,
        ErrorCode::Unsupported,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::Expired,
        ErrorCode::InterventionRequired,
    ];
}
