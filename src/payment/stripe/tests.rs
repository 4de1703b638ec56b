//! Client tests against the Stripe emulator, served on a loopback listener
//! under `/_emulator/stripe` as the demo mounts it.

use std::time::Duration;

use axum::http::StatusCode;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

use super::{
    CancellationReason, CaptureMode, ChargeRequest, IdempotencyKey, PaymentIntentStatus,
    RetryPolicy, StripeClient, StripeError, StripeSettings, TokenDeactivation, TokenUnusableReason,
};
use crate::domain::{Currency, Money};
use crate::emulator::stripe::{ResponseLoss, StripeEmulator, StripeEmulatorConfig};

struct Harness {
    emulator: StripeEmulator,
    client: StripeClient,
    _stop: oneshot::Sender<()>,
}

fn settings(base: Url, key: &str) -> StripeSettings {
    let mut settings = StripeSettings::new(SecretString::from(key.to_owned()));
    settings.api_base_url = base;
    settings.request_timeout = Duration::from_secs(5);
    settings.connect_timeout = Duration::from_secs(2);
    settings.retry = RetryPolicy {
        max_retries: 3,
        backoff_base: Duration::from_millis(2),
        backoff_cap: Duration::from_millis(20),
    };
    settings
}

async fn start_with(edit: impl FnOnce(&mut StripeSettings)) -> Harness {
    let emulator = StripeEmulator::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().nest("/_emulator/stripe", emulator.router());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                stopped.await.ok();
            })
            .await
    });
    let base = Url::parse(&format!("http://{addr}/_emulator/stripe")).unwrap();
    let mut settings = settings(base, StripeEmulatorConfig::DEFAULT_SECRET_KEY);
    edit(&mut settings);
    Harness {
        emulator,
        client: StripeClient::new(settings).unwrap(),
        _stop: stop,
    }
}

async fn start() -> Harness {
    start_with(|_| {}).await
}

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::USD)
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::new(k).unwrap()
}

fn charge_request(token: &str, cents: i64, capture: CaptureMode, session: &str) -> ChargeRequest {
    ChargeRequest {
        amount: usd(cents),
        token: SecretString::from(token.to_owned()),
        capture,
        metadata: vec![("checkout_session_id".to_owned(), session.to_owned())],
        description: Some("ACP order".to_owned()),
        idempotency_key: key(&format!("acp:{session}:charge")),
    }
}

impl Harness {
    fn grant(&self, payment_method: &str, max_cents: i64) -> String {
        self.emulator
            .grant_token(payment_method, usd(max_cents), None)
            .unwrap()
    }
}

#[tokio::test]
async fn a_manual_charge_is_authorized_then_captured() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 10_000);

    let held = h
        .client
        .charge(charge_request(&token, 7_500, CaptureMode::Manual, "cs_1"))
        .await
        .unwrap();
    let captured = h
        .client
        .capture(&held.id, None, &key("acp:cs_1:capture"))
        .await
        .unwrap();
    let fetched = h.client.retrieve(&held.id).await.unwrap();

    assert_eq!(held.status, PaymentIntentStatus::RequiresCapture);
    assert_eq!(held.amount, usd(7_500));
    assert_eq!(held.amount_capturable, usd(7_500));
    assert_eq!(held.metadata["checkout_session_id"], "cs_1");
    assert!(
        held.latest_charge
            .as_deref()
            .is_some_and(|c| c.starts_with("ch_"))
    );
    assert_eq!(captured.status, PaymentIntentStatus::Succeeded);
    assert_eq!(captured.amount_received, usd(7_500));
    assert_eq!(fetched, captured);
    assert_eq!(h.emulator.charges_for_token(&token), 1);
    let view = h.emulator.payment_intent(&held.id).unwrap();
    assert_eq!(view.description.as_deref(), Some("ACP order"));
}

#[tokio::test]
async fn a_decline_is_reported_for_the_buyer_and_charges_nothing() {
    let h = start().await;
    let token = h.grant("pm_card_chargeDeclinedInsufficientFunds", 10_000);

    let error = h
        .client
        .charge(charge_request(&token, 5_000, CaptureMode::Manual, "cs_2"))
        .await
        .unwrap_err();

    let StripeError::Declined {
        code,
        decline_code,
        message,
        payment_intent,
    } = error
    else {
        panic!("expected a decline, got {error:?}");
    };
    assert_eq!(code, "card_declined");
    assert_eq!(decline_code.as_deref(), Some("insufficient_funds"));
    assert_eq!(message, "Your card has insufficient funds.");
    let intent = h.emulator.payment_intent(&payment_intent.unwrap()).unwrap();
    assert_eq!(intent.status, "requires_payment_method");
    assert_eq!(intent.amount_received, 0);
    assert_eq!(h.emulator.charges_for_token(&token), 0);
}

#[tokio::test]
async fn an_amount_over_the_token_limit_is_token_unusable() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 1_000);

    let error = h
        .client
        .charge(charge_request(&token, 1_001, CaptureMode::Manual, "cs_3"))
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            StripeError::TokenUnusable {
                reason: TokenUnusableReason::OverLimit
            }
        ),
        "{error:?}"
    );
    assert!(h.emulator.payment_intents().is_empty());
}

#[tokio::test]
async fn a_revoked_token_is_token_unusable_and_shows_as_revoked() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 5_000);
    h.emulator.revoke_token(&token).unwrap();

    let error = h
        .client
        .charge(charge_request(&token, 1_000, CaptureMode::Manual, "cs_4"))
        .await
        .unwrap_err();
    let granted = h
        .client
        .retrieve_granted_token(&SecretString::from(token.clone()))
        .await
        .unwrap();

    assert!(
        matches!(
            error,
            StripeError::TokenUnusable {
                reason: TokenUnusableReason::Revoked
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        granted.deactivated.map(|(_, r)| r),
        Some(TokenDeactivation::Revoked)
    );
    assert_eq!(
        granted.check_usable(usd(1_000), chrono::Utc::now()),
        Err(TokenUnusableReason::Revoked)
    );
}

#[tokio::test]
async fn a_granted_token_maps_its_limits_to_money() {
    let h = start().await;
    let expires = h.emulator.now() + 900;
    let token = h
        .emulator
        .grant_token(
            "pm_card_visa",
            Money::new(4_200, Currency::EUR),
            Some(expires),
        )
        .unwrap();

    let granted = h
        .client
        .retrieve_granted_token(&SecretString::from(token))
        .await
        .unwrap();

    assert_eq!(granted.currency, Currency::EUR);
    assert_eq!(granted.max_amount, Money::new(4_200, Currency::EUR));
    assert_eq!(granted.expires_at.map(|t| t.timestamp()), Some(expires));
    assert_eq!(granted.deactivated, None);
    let now = chrono::DateTime::from_timestamp(expires - 1, 0).unwrap();
    assert_eq!(
        granted.check_usable(Money::new(4_200, Currency::EUR), now),
        Ok(())
    );
    assert_eq!(
        granted.check_usable(Money::new(4_201, Currency::EUR), now),
        Err(TokenUnusableReason::OverLimit)
    );
    assert_eq!(
        granted.check_usable(usd(100), now),
        Err(TokenUnusableReason::CurrencyMismatch)
    );
}

#[tokio::test]
async fn an_unknown_token_is_not_found_and_never_echoed_in_errors() {
    let h = start().await;
    let secret = "spt_1SecretTokenValue42";

    let retrieved = h
        .client
        .retrieve_granted_token(&SecretString::from(secret.to_owned()))
        .await
        .unwrap_err();
    let charged = h
        .client
        .charge(charge_request(secret, 1_000, CaptureMode::Manual, "cs_5"))
        .await
        .unwrap_err();

    for error in [&retrieved, &charged] {
        assert!(
            matches!(
                error,
                StripeError::TokenUnusable {
                    reason: TokenUnusableReason::NotFound
                }
            ),
            "{error:?}"
        );
        assert!(!format!("{error} {error:?}").contains("SecretTokenValue"));
    }
}

#[tokio::test]
async fn a_lost_answer_is_recovered_by_replaying_the_key_without_a_second_charge() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 5_000);
    h.emulator
        .faults()
        .drop_response_next(1, ResponseLoss::Abort);

    let intent = h
        .client
        .charge(charge_request(&token, 5_000, CaptureMode::Manual, "cs_6"))
        .await
        .unwrap();

    assert_eq!(intent.status, PaymentIntentStatus::RequiresCapture);
    assert_eq!(h.emulator.payment_intents().len(), 1);
    assert_eq!(h.emulator.payment_intents()[0].id, intent.id);
    assert_eq!(h.emulator.charges_for_token(&token), 1);
    let counters = h.emulator.counters();
    assert_eq!(counters.dropped_responses, 1);
    assert_eq!(counters.idempotent_replays, 1);
}

#[tokio::test]
async fn a_gateway_error_after_the_charge_is_recovered_the_same_way() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 5_000);
    h.emulator
        .faults()
        .drop_response_next(2, ResponseLoss::Gateway(StatusCode::GATEWAY_TIMEOUT));

    let intent = h
        .client
        .charge(charge_request(
            &token,
            2_000,
            CaptureMode::Automatic,
            "cs_7",
        ))
        .await
        .unwrap();

    assert_eq!(intent.status, PaymentIntentStatus::Succeeded);
    assert_eq!(h.emulator.charges_for_token(&token), 1);
    assert_eq!(h.emulator.counters().idempotent_replays, 1);
}

#[tokio::test]
async fn server_errors_are_retried_until_the_charge_goes_through() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 5_000);
    h.emulator
        .faults()
        .fail_next(2, StatusCode::INTERNAL_SERVER_ERROR);

    let intent = h
        .client
        .charge(charge_request(&token, 1_000, CaptureMode::Manual, "cs_8"))
        .await
        .unwrap();

    assert_eq!(intent.status, PaymentIntentStatus::RequiresCapture);
    let counters = h.emulator.counters();
    assert_eq!(counters.requests, 3);
    assert_eq!(counters.injected_failures, 2);
    assert_eq!(h.emulator.charges_for_token(&token), 1);
}

#[tokio::test]
async fn a_write_that_keeps_failing_with_5xx_is_ambiguous_but_a_read_is_unavailable() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 5_000);
    h.emulator
        .faults()
        .fail_next(4, StatusCode::SERVICE_UNAVAILABLE);

    let write = h
        .client
        .charge(charge_request(&token, 1_000, CaptureMode::Manual, "cs_9"))
        .await
        .unwrap_err();
    h.emulator
        .faults()
        .fail_next(4, StatusCode::SERVICE_UNAVAILABLE);
    let read = h.client.retrieve("pi_whatever").await.unwrap_err();

    assert!(
        matches!(
            write,
            StripeError::Ambiguous {
                operation: "charge",
                attempts: 4
            }
        ),
        "{write:?}"
    );
    assert!(
        matches!(
            read,
            StripeError::Unavailable {
                attempts: 4,
                status: Some(503),
                ..
            }
        ),
        "{read:?}"
    );
    assert!(read.is_retryable());
    assert!(!write.is_retryable());
}

#[tokio::test]
async fn a_saved_execution_error_stays_ambiguous_across_retries() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 5_000);
    h.emulator.faults().error_during_execution_next(1);

    let error = h
        .client
        .charge(charge_request(&token, 1_000, CaptureMode::Manual, "cs_10"))
        .await
        .unwrap_err();

    assert!(matches!(error, StripeError::Ambiguous { .. }), "{error:?}");
    assert_eq!(h.emulator.counters().idempotent_replays, 3);
    assert!(h.emulator.payment_intents().is_empty());
}

#[tokio::test]
async fn rate_limiting_is_retried_and_reported_when_it_persists() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 5_000);
    h.emulator.faults().rate_limit_next(2);

    let ok = h
        .client
        .charge(charge_request(&token, 1_000, CaptureMode::Manual, "cs_11"))
        .await;
    h.emulator.faults().rate_limit_next(10);
    let limited = h
        .client
        .retrieve(&ok.as_ref().unwrap().id)
        .await
        .unwrap_err();

    assert!(ok.is_ok());
    assert!(
        matches!(limited, StripeError::RateLimited { attempts: 4 }),
        "{limited:?}"
    );
}

#[tokio::test]
async fn a_key_in_flight_is_waited_out_and_both_callers_get_the_same_payment_intent() {
    let h = start_with(|s| {
        s.retry = RetryPolicy {
            max_retries: 20,
            backoff_base: Duration::from_millis(20),
            backoff_cap: Duration::from_millis(100),
        };
    })
    .await;
    let token = h.grant("pm_card_visa", 5_000);
    h.emulator
        .faults()
        .stall_execution_next(1, Duration::from_millis(300));

    let (a, b) = tokio::join!(
        h.client
            .charge(charge_request(&token, 1_000, CaptureMode::Manual, "cs_12")),
        h.client
            .charge(charge_request(&token, 1_000, CaptureMode::Manual, "cs_12")),
    );

    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id, b.id);
    assert_eq!(h.emulator.charges_for_token(&token), 1);
    assert!(h.emulator.counters().idempotency_in_flight >= 1);
}

#[tokio::test]
async fn a_timed_out_attempt_is_retried_with_the_same_key() {
    let h = start_with(|s| s.request_timeout = Duration::from_millis(300)).await;
    let token = h.grant("pm_card_visa", 5_000);
    h.emulator
        .faults()
        .hang_next(1, Duration::from_millis(1_500));

    let intent = h
        .client
        .charge(charge_request(&token, 1_000, CaptureMode::Manual, "cs_13"))
        .await
        .unwrap();

    assert_eq!(intent.status, PaymentIntentStatus::RequiresCapture);
    assert_eq!(h.emulator.charges_for_token(&token), 1);
}

#[tokio::test]
async fn payment_intents_are_found_by_checkout_session_metadata() {
    let h = start().await;
    let first = h.grant("pm_card_visa", 5_000);
    let second = h.grant("pm_card_visa", 5_000);
    let mine = h
        .client
        .charge(charge_request(
            &first,
            1_000,
            CaptureMode::Manual,
            "cs_it's",
        ))
        .await
        .unwrap();
    h.client
        .charge(charge_request(
            &second,
            1_000,
            CaptureMode::Manual,
            "cs_other",
        ))
        .await
        .unwrap();

    let found = h
        .client
        .find_by_metadata("checkout_session_id", "cs_it's")
        .await
        .unwrap();
    let none = h
        .client
        .find_by_metadata("checkout_session_id", "cs_none")
        .await
        .unwrap();

    assert_eq!(found, vec![mine]);
    assert!(none.is_empty());
    assert!(matches!(
        h.client.find_by_metadata("bad'key", "x").await,
        Err(StripeError::InvalidArgument { .. })
    ));
}

#[tokio::test]
async fn refunds_take_part_then_the_rest_and_no_more() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 5_000);
    let paid = h
        .client
        .charge(charge_request(
            &token,
            3_000,
            CaptureMode::Automatic,
            "cs_14",
        ))
        .await
        .unwrap();

    let part = h
        .client
        .refund(&paid.id, Some(usd(1_000)), &key("acp:cs_14:refund:1"))
        .await
        .unwrap();
    let too_much = h
        .client
        .refund(&paid.id, Some(usd(2_001)), &key("acp:cs_14:refund:2"))
        .await
        .unwrap_err();
    let rest = h
        .client
        .refund(&paid.id, None, &key("acp:cs_14:refund:3"))
        .await
        .unwrap();

    assert_eq!(part.amount, usd(1_000));
    assert_eq!(part.status, super::RefundStatus::Succeeded);
    assert_eq!(part.payment_intent.as_deref(), Some(paid.id.as_str()));
    assert!(
        matches!(&too_much, StripeError::InvalidRequest { status: 400, code: Some(c), .. } if c == "amount_too_large"),
        "{too_much:?}"
    );
    assert_eq!(rest.amount, usd(2_000));
    assert_eq!(
        h.emulator.payment_intent(&paid.id).unwrap().amount_refunded,
        3_000
    );
}

#[tokio::test]
async fn cancel_releases_a_hold_once() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 5_000);
    let held = h
        .client
        .charge(charge_request(&token, 1_000, CaptureMode::Manual, "cs_15"))
        .await
        .unwrap();

    let canceled = h
        .client
        .cancel(
            &held.id,
            Some(CancellationReason::Abandoned),
            &key("acp:cs_15:cancel"),
        )
        .await
        .unwrap();
    let capture = h
        .client
        .capture(&held.id, None, &key("acp:cs_15:capture"))
        .await
        .unwrap_err();

    assert_eq!(canceled.status, PaymentIntentStatus::Canceled);
    assert_eq!(canceled.cancellation_reason.as_deref(), Some("abandoned"));
    assert!(
        matches!(&capture, StripeError::InvalidRequest { code: Some(c), .. } if c == "payment_intent_unexpected_state"),
        "{capture:?}"
    );
}

#[tokio::test]
async fn reusing_a_key_for_a_different_charge_is_an_idempotency_conflict() {
    let h = start().await;
    let token = h.grant("pm_card_visa", 5_000);
    h.client
        .charge(charge_request(&token, 1_000, CaptureMode::Manual, "cs_16"))
        .await
        .unwrap();

    let error = h
        .client
        .charge(charge_request(&token, 1_500, CaptureMode::Manual, "cs_16"))
        .await
        .unwrap_err();

    assert!(
        matches!(error, StripeError::IdempotencyConflict),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_an_authentication_error_that_does_not_show_the_key() {
    let h = start_with(|s| s.secret_key = SecretString::from("sk_test_51WrongKeyValue1234")).await;

    let error = h.client.retrieve("pi_1").await.unwrap_err();

    assert!(
        matches!(error, StripeError::Authentication { status: 401 }),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?} {:?}", h.client).contains("WrongKeyValue"));
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_not_ambiguous() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let client = StripeClient::new(settings(base, "sk_test_x")).unwrap();

    let error = client
        .charge(charge_request("spt_1", 1_000, CaptureMode::Manual, "cs_17"))
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            StripeError::Unavailable {
                status: None,
                attempts: 4,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn idempotency_keys_must_be_printable_and_bounded() {
    assert!(IdempotencyKey::new("acp:cs_1:charge").is_ok());
    assert!(IdempotencyKey::new("a".repeat(255)).is_ok());
    for bad in [
        String::new(),
        "a".repeat(256),
        "has space".into(),
        "naïve".into(),
    ] {
        assert!(IdempotencyKey::new(bad.clone()).is_err(), "{bad}");
    }
}

#[test]
fn settings_debug_does_not_show_the_secret_key() {
    let settings = StripeSettings::new(SecretString::from("sk_live_VerySecret".to_owned()));
    assert!(!format!("{settings:?}").contains("VerySecret"));
    let request = charge_request("spt_TopSecretToken", 100, CaptureMode::Manual, "cs");
    assert!(!format!("{request:?}").contains("TopSecretToken"));
}

#[tokio::test]
async fn a_version_without_shared_payments_is_a_request_error_not_a_bad_token() {
    let h = start_with(|s| s.api_version = "2026-06-24.dahlia".to_owned()).await;
    let token = h.grant("pm_card_visa", 5_000);

    let charged = h
        .client
        .charge(charge_request(&token, 1_000, CaptureMode::Manual, "cs_18"))
        .await
        .unwrap_err();
    let retrieved = h
        .client
        .retrieve_granted_token(&SecretString::from(token))
        .await
        .unwrap_err();

    assert!(
        matches!(&charged, StripeError::InvalidRequest { status: 400, code: Some(c), .. } if c == "parameter_unknown"),
        "{charged:?}"
    );
    assert!(
        matches!(retrieved, StripeError::InvalidRequest { status: 404, .. }),
        "{retrieved:?}"
    );
}
