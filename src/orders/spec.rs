//! Test support: validators for order webhook bodies built from the ACP
//! reference files in `$ACP_SPEC_DIR` (default `../shared/acp-spec` next to
//! the crate). Shared by the unit tests and `tests/api/order_webhooks.rs`
//! (which includes this file by path), so it depends on nothing but
//! `serde_json`, `jsonschema` and (for the OpenAPI YAML the webhook
//! contract is published in) the `serde_norway` dev-dependency.
//!
//! The 2026-04-17 `EventDataOrder` refers to `Order` in the checkout
//! OpenAPI file; the same definition is taken from that version's JSON
//! Schema bundle (`schema.agentic_checkout.json`, `$defs/Order`).

use std::path::PathBuf;

use serde_json::{Value, json};

/// `ACP_SPEC_DIR`, or `../shared/acp-spec` relative to the crate.
pub fn acp_spec_dir() -> PathBuf {
    std::env::var_os("ACP_SPEC_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/acp-spec"),
        PathBuf::from,
    )
}

fn read(version: &str, file: &str) -> String {
    let path = acp_spec_dir().join(version).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the ACP spec file {} ({e}); set ACP_SPEC_DIR to the acp-spec \
             directory (default ../shared/acp-spec relative to the crate)",
            path.display()
        )
    })
}

/// The schema of a whole webhook request body (`WebhookEvent`) of
/// `version`, as one self-contained JSON Schema document.
pub fn webhook_event_schema(version: &str) -> Value {
    let text = read(version, "openapi.agentic_checkout_webhook.yaml");
    let doc: Value = serde_norway::from_str(&text)
        .unwrap_or_else(|e| panic!("{version} webhook OpenAPI is not readable: {e}"));
    let schemas = doc["components"]["schemas"].clone();
    assert!(
        schemas["WebhookEvent"].is_object(),
        "the {version} webhook OpenAPI has no components/schemas/WebhookEvent"
    );
    let mut root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/components/schemas/WebhookEvent",
        "components": {"schemas": schemas},
    });
    let text = root.to_string();
    if text.contains("./openapi.agentic_checkout.yaml#/components/schemas/") {
        let bundle: Value = serde_json::from_str(&read(version, "schema.agentic_checkout.json"))
            .unwrap_or_else(|e| panic!("{version} schema.agentic_checkout.json: {e}"));
        let text = text.replace(
            "./openapi.agentic_checkout.yaml#/components/schemas/",
            "#/$defs/",
        );
        root = serde_json::from_str(&text).unwrap_or_else(|e| panic!("rewritten schema: {e}"));
        root["$defs"] = bundle["$defs"].clone();
    }
    root
}

/// A compiled validator of `version`'s webhook request bodies.
pub fn webhook_event_validator(version: &str) -> jsonschema::Validator {
    let schema = webhook_event_schema(version);
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the {version} webhook schema does not compile: {e}"))
}

/// Every schema error of `body` as readable lines.
pub fn webhook_errors(validator: &jsonschema::Validator, body: &Value) -> Vec<String> {
    validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}
