//! The request span: method, route template, request id; status and latency
//! recorded when known. Health checks log at DEBUG.

use axum::extract::MatchedPath;
use axum::http::Request;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, TraceLayer};
use tracing::{Level, Span};

#[derive(Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str)
            .to_owned();
        let request_id = request
            .headers()
            .get("request-id")
            .or_else(|| request.headers().get("x-request-id"))
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        if route == "/healthz" || route == "/readyz" {
            tracing::span!(
                Level::DEBUG,
                "http",
                http.method = %request.method(),
                http.route = %route,
                request_id = %request_id,
            )
        } else {
            tracing::span!(
                Level::INFO,
                "http",
                http.method = %request.method(),
                http.route = %route,
                request_id = %request_id,
            )
        }
    }
}

pub fn layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan> {
    TraceLayer::new_for_http().make_span_with(RequestSpan)
}
