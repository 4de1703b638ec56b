//! Stripe's test PaymentMethods (`pm_card_visa`, `pm_card_chargeDeclined…`)
//! and the outcome each one produces when a payment is confirmed.

/// Why a test card is declined: `code`, `decline_code` and the
/// buyer-facing message Stripe answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decline {
    pub code: &'static str,
    pub decline_code: &'static str,
    pub message: &'static str,
}

/// One test PaymentMethod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TestCard {
    pub id: &'static str,
    pub brand: &'static str,
    pub last4: &'static str,
    pub funding: &'static str,
    pub decline: Option<Decline>,
}

const DECLINED: &str = "Your card was declined.";

const fn ok(
    id: &'static str,
    brand: &'static str,
    last4: &'static str,
    funding: &'static str,
) -> TestCard {
    TestCard {
        id,
        brand,
        last4,
        funding,
        decline: None,
    }
}

const fn declined(
    id: &'static str,
    last4: &'static str,
    code: &'static str,
    decline_code: &'static str,
    message: &'static str,
) -> TestCard {
    TestCard {
        id,
        brand: "visa",
        last4,
        funding: "credit",
        decline: Some(Decline {
            code,
            decline_code,
            message,
        }),
    }
}

/// The test PaymentMethods the emulator knows.
pub(crate) const TEST_CARDS: [TestCard; 14] = [
    ok("pm_card_visa", "visa", "4242", "credit"),
    ok("pm_card_visa_debit", "visa", "5556", "debit"),
    ok("pm_card_mastercard", "mastercard", "4444", "credit"),
    ok("pm_card_amex", "amex", "8431", "credit"),
    declined(
        "pm_card_chargeDeclined",
        "0002",
        "card_declined",
        "generic_decline",
        DECLINED,
    ),
    declined(
        "pm_card_visa_chargeDeclined",
        "0002",
        "card_declined",
        "generic_decline",
        DECLINED,
    ),
    declined(
        "pm_card_chargeDeclinedInsufficientFunds",
        "9995",
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    declined(
        "pm_card_chargeDeclinedLostCard",
        "9987",
        "card_declined",
        "lost_card",
        DECLINED,
    ),
    declined(
        "pm_card_chargeDeclinedStolenCard",
        "9979",
        "card_declined",
        "stolen_card",
        DECLINED,
    ),
    declined(
        "pm_card_chargeDeclinedFraudulent",
        "0019",
        "card_declined",
        "fraudulent",
        DECLINED,
    ),
    declined(
        "pm_card_chargeDeclinedExpiredCard",
        "0069",
        "expired_card",
        "expired_card",
        "Your card has expired.",
    ),
    declined(
        "pm_card_chargeDeclinedIncorrectCvc",
        "0127",
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
    declined(
        "pm_card_chargeDeclinedProcessingError",
        "0119",
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    declined(
        "pm_card_chargeDeclinedVelocityLimitExceeded",
        "6975",
        "card_declined",
        "card_velocity_exceeded",
        "Your card was declined for making repeated attempts too frequently or exceeding its amount limit.",
    ),
];

/// The test card with this id.
pub(crate) fn find(id: &str) -> Option<&'static TestCard> {
    TEST_CARDS.iter().find(|c| c.id == id)
}
