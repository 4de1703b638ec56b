//! Checkout sessions and the idempotency keys of the requests that changed
//! them, in one tree so that a session's new state and the stored response
//! of the request that produced it commit in one batch.
//!
//! Keys:
//! - `s\0{shop}\0{session_id}` → the session record (opaque to the store:
//!   the checkout module's type, JSON with the version byte);
//! - `i\0{shop}\0{scope}\0{key}` → [`IdempotencyRecord`], where `scope` is
//!   the caller and the request path;
//! - `o\0…` and `e\0…`: order states and the order-event outbox (see
//!   `outbox.rs`), here so that a completed session, its order and the
//!   event announcing it commit together.

use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::Batch;

use super::{Store, StoreError, keys};
use crate::domain::ShopId;

const CHECKOUT_TREE: &str = "checkout";

/// Where an idempotency key lives: the shop, the caller and the request
/// path (keys are scoped to the caller and the endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyScope {
    pub shop: ShopId,
    pub caller: String,
    pub path: String,
    pub key: String,
}

impl IdempotencyScope {
    fn store_key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(
            8 + self.shop.as_str().len() + self.caller.len() + self.path.len() + self.key.len(),
        );
        for (i, part) in ["i", self.shop.as_str(), &self.caller, &self.path, &self.key]
            .iter()
            .enumerate()
        {
            if i > 0 {
                k.push(0);
            }
            k.extend_from_slice(part.as_bytes());
        }
        k
    }
}

/// A response stored against an idempotency key, replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    /// The JSON text of the response; stored as a string (records written
    /// before held it as an array of byte values, which still reads).
    #[serde(with = "body_text")]
    pub body: Vec<u8>,
}

/// `StoredResponse::body` as a JSON string when it is UTF-8 (response
/// bodies are JSON text), else as an array of bytes; both read back.
mod body_text {
    use serde::de::{self, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(body: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(body) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.collect_seq(body),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Body;
        impl<'de> Visitor<'de> for Body {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
                Ok(v.as_bytes().to_vec())
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Vec<u8>, E> {
                Ok(v.into_bytes())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_any(Body)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum KeyState {
    /// The first request is still running (or died; see the lease).
    InFlight {
        since: DateTime<Utc>,
    },
    Done {
        response: StoredResponse,
    },
}

/// What is stored per idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Lower-case hex SHA-256 of the request's canonical form.
    fingerprint: String,
    created_at: DateTime<Utc>,
    state: KeyState,
}

/// The answer to "may this request run?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyStart {
    /// New key (or an expired or abandoned one): run the request, then
    /// commit its response with [`Store::commit_checkout`] or release the
    /// key with [`Store::release_idempotency_key`].
    Run,
    /// Same key and request as a finished one: send this again.
    Replay(StoredResponse),
    /// Same key, different request.
    Conflict,
    /// Same key, the first request is still running.
    InFlight { started: DateTime<Utc> },
}

/// How long keys live and how long an unfinished request holds its key.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyPolicy {
    /// Keys are remembered at least this long (ACP: 24 h).
    pub retention: Duration,
    /// A request that has not finished after this long is presumed dead
    /// (crash); its key may be taken over by a retry.
    pub lease: Duration,
}

/// The writes of [`Store::commit_checkout`]: the record and the response
/// stored against its idempotency key.
pub(super) fn checkout_batch<T: Serialize>(
    shop: &ShopId,
    id: &str,
    record: &T,
    idempotency: Option<(&IdempotencyScope, &str, StoredResponse)>,
) -> Batch {
    let mut batch = Batch::default();
    batch.insert(Store::session_key(shop, id), keys::encode(record));
    if let Some((scope, fingerprint, response)) = idempotency {
        let done = IdempotencyRecord {
            fingerprint: fingerprint.to_owned(),
            created_at: Utc::now(),
            state: KeyState::Done { response },
        };
        batch.insert(scope.store_key(), keys::encode(&done));
    }
    batch
}

impl Store {
    pub(super) fn checkout_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(CHECKOUT_TREE)?)
    }

    fn session_key(shop: &ShopId, id: &str) -> Vec<u8> {
        let mut k = b"s\0".to_vec();
        k.extend_from_slice(shop.as_str().as_bytes());
        k.push(0);
        k.extend_from_slice(id.as_bytes());
        k
    }

    /// The stored checkout record `id` of `shop`.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn checkout_record<T: DeserializeOwned>(
        &self,
        shop: &ShopId,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        let key = Self::session_key(shop, id);
        self.checkout_tree()?
            .get(&key)?
            .map(|v| keys::decode(&key, &v))
            .transpose()
    }

    /// Claims an idempotency key for a request with `fingerprint`, or says
    /// why it may not run. Atomic against concurrent claims.
    ///
    /// # Errors
    /// Store I/O or an unreadable record.
    pub fn begin_idempotent(
        &self,
        scope: &IdempotencyScope,
        fingerprint: &str,
        now: DateTime<Utc>,
        policy: IdempotencyPolicy,
    ) -> Result<IdempotencyStart, StoreError> {
        let tree = self.checkout_tree()?;
        let key = scope.store_key();
        loop {
            let current = tree.get(&key)?;
            let existing: Option<IdempotencyRecord> = current
                .as_ref()
                .map(|v| keys::decode(&key, v))
                .transpose()?;
            if let Some(record) = &existing {
                let expired = record.created_at + policy.retention <= now;
                if !expired {
                    match &record.state {
                        KeyState::InFlight { since } if *since + policy.lease > now => {
                            return Ok(if record.fingerprint == fingerprint {
                                IdempotencyStart::InFlight { started: *since }
                            } else {
                                IdempotencyStart::Conflict
                            });
                        }
                        KeyState::InFlight { .. } => {
                            // Abandoned by a crashed request: a retry of the
                            // same request takes it over; another is a conflict.
                            if record.fingerprint != fingerprint {
                                return Ok(IdempotencyStart::Conflict);
                            }
                        }
                        KeyState::Done { response } => {
                            return Ok(if record.fingerprint == fingerprint {
                                IdempotencyStart::Replay(response.clone())
                            } else {
                                IdempotencyStart::Conflict
                            });
                        }
                    }
                }
            }
            let claim = IdempotencyRecord {
                fingerprint: fingerprint.to_owned(),
                created_at: existing
                    .as_ref()
                    .filter(|r| r.created_at + policy.retention > now)
                    .map_or(now, |r| r.created_at),
                state: KeyState::InFlight { since: now },
            };
            match tree.compare_and_swap(&key, current, Some(keys::encode(&claim)))? {
                Ok(()) => return Ok(IdempotencyStart::Run),
                // Someone else claimed or finished it meanwhile: look again.
                Err(_) => continue,
            }
        }
    }

    /// Forgets a claimed key whose request failed with a server error (a 5xx
    /// is never stored; the retry runs as new).
    ///
    /// # Errors
    /// Store I/O.
    pub fn release_idempotency_key(&self, scope: &IdempotencyScope) -> Result<(), StoreError> {
        self.checkout_tree()?.remove(scope.store_key())?;
        Ok(())
    }

    /// Stores a checkout record and, in the same batch, the response of the
    /// request that produced it against its idempotency key.
    ///
    /// # Errors
    /// Store I/O.
    pub fn commit_checkout<T: Serialize>(
        &self,
        shop: &ShopId,
        id: &str,
        record: &T,
        idempotency: Option<(&IdempotencyScope, &str, StoredResponse)>,
    ) -> Result<(), StoreError> {
        let batch = checkout_batch(shop, id, record, idempotency);
        self.checkout_tree()?.apply_batch(batch)?;
        Ok(())
    }

    /// Stores a checkout record alone (recovery points inside a request).
    ///
    /// # Errors
    /// Store I/O.
    pub fn put_checkout_record<T: Serialize>(
        &self,
        shop: &ShopId,
        id: &str,
        record: &T,
    ) -> Result<(), StoreError> {
        self.checkout_tree()?
            .insert(Self::session_key(shop, id), keys::encode(record))?;
        Ok(())
    }

    /// Deletes idempotency records older than `retention`; returns how many.
    ///
    /// # Errors
    /// Store I/O.
    pub fn prune_idempotency_keys(
        &self,
        shop: &ShopId,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> Result<u64, StoreError> {
        let tree = self.checkout_tree()?;
        let mut prefix = b"i\0".to_vec();
        prefix.extend_from_slice(shop.as_str().as_bytes());
        prefix.push(0);
        let mut batch = Batch::default();
        let mut n = 0;
        for entry in tree.scan_prefix(&prefix) {
            let (k, v) = entry?;
            if let Ok(record) = keys::decode::<IdempotencyRecord>(&k, &v)
                && record.created_at + retention <= now
            {
                batch.remove(k);
                n += 1;
            }
        }
        tree.apply_batch(batch)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(key: &str) -> IdempotencyScope {
        IdempotencyScope {
            shop: ShopId::parse("s").unwrap(),
            caller: "agent".into(),
            path: "/checkout_sessions".into(),
            key: key.into(),
        }
    }

    fn policy() -> IdempotencyPolicy {
        IdempotencyPolicy {
            retention: Duration::hours(24),
            lease: Duration::seconds(120),
        }
    }

    #[test]
    fn stored_bodies_are_json_strings_and_the_old_byte_arrays_still_read() {
        let response = StoredResponse {
            status: 201,
            body: br#"{"id":"cs_1","note":"caf\u00e9 \"x\""}"#.to_vec(),
        };
        let text = serde_json::to_string(&response).unwrap();
        assert!(text.contains(r#""body":"{\"id\""#), "{text}");
        assert_eq!(
            serde_json::from_str::<StoredResponse>(&text).unwrap(),
            response
        );
        let old = r#"{"status":200,"body":[123,125]}"#;
        let read: StoredResponse = serde_json::from_str(old).unwrap();
        assert_eq!(read.body, b"{}");
        let binary = StoredResponse {
            status: 200,
            body: vec![0xff, 0x00],
        };
        let text = serde_json::to_string(&binary).unwrap();
        assert_eq!(
            serde_json::from_str::<StoredResponse>(&text).unwrap(),
            binary
        );
    }

    #[test]
    fn a_key_runs_once_then_replays_and_refuses_other_bodies() {
        let store = Store::temporary().unwrap();
        let now = Utc::now();
        let s = scope("k1");
        assert_eq!(
            store.begin_idempotent(&s, "aa", now, policy()).unwrap(),
            IdempotencyStart::Run
        );
        assert_eq!(
            store.begin_idempotent(&s, "aa", now, policy()).unwrap(),
            IdempotencyStart::InFlight { started: now }
        );
        assert_eq!(
            store.begin_idempotent(&s, "bb", now, policy()).unwrap(),
            IdempotencyStart::Conflict
        );
        let response = StoredResponse {
            status: 201,
            body: b"{}".to_vec(),
        };
        store
            .commit_checkout(
                &s.shop,
                "cs_1",
                &"record",
                Some((&s, "aa", response.clone())),
            )
            .unwrap();
        assert_eq!(
            store.begin_idempotent(&s, "aa", now, policy()).unwrap(),
            IdempotencyStart::Replay(response)
        );
        assert_eq!(
            store.begin_idempotent(&s, "bb", now, policy()).unwrap(),
            IdempotencyStart::Conflict
        );
        assert_eq!(
            store
                .checkout_record::<String>(&s.shop, "cs_1")
                .unwrap()
                .as_deref(),
            Some("record")
        );
        // Other callers and paths have their own key space.
        let mut other = s.clone();
        other.caller = "someone-else".into();
        assert_eq!(
            store.begin_idempotent(&other, "bb", now, policy()).unwrap(),
            IdempotencyStart::Run
        );
    }

    #[test]
    fn released_abandoned_and_expired_keys_run_again() {
        let store = Store::temporary().unwrap();
        let now = Utc::now();
        let s = scope("k2");
        store.begin_idempotent(&s, "aa", now, policy()).unwrap();
        store.release_idempotency_key(&s).unwrap();
        assert_eq!(
            store.begin_idempotent(&s, "aa", now, policy()).unwrap(),
            IdempotencyStart::Run
        );
        // The lease ran out: the same request takes over, another conflicts.
        let later = now + Duration::seconds(121);
        assert_eq!(
            store.begin_idempotent(&s, "bb", later, policy()).unwrap(),
            IdempotencyStart::Conflict
        );
        assert_eq!(
            store.begin_idempotent(&s, "aa", later, policy()).unwrap(),
            IdempotencyStart::Run
        );
        store
            .commit_checkout(
                &s.shop,
                "cs_2",
                &1,
                Some((
                    &s,
                    "aa",
                    StoredResponse {
                        status: 200,
                        body: Vec::new(),
                    },
                )),
            )
            .unwrap();
        let next_day = Utc::now() + Duration::hours(25);
        assert_eq!(
            store
                .begin_idempotent(&s, "bb", next_day, policy())
                .unwrap(),
            IdempotencyStart::Run
        );
        assert_eq!(
            store
                .prune_idempotency_keys(
                    &s.shop,
                    next_day + Duration::hours(25),
                    Duration::hours(24)
                )
                .unwrap(),
            1
        );
    }
}
