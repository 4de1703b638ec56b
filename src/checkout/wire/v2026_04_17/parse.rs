//! Request parsing for 2026-04-17: wire structs and their conversion to
//! the model.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use super::line_items_path;
use crate::checkout::error::AcpError;
use crate::checkout::model::{
    AgentCapabilities, AuthenticationDetails, AuthenticationOutcome, AuthenticationResult,
    CancelSession, CompleteSession, CreateSession, FulfillmentContact, FulfillmentKind,
    FulfillmentSelection, InterventionType, Patch, PaymentCredential, PaymentData, PurchaseOrder,
    RequestedLine, RequestedQuantity, UpdateSession,
};
use crate::checkout::wire::common::{
    self, JsonPath, WireAddress, WireBillingAddress, WireCancel, convert_patch, patch,
};
use crate::domain::{Buyer, PostalAddress};

/// Longest `order_notes` the schema allows.
const ORDER_NOTES_MAX_CHARS: usize = 5000;

#[derive(Deserialize)]
struct WireItem {
    id: String,
    /// Not in the `Item` schema, but sent by agents (issue #264); default 1.
    quantity: Option<Number>,
}

#[derive(Deserialize)]
struct WireBuyer {
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    phone_number: Option<String>,
}

impl WireBuyer {
    fn into_domain(self) -> Buyer {
        Buyer {
            email: Some(self.email),
            first_name: self.first_name,
            last_name: self.last_name,
            phone_number: self.phone_number,
        }
    }
}

#[derive(Deserialize)]
struct WireFulfillmentDetails {
    name: Option<String>,
    phone_number: Option<String>,
    email: Option<String>,
    #[serde(default, deserialize_with = "patch")]
    address: Patch<WireAddress>,
}

impl WireFulfillmentDetails {
    /// Contact (when any contact field was sent) and the address change.
    fn split(self) -> Result<(Option<FulfillmentContact>, Patch<PostalAddress>), AcpError> {
        let at = JsonPath::root().key("fulfillment_details").key("address");
        let phone = self.phone_number.clone();
        let address = convert_patch(self.address, |a| a.into_domain(&at, phone))?;
        let contact = (self.name.is_some() || self.email.is_some() || self.phone_number.is_some())
            .then_some(FulfillmentContact {
                name: self.name,
                email: self.email,
                phone_number: self.phone_number,
            });
        Ok((contact, address))
    }
}

#[derive(Default, Deserialize)]
struct WireCapabilities {
    payment: Option<WirePaymentCapability>,
    interventions: Option<WireInterventions>,
    extensions: Option<Vec<WireExtensionRef>>,
}

#[derive(Deserialize)]
struct WirePaymentCapability {
    handlers: Option<Vec<WireHandlerRef>>,
}

#[derive(Deserialize)]
struct WireHandlerRef {
    name: Option<String>,
    id: Option<String>,
}

#[derive(Deserialize)]
struct WireInterventions {
    #[serde(default)]
    supported: Vec<String>,
}

/// Requests name extensions by string; accept declaration objects too.
#[derive(Deserialize)]
#[serde(untagged)]
enum WireExtensionRef {
    Name(String),
    Declaration { name: String },
}

impl WireCapabilities {
    /// Unknown intervention types are dropped (the enum grows per version).
    fn into_model(self) -> AgentCapabilities {
        let interventions = self
            .interventions
            .map(|i| {
                i.supported
                    .iter()
                    .filter_map(|s| intervention(s))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let payment_handlers = self.payment.and_then(|p| p.handlers).map(|handlers| {
            handlers
                .into_iter()
                .filter_map(|h| h.name.or(h.id))
                .collect()
        });
        let extensions = self
            .extensions
            .unwrap_or_default()
            .into_iter()
            .map(|e| match e {
                WireExtensionRef::Name(name) | WireExtensionRef::Declaration { name } => name,
            })
            .collect();
        AgentCapabilities {
            interventions,
            payment_handlers,
            extensions,
        }
    }
}

fn intervention(value: &str) -> Option<InterventionType> {
    match value {
        "3ds" => Some(InterventionType::ThreeDs),
        "biometric" => Some(InterventionType::Biometric),
        "address_verification" => Some(InterventionType::AddressVerification),
        _ => None,
    }
}

#[derive(Deserialize)]
struct WireSelection {
    #[serde(rename = "type")]
    kind: Option<String>,
    option_id: Option<String>,
    item_ids: Option<Vec<String>>,
    /// The nested form the OpenAPI inline example still uses.
    shipping: Option<WireNestedSelection>,
    digital: Option<WireNestedSelection>,
}

#[derive(Deserialize)]
struct WireNestedSelection {
    option_id: Option<String>,
    item_ids: Option<Vec<String>>,
}

fn selections(wire: Vec<WireSelection>) -> Result<Vec<FulfillmentSelection>, AcpError> {
    let at = JsonPath::root().key("selected_fulfillment_options");
    wire.into_iter()
        .enumerate()
        .map(|(i, s)| {
            let nested = s.shipping.or(s.digital);
            let (nested_id, nested_items) = nested
                .map(|n| (n.option_id, n.item_ids))
                .unwrap_or((None, None));
            let option_id = s
                .option_id
                .or(nested_id)
                .ok_or_else(|| AcpError::missing_field(at.index(i).key("option_id")))?;
            Ok(FulfillmentSelection {
                option_id,
                kind: s.kind.as_deref().and_then(|k| match k {
                    "shipping" => Some(FulfillmentKind::Shipping),
                    "digital" => Some(FulfillmentKind::Digital),
                    _ => None,
                }),
                item_ids: s.item_ids.or(nested_items).unwrap_or_default(),
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct WireDiscounts {
    codes: Option<Vec<String>>,
}

/// `discounts.codes` plus the deprecated `coupons`, without duplicates.
fn merge_codes(codes: Vec<String>, coupons: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for code in codes.into_iter().chain(coupons) {
        if !out.iter().any(|c| c.eq_ignore_ascii_case(&code)) {
            out.push(code);
        }
    }
    out
}

#[derive(Deserialize)]
struct WireCreate {
    line_items: Vec<WireItem>,
    currency: String,
    /// Required by the schema, absent from the multi-item example: an agent
    /// that sends none offered nothing to negotiate.
    capabilities: Option<WireCapabilities>,
    buyer: Option<WireBuyer>,
    fulfillment_details: Option<WireFulfillmentDetails>,
    selected_fulfillment_options: Option<Vec<WireSelection>>,
    discounts: Option<WireDiscounts>,
    coupons: Option<Vec<String>>,
    locale: Option<String>,
    metadata: Option<Map<String, Value>>,
    order_notes: Option<String>,
}

#[derive(Deserialize)]
struct WireUpdate {
    #[serde(default, deserialize_with = "patch")]
    line_items: Patch<Vec<WireItem>>,
    #[serde(default, deserialize_with = "patch")]
    buyer: Patch<WireBuyer>,
    #[serde(default, deserialize_with = "patch")]
    fulfillment_details: Patch<WireFulfillmentDetails>,
    #[serde(default, deserialize_with = "patch")]
    selected_fulfillment_options: Patch<Vec<WireSelection>>,
    #[serde(default, deserialize_with = "patch")]
    discounts: Patch<WireDiscounts>,
    coupons: Option<Vec<String>>,
    #[serde(default, deserialize_with = "patch")]
    order_notes: Patch<String>,
}

#[derive(Deserialize)]
struct WireComplete {
    payment_data: WirePaymentData,
    buyer: Option<WireBuyer>,
    authentication_result: Option<WireAuthenticationResult>,
    order_notes: Option<String>,
}

#[derive(Deserialize)]
struct WirePaymentData {
    handler_id: Option<String>,
    instrument: Option<WireInstrument>,
    billing_address: Option<WireBillingAddress>,
    purchase_order_number: Option<String>,
    payment_terms: Option<String>,
    /// The pre-handler `{token, provider}` form the OpenAPI inline examples
    /// of this version still show.
    token: Option<SecretString>,
    provider: Option<String>,
}

#[derive(Deserialize)]
struct WireInstrument {
    #[serde(rename = "type")]
    kind: String,
    credential: WireCredential,
}

#[derive(Deserialize)]
struct WireCredential {
    #[serde(rename = "type")]
    kind: String,
    token: SecretString,
}

#[derive(Deserialize)]
struct WireAuthenticationResult {
    outcome: String,
    outcome_details: Option<WireAuthenticationDetails>,
}

#[derive(Deserialize)]
struct WireAuthenticationDetails {
    three_ds_cryptogram: Option<SecretString>,
    electronic_commerce_indicator: Option<String>,
    transaction_id: Option<String>,
    version: Option<String>,
}

fn lines(items: Vec<WireItem>, require_one: bool) -> Result<Vec<RequestedLine>, AcpError> {
    let at = line_items_path();
    if require_one && items.is_empty() {
        return Err(AcpError::invalid_field(
            at.clone(),
            format!("{at}: at least one line item is required"),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let quantity = match &item.quantity {
                None => RequestedQuantity::Units(std::num::NonZeroU32::MIN),
                Some(n) => common::quantity(n, &at.index(i).key("quantity"), false)?,
            };
            Ok(RequestedLine {
                item_id: item.id,
                quantity,
            })
        })
        .collect()
}

fn order_notes(notes: Option<String>) -> Result<Option<String>, AcpError> {
    match notes {
        Some(n) if n.chars().count() > ORDER_NOTES_MAX_CHARS => {
            let at = JsonPath::root().key("order_notes");
            Err(AcpError::invalid_field(
                at.clone(),
                format!("{at}: at most {ORDER_NOTES_MAX_CHARS} characters"),
            ))
        }
        other => Ok(other),
    }
}

/// Parses `POST /checkout_sessions`.
///
/// # Errors
/// 400 with a JSONPath `param` for a malformed body, a bad currency or
/// country, or a quantity below 1.
pub fn parse_create(body: &[u8]) -> Result<CreateSession, AcpError> {
    let wire: WireCreate = common::decode(body)?;
    let (fulfillment_contact, address) = match wire.fulfillment_details {
        Some(details) => {
            let (contact, address) = details.split()?;
            let address = match address {
                Patch::Set(a) => Some(a),
                Patch::Keep | Patch::Clear => None,
            };
            (contact, address)
        }
        None => (None, None),
    };
    Ok(CreateSession {
        lines: lines(wire.line_items, true)?,
        currency: Some(common::currency(
            &wire.currency,
            &JsonPath::root().key("currency"),
        )?),
        buyer: wire.buyer.map(WireBuyer::into_domain),
        fulfillment_contact,
        address,
        agent_capabilities: wire.capabilities.unwrap_or_default().into_model(),
        fulfillment_selection: selections(wire.selected_fulfillment_options.unwrap_or_default())?,
        discount_codes: merge_codes(
            wire.discounts.and_then(|d| d.codes).unwrap_or_default(),
            wire.coupons.unwrap_or_default(),
        ),
        locale: wire.locale,
        metadata: wire.metadata.unwrap_or_default(),
        order_notes: order_notes(wire.order_notes)?,
    })
}

/// Parses `POST /checkout_sessions/{id}`. An absent key leaves the field
/// alone, `null` clears it.
///
/// # Errors
/// 400 with a JSONPath `param` for a malformed body or `line_items: null`.
pub fn parse_update(body: &[u8]) -> Result<UpdateSession, AcpError> {
    let wire: WireUpdate = common::decode(body)?;
    let lines = match wire.line_items {
        Patch::Keep => None,
        Patch::Clear => {
            let at = line_items_path();
            return Err(AcpError::invalid_field(
                at.clone(),
                format!("{at}: line_items cannot be null"),
            ));
        }
        Patch::Set(items) => Some(lines(items, false)?),
    };
    let (fulfillment_contact, address) = match wire.fulfillment_details {
        Patch::Keep => (Patch::Keep, Patch::Keep),
        Patch::Clear => (Patch::Clear, Patch::Clear),
        Patch::Set(details) => {
            let (contact, address) = details.split()?;
            (contact.map_or(Patch::Keep, Patch::Set), address)
        }
    };
    let coupons = wire.coupons;
    let discount_codes = match wire.discounts {
        Patch::Clear => Patch::Clear,
        Patch::Set(WireDiscounts { codes: Some(codes) }) => {
            Patch::Set(merge_codes(codes, coupons.unwrap_or_default()))
        }
        Patch::Keep | Patch::Set(WireDiscounts { codes: None }) => match coupons {
            Some(c) => Patch::Set(merge_codes(Vec::new(), c)),
            None => Patch::Keep,
        },
    };
    let order_notes = match wire.order_notes {
        Patch::Set(n) => order_notes(Some(n))?.map_or(Patch::Clear, Patch::Set),
        other => other,
    };
    Ok(UpdateSession {
        lines,
        buyer: wire.buyer.map(WireBuyer::into_domain),
        fulfillment_contact,
        address,
        fulfillment_selection: convert_patch(wire.selected_fulfillment_options, selections)?,
        discount_codes,
        order_notes,
    })
}

fn payment(pd: WirePaymentData) -> Result<PaymentData, AcpError> {
    let at = JsonPath::root().key("payment_data");
    let billing_address = pd
        .billing_address
        .map(|a| a.into_domain(&at.key("billing_address")))
        .transpose()?;
    let empty = |path: JsonPath| {
        AcpError::invalid_field(path.clone(), format!("{path}: must not be empty"))
    };
    if let Some(instrument) = pd.instrument {
        let handler_id = pd
            .handler_id
            .ok_or_else(|| AcpError::missing_field(at.key("handler_id")))?;
        if instrument
            .credential
            .token
            .expose_secret()
            .trim()
            .is_empty()
        {
            return Err(empty(at.key("instrument").key("credential").key("token")));
        }
        return Ok(PaymentData::Credential(PaymentCredential {
            token: instrument.credential.token,
            provider: None,
            handler_id: Some(handler_id),
            instrument_type: Some(instrument.kind),
            credential_type: Some(instrument.credential.kind),
            billing_address,
        }));
    }
    if let Some(token) = pd.token {
        if token.expose_secret().trim().is_empty() {
            return Err(empty(at.key("token")));
        }
        return Ok(PaymentData::Credential(PaymentCredential {
            token,
            provider: pd.provider.map(|p| p.to_ascii_lowercase()),
            handler_id: pd.handler_id,
            instrument_type: None,
            credential_type: None,
            billing_address,
        }));
    }
    if let Some(number) = pd.purchase_order_number {
        return Ok(PaymentData::PurchaseOrder(PurchaseOrder {
            number,
            payment_terms: pd.payment_terms,
        }));
    }
    Err(AcpError::missing_field(at.key("instrument")))
}

fn authentication_result(wire: WireAuthenticationResult) -> Result<AuthenticationResult, AcpError> {
    let outcome = AuthenticationOutcome::parse(&wire.outcome);
    if outcome.requires_details() && wire.outcome_details.is_none() {
        return Err(AcpError::missing_field(
            JsonPath::root()
                .key("authentication_result")
                .key("outcome_details"),
        ));
    }
    Ok(AuthenticationResult {
        outcome,
        details: wire.outcome_details.map(|d| AuthenticationDetails {
            cryptogram: d.three_ds_cryptogram,
            eci: d.electronic_commerce_indicator,
            transaction_id: d.transaction_id,
            version: d.version,
        }),
    })
}

/// Parses `POST /checkout_sessions/{id}/complete`.
///
/// # Errors
/// 400 with a JSONPath `param` for a malformed body, a payment without a
/// usable credential, or an authentication outcome missing its details.
pub fn parse_complete(body: &[u8]) -> Result<CompleteSession, AcpError> {
    let wire: WireComplete = common::decode(body)?;
    Ok(CompleteSession {
        payment: payment(wire.payment_data)?,
        buyer: wire.buyer.map(WireBuyer::into_domain),
        authentication_result: wire
            .authentication_result
            .map(authentication_result)
            .transpose()?,
        order_notes: order_notes(wire.order_notes)?,
    })
}

/// Parses `POST /checkout_sessions/{id}/cancel`; the body is optional.
///
/// # Errors
/// 400 for a body that is present but malformed.
pub fn parse_cancel(body: &[u8]) -> Result<CancelSession, AcpError> {
    if common::is_blank(body) {
        return Ok(CancelSession::default());
    }
    let wire: WireCancel = common::decode(body)?;
    Ok(CancelSession {
        intent_trace: wire.intent_trace.map(|t| t.into_model()),
    })
}
