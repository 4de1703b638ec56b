//! Sample sessions in the states the service produces, and a seller.

use chrono::{TimeZone, Utc};
use serde_json::{Map, json};
use url::Url;

use crate::checkout::model::{
    AddressField, AgentCapabilities, AppliedDiscount, AuthenticationMetadata, DirectoryServer,
    DiscountRejection, Discounts, ErrorCode, FlowPreference, FulfillmentContact, FulfillmentKind,
    FulfillmentOption, InterventionType, LineAvailability, Link, LinkKind, Message, MessageTarget,
    OrderRef, RejectedDiscount, Resolution, Session, SessionLine, SessionStatus, StockStatus,
    Totals, WarningCode,
};
use crate::checkout::version::ApiVersion;
use crate::checkout::wire::{SellerContext, SellerExtension};
use crate::domain::{Buyer, CountryCode, Currency, Money, PostalAddress, ShopId, ShopPolicies};

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::USD)
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

pub fn seller() -> SellerContext {
    let policies = ShopPolicies {
        refund: Some(url("https://shop.example/policies/refund-policy")),
        privacy: Some(url("https://shop.example/policies/privacy-policy")),
        terms: Some(url("https://shop.example/policies/terms-of-service")),
        shipping: Some(url("https://shop.example/policies/shipping-policy")),
    };
    let mut seller = SellerContext::stripe("acct_1234567890", Link::from_policies(&policies));
    seller.extensions.push(SellerExtension {
        name: "discount".into(),
        spec: Some(url("https://agenticcommerce.dev/specs/discount")),
        schema: None,
    });
    // A seller that can run 3-D Secure, to exercise the intersection; the
    // daemon's own seller offers no interventions yet.
    seller
        .interventions
        .push(crate::checkout::model::InterventionType::ThreeDs);
    seller
}

pub fn address() -> PostalAddress {
    PostalAddress {
        name: "Jane Doe".into(),
        company: Some("Doe Ltd".into()),
        line_one: "555 Golden Gate Avenue".into(),
        line_two: Some("Apt 401".into()),
        city: "San Francisco".into(),
        state: "CA".into(),
        country: CountryCode::parse("US").unwrap(),
        postal_code: "94102".into(),
        phone_number: Some("+14155550123".into()),
    }
}

fn line(id: &str, item: &str, quantity: u32, unit: i64, tax: i64) -> SessionLine {
    let base = unit * i64::from(quantity);
    SessionLine {
        id: id.into(),
        item_id: item.into(),
        quantity,
        title: format!("Item {item}"),
        description: Some("A thing".into()),
        image_url: Some(url("https://cdn.shop.example/i.jpg")),
        sku: Some(format!("SKU-{item}")),
        unit_amount: usd(unit),
        base_amount: usd(base),
        discount: usd(0),
        subtotal: usd(base),
        tax: usd(tax),
        total: usd(base + tax),
        availability: Some(LineAvailability {
            status: StockStatus::InStock,
            available_quantity: Some(12),
        }),
    }
}

fn options() -> Vec<FulfillmentOption> {
    vec![
        FulfillmentOption {
            id: "ship_standard".into(),
            kind: FulfillmentKind::Shipping,
            title: "Standard".into(),
            subtitle: Some("Arrives in 4-5 days".into()),
            carrier: Some("USPS".into()),
            earliest_delivery: Some(Utc.with_ymd_and_hms(2026, 5, 4, 0, 0, 0).unwrap()),
            latest_delivery: Some(Utc.with_ymd_and_hms(2026, 5, 5, 0, 0, 0).unwrap()),
            subtotal: usd(500),
            tax: usd(0),
            total: usd(500),
        },
        FulfillmentOption {
            id: "ship_express".into(),
            kind: FulfillmentKind::Shipping,
            title: "Express".into(),
            subtitle: None,
            carrier: None,
            earliest_delivery: None,
            latest_delivery: None,
            subtotal: usd(1500),
            tax: usd(120),
            total: usd(1620),
        },
        FulfillmentOption {
            id: "digital".into(),
            kind: FulfillmentKind::Digital,
            title: "Download".into(),
            subtitle: Some("Instant".into()),
            carrier: None,
            earliest_delivery: None,
            latest_delivery: None,
            subtotal: usd(0),
            tax: usd(0),
            total: usd(0),
        },
    ]
}

/// Just created: two lines, no buyer, no address, nothing selected.
pub fn fresh() -> Session {
    let lines = vec![
        line("li_1", "45001", 2, 2500, 0),
        line("li_2", "45002", 1, 1000, 0),
    ];
    let mut totals = Totals::zero(Currency::USD);
    totals.items_base_amount = usd(6000);
    totals.subtotal = usd(6000);
    totals.total = usd(6000);
    let created = Utc.with_ymd_and_hms(2026, 4, 30, 12, 0, 0).unwrap();
    Session {
        id: "cs_fresh".into(),
        shop: ShopId::parse("demo").unwrap(),
        created_with: ApiVersion::V2026_04_17,
        status: SessionStatus::NotReadyForPayment,
        currency: Currency::USD,
        lines,
        buyer: None,
        fulfillment_contact: None,
        address: None,
        fulfillment_options: Vec::new(),
        selected_fulfillment: None,
        totals,
        messages: vec![Message::error(
            ErrorCode::Missing,
            MessageTarget::FulfillmentAddress,
            "A shipping address is required.",
        )],
        links: Vec::new(),
        discounts: Discounts::default(),
        agent_capabilities: AgentCapabilities::default(),
        authentication: None,
        order: None,
        order_notes: None,
        locale: None,
        metadata: Map::new(),
        created_at: created,
        updated_at: created,
        expires_at: Some(Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()),
        continue_url: Some("https://shop.example/cart/123:2".parse().unwrap()),
    }
}

/// Address known, options offered, standard shipping selected, taxed.
pub fn ready() -> Session {
    let mut s = fresh();
    s.id = "cs_ready".into();
    s.status = SessionStatus::ReadyForPayment;
    s.lines = vec![
        line("li_1", "45001", 2, 2500, 400),
        line("li_2", "45002", 1, 1000, 80),
    ];
    s.buyer = Some(Buyer {
        email: Some("jane@example.com".into()),
        first_name: Some("Jane".into()),
        last_name: Some("Doe".into()),
        phone_number: Some("+14155550123".into()),
    });
    s.fulfillment_contact = Some(FulfillmentContact {
        name: Some("Jane Doe".into()),
        email: Some("jane@example.com".into()),
        phone_number: None,
    });
    s.address = Some(address());
    s.fulfillment_options = options();
    s.selected_fulfillment = Some("ship_standard".into());
    s.totals = Totals {
        items_base_amount: usd(6000),
        items_discount: usd(0),
        subtotal: usd(6000),
        discount: usd(0),
        fulfillment: Some(usd(500)),
        tax: Some(usd(480)),
        fee: None,
        total: usd(6980),
    };
    s.messages = vec![
        Message::info("Prop 65 warning: this product contains chemicals."),
        Message::warning(
            WarningCode::LowStock,
            MessageTarget::Line(1),
            "Only 2 left in stock.",
        ),
    ];
    s.agent_capabilities = AgentCapabilities {
        interventions: vec![InterventionType::ThreeDs, InterventionType::Biometric],
        payment_handlers: None,
        extensions: vec!["discount".into()],
    };
    s.discounts = Discounts {
        codes: vec!["SAVE10".into(), "BOGUS".into()],
        applied: vec![AppliedDiscount {
            id: "disc_1".into(),
            code: Some("SAVE10".into()),
            title: "10% off".into(),
            amount: usd(0),
            automatic: false,
        }],
        rejected: vec![RejectedDiscount {
            code: "BOGUS".into(),
            reason: DiscountRejection::Invalid,
            message: Some("Unknown code".into()),
        }],
    };
    s.locale = Some("en-US".into());
    s.metadata.insert("agent_ref".into(), json!("abc"));
    s.links.push(Link {
        kind: LinkKind::Support,
        url: url("https://shop.example/pages/contact"),
        title: None,
    });
    s
}

/// Not ready: one error message for every target and every error code.
pub fn with_errors() -> Session {
    let mut s = ready();
    s.id = "cs_errors".into();
    s.status = SessionStatus::NotReadyForPayment;
    s.selected_fulfillment = None;
    s.totals.fulfillment = None;
    s.lines[0].availability = Some(LineAvailability {
        status: StockStatus::OutOfStock,
        available_quantity: Some(0),
    });
    let targets = [
        MessageTarget::None,
        MessageTarget::Line(0),
        MessageTarget::LineQuantity(1),
        MessageTarget::FulfillmentAddress,
        MessageTarget::FulfillmentAddressField(AddressField::PostalCode),
        MessageTarget::FulfillmentOption,
        MessageTarget::Buyer,
        MessageTarget::BuyerEmail,
        MessageTarget::BuyerPhone,
        MessageTarget::Payment,
        MessageTarget::DiscountCode(1),
        MessageTarget::AuthenticationResult,
    ];
    s.messages = ErrorCode::ALL
        .iter()
        .zip(targets.iter().cycle())
        .map(|(code, target)| {
            Message::error(*code, *target, format!("problem: {}", code.as_str()))
                .with_resolution(Resolution::RequiresBuyerInput)
        })
        .collect();
    s
}

/// Waiting for 3-D Secure.
pub fn authentication_required() -> Session {
    let mut s = ready();
    s.id = "cs_3ds".into();
    s.status = SessionStatus::AuthenticationRequired;
    s.authentication = Some(AuthenticationMetadata {
        acquirer_bin: "411111".into(),
        acquirer_country: "US".into(),
        acquirer_merchant_id: "acq_123".into(),
        merchant_name: "Demo Shop".into(),
        requestor_id: None,
        directory_server: DirectoryServer::Visa,
        flow_preference: Some(FlowPreference::Challenge),
    });
    s
}

/// Completed with an order.
pub fn completed() -> Session {
    let mut s = ready();
    s.id = "cs_done".into();
    s.status = SessionStatus::Completed;
    s.messages.clear();
    s.order_notes = Some("Ring twice".into());
    s.order = Some(OrderRef {
        id: "ord_1".into(),
        number: Some("#1001".into()),
        permalink_url: url("https://shop.example/orders/ord_1"),
        confirmation_email_sent: Some(true),
    });
    s
}

/// Canceled by the agent.
pub fn canceled() -> Session {
    let mut s = ready();
    s.id = "cs_canceled".into();
    s.status = SessionStatus::Canceled;
    s.messages = vec![Message::info("Checkout session has been canceled.")];
    s
}

/// Expired without being completed.
pub fn expired() -> Session {
    let mut s = fresh();
    s.id = "cs_expired".into();
    s.status = SessionStatus::Expired;
    s
}

/// A buyer known only by email (2025-09-29 cannot show it).
pub fn partial_buyer() -> Session {
    let mut s = fresh();
    s.id = "cs_partial".into();
    s.buyer = Some(Buyer {
        email: Some("only@example.com".into()),
        ..Buyer::default()
    });
    s.fulfillment_contact = Some(FulfillmentContact {
        name: None,
        email: Some("only@example.com".into()),
        phone_number: Some("+15550000000".into()),
    });
    s
}

/// Every fixture with its name.
pub fn all() -> Vec<(&'static str, Session)> {
    vec![
        ("fresh", fresh()),
        ("ready", ready()),
        ("with_errors", with_errors()),
        ("authentication_required", authentication_required()),
        ("completed", completed()),
        ("canceled", canceled()),
        ("expired", expired()),
        ("partial_buyer", partial_buyer()),
    ]
}
