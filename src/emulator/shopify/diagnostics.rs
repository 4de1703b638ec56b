//! Turns apollo-compiler diagnostics into the error objects Shopify's
//! graphql-ruby stack returns: graphql-ruby's messages and camelCase
//! `extensions.code` values (`undefinedField`, `missingRequiredArguments`, …),
//! with `locations` and no `data`.
//!
//! apollo-compiler exposes only the rendered message and an (unstable) error
//! name, so names are read back from the backticked parts of the message; an
//! unknown kind keeps apollo's graphql-js style message with code
//! `validationError`, and syntax errors get `parseError`.

use apollo_compiler::ExecutableDocument;
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::validation::DiagnosticList;

use super::exec::{code_extensions, error};

fn backticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// `Type.field(arg:)` or `Type.field` → (field, argument).
fn coordinate_parts(coordinate: &str) -> (String, String) {
    let (head, arg) = match coordinate.split_once('(') {
        Some((h, a)) => (h, a.trim_end_matches(')').trim_end_matches(':')),
        None => (coordinate, ""),
    };
    let field = head.rsplit('.').next().unwrap_or(head);
    (field.to_owned(), arg.to_owned())
}

fn operation_label(doc: &ExecutableDocument) -> String {
    match doc.operations.iter().next() {
        Some(op) => match &op.name {
            Some(name) => format!("{} {}", op.operation_type, name),
            None => format!("anonymous {}", op.operation_type),
        },
        None => "anonymous query".to_owned(),
    }
}

/// Maps every diagnostic to one Shopify-shaped error.
pub(crate) fn to_shopify_errors(
    list: &DiagnosticList,
    partial: &ExecutableDocument,
) -> Vec<JsonValue> {
    list.iter()
        .map(|d| {
            let raw = d.error.to_string();
            let ticks = backticked(&raw);
            let tick = |i: usize| ticks.get(i).copied().unwrap_or_default().to_owned();
            let locations: Vec<(usize, usize)> = d
                .line_column_range()
                .map(|r| vec![(r.start.line, r.start.column)])
                .unwrap_or_default();
            let mut ext = JsonMap::new();
            let (message, code) = match d.error.unstable_error_name() {
                Some("UndefinedField") => {
                    ext.insert("typeName", JsonValue::from(tick(0)));
                    ext.insert("fieldName", JsonValue::from(tick(1)));
                    (
                        format!("Field '{}' doesn't exist on type '{}'", tick(1), tick(0)),
                        "undefinedField",
                    )
                }
                Some("RequiredArgument") => {
                    let (field, arg) = coordinate_parts(&tick(0));
                    ext.insert("className", JsonValue::from("Field"));
                    ext.insert("name", JsonValue::from(field.as_str()));
                    ext.insert("arguments", JsonValue::from(arg.as_str()));
                    (
                        format!("Field '{field}' is missing required arguments: {arg}"),
                        "missingRequiredArguments",
                    )
                }
                Some("UndefinedArgument") => {
                    let (field, _) = coordinate_parts(&tick(1));
                    ext.insert("name", JsonValue::from(field.as_str()));
                    ext.insert("typeName", JsonValue::from("Field"));
                    ext.insert("argumentName", JsonValue::from(tick(0)));
                    (
                        format!("Field '{field}' doesn't accept argument '{}'", tick(0)),
                        "argumentNotAccepted",
                    )
                }
                Some("UndefinedVariable") => (
                    format!(
                        "Variable {} is used by {} but not declared",
                        tick(0),
                        operation_label(partial)
                    ),
                    "variableNotDefined",
                ),
                Some("UnusedVariable") => (
                    format!(
                        "Variable {} is declared by {} but not used",
                        tick(0),
                        operation_label(partial)
                    ),
                    "variableNotUsed",
                ),
                Some("UndefinedFragment") => (
                    format!("Fragment {} was used, but not defined", tick(0)),
                    "undefinedFragment",
                ),
                Some("UnusedFragment") => (
                    format!("Fragment {} was defined, but not used", tick(0)),
                    "useAndDefineFragment",
                ),
                Some(
                    "UndefinedDefinition"
                    | "UndefinedTypeInNamedFragmentTypeCondition"
                    | "UndefinedTypeInInlineFragmentTypeCondition",
                ) => (
                    format!(
                        "No such type {}, so it can't be a fragment condition",
                        tick(0)
                    ),
                    "undefinedType",
                ),
                Some("MissingSubselection") => (
                    format!("Field must have selections ({raw})"),
                    "selectionMismatch",
                ),
                Some("SubselectionOnScalarType" | "SubselectionOnEnumType") => (
                    format!("Selections can't be made on scalars ({raw})"),
                    "selectionMismatch",
                ),
                Some(
                    "UnsupportedValueType"
                    | "UndefinedEnumValue"
                    | "IntCoercionError"
                    | "FloatCoercionError",
                ) => (
                    format!("Argument has an invalid value ({raw})"),
                    "argumentLiteralsIncompatible",
                ),
                Some("DisallowedVariableUsage") => (
                    format!("Type mismatch on variable ({raw})"),
                    "variableMismatch",
                ),
                Some("InvalidFragmentSpread") => (
                    format!("Fragment cannot be spread here ({raw})"),
                    "fragmentSpreadTypeMismatch",
                ),
                Some(_) => (
                    d.error.unstable_compat_message().unwrap_or(raw.clone()),
                    "validationError",
                ),
                None if raw.starts_with("syntax error") => {
                    (format!("Parse error: {raw}"), "parseError")
                }
                None => (raw.clone(), "validationError"),
            };
            let mut extensions = code_extensions(code);
            for (k, v) in ext {
                extensions.insert(k, v);
            }
            error(message, &locations, None, Some(extensions))
        })
        .collect()
}
