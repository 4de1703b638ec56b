//! Request parsing: the spec's own request examples, JSONPath `param`s on
//! body errors, absent-vs-null, lenient enums.

use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::schema::{assert_valid, spec_json};
use crate::checkout::error::AcpError;
use crate::checkout::model::{
    AuthenticationOutcome, CancelReason, FulfillmentKind, InterventionType, Patch, PaymentData,
    RequestedQuantity,
};
use crate::checkout::version::ApiVersion;
use crate::checkout::wire;

const V1: ApiVersion = ApiVersion::V2025_09_29;
const V2: ApiVersion = ApiVersion::V2026_04_17;

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// Every `*_request` entry of an examples file, by operation.
fn request_examples(version: ApiVersion, file: &str) -> Vec<(String, Value)> {
    let examples = spec_json(version, file);
    examples
        .as_object()
        .expect("examples file is an object")
        .iter()
        .filter(|(k, _)| k.contains("request"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Parses an example by the operation its name starts with; returns the
/// operation.
fn parse_example(version: ApiVersion, name: &str, body: &Value) -> Result<&'static str, AcpError> {
    let body = bytes(body);
    if name.starts_with("create") {
        wire::parse_create(version, &body).map(|_| "create")
    } else if name.starts_with("update") {
        wire::parse_update(version, &body).map(|_| "update")
    } else if name.starts_with("complete") {
        wire::parse_complete(version, &body).map(|_| "complete")
    } else if name.starts_with("cancel") {
        wire::parse_cancel(version, &body).map(|_| "cancel")
    } else {
        panic!("example {name} names no operation")
    }
}

#[test]
fn every_request_example_of_both_versions_parses() {
    let sources = [
        (V1, "examples.agentic_checkout.json"),
        (V2, "examples.agentic_checkout.json"),
        (V2, "examples.multi_item_checkout.json"),
    ];
    let mut seen = Vec::new();
    for (version, file) in sources {
        for (name, body) in request_examples(version, file) {
            match parse_example(version, &name, &body) {
                Ok(op) => seen.push((version, op)),
                Err(e) => panic!("{version} {file} {name}: {e} {}", e.message),
            }
        }
    }
    for version in [V1, V2] {
        for op in ["create", "update", "complete"] {
            assert!(
                seen.contains(&(version, op)),
                "no {op} example for {version}"
            );
        }
    }
    assert!(seen.contains(&(V2, "cancel")));
}

#[test]
fn launch_create_example_keeps_items_address_and_decimal_quantity() {
    let examples = spec_json(V1, "examples.agentic_checkout.json");
    let request = &examples["create_checkout_session_request"];
    let create = wire::parse_create(V1, &bytes(request)).unwrap();
    assert_eq!(
        create.lines.len(),
        request["items"].as_array().unwrap().len()
    );
    assert_eq!(create.lines[0].item_id, request["items"][0]["id"]);
    // The example sends 2.5: kept exactly, for the service to judge.
    match &create.lines[0].quantity {
        RequestedQuantity::Fractional(n) => {
            assert_eq!(Some(n), request["items"][0]["quantity"].as_number())
        }
        other => panic!("expected a fractional quantity, got {other:?}"),
    }
    let address = create.address.unwrap();
    assert_eq!(
        address.postal_code,
        request["fulfillment_address"]["postal_code"]
    );
    assert_eq!(address.line_two, None, "an empty line_two is no line");
    assert_eq!(create.currency, None);
}

#[test]
fn latest_create_example_defaults_quantity_and_reads_capabilities() {
    let examples = spec_json(V2, "examples.agentic_checkout.json");
    let request = &examples["create_checkout_session_request"];
    let create = wire::parse_create(V2, &bytes(request)).unwrap();
    assert_eq!(create.lines[0].quantity.units(), Some(1));
    assert_eq!(
        create.currency.map(|c| c.to_string()),
        Some("USD".to_owned())
    );
    assert_eq!(
        create.agent_capabilities.interventions,
        [
            InterventionType::ThreeDs,
            InterventionType::AddressVerification
        ]
    );
    let contact = create.fulfillment_contact.unwrap();
    assert_eq!(
        contact.email,
        request["fulfillment_details"]["email"]
            .as_str()
            .map(str::to_owned)
    );
    let address = create.address.unwrap();
    assert_eq!(
        address.phone_number.as_deref(),
        request["fulfillment_details"]["phone_number"].as_str()
    );
    assert_eq!(
        create.order_notes.as_deref(),
        request["order_notes"].as_str()
    );
}

#[test]
fn quantity_is_accepted_on_latest_request_items() {
    let body = json!({"currency": "eur", "line_items": [{"id": "a", "quantity": 3}, {"id": "b"}]});
    let create = wire::parse_create(V2, &bytes(&body)).unwrap();
    let units: Vec<_> = create.lines.iter().map(|l| l.quantity.units()).collect();
    assert_eq!(units, [Some(3), Some(1)]);
}

#[test]
fn affiliate_attribution_is_dropped_at_parse() {
    // Write-only data: nothing of it may reach the model (and so a response).
    let examples = spec_json(V2, "examples.agentic_checkout.json");
    let request = &examples["create_checkout_session_request_with_first_touch_attribution"];
    assert!(request["affiliate_attribution"].is_object());
    let mut without = request.clone();
    without
        .as_object_mut()
        .unwrap()
        .remove("affiliate_attribution");
    let with = wire::parse_create(V2, &bytes(request)).unwrap();
    assert_eq!(with, wire::parse_create(V2, &bytes(&without)).unwrap());
}

#[test]
fn request_debug_output_hides_notes() {
    let body = json!({"currency": "usd", "line_items": [{"id": "a"}],
        "order_notes": "Gate code 4321", "metadata": {"k": "secret-meta"}});
    let shown = format!("{:?}", wire::parse_create(V2, &bytes(&body)).unwrap());
    assert!(
        !shown.contains("4321") && !shown.contains("secret-meta"),
        "{shown}"
    );
    let update = wire::parse_update(V2, br#"{"order_notes": "Gate code 4321"}"#).unwrap();
    assert!(!format!("{update:?}").contains("4321"));
    let complete = wire::parse_complete(
        V1,
        br#"{"payment_data": {"token": "spt_42", "provider": "stripe"}}"#,
    )
    .unwrap();
    assert!(!format!("{complete:?}").contains("spt_42"));
}

#[test]
fn complete_examples_carry_the_token_without_showing_it() {
    let examples = spec_json(V2, "examples.agentic_checkout.json");
    let request = &examples["complete_session_with_authentication_result_request"];
    let complete = wire::parse_complete(V2, &bytes(request)).unwrap();
    let PaymentData::Credential(credential) = &complete.payment else {
        panic!("expected a credential")
    };
    let token = request["payment_data"]["instrument"]["credential"]["token"]
        .as_str()
        .unwrap();
    assert_eq!(credential.token.expose_secret(), token);
    assert_eq!(credential.handler_id.as_deref(), Some("card_tokenized"));
    assert_eq!(credential.instrument_type.as_deref(), Some("card"));
    let auth = complete.authentication_result.as_ref().unwrap();
    assert_eq!(auth.outcome, AuthenticationOutcome::Authenticated);
    let cryptogram = request["authentication_result"]["outcome_details"]["three_ds_cryptogram"]
        .as_str()
        .unwrap();
    let shown = format!("{complete:?}");
    assert!(
        !shown.contains(token) && !shown.contains(cryptogram),
        "{shown}"
    );

    let launch = spec_json(V1, "examples.agentic_checkout.json");
    let request = &launch["complete_checkout_session_request"];
    let complete = wire::parse_complete(V1, &bytes(request)).unwrap();
    let PaymentData::Credential(credential) = &complete.payment else {
        panic!("expected a credential")
    };
    assert_eq!(credential.token.expose_secret(), "spt_123");
    assert_eq!(credential.provider.as_deref(), Some("stripe"));
    assert_eq!(
        credential
            .billing_address
            .as_ref()
            .map(|a| a.country.as_str()),
        Some("US")
    );
}

#[test]
fn latest_complete_also_takes_the_legacy_token_form_and_purchase_orders() {
    let body = json!({"payment_data": {"token": "spt_9", "provider": "Stripe"}});
    let complete = wire::parse_complete(V2, &bytes(&body)).unwrap();
    let PaymentData::Credential(c) = complete.payment else {
        panic!("expected a credential")
    };
    assert_eq!(c.provider.as_deref(), Some("stripe"));

    let body =
        json!({"payment_data": {"purchase_order_number": "PO-7", "payment_terms": "net_30"}});
    let complete = wire::parse_complete(V2, &bytes(&body)).unwrap();
    let PaymentData::PurchaseOrder(po) = complete.payment else {
        panic!("expected a purchase order")
    };
    assert_eq!(
        (po.number.as_str(), po.payment_terms.as_deref()),
        ("PO-7", Some("net_30"))
    );
}

#[test]
fn billing_addresses_need_only_a_country() {
    let body = json!({"payment_data": {"token": "spt_1", "provider": "stripe",
        "billing_address": {"country": "de", "postal_code": "10115"}}});
    let complete = wire::parse_complete(V1, &bytes(&body)).unwrap();
    let PaymentData::Credential(c) = complete.payment else {
        panic!("expected a credential")
    };
    let billing = c.billing_address.unwrap();
    assert_eq!(
        (billing.country.as_str(), billing.postal_code.as_str()),
        ("DE", "10115")
    );
}

/// Evaluates a `$.a[0].b` JSONPath against a body.
fn select<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    let rest = path.strip_prefix('$')?;
    let mut node = body;
    for segment in rest.split('.').filter(|s| !s.is_empty()) {
        let mut parts = segment.split('[');
        let name = parts.next()?;
        if !name.is_empty() {
            node = node.get(name)?;
        }
        for index in parts {
            node = node.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(node)
}

/// (version, operation, body, expected code, expected param)
fn body_error_cases() -> Vec<(ApiVersion, &'static str, Value, &'static str, &'static str)> {
    let address = json!({"name": "A", "line_one": "1 St", "city": "C", "state": "S",
        "country": "US", "postal_code": "1"});
    let mut bad_country = address.clone();
    bad_country["country"] = json!("USA");
    vec![
        (
            V1,
            "create",
            json!({"items": [{"id": "a"}]}),
            "missing_field",
            "$.items[0].quantity",
        ),
        (
            V1,
            "create",
            json!({"items": [{"id": "a", "quantity": "2"}]}),
            "invalid_field",
            "$.items[0].quantity",
        ),
        (
            V1,
            "create",
            json!({"items": [{"id": "a", "quantity": 1}, {"id": "b", "quantity": 0}]}),
            "invalid_field",
            "$.items[1].quantity",
        ),
        (
            V1,
            "create",
            json!({"items": [{"id": "a", "quantity": 0.5}]}),
            "invalid_field",
            "$.items[0].quantity",
        ),
        (
            V1,
            "create",
            json!({"items": []}),
            "invalid_field",
            "$.items",
        ),
        (
            V1,
            "create",
            json!({"items": [{"id": 7, "quantity": 1}]}),
            "invalid_field",
            "$.items[0].id",
        ),
        (
            V1,
            "create",
            json!({"items": [{"id": "a", "quantity": 1}], "fulfillment_address": bad_country}),
            "invalid_field",
            "$.fulfillment_address.country",
        ),
        (
            V1,
            "create",
            json!({"items": [{"id": "a", "quantity": 1}], "buyer": {"first_name": "A", "email": "a@b.c"}}),
            "missing_field",
            "$.buyer.last_name",
        ),
        (
            V1,
            "create",
            json!({"buyer": null}),
            "missing_field",
            "$.items",
        ),
        (
            V1,
            "update",
            json!({"items": null}),
            "invalid_field",
            "$.items",
        ),
        (
            V1,
            "update",
            json!({"fulfillment_option_id": 5}),
            "invalid_field",
            "$.fulfillment_option_id",
        ),
        (
            V1,
            "complete",
            json!({"payment_data": {"provider": "stripe"}}),
            "missing_field",
            "$.payment_data.token",
        ),
        (
            V1,
            "complete",
            json!({"payment_data": {"token": " ", "provider": "stripe"}}),
            "invalid_field",
            "$.payment_data.token",
        ),
        (V1, "complete", json!({}), "missing_field", "$.payment_data"),
        (
            V2,
            "create",
            json!({"line_items": [{"id": "a"}]}),
            "missing_field",
            "$.currency",
        ),
        (
            V2,
            "create",
            json!({"currency": "dollars", "line_items": [{"id": "a"}]}),
            "invalid_field",
            "$.currency",
        ),
        (
            V2,
            "create",
            json!({"currency": "usd", "line_items": [{"id": "a"}, {"id": "b", "quantity": 1.5}]}),
            "invalid_field",
            "$.line_items[1].quantity",
        ),
        (
            V2,
            "create",
            json!({"currency": "usd", "line_items": [{"id": "a", "quantity": -1}]}),
            "invalid_field",
            "$.line_items[0].quantity",
        ),
        (
            V2,
            "create",
            json!({"currency": "usd", "line_items": {"id": "a"}}),
            "invalid_field",
            "$.line_items",
        ),
        (
            V2,
            "create",
            json!({"currency": "usd", "line_items": [{"id": "a"}],
            "fulfillment_details": {"address": bad_country}}),
            "invalid_field",
            "$.fulfillment_details.address.country",
        ),
        (
            V2,
            "create",
            json!({"currency": "usd", "line_items": [{"id": "a"}], "buyer": {"first_name": "A"}}),
            "missing_field",
            "$.buyer.email",
        ),
        (
            V2,
            "create",
            json!({"currency": "usd", "line_items": [{"id": "a"}],
            "capabilities": {"interventions": {"supported": "3ds"}}}),
            "invalid_field",
            "$.capabilities.interventions.supported",
        ),
        (
            V2,
            "create",
            json!({"currency": "usd", "line_items": [{"id": "a"}], "order_notes": "x".repeat(5001)}),
            "invalid_field",
            "$.order_notes",
        ),
        (
            V2,
            "update",
            json!({"selected_fulfillment_options": [{"type": "shipping", "item_ids": []}]}),
            "missing_field",
            "$.selected_fulfillment_options[0].option_id",
        ),
        (
            V2,
            "update",
            json!({"line_items": null}),
            "invalid_field",
            "$.line_items",
        ),
        (
            V2,
            "update",
            json!({"fulfillment_details": {"address": {"name": "A"}}}),
            "missing_field",
            "$.fulfillment_details.address.line_one",
        ),
        (
            V2,
            "complete",
            json!({"payment_data": {"instrument": {"type": "card", "credential": {"type": "spt", "token": "t"}}}}),
            "missing_field",
            "$.payment_data.handler_id",
        ),
        (
            V2,
            "complete",
            json!({"payment_data": {"handler_id": "h", "instrument": {"type": "card", "credential": {"type": "spt"}}}}),
            "missing_field",
            "$.payment_data.instrument.credential.token",
        ),
        (
            V2,
            "complete",
            json!({"payment_data": {"handler_id": "h"}}),
            "missing_field",
            "$.payment_data.instrument",
        ),
        (
            V2,
            "complete",
            json!({"payment_data": {"handler_id": "h", "instrument": {"type": "card", "credential": {"type": "spt", "token": "t"}},
            "billing_address": {"country": "U"}}}),
            "invalid_field",
            "$.payment_data.billing_address.country",
        ),
        (
            V2,
            "complete",
            json!({"payment_data": {"token": "t"}, "authentication_result": {"outcome": "authenticated"}}),
            "missing_field",
            "$.authentication_result.outcome_details",
        ),
        (
            V2,
            "cancel",
            json!({"intent_trace": {"trace_summary": "x"}}),
            "missing_field",
            "$.intent_trace.reason_code",
        ),
    ]
}

fn parse(version: ApiVersion, op: &str, body: &[u8]) -> Result<(), AcpError> {
    match op {
        "create" => wire::parse_create(version, body).map(drop),
        "update" => wire::parse_update(version, body).map(drop),
        "complete" => wire::parse_complete(version, body).map(drop),
        "cancel" => wire::parse_cancel(version, body).map(drop),
        _ => unreachable!("unknown operation {op}"),
    }
}

#[test]
fn body_errors_point_at_the_offending_field() {
    for (version, op, body, code, param) in body_error_cases() {
        let err = parse(version, op, &bytes(&body))
            .expect_err(&format!("{version} {op} {body} should fail"));
        let context = format!("{version} {op} {body}: {err} / {}", err.message);
        assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{context}");
        assert_eq!(err.code, code, "{context}");
        assert_eq!(err.param.as_deref(), Some(param), "{context}");
        // The param names the body's own field: the value for a bad field,
        // the containing object for a missing one.
        let (parent, _) = param.rsplit_once('.').unwrap_or(("$", ""));
        let located = if code == "missing_field" {
            select(&body, parent)
        } else {
            select(&body, param)
        };
        assert!(located.is_some(), "{context}: {param} is not in the body");
        assert_valid(version, "Error", &err.render(version));
    }
}

#[test]
fn malformed_bodies_are_invalid_json_without_param() {
    let valid = [
        (V1, r#"{"items": [{"id": "a", "quantity": 1}]}"#),
        (V2, r#"{"currency": "usd", "line_items": [{"id": "a"}]}"#),
    ];
    for (version, good) in valid {
        assert!(wire::parse_create(version, good.as_bytes()).is_ok());
        let trailing = format!("{good} {{}}");
        for body in ["", "{", r#"{"items": [}"#, trailing.as_str()] {
            let err = wire::parse_create(version, body.as_bytes()).unwrap_err();
            assert_eq!(
                (err.code.as_ref(), err.param.as_deref()),
                ("invalid_json", None),
                "{version} {body:?}"
            );
        }
    }
}

#[test]
fn absent_keys_keep_and_null_clears_in_updates() {
    let update = wire::parse_update(V2, b"{}").unwrap();
    assert!(update.lines.is_none());
    assert!(update.buyer.is_keep() && update.address.is_keep());
    assert!(update.fulfillment_selection.is_keep() && update.discount_codes.is_keep());
    assert!(update.order_notes.is_keep() && update.fulfillment_contact.is_keep());

    let body = json!({"buyer": null, "fulfillment_details": null, "selected_fulfillment_options": null,
        "discounts": null, "order_notes": null});
    let update = wire::parse_update(V2, &bytes(&body)).unwrap();
    assert_eq!(update.buyer, Patch::Clear);
    assert_eq!(update.address, Patch::Clear);
    assert_eq!(update.fulfillment_contact, Patch::Clear);
    assert_eq!(update.fulfillment_selection, Patch::Clear);
    assert_eq!(update.discount_codes, Patch::Clear);
    assert_eq!(update.order_notes, Patch::Clear);

    // Contact only: the address stays; a null address inside clears it.
    let update = wire::parse_update(
        V2,
        &bytes(&json!({"fulfillment_details": {"phone_number": "+1"}})),
    )
    .unwrap();
    assert!(
        matches!(update.fulfillment_contact, Patch::Set(ref c) if c.phone_number.as_deref() == Some("+1"))
    );
    assert!(update.address.is_keep());
    let update = wire::parse_update(
        V2,
        &bytes(&json!({"fulfillment_details": {"address": null}})),
    )
    .unwrap();
    assert_eq!(update.address, Patch::Clear);
    assert!(update.fulfillment_contact.is_keep());

    let update = wire::parse_update(
        V1,
        &bytes(&json!({"fulfillment_address": null, "fulfillment_option_id": "x"})),
    )
    .unwrap();
    assert_eq!(update.address, Patch::Clear);
    match update.fulfillment_selection {
        Patch::Set(s) => assert_eq!(
            (s.len(), s[0].option_id.as_str(), s[0].item_ids.len()),
            (1, "x", 0)
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn discount_codes_merge_the_deprecated_coupons() {
    let body = json!({"currency": "usd", "line_items": [{"id": "a"}],
        "discounts": {"codes": ["SAVE10"]}, "coupons": ["save10", "FREESHIP"]});
    let create = wire::parse_create(V2, &bytes(&body)).unwrap();
    assert_eq!(create.discount_codes, ["SAVE10", "FREESHIP"]);
    let update = wire::parse_update(V2, &bytes(&json!({"discounts": {"codes": []}}))).unwrap();
    assert_eq!(update.discount_codes, Patch::Set(Vec::new()));
}

#[test]
fn open_enums_are_parsed_leniently() {
    let cancel = wire::parse_cancel(
        V2,
        br#"{"intent_trace": {"reason_code": "buyer_cancelled"}}"#,
    )
    .unwrap();
    assert_eq!(cancel.intent_trace.unwrap().reason, CancelReason::Other);

    let body = json!({"currency": "usd", "line_items": [{"id": "a"}],
        "capabilities": {"interventions": {"supported": ["3ds", "telepathy"]},
            "payment": {"handlers": [{"id": "x", "name": "dev.acp.tokenized.card"}]},
            "extensions": ["discount", {"name": "fulfillment"}]}});
    let create = wire::parse_create(V2, &bytes(&body)).unwrap();
    assert_eq!(
        create.agent_capabilities.interventions,
        [InterventionType::ThreeDs]
    );
    assert_eq!(
        create.agent_capabilities.payment_handlers,
        Some(vec!["dev.acp.tokenized.card".to_owned()])
    );
    assert_eq!(
        create.agent_capabilities.extensions,
        ["discount", "fulfillment"]
    );

    let body = json!({"payment_data": {"token": "t"}, "authentication_result": {"outcome": "frobnicated"}});
    let complete = wire::parse_complete(V2, &bytes(&body)).unwrap();
    assert_eq!(
        complete.authentication_result.unwrap().outcome,
        AuthenticationOutcome::Other("frobnicated".into())
    );

    let body = json!({"selected_fulfillment_options": [
        {"type": "pickup", "option_id": "p1", "item_ids": ["li_1"]},
        {"type": "shipping", "shipping": {"option_id": "s1", "item_ids": ["li_2"]}}]});
    match wire::parse_update(V2, &bytes(&body))
        .unwrap()
        .fulfillment_selection
    {
        Patch::Set(s) => {
            assert_eq!((s[0].kind, s[0].option_id.as_str()), (None, "p1"));
            assert_eq!(
                (s[1].kind, s[1].option_id.as_str()),
                (Some(FulfillmentKind::Shipping), "s1")
            );
            assert_eq!(s[1].item_ids, ["li_2"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cancel_bodies_are_optional_in_both_versions() {
    for version in [V1, V2] {
        assert_eq!(wire::parse_cancel(version, b"").unwrap().intent_trace, None);
        assert_eq!(
            wire::parse_cancel(version, b"{}").unwrap().intent_trace,
            None
        );
        assert!(wire::parse_cancel(version, b"[1]").is_err());
    }
}
