//! The HTTP pipeline: count → authenticate → check `API-Version` → apply
//! scripted faults → route-specific checks (media type, size, JSON, schema,
//! idempotency, feed ownership) → execute.

use std::num::NonZeroUsize;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{SecondsFormat, Utc};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::schema::Violation;
use super::{Feed, Inner, SavedResponse, lock};

const CREATE_FEED: &str = "POST /feeds";
const GET_FEED: &str = "GET /feeds/{id}";
const GET_PRODUCTS: &str = "GET /feeds/{id}/products";
const PATCH_PRODUCTS: &str = "PATCH /feeds/{id}/products";

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/feeds", post(create_feed))
        .route("/feeds/{id}", get(get_feed))
        .route(
            "/feeds/{id}/products",
            get(get_products).patch(upsert_products),
        )
        .fallback(unrecognized)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies are read with the configured limit in `read_json`.
        .layer(DefaultBodyLimit::disable())
        .with_state(inner)
}

/// An answer in the spec's flat error shape.
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    code: &'static str,
    message: String,
    param: Option<String>,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    fn invalid(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind: "invalid_request",
            code,
            message: message.into(),
            param: None,
            retry_after_secs: None,
        }
    }

    fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    fn feed_not_found() -> Self {
        ApiError::invalid(StatusCode::NOT_FOUND, "feed_not_found", "Feed not found").param("id")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": self.kind,
            "code": self.code,
            "message": self.message,
        });
        if let Some(param) = self.param {
            body["param"] = Value::String(param);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

type Outcome = Result<Response, ApiError>;

fn finish(inner: &Inner, outcome: Outcome) -> Response {
    match outcome {
        Ok(response) => response,
        Err(error) => {
            let status = error.status;
            inner.counters.bump(|c| {
                if status == StatusCode::UNAUTHORIZED {
                    c.unauthorized += 1;
                } else if status == StatusCode::TOO_MANY_REQUESTS {
                    c.rate_limited += 1;
                } else if status.is_server_error() {
                    c.injected_failures += 1;
                } else if status.is_client_error() {
                    c.rejected += 1;
                }
            });
            error.into_response()
        }
    }
}

/// Byte-wise comparison whose time does not depend on where keys differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The common checks of every request; returns the index of the caller's
/// key.
fn gate(inner: &Inner, route: &'static str, headers: &HeaderMap) -> Result<usize, ApiError> {
    inner.counters.request(route);
    let unauthorized =
        |message: &str| ApiError::invalid(StatusCode::UNAUTHORIZED, "unauthorized", message);
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("Missing Authorization header"))?;
    let token = presented
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| unauthorized("Authorization must use the Bearer scheme"))?;
    let owner = inner
        .keys
        .iter()
        .position(|k| same_secret(k.expose_secret().as_bytes(), token.as_bytes()))
        .ok_or_else(|| unauthorized("Invalid API key"))?;

    let supported = inner.versions.join(", ");
    match headers.get("api-version").map(|v| v.to_str()) {
        None => {
            return Err(ApiError::invalid(
                StatusCode::BAD_REQUEST,
                "missing_api_version",
                format!("API-Version header is required (supported: {supported})"),
            )
            .param("API-Version"));
        }
        Some(Ok(v)) if inner.versions.iter().any(|s| s == v.trim()) => {}
        Some(_) => {
            return Err(ApiError::invalid(
                StatusCode::BAD_REQUEST,
                "unsupported_api_version",
                format!("Unsupported API-Version (supported: {supported})"),
            )
            .param("API-Version"));
        }
    }

    if let Some(wait) = inner.faults.take_rate_limit() {
        return Err(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: "rate_limit_exceeded",
            code: "too_many_requests",
            message: "Too many requests; retry after the indicated delay".to_owned(),
            param: None,
            retry_after_secs: Some(wait.as_secs()),
        });
    }
    if let Some(status) = inner.faults.take_failure() {
        return Err(ApiError {
            status,
            kind: "service_unavailable",
            code: "internal_server_error",
            message: "The feed service failed; retry later".to_owned(),
            param: None,
            retry_after_secs: None,
        });
    }
    Ok(owner)
}

/// Reads a JSON request body within the size limit.
async fn read_json(inner: &Inner, headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::invalid(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json",
        ));
    }
    let too_large = || {
        ApiError::invalid(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("Request body exceeds {} bytes", inner.max_body_bytes),
        )
    };
    let bytes: Bytes = axum::body::to_bytes(body, inner.max_body_bytes)
        .await
        .map_err(|_| too_large())?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::invalid(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("Request body is not valid JSON: {e}"),
        )
    })
}

fn schema_error(code: &'static str, violations: &[Violation]) -> ApiError {
    let first = &violations[0];
    let more = match violations.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    ApiError::invalid(
        StatusCode::BAD_REQUEST,
        code,
        format!("{}{more}", first.message),
    )
    .param(first.path.clone())
}

fn now() -> chrono::DateTime<Utc> {
    Utc::now()
}

fn metadata(id: &str, feed: &Feed) -> Value {
    let mut body = json!({
        "id": id,
        "updated_at": feed.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    if let Some(country) = &feed.target_country {
        body["target_country"] = Value::String(country.clone());
    }
    body
}

fn new_feed_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("feed_{}", &hex[..16])
}

async fn create_feed(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Body) -> Response {
    let outcome = create_feed_inner(&inner, &headers, body).await;
    finish(&inner, outcome)
}

async fn create_feed_inner(inner: &Inner, headers: &HeaderMap, body: Body) -> Outcome {
    let owner = gate(inner, CREATE_FEED, headers)?;
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => k.to_owned(),
        Some(_) => {
            return Err(ApiError::invalid(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .param("Idempotency-Key"));
        }
        None => {
            return Err(ApiError::invalid(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "Idempotency-Key header is required on POST",
            )
            .param("Idempotency-Key"));
        }
    };
    let request = read_json(inner, headers, body).await?;
    let violations = inner.schemas.check_create_feed(&request);
    if !violations.is_empty() {
        let code = if violations[0].path == "$.target_country" {
            "invalid_target_country"
        } else {
            "invalid_feed_payload"
        };
        return Err(schema_error(code, &violations));
    }

    let mut ledger = lock(&inner.ledger);
    let slot = (owner, CREATE_FEED, key);
    if let Some(saved) = ledger.idempotency.get(&slot) {
        if saved.request != request {
            return Err(ApiError::invalid(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_conflict",
                "Idempotency-Key was already used with a different request body",
            )
            .param("Idempotency-Key"));
        }
        let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::CREATED);
        let mut response = (status, axum::Json(saved.body.clone())).into_response();
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        inner.counters.bump(|c| c.idempotent_replays += 1);
        return Ok(response);
    }
    let id = new_feed_id();
    let feed = Feed {
        owner,
        target_country: request["target_country"].as_str().map(str::to_owned),
        updated_at: now(),
        products: Default::default(),
    };
    let body = metadata(&id, &feed);
    ledger.feeds.insert(id, feed);
    ledger.idempotency.insert(
        slot,
        SavedResponse {
            request,
            status: StatusCode::CREATED.as_u16(),
            body: body.clone(),
        },
    );
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn get_feed(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let outcome = (|| {
        let owner = gate(&inner, GET_FEED, &headers)?;
        let ledger = lock(&inner.ledger);
        let feed = owned(&ledger.feeds, &id, owner)?;
        Ok(axum::Json(metadata(&id, feed)).into_response())
    })();
    finish(&inner, outcome)
}

async fn get_products(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let outcome = (|| {
        let owner = gate(&inner, GET_PRODUCTS, &headers)?;
        let ledger = lock(&inner.ledger);
        let feed = owned(&ledger.feeds, &id, owner)?;
        let products: Vec<&Value> = feed.products.values().collect();
        Ok(axum::Json(json!({ "products": products })).into_response())
    })();
    finish(&inner, outcome)
}

fn owned<'a>(
    feeds: &'a std::collections::BTreeMap<String, Feed>,
    id: &str,
    owner: usize,
) -> Result<&'a Feed, ApiError> {
    feeds
        .get(id)
        .filter(|f| f.owner == owner)
        .ok_or_else(ApiError::feed_not_found)
}

async fn upsert_products(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let outcome = upsert_products_inner(&inner, &id, &headers, body).await;
    finish(&inner, outcome)
}

async fn upsert_products_inner(
    inner: &Inner,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Outcome {
    let owner = gate(inner, PATCH_PRODUCTS, headers)?;
    let request = read_json(inner, headers, body).await?;
    let violations = inner.schemas.check_upsert_products(&request);
    if !violations.is_empty() {
        return Err(schema_error("invalid_product_payload", &violations));
    }
    let Some(Value::Array(products)) = request.get("products") else {
        // The schema requires `products` as an array.
        return Err(ApiError::invalid(
            StatusCode::BAD_REQUEST,
            "invalid_product_payload",
            "products must be an array",
        )
        .param("$.products"));
    };
    if products.is_empty() {
        return Err(ApiError::invalid(
            StatusCode::BAD_REQUEST,
            "invalid_product_payload",
            "products must contain at least one valid Product",
        )
        .param("$.products"));
    }
    if products.len() > inner.max_products_per_request {
        return Err(ApiError::invalid(
            StatusCode::BAD_REQUEST,
            "too_many_products",
            format!(
                "products may hold at most {} items per request",
                inner.max_products_per_request
            ),
        )
        .param("$.products"));
    }

    let mut ledger = lock(&inner.ledger);
    owned(&ledger.feeds, id, owner)?;
    let Some(feed) = ledger.feeds.get_mut(id) else {
        return Err(ApiError::feed_not_found());
    };
    let lose_every = inner.faults.take_lost_writes();
    let lost = |i: usize| lose_every.is_some_and(|k: NonZeroUsize| i.is_multiple_of(k.get()));
    let (mut stored, mut dropped) = (0u64, 0u64);
    for (i, product) in products.iter().enumerate() {
        if lost(i) {
            dropped += 1;
            continue;
        }
        // The schema guarantees a string id.
        if let Some(pid) = product["id"].as_str() {
            feed.products.insert(pid.to_owned(), product.clone());
            stored += 1;
        }
    }
    feed.updated_at = now();
    let carried = products.len() as u64;
    inner.counters.bump(|c| {
        c.patches_accepted += 1;
        c.products_upserted += stored;
        c.products_lost += dropped;
        c.largest_patch = c.largest_patch.max(carried);
    });
    Ok(axum::Json(json!({ "id": id, "accepted": true })).into_response())
}

async fn unrecognized(State(inner): State<Arc<Inner>>) -> Response {
    inner.counters.request("unrecognized");
    finish(
        &inner,
        Err(ApiError::invalid(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such endpoint",
        )),
    )
}

async fn method_not_allowed(State(inner): State<Arc<Inner>>) -> Response {
    inner.counters.request("unrecognized");
    finish(
        &inner,
        Err(ApiError::invalid(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed on this endpoint",
        )),
    )
}
