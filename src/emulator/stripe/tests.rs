//! Router-level tests of the Stripe emulator's rules: requests go through
//! `tower::ServiceExt::oneshot`, so no sockets are needed.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use serde_json::Value;
use tower::ServiceExt;

use super::{ApiKey, Deactivation, ResponseLoss, StripeEmulator, StripeEmulatorConfig};
use crate::domain::{Currency, Money};

const KEY: &str = StripeEmulatorConfig::DEFAULT_SECRET_KEY;
const PREVIEW: &str = "2026-04-22.preview";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }
    fn error_param(&self) -> Option<&str> {
        self.body["error"]["param"].as_str()
    }
    fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
    }
}

async fn raw(
    emulator: &StripeEmulator,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Reply, axum::Error> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    if method == "POST" {
        builder = builder.header("content-type", "application/x-www-form-urlencoded");
    }
    let response = emulator
        .router()
        .oneshot(builder.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn auth(key: &str) -> String {
    format!("Bearer {key}")
}

async fn post(
    emulator: &StripeEmulator,
    path: &str,
    body: &str,
    idempotency_key: Option<&str>,
) -> Reply {
    let bearer = auth(KEY);
    let mut headers = vec![
        ("authorization", bearer.as_str()),
        ("stripe-version", PREVIEW),
    ];
    if let Some(key) = idempotency_key {
        headers.push(("idempotency-key", key));
    }
    raw(emulator, "POST", path, &headers, body).await.unwrap()
}

async fn get(emulator: &StripeEmulator, uri: &str) -> Reply {
    let bearer = auth(KEY);
    raw(
        emulator,
        "GET",
        uri,
        &[
            ("authorization", bearer.as_str()),
            ("stripe-version", PREVIEW),
        ],
        "",
    )
    .await
    .unwrap()
}

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::USD)
}

fn grant(emulator: &StripeEmulator, payment_method: &str, max_cents: i64) -> String {
    emulator
        .grant_token(payment_method, usd(max_cents), None)
        .unwrap()
}

fn charge_body(token: &str, amount: i64, capture: &str) -> String {
    format!(
        "amount={amount}&currency=usd&confirm=true&capture_method={capture}\
         &payment_method_data[shared_payment_granted_token]={token}\
         &metadata[checkout_session_id]=cs_1"
    )
}

// --- authentication and versions -------------------------------------------

#[tokio::test]
async fn a_request_without_a_key_gets_stripes_401() {
    let emulator = StripeEmulator::default();

    let reply = raw(&emulator, "GET", "/v1/payment_intents/pi_x", &[], "")
        .await
        .unwrap();

    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["error"]["type"], "invalid_request_error");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You did not provide an API key.")
    );
    assert_eq!(emulator.counters().unauthorized, 1);
}

#[tokio::test]
async fn a_wrong_key_is_rejected_with_the_key_redacted_as_stripe_prints_it() {
    let emulator = StripeEmulator::default();
    let wrong = "sk_test_51WrongWrongWrongabcd";

    let reply = raw(
        &emulator,
        "GET",
        "/v1/payment_intents/pi_x",
        &[("authorization", &auth(wrong))],
        "",
    )
    .await
    .unwrap();

    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let message = reply.body["error"]["message"].as_str().unwrap();
    let stars = "*".repeat(wrong.len() - "sk_test_".len() - 4);
    assert_eq!(
        message,
        format!("Invalid API Key provided: sk_test_{stars}abcd")
    );
    assert!(!message.contains("WrongWrong"));
}

#[tokio::test]
async fn basic_auth_with_the_key_as_user_name_is_accepted() {
    let emulator = StripeEmulator::default();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"));

    let reply = raw(
        &emulator,
        "GET",
        "/v1/payment_intents/pi_missing",
        &[("authorization", &format!("Basic {basic}"))],
        "",
    )
    .await
    .unwrap();

    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error_code(), Some("resource_missing"));
    assert_eq!(reply.error_param(), Some("intent"));
}

#[tokio::test]
async fn an_unknown_version_is_an_invalid_request() {
    let emulator = StripeEmulator::default();

    let reply = raw(
        &emulator,
        "GET",
        "/v1/payment_intents/pi_x",
        &[
            ("authorization", &auth(KEY)),
            ("stripe-version", "2019-13-45"),
        ],
        "",
    )
    .await
    .unwrap();

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body["error"]["message"],
        "Invalid Stripe API version: 2019-13-45"
    );
}

#[tokio::test]
async fn a_ga_version_knows_neither_the_token_endpoints_nor_the_token_parameter() {
    let emulator = StripeEmulator::default();
    let token = grant(&emulator, "pm_card_visa", 10_000);
    let ga = [
        ("authorization", auth(KEY)),
        ("stripe-version", "2026-06-24.dahlia".to_owned()),
    ];
    let ga: Vec<(&str, &str)> = ga.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let retrieve = raw(
        &emulator,
        "GET",
        &format!("/v1/shared_payment/granted_tokens/{token}"),
        &ga,
        "",
    )
    .await
    .unwrap();
    let charge = raw(
        &emulator,
        "POST",
        "/v1/payment_intents",
        &ga,
        &charge_body(&token, 500, "manual"),
    )
    .await
    .unwrap();
    let default_version = raw(
        &emulator,
        "POST",
        "/v1/payment_intents",
        &[("authorization", &auth(KEY))],
        &charge_body(&token, 500, "manual"),
    )
    .await
    .unwrap();

    assert_eq!(retrieve.status, StatusCode::NOT_FOUND);
    assert!(
        retrieve.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unrecognized request URL (GET: /v1/shared_payment/granted_tokens/")
    );
    assert_eq!(charge.status, StatusCode::BAD_REQUEST);
    assert_eq!(charge.error_code(), Some("parameter_unknown"));
    assert_eq!(
        charge.error_param(),
        Some("payment_method_data[shared_payment_granted_token]")
    );
    assert_eq!(default_version.error_code(), Some("parameter_unknown"));
    assert!(emulator.payment_intents().is_empty());
}

#[tokio::test]
async fn unknown_urls_and_methods_are_unrecognized() {
    let emulator = StripeEmulator::default();

    let unknown = post(&emulator, "/v1/charges_v9", "", None).await;
    let wrong_method = get(&emulator, "/v1/refunds").await;

    for reply in [unknown, wrong_method] {
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Unrecognized request URL")
        );
    }
}

// --- parameters ------------------------------------------------------------

#[tokio::test]
async fn parameters_are_validated_like_stripe() {
    let emulator = StripeEmulator::default();
    let path = "/v1/test_helpers/shared_payment/granted_tokens";

    let unknown = post(
        &emulator,
        path,
        "payment_method=pm_card_visa&usage_limits[currency]=usd&usage_limits[max_amount]=100&usage_limits[max]=1",
        None,
    )
    .await;
    let missing = post(
        &emulator,
        path,
        "payment_method=pm_card_visa&usage_limits[currency]=usd",
        None,
    )
    .await;
    let not_integer = post(
        &emulator,
        path,
        "payment_method=pm_card_visa&usage_limits[currency]=usd&usage_limits[max_amount]=ten",
        None,
    )
    .await;
    let empty = post(
        &emulator,
        "/v1/payment_intents",
        "amount=&currency=usd",
        None,
    )
    .await;
    let unknown_pm = post(
        &emulator,
        path,
        "payment_method=pm_card_bogus&usage_limits[currency]=usd&usage_limits[max_amount]=100",
        None,
    )
    .await;

    assert_eq!(unknown.error_code(), Some("parameter_unknown"));
    assert_eq!(unknown.error_param(), Some("usage_limits[max]"));
    assert_eq!(
        unknown.body["error"]["message"],
        "Received unknown parameter: usage_limits[max]"
    );
    assert_eq!(missing.error_code(), Some("parameter_missing"));
    assert_eq!(missing.error_param(), Some("usage_limits[max_amount]"));
    assert_eq!(not_integer.error_code(), Some("parameter_invalid_integer"));
    assert_eq!(not_integer.body["error"]["message"], "Invalid integer: ten");
    assert_eq!(empty.error_code(), Some("parameter_invalid_empty"));
    assert_eq!(unknown_pm.error_code(), Some("resource_missing"));
    for reply in [&unknown, &missing, &not_integer, &empty, &unknown_pm] {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn metadata_limits_are_enforced() {
    let emulator = StripeEmulator::default();
    let long_key = "k".repeat(41);
    let many: String = (0..51).map(|i| format!("&metadata[k{i}]=v")).collect();

    let too_long = post(
        &emulator,
        "/v1/payment_intents",
        &format!("amount=500&currency=usd&metadata[{long_key}]=v"),
        None,
    )
    .await;
    let too_many = post(
        &emulator,
        "/v1/payment_intents",
        &format!("amount=500&currency=usd{many}"),
        None,
    )
    .await;

    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        too_long.error_param(),
        Some(format!("metadata[{long_key}]").as_str())
    );
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_many.error_param(), Some("metadata"));
}

// --- tokens and charges ----------------------------------------------------

#[tokio::test]
async fn the_test_helper_grants_a_token_that_can_be_retrieved_and_revoked() {
    let emulator = StripeEmulator::default();
    let expires = emulator.now() + 3600;

    let created = post(
        &emulator,
        "/v1/test_helpers/shared_payment/granted_tokens",
        &format!(
            "payment_method=pm_card_visa&usage_limits[currency]=usd&usage_limits[max_amount]=10000&usage_limits[expires_at]={expires}"
        ),
        None,
    )
    .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let fetched = get(
        &emulator,
        &format!("/v1/shared_payment/granted_tokens/{id}"),
    )
    .await;
    let revoked = post(
        &emulator,
        &format!("/v1/test_helpers/shared_payment/granted_tokens/{id}/revoke"),
        "",
        None,
    )
    .await;
    let again = post(
        &emulator,
        &format!("/v1/test_helpers/shared_payment/granted_tokens/{id}/revoke"),
        "",
        None,
    )
    .await;

    assert_eq!(created.status, StatusCode::OK);
    assert!(id.starts_with("spt_"));
    assert_eq!(fetched.body["object"], "shared_payment.granted_token");
    assert_eq!(fetched.body["usage_limits"]["currency"], "usd");
    assert_eq!(fetched.body["usage_limits"]["max_amount"], 10_000);
    assert_eq!(fetched.body["usage_limits"]["expires_at"], expires);
    assert_eq!(fetched.body["deactivated_reason"], Value::Null);
    assert_eq!(revoked.body["deactivated_reason"], "revoked");
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        emulator.granted_token(&id).unwrap().deactivated,
        Some(Deactivation::Revoked)
    );
}

#[tokio::test]
async fn a_manual_charge_authorizes_consumes_the_token_and_captures_partially() {
    let emulator = StripeEmulator::default();
    let token = grant(&emulator, "pm_card_visa", 10_000);

    let charged = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&token, 7_000, "manual"),
        Some("k1"),
    )
    .await;
    let id = charged.body["id"].as_str().unwrap().to_owned();
    let second = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&token, 7_000, "manual"),
        Some("k2"),
    )
    .await;
    let too_much = post(
        &emulator,
        &format!("/v1/payment_intents/{id}/capture"),
        "amount_to_capture=7001",
        Some("c0"),
    )
    .await;
    let captured = post(
        &emulator,
        &format!("/v1/payment_intents/{id}/capture"),
        "amount_to_capture=6000",
        Some("c1"),
    )
    .await;
    let twice = post(
        &emulator,
        &format!("/v1/payment_intents/{id}/capture"),
        "",
        Some("c2"),
    )
    .await;

    assert_eq!(charged.status, StatusCode::OK);
    assert_eq!(charged.body["status"], "requires_capture");
    assert_eq!(charged.body["amount_capturable"], 7_000);
    assert!(
        charged.body["latest_charge"]
            .as_str()
            .unwrap()
            .starts_with("ch_")
    );
    assert_eq!(charged.body["metadata"]["checkout_session_id"], "cs_1");
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        second.error_code(),
        Some("shared_payment_granted_token_consumed")
    );
    assert_eq!(too_much.error_code(), Some("amount_too_large"));
    assert_eq!(captured.body["status"], "succeeded");
    assert_eq!(captured.body["amount_received"], 6_000);
    assert_eq!(captured.body["amount_capturable"], 0);
    assert_eq!(twice.error_code(), Some("payment_intent_unexpected_state"));
    let view = emulator.granted_token(&token).unwrap();
    assert_eq!(view.successful_charges, 1);
    assert_eq!(view.amount_captured, 6_000);
    assert_eq!(view.deactivated, Some(Deactivation::Consumed));
    assert_eq!(emulator.payment_intents().len(), 1);
}

#[tokio::test]
async fn an_automatic_charge_succeeds_at_once() {
    let emulator = StripeEmulator::default();
    let token = grant(&emulator, "pm_card_mastercard", 2_000);

    let charged = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&token, 2_000, "automatic"),
        None,
    )
    .await;

    assert_eq!(charged.body["status"], "succeeded");
    assert_eq!(charged.body["amount_received"], 2_000);
    assert_eq!(
        emulator.granted_token(&token).unwrap().amount_captured,
        2_000
    );
}

#[tokio::test]
async fn token_limits_are_enforced_without_creating_a_payment_intent() {
    let emulator = StripeEmulator::default();
    let over = grant(&emulator, "pm_card_visa", 1_000);
    let euro = grant(&emulator, "pm_card_visa", 5_000);
    let revoked = grant(&emulator, "pm_card_visa", 5_000);
    emulator.revoke_token(&revoked).unwrap();
    let expiring = emulator
        .grant_token("pm_card_visa", usd(5_000), Some(emulator.now() + 60))
        .unwrap();
    emulator.advance_clock(Duration::from_secs(61));

    let over_limit = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&over, 1_001, "manual"),
        None,
    )
    .await;
    let mismatch = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&euro, 1_000, "manual").replace("currency=usd", "currency=eur"),
        None,
    )
    .await;
    let was_revoked = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&revoked, 500, "manual"),
        None,
    )
    .await;
    let expired = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&expiring, 500, "manual"),
        None,
    )
    .await;
    let unknown = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body("spt_nope", 500, "manual"),
        None,
    )
    .await;

    assert_eq!(over_limit.error_code(), Some("amount_too_large"));
    assert_eq!(
        mismatch.error_code(),
        Some("shared_payment_granted_token_currency_mismatch")
    );
    assert_eq!(
        was_revoked.error_code(),
        Some("shared_payment_granted_token_revoked")
    );
    assert_eq!(
        expired.error_code(),
        Some("shared_payment_granted_token_expired")
    );
    assert_eq!(unknown.error_code(), Some("resource_missing"));
    for reply in [&over_limit, &mismatch, &was_revoked, &expired, &unknown] {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.error_param(),
            Some("payment_method_data[shared_payment_granted_token]")
        );
    }
    assert!(emulator.payment_intents().is_empty());
    let fetched = get(
        &emulator,
        &format!("/v1/shared_payment/granted_tokens/{expiring}"),
    )
    .await;
    assert_eq!(fetched.body["deactivated_reason"], "expired");
}

#[tokio::test]
async fn a_declining_card_answers_402_with_the_payment_intent_and_leaves_the_token_usable() {
    let emulator = StripeEmulator::default();
    let token = grant(&emulator, "pm_card_chargeDeclinedInsufficientFunds", 5_000);

    let reply = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&token, 4_000, "manual"),
        None,
    )
    .await;

    assert_eq!(reply.status, StatusCode::PAYMENT_REQUIRED);
    let error = &reply.body["error"];
    assert_eq!(error["type"], "card_error");
    assert_eq!(error["code"], "card_declined");
    assert_eq!(error["decline_code"], "insufficient_funds");
    assert_eq!(error["message"], "Your card has insufficient funds.");
    assert!(error["charge"].as_str().unwrap().starts_with("ch_"));
    assert_eq!(error["payment_intent"]["status"], "requires_payment_method");
    assert_eq!(
        error["payment_intent"]["last_payment_error"]["decline_code"],
        "insufficient_funds"
    );
    let view = emulator.granted_token(&token).unwrap();
    assert_eq!(
        (view.deactivated, view.declines, view.successful_charges),
        (None, 1, 0)
    );
    assert_eq!(
        emulator.payment_intents()[0].status,
        "requires_payment_method"
    );
}

#[tokio::test]
async fn each_decline_test_card_has_its_own_code() {
    let emulator = StripeEmulator::default();
    for (pm, code, decline_code) in [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        (
            "pm_card_chargeDeclinedLostCard",
            "card_declined",
            "lost_card",
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "expired_card",
            "expired_card",
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            "incorrect_cvc",
            "incorrect_cvc",
        ),
    ] {
        let token = grant(&emulator, pm, 5_000);
        let reply = post(
            &emulator,
            "/v1/payment_intents",
            &charge_body(&token, 1_000, "manual"),
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::PAYMENT_REQUIRED, "{pm}");
        assert_eq!(reply.error_code(), Some(code), "{pm}");
        assert_eq!(reply.body["error"]["decline_code"], decline_code, "{pm}");
    }
}

// --- idempotency -----------------------------------------------------------

#[tokio::test]
async fn the_same_key_and_parameters_replay_the_saved_answer_without_charging_again() {
    let emulator = StripeEmulator::default();
    let token = grant(&emulator, "pm_card_visa", 5_000);
    let body = charge_body(&token, 5_000, "manual");

    let first = post(
        &emulator,
        "/v1/payment_intents",
        &body,
        Some("acp:cs_1:charge"),
    )
    .await;
    let second = post(
        &emulator,
        "/v1/payment_intents",
        &body,
        Some("acp:cs_1:charge"),
    )
    .await;

    assert_eq!(first.status, StatusCode::OK);
    assert!(!first.replayed());
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.replayed());
    assert_eq!(second.body, first.body);
    assert_eq!(emulator.charges_for_token(&token), 1);
    assert_eq!(emulator.payment_intents().len(), 1);
    assert_eq!(emulator.counters().idempotent_replays, 1);
}

#[tokio::test]
async fn a_saved_decline_is_replayed_too() {
    let emulator = StripeEmulator::default();
    let token = grant(&emulator, "pm_card_chargeDeclined", 5_000);
    let body = charge_body(&token, 1_000, "manual");

    let first = post(&emulator, "/v1/payment_intents", &body, Some("d1")).await;
    let second = post(&emulator, "/v1/payment_intents", &body, Some("d1")).await;

    assert_eq!(first.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(second.status, StatusCode::PAYMENT_REQUIRED);
    assert!(second.replayed());
    assert_eq!(emulator.granted_token(&token).unwrap().declines, 1);
}

#[tokio::test]
async fn reusing_a_key_for_other_parameters_or_another_endpoint_is_an_idempotency_error() {
    let emulator = StripeEmulator::default();
    let token = grant(&emulator, "pm_card_visa", 5_000);

    post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&token, 1_000, "manual"),
        Some("k"),
    )
    .await;
    let other_params = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&token, 1_001, "manual"),
        Some("k"),
    )
    .await;
    let other_endpoint = post(&emulator, "/v1/refunds", "payment_intent=pi_x", Some("k")).await;

    for reply in [&other_params, &other_endpoint] {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body["error"]["type"], "idempotency_error");
    }
    assert!(
        other_params.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("same parameters")
    );
    assert_eq!(emulator.counters().idempotency_mismatches, 2);
}

#[tokio::test]
async fn parameter_order_does_not_matter_for_replay() {
    let emulator = StripeEmulator::default();

    let first = post(
        &emulator,
        "/v1/payment_intents",
        "amount=500&currency=usd",
        Some("o"),
    )
    .await;
    let second = post(
        &emulator,
        "/v1/payment_intents",
        "currency=usd&amount=500",
        Some("o"),
    )
    .await;

    assert!(second.replayed());
    assert_eq!(first.body["id"], second.body["id"]);
}

#[tokio::test]
async fn a_validation_failure_is_not_saved_under_the_key() {
    let emulator = StripeEmulator::default();

    let invalid = post(
        &emulator,
        "/v1/payment_intents",
        "amount=abc&currency=usd",
        Some("v"),
    )
    .await;
    let valid = post(
        &emulator,
        "/v1/payment_intents",
        "amount=500&currency=usd",
        Some("v"),
    )
    .await;

    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(valid.status, StatusCode::OK);
    assert!(!valid.replayed());
    assert_eq!(valid.body["status"], "requires_payment_method");
}

#[tokio::test(start_paused = true)]
async fn a_key_still_in_flight_gets_409_and_nothing_is_saved_for_it() {
    let emulator = StripeEmulator::default();
    let token = grant(&emulator, "pm_card_visa", 5_000);
    let body = charge_body(&token, 1_000, "manual");
    emulator
        .faults()
        .stall_execution_next(1, Duration::from_secs(5));

    let first = tokio::spawn({
        let emulator = emulator.clone();
        let body = body.clone();
        async move { post(&emulator, "/v1/payment_intents", &body, Some("f")).await }
    });
    // The claim happens in the same poll that counts the request, so once
    // it is counted the key is held and the first request is stalled.
    while emulator.counters().requests == 0 {
        tokio::task::yield_now().await;
    }
    let concurrent = post(&emulator, "/v1/payment_intents", &body, Some("f")).await;
    let first = first.await.unwrap();
    let after = post(&emulator, "/v1/payment_intents", &body, Some("f")).await;

    assert_eq!(concurrent.status, StatusCode::CONFLICT);
    assert_eq!(concurrent.error_code(), Some("idempotency_key_in_use"));
    assert_eq!(concurrent.body["error"]["type"], "invalid_request_error");
    assert_eq!(first.status, StatusCode::OK);
    assert!(after.replayed());
    assert_eq!(after.body["id"], first.body["id"]);
    assert_eq!(emulator.charges_for_token(&token), 1);
}

#[tokio::test]
async fn keys_are_scoped_per_account() {
    let other_key = "sk_test_51OtherAccount000000000000000000";
    let mut config = StripeEmulatorConfig::default();
    config.api_keys.push(ApiKey::new(other_key, "acct_1Other"));
    let emulator = StripeEmulator::new(config);
    let bearer_a = auth(KEY);
    let bearer_b = auth(other_key);

    let mut ids = Vec::new();
    for bearer in [&bearer_a, &bearer_b] {
        let reply = raw(
            &emulator,
            "POST",
            "/v1/payment_intents",
            &[("authorization", bearer), ("idempotency-key", "shared-key")],
            "amount=500&currency=usd",
        )
        .await
        .unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        assert!(!reply.replayed());
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    let cross = raw(
        &emulator,
        "GET",
        &format!("/v1/payment_intents/{}", ids[0]),
        &[("authorization", &bearer_b)],
        "",
    )
    .await
    .unwrap();

    assert_ne!(ids[0], ids[1]);
    assert_eq!(cross.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn keys_are_forgotten_after_24_hours() {
    let emulator = StripeEmulator::default();

    let first = post(
        &emulator,
        "/v1/payment_intents",
        "amount=500&currency=usd",
        Some("old"),
    )
    .await;
    emulator.advance_clock(Duration::from_secs(24 * 3600 + 1));
    let reused = post(
        &emulator,
        "/v1/payment_intents",
        "amount=900&currency=usd",
        Some("old"),
    )
    .await;

    assert_eq!(reused.status, StatusCode::OK);
    assert_ne!(reused.body["id"], first.body["id"]);
}

// --- state machine, search, refunds ----------------------------------------

#[tokio::test]
async fn cancel_is_allowed_only_from_cancelable_states() {
    let emulator = StripeEmulator::default();
    let held = grant(&emulator, "pm_card_visa", 5_000);
    let paid = grant(&emulator, "pm_card_visa", 5_000);
    let pi_held = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&held, 1_000, "manual"),
        None,
    )
    .await;
    let pi_paid = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&paid, 1_000, "automatic"),
        None,
    )
    .await;
    let held_id = pi_held.body["id"].as_str().unwrap();
    let paid_id = pi_paid.body["id"].as_str().unwrap();

    let bad_reason = post(
        &emulator,
        &format!("/v1/payment_intents/{held_id}/cancel"),
        "cancellation_reason=bored",
        None,
    )
    .await;
    let canceled = post(
        &emulator,
        &format!("/v1/payment_intents/{held_id}/cancel"),
        "cancellation_reason=abandoned",
        None,
    )
    .await;
    let not_cancelable = post(
        &emulator,
        &format!("/v1/payment_intents/{paid_id}/cancel"),
        "",
        None,
    )
    .await;
    let capture_canceled = post(
        &emulator,
        &format!("/v1/payment_intents/{held_id}/capture"),
        "",
        None,
    )
    .await;

    assert_eq!(bad_reason.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_reason.error_param(), Some("cancellation_reason"));
    assert_eq!(canceled.body["status"], "canceled");
    assert_eq!(canceled.body["cancellation_reason"], "abandoned");
    assert_eq!(canceled.body["amount_capturable"], 0);
    assert_eq!(
        not_cancelable.error_code(),
        Some("payment_intent_unexpected_state")
    );
    assert_eq!(
        capture_canceled.error_code(),
        Some("payment_intent_unexpected_state")
    );
}

#[tokio::test]
async fn search_finds_by_metadata_and_pages() {
    let emulator = StripeEmulator::default();
    for session in ["cs_A", "cs_B", "cs_B"] {
        post(
            &emulator,
            "/v1/payment_intents",
            &format!("amount=500&currency=usd&metadata[checkout_session_id]={session}"),
            None,
        )
        .await;
    }
    let query = |q: &str| url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();

    let a = get(
        &emulator,
        &format!(
            "/v1/payment_intents/search?query={}",
            query("metadata['checkout_session_id']:'cs_A'")
        ),
    )
    .await;
    let b_page = get(
        &emulator,
        &format!(
            "/v1/payment_intents/search?limit=1&query={}",
            query("metadata[\"checkout_session_id\"]:\"cs_B\"")
        ),
    )
    .await;
    let next = b_page.body["next_page"].as_str().unwrap().to_owned();
    let b_rest = get(
        &emulator,
        &format!(
            "/v1/payment_intents/search?limit=1&page={next}&query={}",
            query("metadata['checkout_session_id']:'cs_B'")
        ),
    )
    .await;
    let bad = get(
        &emulator,
        &format!(
            "/v1/payment_intents/search?query={}",
            query("metadata['checkout_session_id']~'cs'")
        ),
    )
    .await;

    assert_eq!(a.body["object"], "search_result");
    assert_eq!(a.body["url"], "/v1/payment_intents/search");
    assert_eq!(a.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(a.body["data"][0]["metadata"]["checkout_session_id"], "cs_A");
    assert_eq!(b_page.body["has_more"], true);
    assert_eq!(b_rest.body["has_more"], false);
    assert_eq!(b_rest.body["next_page"], Value::Null);
    assert_ne!(b_page.body["data"][0]["id"], b_rest.body["data"][0]["id"]);
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_param(), Some("query"));
}

#[tokio::test(start_paused = true)]
async fn new_payment_intents_reach_search_only_after_the_index_delay() {
    let emulator = StripeEmulator::new(StripeEmulatorConfig {
        search_index_delay: Duration::from_secs(30),
        ..StripeEmulatorConfig::default()
    });
    post(
        &emulator,
        "/v1/payment_intents",
        "amount=500&currency=usd&metadata[o]=1",
        None,
    )
    .await;
    let uri = format!(
        "/v1/payment_intents/search?query={}",
        url::form_urlencoded::byte_serialize(b"metadata['o']:'1'").collect::<String>()
    );

    let early = get(&emulator, &uri).await;
    tokio::time::advance(Duration::from_secs(31)).await;
    let later = get(&emulator, &uri).await;

    assert_eq!(early.body["data"].as_array().unwrap().len(), 0);
    assert_eq!(later.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn refunds_are_bounded_by_what_was_captured() {
    let emulator = StripeEmulator::default();
    let paid = grant(&emulator, "pm_card_visa", 5_000);
    let held = grant(&emulator, "pm_card_visa", 5_000);
    let pi = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&paid, 3_000, "automatic"),
        None,
    )
    .await;
    let pi_held = post(
        &emulator,
        "/v1/payment_intents",
        &charge_body(&held, 3_000, "manual"),
        None,
    )
    .await;
    let id = pi.body["id"].as_str().unwrap();

    let partial = post(
        &emulator,
        "/v1/refunds",
        &format!("payment_intent={id}&amount=1000"),
        None,
    )
    .await;
    let too_much = post(
        &emulator,
        "/v1/refunds",
        &format!("payment_intent={id}&amount=2001"),
        None,
    )
    .await;
    let rest = post(
        &emulator,
        "/v1/refunds",
        &format!("payment_intent={id}"),
        None,
    )
    .await;
    let again = post(
        &emulator,
        "/v1/refunds",
        &format!("payment_intent={id}"),
        None,
    )
    .await;
    let uncaptured = post(
        &emulator,
        "/v1/refunds",
        &format!("payment_intent={}", pi_held.body["id"].as_str().unwrap()),
        None,
    )
    .await;

    assert_eq!(partial.body["object"], "refund");
    assert_eq!(partial.body["amount"], 1_000);
    assert_eq!(partial.body["status"], "succeeded");
    assert_eq!(too_much.error_code(), Some("amount_too_large"));
    assert_eq!(too_much.error_param(), Some("amount"));
    assert_eq!(rest.body["amount"], 2_000);
    assert_eq!(again.error_code(), Some("charge_already_refunded"));
    assert_eq!(
        uncaptured.error_code(),
        Some("payment_intent_unexpected_state")
    );
    assert_eq!(emulator.payment_intent(id).unwrap().amount_refunded, 3_000);
}

// --- faults ----------------------------------------------------------------

#[tokio::test]
async fn a_dropped_answer_still_applies_the_charge_and_is_replayed_by_key() {
    let emulator = StripeEmulator::default();
    let token = grant(&emulator, "pm_card_visa", 5_000);
    let body = charge_body(&token, 1_000, "manual");
    emulator.faults().drop_response_next(1, ResponseLoss::Abort);
    let bearer = auth(KEY);
    let headers = [
        ("authorization", bearer.as_str()),
        ("stripe-version", PREVIEW),
        ("idempotency-key", "lost"),
    ];

    let lost = raw(&emulator, "POST", "/v1/payment_intents", &headers, &body).await;
    let retried = post(&emulator, "/v1/payment_intents", &body, Some("lost")).await;

    assert!(lost.is_err(), "the answer must not arrive");
    assert_eq!(emulator.payment_intents().len(), 1);
    assert!(retried.replayed());
    assert_eq!(
        retried.body["id"],
        emulator.payment_intents()[0].id.as_str()
    );
    assert_eq!(emulator.charges_for_token(&token), 1);
    assert_eq!(emulator.counters().dropped_responses, 1);
}

#[tokio::test]
async fn a_gateway_error_can_replace_an_applied_answer() {
    let emulator = StripeEmulator::default();
    emulator
        .faults()
        .drop_response_next(1, ResponseLoss::Gateway(StatusCode::BAD_GATEWAY));

    let reply = post(
        &emulator,
        "/v1/payment_intents",
        "amount=500&currency=usd",
        Some("g"),
    )
    .await;

    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(emulator.payment_intents().len(), 1);
}

#[tokio::test]
async fn injected_failures_before_execution_are_not_saved_but_execution_errors_are() {
    let emulator = StripeEmulator::default();
    emulator
        .faults()
        .fail_next(1, StatusCode::INTERNAL_SERVER_ERROR);

    let failed = post(
        &emulator,
        "/v1/payment_intents",
        "amount=500&currency=usd",
        Some("a"),
    )
    .await;
    let retried = post(
        &emulator,
        "/v1/payment_intents",
        "amount=500&currency=usd",
        Some("a"),
    )
    .await;
    emulator.faults().error_during_execution_next(1);
    let broken = post(
        &emulator,
        "/v1/payment_intents",
        "amount=700&currency=usd",
        Some("b"),
    )
    .await;
    let replayed = post(
        &emulator,
        "/v1/payment_intents",
        "amount=700&currency=usd",
        Some("b"),
    )
    .await;

    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.body["error"]["type"], "api_error");
    assert_eq!(retried.status, StatusCode::OK);
    assert!(!retried.replayed());
    assert_eq!(broken.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(replayed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(replayed.replayed());
    assert_eq!(emulator.payment_intents().len(), 1);
    assert_eq!(emulator.counters().injected_failures, 2);
}

#[tokio::test]
async fn rate_limited_requests_get_429_rate_limit() {
    let emulator = StripeEmulator::default();
    emulator.faults().rate_limit_next(1);

    let limited = post(
        &emulator,
        "/v1/payment_intents",
        "amount=500&currency=usd",
        Some("r"),
    )
    .await;
    let next = post(
        &emulator,
        "/v1/payment_intents",
        "amount=500&currency=usd",
        Some("r"),
    )
    .await;

    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error_code(), Some("rate_limit"));
    assert_eq!(next.status, StatusCode::OK);
    assert!(!next.replayed());
}
