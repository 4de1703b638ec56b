//! The readback of `GET /feeds/{id}/products`, classified while it is
//! parsed so only one server product is held as a JSON tree at a time:
//! products in the input keep only their content hash; products gone from
//! the input keep their retired form, when they still need retiring.

use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use super::lines::ProductLine;
use super::state::ContentHash;

/// The availability a removed product's variants are given: the 2026-04-17
/// feed schema has no eligibility flag, and the spec's RFC asks publishers
/// to mark variants unavailable or discontinued instead of deleting.
pub(crate) fn retired_availability() -> Value {
    json!({"available": false, "status": "discontinued"})
}

/// Marks every variant of `product` unavailable and discontinued, keeping
/// everything else.
pub(crate) fn retire(product: &mut Value) {
    if let Some(Value::Array(variants)) = product.get_mut("variants") {
        for variant in variants.iter_mut().filter(|v| v.is_object()) {
            variant["availability"] = retired_availability();
        }
    }
}

/// What the server holds, as far as this run cares.
#[derive(Debug, Default)]
pub(crate) struct Readback {
    /// Content hash of each server product that is in the input.
    pub hashes: HashMap<String, ContentHash>,
    /// Server products not in the input whose variants are not all retired
    /// yet, already in their retired form.
    pub to_retire: Vec<ProductLine>,
    /// Server products not in the input that are already retired.
    pub already_retired: u64,
    /// Products in the answer.
    pub total: u64,
}

/// Parses a `ProductsResponse` body against the input's product ids.
pub(crate) fn parse(
    body: &[u8],
    input: &HashMap<String, ContentHash>,
) -> Result<Readback, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let readback = EnvelopeSeed { input }.deserialize(&mut de)?;
    de.end()?;
    Ok(readback)
}

struct EnvelopeSeed<'a> {
    input: &'a HashMap<String, ContentHash>,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Readback;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Readback, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = Readback;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a ProductsResponse object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Readback, A::Error> {
        let mut out = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "products" && out.is_none() {
                out = Some(map.next_value_seed(ProductsSeed { input: self.input })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        out.ok_or_else(|| serde::de::Error::missing_field("products"))
    }
}

struct ProductsSeed<'a> {
    input: &'a HashMap<String, ContentHash>,
}

impl<'de> DeserializeSeed<'de> for ProductsSeed<'_> {
    type Value = Readback;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Readback, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ProductsSeed<'_> {
    type Value = Readback;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of Product objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Readback, A::Error> {
        let mut out = Readback::default();
        while let Some(product) = seq.next_element::<Value>()? {
            out.total += 1;
            let Some(id) = product.get("id").and_then(Value::as_str).map(str::to_owned) else {
                return Err(serde::de::Error::custom("a product without a string id"));
            };
            if self.input.contains_key(&id) {
                out.hashes.insert(id, ContentHash::of(&product));
                continue;
            }
            let mut retired = product.clone();
            retire(&mut retired);
            if retired == product {
                out.already_retired += 1;
                continue;
            }
            let json = serde_json::to_vec(&retired).map_err(serde::de::Error::custom)?;
            out.to_retire.push(ProductLine {
                id,
                hash: ContentHash::of(&retired),
                json,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, available: bool) -> Value {
        json!({"id": id, "title": id, "variants": [
            {"id": format!("{id}-1"), "title": "A", "availability": {"available": available, "status": if available {"in_stock"} else {"out_of_stock"}}},
            {"id": format!("{id}-2"), "title": "B"}
        ]})
    }

    #[test]
    fn products_are_sorted_into_kept_hashes_and_retirements() {
        let live = product("live", true);
        let gone = product("gone", true);
        let mut retired = product("retired", true);
        retire(&mut retired);
        let body = json!({"products": [live, gone, retired], "other": {"x": 1}}).to_string();
        let input: HashMap<String, ContentHash> =
            [("live".to_owned(), ContentHash::of(&product("live", true)))].into();

        let readback = parse(body.as_bytes(), &input).unwrap();

        assert_eq!(readback.total, 3);
        assert_eq!(readback.hashes["live"], input["live"]);
        assert_eq!(readback.already_retired, 1);
        assert_eq!(readback.to_retire.len(), 1);
        let sent: Value = serde_json::from_slice(&readback.to_retire[0].json).unwrap();
        assert_eq!(sent["id"], "gone");
        assert_eq!(sent["title"], "gone");
        for variant in sent["variants"].as_array().unwrap() {
            assert_eq!(variant["availability"], retired_availability());
        }
    }

    #[test]
    fn an_answer_without_products_is_an_error() {
        assert!(parse(br#"{"items": []}"#, &HashMap::new()).is_err());
        assert!(parse(br#"{"products": [{"title": "no id"}]}"#, &HashMap::new()).is_err());
        assert!(parse(br#"{"products": []} trailing"#, &HashMap::new()).is_err());
    }
}
