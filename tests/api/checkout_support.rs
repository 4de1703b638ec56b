//! The checkout test world (the daemon with ACP checkout against the Shopify
//! and Stripe emulators), request helpers for both API versions, and schema
//! validation of response bodies against the official ACP checkout schemas.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use acp_bridge::domain::{Currency, Money};
use acp_bridge::emulator::shopify::{EmulatorConfig, InventoryPolicy};
use acp_bridge::emulator::stripe::{StripeEmulator, StripeEmulatorConfig};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;

use crate::helpers::{
    TestApp, TestEmulator, acp_spec_dir, settings_toml, shop_toml, spawn_app, spawn_app_in,
    spawn_emulator,
};

pub const AGENT_KEY: &str = "agent-key-0123456789abcdef";
pub const V_NEW: &str = "2026-04-17";
pub const V_OLD: &str = "2025-09-29";
/// Both served versions, oldest first.
pub const VERSIONS: [&str; 2] = [V_OLD, V_NEW];

/// The Stripe endpoint that authorizes (creates and confirms a
/// PaymentIntent).
pub const CHARGE: &str = "POST /v1/payment_intents";

/// Status, headers and JSON body (`Null` when the body is not JSON).
pub type Reply = (u16, HeaderMap, Value);

pub struct World {
    pub app: TestApp,
    pub shopify: TestEmulator,
    pub stripe: StripeEmulator,
    /// Where the Stripe emulator listens.
    pub stripe_url: String,
    /// The daemon's config, to restart it on the same data directory.
    config: String,
}

pub async fn spawn_stripe_with(config: StripeEmulatorConfig) -> (StripeEmulator, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let emulator = StripeEmulator::new(config);
    let served = emulator.clone();
    tokio::spawn(async move {
        let _ = acp_bridge::emulator::stripe::serve(listener, served, std::future::pending()).await;
    });
    (emulator, url)
}

/// The default world: one shop `acme`, one agent, signatures off.
pub async fn world() -> World {
    world_with("", "").await
}

/// A world whose `[shops.checkout]` table gets `checkout_extra` and whose
/// agent entry gets `agent_extra` (TOML key lines).
pub async fn world_with(checkout_extra: &str, agent_extra: &str) -> World {
    world_on(EmulatorConfig::default(), "", checkout_extra, agent_extra).await
}

/// [`world_with`] on an emulator built from `emulator`, with
/// `shopify_extra` key lines in the shop's `[shops.shopify]` table.
pub async fn world_on(
    emulator: EmulatorConfig,
    shopify_extra: &str,
    checkout_extra: &str,
    agent_extra: &str,
) -> World {
    world_on_stripe(
        emulator,
        StripeEmulatorConfig::default(),
        shopify_extra,
        checkout_extra,
        agent_extra,
    )
    .await
}

/// [`world_on`] with a Stripe emulator built from `stripe`.
pub async fn world_on_stripe(
    emulator: EmulatorConfig,
    stripe: StripeEmulatorConfig,
    shopify_extra: &str,
    checkout_extra: &str,
    agent_extra: &str,
) -> World {
    let shopify = spawn_emulator(emulator).await;
    let (stripe, stripe_url) = spawn_stripe_with(stripe).await;
    let extra = format!(
        r#"
[shops.feed]
checkout_eligible = true
[shops.checkout]
order_lookup_attempts = 4
order_lookup_interval_ms = 20
test_orders = true
{checkout_extra}
[[shops.checkout.agents]]
id = "agent"
api_key = "{AGENT_KEY}"
{agent_extra}
[shops.checkout.stripe]
secret_key = "{key}"
merchant_id = "{account}"
api_base_url = "{stripe_url}"
"#,
        key = StripeEmulatorConfig::DEFAULT_SECRET_KEY,
        account = StripeEmulatorConfig::DEFAULT_ACCOUNT,
    );
    let config = settings_toml(&shop_toml(
        "acme",
        &shopify.url,
        EmulatorConfig::DEFAULT_TOKEN,
        &extra,
    ))
    .replace(
        "access_token = ",
        &format!("{shopify_extra}\naccess_token = "),
    );
    let app = spawn_app(&config).await;
    app.sync("acme", true).await.unwrap();
    World {
        app,
        shopify,
        stripe,
        stripe_url,
        config,
    }
}

impl World {
    /// An in-stock, checkout-eligible item of the published feed.
    pub async fn item(&self) -> String {
        let rows = self.app.openai_rows("acme").await;
        rows.iter()
            .find(|r| r["availability"] == "in_stock" && r["is_eligible_checkout"] == true)
            .and_then(|r| r["item_id"].as_str())
            .expect("an in-stock item")
            .to_owned()
    }

    /// [`World::item`] with 1000 units in Shopify, so a test can buy it as
    /// often as it needs (the feed still shows what the last sync saw).
    pub async fn stocked_item(&self) -> String {
        let item = self.item().await;
        self.shopify
            .emulator
            .set_inventory(&variant_gid(&item), 1000)
            .unwrap();
        item
    }

    /// Stops the daemon (draining it) and starts a new one on the same data
    /// directory and emulators, as after a process restart.
    pub async fn restart(self) -> World {
        let World {
            app,
            shopify,
            stripe,
            stripe_url,
            config,
        } = self;
        let (_, store, data_dir) = app.stop().await;
        // The database is locked while any handle of it is open.
        drop(store);
        let app = spawn_app_in(&config, data_dir).await;
        World {
            app,
            shopify,
            stripe,
            stripe_url,
            config,
        }
    }

    /// The daemon's config (TOML), e.g. to run the CLI against it.
    pub fn config(&self) -> &str {
        &self.config
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/acp/acme{path}", self.app.public)
    }

    /// A request as the agent sends it: its key, `API-Version`, `Request-Id`.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        version: &str,
    ) -> reqwest::RequestBuilder {
        self.app
            .http
            .request(method, self.url(path))
            .bearer_auth(AGENT_KEY)
            .header("API-Version", version)
            .header("Request-Id", "req-1")
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        version: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.request(method, path, version);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(request).await
    }

    pub async fn post(&self, path: &str, version: &str, key: &str, body: Value) -> (u16, Value) {
        let (s, _, b) = self
            .call(reqwest::Method::POST, path, version, Some(key), Some(body))
            .await;
        (s, b)
    }

    pub async fn get_session(&self, version: &str, id: &str) -> (u16, Value) {
        let (s, _, b) = self
            .call(
                reqwest::Method::GET,
                &format!("/checkout_sessions/{id}"),
                version,
                None,
                None,
            )
            .await;
        (s, b)
    }

    /// A new session for one unit of `item` with a California address:
    /// priced, shipping selected, `ready_for_payment`.
    pub async fn ready_session(&self, version: &str, item: &str, key: &str) -> Value {
        let (status, session) = self
            .post(
                "/checkout_sessions",
                version,
                key,
                create_body(version, item, 1, true),
            )
            .await;
        assert_eq!(status, 201, "{session}");
        assert_eq!(session["status"], "ready_for_payment", "{session}");
        session
    }

    /// `POST …/complete` with `token` in the version's payment shape.
    pub async fn complete(&self, version: &str, id: &str, key: &str, token: &str) -> Reply {
        self.call(
            reqwest::Method::POST,
            &format!("/checkout_sessions/{id}/complete"),
            version,
            Some(key),
            Some(complete_body_for(version, token)),
        )
        .await
    }

    pub fn token(&self, payment_method: &str, max: i64) -> String {
        self.stripe
            .grant_token(payment_method, Money::new(max, Currency::USD), None)
            .unwrap()
    }

    /// Requests the Stripe emulator has received for `endpoint`
    /// (e.g. [`CHARGE`]).
    pub fn stripe_requests(&self, endpoint: &str) -> u64 {
        self.stripe
            .counters()
            .by_endpoint
            .get(endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// Runs `during` while a complete of `id` is authorizing: Stripe holds
    /// the authorization for half a second, and `during` runs once it has
    /// reached Stripe, i.e. after the live repricing and before the order.
    pub async fn complete_while_authorizing(
        &self,
        version: &str,
        id: &str,
        key: &str,
        token: &str,
        during: impl FnOnce(&World),
    ) -> Reply {
        let before = self.stripe_requests(CHARGE);
        self.stripe
            .faults()
            .stall_execution_next(1, Duration::from_millis(500));
        let (reply, ()) = tokio::join!(self.complete(version, id, key, token), async {
            wait_until("the authorization to reach Stripe", || {
                self.stripe_requests(CHARGE) > before
            })
            .await;
            during(self);
        });
        reply
    }

    /// Makes Shopify track the stock of `item`'s variant and refuse to
    /// oversell it, with `quantity` left.
    pub fn set_scarce_stock(&self, item: &str, quantity: i32) {
        let variant: u64 = item.parse().unwrap();
        let emulator = &self.shopify.emulator;
        let product = emulator
            .products()
            .into_iter()
            .find(|p| p.variants.iter().any(|v| v.id == variant))
            .unwrap_or_else(|| panic!("no product has variant {item}"));
        emulator
            .update_product(&product.gid(), |p| {
                for v in p.variants.iter_mut().filter(|v| v.id == variant) {
                    v.tracked = true;
                    v.inventory_policy = InventoryPolicy::Deny;
                }
            })
            .unwrap();
        emulator
            .set_inventory(&variant_gid(item), quantity)
            .unwrap();
    }

    /// PaymentIntents that hold or took money (`requires_capture`,
    /// `succeeded`).
    pub fn live_intents(&self) -> Vec<acp_bridge::emulator::stripe::PaymentIntentView> {
        self.stripe
            .payment_intents()
            .into_iter()
            .filter(|pi| pi.status == "requires_capture" || pi.status == "succeeded")
            .collect()
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

pub fn variant_gid(item: &str) -> String {
    format!("gid://shopify/ProductVariant/{item}")
}

pub fn address() -> Value {
    json!({
        "name": "Ada Buyer", "line_one": "1 Market St", "city": "San Francisco",
        "state": "CA", "country": "US", "postal_code": "94105"
    })
}

pub fn total(session: &Value, kind: &str) -> Option<i64> {
    session["totals"]
        .as_array()?
        .iter()
        .find(|t| t["type"] == kind)
        .and_then(|t| t["amount"].as_i64())
}

/// A 2026-04-17 complete body paying with `token` through our handler.
pub fn complete_body(token: &str) -> Value {
    json!({
        "buyer": {"first_name": "Ada", "last_name": "Buyer", "email": "ada@example.com"},
        "payment_data": {
            "handler_id": "stripe_card",
            "instrument": {"type": "card", "credential": {"type": "spt", "token": token}}
        }
    })
}

/// A complete body in `version`'s payment shape.
pub fn complete_body_for(version: &str, token: &str) -> Value {
    if version == V_OLD {
        json!({
            "buyer": {"first_name": "Ada", "last_name": "Buyer", "email": "ada@example.com"},
            "payment_data": {"token": token, "provider": "stripe"}
        })
    } else {
        complete_body(token)
    }
}

/// A create body in `version`'s shape, with or without the address.
pub fn create_body(version: &str, item: &str, quantity: u32, with_address: bool) -> Value {
    let mut body = if version == V_OLD {
        json!({"items": [{"id": item, "quantity": quantity}]})
    } else {
        json!({"currency": "usd", "line_items": [{"id": item, "quantity": quantity}]})
    };
    if with_address {
        body.as_object_mut()
            .unwrap()
            .extend(address_fields(version));
    }
    body
}

/// An update body setting the address in `version`'s shape.
pub fn address_update_body(version: &str) -> Value {
    Value::Object(address_fields(version))
}

fn address_fields(version: &str) -> serde_json::Map<String, Value> {
    let value = if version == V_OLD {
        json!({"fulfillment_address": address()})
    } else {
        json!({"fulfillment_details": {"name": "Ada Buyer", "address": address()}})
    };
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// The session's `id`.
pub fn id_of(session: &Value) -> String {
    session["id"].as_str().expect("a session id").to_owned()
}

/// Whether the session carries a message with this `code`.
pub fn has_message(session: &Value, code: &str) -> bool {
    session["messages"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["code"] == code))
}

/// The `Signature` header value for `body`: base64url (unpadded)
/// HMAC-SHA256 of the raw bytes with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Polls `ready` until it holds; fails after 10 s naming `what`.
pub async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ------------------------------------------------------------------ schema

/// `<spec>/<version>/<file>` as JSON; fails naming `ACP_SPEC_DIR` when the
/// reference files are not there.
pub fn spec_json(version: &str, file: &str) -> Value {
    let path = acp_spec_dir().join(version).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the ACP spec file {} ({e}); set ACP_SPEC_DIR to the acp-spec \
             directory (default ../shared/acp-spec relative to the crate)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

type Validators = Mutex<HashMap<(String, String), Arc<jsonschema::Validator>>>;
static VALIDATORS: LazyLock<Validators> = LazyLock::new(Validators::default);

/// A validator for `$defs/<def>` of the version's checkout schema bundle.
///
/// The bundle has no root type, so the root gets a `$ref` to the entry. The
/// 2025-09-29 bundle writes draft-04 `exclusiveMinimum: true` next to
/// `minimum` in a 2020-12 schema; that is rewritten to the 2020-12 form with
/// the same meaning so the bundle compiles.
fn validator(version: &str, def: &str) -> Arc<jsonschema::Validator> {
    let key = (version.to_owned(), def.to_owned());
    if let Some(v) = VALIDATORS.lock().unwrap().get(&key) {
        return v.clone();
    }
    let mut schema = spec_json(version, "schema.agentic_checkout.json");
    fix_draft4_exclusive_minimum(&mut schema);
    assert!(
        schema["$defs"][def].is_object(),
        "schema.agentic_checkout.json of {version} has no $defs/{def}"
    );
    schema["$ref"] = json!(format!("#/$defs/{def}"));
    let compiled = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the {version} checkout schema does not compile: {e}"));
    let compiled = Arc::new(compiled);
    VALIDATORS.lock().unwrap().insert(key, compiled.clone());
    compiled
}

fn fix_draft4_exclusive_minimum(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("exclusiveMinimum") == Some(&Value::Bool(true)) {
                let minimum = map.remove("minimum").unwrap_or(json!(0));
                map.insert("exclusiveMinimum".into(), minimum);
            }
            map.values_mut().for_each(fix_draft4_exclusive_minimum);
        }
        Value::Array(items) => items.iter_mut().for_each(fix_draft4_exclusive_minimum),
        _ => {}
    }
}

/// Every error of `value` against `$defs/<def>`, as readable lines.
pub fn schema_errors(version: &str, def: &str, value: &Value) -> Vec<String> {
    validator(version, def)
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Fails with every schema error when `value` does not match `$defs/<def>`.
#[track_caller]
pub fn assert_schema(version: &str, def: &str, value: &Value) {
    let errors = schema_errors(version, def, value);
    assert!(errors.is_empty(), "{version} {def}: {errors:#?}\n{value:#}");
}

/// Validates a session against the definition the spec names for it:
/// `CheckoutSessionWithOrder` once it has an order, else `CheckoutSession`.
///
/// The one relaxation: 2025-09-29's base session object forbids properties
/// it does not list and does not list `order`, so no session with an order
/// can validate against `CheckoutSessionWithOrder` there. For that version
/// the order is checked against `$defs/Order` and the rest of the session
/// against `CheckoutSession`.
#[track_caller]
pub fn assert_session(version: &str, session: &Value) {
    let has_order = session.get("order").is_some();
    if session["status"] == "completed" {
        assert!(
            has_order,
            "{version}: a completed session has an order: {session}"
        );
    }
    match (version, has_order) {
        (V_OLD, true) => {
            let mut rest = session.clone();
            let order = rest.as_object_mut().unwrap().remove("order").unwrap();
            assert_schema(version, "Order", &order);
            assert_eq!(order["checkout_session_id"], session["id"], "{session}");
            assert_schema(version, "CheckoutSession", &rest);
        }
        (_, true) => {
            assert_schema(version, "CheckoutSessionWithOrder", session);
            assert_eq!(session["order"]["checkout_session_id"], session["id"]);
        }
        (_, false) => assert_schema(version, "CheckoutSession", session),
    }
}

/// Validates an error body against the version's `Error` definition.
#[track_caller]
pub fn assert_error(version: &str, error: &Value) {
    assert_schema(version, "Error", error);
}
