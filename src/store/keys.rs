//! Tree names, key layouts and the value codec. Every key layout lives here.
//!
//! Trees:
//! - `catalog`: `p\0{shop}\0{product_id}` → Product,
//!   `c\0{shop}\0{number}` → the ids of the products one write batch
//!   wrote or removed (the change log; the number is 8 bytes big-endian),
//!   `s\0{shop}` → SyncState, `f\0{shop}` → ShopFacts. One tree, so a
//!   sync's products, their change-log entry and its cursor commit in one
//!   atomic batch.
//! - `feed`: `m\0{shop}` → FeedMeta (the published pointer),
//!   `h\0{shop}` → HeldFeed. The artifacts, the report and the row-hash
//!   index of each generation are files (see `feed.rs`).

use serde::{Serialize, de::DeserializeOwned};

use super::StoreError;

pub(super) const CATALOG_TREE: &str = "catalog";
pub(super) const FEED_TREE: &str = "feed";

/// Value format 1: version byte followed by JSON.
const VALUE_VERSION: u8 = 1;
/// Value format 2: version byte followed by raw-deflate-compressed JSON.
/// Used for products, the bulk of the store: a product's JSON (HTML
/// description, options, media URLs) compresses about 3-4×, and sled keeps
/// roughly as many bytes resident as it has written (see BENCHMARKS.md).
const VALUE_VERSION_DEFLATE: u8 = 2;
/// Value format 3: version byte followed by JSON compressed as raw deflate
/// with [`PRODUCT_DICTIONARY`] preset. What products are written in: a
/// product compressed on its own pays for every field name once, and the
/// dictionary supplies them (stored products about halve against format 2,
/// see BENCHMARKS.md).
const VALUE_VERSION_DEFLATE_DICT: u8 = 3;

/// The preset dictionary of format 3: the stored product's field names and
/// common values, rarest first (deflate codes nearer matches cheaper).
///
/// Stored products depend on these exact bytes: changing them makes every
/// product written with them unreadable. A different dictionary needs a
/// new format number (a test pins this one's checksum).
const PRODUCT_DICTIONARY: &[u8] = concat!(
    r#""status":"archived","status":"draft","platform":"etsy","url":"https://www.etsy.com/listing/","#,
    r#""unit":"kilograms","unit":"ounces","unit":"pounds","currency":"EUR","currency":"GBP","currency":"CAD","#,
    r#""inventory_policy":"continue","barcode":null,"sku":null,"vendor":null,"product_type":null,"#,
    r#""category":null,"alt_text":null,"width":null,"height":null,"weight":null,"compare_at_price":null,"#,
    r#""title":"Default Title","selected_options":[{"name":"Title","value":"Default Title"}],"#,
    r#"<p><strong></strong><br><em></em></p><ul><li></li></ul>"#,
    r#"{"platform":"shopify","id":"","handle":"","title":"","description_html":"<p>","#,
    r#""vendor":"","product_type":"","tags":[],"status":"active","published":true,"#,
    r#""url":"https://","category":"","options":[{"name":"","values":["","#,
    r#""media":[{"url":"https://cdn.shopify.com/s/files/1/","alt_text":"","width":,"height":}],"#,
    r#""updated_at":"T00:00:00Z"}"#,
    r#""variants":[{"id":"","title":"","sku":"","barcode":"","price":{"amount":,"currency":"USD"},"#,
    r#""compare_at_price":{"amount":,"currency":"USD"},"inventory_tracked":true,"inventory_quantity":"#,
    r#""inventory_policy":"deny","available_for_sale":true,"selected_options":[{"name":"","value":""}],"#,
    r#""weight":{"value":.0,"unit":"grams"},"requires_shipping":true,"media":[],"position":},{"id":""#,
)
.as_bytes();

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

/// The change-log entry of one write batch: the shop's prefix, then the
/// batch's number big-endian, so entries sort by number.
pub(super) fn product_change(shop: &str, change: u64) -> Vec<u8> {
    let mut k = changes_prefix(shop);
    k.extend_from_slice(&change.to_be_bytes());
    k
}

/// Prefix of every change-log key of `shop` (ends with the separator).
pub(super) fn changes_prefix(shop: &str) -> Vec<u8> {
    let mut k = key(&[b"c", shop.as_bytes()]);
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

pub(super) fn feed_held(shop: &str) -> Vec<u8> {
    key(&[b"h", shop.as_bytes()])
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

/// Serializes a product as JSON compressed with [`PRODUCT_DICTIONARY`]
/// (format 3), behind the version byte.
///
/// Each thread keeps its JSON buffer and compressor between calls: a
/// compressor's setup (allocating and clearing its window and hash table)
/// costs more than compressing one product.
pub(super) fn encode_product<T: Serialize>(value: &T) -> Vec<u8> {
    thread_local! {
        static DEFLATE: std::cell::RefCell<(Vec<u8>, flate2::Compress)> =
            std::cell::RefCell::new((Vec::new(), flate2::Compress::new(flate2::Compression::fast(), false)));
    }
    DEFLATE.with(|cell| {
        let Ok(mut guard) = cell.try_borrow_mut() else {
            // Only reachable if serializing re-entered this function.
            return encode(value);
        };
        let (json, deflate) = &mut *guard;
        json.clear();
        if serde_json::to_writer(&mut *json, value).is_err() {
            return encode(value);
        }
        deflate.reset();
        if deflate.set_dictionary(PRODUCT_DICTIONARY).is_err() {
            return encode(value);
        }
        let mut out = Vec::with_capacity(json.len() / 3 + 64);
        out.push(VALUE_VERSION_DEFLATE_DICT);
        loop {
            let consumed = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX);
            let input = json.get(consumed..).unwrap_or_default();
            match deflate.compress_vec(input, &mut out, flate2::FlushCompress::Finish) {
                Ok(flate2::Status::StreamEnd) => return out,
                // Out of room: grow the output and go on.
                Ok(_) => out.reserve(out.capacity().max(256)),
                // Compressing in memory cannot fail; fall back to plain.
                Err(_) => return encode(value),
            }
        }
    })
}

/// Inflates a raw deflate `body` (with `dictionary` preset, for format 3)
/// into `json` with the thread's reused decompressor.
fn inflate(body: &[u8], dictionary: Option<&[u8]>, json: &mut Vec<u8>) -> std::io::Result<()> {
    thread_local! {
        static INFLATE: std::cell::RefCell<flate2::Decompress> =
            std::cell::RefCell::new(flate2::Decompress::new(false));
    }
    let run = |inflate: &mut flate2::Decompress, json: &mut Vec<u8>| {
        inflate.reset(false);
        if let Some(dictionary) = dictionary {
            inflate
                .set_dictionary(dictionary)
                .map_err(std::io::Error::other)?;
        }
        json.reserve(body.len() * 4);
        loop {
            let consumed = usize::try_from(inflate.total_in()).unwrap_or(usize::MAX);
            let input = body.get(consumed..).unwrap_or_default();
            let before = (inflate.total_in(), inflate.total_out());
            match inflate
                .decompress_vec(input, json, flate2::FlushDecompress::Finish)
                .map_err(std::io::Error::other)?
            {
                flate2::Status::StreamEnd => return Ok(()),
                _ if json.len() == json.capacity() => json.reserve(json.capacity().max(256)),
                // Neither input taken nor output room used: the input ended
                // before the stream did.
                _ if before == (inflate.total_in(), inflate.total_out()) => {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                _ => {}
            }
        }
    };
    INFLATE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut inflate) => run(&mut inflate, json),
        Err(_) => run(&mut flate2::Decompress::new(false), json),
    })
}

/// Decodes a value written by [`encode`] or [`encode_product`], or in the
/// earlier format 2.
pub(super) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    let printable = || String::from_utf8_lossy(key).replace('\0', "/");
    match bytes.split_first() {
        Some((&VALUE_VERSION, body)) => {
            serde_json::from_slice(body).map_err(|source| StoreError::Corrupt {
                key: printable(),
                source,
            })
        }
        Some((&version @ (VALUE_VERSION_DEFLATE | VALUE_VERSION_DEFLATE_DICT), body)) => {
            let dictionary = (version == VALUE_VERSION_DEFLATE_DICT).then_some(PRODUCT_DICTIONARY);
            let mut json = Vec::new();
            let corrupt = |source| StoreError::Corrupt {
                key: printable(),
                source,
            };
            inflate(body, dictionary, &mut json).map_err(|e| corrupt(serde_json::Error::io(e)))?;
            serde_json::from_slice(&json).map_err(corrupt)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Sample {
        name: String,
        n: u32,
    }

    /// A value in the earlier format 2 (plain raw deflate), as stores
    /// written before format 3 hold products.
    fn format_2<T: Serialize>(value: &T) -> Vec<u8> {
        use std::io::Write;
        let mut out = flate2::write::DeflateEncoder::new(
            vec![VALUE_VERSION_DEFLATE],
            flate2::Compression::fast(),
        );
        out.write_all(&serde_json::to_vec(value).unwrap()).unwrap();
        out.finish().unwrap()
    }

    #[test]
    fn compressed_values_of_every_size_round_trip_and_repeat_byte_for_byte() {
        // Sizes from empty to well past the first output allocation, in an
        // order that makes the reused compressor and decompressor shrink
        // and grow.
        for n in [0, 1, 3000, 7, 40_000, 2, 250_000, 64] {
            let value = Sample {
                name: (0..n)
                    .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
                    .collect(),
                n: n as u32,
            };
            let packed = encode_product(&value);
            assert_eq!(packed[0], VALUE_VERSION_DEFLATE_DICT);
            assert_eq!(decode::<Sample>(b"k", &packed).unwrap(), value);
            assert_eq!(encode_product(&value), packed, "size {n}");
        }
    }

    #[test]
    fn every_value_format_round_trips_and_unknown_versions_are_refused() {
        let value = Sample {
            name: "<p>A long description</p>".repeat(20),
            n: 7,
        };
        let plain = encode(&value);
        let old = format_2(&value);
        let packed = encode_product(&value);
        assert_eq!(plain[0], VALUE_VERSION);
        assert_eq!(packed[0], VALUE_VERSION_DEFLATE_DICT);
        assert!(
            packed.len() * 3 < plain.len(),
            "{} vs {}",
            packed.len(),
            plain.len()
        );
        for bytes in [&plain, &old, &packed] {
            assert_eq!(decode::<Sample>(b"k", bytes).unwrap(), value);
        }
        let mut future = packed.clone();
        future[0] = 9;
        assert!(matches!(
            decode::<Sample>(b"k", &future),
            Err(StoreError::UnknownVersion { version: 9, .. })
        ));
        for mut broken in [old, packed] {
            broken.truncate(broken.len() / 2);
            assert!(matches!(
                decode::<Sample>(b"k", &broken),
                Err(StoreError::Corrupt { .. })
            ));
        }
    }

    #[test]
    fn the_dictionary_shrinks_a_product_against_plain_deflate() {
        let product = crate::feed::test_products::apparel();
        let packed = encode_product(&product);
        let old = format_2(&product);
        assert_eq!(
            decode::<crate::domain::Product>(b"k", &packed).unwrap(),
            product
        );
        // The field names come from the dictionary instead of the stream.
        assert!(
            packed.len() * 10 < old.len() * 8,
            "{} with the dictionary vs {} without",
            packed.len(),
            old.len()
        );
    }

    #[test]
    fn the_product_dictionary_never_changes() {
        use sha2::Digest;
        // Products written with format 3 decode only with these exact
        // bytes; a new dictionary needs a new format number.
        let digest = sha2::Sha256::digest(PRODUCT_DICTIONARY);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "e798ef4a1364952d46853eb9aa6db5ee361c84a90f84664dbf9ff0ea5178a7f7"
        );
    }
}
