//! The emulator's HTTP surface (relative routes, mountable anywhere):
//!
//! - `POST /admin/api/{version}/graphql.json`: version check and fall-forward,
//!   injected faults, `X-Shopify-Access-Token` auth, body decoding, then the
//!   GraphQL pipeline; every answer carries `X-Shopify-API-Version`. A
//!   lost-response fault replaces the answer of a committed `orderCreate`
//!   with HTTP 502 or a connection that drops mid-body.
//! - `POST /admin/oauth/access_token`: the client-credentials grant (form or
//!   JSON body).
//! - `GET /bulk/{id}.jsonl?sig=…`: streams a finished bulk result.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio_util::io::ReaderStream;

use super::Inner;
use super::auth::GrantError;
use super::faults::LostResponse;
use super::graphql::{GraphqlRequest, run};
use apollo_compiler::response::{JsonMap, JsonValue};

/// Builds the router over shared emulator state.
pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/admin/api/{version}/graphql.json", post(graphql))
        .route("/admin/oauth/access_token", post(access_token))
        .route("/bulk/{file}", get(bulk_file))
        .with_state(inner)
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The version that answers a request for `asked`: itself when supported,
/// the oldest supported one for older well-formed versions, else `None`.
pub(crate) fn answering_version<'v>(supported: &'v [String], asked: &str) -> Option<&'v str> {
    let bytes = asked.as_bytes();
    let well_formed = bytes.len() == 7
        && bytes[4] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_digit())
        && matches!(
            &asked[5..],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        );
    if !well_formed {
        return None;
    }
    if let Some(v) = supported.iter().find(|v| v.as_str() == asked) {
        return Some(v);
    }
    let oldest = supported.first()?;
    (asked < oldest.as_str()).then_some(oldest.as_str())
}

#[derive(Deserialize)]
struct GraphqlBody {
    query: Option<String>,
    #[serde(default)]
    variables: Option<JsonValue>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
}

async fn graphql(
    State(inner): State<Arc<Inner>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(answered) = answering_version(&inner.versions, &version) else {
        return json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "errors": "Not Found" }),
        );
    };
    let answered = HeaderValue::from_str(answered).unwrap_or(HeaderValue::from_static("2026-01"));
    inner.counters.request();
    let mut response = handle_graphql(&inner, &headers, body).await;
    response
        .headers_mut()
        .insert("x-shopify-api-version", answered);
    response
}

async fn handle_graphql(inner: &Inner, headers: &HeaderMap, body: Bytes) -> Response {
    if let Some(stall) = inner.faults.take_hang() {
        tokio::time::sleep(stall).await;
    }
    if let Some(status) = inner.faults.take_failure() {
        inner.counters.injected_failure();
        let reason = status.canonical_reason().unwrap_or("Internal Server Error");
        return json(status, &serde_json::json!({ "errors": reason }));
    }
    if let Some(retry_after) = inner.faults.take_rate_limit() {
        inner.counters.rate_limited();
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let mut response = json(
            StatusCode::TOO_MANY_REQUESTS,
            &serde_json::json!({ "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service." }),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        return response;
    }
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if token.is_empty() || !inner.tokens.is_valid(token) || inner.faults.is_revoked(token) {
        inner.counters.unauthorized();
        return json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({ "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)" }),
        );
    }
    let request = match decode_request(headers, &body) {
        Ok(r) => r,
        Err(problem) => {
            return json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "errors": { "query": problem } }),
            );
        }
    };
    let ran = run(inner, request);
    match ran.lost {
        None => json(StatusCode::OK, &ran.body),
        Some(LostResponse::BadGateway) => {
            inner.counters.injected_failure();
            json(
                StatusCode::BAD_GATEWAY,
                &serde_json::json!({ "errors": "Bad Gateway" }),
            )
        }
        Some(LostResponse::Disconnect) => dropped_connection(&ran.body),
    }
}

/// A 200 whose body breaks off after a few bytes: the server commits, then
/// the connection drops before the client has read the answer.
fn dropped_connection(body: &JsonValue) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let head = Bytes::copy_from_slice(&bytes[..bytes.len().min(16)]);
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(head),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "emulated connection drop",
        )),
    ];
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        Body::from_stream(futures_util::stream::iter(chunks)),
    )
        .into_response()
}

/// Decodes the body; the error is the problem reported with HTTP 400.
fn decode_request(headers: &HeaderMap, body: &[u8]) -> Result<GraphqlRequest, &'static str> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/graphql") {
        return Ok(GraphqlRequest {
            query: String::from_utf8_lossy(body).into_owned(),
            variables: JsonMap::new(),
            operation_name: None,
        });
    }
    const MISSING: &str = "Required parameter missing or invalid";
    let parsed: GraphqlBody = serde_json::from_slice(body).map_err(|_| MISSING)?;
    let Some(query) = parsed.query.filter(|q| !q.trim().is_empty()) else {
        return Err(MISSING);
    };
    let variables = match parsed.variables {
        None | Some(JsonValue::Null) => JsonMap::new(),
        Some(JsonValue::Object(map)) => map,
        Some(_) => return Err("Variables must be a JSON object"),
    };
    Ok(GraphqlRequest {
        query,
        variables,
        operation_name: parsed.operation_name,
    })
}

#[derive(Deserialize, Default)]
struct GrantBody {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn access_token(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("json"));
    let grant: GrantBody = if is_json {
        serde_json::from_slice(&body).unwrap_or_default()
    } else {
        let mut grant = GrantBody::default();
        for (k, v) in url::form_urlencoded::parse(&body) {
            match k.as_ref() {
                "grant_type" => grant.grant_type = Some(v.into_owned()),
                "client_id" => grant.client_id = Some(v.into_owned()),
                "client_secret" => grant.client_secret = Some(v.into_owned()),
                _ => {}
            }
        }
        grant
    };
    match inner.tokens.issue(
        grant.grant_type.as_deref(),
        grant.client_id.as_deref(),
        grant.client_secret.as_deref(),
    ) {
        Ok(token) => {
            inner.counters.token_issued();
            tracing::debug!("emulated access token issued");
            json(
                StatusCode::OK,
                &serde_json::json!({
                    "access_token": token.access_token,
                    "scope": token.scope,
                    "expires_in": token.expires_in,
                }),
            )
        }
        Err(GrantError::UnsupportedGrantType) => json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({
                "error": "unsupported_grant_type",
                "error_description": "The authorization grant type is not supported by the authorization server.",
            }),
        ),
        Err(GrantError::InvalidClient) => json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({
                "error": "invalid_client",
                "error_description": "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
            }),
        ),
    }
}

async fn bulk_file(
    State(inner): State<Arc<Inner>>,
    Path(file): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(id) = file
        .strip_suffix(".jsonl")
        .and_then(|id| id.parse::<u64>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let sig = params.get("sig").map(String::as_str).unwrap_or_default();
    let path = match inner.bulk.result_file(id, sig) {
        Err(()) => {
            return (
                StatusCode::FORBIDDEN,
                "Request has expired or the signature is invalid",
            )
                .into_response();
        }
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Ok(Some(path)) => path,
    };
    let opened = tokio::fs::File::open(&**path).await;
    let Ok(file) = opened else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // The stream keeps the temp path alive until the download ends.
    let stream = ReaderStream::new(file).map(move |chunk| {
        let _keep = &path;
        chunk
    });
    (
        [(header::CONTENT_TYPE, "application/jsonl")],
        Body::from_stream(stream),
    )
        .into_response()
}
