//! Helpers of the lifecycle and webhook tests: an emulator that may deliver
//! to this machine, orders placed through `orderCreate`, and a webhook
//! receiver (axum on 127.0.0.1:0) that records what it gets and answers
//! with scripted statuses.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;

use super::documents::{FULFILLMENT_ORDERS, ORDER_CREATE_SIMPLE};
use super::*;
use crate::emulator::shopify::{Price, Product, WebhookSettings, WebhookTopic};

/// An emulator whose webhooks go to loopback receivers: `attempts` attempts
/// per delivery, retries 20 ms apart (doubling), a 2 s answer timeout.
pub(super) fn hook_emulator(attempts: u32) -> ShopifyEmulator {
    emulator_with(|c| c.webhooks = WebhookSettings::for_tests(attempts, Duration::from_millis(20)))
}

/// Adds a one-variant tracked product at `cents` with `stock` units; returns
/// (product GID, variant GID).
pub(super) fn add_variant(
    emu: &ShopifyEmulator,
    title: &str,
    cents: i64,
    stock: i32,
) -> (String, String) {
    let mut product = Product::new(title);
    product.variants[0].price = Price(cents);
    product.variants[0].inventory_quantity = stock;
    let gid = emu.add_product(product);
    let variant = emu.product(&gid).unwrap().variants[0].gid();
    (gid, variant)
}

/// A placed order: its GID and its line item GIDs in line order.
pub(super) struct Placed {
    pub id: String,
    pub lines: Vec<String>,
}

/// Places a paid order for `lines` (variant GID, quantity, unit amount),
/// tagged `acp:{checkout}`, claiming stock.
pub(super) async fn place_order(
    emu: &ShopifyEmulator,
    checkout: &str,
    lines: &[(&str, i64, &str)],
) -> Placed {
    let total: i64 = lines
        .iter()
        .map(|(_, q, amount)| q * crate::emulator::shopify::inputs::parse_cents(amount).unwrap())
        .sum();
    let order = json!({
        "currency": "USD",
        "email": "ada@example.com",
        "lineItems": lines.iter().map(|(variant, quantity, amount)| json!({
            "variantId": variant, "quantity": quantity, "requiresShipping": true,
            "priceSet": { "shopMoney": { "amount": amount, "currencyCode": "USD" } }
        })).collect::<Vec<_>>(),
        "tags": [format!("acp:{checkout}")],
        "sourceIdentifier": checkout,
        "transactions": [{
            "kind": "SALE", "status": "SUCCESS", "gateway": "stripe",
            "amountSet": { "shopMoney": { "amount": Price(total).to_string(), "currencyCode": "USD" } }
        }]
    });
    let body = gql(
        emu,
        ORDER_CREATE_SIMPLE,
        json!({ "order": order, "options": { "inventoryBehaviour": "DECREMENT_OBEYING_POLICY" } }),
    )
    .await;
    let created = &body["data"]["orderCreate"];
    assert_eq!(created["userErrors"], json!([]), "{body}");
    Placed {
        id: created["order"]["id"].as_str().unwrap().to_owned(),
        lines: created["order"]["lineItems"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect(),
    }
}

/// The order's fulfillment orders: (id, status, [(line id, FO line id,
/// remaining)]).
pub(super) async fn fulfillment_orders(
    emu: &ShopifyEmulator,
    order: &str,
) -> Vec<(String, String, Vec<(String, String, i64)>)> {
    let body = gql(emu, FULFILLMENT_ORDERS, json!({ "id": order })).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["order"]["fulfillmentOrders"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|fo| {
            let lines = fo["lineItems"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    (
                        l["lineItem"]["id"].as_str().unwrap().to_owned(),
                        l["id"].as_str().unwrap().to_owned(),
                        l["remainingQuantity"].as_i64().unwrap(),
                    )
                })
                .collect();
            (
                fo["id"].as_str().unwrap().to_owned(),
                fo["status"].as_str().unwrap().to_owned(),
                lines,
            )
        })
        .collect()
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub(super) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub(super) fn topic(&self) -> &str {
        self.header("x-shopify-topic")
    }

    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Does `X-Shopify-Hmac-Sha256` verify over the raw body with `secret`?
    pub(super) fn signed_with(&self, secret: &str) -> bool {
        let Ok(signature) =
            base64::engine::general_purpose::STANDARD.decode(self.header("x-shopify-hmac-sha256"))
        else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&self.body);
        mac.verify_slice(&signature).is_ok()
    }
}

#[derive(Clone, Default)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer, in order; 200 once spent.
    script: Arc<Mutex<VecDeque<StatusCode>>>,
    delay: Option<Duration>,
}

/// A webhook receiver on 127.0.0.1.
pub(super) struct Receiver {
    pub url: String,
    state: ReceiverState,
}

impl Receiver {
    /// Everything received so far, in arrival order.
    pub(super) fn received(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }

    /// What arrived for one topic (header form), in arrival order.
    pub(super) fn of(&self, topic: WebhookTopic) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.topic() == topic.header())
            .collect()
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    state.got.lock().unwrap().push(Received { headers, body });
    if let Some(delay) = state.delay {
        tokio::time::sleep(delay).await;
    }
    state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(StatusCode::OK)
}

/// A receiver that answers `script` in order, then 200, after `delay`.
pub(super) async fn receiver_with(script: &[StatusCode], delay: Option<Duration>) -> Receiver {
    let state = ReceiverState {
        delay,
        script: Arc::new(Mutex::new(script.iter().copied().collect())),
        ..ReceiverState::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/webhooks", post(receive))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, state }
}

/// A receiver that always answers 200.
pub(super) async fn receiver() -> Receiver {
    receiver_with(&[], None).await
}

/// Subscribes `uri` to each topic through the emulator's helper.
pub(super) fn subscribe_all(emu: &ShopifyEmulator, uri: &str, topics: &[WebhookTopic]) {
    for topic in topics {
        emu.subscribe_webhook(*topic, uri).unwrap();
    }
}
