//! The request span: method, route template, request id; status and latency
//! recorded when known. Health checks log at DEBUG, and their 503 ("not
//! ready yet", polled by supervisors until the first feed) is an answer,
//! not a failure logged at ERROR.

use std::fmt;

use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use tower_http::classify::{
    ClassifiedResponse, ClassifyResponse, MakeClassifier, NeverClassifyEos, ServerErrorsAsFailures,
    ServerErrorsFailureClass,
};
use tower_http::trace::{MakeSpan, TraceLayer};
use tracing::{Level, Span};

/// Whether a request path is one of the health checks.
fn is_health_check(path: &str) -> bool {
    path == "/healthz" || path == "/readyz"
}

/// Server errors are failures (logged at ERROR by the trace layer), except
/// the health checks' answers.
#[derive(Clone, Copy)]
pub struct Classify;

/// [`ServerErrorsAsFailures`] for one request, unless it is a health check.
#[derive(Clone, Copy)]
pub struct RequestClassifier {
    health_check: bool,
}

impl MakeClassifier for Classify {
    type Classifier = RequestClassifier;
    type FailureClass = ServerErrorsFailureClass;
    type ClassifyEos = NeverClassifyEos<ServerErrorsFailureClass>;

    fn make_classifier<B>(&self, request: &Request<B>) -> RequestClassifier {
        RequestClassifier {
            health_check: is_health_check(request.uri().path()),
        }
    }
}

impl ClassifyResponse for RequestClassifier {
    type FailureClass = ServerErrorsFailureClass;
    type ClassifyEos = NeverClassifyEos<ServerErrorsFailureClass>;

    fn classify_response<B>(
        self,
        response: &Response<B>,
    ) -> ClassifiedResponse<Self::FailureClass, Self::ClassifyEos> {
        if self.health_check {
            ClassifiedResponse::Ready(Ok(()))
        } else {
            ServerErrorsAsFailures::new().classify_response(response)
        }
    }

    fn classify_error<E>(self, error: &E) -> Self::FailureClass
    where
        E: fmt::Display + 'static,
    {
        ServerErrorsAsFailures::new().classify_error(error)
    }
}

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
        if is_health_check(&route) {
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

pub fn layer() -> TraceLayer<Classify, RequestSpan> {
    TraceLayer::new(Classify).make_span_with(RequestSpan)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn failed(path: &str, status: StatusCode) -> bool {
        let request = Request::get(path).body(()).unwrap();
        let response = Response::builder().status(status).body(()).unwrap();
        match Classify
            .make_classifier(&request)
            .classify_response(&response)
        {
            ClassifiedResponse::Ready(result) => result.is_err(),
            ClassifiedResponse::RequiresEos(_) => panic!("classified at once"),
        }
    }

    #[test]
    fn server_errors_are_failures_except_the_health_checks_answers() {
        assert!(!failed("/readyz", StatusCode::SERVICE_UNAVAILABLE));
        assert!(!failed("/healthz", StatusCode::SERVICE_UNAVAILABLE));
        assert!(failed(
            "/feeds/demo/acp.jsonl",
            StatusCode::SERVICE_UNAVAILABLE
        ));
        assert!(failed("/readyz/extra", StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!failed("/feeds/demo/acp.jsonl", StatusCode::NOT_FOUND));
    }
}
