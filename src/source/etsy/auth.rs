//! The OAuth 2.0 authorization-code grant with PKCE (S256) as Etsy runs it:
//! a code verifier and its challenge, the consent URL, and a one-shot
//! loopback listener that receives the redirect and checks `state`.

use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

/// A PKCE verifier (kept secret until the token request) and its S256
/// challenge.
pub struct Pkce {
    verifier: SecretString,
    challenge: String,
}

impl Pkce {
    /// A fresh pair: the verifier is 96 characters from the unreserved set,
    /// drawn from the operating system's random source (via UUID v4).
    pub fn generate() -> Self {
        let verifier: String = (0..3)
            .map(|_| uuid::Uuid::new_v4().simple().to_string())
            .collect();
        Self::from_verifier(verifier)
    }

    /// The pair for a given verifier (tests and the emulator).
    pub fn from_verifier(verifier: String) -> Self {
        let challenge = s256_challenge(&verifier);
        Pkce {
            verifier: SecretString::from(verifier),
            challenge,
        }
    }

    pub fn verifier(&self) -> &SecretString {
        &self.verifier
    }

    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

/// `BASE64URL(SHA256(verifier))` without padding (RFC 7636 S256).
pub fn s256_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What one login attempt needs: the PKCE pair, the `state` and the URL the
/// seller opens.
pub struct LoginRequest {
    pub pkce: Pkce,
    pub state: String,
    pub redirect_uri: Url,
    pub consent_url: Url,
}

impl LoginRequest {
    /// A new attempt for the app `keystring`.
    pub fn new(connect_url: &Url, keystring: &str, redirect_uri: Url, scopes: &[String]) -> Self {
        let pkce = Pkce::generate();
        let state = uuid::Uuid::new_v4().simple().to_string();
        let consent_url = consent_url(
            connect_url,
            keystring,
            &redirect_uri,
            scopes,
            &state,
            pkce.challenge(),
        );
        LoginRequest {
            pkce,
            state,
            redirect_uri,
            consent_url,
        }
    }
}

/// The consent page URL (`/oauth/connect` with every required parameter).
pub fn consent_url(
    connect_url: &Url,
    keystring: &str,
    redirect_uri: &Url,
    scopes: &[String],
    state: &str,
    challenge: &str,
) -> Url {
    let mut url = connect_url.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", keystring)
        .append_pair("redirect_uri", redirect_uri.as_str())
        .append_pair("scope", &scopes.join(" "))
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    url
}

/// Why the loopback callback did not yield a code.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("no redirect arrived within {0:?}")]
    TimedOut(Duration),
    #[error("reading the redirect failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the redirect's `state` does not match this login (possible forgery); start again")]
    StateMismatch,
    #[error("the seller did not approve the app: {0}")]
    Denied(String),
    #[error("the redirect carried no authorization code")]
    NoCode,
}

/// Most bytes read from the browser's request line and headers.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// Waits on `listener` for the browser's redirect to `expected_path`,
/// answers it with a short page, and returns the authorization code once
/// `state` matches. Requests for other paths (a browser's `/favicon.ico`)
/// get a 404 and the wait goes on.
///
/// # Errors
/// Timeout, I/O, a `state` that does not match, an `error` from Etsy, or a
/// redirect without a code.
pub async fn await_callback(
    listener: &TcpListener,
    expected_path: &str,
    expected_state: &str,
    timeout: Duration,
) -> Result<SecretString, CallbackError> {
    let work = async {
        loop {
            let (mut socket, _) = listener.accept().await?;
            let mut buf = Vec::with_capacity(1024);
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST_BYTES {
                let n = socket.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&buf);
            let target = head
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("/");
            let Ok(url) = Url::parse(&format!("http://localhost{target}")) else {
                respond(&mut socket, "400 Bad Request", "Malformed request.").await;
                continue;
            };
            if url.path() != expected_path {
                respond(&mut socket, "404 Not Found", "Not found.").await;
                continue;
            }
            let param = |name: &str| {
                url.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            };
            let outcome = match (param("state"), param("error"), param("code")) {
                (state, _, _) if state.as_deref() != Some(expected_state) => {
                    Err(CallbackError::StateMismatch)
                }
                (_, Some(error), _) => Err(CallbackError::Denied(
                    param("error_description").unwrap_or(error),
                )),
                (_, None, Some(code)) if !code.is_empty() => Ok(SecretString::from(code)),
                _ => Err(CallbackError::NoCode),
            };
            match &outcome {
                Ok(_) => {
                    respond(
                        &mut socket,
                        "200 OK",
                        "acp-bridge received the approval. You can close this window.",
                    )
                    .await;
                }
                Err(e) => respond(&mut socket, "400 Bad Request", &e.to_string()).await,
            }
            return outcome;
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| CallbackError::TimedOut(timeout))?
}

async fn respond(socket: &mut tokio::net::TcpStream, status: &str, text: &str) {
    let body = format!("<!doctype html><title>acp-bridge</title><p>{text}</p>\n");
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// Exposes the verifier for the token request only.
pub(super) fn verifier_text(pkce: &Pkce) -> &str {
    pkce.verifier.expose_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn generated_verifiers_are_long_unreserved_and_distinct() {
        let a = Pkce::generate();
        let b = Pkce::generate();
        let v = verifier_text(&a);
        assert!((43..=128).contains(&v.len()));
        assert!(
            v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c))
        );
        assert_ne!(v, verifier_text(&b));
        assert_eq!(a.challenge(), s256_challenge(v));
    }

    #[test]
    fn consent_url_carries_every_parameter_etsy_requires() {
        let url = consent_url(
            &Url::parse("https://www.etsy.com/oauth/connect").unwrap(),
            "key123",
            &Url::parse("http://localhost:3003/callback").unwrap(),
            &["listings_r".into(), "shops_r".into()],
            "st",
            "ch",
        );
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "key123");
        assert_eq!(q["redirect_uri"], "http://localhost:3003/callback");
        assert_eq!(q["scope"], "listings_r shops_r");
        assert_eq!(q["state"], "st");
        assert_eq!(q["code_challenge"], "ch");
        assert_eq!(q["code_challenge_method"], "S256");
    }

    #[tokio::test]
    async fn callback_refuses_a_foreign_state_and_accepts_the_right_one() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let get = |query: &'static str| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET /callback?{query} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let wait = await_callback(&listener, "/callback", "good", Duration::from_secs(5));
        let (result, page) = tokio::join!(wait, get("code=abc&state=evil"));
        assert!(matches!(result, Err(CallbackError::StateMismatch)));
        assert!(page.starts_with("HTTP/1.1 400"));
        let wait = await_callback(&listener, "/callback", "good", Duration::from_secs(5));
        let (result, page) = tokio::join!(wait, get("code=abc&state=good"));
        assert_eq!(result.unwrap().expose_secret(), "abc");
        assert!(page.starts_with("HTTP/1.1 200"));
    }
}
