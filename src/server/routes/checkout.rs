//! `/acp/{shop}/checkout_sessions…` and `/acp/{shop}/.well-known/acp.json`.
//!
//! Order of checks on every request: shop known → `API-Version` → bearer key
//! (constant-time, before anything else, including idempotent replay) →
//! per-agent rate limit → `Signature`/`Timestamp` per the shop's policy →
//! body size and content type → idempotency key → body → service. Errors are
//! the flat ACP error of the request's version.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::checkout::discovery::{self, DiscoveryConfig};
use crate::checkout::service::{
    Answer, CheckoutService, IdempotencyCommit, ServiceError, api_base_url,
};
use crate::checkout::{AcpError, ApiVersion, wire};
use crate::config::SignaturePolicy;
use crate::metrics::{CHECKOUT_REQUEST_DURATION_SECONDS, CHECKOUT_REQUESTS_TOTAL};
use crate::server::ServerState;
use crate::store::{IdempotencyPolicy, IdempotencyScope, IdempotencyStart};

/// Checkout of one shop as the server holds it.
#[derive(Clone)]
pub struct CheckoutEntry {
    pub service: Arc<CheckoutService>,
    /// The shop's reconciliation job (run periodically by `app`, on demand
    /// through the admin API).
    pub reconciler: Arc<crate::orders::Reconciler>,
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
}

impl CheckoutEntry {
    pub fn new(service: Arc<CheckoutService>) -> Self {
        let per_minute =
            NonZeroU32::new(service.settings().requests_per_minute).unwrap_or(NonZeroU32::MIN);
        CheckoutEntry {
            reconciler: Arc::new(crate::orders::Reconciler::new(service.clone())),
            service,
            limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
        }
    }
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";
const REQUEST_ID: &str = "request-id";
const API_VERSION: &str = "api-version";

fn policy() -> IdempotencyPolicy {
    IdempotencyPolicy {
        retention: chrono::Duration::hours(24),
        lease: chrono::Duration::seconds(120),
    }
}

/// Which endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
    Get,
    Complete,
    Cancel,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Get => "get",
            Op::Complete => "complete",
            Op::Cancel => "cancel",
        }
    }
}

pub async fn create(
    State(state): State<ServerState>,
    Path(shop): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, shop, None, Op::Create, headers, body).await
}

pub async fn update(
    State(state): State<ServerState>,
    Path((shop, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, shop, Some(id), Op::Update, headers, body).await
}

pub async fn get_session(
    State(state): State<ServerState>,
    Path((shop, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    handle(state, shop, Some(id), Op::Get, headers, Bytes::new()).await
}

pub async fn complete(
    State(state): State<ServerState>,
    Path((shop, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, shop, Some(id), Op::Complete, headers, body).await
}

pub async fn cancel(
    State(state): State<ServerState>,
    Path((shop, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, shop, Some(id), Op::Cancel, headers, body).await
}

/// `GET /.well-known/acp.json` on a host name bound to one shop
/// (`shops.checkout.hostname`).
pub async fn well_known_by_host(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    let host = header_str(&headers, header::HOST.as_str())
        .map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase());
    let shop = host.and_then(|host| {
        state
            .checkout
            .iter()
            .find(|(_, e)| e.service.settings().hostname.as_deref() == Some(host.as_str()))
            .map(|(id, _)| id.clone())
    });
    match shop {
        Some(shop) => well_known(State(state), Path(shop), headers).await,
        None => acp_error(
            ApiVersion::LATEST,
            &AcpError::new(
                StatusCode::NOT_FOUND,
                crate::checkout::ErrorKind::InvalidRequest,
                "not_found",
                "no shop is bound to this host name",
            ),
            &headers,
        ),
    }
}

/// `GET /acp/{shop}/.well-known/acp.json`: public, cacheable.
pub async fn well_known(
    State(state): State<ServerState>,
    Path(shop): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(entry) = state.checkout.get(&shop) else {
        return acp_error(ApiVersion::LATEST, &no_checkout(&shop), &HeaderMap::new());
    };
    let facts = match entry.service.facts() {
        Ok(f) => f,
        Err(e) => return service_error(ApiVersion::LATEST, e, &HeaderMap::new()),
    };
    let base = state
        .public_url
        .as_ref()
        .and_then(|u| api_base_url(u, entry.service.shop()))
        .or_else(|| {
            // No public URL configured: the address the caller used.
            let host = header_str(&headers, header::HOST.as_str()).unwrap_or("localhost");
            url::Url::parse(&format!("http://{host}/acp/{shop}/")).ok()
        });
    let Some(base) = base else {
        return acp_error(ApiVersion::LATEST, &AcpError::internal(), &HeaderMap::new());
    };
    let doc = discovery::discovery_document(&DiscoveryConfig::checkout(base, facts.currency));
    let mut response = axum::Json(doc).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(discovery::CACHE_CONTROL),
    );
    response
}

/// Times and counts every request, then runs it.
async fn handle(
    state: ServerState,
    shop: String,
    id: Option<String>,
    op: Op,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = std::time::Instant::now();
    let label = shop.clone();
    let response = handle_inner(state, shop, id, op, headers, body).await;
    let replayed = response.headers().contains_key("idempotent-replayed");
    metrics::counter!(
        CHECKOUT_REQUESTS_TOTAL,
        "shop" => label.clone(),
        "operation" => op.as_str(),
        "status" => response.status().as_u16().to_string(),
        "replayed" => if replayed { "true" } else { "false" },
    )
    .increment(1);
    metrics::histogram!(
        CHECKOUT_REQUEST_DURATION_SECONDS,
        "shop" => label,
        "operation" => op.as_str(),
    )
    .record(started.elapsed().as_secs_f64());
    response
}

async fn handle_inner(
    state: ServerState,
    shop: String,
    id: Option<String>,
    op: Op,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(entry) = state.checkout.get(&shop).cloned() else {
        let error = no_checkout(&shop);
        return acp_error(ApiVersion::LATEST, &error, &headers);
    };
    let version = match ApiVersion::from_header(header_str(&headers, API_VERSION)) {
        Ok(v) => v,
        Err(e) => {
            let error = AcpError::from(e);
            return respond_json(error.status, error.render_unversioned(), &headers, None);
        }
    };
    let service = &entry.service;
    let settings = service.settings();

    // 1. Who is calling (before anything else, replay included).
    let Some(agent) = authenticate(&headers, settings) else {
        return acp_error(version, &AcpError::unauthorized(), &headers);
    };
    // 2. Rate limit per agent.
    if let Err(not_until) = entry.limiter.check_key(&agent.id) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        let secs = u32::try_from(wait.as_secs().max(1)).unwrap_or(u32::MAX);
        return acp_error(version, &AcpError::rate_limited(secs), &headers);
    }
    // 3. Request signature.
    if op != Op::Get
        && let Err(reason) = check_signature(&headers, &body, agent, settings)
    {
        match settings.signature_policy {
            SignaturePolicy::Strict => {
                tracing::warn!(agent = %agent.id, reason, "refused a request with a bad signature");
                let error = AcpError::unauthorized();
                return acp_error(version, &error, &headers);
            }
            SignaturePolicy::Log => {
                tracing::warn!(agent = %agent.id, reason, "accepted a request with a bad signature (policy: log)");
            }
            SignaturePolicy::Off => {}
        }
    }
    if op == Op::Get {
        let Some(id) = id else {
            return acp_error(version, &AcpError::session_not_found(), &headers);
        };
        return match service.get(version, &id).await {
            Ok(answer) => answered(answer, &headers),
            Err(e) => service_error(version, e, &headers),
        };
    }
    // 4. Body limits.
    if body.len() > settings.max_body_bytes {
        return acp_error(
            version,
            &AcpError::body_too_large(settings.max_body_bytes),
            &headers,
        );
    }
    let has_body = !body.is_empty();
    let json_type = header_str(&headers, header::CONTENT_TYPE.as_str()).is_some_and(|t| {
        t.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    if has_body && !json_type {
        return acp_error(version, &AcpError::unsupported_media_type(), &headers);
    }
    // 5. Idempotency.
    let key = header_str(&headers, IDEMPOTENCY_KEY).map(str::to_owned);
    let key = match key {
        Some(k) if k.is_empty() || k.len() > 255 => {
            return acp_error(version, &AcpError::idempotency_key_invalid(), &headers);
        }
        Some(k) => Some(k),
        None if version.requires_idempotency_key() => {
            return acp_error(version, &AcpError::idempotency_key_required(), &headers);
        }
        None => None,
    };
    let path = match (&id, op) {
        (None, _) => "/checkout_sessions".to_owned(),
        (Some(id), Op::Update) => format!("/checkout_sessions/{id}"),
        (Some(id), Op::Complete) => format!("/checkout_sessions/{id}/complete"),
        (Some(id), _) => format!("/checkout_sessions/{id}/cancel"),
    };
    let fingerprint = match fingerprint(&body) {
        Ok(f) => f,
        Err(error) => return acp_error(version, &error, &headers),
    };
    let scope = key.as_ref().map(|k| IdempotencyScope {
        shop: service.shop().clone(),
        caller: agent.id.clone(),
        path: path.clone(),
        key: k.clone(),
    });
    if let Some(scope) = &scope {
        match service
            .store()
            .begin_idempotent(scope, &fingerprint, chrono::Utc::now(), policy())
        {
            Ok(IdempotencyStart::Run) => {}
            Ok(IdempotencyStart::Replay(stored)) => {
                let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
                let mut response = Response::builder()
                    .status(status)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("idempotent-replayed", "true")
                    .body(Body::from(stored.body))
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
                echo(&mut response, &headers);
                return response;
            }
            Ok(IdempotencyStart::Conflict) => {
                return acp_error(version, &AcpError::idempotency_conflict(version), &headers);
            }
            Ok(IdempotencyStart::InFlight { .. }) => {
                return acp_error(version, &AcpError::idempotency_in_flight(2), &headers);
            }
            Err(e) => {
                tracing::error!(error = %crate::telemetry::ErrorChain(&e), "idempotency store failed");
                return acp_error(version, &AcpError::internal(), &headers);
            }
        }
    }
    let commit = scope.as_ref().map(|scope| IdempotencyCommit {
        scope,
        fingerprint: &fingerprint,
    });
    let result = match (op, id) {
        (Op::Create, _) => match wire::parse_create(version, &body) {
            Ok(request) => {
                service
                    .create(version, request, Some(&agent.id), commit)
                    .await
            }
            Err(e) => Err(ServiceError::Acp(e)),
        },
        (Op::Update, Some(id)) => match wire::parse_update(version, &body) {
            Ok(request) => service.update(version, &id, request, commit).await,
            Err(e) => Err(ServiceError::Acp(e)),
        },
        (Op::Complete, Some(id)) => match wire::parse_complete(version, &body) {
            Ok(request) => service.complete(version, &id, request, commit).await,
            Err(e) => Err(ServiceError::Acp(e)),
        },
        (Op::Cancel, Some(id)) => match wire::parse_cancel(version, &body) {
            Ok(request) => service.cancel(version, &id, request, commit).await,
            Err(e) => Err(ServiceError::Acp(e)),
        },
        _ => Err(ServiceError::Acp(AcpError::session_not_found())),
    };
    match result {
        Ok(answer) => answered(answer, &headers),
        Err(e) => {
            // Nothing was stored for this key: a retry runs as new.
            if let Some(scope) = &scope
                && let Err(release) = service.store().release_idempotency_key(scope)
            {
                tracing::error!(error = %crate::telemetry::ErrorChain(&release), "releasing an idempotency key failed");
            }
            service_error(version, e, &headers)
        }
    }
}

fn no_checkout(shop: &str) -> AcpError {
    AcpError::new(
        StatusCode::NOT_FOUND,
        crate::checkout::ErrorKind::InvalidRequest,
        "not_found",
        format!("no checkout for shop `{shop}`"),
    )
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The agent whose bearer key matches, compared in constant time against
/// every configured key.
fn authenticate<'a>(
    headers: &HeaderMap,
    settings: &'a crate::config::CheckoutSettings,
) -> Option<&'a crate::config::AgentSettings> {
    let presented = header_str(headers, header::AUTHORIZATION.as_str())?
        .strip_prefix("Bearer ")?
        .trim();
    let presented = Sha256::digest(presented.as_bytes());
    let mut found = None;
    for agent in &settings.agents {
        let expected = Sha256::digest(agent.api_key.expose_secret().as_bytes());
        // Comparing fixed-size digests with a full fold takes the same time
        // whatever the keys share.
        let diff = presented
            .iter()
            .zip(expected.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            found = Some(agent);
        }
    }
    found
}

/// `Signature`: base64url HMAC-SHA256 of the raw body with the agent's
/// signing secret; `Timestamp` (RFC 3339) within the allowed skew.
fn check_signature(
    headers: &HeaderMap,
    body: &[u8],
    agent: &crate::config::AgentSettings,
    settings: &crate::config::CheckoutSettings,
) -> Result<(), &'static str> {
    if settings.signature_policy == SignaturePolicy::Off {
        return Ok(());
    }
    let secret = agent.signing_secret.as_ref().ok_or("no signing secret")?;
    let timestamp = header_str(headers, "timestamp").ok_or("missing Timestamp")?;
    let at = chrono::DateTime::parse_from_rfc3339(timestamp).map_err(|_| "bad Timestamp")?;
    let skew = (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
        .num_seconds()
        .unsigned_abs();
    if skew > settings.max_clock_skew.as_secs() {
        return Err("Timestamp outside the allowed clock skew");
    }
    let signature = header_str(headers, "signature").ok_or("missing Signature")?;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature.trim().trim_end_matches('='))
        .map_err(|_| "Signature is not base64url")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|_| "unusable signing secret")?;
    mac.update(body);
    mac.verify_slice(&signature)
        .map_err(|_| "Signature does not match")
}

/// SHA-256 over the body's canonical JSON (sorted keys, integral numbers
/// without a fraction), so equal JSON values have equal fingerprints.
fn fingerprint(body: &[u8]) -> Result<String, AcpError> {
    if body.is_empty() {
        return Ok(crate::store::hex(&Sha256::digest(b"")));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| AcpError::invalid_json(format!("the body is not JSON: {e}")))?;
    let mut canonical = Vec::with_capacity(body.len());
    write_canonical(&value, &mut canonical);
    Ok(crate::store::hex(&Sha256::digest(&canonical)))
}

fn write_canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(serde_json::to_string(k).unwrap_or_default().as_bytes());
                out.push(b':');
                write_canonical(&map[*k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        Value::Number(n) => {
            let text = match n.as_f64() {
                Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    // 1.0 and 1 are the same value; f is integral and small,
                    // so the conversion is exact.
                    #[allow(clippy::cast_possible_truncation)]
                    let i = f as i64;
                    i.to_string()
                }
                _ => n.to_string(),
            };
            out.extend_from_slice(text.as_bytes());
        }
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn echo(response: &mut Response, request: &HeaderMap) {
    for name in [IDEMPOTENCY_KEY, REQUEST_ID] {
        if let Some(v) = request.get(name) {
            response.headers_mut().insert(name, v.clone());
        }
    }
}

fn respond_json(
    status: StatusCode,
    body: serde_json::Value,
    request: &HeaderMap,
    retry_after: Option<u32>,
) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    echo(&mut response, request);
    response
}

/// A session answer: its JSON text as rendered by the service.
fn answered(answer: Answer, request: &HeaderMap) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        answer.body,
    )
        .into_response();
    echo(&mut response, request);
    response
}

fn acp_error(version: ApiVersion, error: &AcpError, request: &HeaderMap) -> Response {
    respond_json(
        error.status,
        wire::render_error(version, error),
        request,
        error.retry_after_secs,
    )
}

fn service_error(version: ApiVersion, error: ServiceError, request: &HeaderMap) -> Response {
    match error {
        ServiceError::Acp(e) => acp_error(version, &e, request),
        ServiceError::Store(e) => {
            tracing::error!(error = %crate::telemetry::ErrorChain(&e), "checkout store failure");
            acp_error(version, &AcpError::internal(), request)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_json_values_have_equal_fingerprints() {
        let a = fingerprint(br#"{"b": 1.0, "a": [1, {"y": 2, "x": null}]}"#).unwrap();
        let b = fingerprint(br#"{"a":[1,{"x":null,"y":2}],"b":1}"#).unwrap();
        assert_eq!(a, b);
        // Array order and null-vs-absent matter.
        let c = fingerprint(br#"{"a":[{"x":null,"y":2},1],"b":1}"#).unwrap();
        let d = fingerprint(br#"{"a":[1,{"y":2}],"b":1}"#).unwrap();
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert!(fingerprint(b"{not json").is_err());
    }
}
