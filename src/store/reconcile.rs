//! What the reconciliation job reads and keeps: every checkout record of a
//! shop, and the shop's reconciliation state (the order-polling cursor and
//! the last report), stored in the `checkout` tree under `r\0{shop}`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Store, StoreError, keys};
use crate::domain::ShopId;

fn state_key(shop: &ShopId) -> Vec<u8> {
    let mut k = b"r\0".to_vec();
    k.extend_from_slice(shop.as_str().as_bytes());
    k
}

impl Store {
    /// Every checkout record of `shop`, decoded as `T` (a caller may decode
    /// only the fields it needs). A record that does not decode is passed
    /// to `on_unreadable` with its key text and skipped.
    ///
    /// # Errors
    /// Store I/O.
    pub fn checkout_records<T: DeserializeOwned>(
        &self,
        shop: &ShopId,
        mut on_unreadable: impl FnMut(&str, &StoreError),
    ) -> Result<Vec<T>, StoreError> {
        let mut prefix = b"s\0".to_vec();
        prefix.extend_from_slice(shop.as_str().as_bytes());
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.checkout_tree()?.scan_prefix(&prefix) {
            let (key, value) = item?;
            match keys::decode::<T>(&key, &value) {
                Ok(record) => out.push(record),
                Err(e) => on_unreadable(&String::from_utf8_lossy(&key[prefix.len()..]), &e),
            }
        }
        Ok(out)
    }

    /// The stored reconciliation state of `shop`.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn reconcile_state<T: DeserializeOwned>(
        &self,
        shop: &ShopId,
    ) -> Result<Option<T>, StoreError> {
        let key = state_key(shop);
        self.checkout_tree()?
            .get(&key)?
            .map(|v| keys::decode(&key, &v))
            .transpose()
    }

    /// Replaces the reconciliation state of `shop`.
    ///
    /// # Errors
    /// Store I/O.
    pub fn put_reconcile_state<T: Serialize>(
        &self,
        shop: &ShopId,
        state: &T,
    ) -> Result<(), StoreError> {
        self.checkout_tree()?
            .insert(state_key(shop), keys::encode(state))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Rec {
        n: u32,
    }

    #[test]
    fn records_of_one_shop_are_listed_and_unreadable_ones_reported() {
        let store = Store::temporary().unwrap();
        let a = ShopId::parse("a").unwrap();
        let ab = ShopId::parse("a-b").unwrap();
        store
            .put_checkout_record(&a, "cs_1", &Rec { n: 1 })
            .unwrap();
        store
            .put_checkout_record(&a, "cs_2", &Rec { n: 2 })
            .unwrap();
        store.put_checkout_record(&a, "cs_3", &"not a rec").unwrap();
        store
            .put_checkout_record(&ab, "cs_9", &Rec { n: 9 })
            .unwrap();
        store.put_reconcile_state(&a, &Rec { n: 7 }).unwrap();

        let mut bad = Vec::new();
        let found: Vec<Rec> = store
            .checkout_records(&a, |id, _| bad.push(id.to_owned()))
            .unwrap();
        assert_eq!(found, [Rec { n: 1 }, Rec { n: 2 }]);
        assert_eq!(bad, ["cs_3"]);
        assert_eq!(
            store.reconcile_state::<Rec>(&a).unwrap(),
            Some(Rec { n: 7 })
        );
        assert_eq!(store.reconcile_state::<Rec>(&ab).unwrap(), None);
    }
}
