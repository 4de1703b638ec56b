//! Catalog operations: products, shop facts and sync state per shop.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::Batch;

use super::{Store, StoreError, keys};
use crate::domain::{Product, ShopFacts, ShopId};

/// Which kind of sync run a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    Full,
    Incremental,
    /// Processing the Shopify webhooks queued for the shop: refetching the
    /// products they name and updating the feed.
    Webhooks,
}

impl SyncKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncKind::Full => "full",
            SyncKind::Incremental => "incremental",
            SyncKind::Webhooks => "webhooks",
        }
    }
}

/// The outcome of one finished sync run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// Products written (upserted) by the run.
    pub products_written: u64,
    /// Products removed from the catalog by the run.
    pub products_removed: u64,
}

/// The last failure of a shop's sync, kept until a later run succeeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncFailure {
    pub at: DateTime<Utc>,
    pub kind: SyncKind,
    /// Operator-facing message (never contains secrets).
    pub message: String,
    pub consecutive: u32,
}

/// Persistent sync bookkeeping of one shop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    pub last_full: Option<SyncRecord>,
    pub last_incremental: Option<SyncRecord>,
    /// The last run that processed queued Shopify webhooks.
    #[serde(default)]
    pub last_webhooks: Option<SyncRecord>,
    /// Set when Shopify reported the app uninstalled (`app/uninstalled`):
    /// scheduled syncs stop, data is kept; a sync asked for by hand clears
    /// it once it succeeds.
    #[serde(default)]
    pub uninstalled_at: Option<DateTime<Utc>>,
    /// Incremental sync resumes from products updated after this instant.
    pub cursor: Option<DateTime<Utc>>,
    pub last_error: Option<SyncFailure>,
}

/// SHA-256 of a product's stored value: equal digests, equal bytes.
pub type ProductDigest = [u8; 32];

/// The digest of stored product bytes.
pub fn product_digest(stored: &[u8]) -> ProductDigest {
    Sha256::digest(stored).into()
}

/// A change-log number. Every batch that writes or removes products draws
/// one and logs the ids under it (see [`Store::changed_products`]).
/// Numbers only grow, across restarts too.
pub type ChangeSeq = u64;

/// A product encoded for the store: lets a writer compare it with the
/// stored one by bytes, without decoding either.
pub struct EncodedProduct {
    id: String,
    value: Vec<u8>,
}

impl EncodedProduct {
    pub fn new(product: &Product) -> Self {
        EncodedProduct {
            id: product.id.clone(),
            value: keys::encode_product(product),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether `stored` holds exactly these bytes.
    pub fn matches(&self, stored: &StoredProduct) -> bool {
        stored.stored_bytes() == self.value.as_slice()
    }
}

/// One batch of product writes and removals, logged as one change.
#[derive(Default)]
struct ProductBatch {
    batch: Batch,
    ids: Vec<String>,
}

impl ProductBatch {
    fn insert(&mut self, shop: &ShopId, product: EncodedProduct) {
        self.batch
            .insert(keys::product(shop.as_str(), &product.id), product.value);
        self.ids.push(product.id);
    }

    fn remove(&mut self, shop: &ShopId, id: &str) {
        self.batch.remove(keys::product(shop.as_str(), id));
        self.ids.push(id.to_owned());
    }

    /// The batch with its change-log entry.
    fn logged(mut self, shop: &ShopId, change: ChangeSeq) -> Batch {
        if !self.ids.is_empty() {
            self.batch.insert(
                keys::product_change(shop.as_str(), change),
                keys::encode(&self.ids),
            );
        }
        self.batch
    }
}

/// A product as stored: its id and stored bytes (version byte and
/// compressed JSON), decoded only when asked. Lets a feed rebuild compare
/// products by their bytes without decoding unchanged ones. Cheap to clone
/// (the bytes are shared).
#[derive(Clone)]
pub struct StoredProduct {
    key: sled::IVec,
    /// Length of the key prefix before the product id.
    id_start: usize,
    value: sled::IVec,
}

impl StoredProduct {
    /// The product id.
    pub fn id(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.key[self.id_start..])
    }

    /// The value exactly as stored: equal bytes mean an equal product.
    pub fn stored_bytes(&self) -> &[u8] {
        &self.value
    }

    /// The digest of the stored bytes.
    pub fn digest(&self) -> ProductDigest {
        product_digest(&self.value)
    }

    /// Decodes the product.
    ///
    /// # Errors
    /// An unreadable value.
    pub fn decode(&self) -> Result<Product, StoreError> {
        keys::decode(&self.key, &self.value)
    }
}

impl Store {
    fn catalog(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(keys::CATALOG_TREE)?)
    }

    /// # Errors
    /// Store I/O.
    pub fn put_shop_facts(&self, shop: &ShopId, facts: &ShopFacts) -> Result<(), StoreError> {
        self.catalog()?
            .insert(keys::shop_facts(shop.as_str()), keys::encode(facts))?;
        Ok(())
    }

    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn shop_facts(&self, shop: &ShopId) -> Result<Option<ShopFacts>, StoreError> {
        let key = keys::shop_facts(shop.as_str());
        self.catalog()?
            .get(&key)?
            .map(|v| keys::decode(&key, &v))
            .transpose()
    }

    /// The stored shop facts as opaque bytes: equal bytes, equal facts.
    /// Lets a caller keep what it derived from the facts until they change.
    ///
    /// # Errors
    /// Store I/O.
    pub fn shop_facts_raw(&self, shop: &ShopId) -> Result<Option<Vec<u8>>, StoreError> {
        let key = keys::shop_facts(shop.as_str());
        Ok(self.catalog()?.get(&key)?.map(|v| v.to_vec()))
    }

    /// Decodes what [`Store::shop_facts_raw`] returned.
    ///
    /// # Errors
    /// An unreadable value.
    pub fn decode_shop_facts(&self, shop: &ShopId, raw: &[u8]) -> Result<ShopFacts, StoreError> {
        keys::decode(&keys::shop_facts(shop.as_str()), raw)
    }

    /// Upserts products in one atomic batch.
    ///
    /// # Errors
    /// Store I/O.
    pub fn upsert_products(&self, shop: &ShopId, products: &[Product]) -> Result<(), StoreError> {
        self.put_encoded_products(shop, products.iter().map(EncodedProduct::new))
    }

    /// Writes encoded products in one atomic batch.
    ///
    /// # Errors
    /// Store I/O.
    pub fn put_encoded_products(
        &self,
        shop: &ShopId,
        products: impl IntoIterator<Item = EncodedProduct>,
    ) -> Result<(), StoreError> {
        let mut batch = ProductBatch::default();
        for p in products {
            batch.insert(shop, p);
        }
        self.apply_products(shop, batch)
    }

    fn apply_products(&self, shop: &ShopId, batch: ProductBatch) -> Result<(), StoreError> {
        let change = self.next_change()?;
        self.catalog()?.apply_batch(batch.logged(shop, change))?;
        Ok(())
    }

    /// Draws a change-log sequence number, greater than every one drawn
    /// before.
    ///
    /// # Errors
    /// Store I/O.
    pub fn next_change(&self) -> Result<ChangeSeq, StoreError> {
        Ok(self.db.generate_id()?)
    }

    /// The ids of the products of `shop` written or removed by batches
    /// numbered `since` or later, in id order. A feed build draws a number
    /// when it starts ([`Self::next_change`]); the products logged from
    /// that number on changed after it started reading.
    ///
    /// # Errors
    /// Store I/O or an unreadable entry.
    pub fn changed_products(
        &self,
        shop: &ShopId,
        since: ChangeSeq,
    ) -> Result<Vec<String>, StoreError> {
        let prefix = keys::changes_prefix(shop.as_str());
        let mut ids = std::collections::BTreeSet::new();
        for item in self
            .catalog()?
            .range(keys::product_change(shop.as_str(), since)..)
        {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            ids.extend(keys::decode::<Vec<String>>(&key, &value)?);
        }
        Ok(ids.into_iter().collect())
    }

    /// Drops the change-log entries of `shop` numbered before `before`.
    /// Entries are never rewritten, so a batch logged meanwhile (numbered
    /// later) stays. Returns how many entries were dropped.
    ///
    /// # Errors
    /// Store I/O.
    pub fn forget_changes_before(
        &self,
        shop: &ShopId,
        before: ChangeSeq,
    ) -> Result<u64, StoreError> {
        let tree = self.catalog()?;
        let mut batch = Batch::default();
        let mut forgotten = 0;
        let range =
            keys::changes_prefix(shop.as_str())..keys::product_change(shop.as_str(), before);
        for key in tree.range(range).keys() {
            batch.remove(key?);
            forgotten += 1;
        }
        tree.apply_batch(batch)?;
        Ok(forgotten)
    }

    /// Writes one page of an incremental sync: the changed products and the
    /// new cursor commit together in one batch, so a process killed at any
    /// point resumes from a cursor that matches what is stored.
    ///
    /// # Errors
    /// Store I/O or an unreadable sync state.
    pub fn apply_incremental_page(
        &self,
        shop: &ShopId,
        products: &[Product],
        removed_ids: &[String],
        cursor: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tree = self.catalog()?;
        let state_key = keys::sync_state(shop.as_str());
        let mut state: SyncState = match tree.get(&state_key)? {
            Some(v) => keys::decode(&state_key, &v)?,
            None => SyncState::default(),
        };
        // Never move the cursor backwards (pages can overlap on purpose).
        state.cursor = Some(state.cursor.map_or(cursor, |c| c.max(cursor)));
        let mut batch = ProductBatch::default();
        for p in products {
            batch.insert(shop, EncodedProduct::new(p));
        }
        for id in removed_ids {
            batch.remove(shop, id);
        }
        let mut batch = batch.logged(shop, self.next_change()?);
        batch.insert(state_key, keys::encode(&state));
        tree.apply_batch(batch)?;
        Ok(())
    }

    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn product(&self, shop: &ShopId, id: &str) -> Result<Option<Product>, StoreError> {
        let key = keys::product(shop.as_str(), id);
        self.catalog()?
            .get(&key)?
            .map(|v| keys::decode(&key, &v))
            .transpose()
    }

    /// Every stored product of `shop`, in id-byte order, decoded lazily.
    ///
    /// # Errors
    /// Store I/O when opening the tree; per-item errors come from the iterator.
    pub fn products(
        &self,
        shop: &ShopId,
    ) -> Result<impl Iterator<Item = Result<Product, StoreError>> + use<>, StoreError> {
        let prefix = keys::products_prefix(shop.as_str());
        Ok(self.catalog()?.scan_prefix(prefix).map(|item| {
            let (k, v) = item?;
            keys::decode(&k, &v)
        }))
    }

    /// Every stored product of `shop` in id-byte order (as [`Self::products`]),
    /// undecoded: id and stored bytes.
    ///
    /// # Errors
    /// Store I/O when opening the tree; per-item errors come from the iterator.
    pub fn stored_products(
        &self,
        shop: &ShopId,
    ) -> Result<impl Iterator<Item = Result<StoredProduct, StoreError>> + use<>, StoreError> {
        let prefix = keys::products_prefix(shop.as_str());
        let id_start = prefix.len();
        Ok(self.catalog()?.scan_prefix(prefix).map(move |item| {
            let (key, value) = item?;
            Ok(StoredProduct {
                key,
                id_start,
                value,
            })
        }))
    }

    /// One stored product, undecoded.
    ///
    /// # Errors
    /// Store I/O.
    pub fn stored_product(
        &self,
        shop: &ShopId,
        id: &str,
    ) -> Result<Option<StoredProduct>, StoreError> {
        let key = keys::product(shop.as_str(), id);
        let id_start = key.len() - id.len();
        Ok(self.catalog()?.get(&key)?.map(|value| StoredProduct {
            key: key.into(),
            id_start,
            value,
        }))
    }

    /// The ids of every stored product of `shop`.
    ///
    /// # Errors
    /// Store I/O.
    pub fn product_ids(
        &self,
        shop: &ShopId,
    ) -> Result<impl Iterator<Item = Result<String, StoreError>> + use<>, StoreError> {
        let prefix = keys::products_prefix(shop.as_str());
        let skip = prefix.len();
        Ok(self.catalog()?.scan_prefix(prefix).keys().map(move |k| {
            let k = k?;
            Ok(String::from_utf8_lossy(&k[skip..]).into_owned())
        }))
    }

    /// # Errors
    /// Store I/O.
    pub fn product_count(&self, shop: &ShopId) -> Result<usize, StoreError> {
        let prefix = keys::products_prefix(shop.as_str());
        Ok(self.catalog()?.scan_prefix(prefix).keys().count())
    }

    /// Removes products by id in one batch.
    ///
    /// # Errors
    /// Store I/O.
    pub fn remove_products(&self, shop: &ShopId, ids: &[String]) -> Result<(), StoreError> {
        let mut batch = ProductBatch::default();
        for id in ids {
            batch.remove(shop, id);
        }
        self.apply_products(shop, batch)
    }

    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn sync_state(&self, shop: &ShopId) -> Result<SyncState, StoreError> {
        let key = keys::sync_state(shop.as_str());
        match self.catalog()?.get(&key)? {
            Some(v) => keys::decode(&key, &v),
            None => Ok(SyncState::default()),
        }
    }

    /// Read-modify-write of a shop's sync state. Sync runs of one shop never
    /// overlap (the scheduler guarantees it), so a plain read then write is
    /// enough; the compare-and-swap loop guards against a concurrent CLI
    /// writer all the same.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn update_sync_state(
        &self,
        shop: &ShopId,
        mut update: impl FnMut(&mut SyncState),
    ) -> Result<SyncState, StoreError> {
        let tree = self.catalog()?;
        let key = keys::sync_state(shop.as_str());
        loop {
            let old = tree.get(&key)?;
            let mut state: SyncState = match &old {
                Some(v) => keys::decode(&key, v)?,
                None => SyncState::default(),
            };
            update(&mut state);
            let new = keys::encode(&state);
            if tree.compare_and_swap(&key, old, Some(new))?.is_ok() {
                return Ok(state);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Platform, ProductStatus};

    fn product(id: &str, title: &str) -> Product {
        Product {
            platform: Platform::Shopify,
            id: id.into(),
            handle: title.to_lowercase(),
            title: title.into(),
            description_html: String::new(),
            vendor: None,
            product_type: None,
            tags: vec![],
            status: ProductStatus::Active,
            published: true,
            url: None,
            category: None,
            options: vec![],
            media: vec![],
            variants: vec![],
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn incremental_page_commits_products_and_cursor_together() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("a").unwrap();
        let other = ShopId::parse("ab").unwrap();
        let t1 = Utc::now();
        store
            .apply_incremental_page(&shop, &[product("1", "One"), product("2", "Two")], &[], t1)
            .unwrap();
        store
            .upsert_products(&other, &[product("9", "Other shop")])
            .unwrap();
        assert_eq!(store.product_count(&shop).unwrap(), 2);
        assert_eq!(store.sync_state(&shop).unwrap().cursor, Some(t1));

        // An older cursor never moves it back; removals apply in the same batch.
        let t0 = t1 - chrono::Duration::minutes(5);
        store
            .apply_incremental_page(&shop, &[], &["1".to_string()], t0)
            .unwrap();
        assert_eq!(store.sync_state(&shop).unwrap().cursor, Some(t1));
        let ids: Vec<String> = store
            .product_ids(&shop)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids, vec!["2".to_string()]);
        // Prefix scans do not leak another shop whose id shares a prefix.
        assert_eq!(store.product_count(&other).unwrap(), 1);
    }

    fn changed(store: &Store, shop: &ShopId, since: ChangeSeq) -> Vec<String> {
        store.changed_products(shop, since).unwrap()
    }

    #[test]
    fn every_write_path_logs_the_products_it_touches() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("a").unwrap();
        let other = ShopId::parse("ab").unwrap();
        store
            .upsert_products(&shop, &[product("1", "One"), product("2", "Two")])
            .unwrap();
        store
            .upsert_products(&other, &[product("9", "Else")])
            .unwrap();

        let start = store.next_change().unwrap();
        store
            .apply_incremental_page(
                &shop,
                &[product("3", "Three")],
                &["2".to_string()],
                Utc::now(),
            )
            .unwrap();
        store
            .put_encoded_products(&shop, vec![EncodedProduct::new(&product("5", "Five"))])
            .unwrap();
        store.remove_products(&shop, &["5".to_string()]).unwrap();
        // A page that moves only the cursor logs nothing.
        store
            .apply_incremental_page(&shop, &[], &[], Utc::now())
            .unwrap();

        // Removals are logged too: a build must learn of them.
        assert_eq!(changed(&store, &shop, 0), ["1", "2", "3", "5"]);
        assert_eq!(changed(&store, &shop, start), ["2", "3", "5"]);
        assert!(changed(&store, &shop, store.next_change().unwrap()).is_empty());
        // Another shop's log is its own, though its id extends this one's.
        assert_eq!(changed(&store, &other, 0), ["9"]);
    }

    #[test]
    fn forgetting_keeps_changes_logged_since() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        let other = ShopId::parse("t").unwrap();
        store
            .upsert_products(&shop, &[product("1", "One"), product("2", "Two")])
            .unwrap();
        store
            .upsert_products(&other, &[product("1", "One")])
            .unwrap();
        let start = store.next_change().unwrap();
        store
            .upsert_products(&shop, &[product("2", "Two again")])
            .unwrap();
        assert_eq!(store.forget_changes_before(&shop, start).unwrap(), 1);
        assert_eq!(changed(&store, &shop, 0), ["2"]);
        assert_eq!(changed(&store, &other, 0), ["1"]);
        // The products themselves are untouched.
        assert_eq!(store.product_count(&shop).unwrap(), 2);
    }

    #[test]
    fn equal_products_encode_to_equal_bytes() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        let one = product("1", "One");
        store
            .upsert_products(&shop, std::slice::from_ref(&one))
            .unwrap();
        let stored = store.stored_product(&shop, "1").unwrap().unwrap();
        assert!(EncodedProduct::new(&one.clone()).matches(&stored));
        let uno = Product {
            title: "Uno".into(),
            ..one
        };
        assert!(!EncodedProduct::new(&uno).matches(&stored));
        assert_eq!(stored.digest(), product_digest(stored.stored_bytes()));
        assert!(store.stored_product(&shop, "2").unwrap().is_none());
    }

    #[test]
    fn an_unreadable_change_entry_is_an_error() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        store
            .upsert_products(&shop, &[product("1", "One")])
            .unwrap();
        let after = store.next_change().unwrap();
        store
            .catalog()
            .unwrap()
            .insert(keys::product_change("s", after), &b"\x01[1,"[..])
            .unwrap();
        assert!(matches!(
            store.changed_products(&shop, 0),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn sync_state_updates_are_read_modify_write() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        for n in 1..=3 {
            store
                .update_sync_state(&shop, |s| {
                    s.last_error = Some(SyncFailure {
                        at: Utc::now(),
                        kind: SyncKind::Full,
                        message: "boom".into(),
                        consecutive: s.last_error.as_ref().map_or(0, |e| e.consecutive) + 1,
                    });
                })
                .unwrap();
            assert_eq!(
                store
                    .sync_state(&shop)
                    .unwrap()
                    .last_error
                    .unwrap()
                    .consecutive,
                n
            );
        }
    }
}
