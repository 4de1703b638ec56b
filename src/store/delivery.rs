//! Feed deliveries: per shop and target, the state the next delivery needs
//! (what was last delivered, a Feed API's product hashes) and a bounded
//! history of attempts, in the `delivery` tree:
//!
//! - `t\0{shop}\0{target}` → the target's state (a caller type);
//! - `h\0{shop}\0{target}\0{seq:016x}` → one attempt's record, the newest
//!   [`DELIVERY_HISTORY`] kept.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Store, StoreError, keys};
use crate::domain::ShopId;

const DELIVERY_TREE: &str = "delivery";

/// Attempts kept per target.
pub const DELIVERY_HISTORY: usize = 50;

fn target_key(shop: &ShopId, target: &str) -> Vec<u8> {
    let mut k = b"t\0".to_vec();
    k.extend_from_slice(shop.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(target.as_bytes());
    k
}

fn history_prefix(shop: &ShopId, target: &str) -> Vec<u8> {
    let mut k = b"h\0".to_vec();
    k.extend_from_slice(shop.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(target.as_bytes());
    k.push(0);
    k
}

impl Store {
    fn delivery_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(DELIVERY_TREE)?)
    }

    /// The stored state of `target` of `shop`.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn delivery_state<T: DeserializeOwned>(
        &self,
        shop: &ShopId,
        target: &str,
    ) -> Result<Option<T>, StoreError> {
        let key = target_key(shop, target);
        self.delivery_tree()?
            .get(&key)?
            .map(|v| keys::decode(&key, &v))
            .transpose()
    }

    /// Replaces the state of `target` and, in the same batch, appends
    /// `record` to its history (dropping the oldest beyond
    /// [`DELIVERY_HISTORY`]); flushed before returning, so a delivery that
    /// happened is never forgotten by a crash right after.
    ///
    /// # Errors
    /// Store I/O.
    pub fn record_delivery<T: Serialize, R: Serialize>(
        &self,
        shop: &ShopId,
        target: &str,
        state: &T,
        record: Option<&R>,
    ) -> Result<(), StoreError> {
        let tree = self.delivery_tree()?;
        let mut batch = sled::Batch::default();
        batch.insert(target_key(shop, target), keys::encode(state));
        if let Some(record) = record {
            let prefix = history_prefix(shop, target);
            let existing: Vec<sled::IVec> =
                tree.scan_prefix(&prefix).keys().collect::<Result<_, _>>()?;
            let next = existing
                .last()
                .and_then(|k| k.get(prefix.len()..))
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                .map_or(0, |n| n + 1);
            let mut key = prefix.clone();
            key.extend_from_slice(format!("{next:016x}").as_bytes());
            batch.insert(key, keys::encode(record));
            let excess = (existing.len() + 1).saturating_sub(DELIVERY_HISTORY);
            for old in existing.iter().take(excess) {
                batch.remove(old.clone());
            }
        }
        tree.apply_batch(batch)?;
        tree.flush()?;
        Ok(())
    }

    /// The state of every target of `shop` that has one, by target id.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn delivery_states<T: DeserializeOwned>(
        &self,
        shop: &ShopId,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let mut prefix = b"t\0".to_vec();
        prefix.extend_from_slice(shop.as_str().as_bytes());
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.delivery_tree()?.scan_prefix(&prefix) {
            let (key, value) = item?;
            let target = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            out.push((target, keys::decode(&key, &value)?));
        }
        Ok(out)
    }

    /// The recorded attempts of `target`, newest first.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn delivery_history<R: DeserializeOwned>(
        &self,
        shop: &ShopId,
        target: &str,
    ) -> Result<Vec<R>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .delivery_tree()?
            .scan_prefix(history_prefix(shop, target))
            .rev()
        {
            let (key, value) = item?;
            out.push(keys::decode(&key, &value)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_and_history_are_kept_per_target_and_the_history_is_bounded() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("acme").unwrap();
        let other = ShopId::parse("acme-2").unwrap();
        for n in 0..(DELIVERY_HISTORY as u64 + 5) {
            store
                .record_delivery(&shop, "sftp", &n, Some(&format!("attempt {n}")))
                .unwrap();
        }
        store
            .record_delivery(&other, "sftp", &7u64, None::<&String>)
            .unwrap();
        assert_eq!(
            store.delivery_state::<u64>(&shop, "sftp").unwrap(),
            Some(DELIVERY_HISTORY as u64 + 4)
        );
        assert_eq!(
            store.delivery_state::<u64>(&other, "sftp").unwrap(),
            Some(7)
        );
        assert_eq!(store.delivery_state::<u64>(&shop, "feed").unwrap(), None);
        let history: Vec<String> = store.delivery_history(&shop, "sftp").unwrap();
        assert_eq!(history.len(), DELIVERY_HISTORY);
        assert_eq!(history[0], format!("attempt {}", DELIVERY_HISTORY + 4));
        assert_eq!(history.last().unwrap(), "attempt 5");
        assert!(
            store
                .delivery_history::<String>(&other, "sftp")
                .unwrap()
                .is_empty()
        );
    }
}
