//! The ACP discovery document served at `GET /.well-known/acp.json`
//! (2026-04-17 `DiscoveryResponse`): protocol versions, API base URL,
//! transports and the seller's stable capabilities. Session-specific
//! capabilities are negotiated on create, not here.

use serde_json::{Map, Value, json};
use url::Url;

use super::model::InterventionType;
use super::version::ApiVersion;
use super::wire::SellerExtension;
use crate::domain::Currency;

/// `Cache-Control` value for the document (the spec recommends an hour or more).
pub const CACHE_CONTROL: &str = "public, max-age=3600";

/// ACP services a seller can implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Checkout,
    Orders,
    DelegatePayment,
    Carts,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Checkout => "checkout",
            Service::Orders => "orders",
            Service::DelegatePayment => "delegate_payment",
            Service::Carts => "carts",
        }
    }
}

/// What a shop's discovery document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// Base URL agents append `/checkout_sessions` to.
    pub api_base_url: Url,
    pub services: Vec<Service>,
    pub supported_currencies: Vec<Currency>,
    /// BCP 47 tags (`en-US`).
    pub supported_locales: Vec<String>,
    pub intervention_types: Vec<InterventionType>,
    pub extensions: Vec<SellerExtension>,
    pub documentation_url: Option<Url>,
}

impl DiscoveryConfig {
    /// A checkout-only shop with 3-D Secure and one currency.
    pub fn checkout(api_base_url: Url, currency: Currency) -> Self {
        DiscoveryConfig {
            api_base_url,
            services: vec![Service::Checkout],
            supported_currencies: vec![currency],
            supported_locales: Vec::new(),
            intervention_types: Vec::new(),
            extensions: Vec::new(),
            documentation_url: None,
        }
    }
}

fn push_unique(out: &mut Vec<Value>, value: Value) {
    if !out.contains(&value) {
        out.push(value);
    }
}

/// Renders the discovery document. Versions are listed oldest first and end
/// with the latest; lists are deduplicated (the schema wants unique items).
pub fn discovery_document(config: &DiscoveryConfig) -> Value {
    let versions: Vec<&str> = ApiVersion::SUPPORTED.iter().map(|v| v.as_str()).collect();
    let mut protocol = Map::new();
    protocol.insert("name".into(), json!("acp"));
    protocol.insert("version".into(), json!(ApiVersion::LATEST.as_str()));
    protocol.insert("supported_versions".into(), json!(versions));
    if let Some(url) = &config.documentation_url {
        protocol.insert("documentation_url".into(), json!(url.as_str()));
    }

    let mut services = Vec::new();
    for s in &config.services {
        push_unique(&mut services, json!(s.as_str()));
    }
    let mut capabilities = Map::new();
    capabilities.insert("services".into(), Value::Array(services));
    if !config.extensions.is_empty() {
        let extensions: Vec<Value> = config
            .extensions
            .iter()
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
        capabilities.insert("extensions".into(), Value::Array(extensions));
    }
    if !config.intervention_types.is_empty() {
        let mut kinds = Vec::new();
        for i in &config.intervention_types {
            push_unique(&mut kinds, json!(i.as_str()));
        }
        capabilities.insert("intervention_types".into(), Value::Array(kinds));
    }
    if !config.supported_currencies.is_empty() {
        let mut currencies = Vec::new();
        for c in &config.supported_currencies {
            push_unique(&mut currencies, json!(c.as_str().to_ascii_lowercase()));
        }
        capabilities.insert("supported_currencies".into(), Value::Array(currencies));
    }
    if !config.supported_locales.is_empty() {
        let mut locales = Vec::new();
        for l in &config.supported_locales {
            push_unique(&mut locales, json!(l));
        }
        capabilities.insert("supported_locales".into(), Value::Array(locales));
    }

    json!({
        "protocol": Value::Object(protocol),
        "api_base_url": config.api_base_url.as_str(),
        "transports": ["rest"],
        "capabilities": Value::Object(capabilities),
    })
}
