//! Feed generations: artifacts stored as chunks, published atomically.
//!
//! A generation's artifacts are written chunk by chunk under their own
//! generation number, invisible to readers. Publishing is a single batch that
//! moves the `m\0{shop}` pointer (and the report) to the new generation, so a
//! reader sees either the whole old feed or the whole new one. The previous
//! generation's chunks are kept so a download that started just before the
//! switch can finish; older ones are deleted.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::Batch;

use std::collections::HashMap;

use super::{Store, StoreError, keys};
use crate::domain::ShopId;

/// SHA-256 of a feed row's canonical JSON.
pub type RowHash = [u8; 32];

/// Size of one stored chunk of an artifact.
pub const CHUNK_BYTES: usize = 1 << 20;

/// One encoded file of a feed generation (e.g. `openai.jsonl.gz`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactMeta {
    pub name: String,
    pub bytes: u64,
    pub chunks: u32,
    /// Lower-case hex SHA-256 of the artifact bytes; also its ETag.
    pub sha256: String,
}

/// The published feed of a shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedMeta {
    pub generation: u64,
    pub built_at: DateTime<Utc>,
    pub rows_valid: u64,
    pub rows_invalid: u64,
    pub products_excluded: u64,
    /// Valid rows whose content hash differs from the previous generation
    /// (new rows included).
    pub rows_changed: u64,
    /// Rows of the previous generation that are gone.
    pub rows_removed: u64,
    /// Hash over every valid row's hash, in feed order.
    pub snapshot_hash: String,
    pub artifacts: Vec<ArtifactMeta>,
}

impl FeedMeta {
    pub fn artifact(&self, name: &str) -> Option<&ArtifactMeta> {
        self.artifacts.iter().find(|a| a.name == name)
    }
}

/// A row left out of the feed, with the reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidRow {
    pub item_id: String,
    pub product_id: String,
    pub title: String,
    pub issues: Vec<String>,
}

/// A product left out of the feed entirely (draft, unpublished, excluded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedProduct {
    pub product_id: String,
    pub title: String,
    pub reason: String,
}

/// Why the rows of the published feed look the way they do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedReport {
    pub generation: u64,
    pub invalid_rows: Vec<InvalidRow>,
    pub excluded_products: Vec<ExcludedProduct>,
    /// Rows with warnings only (still published).
    pub warnings: Vec<InvalidRow>,
}

/// A generation that was built but not published because its valid-row count
/// fell too far below the published one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldFeed {
    pub at: DateTime<Utc>,
    pub generation: u64,
    pub rows_valid: u64,
    pub published_rows_valid: u64,
    pub max_drop_percent: u32,
}

/// Streams one artifact into chunks of a not-yet-published generation.
pub struct ArtifactWriter {
    tree: sled::Tree,
    shop: String,
    generation: u64,
    name: String,
    buf: Vec<u8>,
    index: u32,
    bytes: u64,
    hasher: Sha256,
}

impl ArtifactWriter {
    fn flush_chunk(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let key = keys::chunk(&self.shop, self.generation, &self.name, self.index);
        self.tree
            .insert(key, self.buf.as_slice())
            .map_err(io::Error::other)?;
        self.index += 1;
        self.buf.clear();
        Ok(())
    }

    /// Writes the last chunk and returns the artifact's description.
    ///
    /// # Errors
    /// Store I/O.
    pub fn finish(mut self) -> io::Result<ArtifactMeta> {
        self.flush_chunk()?;
        let digest = self.hasher.finalize();
        Ok(ArtifactMeta {
            name: self.name,
            bytes: self.bytes,
            chunks: self.index,
            sha256: hex(&digest),
        })
    }
}

impl Write for ArtifactWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        let mut rest = data;
        while !rest.is_empty() {
            let room = CHUNK_BYTES - self.buf.len();
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.buf.extend_from_slice(now);
            rest = later;
            if self.buf.len() == CHUNK_BYTES {
                self.flush_chunk()?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

impl Store {
    fn feed_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(keys::FEED_TREE)?)
    }

    fn get_decoded<T: serde::de::DeserializeOwned>(
        &self,
        key: Vec<u8>,
    ) -> Result<Option<T>, StoreError> {
        self.feed_tree()?
            .get(&key)?
            .map(|v| keys::decode(&key, &v))
            .transpose()
    }

    /// The published feed of `shop`, if any.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn feed_meta(&self, shop: &ShopId) -> Result<Option<FeedMeta>, StoreError> {
        self.get_decoded(keys::feed_meta(shop.as_str()))
    }

    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn feed_report(&self, shop: &ShopId) -> Result<Option<FeedReport>, StoreError> {
        self.get_decoded(keys::feed_report(shop.as_str()))
    }

    /// The last generation held back, if the published feed is older than it.
    ///
    /// # Errors
    /// Store I/O or an unreadable value.
    pub fn held_feed(&self, shop: &ShopId) -> Result<Option<HeldFeed>, StoreError> {
        self.get_decoded(keys::feed_held(shop.as_str()))
    }

    /// A generation number never used before for `shop`.
    ///
    /// # Errors
    /// Store I/O.
    pub fn next_feed_generation(&self, shop: &ShopId) -> Result<u64, StoreError> {
        let published = self.feed_meta(shop)?.map_or(0, |m| m.generation);
        let held = self.held_feed(shop)?.map_or(0, |h| h.generation);
        // Chunks of an abandoned build (crash mid-build) may carry a higher number.
        let written = self
            .feed_tree()?
            .scan_prefix(keys::all_chunks_prefix(shop.as_str()))
            .keys()
            .next_back()
            .transpose()?
            .and_then(|k| keys::chunk_generation(shop.as_str(), &k))
            .unwrap_or(0);
        Ok(published.max(held).max(written) + 1)
    }

    /// Starts writing artifact `name` of an unpublished `generation`.
    ///
    /// # Errors
    /// Store I/O.
    pub fn artifact_writer(
        &self,
        shop: &ShopId,
        generation: u64,
        name: &str,
    ) -> Result<ArtifactWriter, StoreError> {
        Ok(ArtifactWriter {
            tree: self.feed_tree()?,
            shop: shop.as_str().to_owned(),
            generation,
            name: name.to_owned(),
            buf: Vec::with_capacity(CHUNK_BYTES),
            index: 0,
            bytes: 0,
            hasher: Sha256::new(),
        })
    }

    /// The content hash of every row of the published feed, by item id: the
    /// feed's own index, read once per build to count changed rows.
    ///
    /// # Errors
    /// Store I/O.
    pub fn row_hashes(&self, shop: &ShopId) -> Result<HashMap<String, RowHash>, StoreError> {
        let prefix = keys::row_hashes_prefix(shop.as_str());
        let mut out = HashMap::new();
        for entry in self.feed_tree()?.scan_prefix(&prefix) {
            let (k, v) = entry?;
            if let Ok(hash) = RowHash::try_from(v.as_ref()) {
                out.insert(
                    String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                    hash,
                );
            }
        }
        Ok(out)
    }

    /// Makes `meta` the published feed in one atomic step, together with its
    /// report, replaces the row-hash index with `row_hashes` (item id → hash)
    /// and deletes generations older than the previous one.
    ///
    /// # Errors
    /// Store I/O.
    pub fn publish_feed(
        &self,
        shop: &ShopId,
        meta: &FeedMeta,
        report: &FeedReport,
        row_hashes: &[(String, RowHash)],
    ) -> Result<(), StoreError> {
        let tree = self.feed_tree()?;
        let s = shop.as_str();
        let previous = self.feed_meta(shop)?.map(|m| m.generation);
        let mut batch = Batch::default();
        batch.insert(keys::feed_meta(s), keys::encode(meta));
        batch.insert(keys::feed_report(s), keys::encode(report));
        batch.remove(keys::feed_held(s));
        tree.apply_batch(batch)?;

        // Row hashes only drive change counts; they follow the publish.
        let mut batch = Batch::default();
        for entry in tree.scan_prefix(keys::row_hashes_prefix(s)).keys() {
            batch.remove(entry?);
        }
        for (item_id, hash) in row_hashes {
            batch.insert(keys::row_hash(s, item_id), hash.as_slice());
        }
        tree.apply_batch(batch)?;

        self.delete_generations_except(shop, &[Some(meta.generation), previous])
    }

    /// Records that `held.generation` was built but held back, and deletes its
    /// chunks; the published feed stays as it was.
    ///
    /// # Errors
    /// Store I/O.
    pub fn hold_feed(&self, shop: &ShopId, held: &HeldFeed) -> Result<(), StoreError> {
        let tree = self.feed_tree()?;
        tree.insert(keys::feed_held(shop.as_str()), keys::encode(held))?;
        let keep = self.feed_meta(shop)?.map(|m| m.generation);
        let before = self.previous_generation(shop, keep)?;
        self.delete_generations_except(shop, &[keep, before])
    }

    /// Deletes the chunks of an unpublished generation (a build whose result
    /// equals the published feed).
    ///
    /// # Errors
    /// Store I/O.
    pub fn discard_feed_generation(
        &self,
        shop: &ShopId,
        generation: u64,
    ) -> Result<(), StoreError> {
        let tree = self.feed_tree()?;
        let prefix = keys::all_chunks_prefix(shop.as_str());
        let mut batch = Batch::default();
        for key in tree.scan_prefix(prefix).keys() {
            let key = key?;
            if keys::chunk_generation(shop.as_str(), &key) == Some(generation) {
                batch.remove(key);
            }
        }
        tree.apply_batch(batch)?;
        Ok(())
    }

    fn previous_generation(
        &self,
        shop: &ShopId,
        current: Option<u64>,
    ) -> Result<Option<u64>, StoreError> {
        let Some(current) = current else {
            return Ok(None);
        };
        let mut best = None;
        for key in self
            .feed_tree()?
            .scan_prefix(keys::all_chunks_prefix(shop.as_str()))
            .keys()
        {
            if let Some(g) = keys::chunk_generation(shop.as_str(), &key?)
                && g < current
            {
                best = Some(best.map_or(g, |b: u64| b.max(g)));
            }
        }
        Ok(best)
    }

    fn delete_generations_except(
        &self,
        shop: &ShopId,
        keep: &[Option<u64>],
    ) -> Result<(), StoreError> {
        let tree = self.feed_tree()?;
        let mut batch = Batch::default();
        let mut any = false;
        for key in tree
            .scan_prefix(keys::all_chunks_prefix(shop.as_str()))
            .keys()
        {
            let key = key?;
            let generation = keys::chunk_generation(shop.as_str(), &key);
            if !keep.contains(&generation) {
                batch.remove(key);
                any = true;
            }
        }
        if any {
            tree.apply_batch(batch)?;
        }
        Ok(())
    }

    /// The chunks of one artifact of a generation, in order.
    ///
    /// # Errors
    /// Store I/O.
    pub fn artifact_chunks(
        &self,
        shop: &ShopId,
        generation: u64,
        name: &str,
    ) -> Result<impl Iterator<Item = Result<bytes::Bytes, StoreError>> + use<>, StoreError> {
        let prefix = keys::artifact_prefix(shop.as_str(), generation, name);
        Ok(self
            .feed_tree()?
            .scan_prefix(prefix)
            .values()
            .map(|v| Ok(bytes::Bytes::copy_from_slice(&v?))))
    }

    /// Reads a whole artifact into memory (CLI export and tests; the server
    /// streams chunks instead).
    ///
    /// # Errors
    /// Store I/O.
    pub fn read_artifact(
        &self,
        shop: &ShopId,
        generation: u64,
        name: &str,
        out: &mut impl Write,
    ) -> Result<u64, StoreError> {
        let mut n = 0u64;
        for chunk in self.artifact_chunks(shop, generation, name)? {
            let chunk = chunk?;
            n += chunk.len() as u64;
            out.write_all(&chunk)
                .map_err(|e| StoreError::Io(sled::Error::Io(e)))?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(generation: u64, artifacts: Vec<ArtifactMeta>) -> FeedMeta {
        FeedMeta {
            generation,
            built_at: Utc::now(),
            rows_valid: 1,
            rows_invalid: 0,
            products_excluded: 0,
            rows_changed: 1,
            rows_removed: 0,
            snapshot_hash: String::new(),
            artifacts,
        }
    }

    fn write_generation(
        store: &Store,
        shop: &ShopId,
        generation: u64,
        payload: &[u8],
    ) -> ArtifactMeta {
        let mut w = store.artifact_writer(shop, generation, "a.bin").unwrap();
        w.write_all(payload).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn unpublished_generation_is_invisible_until_publish() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        let hashes: Vec<(String, RowHash)> = Vec::new();
        let g1 = store.next_feed_generation(&shop).unwrap();
        let a1 = write_generation(&store, &shop, g1, b"first");
        store
            .publish_feed(
                &shop,
                &meta(g1, vec![a1]),
                &FeedReport::default(),
                &hashes[..],
            )
            .unwrap();

        // Build generation 2 (bigger than one chunk) but do not publish yet.
        let g2 = store.next_feed_generation(&shop).unwrap();
        assert_eq!(g2, g1 + 1);
        let big = vec![7u8; CHUNK_BYTES * 2 + 10];
        let a2 = write_generation(&store, &shop, g2, &big);
        assert_eq!(a2.chunks, 3);
        let published = store.feed_meta(&shop).unwrap().unwrap();
        assert_eq!(published.generation, g1);
        let mut out = Vec::new();
        store
            .read_artifact(&shop, published.generation, "a.bin", &mut out)
            .unwrap();
        assert_eq!(out, b"first");

        store
            .publish_feed(
                &shop,
                &meta(g2, vec![a2.clone()]),
                &FeedReport::default(),
                &hashes[..],
            )
            .unwrap();
        let mut out = Vec::new();
        store.read_artifact(&shop, g2, "a.bin", &mut out).unwrap();
        assert_eq!(out, big);
        assert_eq!(a2.sha256, hex(&Sha256::digest(&big)));
    }

    #[test]
    fn abandoned_build_never_reuses_its_generation_and_old_ones_are_collected() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        let hashes: Vec<(String, RowHash)> = Vec::new();
        for _ in 0..3 {
            let g = store.next_feed_generation(&shop).unwrap();
            let a = write_generation(&store, &shop, g, b"x");
            store
                .publish_feed(
                    &shop,
                    &meta(g, vec![a]),
                    &FeedReport::default(),
                    &hashes[..],
                )
                .unwrap();
        }
        // Generation 1 is gone, 2 (previous) and 3 (current) remain.
        let mut out = Vec::new();
        assert_eq!(store.read_artifact(&shop, 1, "a.bin", &mut out).unwrap(), 0);
        assert_eq!(store.read_artifact(&shop, 2, "a.bin", &mut out).unwrap(), 1);
        // A crash mid-build leaves chunks of generation 4; the next build uses 5.
        write_generation(&store, &shop, 4, b"partial");
        assert_eq!(store.next_feed_generation(&shop).unwrap(), 5);
    }

    #[test]
    fn held_feed_keeps_the_published_one_and_drops_its_own_chunks() {
        let store = Store::temporary().unwrap();
        let shop = ShopId::parse("s").unwrap();
        let hashes: Vec<(String, RowHash)> = Vec::new();
        let a = write_generation(&store, &shop, 1, b"good");
        store
            .publish_feed(
                &shop,
                &meta(1, vec![a]),
                &FeedReport::default(),
                &hashes[..],
            )
            .unwrap();
        write_generation(&store, &shop, 2, b"shrunk");
        store
            .hold_feed(
                &shop,
                &HeldFeed {
                    at: Utc::now(),
                    generation: 2,
                    rows_valid: 1,
                    published_rows_valid: 10,
                    max_drop_percent: 20,
                },
            )
            .unwrap();
        assert_eq!(store.feed_meta(&shop).unwrap().unwrap().generation, 1);
        assert_eq!(store.held_feed(&shop).unwrap().unwrap().generation, 2);
        let mut out = Vec::new();
        assert_eq!(store.read_artifact(&shop, 2, "a.bin", &mut out).unwrap(), 0);
        assert_eq!(store.next_feed_generation(&shop).unwrap(), 3);
    }
}
