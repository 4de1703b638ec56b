//! Idempotency-Key handling as Stripe documents it for API v1:
//!
//! - keys are scoped to the account and mode of the secret key;
//! - the status and body of the first request are saved once execution has
//!   begun (validation failures are not saved) and replayed for the same
//!   key, with `Idempotent-Replayed: true`, including saved 500s;
//! - the same key on another endpoint or with other parameters is an
//!   `idempotency_error` (HTTP 400);
//! - a request whose key is still executing gets HTTP 409
//!   `idempotency_key_in_use` and nothing is saved for it;
//! - keys are pruned 24 hours after first use (on the emulator clock), after
//!   which the key starts a new request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::Value;

use super::error::ApiError;
use super::lock;

/// Longest accepted key, in characters.
pub(crate) const MAX_KEY_LEN: usize = 255;
/// Seconds a saved key is kept.
const RETENTION_SECS: i64 = 24 * 60 * 60;

/// What makes two requests "the same".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub endpoint: String,
    pub params: Vec<(String, String)>,
}

/// A saved answer.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    pub status: StatusCode,
    pub body: Value,
    pub request_id: String,
}

enum Entry {
    InFlight {
        fingerprint: Fingerprint,
    },
    Done {
        fingerprint: Fingerprint,
        saved: Saved,
        at: i64,
    },
}

type Scope = (String, bool, String);

/// All keys of all accounts.
#[derive(Default)]
pub(crate) struct IdempotencyStore {
    entries: Mutex<HashMap<Scope, Entry>>,
}

/// The outcome of presenting a key.
pub(crate) enum Claim {
    /// First use: execute, then [`ClaimGuard::save`].
    Execute(ClaimGuard),
    /// Same request seen before: answer this.
    Replay(Saved),
    /// The key is being executed right now.
    InFlight(ApiError),
    /// The key was used for another request.
    Mismatch(ApiError),
}

/// Holds a key in flight; dropping it unsaved frees the key again (the
/// request ended before execution finished, e.g. the client went away).
pub(crate) struct ClaimGuard {
    store: Arc<IdempotencyStore>,
    scope: Option<Scope>,
}

fn mismatch(key: &str, first: &Fingerprint, now: &Fingerprint) -> ApiError {
    if first.endpoint != now.endpoint {
        ApiError::idempotency(format!(
            "Keys for idempotent requests can only be used for the same endpoint they were first used for ('{}' vs '{}'). Try using a key other than '{key}' if you meant to execute a different request.",
            first.endpoint, now.endpoint
        ))
    } else {
        ApiError::idempotency(format!(
            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
        ))
    }
}

impl IdempotencyStore {
    /// Presents `key` for a request of `account`.
    pub(crate) fn claim(
        self: &Arc<Self>,
        account: &str,
        livemode: bool,
        key: &str,
        fingerprint: Fingerprint,
        now: i64,
    ) -> Claim {
        let scope: Scope = (account.to_owned(), livemode, key.to_owned());
        let mut entries = lock(&self.entries);
        entries.retain(|_, e| match e {
            Entry::Done { at, .. } => now - *at < RETENTION_SECS,
            Entry::InFlight { .. } => true,
        });
        match entries.get(&scope) {
            Some(Entry::Done {
                fingerprint: first,
                saved,
                ..
            }) => {
                if *first == fingerprint {
                    Claim::Replay(saved.clone())
                } else {
                    Claim::Mismatch(mismatch(key, first, &fingerprint))
                }
            }
            Some(Entry::InFlight { fingerprint: first }) => {
                if *first == fingerprint {
                    Claim::InFlight(
                        ApiError::invalid(format!(
                            "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later."
                        ))
                        .status(StatusCode::CONFLICT)
                        .code("idempotency_key_in_use"),
                    )
                } else {
                    Claim::Mismatch(mismatch(key, first, &fingerprint))
                }
            }
            None => {
                entries.insert(scope.clone(), Entry::InFlight { fingerprint });
                Claim::Execute(ClaimGuard {
                    store: self.clone(),
                    scope: Some(scope),
                })
            }
        }
    }
}

impl ClaimGuard {
    /// Saves the answer under the key.
    pub(crate) fn save(mut self, saved: Saved, now: i64) {
        let Some(scope) = self.scope.take() else {
            return;
        };
        let mut entries = lock(&self.store.entries);
        if let Some(Entry::InFlight { fingerprint }) = entries.remove(&scope) {
            entries.insert(
                scope,
                Entry::Done {
                    fingerprint,
                    saved,
                    at: now,
                },
            );
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if let Some(scope) = self.scope.take() {
            let mut entries = lock(&self.store.entries);
            if matches!(entries.get(&scope), Some(Entry::InFlight { .. })) {
                entries.remove(&scope);
            }
        }
    }
}
