//! The emulator's HTTP surface (relative routes, mountable anywhere) and the
//! request pipeline every endpoint goes through:
//!
//! 1. injected faults that strike before Stripe runs anything (hang, 5xx,
//!    429);
//! 2. secret-key authentication (401);
//! 3. `Stripe-Version` (400 for an unknown version; shared payment endpoints
//!    are unrecognized URLs on versions that do not know them);
//! 4. parameter validation (400, never saved under an Idempotency-Key);
//! 5. Idempotency-Key claim: replay, 409 in flight, 400 mismatch;
//! 6. execution under the ledger lock, the answer saved under the key;
//! 7. the drop-response fault, else the answer.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use super::config::knows_shared_payment;
use super::endpoint::{self, Ctx, Endpoint};
use super::error::ApiError;
use super::faults::ResponseLoss;
use super::form::Params;
use super::idempotency::{Claim, Fingerprint, MAX_KEY_LEN, Saved};
use super::state::new_id;
use super::{Inner, lock};

/// Builds the router over shared emulator state.
pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route(
            "/v1/test_helpers/shared_payment/granted_tokens",
            post(create_granted_token),
        )
        .route(
            "/v1/test_helpers/shared_payment/granted_tokens/{id}/revoke",
            post(revoke_granted_token),
        )
        .route(
            "/v1/shared_payment/granted_tokens/{id}",
            get(retrieve_granted_token),
        )
        .route("/v1/payment_intents", post(create_intent))
        .route("/v1/payment_intents/search", get(search_intents))
        .route("/v1/payment_intents/{id}", get(retrieve_intent))
        .route("/v1/payment_intents/{id}/capture", post(capture_intent))
        .route("/v1/payment_intents/{id}/cancel", post(cancel_intent))
        .route("/v1/refunds", post(create_refund))
        .fallback(unrecognized)
        .method_not_allowed_fallback(unrecognized)
        .with_state(inner)
}

type St = State<Arc<Inner>>;

async fn create_granted_token(State(inner): St, headers: HeaderMap, body: Bytes) -> Response {
    handle(inner, Endpoint::CreateGrantedToken, headers, body).await
}

async fn revoke_granted_token(
    State(inner): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(inner, Endpoint::RevokeGrantedToken(id), headers, body).await
}

async fn retrieve_granted_token(
    State(inner): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = Bytes::from(query.unwrap_or_default());
    handle(inner, Endpoint::RetrieveGrantedToken(id), headers, raw).await
}

async fn create_intent(State(inner): St, headers: HeaderMap, body: Bytes) -> Response {
    handle(inner, Endpoint::CreateIntent, headers, body).await
}

async fn search_intents(
    State(inner): St,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = Bytes::from(query.unwrap_or_default());
    handle(inner, Endpoint::SearchIntents, headers, raw).await
}

async fn retrieve_intent(
    State(inner): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = Bytes::from(query.unwrap_or_default());
    handle(inner, Endpoint::RetrieveIntent(id), headers, raw).await
}

async fn capture_intent(
    State(inner): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(inner, Endpoint::CaptureIntent(id), headers, body).await
}

async fn cancel_intent(
    State(inner): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(inner, Endpoint::CancelIntent(id), headers, body).await
}

async fn create_refund(State(inner): St, headers: HeaderMap, body: Bytes) -> Response {
    handle(inner, Endpoint::CreateRefund, headers, body).await
}

async fn unrecognized(State(inner): St, method: Method, OriginalUri(uri): OriginalUri) -> Response {
    inner.counters.request("unrecognized");
    let error = ApiError::unrecognized_url(method.as_str(), uri.path());
    answer(error.status, &error.body(), &new_id("req_"), None)
}

fn answer(status: StatusCode, body: &Value, request_id: &str, version: Option<&str>) -> Response {
    let bytes = serde_json::to_vec_pretty(body).unwrap_or_default();
    let mut response =
        (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("request-id", v);
    }
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert("stripe-version", v);
    }
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Stripe\""),
        );
    }
    response
}

fn fail(error: &ApiError, request_id: &str, version: Option<&str>) -> Response {
    answer(error.status, &error.body(), request_id, version)
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn lost(loss: ResponseLoss) -> Response {
    match loss {
        ResponseLoss::Abort => {
            let stream = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other(
                    "response dropped by fault injection",
                ))
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        ResponseLoss::Gateway(status) => (
            status,
            [(header::CONTENT_TYPE, "text/html")],
            format!(
                "<html><body><h1>{} {}</h1></body></html>",
                status.as_u16(),
                status.canonical_reason().unwrap_or("Gateway Error")
            ),
        )
            .into_response(),
    }
}

async fn handle(inner: Arc<Inner>, endpoint: Endpoint, headers: HeaderMap, raw: Bytes) -> Response {
    inner.counters.request(endpoint.label());
    let request_id = new_id("req_");

    if let Some(stall) = inner.faults.take_hang() {
        tokio::time::sleep(stall).await;
    }
    if let Some(status) = inner.faults.take_failure() {
        inner.counters.bump(|c| c.injected_failures += 1);
        return fail(&ApiError::internal().status(status), &request_id, None);
    }
    if inner.faults.take_rate_limit() {
        inner.counters.bump(|c| c.rate_limited += 1);
        let error = ApiError::invalid(
            "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.",
        )
        .status(StatusCode::TOO_MANY_REQUESTS)
        .code("rate_limit");
        return fail(&error, &request_id, None);
    }

    let caller = match inner.keys.authenticate(&headers) {
        Ok(caller) => caller,
        Err(error) => {
            inner.counters.bump(|c| c.unauthorized += 1);
            return fail(&error, &request_id, None);
        }
    };

    let version = match header_str(&headers, "stripe-version").map(str::trim) {
        None | Some("") => inner.account_version.clone(),
        Some(asked) if inner.versions.iter().any(|v| v == asked) => asked.to_owned(),
        Some(asked) => {
            let error = ApiError::invalid(format!("Invalid Stripe API version: {asked}"));
            return fail(&error, &request_id, None);
        }
    };
    let shared_payment = knows_shared_payment(&version);
    let version = Some(version.as_str());
    if endpoint.needs_shared_payment() && !shared_payment {
        let label = endpoint.path_key();
        let (method, path) = label.split_once(' ').unwrap_or(("GET", &label));
        return fail(
            &ApiError::unrecognized_url(method, path),
            &request_id,
            version,
        );
    }
    if endpoint.test_mode_only() && caller.livemode {
        let error = ApiError::invalid("This endpoint is only available in test mode.");
        return fail(&error, &request_id, version);
    }

    let params = Params::parse(&raw);
    let ctx = Ctx::new(
        caller.livemode,
        shared_payment,
        inner.clock.now(),
        inner.search_index_delay,
    );
    let prepared = match endpoint::prepare(&endpoint, &params, &ctx) {
        Ok(prepared) => prepared,
        Err(error) => return fail(&error, &request_id, version),
    };

    let key = endpoint
        .is_post()
        .then(|| header_str(&headers, "idempotency-key"))
        .flatten();
    let mut guard = None;
    if let Some(key) = key {
        if key.is_empty() || key.chars().count() > MAX_KEY_LEN {
            let error = ApiError::invalid(format!(
                "Invalid Idempotency-Key header: keys must be between 1 and {MAX_KEY_LEN} characters long."
            ));
            return fail(&error, &request_id, version);
        }
        let fingerprint = Fingerprint {
            endpoint: endpoint.path_key(),
            params: params.fingerprint(),
        };
        match inner.idempotency.claim(
            &caller.account,
            caller.livemode,
            key,
            fingerprint,
            inner.clock.now(),
        ) {
            Claim::Execute(claimed) => guard = Some(claimed),
            Claim::Replay(saved) => {
                inner.counters.bump(|c| c.idempotent_replays += 1);
                let mut response = answer(saved.status, &saved.body, &request_id, version);
                let headers = response.headers_mut();
                headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
                if let Ok(v) = HeaderValue::from_str(&saved.request_id) {
                    headers.insert("original-request", v);
                }
                if let Ok(v) = HeaderValue::from_str(key) {
                    headers.insert("idempotency-key", v);
                }
                return response;
            }
            Claim::InFlight(error) => {
                inner.counters.bump(|c| c.idempotency_in_flight += 1);
                return fail(&error, &request_id, version);
            }
            Claim::Mismatch(error) => {
                inner.counters.bump(|c| c.idempotency_mismatches += 1);
                return fail(&error, &request_id, version);
            }
        }
        if let Some(stall) = inner.faults.take_stall() {
            tokio::time::sleep(stall).await;
        }
    }

    inner.counters.bump(|c| c.executed += 1);
    let ctx = Ctx::new(
        caller.livemode,
        shared_payment,
        inner.clock.now(),
        inner.search_index_delay,
    );
    let outcome = if inner.faults.take_execution_error() {
        inner.counters.bump(|c| c.injected_failures += 1);
        Err(ApiError::internal())
    } else {
        let mut ledger = lock(&inner.ledger);
        endpoint::execute(
            prepared,
            ledger.account(&caller.account, caller.livemode),
            &ctx,
        )
    };
    let (status, body) = match outcome {
        Ok(body) => (StatusCode::OK, body),
        Err(error) => (error.status, error.body()),
    };
    if let Some(guard) = guard {
        guard.save(
            Saved {
                status,
                body: body.clone(),
                request_id: request_id.clone(),
            },
            ctx.now,
        );
    }
    if let Some(loss) = inner.faults.take_drop() {
        inner.counters.bump(|c| c.dropped_responses += 1);
        tracing::debug!(
            stripe.endpoint = endpoint.label(),
            "stripe emulator dropped a response"
        );
        return lost(loss);
    }
    let mut response = answer(status, &body, &request_id, version);
    if let Some(v) = key.and_then(|k| HeaderValue::from_str(k).ok()) {
        response.headers_mut().insert("idempotency-key", v);
    }
    response
}
