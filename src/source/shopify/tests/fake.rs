//! A scripted stand-in for Shopify, for the client behaviours the emulator
//! cannot be made to produce exactly (a given throttle status, a 200 with
//! errors, a chunked bulk file with lines split across chunks).
//!
//! Every request is recorded; a test-supplied handler answers it.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use tokio::net::TcpListener;
use url::Url;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The fake's own base URL (for replies that link back to it).
    pub base: Url,
    pub path: String,
    pub token: Option<String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn operation(&self) -> String {
        self.json()["operationName"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn variables(&self) -> serde_json::Value {
        self.json()["variables"].clone()
    }

    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    pub fn is_graphql(&self) -> bool {
        self.path.ends_with("/graphql.json")
    }
}

/// What the fake answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub chunks: Vec<Vec<u8>>,
}

impl Reply {
    pub fn json(value: serde_json::Value) -> Self {
        Reply {
            status: 200,
            headers: vec![("content-type", "application/json".to_owned())],
            chunks: vec![value.to_string().into_bytes()],
        }
    }

    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            chunks: vec![b"{}".to_vec()],
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// A body sent as separate chunks of at most `size` bytes.
    pub fn chunked(body: &[u8], size: usize) -> Self {
        Reply {
            status: 200,
            headers: vec![("content-type", "application/jsonl".to_owned())],
            chunks: body.chunks(size).map(<[u8]>::to_vec).collect(),
        }
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// A running fake; dropped with the test's runtime.
pub struct Fake {
    pub url: Url,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Fake {
    /// Binds a port and serves `handler` (the listener is bound before this
    /// returns, so the URL is usable at once).
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = requests.clone();
        let base = url.clone();
        let app = Router::new().fallback(move |request: Request<Body>| {
            let handler = handler.clone();
            let seen = seen.clone();
            let base = base.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                let recorded = Recorded {
                    base,
                    path: parts.uri.path().to_owned(),
                    token: token(&parts.headers),
                    body: body.to_vec(),
                };
                seen.lock().unwrap().push(recorded.clone());
                let reply = handler(&recorded);
                let stream = futures_util::stream::iter(
                    reply
                        .chunks
                        .into_iter()
                        .map(|c| Ok::<Bytes, Infallible>(Bytes::from(c))),
                );
                let mut response = axum::response::Response::new(Body::from_stream(stream));
                *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
                for (name, value) in reply.headers {
                    response.headers_mut().insert(name, value.parse().unwrap());
                }
                response
            }
        });
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Fake { url, requests }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn graphql_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_graphql)
            .collect()
    }
}

fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `extensions.cost` with the given figures.
pub fn cost(requested: u32, available: f64, maximum: f64, restore: f64) -> serde_json::Value {
    serde_json::json!({
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": maximum,
                "currentlyAvailable": available,
                "restoreRate": restore
            }
        }
    })
}

/// A successful response with `data` and a comfortable bucket.
pub fn ok(data: serde_json::Value, requested: u32) -> Reply {
    let mut body = serde_json::json!({ "data": data });
    body["extensions"] = cost(requested, 1_900.0, 2_000.0, 100.0);
    Reply::json(body)
}
