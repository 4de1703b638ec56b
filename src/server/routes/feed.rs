//! `GET /feeds/{shop}/{file}`: the published feed, streamed from the store,
//! with `ETag`/`If-None-Match` and an optional per-shop bearer token.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use secrecy::ExposeSecret;

use crate::feed::FeedFormat;
use crate::server::{ApiError, ServerState, ShopEntry};

/// Constant-time comparison so a token cannot be guessed byte by byte from
/// response timings.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorize(entry: &ShopEntry, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &entry.feed_token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.expose_secret().as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

pub async fn download(
    State(state): State<ServerState>,
    Path((shop, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let entry = state.shop(&shop)?;
    authorize(entry, &headers)?;
    serve_artifact(&state, entry, &file, &headers)
}

/// Streams one artifact of the published generation (shared with the admin
/// API, which skips the bearer check).
pub fn serve_artifact(
    state: &ServerState,
    entry: &ShopEntry,
    file: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let format = FeedFormat::from_file_name(file)
        .ok_or_else(|| ApiError::NotFound(format!("no feed file `{file}`")))?;
    let meta = state
        .store
        .feed_meta(&entry.id)?
        .ok_or_else(|| ApiError::Unavailable("the feed has not been published yet".into()))?;
    let artifact = meta
        .artifact(format.file_name())
        .ok_or_else(|| ApiError::NotFound(format!("no feed file `{file}`")))?;
    let etag = format!("\"{}\"", artifact.sha256);
    let etag_value =
        HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.to_string()))?;
    let last_modified = meta
        .built_at
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));

    let builder = Response::builder()
        .header(header::ETAG, etag_value)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::LAST_MODIFIED, last_modified)
        .header("x-feed-generation", meta.generation.to_string());
    if matches {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .map_err(|e| ApiError::Internal(e.to_string()));
    }
    let chunks = state
        .store
        .artifact_chunks(&entry.id, meta.generation, format.file_name())?;
    let stream = futures_util::stream::iter(chunks);
    builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, format.content_type())
        .header(header::CONTENT_LENGTH, artifact.bytes)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}-{}\"", entry.id, format.file_name()),
        )
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn token_comparison_needs_exact_match() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
