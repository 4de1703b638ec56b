//! `POST /webhooks/shopify/{shop}`: Shopify's webhook deliveries.
//!
//! Order of work: the shop must be known and have a webhook secret; the
//! `X-Shopify-Hmac-Sha256` signature over the raw body is checked (constant
//! time) before anything else is read; then the delivery is stored with its
//! dedupe mark (`X-Shopify-Event-Id`) and flushed, the shop's scheduler is
//! told, and Shopify gets its 200 well inside its 5 s. Processing happens in
//! the shop's next webhook run (`sync::webhooks`). A repeated event answers
//! 200 without being queued again.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::metrics::{SHOPIFY_WEBHOOK_BACKLOG, SHOPIFY_WEBHOOKS_TOTAL};
use crate::server::ServerState;
use crate::store::{Accepted, InboxEntry};
use crate::telemetry::ErrorChain;

const HMAC: &str = "x-shopify-hmac-sha256";
const TOPIC: &str = "x-shopify-topic";
const SHOP_DOMAIN: &str = "x-shopify-shop-domain";
const EVENT_ID: &str = "x-shopify-event-id";
const WEBHOOK_ID: &str = "x-shopify-webhook-id";
const TRIGGERED_AT: &str = "x-shopify-triggered-at";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether `signature` (the header's base64) is the HMAC-SHA256 of `body`
/// under `secret`, compared in constant time.
pub fn signature_valid(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn count(shop: &str, topic: &str, outcome: &'static str) {
    // Topics come from a fixed Shopify list once the signature is valid;
    // before that the label is not trusted.
    let topic = if outcome == "bad_signature" {
        "unverified".to_owned()
    } else {
        topic.to_owned()
    };
    metrics::counter!(
        SHOPIFY_WEBHOOKS_TOTAL,
        "shop" => shop.to_owned(),
        "topic" => topic,
        "outcome" => outcome,
    )
    .increment(1);
}

fn answer(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}

pub async fn receive(
    State(state): State<ServerState>,
    Path(shop): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(entry) = state.shops.get(&shop) else {
        return answer(StatusCode::NOT_FOUND, "no such shop");
    };
    let Some(secret) = entry.webhook_secret.as_ref() else {
        return answer(
            StatusCode::NOT_FOUND,
            "webhooks are not configured for this shop",
        );
    };
    let signed = header(&headers, HMAC).is_some_and(|signature| {
        signature_valid(secret.expose_secret().as_bytes(), &body, signature)
    });
    if !signed {
        tracing::warn!(shop.id = %shop, "refused a Shopify webhook with a missing or wrong signature");
        count(&shop, "", "bad_signature");
        return answer(StatusCode::UNAUTHORIZED, "signature does not match");
    }
    let topic = header(&headers, TOPIC)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if let Some(domain) = header(&headers, SHOP_DOMAIN)
        && !domain.eq_ignore_ascii_case(&entry.shop_domain)
    {
        tracing::warn!(shop.id = %shop, webhook.shop_domain = %domain, "refused a Shopify webhook for another shop");
        count(&shop, &topic, "bad_request");
        return answer(StatusCode::BAD_REQUEST, "webhook is for another shop");
    }
    let event_id = header(&headers, EVENT_ID).or_else(|| header(&headers, WEBHOOK_ID));
    let (Some(event_id), false, Ok(text)) =
        (event_id, topic.is_empty(), std::str::from_utf8(&body))
    else {
        count(&shop, &topic, "bad_request");
        return answer(
            StatusCode::BAD_REQUEST,
            "a topic, an event or webhook id and a UTF-8 body are required",
        );
    };
    let inbox = InboxEntry {
        event_id: event_id.to_owned(),
        topic: topic.clone(),
        received_at: Utc::now(),
        triggered_at: header(&headers, TRIGGERED_AT)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc)),
        body: text.to_owned(),
    };
    let store = state.store.clone();
    let id = entry.id.clone();
    // The transaction and its flush block; keep them off the runtime.
    let stored = tokio::task::spawn_blocking(move || store.accept_webhook(&id, &inbox)).await;
    match stored {
        Ok(Ok(Accepted::Queued(_))) => {
            count(&shop, &topic, "queued");
            // The webhook run sets the exact figure when it finishes.
            metrics::gauge!(SHOPIFY_WEBHOOK_BACKLOG, "shop" => shop.clone()).increment(1.0);
            if let Some(scheduler) = &entry.scheduler {
                scheduler.webhooks_queued();
            }
            tracing::debug!(shop.id = %shop, webhook.topic = %topic, "Shopify webhook queued");
            answer(StatusCode::OK, "queued")
        }
        Ok(Ok(Accepted::Duplicate)) => {
            count(&shop, &topic, "duplicate");
            answer(StatusCode::OK, "already received")
        }
        Ok(Err(e)) => {
            tracing::error!(shop.id = %shop, error = %ErrorChain(&e), "storing a Shopify webhook failed");
            count(&shop, &topic, "error");
            // Shopify retries a non-2xx delivery.
            answer(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
        Err(e) => {
            tracing::error!(shop.id = %shop, error = %e, "storing a Shopify webhook failed");
            count(&shop, &topic, "error");
            answer(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_base64_hmac_of_the_raw_body() {
        let secret = b"shpss_test_secret";
        let body = br#"{"id":1}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        let good = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert!(signature_valid(secret, body, &good));
        assert!(!signature_valid(secret, br#"{"id":2}"#, &good));
        assert!(!signature_valid(b"other", body, &good));
        assert!(!signature_valid(secret, body, "not base64!"));
        assert!(!signature_valid(secret, body, ""));
    }
}
