//! `GET /feeds/{shop}/{file}`: the published feed, streamed from the store,
//! with `ETag`/`If-None-Match` and an optional per-shop bearer token.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use secrecy::ExposeSecret;

use crate::feed::FeedFormat;
use crate::server::{ApiError, ServerState, ShopEntry};
use crate::store::StoreError;

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
        .artifact(format.stored_name())
        .ok_or_else(|| ApiError::NotFound(format!("no feed file `{file}`")))?;
    let etag = format!("\"{}\"", artifact.sha256);
    let etag_value = HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.to_string()))?;
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
        .artifact_chunks(&entry.id, meta.generation, format.stored_name())?;
    let builder = builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, format.content_type())
        .header(
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}-{}\"",
                entry.id,
                format.file_name()
            ),
        );
    let body = if !format.stored_gzipped() {
        builder
            .header(header::CONTENT_LENGTH, artifact.bytes)
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
    } else if accepts_gzip(headers) {
        builder
            .header(header::VARY, "accept-encoding")
            .header(header::CONTENT_ENCODING, "gzip")
            .header(header::CONTENT_LENGTH, artifact.bytes)
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
    } else {
        builder
            .header(header::VARY, "accept-encoding")
            .body(Body::from_stream(futures_util::stream::iter(
                gunzip_chunks(chunks),
            )))
    };
    body.map_err(|e| ApiError::Internal(e.to_string()))
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.trim().split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Decompresses a gzip file chunk by chunk; memory stays at one chunk's
/// worth of output. Reads every member of a multi-member file (the feed
/// builder writes one member, but RFC 1952 allows several).
fn gunzip_chunks(
    chunks: impl Iterator<Item = Result<bytes::Bytes, StoreError>>,
) -> impl Iterator<Item = Result<bytes::Bytes, std::io::Error>> {
    use std::io::Write;
    let mut decoder = Some(flate2::write::MultiGzDecoder::new(Vec::new()));
    let mut chunks = chunks.fuse();
    std::iter::from_fn(move || {
        loop {
            let active = decoder.as_mut()?;
            match chunks.next() {
                Some(Ok(chunk)) => {
                    if let Err(e) = active.write_all(&chunk) {
                        decoder = None;
                        return Some(Err(e));
                    }
                    let out = std::mem::take(active.get_mut());
                    if !out.is_empty() {
                        return Some(Ok(bytes::Bytes::from(out)));
                    }
                }
                Some(Err(e)) => {
                    decoder = None;
                    return Some(Err(std::io::Error::other(e)));
                }
                None => {
                    let finished = decoder.take()?.finish();
                    return match finished {
                        Ok(rest) if rest.is_empty() => None,
                        Ok(rest) => Some(Ok(bytes::Bytes::from(rest))),
                        Err(e) => Some(Err(e)),
                    };
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_negotiated_from_accept_encoding() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        assert!(with("gzip"));
        assert!(with("br, gzip;q=0.8"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn stored_gzip_is_decompressed_across_chunk_boundaries() {
        use std::io::Write;
        let text: String = (0..5000).map(|i| format!("{{\"line\":{i}}}\n")).collect();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        let gz = enc.finish().unwrap();
        let chunks: Vec<Result<bytes::Bytes, StoreError>> = gz
            .chunks(97)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        let out: Vec<u8> = gunzip_chunks(chunks.into_iter())
            .map(Result::unwrap)
            .flat_map(|b| b.to_vec())
            .collect();
        assert_eq!(out, text.as_bytes());
        // Several members (as `cat a.gz b.gz`) read as their concatenation.
        let mut two = gz.clone();
        two.extend_from_slice(&gz);
        let chunks: Vec<Result<bytes::Bytes, StoreError>> = two
            .chunks(101)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        let out: Vec<u8> = gunzip_chunks(chunks.into_iter())
            .map(Result::unwrap)
            .flat_map(|b| b.to_vec())
            .collect();
        assert_eq!(out, text.repeat(2).as_bytes());
        // A truncated stream is an error, not a silently short body.
        let truncated: Vec<Result<bytes::Bytes, StoreError>> =
            vec![Ok(bytes::Bytes::copy_from_slice(&gz[..gz.len() / 2]))];
        assert!(gunzip_chunks(truncated.into_iter()).any(|r| r.is_err()));
    }

    #[test]
    fn token_comparison_needs_exact_match() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
