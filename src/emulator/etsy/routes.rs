//! HTTP handlers: OAuth (consent, token) and the `/v3/application` reads,
//! with the key check, quota and bearer checks in that order.
//!
//! Refusals are ready `Response`s carried in `Err`: they are built once per
//! refused request and returned as they are, so boxing them buys nothing.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, Query, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{AccessToken, EtsyEmulator, Grant, State};

/// Authorization codes are short-lived and single-use.
const CODE_LIFETIME: Duration = Duration::from_secs(300);
const SCOPES: [&str; 20] = [
    "address_r",
    "address_w",
    "billing_r",
    "cart_r",
    "cart_w",
    "email_r",
    "favorites_r",
    "favorites_w",
    "feedback_r",
    "listings_d",
    "listings_r",
    "listings_w",
    "profile_r",
    "profile_w",
    "recommend_r",
    "recommend_w",
    "shops_r",
    "shops_w",
    "transactions_r",
    "transactions_w",
];
const INCLUDES: [&str; 7] = [
    "Shipping",
    "Images",
    "Shop",
    "User",
    "Translations",
    "Inventory",
    "Videos",
];

pub(super) fn router(emulator: EtsyEmulator) -> Router {
    Router::new()
        .route("/oauth/connect", get(connect))
        .route("/v3/public/oauth/token", post(token))
        .route("/v3/application/users/me", get(me))
        .route("/v3/application/shops/{shop_id}", get(shop))
        .route(
            "/v3/application/shops/{shop_id}/listings",
            get(listings_by_shop),
        )
        .route(
            "/v3/application/shops/{shop_id}/policies/return",
            get(return_policies),
        )
        .route("/v3/application/listings/batch", get(listings_batch))
        .route(
            "/v3/application/listings/{listing_id}/inventory",
            get(inventory),
        )
        .route("/v3/application/listings/{listing_id}/images", get(images))
        .with_state(emulator)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn page(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<!doctype html><title>Etsy</title><p>{text}</p>"),
    )
        .into_response()
}

fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn is_loopback_http(uri: &url::Url) -> bool {
    uri.scheme() == "http" && matches!(uri.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

async fn connect(
    AxumState(emu): AxumState<EtsyEmulator>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let config = emu.config();
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if param("response_type") != "code" {
        return page(StatusCode::BAD_REQUEST, "response_type must be code.");
    }
    if param("client_id") != config.keystring {
        return page(StatusCode::BAD_REQUEST, "Invalid client_id.");
    }
    let redirect = param("redirect_uri");
    let Ok(redirect_url) = url::Url::parse(redirect) else {
        return page(StatusCode::BAD_REQUEST, "Invalid redirect_uri.");
    };
    if !config.redirect_uris.iter().any(|r| r == redirect) {
        return page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not registered for this app.",
        );
    }
    if redirect_url.scheme() != "https" && !is_loopback_http(&redirect_url) {
        return page(StatusCode::BAD_REQUEST, "The redirect_uri must use https.");
    }
    if param("code_challenge_method") != "S256" {
        return page(
            StatusCode::BAD_REQUEST,
            "code_challenge_method must be S256.",
        );
    }
    let challenge = param("code_challenge");
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return page(StatusCode::BAD_REQUEST, "Invalid code_challenge.");
    }
    let state = param("state");
    if state.is_empty() {
        return page(StatusCode::BAD_REQUEST, "state is required.");
    }
    let scopes: Vec<String> = param("scope")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() || scopes.iter().any(|s| !SCOPES.contains(&s.as_str())) {
        return page(StatusCode::BAD_REQUEST, "Invalid scope.");
    }
    if !config.auto_approve {
        return page(
            StatusCode::OK,
            "Sign in to Etsy to allow this app access to your shop. (Emulator: approval pending.)",
        );
    }
    let code = random_token();
    emu.lock().grants.insert(
        code.clone(),
        Grant {
            challenge: challenge.to_owned(),
            redirect_uri: redirect.to_owned(),
            scopes,
            expires: Instant::now() + CODE_LIFETIME,
        },
    );
    let mut target = redirect_url;
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", state);
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(target.as_str()) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

fn issue(s: &mut State, user_id: u64, scopes: Vec<String>, lifetime: Duration) -> Value {
    let access = format!("{user_id}.{}", random_token());
    let refresh = format!("{user_id}.{}", random_token());
    s.access.insert(
        access.clone(),
        AccessToken {
            user_id,
            scopes: scopes.clone(),
            expires: Instant::now() + lifetime,
        },
    );
    s.refresh.insert(refresh.clone(), (user_id, scopes));
    json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "refresh_token": refresh,
    })
}

async fn token(
    AxumState(emu): AxumState<EtsyEmulator>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let config = emu.config().clone();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let mut s = emu.lock();
    let refuse = |s: &mut State, error: &str, description: &str| {
        s.counters.token_refusals += 1;
        oauth_error(StatusCode::BAD_REQUEST, error, description)
    };
    if field("client_id") != config.keystring {
        return refuse(&mut s, "invalid_client", "client_id is invalid");
    }
    match field("grant_type") {
        "authorization_code" => {
            // Single use: the code is gone whatever the outcome.
            let Some(grant) = s.grants.remove(field("code")) else {
                return refuse(&mut s, "invalid_grant", "code is invalid or already used");
            };
            if grant.expires <= Instant::now() {
                return refuse(&mut s, "invalid_grant", "code has expired");
            }
            if grant.redirect_uri != field("redirect_uri") {
                return refuse(&mut s, "invalid_grant", "redirect_uri does not match");
            }
            let verifier = field("code_verifier");
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if verifier.len() < 43 || verifier.len() > 128 || computed != grant.challenge {
                return refuse(&mut s, "invalid_grant", "code_verifier is invalid");
            }
            s.counters.code_exchanges += 1;
            let user = s.data.user_id;
            Json(issue(
                &mut s,
                user,
                grant.scopes,
                config.access_token_lifetime,
            ))
            .into_response()
        }
        "refresh_token" => {
            // Rotation: the presented refresh token dies now.
            let Some((user, scopes)) = s.refresh.remove(field("refresh_token")) else {
                return refuse(
                    &mut s,
                    "invalid_grant",
                    "refresh_token is invalid or revoked",
                );
            };
            s.counters.refreshes += 1;
            Json(issue(&mut s, user, scopes, config.access_token_lifetime)).into_response()
        }
        _ => refuse(
            &mut s,
            "unsupported_grant_type",
            "grant_type is not supported",
        ),
    }
}

/// The per-request gate: app key, then quota. Returns the quota headers
/// for a successful response.
fn admit(emu: &EtsyEmulator, headers: &HeaderMap) -> Result<Vec<(&'static str, String)>, Response> {
    let config = emu.config();
    let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) else {
        return Err(error(StatusCode::FORBIDDEN, "Missing x-api-key header."));
    };
    let Some((keystring, secret)) = key.split_once(':') else {
        return Err(error(
            StatusCode::FORBIDDEN,
            if key == config.keystring {
                "Shared secret is required in x-api-key header."
            } else {
                "Invalid API key: should be in the format 'keystring:shared_secret'"
            },
        ));
    };
    if keystring != config.keystring || secret != config.shared_secret {
        return Err(error(StatusCode::FORBIDDEN, "Invalid API key."));
    }
    let now = Instant::now();
    let mut s = emu.lock();
    let per_day = s.per_day;
    let bucket = config.day_window / config.day_buckets.max(1);
    let q = &mut s.quota;
    while q
        .day
        .front()
        .is_some_and(|(start, _)| *start + config.day_window <= now)
    {
        q.day.pop_front();
    }
    let used_today: u32 = q.day.iter().map(|(_, n)| n).sum();
    let start = *q.second_start.get_or_insert(now);
    if now.duration_since(start) >= Duration::from_secs(1) {
        q.second_start = Some(now);
        q.second_used = 0;
    }
    let retry_after = if used_today >= per_day {
        let oldest = q.day.front().map_or(now, |(start, _)| *start);
        Some(
            (oldest + config.day_window)
                .saturating_duration_since(now)
                .as_secs()
                .max(1),
        )
    } else if q.second_used >= config.per_second {
        Some(1)
    } else {
        None
    };
    if let Some(secs) = retry_after {
        s.counters.rate_limited += 1;
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "You have exceeded your quota.",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Err(response);
    }
    q.second_used += 1;
    match q.day.back_mut() {
        Some((start, n)) if now.duration_since(*start) < bucket => *n += 1,
        _ => q.day.push_back((now, 1)),
    }
    let second_left = config.per_second - q.second_used;
    let today_left = per_day - used_today - 1;
    s.counters.api_requests += 1;
    Ok(vec![
        ("x-limit-per-second", config.per_second.to_string()),
        ("x-remaining-this-second", second_left.to_string()),
        ("x-limit-per-day", per_day.to_string()),
        ("x-remaining-today", today_left.to_string()),
    ])
}

/// The bearer token's user, checked against `scope`.
fn bearer(emu: &EtsyEmulator, headers: &HeaderMap, scope: &str) -> Result<u64, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "access token is missing",
            )
        })?;
    let s = emu.lock();
    let found = s.access.get(token).ok_or_else(|| {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "access token is invalid",
        )
    })?;
    if found.expires <= Instant::now() {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "access token is expired",
        ));
    }
    if token.split_once('.').map(|(u, _)| u) != Some(found.user_id.to_string().as_str()) {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "access token is invalid",
        ));
    }
    if !found.scopes.iter().any(|s| s == scope) {
        return Err(error(
            StatusCode::FORBIDDEN,
            &format!("This request requires the {scope} scope."),
        ));
    }
    Ok(found.user_id)
}

fn ok(headers: Vec<(&'static str, String)>, body: Value) -> Response {
    let mut response = Json(body).into_response();
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

/// Gate, then the handler's body.
fn serve(
    emu: &EtsyEmulator,
    headers: &HeaderMap,
    scope: Option<&str>,
    body: impl FnOnce(&State, Option<u64>) -> Result<Value, Response>,
) -> Response {
    let quota = match admit(emu, headers) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let user = match scope {
        Some(scope) => match bearer(emu, headers, scope) {
            Ok(u) => Some(u),
            Err(r) => return r,
        },
        None => None,
    };
    let s = emu.lock();
    match body(&s, user) {
        Ok(v) => ok(quota, v),
        Err(r) => r,
    }
}

fn own_shop(s: &State, shop_id: &str, user: Option<u64>) -> Result<(), Response> {
    if shop_id.parse::<u64>().ok() != Some(s.data.shop_id) {
        return Err(error(
            StatusCode::NOT_FOUND,
            &format!("Could not find a Shop with shop_id = {shop_id}"),
        ));
    }
    if let Some(user) = user
        && user != s.data.user_id
    {
        return Err(error(
            StatusCode::FORBIDDEN,
            "The requesting user does not own this shop.",
        ));
    }
    Ok(())
}

fn includes(q: &HashMap<String, String>) -> Result<(bool, bool), Response> {
    let mut images = false;
    let mut inventory = false;
    if let Some(list) = q.get("includes") {
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if !INCLUDES.contains(&item) {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid includes value: {item}"),
                ));
            }
            images |= item == "Images";
            inventory |= item == "Inventory";
        }
    }
    Ok((images, inventory))
}

async fn me(AxumState(emu): AxumState<EtsyEmulator>, headers: HeaderMap) -> Response {
    serve(&emu, &headers, Some("shops_r"), |s, user| {
        Ok(json!({
            "user_id": user,
            "shop_id": (user == Some(s.data.user_id)).then_some(s.data.shop_id),
        }))
    })
}

async fn shop(
    AxumState(emu): AxumState<EtsyEmulator>,
    Path(shop_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&emu, &headers, None, |s, _| {
        own_shop(s, &shop_id, None)?;
        let d = &s.data;
        let active = d
            .listings
            .iter()
            .filter(|l| l.state == super::ListingState::Active)
            .count();
        Ok(json!({
            "shop_id": d.shop_id,
            "user_id": d.user_id,
            "shop_name": d.shop_name,
            "title": format!("{} handmade", d.shop_name),
            "currency_code": d.currency,
            "is_vacation": false,
            "listing_active_count": active,
            "url": format!("https://www.etsy.com/shop/{}?utm_source=emulator&utm_medium=api", d.shop_name),
            "shop_location_country_iso": d.country,
            "shipping_from_country_iso": d.country,
            "is_shop_us_based": d.country == "US",
        }))
    })
}

async fn return_policies(
    AxumState(emu): AxumState<EtsyEmulator>,
    Path(shop_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&emu, &headers, Some("shops_r"), |s, user| {
        own_shop(s, &shop_id, user)?;
        let results: Vec<Value> = s
            .data
            .return_policies
            .iter()
            .map(|p| {
                json!({
                    "return_policy_id": p.return_policy_id,
                    "shop_id": s.data.shop_id,
                    "accepts_returns": p.accepts_returns,
                    "accepts_exchanges": p.accepts_returns,
                    "return_deadline": p.return_deadline,
                })
            })
            .collect();
        Ok(json!({ "count": results.len(), "results": results }))
    })
}

fn int_param(
    q: &HashMap<String, String>,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, Response> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid value for {name}: {v}"),
                )
            }),
    }
}

async fn listings_by_shop(
    AxumState(emu): AxumState<EtsyEmulator>,
    Path(shop_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    serve(&emu, &headers, Some("listings_r"), |s, user| {
        own_shop(s, &shop_id, user)?;
        let limit = int_param(&q, "limit", 25, 1..=100)?;
        let offset = int_param(&q, "offset", 0, 0..=u64::from(u32::MAX))?;
        let state = q.get("state").map_or("active", String::as_str);
        if !["active", "inactive", "sold_out", "draft", "expired"].contains(&state) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid state: {state}"),
            ));
        }
        let sort_on = q.get("sort_on").map_or("created", String::as_str);
        let descending = match q.get("sort_order").map_or("desc", String::as_str) {
            "asc" | "ascending" | "up" => false,
            "desc" | "descending" | "down" => true,
            other => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid sort_order: {other}"),
                ));
            }
        };
        let (images, inventory) = includes(&q)?;
        let mut rows: Vec<&super::Listing> = s
            .data
            .listings
            .iter()
            .filter(|l| l.state.as_str() == state)
            .collect();
        match sort_on {
            "created" | "score" => rows.sort_by_key(|l| (l.created, l.listing_id)),
            "updated" => rows.sort_by_key(|l| (l.modified, l.listing_id)),
            "price" => rows.sort_by_key(|l| {
                l.products
                    .iter()
                    .flat_map(|p| &p.offerings)
                    .map(|o| o.amount * 1000 / o.divisor.max(1))
                    .min()
                    .unwrap_or(0)
            }),
            other => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid sort_on: {other}"),
                ));
            }
        }
        if descending {
            rows.reverse();
        }
        let count = rows.len();
        let results: Vec<Value> = rows
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(100))
            .map(|l| l.to_json(&s.data, images, inventory))
            .collect();
        Ok(json!({ "count": count, "results": results }))
    })
}

async fn listings_batch(
    AxumState(emu): AxumState<EtsyEmulator>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    serve(&emu, &headers, None, |s, _| {
        let ids: Vec<u64> = match q.get("listing_ids") {
            Some(list) => list
                .split(',')
                .map(|i| i.trim().parse::<u64>())
                .collect::<Result<_, _>>()
                .map_err(|_| error(StatusCode::BAD_REQUEST, "listing_ids must be integers"))?,
            None => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "Missing input parameter: [listing_ids]",
                ));
            }
        };
        if ids.is_empty() || ids.len() > 100 {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "listing_ids must have 1 to 100 ids",
            ));
        }
        let (images, inventory) = includes(&q)?;
        let results: Vec<Value> = ids
            .iter()
            .filter_map(|id| s.data.listings.iter().find(|l| l.listing_id == *id))
            .map(|l| l.to_json(&s.data, images, inventory))
            .collect();
        Ok(json!({ "count": results.len(), "results": results }))
    })
}

fn find_listing<'a>(s: &'a State, id: &str) -> Result<&'a super::Listing, Response> {
    id.parse::<u64>()
        .ok()
        .and_then(|id| s.data.listings.iter().find(|l| l.listing_id == id))
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                &format!("Listing with id {id} not found"),
            )
        })
}

async fn inventory(
    AxumState(emu): AxumState<EtsyEmulator>,
    Path(listing_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&emu, &headers, Some("listings_r"), |s, user| {
        let listing = find_listing(s, &listing_id)?;
        if user != Some(s.data.user_id) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "The requesting user does not own this listing.",
            ));
        }
        Ok(listing.inventory_json(&s.data))
    })
}

async fn images(
    AxumState(emu): AxumState<EtsyEmulator>,
    Path(listing_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&emu, &headers, None, |s, _| {
        let listing = find_listing(s, &listing_id)?;
        let results: Vec<Value> = listing
            .images
            .iter()
            .map(|i| i.to_json(listing.listing_id))
            .collect();
        Ok(json!({ "count": results.len(), "results": results }))
    })
}
