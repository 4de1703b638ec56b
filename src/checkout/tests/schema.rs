//! Loads the official ACP checkout schemas and validates values against one
//! named `$defs` entry.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::checkout::version::ApiVersion;

/// `$ACP_SPEC_DIR`, default `../shared/acp-spec` beside the crate.
pub fn spec_dir() -> PathBuf {
    match std::env::var_os("ACP_SPEC_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/acp-spec"),
    }
}

/// Reads `<spec>/<version>/<file>` as JSON, failing with a clear message.
pub fn spec_json(version: ApiVersion, file: &str) -> Value {
    let path = spec_dir().join(version.as_str()).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the ACP spec file {} ({e}); set ACP_SPEC_DIR to the acp-spec directory",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A validator for `$defs/<def>` of the version's checkout schema bundle.
///
/// The bundle has no root type, so the root gets a `$ref` to the entry; its
/// own `$defs` stay in place for the entry's internal references. The
/// 2025-09-29 bundle writes `exclusiveMinimum: true` (draft-04 style) next to
/// `minimum: 0` in a 2020-12 schema; that is rewritten to the 2020-12 form
/// `exclusiveMinimum: 0` so the bundle compiles with the same meaning.
pub fn validator(version: ApiVersion, def: &str) -> jsonschema::Validator {
    let mut schema = spec_json(version, "schema.agentic_checkout.json");
    fix_draft4_exclusive_minimum(&mut schema);
    assert!(
        schema["$defs"][def].is_object(),
        "schema.agentic_checkout.json of {version} has no $defs/{def}"
    );
    schema["$ref"] = json!(format!("#/$defs/{def}"));
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the {version} checkout schema does not compile: {e}"))
}

fn fix_draft4_exclusive_minimum(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("exclusiveMinimum") == Some(&Value::Bool(true)) {
                let minimum = map.remove("minimum").unwrap_or(json!(0));
                map.insert("exclusiveMinimum".into(), minimum);
            }
            map.values_mut().for_each(fix_draft4_exclusive_minimum);
        }
        Value::Array(items) => items.iter_mut().for_each(fix_draft4_exclusive_minimum),
        _ => {}
    }
}

/// Every schema error of `value` against `$defs/<def>`, as readable lines.
pub fn errors(version: ApiVersion, def: &str, value: &Value) -> Vec<String> {
    validator(version, def)
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Panics with every schema error and the value when it does not validate.
#[track_caller]
pub fn assert_valid(version: ApiVersion, def: &str, value: &Value) {
    let errors = errors(version, def, value);
    assert!(errors.is_empty(), "{version} {def}: {errors:#?}\n{value:#}");
}

/// Validates a rendered session against the definition the spec names for
/// it: `CheckoutSessionWithOrder` once it has an order, else
/// `CheckoutSession`.
///
/// The 2025-09-29 bundle cannot validate any session with an order (its base
/// object forbids properties it does not list, and `order` is not listed),
/// so there the order is checked against `$defs/Order` and the rest against
/// `CheckoutSession`.
#[track_caller]
pub fn assert_valid_session(version: ApiVersion, value: &Value) {
    let has_order = value.get("order").is_some();
    match (version, has_order) {
        (ApiVersion::V2025_09_29, true) => {
            let mut rest = value.clone();
            let order = rest
                .as_object_mut()
                .and_then(|o| o.remove("order"))
                .unwrap_or(Value::Null);
            assert_valid(version, "Order", &order);
            assert_valid(version, "CheckoutSession", &rest);
        }
        (_, true) => assert_valid(version, "CheckoutSessionWithOrder", value),
        (_, false) => assert_valid(version, "CheckoutSession", value),
    }
}
