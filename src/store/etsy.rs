//! Etsy per-shop state: the OAuth tokens of the seller who approved the app
//! and the bookkeeping the operator sees (quota state, listings whose
//! prices could not be converted).
//!
//! Tree `etsy` (kept here rather than in `keys.rs` because only this file
//! uses it): `t\0{shop}` → [`EtsyTokens`], `s\0{shop}` → [`EtsyShopState`].
//! The catalog, cursor and sync records of an Etsy shop live in the shared
//! catalog tree like every other shop's.
//!
//! Tokens are secrets: the data directory is tightened to 0700 (and sled's
//! top-level files to 0600) whenever tokens are written, and `Debug`
//! redacts them.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, keys};
use crate::domain::ShopId;

const ETSY_TREE: &str = "etsy";
/// Listings with a rejected price kept for the status view.
pub const MAX_REJECTED_LISTINGS: usize = 50;

fn tokens_key(shop: &str) -> Vec<u8> {
    [b"t\0".as_slice(), shop.as_bytes()].concat()
}

fn state_key(shop: &str) -> Vec<u8> {
    [b"s\0".as_slice(), shop.as_bytes()].concat()
}

/// The OAuth tokens of one Etsy shop. Etsy rotates the refresh token on
/// every refresh, so the newest pair must be saved before the access token
/// is used: a lost refresh token means logging in again.
#[derive(Clone, Serialize, Deserialize)]
pub struct EtsyTokens {
    /// The numeric Etsy user id (the prefix of both tokens).
    pub user_id: u64,
    /// `{user_id}.{token}`, sent as `Authorization: Bearer …`.
    #[serde(with = "secret_string")]
    pub access_token: SecretString,
    #[serde(with = "secret_string")]
    pub refresh_token: SecretString,
    pub access_expires_at: DateTime<Utc>,
    /// Etsy refresh tokens live 90 days.
    pub refresh_expires_at: DateTime<Utc>,
    /// When the refresh token was issued (login or last refresh).
    pub issued_at: DateTime<Utc>,
}

impl fmt::Debug for EtsyTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtsyTokens")
            .field("user_id", &self.user_id)
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish()
    }
}

mod secret_string {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &SecretString, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.expose_secret())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
        String::deserialize(d).map(SecretString::from)
    }
}

/// A listing left out of the catalog because its price could not be
/// converted exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedListing {
    pub listing_id: u64,
    pub message: String,
}

/// Operator-facing Etsy state of one shop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtsyShopState {
    /// Set while the app's daily quota is used up; cleared by the next run
    /// that gets through.
    pub quota_exhausted_until: Option<DateTime<Utc>>,
    /// The last daily quota Etsy reported (`x-limit-per-day`).
    pub limit_per_day: Option<u64>,
    /// The last remaining daily quota Etsy reported (`x-remaining-today`).
    pub remaining_today: Option<u64>,
    /// When the quota figures were read.
    pub quota_seen_at: Option<DateTime<Utc>>,
    /// Listings of the last run whose price could not be converted (at most
    /// [`MAX_REJECTED_LISTINGS`]).
    pub rejected: Vec<RejectedListing>,
    /// Set when Etsy refused the refresh token: a new login is needed.
    pub login_required: Option<String>,
    /// The shop's return policy when it has a single one (read by full
    /// syncs, used by every feed build).
    #[serde(default)]
    pub accepts_returns: Option<bool>,
    #[serde(default)]
    pub return_deadline_days: Option<u32>,
}

impl Store {
    fn etsy(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(ETSY_TREE)?)
    }

    /// Saves the tokens of `shop` and waits until they are on disk (a
    /// rotated refresh token that is lost in a crash cannot be recovered).
    /// Tightens the data directory's permissions first.
    ///
    /// # Errors
    /// Store I/O.
    pub fn put_etsy_tokens(&self, shop: &ShopId, tokens: &EtsyTokens) -> Result<(), StoreError> {
        self.secure_permissions();
        self.etsy()?
            .insert(tokens_key(shop.as_str()), keys::encode(tokens))?;
        self.db.flush()?;
        Ok(())
    }

    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn etsy_tokens(&self, shop: &ShopId) -> Result<Option<EtsyTokens>, StoreError> {
        let key = tokens_key(shop.as_str());
        self.etsy()?
            .get(&key)?
            .map(|v| keys::decode(&key, &v))
            .transpose()
    }

    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn etsy_state(&self, shop: &ShopId) -> Result<EtsyShopState, StoreError> {
        let key = state_key(shop.as_str());
        Ok(self
            .etsy()?
            .get(&key)?
            .map(|v| keys::decode(&key, &v))
            .transpose()?
            .unwrap_or_default())
    }

    /// Reads, changes and writes the Etsy state of `shop` atomically.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn update_etsy_state(
        &self,
        shop: &ShopId,
        change: impl Fn(&mut EtsyShopState),
    ) -> Result<EtsyShopState, StoreError> {
        let key = state_key(shop.as_str());
        let tree = self.etsy()?;
        let mut failure = None;
        let updated = tree.update_and_fetch(&key, |old| {
            let mut state: EtsyShopState = match old.map(|v| keys::decode(&key, v)).transpose() {
                Ok(s) => s.unwrap_or_default(),
                Err(e) => {
                    failure = Some(e);
                    return old.map(<[u8]>::to_vec);
                }
            };
            change(&mut state);
            Some(keys::encode(&state))
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        updated
            .map(|v| keys::decode(&key, &v))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Makes the data directory private to the daemon's user: the directory
    /// 0700, its top-level files 0600 (tokens live in sled's files). Only
    /// loosens nothing; problems are logged, never fatal.
    pub fn secure_permissions(&self) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let root = &self.files.root;
            let tighten = |path: &std::path::Path, mode: u32| {
                let Ok(meta) = std::fs::metadata(path) else {
                    return;
                };
                let current = meta.permissions().mode() & 0o777;
                if current & !mode != 0 {
                    let wanted = current & mode;
                    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted)) {
                        Ok(()) => tracing::info!(
                            path = %path.display(),
                            mode.old = format!("{current:o}"),
                            mode.new = format!("{wanted:o}"),
                            "tightened permissions of the data directory"
                        ),
                        Err(e) => tracing::warn!(
                            path = %path.display(),
                            error = %e,
                            "could not tighten permissions of the data directory"
                        ),
                    }
                }
            };
            tighten(root, 0o700);
            if let Ok(entries) = std::fs::read_dir(root) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    match entry.file_type() {
                        Ok(t) if t.is_dir() => tighten(&path, 0o700),
                        Ok(_) => tighten(&path, 0o600),
                        Err(_) => {}
                    }
                }
            }
        }
    }
}

/// Whether the tokens' access token is still usable `margin` from now.
pub fn access_token_fresh(
    tokens: &EtsyTokens,
    now: DateTime<Utc>,
    margin: chrono::Duration,
) -> bool {
    tokens.access_expires_at - margin > now && !tokens.access_token.expose_secret().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(n: u32) -> EtsyTokens {
        let now = Utc::now();
        EtsyTokens {
            user_id: 42,
            access_token: SecretString::from(format!("42.access{n}")),
            refresh_token: SecretString::from(format!("42.refresh{n}")),
            access_expires_at: now + chrono::Duration::hours(1),
            refresh_expires_at: now + chrono::Duration::days(90),
            issued_at: now,
        }
    }

    #[test]
    fn tokens_survive_reopening_the_store_and_debug_redacts_them() {
        let dir = tempfile::tempdir().unwrap();
        let shop = ShopId::parse("etsy").unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.put_etsy_tokens(&shop, &tokens(1)).unwrap();
            store.put_etsy_tokens(&shop, &tokens(2)).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let read = store.etsy_tokens(&shop).unwrap().unwrap();
        assert_eq!(read.refresh_token.expose_secret(), "42.refresh2");
        assert_eq!(read.user_id, 42);
        let debug = format!("{read:?}");
        assert!(
            !debug.contains("refresh2") && !debug.contains("access2"),
            "{debug}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn saving_tokens_makes_the_data_directory_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let shop = ShopId::parse("etsy").unwrap();
        store.put_etsy_tokens(&shop, &tokens(1)).unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", entry.path().display());
        }
    }

    #[test]
    fn state_updates_are_read_back() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("etsy").unwrap();
        assert_eq!(store.etsy_state(&shop).unwrap(), EtsyShopState::default());
        store
            .update_etsy_state(&shop, |s| s.remaining_today = Some(7))
            .unwrap();
        assert_eq!(store.etsy_state(&shop).unwrap().remaining_today, Some(7));
    }
}
