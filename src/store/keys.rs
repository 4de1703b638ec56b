//! Tree names, key layouts and the value codec. Every key layout lives here.
//!
//! Trees:
//! - `catalog`: `p\0{shop}\0{product_id}` → Product, `s\0{shop}` → SyncState,
//!   `f\0{shop}` → ShopFacts. One tree, so a sync's products and its cursor
//!   commit in one atomic batch.
//! - `feed`: `m\0{shop}` → FeedMeta (the published pointer),
//!   `r\0{shop}` → FeedReport, `h\0{shop}` → HeldFeed,
//!   `c\0{shop}\0{generation:u64 BE}\0{artifact}\0{chunk:u32 BE}` → bytes,
//!   `x\0{shop}\0{item_id}` → row content hash.

use serde::{Serialize, de::DeserializeOwned};

use super::StoreError;

pub(super) const CATALOG_TREE: &str = "catalog";
pub(super) const FEED_TREE: &str = "feed";

/// Current value format: version byte 1 followed by JSON.
const VALUE_VERSION: u8 = 1;

fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p);
    }
    k
}

pub(super) fn product(shop: &str, id: &str) -> Vec<u8> {
    key(&[b"p", shop.as_bytes(), id.as_bytes()])
}

/// Prefix of every product key of `shop` (ends with the separator).
pub(super) fn products_prefix(shop: &str) -> Vec<u8> {
    let mut k = key(&[b"p", shop.as_bytes()]);
    k.push(0);
    k
}

pub(super) fn sync_state(shop: &str) -> Vec<u8> {
    key(&[b"s", shop.as_bytes()])
}

pub(super) fn shop_facts(shop: &str) -> Vec<u8> {
    key(&[b"f", shop.as_bytes()])
}

pub(super) fn feed_meta(shop: &str) -> Vec<u8> {
    key(&[b"m", shop.as_bytes()])
}

pub(super) fn feed_report(shop: &str) -> Vec<u8> {
    key(&[b"r", shop.as_bytes()])
}

pub(super) fn feed_held(shop: &str) -> Vec<u8> {
    key(&[b"h", shop.as_bytes()])
}

pub(super) fn all_chunks_prefix(shop: &str) -> Vec<u8> {
    let mut k = key(&[b"c", shop.as_bytes()]);
    k.push(0);
    k
}

pub(super) fn artifact_prefix(shop: &str, generation: u64, artifact: &str) -> Vec<u8> {
    let mut k = key(&[
        b"c",
        shop.as_bytes(),
        &generation.to_be_bytes(),
        artifact.as_bytes(),
    ]);
    k.push(0);
    k
}

pub(super) fn chunk(shop: &str, generation: u64, artifact: &str, index: u32) -> Vec<u8> {
    key(&[
        b"c",
        shop.as_bytes(),
        &generation.to_be_bytes(),
        artifact.as_bytes(),
        &index.to_be_bytes(),
    ])
}

/// The generation number encoded in a chunk key, if the key is one.
pub(super) fn chunk_generation(shop: &str, key: &[u8]) -> Option<u64> {
    let prefix = all_chunks_prefix(shop);
    let rest = key.strip_prefix(prefix.as_slice())?;
    let bytes: [u8; 8] = rest.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

pub(super) fn row_hash(shop: &str, item_id: &str) -> Vec<u8> {
    key(&[b"x", shop.as_bytes(), item_id.as_bytes()])
}

pub(super) fn row_hashes_prefix(shop: &str) -> Vec<u8> {
    let mut k = key(&[b"x", shop.as_bytes()]);
    k.push(0);
    k
}

/// Serializes a value with the version byte.
pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION];
    // Serializing plain data structs into a Vec cannot fail: no maps with
    // non-string keys are stored and the writer is infallible.
    if serde_json::to_writer(&mut out, value).is_err() {
        out.truncate(1);
        out.extend_from_slice(b"null");
    }
    out
}

/// Decodes a value written by [`encode`].
pub(super) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    let printable = || String::from_utf8_lossy(key).replace('\0', "/");
    match bytes.split_first() {
        Some((&VALUE_VERSION, body)) => {
            serde_json::from_slice(body).map_err(|source| StoreError::Corrupt {
                key: printable(),
                source,
            })
        }
        Some((&version, _)) => Err(StoreError::UnknownVersion {
            key: printable(),
            version,
        }),
        None => Err(StoreError::UnknownVersion {
            key: printable(),
            version: 0,
        }),
    }
}
