//! Scratch trees: ordered byte maps for imports too large for memory.

use super::StoreError;

/// An ordered key/value scratch area backed by its own sled tree. Emptied
/// when created and dropped from the database by [`Scratch::discard`].
pub struct Scratch {
    db: sled::Db,
    tree: sled::Tree,
}

impl Scratch {
    pub(super) fn create(db: &sled::Db, shop: &str, name: &str) -> Result<Self, StoreError> {
        let tree = db.open_tree(format!("scratch/{shop}/{name}"))?;
        tree.clear()?;
        Ok(Scratch {
            db: db.clone(),
            tree,
        })
    }

    /// Inserts or overwrites `key`.
    ///
    /// # Errors
    /// Store I/O.
    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tree.insert(key, value)?;
        Ok(())
    }

    /// Inserts many entries in one sled batch (much cheaper per entry than
    /// single inserts for bulk imports).
    ///
    /// # Errors
    /// Store I/O.
    pub fn insert_batch(&self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in entries {
            batch.insert(k.as_slice(), v.as_slice());
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// # Errors
    /// Store I/O.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn scan_prefix(
        &self,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + '_ {
        self.tree.scan_prefix(prefix).map(|r| {
            r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(StoreError::from)
        })
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Removes the scratch tree and its contents.
    ///
    /// # Errors
    /// Store I/O.
    pub fn discard(self) -> Result<(), StoreError> {
        self.db.drop_tree(self.tree.name())?;
        Ok(())
    }
}
