//! Request validation against the ACP feed JSON Schema bundle
//! (`$ACP_SPEC_DIR/2026-04-17/schema.feed.json`), read once when the
//! emulator is built.
//!
//! Only the two request bodies the API takes are checked here
//! (`CreateFeedRequest`, `UpsertProductsRequest`); the emulator answers from
//! products that passed this check, so its responses stay in the schema too.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::FeedApiEmulatorError;

/// The spec version whose schema bundle the emulator validates against.
pub const SCHEMA_VERSION: &str = "2026-04-17";

/// `ACP_SPEC_DIR`, or `../shared/acp-spec` relative to the crate.
pub fn default_spec_dir() -> PathBuf {
    std::env::var_os("ACP_SPEC_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/acp-spec"),
        PathBuf::from,
    )
}

/// One failed schema check, as the error body reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// RFC 9535 JSONPath of the offending value (`$.products[0].variants`).
    pub path: String,
    pub message: String,
}

/// Compiled validators of the request bodies.
pub(crate) struct RequestSchemas {
    create_feed: jsonschema::Validator,
    upsert_products: jsonschema::Validator,
}

impl RequestSchemas {
    /// Reads and compiles `schema.feed.json` from `spec_dir`.
    pub(crate) fn load(spec_dir: &Path) -> Result<Self, FeedApiEmulatorError> {
        let path = spec_dir.join(SCHEMA_VERSION).join("schema.feed.json");
        let invalid = |reason: String| FeedApiEmulatorError::Schema {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            invalid(format!(
                "cannot read it ({e}); set ACP_SPEC_DIR to the acp-spec directory \
                 (default ../shared/acp-spec relative to the crate)"
            ))
        })?;
        let bundle: Value =
            serde_json::from_str(&text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let compile = |def: &str| {
            if !bundle["$defs"][def].is_object() {
                return Err(invalid(format!("no $defs/{def}")));
            }
            // The bundle has no root type: point the root at one entry.
            let mut schema = bundle.clone();
            schema["$ref"] = json!(format!("#/$defs/{def}"));
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|e| invalid(format!("$defs/{def} does not compile: {e}")))
        };
        Ok(RequestSchemas {
            create_feed: compile("CreateFeedRequest")?,
            upsert_products: compile("UpsertProductsRequest")?,
        })
    }

    pub(crate) fn check_create_feed(&self, body: &Value) -> Vec<Violation> {
        violations(&self.create_feed, body)
    }

    pub(crate) fn check_upsert_products(&self, body: &Value) -> Vec<Violation> {
        violations(&self.upsert_products, body)
    }
}

fn violations(validator: &jsonschema::Validator, body: &Value) -> Vec<Violation> {
    validator
        .iter_errors(body)
        .map(|e| Violation {
            path: json_path(e.instance_path().as_str()),
            message: e.to_string(),
        })
        .collect()
}

/// A JSON Pointer (`/products/0/id`) as a JSONPath (`$.products[0].id`).
pub(crate) fn json_path(pointer: &str) -> String {
    let mut out = String::from("$");
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&token);
            out.push(']');
        } else if !token.is_empty()
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            out.push('.');
            out.push_str(&token);
        } else {
            out.push_str("['");
            out.push_str(&token.replace('\\', "\\\\").replace('\'', "\\'"));
            out.push_str("']");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> RequestSchemas {
        RequestSchemas::load(&default_spec_dir()).unwrap()
    }

    fn spec_example(name: &str) -> Value {
        let path = default_spec_dir()
            .join(SCHEMA_VERSION)
            .join("examples.feed.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} ({e}); set ACP_SPEC_DIR", path.display()));
        let examples: Value = serde_json::from_str(&text).unwrap();
        examples[name].clone()
    }

    #[test]
    fn the_spec_examples_pass() {
        let s = schemas();
        assert_eq!(
            s.check_create_feed(&spec_example("create_feed_request_minimal")),
            []
        );
        assert_eq!(
            s.check_upsert_products(&spec_example("upsert_products_request_single_product")),
            []
        );
    }

    #[test]
    fn invalid_bodies_are_reported_with_their_json_path() {
        let s = schemas();
        let mut body = spec_example("upsert_products_request_single_product");
        body["products"][0]["variants"][0]["price"]["amount"] = json!("19.99");
        let found = s.check_upsert_products(&body);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "$.products[0].variants[0].price.amount");

        let no_variants = json!({"products": [{"id": "p1"}]});
        assert!(!s.check_upsert_products(&no_variants).is_empty());
        let lower_country = json!({"target_country": "us"});
        assert_eq!(
            s.check_create_feed(&lower_country)[0].path,
            "$.target_country"
        );
        let unknown_field = json!({"target_country": "US", "name": "x"});
        assert!(!s.check_create_feed(&unknown_field).is_empty());
    }

    #[test]
    fn a_missing_schema_dir_is_a_clear_error() {
        let err = RequestSchemas::load(Path::new("/nonexistent/acp-spec"))
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("schema.feed.json"), "{text}");
        assert!(text.contains("ACP_SPEC_DIR"), "{text}");
    }

    #[test]
    fn pointers_become_json_paths() {
        assert_eq!(json_path(""), "$");
        assert_eq!(json_path("/products/12/id"), "$.products[12].id");
        assert_eq!(json_path("/a~1b/c d"), "$['a/b']['c d']");
    }
}
