//! Response rendering for 2026-04-17: the model as this version's JSON.

use serde_json::{Map, Value, json};

use super::line_items_path;
use crate::checkout::model::{
    DirectoryServer, DiscountRejection, Discounts, FlowPreference, FulfillmentKind,
    FulfillmentOption, InterventionType, LinkKind, Message, MessageKind, MessageTarget, Resolution,
    Session, SessionLine, SessionStatus, StockStatus,
};
use crate::checkout::version::ApiVersion;
use crate::checkout::wire::common::{self, JsonPath};
use crate::checkout::wire::{SellerContext, StripeCardHandler};
use crate::domain::{Buyer, PostalAddress};

fn status(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::NotReadyForPayment => "not_ready_for_payment",
        SessionStatus::ReadyForPayment => "ready_for_payment",
        SessionStatus::AuthenticationRequired => "authentication_required",
        SessionStatus::CompleteInProgress => "complete_in_progress",
        SessionStatus::Completed => "completed",
        SessionStatus::Canceled => "canceled",
        SessionStatus::Expired => "expired",
    }
}

/// The JSONPath of a message target in this version's request shapes.
pub fn param(target: MessageTarget) -> Option<String> {
    let root = JsonPath::root();
    let address = || root.key("fulfillment_details").key("address");
    let path = match target {
        MessageTarget::None => return None,
        MessageTarget::Line(i) => line_items_path().index(i),
        MessageTarget::LineQuantity(i) => line_items_path().index(i).key("quantity"),
        MessageTarget::FulfillmentAddress => address(),
        MessageTarget::FulfillmentAddressField(field) => address().key(field.as_str()),
        MessageTarget::FulfillmentOption => root.key("selected_fulfillment_options"),
        MessageTarget::Buyer => root.key("buyer"),
        MessageTarget::BuyerEmail => root.key("buyer").key("email"),
        MessageTarget::BuyerPhone => root.key("buyer").key("phone_number"),
        MessageTarget::Payment => root.key("payment_data"),
        MessageTarget::DiscountCode(i) => root.key("discounts").key("codes").index(i),
        MessageTarget::AuthenticationResult => root.key("authentication_result"),
    };
    Some(path.into())
}

fn resolution(r: Resolution) -> &'static str {
    match r {
        Resolution::Recoverable => "recoverable",
        Resolution::RequiresBuyerInput => "requires_buyer_input",
        Resolution::RequiresBuyerReview => "requires_buyer_review",
    }
}

fn message(m: &Message) -> Value {
    let mut out = Map::new();
    match m.kind {
        MessageKind::Info => {
            out.insert("type".into(), json!("info"));
        }
        MessageKind::Warning(code) => {
            out.insert("type".into(), json!("warning"));
            out.insert("code".into(), json!(code.as_str()));
        }
        MessageKind::Error(code) => {
            out.insert("type".into(), json!("error"));
            out.insert("code".into(), json!(code.as_str()));
        }
    }
    if let Some(r) = m.resolution {
        out.insert("resolution".into(), json!(resolution(r)));
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
    if let Some(company) = &a.company {
        out.insert("company".into(), json!(company));
    }
    Value::Object(out)
}

fn fulfillment_details(session: &Session) -> Option<Value> {
    let contact = session.fulfillment_contact.as_ref();
    let addr = session.address.as_ref();
    if contact.is_none() && addr.is_none() {
        return None;
    }
    let mut out = Map::new();
    let name = contact
        .and_then(|c| c.name.clone())
        .or_else(|| addr.map(|a| a.name.clone()));
    let phone = contact
        .and_then(|c| c.phone_number.clone())
        .or_else(|| addr.and_then(|a| a.phone_number.clone()));
    if let Some(name) = name {
        out.insert("name".into(), json!(name));
    }
    if let Some(phone) = phone {
        out.insert("phone_number".into(), json!(phone));
    }
    if let Some(email) = contact.and_then(|c| c.email.as_ref()) {
        out.insert("email".into(), json!(email));
    }
    if let Some(a) = addr {
        out.insert("address".into(), address(a));
    }
    Some(Value::Object(out))
}

/// `email` is the only required buyer field here.
fn buyer(b: &Buyer) -> Option<Value> {
    let mut out = Map::new();
    out.insert("email".into(), json!(b.email.as_ref()?));
    if let Some(v) = &b.first_name {
        out.insert("first_name".into(), json!(v));
    }
    if let Some(v) = &b.last_name {
        out.insert("last_name".into(), json!(v));
    }
    if let Some(v) = &b.phone_number {
        out.insert("phone_number".into(), json!(v));
    }
    Some(Value::Object(out))
}

fn stock_status(s: StockStatus) -> &'static str {
    match s {
        StockStatus::InStock => "in_stock",
        StockStatus::LowStock => "low_stock",
        StockStatus::OutOfStock => "out_of_stock",
        StockStatus::Backorder => "backorder",
        StockStatus::PreOrder => "pre_order",
    }
}

fn line(l: &SessionLine) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(l.id));
    out.insert("item".into(), json!({"id": l.item_id}));
    out.insert("quantity".into(), json!(l.quantity));
    out.insert("name".into(), json!(l.title));
    if let Some(d) = &l.description {
        out.insert("description".into(), json!(d));
    }
    if let Some(url) = &l.image_url {
        out.insert("images".into(), json!([url.as_str()]));
    }
    out.insert("unit_amount".into(), json!(l.unit_amount.amount));
    if let Some(sku) = &l.sku {
        out.insert("sku".into(), json!(sku));
    }
    if let Some(a) = &l.availability {
        out.insert("availability_status".into(), json!(stock_status(a.status)));
        if let Some(q) = a.available_quantity {
            out.insert("available_quantity".into(), json!(q));
        }
    }
    out.insert(
        "totals".into(),
        json!([
            common::total("items_base_amount", "Base amount", l.base_amount.amount),
            common::total("discount", "Discount", l.discount.amount),
            common::total("subtotal", "Subtotal", l.subtotal.amount),
            common::total("tax", "Tax", l.tax.amount),
            common::total("total", "Total", l.total.amount),
        ]),
    );
    Value::Object(out)
}

fn kind_str(kind: FulfillmentKind) -> &'static str {
    match kind {
        FulfillmentKind::Shipping => "shipping",
        FulfillmentKind::Digital => "digital",
    }
}

fn fulfillment_option(o: &FulfillmentOption) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), json!(kind_str(o.kind)));
    out.insert("id".into(), json!(o.id));
    out.insert("title".into(), json!(o.title));
    if let Some(subtitle) = &o.subtitle {
        out.insert("description".into(), json!(subtitle));
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
    let mut totals = vec![common::total("subtotal", "Subtotal", o.subtotal.amount)];
    if o.tax.amount != 0 {
        totals.push(common::total("tax", "Tax", o.tax.amount));
    }
    totals.push(common::total("total", &o.title, o.total.amount));
    out.insert("totals".into(), Value::Array(totals));
    Value::Object(out)
}

fn link_kind(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::TermsOfUse => "terms_of_use",
        LinkKind::PrivacyPolicy => "privacy_policy",
        LinkKind::ReturnPolicy => "return_policy",
        LinkKind::ShippingPolicy => "shipping_policy",
        LinkKind::ContactUs => "contact_us",
        LinkKind::AboutUs => "about_us",
        LinkKind::Faq => "faq",
        LinkKind::Support => "support",
    }
}

fn links(session: &Session, seller: &SellerContext) -> Value {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for link in seller.links.iter().chain(&session.links) {
        if seen.contains(&link.kind) {
            continue;
        }
        seen.push(link.kind);
        let mut l = Map::new();
        l.insert("type".into(), json!(link_kind(link.kind)));
        l.insert("url".into(), json!(link.url.as_str()));
        if let Some(title) = &link.title {
            l.insert("title".into(), json!(title));
        }
        out.push(Value::Object(l));
    }
    Value::Array(out)
}

/// The seller's side of capability negotiation: our payment handler unless
/// the agent offered handlers without it, the interventions both support,
/// and the extensions both name.
fn capabilities(session: &Session, seller: &SellerContext) -> Value {
    let agent = &session.agent_capabilities;
    let handler = &seller.payment;
    let offered = agent.payment_handlers.as_ref().is_none_or(|names| {
        names
            .iter()
            .any(|n| n == StripeCardHandler::NAME || *n == handler.id)
    });
    let handlers = if offered && !session.status.is_terminal() {
        vec![json!({
            "id": handler.id,
            "name": StripeCardHandler::NAME,
            "display_name": "Card",
            "version": StripeCardHandler::VERSION,
            "spec": StripeCardHandler::SPEC,
            "requires_delegate_payment": true,
            "requires_pci_compliance": false,
            "psp": "stripe",
            "config_schema": StripeCardHandler::CONFIG_SCHEMA,
            "instrument_schemas": [StripeCardHandler::INSTRUMENT_SCHEMA],
            "config": {
                "merchant_id": handler.merchant_id,
                "psp": "stripe",
                "accepted_brands": handler.accepted_brands,
                "supports_3ds": handler.supports_3ds,
            },
        })]
    } else {
        Vec::new()
    };
    let supported: Vec<&str> = seller
        .interventions
        .iter()
        .filter(|i| agent.interventions.contains(i))
        .map(|i| i.as_str())
        .collect();
    let required: Vec<&str> = if session.authentication.is_some()
        && session.status == SessionStatus::AuthenticationRequired
    {
        vec![InterventionType::ThreeDs.as_str()]
    } else {
        Vec::new()
    };
    let mut out = Map::new();
    out.insert("payment".into(), json!({"handlers": handlers}));
    out.insert(
        "interventions".into(),
        json!({"supported": supported, "required": required, "enforcement": "conditional"}),
    );
    let extensions: Vec<Value> = seller
        .extensions
        .iter()
        .filter(|e| agent.extensions.contains(&e.name))
        .map(|e| {
            let mut d = Map::new();
            d.insert("name".into(), json!(e.name));
            if let Some(spec) = &e.spec {
                d.insert("spec".into(), json!(spec.as_str()));
            }
            if let Some(schema) = &e.schema {
                d.insert("schema".into(), json!(schema.as_str()));
            }
            Value::Object(d)
        })
        .collect();
    // An empty array matches both branches of the schema's `oneOf`
    // (names or declarations), so it is left out instead.
    if !extensions.is_empty() {
        out.insert("extensions".into(), Value::Array(extensions));
    }
    Value::Object(out)
}

fn discount_rejection(r: DiscountRejection) -> &'static str {
    match r {
        DiscountRejection::Expired => "discount_code_expired",
        DiscountRejection::Invalid => "discount_code_invalid",
        DiscountRejection::AlreadyApplied => "discount_code_already_applied",
        DiscountRejection::CombinationDisallowed => "discount_code_combination_disallowed",
        DiscountRejection::MinimumNotMet => "discount_code_minimum_not_met",
        DiscountRejection::UserNotLoggedIn => "discount_code_user_not_logged_in",
        DiscountRejection::UserIneligible => "discount_code_user_ineligible",
        DiscountRejection::UsageLimitReached => "discount_code_usage_limit_reached",
    }
}

fn discounts(d: &Discounts) -> Value {
    let applied: Vec<Value> = d
        .applied
        .iter()
        .map(|a| {
            let mut out = Map::new();
            out.insert("id".into(), json!(a.id));
            if let Some(code) = &a.code {
                out.insert("code".into(), json!(code));
            }
            out.insert("coupon".into(), json!({"id": a.id, "name": a.title}));
            out.insert("amount".into(), json!(a.amount.amount));
            out.insert("automatic".into(), json!(a.automatic));
            Value::Object(out)
        })
        .collect();
    let rejected: Vec<Value> = d
        .rejected
        .iter()
        .map(|r| {
            let mut out = Map::new();
            out.insert("code".into(), json!(r.code));
            out.insert("reason".into(), json!(discount_rejection(r.reason)));
            if let Some(m) = &r.message {
                out.insert("message".into(), json!(m));
            }
            Value::Object(out)
        })
        .collect();
    json!({"codes": d.codes, "applied": applied, "rejected": rejected})
}

fn authentication_metadata(session: &Session) -> Option<Value> {
    let a = session.authentication.as_ref()?;
    let mut acquirer = Map::new();
    acquirer.insert("acquirer_bin".into(), json!(a.acquirer_bin));
    acquirer.insert("acquirer_country".into(), json!(a.acquirer_country));
    acquirer.insert("acquirer_merchant_id".into(), json!(a.acquirer_merchant_id));
    acquirer.insert("merchant_name".into(), json!(a.merchant_name));
    if let Some(r) = &a.requestor_id {
        acquirer.insert("requestor_id".into(), json!(r));
    }
    let server = match a.directory_server {
        DirectoryServer::AmericanExpress => "american_express",
        DirectoryServer::Mastercard => "mastercard",
        DirectoryServer::Visa => "visa",
    };
    let mut out = Map::new();
    out.insert("acquirer_details".into(), Value::Object(acquirer));
    out.insert("directory_server".into(), json!(server));
    if let Some(flow) = a.flow_preference {
        let kind = match flow {
            FlowPreference::Challenge => "challenge",
            FlowPreference::Frictionless => "frictionless",
        };
        out.insert("flow_preference".into(), json!({"type": kind}));
    }
    Some(Value::Object(out))
}

/// Renders a `CheckoutSession` (a `CheckoutSessionWithOrder` once completed).
pub fn render_session(session: &Session, seller: &SellerContext) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(session.id));
    out.insert(
        "protocol".into(),
        json!({"version": ApiVersion::V2026_04_17.as_str()}),
    );
    out.insert("capabilities".into(), capabilities(session, seller));
    if let Some(b) = session.buyer.as_ref().and_then(buyer) {
        out.insert("buyer".into(), b);
    }
    out.insert("status".into(), json!(status(session.status)));
    out.insert("currency".into(), common::currency_code(session.currency));
    if let Some(locale) = &session.locale {
        out.insert("locale".into(), json!(locale));
    }
    out.insert(
        "line_items".into(),
        Value::Array(session.lines.iter().map(line).collect()),
    );
    if let Some(details) = fulfillment_details(session) {
        out.insert("fulfillment_details".into(), details);
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
        let item_ids: Vec<&str> = session.lines.iter().map(|l| l.id.as_str()).collect();
        out.insert(
            "selected_fulfillment_options".into(),
            json!([{"type": kind_str(selected.kind), "option_id": selected.id, "item_ids": item_ids}]),
        );
    }
    out.insert("totals".into(), common::cart_totals(&session.totals));
    out.insert(
        "messages".into(),
        Value::Array(session.messages.iter().map(message).collect()),
    );
    out.insert("links".into(), links(session, seller));
    if let Some(meta) = authentication_metadata(session) {
        out.insert("authentication_metadata".into(), meta);
    }
    if !session.discounts.is_empty() {
        out.insert("discounts".into(), discounts(&session.discounts));
    }
    out.insert("created_at".into(), common::timestamp(&session.created_at));
    out.insert("updated_at".into(), common::timestamp(&session.updated_at));
    if let Some(t) = &session.expires_at {
        out.insert("expires_at".into(), common::timestamp(t));
    }
    if let Some(url) = &session.continue_url {
        out.insert("continue_url".into(), Value::String(url.to_string()));
    }
    if !session.metadata.is_empty() {
        out.insert("metadata".into(), Value::Object(session.metadata.clone()));
    }
    if let Some(order) = &session.order {
        let mut o = Map::new();
        o.insert("type".into(), json!("order"));
        o.insert("id".into(), json!(order.id));
        o.insert("checkout_session_id".into(), json!(session.id));
        if let Some(n) = &order.number {
            o.insert("order_number".into(), json!(n));
        }
        o.insert("permalink_url".into(), json!(order.permalink_url.as_str()));
        let mut confirmation = Map::new();
        if let Some(sent) = order.confirmation_email_sent {
            confirmation.insert("confirmation_email_sent".into(), json!(sent));
        }
        if let Some(notes) = &session.order_notes {
            confirmation.insert("order_notes".into(), json!(notes));
        }
        if !confirmation.is_empty() {
            o.insert("confirmation".into(), Value::Object(confirmation));
        }
        out.insert("order".into(), Value::Object(o));
    }
    Value::Object(out)
}
