//! Webhook subscriptions of the emulated app: the registry behind
//! `webhookSubscriptionCreate`/`Update`/`Delete` and the
//! `webhookSubscription(s)` queries, with Shopify's address validation and
//! `userErrors`.
//!
//! Shopify refuses `http://` addresses and internal hosts. Deliveries from
//! the emulator go to receivers on this machine, so
//! [`WebhookSettings::allow_loopback_http`](super::WebhookSettings) lets
//! `http://127.0.0.1:…` (and `localhost`, `[::1]`) through; every other
//! refusal stays. Only JSON subscriptions are taken: the emulator renders no
//! XML payloads, so `format: XML` is refused with a user error rather than
//! accepted and never honoured.

use apollo_compiler::response::JsonValue;
use serde::Deserialize;

use super::inputs::{UserErr, decode};
use super::webhooks::WebhookTopic;

/// `WebhookSubscriptionFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    Json,
    Xml,
}

impl WebhookFormat {
    /// The enum value as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "JSON",
            WebhookFormat::Xml => "XML",
        }
    }
}

/// One webhook subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    pub id: u64,
    pub topic: WebhookTopic,
    pub uri: String,
    pub format: WebhookFormat,
    /// Top-level payload fields to keep (all when empty).
    pub include_fields: Vec<String>,
    pub metafield_namespaces: Vec<String>,
    /// The API version payloads are rendered in (`X-Shopify-API-Version`).
    pub api_version: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl WebhookSubscription {
    /// The GID, e.g. `gid://shopify/WebhookSubscription/1`.
    pub fn gid(&self) -> String {
        format!("gid://shopify/WebhookSubscription/{}", self.id)
    }
}

/// `WebhookSubscriptionInput` (the fields of the schema subset).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubscriptionInput {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    include_fields: Option<Vec<String>>,
    #[serde(default)]
    metafield_namespaces: Option<Vec<String>>,
    #[serde(default)]
    callback_url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
}

impl SubscriptionInput {
    /// An input with just an address (for the Rust helpers).
    pub(crate) fn address(uri: &str) -> Self {
        SubscriptionInput {
            uri: Some(uri.to_owned()),
            ..SubscriptionInput::default()
        }
    }
}

/// What a subscription mutation answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HookOutcome {
    Created(Option<WebhookSubscription>, Vec<UserErr>),
    Updated(Option<WebhookSubscription>, Vec<UserErr>),
    Deleted(Option<String>, Vec<UserErr>),
}

const BASE_ID: u64 = 1_410_000_000_000;

/// The app's subscriptions on the shop.
#[derive(Debug)]
pub(crate) struct SubscriptionBook {
    subs: Vec<WebhookSubscription>,
    next_id: u64,
    last_stamp: i64,
}

impl Default for SubscriptionBook {
    fn default() -> Self {
        SubscriptionBook {
            subs: Vec::new(),
            next_id: BASE_ID + 1,
            last_stamp: 0,
        }
    }
}

fn address_error(message: impl Into<String>) -> UserErr {
    UserErr::at(&["webhookSubscription", "callbackUrl"], message)
}

/// Is `host` this machine?
fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Hosts Shopify refuses to call: its own and internal ones.
fn is_internal(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => {
            let d = d.to_ascii_lowercase();
            d == "localhost"
                || d.ends_with(".localhost")
                || d == "shopify.com"
                || d.ends_with(".shopify.com")
                || d.ends_with(".myshopify.com")
                || d.ends_with(".internal")
                || d.ends_with(".local")
        }
        url::Host::Ipv4(ip) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        url::Host::Ipv6(ip) => ip.is_loopback() || ip.is_unspecified(),
    }
}

/// Validates an address as Shopify does (see the module docs for the
/// loopback exception).
fn check_address(uri: &str, allow_loopback_http: bool) -> Vec<UserErr> {
    let uri = uri.trim();
    if uri.is_empty() {
        return vec![address_error("Address can't be blank")];
    }
    let Ok(parsed) = url::Url::parse(uri) else {
        return vec![address_error("Address is invalid")];
    };
    let Some(host) = parsed.host() else {
        return vec![address_error("Address is invalid")];
    };
    let local_ok = allow_loopback_http && is_loopback(&host);
    match parsed.scheme() {
        "https" | "http" if local_ok => Vec::new(),
        "http" => vec![address_error("Address protocol http:// is not supported")],
        "https" if is_internal(&host) => vec![address_error(
            "Address cannot be a Shopify or an internal domain",
        )],
        "https" => Vec::new(),
        other => vec![address_error(format!(
            "Address protocol {other}:// is not supported"
        ))],
    }
}

fn parse_format(text: Option<&str>) -> Result<Option<WebhookFormat>, UserErr> {
    match text {
        None => Ok(None),
        Some("JSON") => Ok(Some(WebhookFormat::Json)),
        Some(_) => Err(UserErr::at(
            &["webhookSubscription", "format"],
            "Format xml is not supported by the emulator; use JSON",
        )),
    }
}

impl SubscriptionBook {
    /// Every subscription, oldest first.
    pub(crate) fn all(&self) -> &[WebhookSubscription] {
        &self.subs
    }

    pub(crate) fn get(&self, id: u64) -> Option<&WebhookSubscription> {
        self.subs.iter().find(|s| s.id == id)
    }

    /// Drops every subscription (the app was uninstalled).
    pub(crate) fn clear(&mut self) {
        self.subs.clear();
    }

    fn stamp(&mut self) -> i64 {
        let now = chrono::Utc::now().timestamp_millis();
        self.last_stamp = now.max(self.last_stamp + 1);
        self.last_stamp
    }

    fn taken(&self, topic: WebhookTopic, uri: &str, except: Option<u64>) -> bool {
        self.subs
            .iter()
            .any(|s| Some(s.id) != except && s.topic == topic && s.uri == uri)
    }

    /// `webhookSubscriptionCreate`.
    pub(crate) fn create(
        &mut self,
        topic: WebhookTopic,
        input: &SubscriptionInput,
        api_version: &str,
        allow_loopback_http: bool,
    ) -> HookOutcome {
        let uri = input
            .uri
            .clone()
            .or_else(|| input.callback_url.clone())
            .unwrap_or_default()
            .trim()
            .to_owned();
        let mut errors = check_address(&uri, allow_loopback_http);
        let format = match parse_format(input.format.as_deref()) {
            Ok(f) => f.unwrap_or(WebhookFormat::Json),
            Err(e) => {
                errors.push(e);
                WebhookFormat::Json
            }
        };
        if errors.is_empty() && self.taken(topic, &uri, None) {
            errors.push(address_error(
                "Address for this topic has already been taken",
            ));
        }
        if !errors.is_empty() {
            return HookOutcome::Created(None, errors);
        }
        let now = self.stamp();
        let sub = WebhookSubscription {
            id: self.next_id,
            topic,
            uri,
            format,
            include_fields: input.include_fields.clone().unwrap_or_default(),
            metafield_namespaces: input.metafield_namespaces.clone().unwrap_or_default(),
            api_version: api_version.to_owned(),
            created_at: now,
            updated_at: now,
        };
        self.next_id += 1;
        self.subs.push(sub.clone());
        HookOutcome::Created(Some(sub), Vec::new())
    }

    /// `webhookSubscriptionUpdate`: absent input fields keep their values.
    pub(crate) fn update(
        &mut self,
        id: Option<u64>,
        input: &SubscriptionInput,
        allow_loopback_http: bool,
    ) -> HookOutcome {
        let Some(existing) = id.and_then(|id| self.get(id)).cloned() else {
            return HookOutcome::Updated(
                None,
                vec![UserErr::at(&["id"], "Webhook subscription does not exist")],
            );
        };
        let uri = input
            .uri
            .clone()
            .or_else(|| input.callback_url.clone())
            .map_or(existing.uri.clone(), |u| u.trim().to_owned());
        let mut errors = check_address(&uri, allow_loopback_http);
        let format = match parse_format(input.format.as_deref()) {
            Ok(f) => f.unwrap_or(existing.format),
            Err(e) => {
                errors.push(e);
                existing.format
            }
        };
        if errors.is_empty() && self.taken(existing.topic, &uri, Some(existing.id)) {
            errors.push(address_error(
                "Address for this topic has already been taken",
            ));
        }
        if !errors.is_empty() {
            return HookOutcome::Updated(None, errors);
        }
        let now = self.stamp();
        let Some(sub) = self.subs.iter_mut().find(|s| s.id == existing.id) else {
            return HookOutcome::Updated(None, Vec::new());
        };
        sub.uri = uri;
        sub.format = format;
        if let Some(fields) = &input.include_fields {
            sub.include_fields = fields.clone();
        }
        if let Some(namespaces) = &input.metafield_namespaces {
            sub.metafield_namespaces = namespaces.clone();
        }
        sub.updated_at = now;
        HookOutcome::Updated(Some(sub.clone()), Vec::new())
    }

    /// `webhookSubscriptionDelete`.
    pub(crate) fn delete(&mut self, id: Option<u64>) -> HookOutcome {
        let found = id.and_then(|id| self.subs.iter().position(|s| s.id == id));
        match found {
            Some(i) => {
                let sub = self.subs.remove(i);
                HookOutcome::Deleted(Some(sub.gid()), Vec::new())
            }
            None => HookOutcome::Deleted(
                None,
                vec![UserErr::at(&["id"], "Webhook subscription does not exist")],
            ),
        }
    }
}

/// Decodes the `webhookSubscription` argument.
pub(crate) fn decode_input(value: Option<&JsonValue>) -> Result<SubscriptionInput, String> {
    decode(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errors: &[UserErr]) -> Vec<&str> {
        errors.iter().map(|e| e.message.as_str()).collect()
    }

    #[test]
    fn addresses_are_checked_like_shopify() {
        assert!(check_address("https://hooks.example.com/x", false).is_empty());
        assert_eq!(
            messages(&check_address("http://hooks.example.com/x", false)),
            ["Address protocol http:// is not supported"]
        );
        assert_eq!(
            messages(&check_address("https://shop.myshopify.com/x", false)),
            ["Address cannot be a Shopify or an internal domain"]
        );
        assert_eq!(
            messages(&check_address("https://127.0.0.1/x", false)),
            ["Address cannot be a Shopify or an internal domain"]
        );
        assert_eq!(
            messages(&check_address("   ", false)),
            ["Address can't be blank"]
        );
        assert_eq!(
            messages(&check_address("not a url", false)),
            ["Address is invalid"]
        );
        assert_eq!(
            messages(&check_address("ftp://hooks.example.com/x", false)),
            ["Address protocol ftp:// is not supported"]
        );
    }

    #[test]
    fn the_loopback_exception_covers_only_this_machine() {
        assert!(check_address("http://127.0.0.1:8080/hooks", true).is_empty());
        assert!(check_address("http://localhost:8080/hooks", true).is_empty());
        assert!(check_address("http://[::1]:8080/hooks", true).is_empty());
        assert_eq!(
            messages(&check_address("http://10.0.0.1/hooks", true)),
            ["Address protocol http:// is not supported"]
        );
    }
}
