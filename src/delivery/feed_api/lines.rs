//! The client's input: ACP `Product` JSON objects, one per line, with
//! their id and content hash; read from any `BufRead` or from a published
//! generation's `acp.jsonl.gz` artifact.

use std::fs::File;
use std::io::{BufRead, BufReader};

use flate2::read::MultiGzDecoder;
use serde::Serialize;
use serde_json::Value;

use super::error::FeedApiError;
use super::state::ContentHash;
use crate::domain::ShopId;
use crate::feed::FeedFormat;
use crate::store::Store;

/// One product to push: its raw JSON (sent as is, never re-serialised),
/// its `Product.id` and the hash of its content.
#[derive(Clone, PartialEq, Eq)]
pub struct ProductLine {
    pub id: String,
    pub json: Vec<u8>,
    pub hash: ContentHash,
}

impl std::fmt::Debug for ProductLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductLine")
            .field("id", &self.id)
            .field("bytes", &self.json.len())
            .field("hash", &self.hash)
            .finish()
    }
}

impl ProductLine {
    /// Parses one line (`line` numbers errors, 1-based). The line must be a
    /// JSON object with a non-empty string `id`; everything else is the
    /// server's to validate.
    ///
    /// # Errors
    /// [`FeedApiError::InvalidProduct`].
    pub fn parse(line: u64, json: Vec<u8>) -> Result<Self, FeedApiError> {
        let invalid = |reason: String| FeedApiError::InvalidProduct { line, reason };
        let value: Value =
            serde_json::from_slice(&json).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let id = match value.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            _ => return Err(invalid("no string `id`".to_owned())),
        };
        if !value.is_object() {
            return Err(invalid("not a JSON object".to_owned()));
        }
        Ok(ProductLine {
            id,
            hash: ContentHash::of(&value),
            json,
        })
    }

    /// The line of an in-memory product (e.g. a
    /// [`crate::feed::acp::AcpProduct`]).
    ///
    /// # Errors
    /// [`FeedApiError::InvalidProduct`] when it does not serialize to an
    /// object with a string id.
    pub fn from_product<T: Serialize>(product: &T) -> Result<Self, FeedApiError> {
        let json = serde_json::to_vec(product).map_err(|e| FeedApiError::InvalidProduct {
            line: 0,
            reason: e.to_string(),
        })?;
        ProductLine::parse(0, json)
    }
}

/// The products of a JSON Lines stream; blank lines are skipped. After an
/// I/O error the iterator ends.
pub struct ProductLines<R> {
    reader: R,
    line: u64,
    done: bool,
}

impl<R: BufRead> ProductLines<R> {
    pub fn new(reader: R) -> Self {
        ProductLines {
            reader,
            line: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for ProductLines<R> {
    type Item = Result<ProductLine, FeedApiError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let mut buf = Vec::new();
            match self.reader.read_until(b'\n', &mut buf) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    self.line += 1;
                    while buf.last().is_some_and(|b| b.is_ascii_whitespace()) {
                        buf.pop();
                    }
                    if buf.is_empty() {
                        continue;
                    }
                    return Some(ProductLine::parse(self.line, buf));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(FeedApiError::Source {
                        reason: format!("after line {}: {e}", self.line),
                    }));
                }
            }
        }
        None
    }
}

/// Products of a gzip-compressed JSON Lines file (multi-member gzip, as the
/// feed builder stores `acp.jsonl.gz`).
pub type GzProductLines = ProductLines<BufReader<MultiGzDecoder<File>>>;

/// A source for [`super::FeedApiClient::sync`]: each call opens the ACP
/// artifact of `generation` of `shop` (`acp.jsonl.gz`) afresh.
pub fn acp_artifact_source(
    store: Store,
    shop: ShopId,
    generation: u64,
) -> impl FnMut() -> Result<GzProductLines, FeedApiError> + Send + 'static {
    move || {
        let name = FeedFormat::AcpJsonl.stored_name();
        let file = store
            .open_generation_file(&shop, generation, name)
            .map_err(|e| FeedApiError::Source {
                reason: format!("{name} of generation {generation}: {e}"),
            })?
            .ok_or_else(|| FeedApiError::Source {
                reason: format!("generation {generation} has no {name}"),
            })?;
        Ok(ProductLines::new(BufReader::new(MultiGzDecoder::new(file))))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn lines_carry_their_id_raw_bytes_and_hash() {
        let text = "{\"id\":\"p1\",\"variants\":[]}\n\n{\"variants\":[],\"id\":\"p2\"}\r\n";
        let lines: Vec<ProductLine> = ProductLines::new(Cursor::new(text))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].id, "p1");
        assert_eq!(lines[0].json, b"{\"id\":\"p1\",\"variants\":[]}");
        assert_eq!(lines[1].id, "p2");
        assert_ne!(lines[0].hash, lines[1].hash);
    }

    #[test]
    fn a_bad_line_names_its_number() {
        let text = "{\"id\":\"p1\",\"variants\":[]}\n{\"title\":\"no id\"}\nnot json\n";
        let results: Vec<_> = ProductLines::new(Cursor::new(text)).collect();
        assert!(results[0].is_ok());
        assert!(matches!(
            results[1],
            Err(FeedApiError::InvalidProduct { line: 2, .. })
        ));
        assert!(matches!(
            results[2],
            Err(FeedApiError::InvalidProduct { line: 3, .. })
        ));
    }

    #[test]
    fn an_in_memory_product_hashes_like_its_line() {
        let value = serde_json::json!({"id": "p9", "title": "T", "variants": []});
        let from_value = ProductLine::from_product(&value).unwrap();
        let from_text = ProductLine::parse(
            1,
            br#"{ "title": "T", "variants": [], "id": "p9" }"#.to_vec(),
        )
        .unwrap();
        assert_eq!(from_value.hash, from_text.hash);
    }
}
