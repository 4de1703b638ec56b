//! What the client remembers between runs, and the content hash it keys
//! change detection on.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The state of one feed between runs. The caller persists it (it is plain
/// serde data) and hands it back on the next run.
///
/// It only ever claims what the server acknowledged: a product enters
/// `products` when the `PATCH` carrying it was answered `accepted: true`,
/// and leaves it when the readback shows the server lost it or when its
/// removal was acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedApiState {
    /// The feed on the agent's host, once created (`POST /feeds`).
    pub feed_id: Option<String>,
    /// Content hash of every live product the server acknowledged, by
    /// `Product.id`.
    pub products: BTreeMap<String, ContentHash>,
}

/// SHA-256 of a product's canonical JSON (object keys sorted, no
/// whitespace), so the hash of what we send and of what the server
/// returns agree whatever key order or spacing either side uses.
/// Serialized as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The hash of `value`'s canonical form.
    pub fn of(value: &Value) -> Self {
        let mut hasher = HashWriter(Sha256::new());
        // Writing into a hasher cannot fail.
        let _ = write_canonical(&mut hasher, value);
        ContentHash(hasher.0.finalize().into())
    }

    pub fn to_hex(&self) -> String {
        crate::store::hex(&self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let digit = |b: u8| char::from(b).to_digit(16);
            out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
        }
        Some(ContentHash(out))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ContentHash::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Compact JSON with object keys in byte order, whatever map type
/// `serde_json` was built with.
fn write_canonical(out: &mut impl Write, value: &Value) -> io::Result<()> {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.write_all(b"{")?;
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, key)?;
                out.write_all(b":")?;
                write_canonical(out, item)?;
            }
            out.write_all(b"}")
        }
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_canonical(out, item)?;
            }
            out.write_all(b"]")
        }
        scalar => serde_json::to_writer(out, scalar).map_err(io::Error::from),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_hash_ignores_key_order_and_spacing_but_not_content() {
        let a: Value =
            serde_json::from_str(r#"{"id":"p1","variants":[{"id":"v","title":"T"}]}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{ "variants" : [ { "title":"T", "id":"v" } ], "id" : "p1" }"#)
                .unwrap();
        assert_eq!(ContentHash::of(&a), ContentHash::of(&b));
        let c = json!({"id": "p1", "variants": [{"id": "v", "title": "U"}]});
        assert_ne!(ContentHash::of(&a), ContentHash::of(&c));
        // Array order is content.
        let d = json!([1, 2]);
        let e = json!([2, 1]);
        assert_ne!(ContentHash::of(&d), ContentHash::of(&e));
    }

    #[test]
    fn state_round_trips_through_json_with_hex_hashes() {
        let mut state = FeedApiState {
            feed_id: Some("feed_1".into()),
            ..FeedApiState::default()
        };
        let hash = ContentHash::of(&json!({"id": "p1"}));
        state.products.insert("p1".into(), hash);
        let text = serde_json::to_string(&state).unwrap();
        assert!(text.contains(&hash.to_hex()), "{text}");
        assert_eq!(hash.to_hex().len(), 64);
        let back: FeedApiState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state);
        assert!(serde_json::from_str::<ContentHash>("\"abc\"").is_err());
        assert!(ContentHash::from_hex(&"zz".repeat(32)).is_none());
    }
}
