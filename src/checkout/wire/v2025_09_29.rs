//! ACP 2025-09-29, the launch version ChatGPT Instant Checkout speaks.
//!
//! Requests: `items[{id, quantity}]`, `buyer{first_name, last_name, email}`,
//! `fulfillment_address`, `fulfillment_option_id`, `payment_data{token,
//! provider}`; cancel has no body. Responses: flat integer amounts on line
//! items and fulfillment options, `payment_provider`, five statuses, two
//! message types, three link types.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Number, Value, json};

use super::SellerContext;
use super::common::{
    self, JsonPath, WireAddress, WireBillingAddress, WireCancel, convert_patch, patch,
};
use crate::checkout::error::AcpError;
use crate::checkout::model::{
    CancelSession, CompleteSession, CreateSession, ErrorCode, FulfillmentKind, FulfillmentOption,
    FulfillmentSelection, LinkKind, Message, MessageKind, MessageTarget, Patch, PaymentCredential,
    PaymentData, RequestedLine, Session, SessionLine, SessionStatus, UpdateSession,
};
use crate::domain::{Buyer, PostalAddress};

// ---------------------------------------------------------------- requests

#[derive(Deserialize)]
struct WireItem {
    id: String,
    quantity: Number,
}

#[derive(Deserialize)]
struct WireBuyer {
    first_name: String,
    last_name: String,
    email: String,
    phone_number: Option<String>,
}

impl WireBuyer {
    fn into_domain(self) -> Buyer {
        Buyer {
            email: Some(self.email),
            first_name: Some(self.first_name),
            last_name: Some(self.last_name),
            phone_number: self.phone_number,
        }
    }
}

#[derive(Deserialize)]
struct WireCreate {
    items: Vec<WireItem>,
    buyer: Option<WireBuyer>,
    fulfillment_address: Option<WireAddress>,
}

#[derive(Deserialize)]
struct WireUpdate {
    #[serde(default, deserialize_with = "patch")]
    items: Patch<Vec<WireItem>>,
    #[serde(default, deserialize_with = "patch")]
    buyer: Patch<WireBuyer>,
    #[serde(default, deserialize_with = "patch")]
    fulfillment_address: Patch<WireAddress>,
    #[serde(default, deserialize_with = "patch")]
    fulfillment_option_id: Patch<String>,
}

#[derive(Deserialize)]
struct WireComplete {
    buyer: Option<WireBuyer>,
    payment_data: WirePaymentData,
}

#[derive(Deserialize)]
struct WirePaymentData {
    token: SecretString,
    provider: String,
    billing_address: Option<WireBillingAddress>,
}

fn items_path() -> JsonPath {
    JsonPath::root().key("items")
}

fn address_path() -> JsonPath {
    JsonPath::root().key("fulfillment_address")
}

fn lines(items: Vec<WireItem>, require_one: bool) -> Result<Vec<RequestedLine>, AcpError> {
    let at = items_path();
    if require_one && items.is_empty() {
        return Err(AcpError::invalid_field(
            at.clone(),
            format!("{at}: at least one item is required"),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            Ok(RequestedLine {
                quantity: common::quantity(&item.quantity, &at.index(i).key("quantity"), true)?,
                item_id: item.id,
            })
        })
        .collect()
}

/// Parses `POST /checkout_sessions`.
///
/// # Errors
/// 400 with a JSONPath `param` for a malformed body.
pub fn parse_create(body: &[u8]) -> Result<CreateSession, AcpError> {
    let wire: WireCreate = common::decode(body)?;
    Ok(CreateSession {
        lines: lines(wire.items, true)?,
        buyer: wire.buyer.map(WireBuyer::into_domain),
        fulfillment_contact: None,
        address: wire
            .fulfillment_address
            .map(|a| a.into_domain(&address_path(), None))
            .transpose()?,
        currency: None,
        agent_capabilities: Default::default(),
        fulfillment_selection: Vec::new(),
        discount_codes: Vec::new(),
        locale: None,
        metadata: Map::new(),
        order_notes: None,
    })
}

/// Parses `POST /checkout_sessions/{id}`. `null` clears a field.
///
/// # Errors
/// 400 with a JSONPath `param` for a malformed body or `items: null`.
pub fn parse_update(body: &[u8]) -> Result<UpdateSession, AcpError> {
    let wire: WireUpdate = common::decode(body)?;
    let lines = match wire.items {
        Patch::Keep => None,
        Patch::Clear => {
            let at = items_path();
            return Err(AcpError::invalid_field(
                at.clone(),
                format!("{at}: items cannot be null"),
            ));
        }
        Patch::Set(items) => Some(lines(items, false)?),
    };
    Ok(UpdateSession {
        lines,
        buyer: wire.buyer.map(WireBuyer::into_domain),
        fulfillment_contact: Patch::Keep,
        address: convert_patch(wire.fulfillment_address, |a| {
            a.into_domain(&address_path(), None)
        })?,
        fulfillment_selection: wire.fulfillment_option_id.map(|option_id| {
            vec![FulfillmentSelection {
                option_id,
                kind: None,
                item_ids: Vec::new(),
            }]
        }),
        discount_codes: Patch::Keep,
        order_notes: Patch::Keep,
    })
}

/// Parses `POST /checkout_sessions/{id}/complete`.
///
/// # Errors
/// 400 with a JSONPath `param` for a malformed body or an empty token.
pub fn parse_complete(body: &[u8]) -> Result<CompleteSession, AcpError> {
    let wire: WireComplete = common::decode(body)?;
    let payment_at = JsonPath::root().key("payment_data");
    let pd = wire.payment_data;
    if pd.token.expose_secret().trim().is_empty() {
        let at = payment_at.key("token");
        return Err(AcpError::invalid_field(
            at.clone(),
            format!("{at}: must not be empty"),
        ));
    }
    let billing_address = pd
        .billing_address
        .map(|a| a.into_domain(&payment_at.key("billing_address")))
        .transpose()?;
    Ok(CompleteSession {
        payment: PaymentData::Credential(PaymentCredential {
            token: pd.token,
            provider: Some(pd.provider.to_ascii_lowercase()),
            handler_id: None,
            instrument_type: None,
            credential_type: None,
            billing_address,
        }),
        buyer: wire.buyer.map(WireBuyer::into_domain),
        authentication_result: None,
        order_notes: None,
    })
}

/// Parses `POST /checkout_sessions/{id}/cancel`. The version defines no
/// body; an empty body, `{}` or a later version's `intent_trace` are taken.
///
/// # Errors
/// 400 for a body that is present but not a JSON object of that shape.
pub fn parse_cancel(body: &[u8]) -> Result<CancelSession, AcpError> {
    if common::is_blank(body) {
        return Ok(CancelSession::default());
    }
    let wire: WireCancel = common::decode(body)?;
    Ok(CancelSession {
        intent_trace: wire.intent_trace.map(|t| t.into_model()),
    })
}

// --------------------------------------------------------------- responses

/// The `status` values of this version: authentication and expiry do not
/// exist, so they show as the nearest state an agent can act on.
fn status(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::NotReadyForPayment | SessionStatus::AuthenticationRequired => {
            "not_ready_for_payment"
        }
        SessionStatus::ReadyForPayment => "ready_for_payment",
        SessionStatus::CompleteInProgress => "in_progress",
        SessionStatus::Completed => "completed",
        SessionStatus::Canceled | SessionStatus::Expired => "canceled",
    }
}

/// The six message error codes of this version; the rest map to the
/// nearest of them.
pub fn error_code(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Missing => "missing",
        ErrorCode::OutOfStock | ErrorCode::LowStock | ErrorCode::QuantityExceeded => "out_of_stock",
        ErrorCode::PaymentDeclined => "payment_declined",
        ErrorCode::RequiresSignIn => "requires_sign_in",
        ErrorCode::Requires3ds | ErrorCode::InterventionRequired => "requires_3ds",
        ErrorCode::Invalid
        | ErrorCode::CouponInvalid
        | ErrorCode::CouponExpired
        | ErrorCode::MinimumNotMet
        | ErrorCode::MaximumExceeded
        | ErrorCode::RegionRestricted
        | ErrorCode::AgeVerificationRequired
        | ErrorCode::ApprovalRequired
        | ErrorCode::Unsupported
        | ErrorCode::NotFound
        | ErrorCode::Conflict
        | ErrorCode::RateLimited
        | ErrorCode::Expired => "invalid",
    }
}

/// The JSONPath of a message target in this version's request shapes;
/// `None` for targets the version has no field for.
pub fn param(target: MessageTarget) -> Option<String> {
    let root = JsonPath::root();
    let path = match target {
        MessageTarget::None
        | MessageTarget::DiscountCode(_)
        | MessageTarget::AuthenticationResult => return None,
        MessageTarget::Line(i) => items_path().index(i),
        MessageTarget::LineQuantity(i) => items_path().index(i).key("quantity"),
        MessageTarget::FulfillmentAddress => address_path(),
        MessageTarget::FulfillmentAddressField(field) => address_path().key(field.as_str()),
        MessageTarget::FulfillmentOption => root.key("fulfillment_option_id"),
        MessageTarget::Buyer => root.key("buyer"),
        MessageTarget::BuyerEmail => root.key("buyer").key("email"),
        MessageTarget::BuyerPhone => root.key("buyer").key("phone_number"),
        MessageTarget::Payment => root.key("payment_data"),
    };
    Some(path.into())
}

fn message(m: &Message) -> Value {
    let mut out = Map::new();
    match m.kind {
        // No warning type in this version: the text still reaches the buyer.
        MessageKind::Info | MessageKind::Warning(_) => {
            out.insert("type".into(), json!("info"));
        }
        MessageKind::Error(code) => {
            out.insert("type".into(), json!("error"));
            out.insert("code".into(), json!(error_code(code)));
        }
    }
    if let Some(param) = param(m.target) {
        out.insert("param".into(), json!(param));
    }
    out.insert("content_type".into(), json!("plain"));
    out.insert("content".into(), json!(m.content));
    Value::Object(out)
}

fn address(a: &PostalAddress) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(a.name));
    out.insert("line_one".into(), json!(a.line_one));
    if let Some(two) = &a.line_two {
        out.insert("line_two".into(), json!(two));
    }
    out.insert("city".into(), json!(a.city));
    out.insert("state".into(), json!(a.state));
    out.insert("country".into(), json!(a.country.as_str()));
    out.insert("postal_code".into(), json!(a.postal_code));
    Value::Object(out)
}

/// The buyer object requires first name, last name and email; a buyer known
/// only partly is left out.
fn buyer(b: &Buyer) -> Option<Value> {
    let mut out = Map::new();
    out.insert("first_name".into(), json!(b.first_name.as_ref()?));
    out.insert("last_name".into(), json!(b.last_name.as_ref()?));
    out.insert("email".into(), json!(b.email.as_ref()?));
    if let Some(phone) = &b.phone_number {
        out.insert("phone_number".into(), json!(phone));
    }
    Some(Value::Object(out))
}

fn line(l: &SessionLine) -> Value {
    json!({
        "id": l.id,
        "item": {"id": l.item_id, "quantity": l.quantity},
        "base_amount": l.base_amount.amount,
        "discount": l.discount.amount,
        "subtotal": l.subtotal.amount,
        "tax": l.tax.amount,
        "total": l.total.amount,
    })
}

fn fulfillment_option(o: &FulfillmentOption) -> Value {
    let mut out = Map::new();
    let kind = match o.kind {
        FulfillmentKind::Shipping => "shipping",
        FulfillmentKind::Digital => "digital",
    };
    out.insert("type".into(), json!(kind));
    out.insert("id".into(), json!(o.id));
    out.insert("title".into(), json!(o.title));
    if let Some(subtitle) = &o.subtitle {
        out.insert("subtitle".into(), json!(subtitle));
    }
    if o.kind == FulfillmentKind::Shipping {
        if let Some(carrier) = &o.carrier {
            out.insert("carrier".into(), json!(carrier));
        }
        if let Some(t) = &o.earliest_delivery {
            out.insert("earliest_delivery_time".into(), common::timestamp(t));
        }
        if let Some(t) = &o.latest_delivery {
            out.insert("latest_delivery_time".into(), common::timestamp(t));
        }
    }
    out.insert("subtotal".into(), json!(o.subtotal.amount));
    out.insert("tax".into(), json!(o.tax.amount));
    out.insert("total".into(), json!(o.total.amount));
    Value::Object(out)
}

/// Link types of this version: terms, privacy, and one `seller_shop_policies`
/// standing for the first of the return and shipping policies.
fn links(session: &Session, seller: &SellerContext) -> Value {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for link in seller.links.iter().chain(&session.links) {
        let kind = match link.kind {
            LinkKind::TermsOfUse => "terms_of_use",
            LinkKind::PrivacyPolicy => "privacy_policy",
            LinkKind::ReturnPolicy | LinkKind::ShippingPolicy => "seller_shop_policies",
            LinkKind::ContactUs | LinkKind::AboutUs | LinkKind::Faq | LinkKind::Support => {
                continue;
            }
        };
        if seen.contains(&kind) {
            continue;
        }
        seen.push(kind);
        out.push(json!({"type": kind, "url": link.url.as_str()}));
    }
    Value::Array(out)
}

/// Renders a `CheckoutSession` (with `order` once completed).
pub fn render_session(session: &Session, seller: &SellerContext) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(session.id));
    if let Some(b) = session.buyer.as_ref().and_then(buyer) {
        out.insert("buyer".into(), b);
    }
    out.insert(
        "payment_provider".into(),
        json!({"provider": "stripe", "supported_payment_methods": ["card"]}),
    );
    out.insert("status".into(), json!(status(session.status)));
    out.insert("currency".into(), common::currency_code(session.currency));
    out.insert(
        "line_items".into(),
        Value::Array(session.lines.iter().map(line).collect()),
    );
    if let Some(a) = &session.address {
        out.insert("fulfillment_address".into(), address(a));
    }
    out.insert(
        "fulfillment_options".into(),
        Value::Array(
            session
                .fulfillment_options
                .iter()
                .map(fulfillment_option)
                .collect(),
        ),
    );
    if let Some(selected) = session.selected_option() {
        out.insert("fulfillment_option_id".into(), json!(selected.id));
    }
    out.insert("totals".into(), common::cart_totals(&session.totals));
    out.insert(
        "messages".into(),
        Value::Array(session.messages.iter().map(message).collect()),
    );
    out.insert("links".into(), links(session, seller));
    if let Some(order) = &session.order {
        out.insert(
            "order".into(),
            json!({
                "id": order.id,
                "checkout_session_id": session.id,
                "permalink_url": order.permalink_url.as_str(),
            }),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_maps_into_the_launch_set() {
        let launch = [
            "missing",
            "invalid",
            "out_of_stock",
            "payment_declined",
            "requires_sign_in",
            "requires_3ds",
        ];
        for code in ErrorCode::ALL {
            assert!(launch.contains(&error_code(code)), "{code:?}");
        }
        // The launch codes keep their own value.
        for code in &ErrorCode::ALL[..6] {
            assert_eq!(error_code(*code), code.as_str());
        }
    }

    #[test]
    fn statuses_map_into_the_launch_set() {
        assert_eq!(
            status(SessionStatus::AuthenticationRequired),
            "not_ready_for_payment"
        );
        assert_eq!(status(SessionStatus::CompleteInProgress), "in_progress");
        assert_eq!(status(SessionStatus::Expired), "canceled");
    }
}
