//! Field collection and literal values: CollectFields of the GraphQL spec
//! (fragments, inline fragments with type conditions on interfaces,
//! `@skip`/`@include`) and AST values turned into JSON with variables
//! substituted. Shared by the executor, the cost calculator and bulk runs.

use apollo_compiler::ast::Value;
use apollo_compiler::executable::{Field, Selection, SelectionSet};
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::{ExecutableDocument, Node};

use super::exec::SCHEMA;

/// Converts an AST value to JSON, reading variables from `vars`.
pub(crate) fn literal(value: &Value, vars: &JsonMap) -> Option<JsonValue> {
    Some(match value {
        Value::Null => JsonValue::Null,
        Value::Variable(name) => return vars.get(name.as_str()).cloned(),
        Value::Enum(name) => JsonValue::from(name.as_str()),
        Value::String(s) => JsonValue::from(s.as_str()),
        Value::Boolean(b) => JsonValue::from(*b),
        Value::Int(i) => match i.try_to_i32() {
            Ok(n) => JsonValue::from(n),
            Err(_) => JsonValue::from(i.as_str()),
        },
        Value::Float(f) => f
            .try_to_f64()
            .map(JsonValue::from)
            .unwrap_or(JsonValue::Null),
        Value::List(items) => JsonValue::Array(
            items
                .iter()
                .map(|v| literal(v, vars).unwrap_or(JsonValue::Null))
                .collect(),
        ),
        Value::Object(fields) => {
            let mut map = JsonMap::new();
            for (k, v) in fields {
                if let Some(v) = literal(v, vars) {
                    map.insert(k.as_str(), v);
                }
            }
            JsonValue::Object(map)
        }
    })
}

/// Groups the fields of `sets` that apply to object type `type_name` by
/// response key, in document order (CollectFields of the spec).
pub(crate) fn collect_fields<'d>(
    doc: &'d ExecutableDocument,
    vars: &JsonMap,
    type_name: &str,
    sets: &[&'d SelectionSet],
) -> Vec<(&'d str, Vec<&'d Node<Field>>)> {
    let mut out = Vec::new();
    let mut visited = Vec::new();
    for set in sets {
        collect_into(
            doc,
            vars,
            type_name,
            &set.selections,
            &mut out,
            &mut visited,
        );
    }
    out
}

fn collect_into<'d>(
    doc: &'d ExecutableDocument,
    vars: &JsonMap,
    type_name: &str,
    selections: &'d [Selection],
    out: &mut Vec<(&'d str, Vec<&'d Node<Field>>)>,
    visited: &mut Vec<&'d str>,
) {
    for selection in selections {
        if !included(selection, vars) {
            continue;
        }
        match selection {
            Selection::Field(f) => {
                let field: &'d Node<Field> = f;
                let key = field.response_key().as_str();
                match out.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, list)) => list.push(field),
                    None => out.push((key, vec![field])),
                }
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.fragment_name.as_str();
                if visited.contains(&name) {
                    continue;
                }
                visited.push(name);
                if let Some(fragment) = doc.fragments.get(&spread.fragment_name)
                    && applies(fragment.type_condition(), type_name)
                {
                    collect_into(
                        doc,
                        vars,
                        type_name,
                        &fragment.selection_set.selections,
                        out,
                        visited,
                    );
                }
            }
            Selection::InlineFragment(inline) => {
                if inline
                    .type_condition
                    .as_ref()
                    .is_none_or(|c| applies(c, type_name))
                {
                    collect_into(
                        doc,
                        vars,
                        type_name,
                        &inline.selection_set.selections,
                        out,
                        visited,
                    );
                }
            }
        }
    }
}

fn included(selection: &Selection, vars: &JsonMap) -> bool {
    let directives = selection.directives();
    let flag = |name: &str| {
        directives
            .get(name)
            .and_then(|d| d.specified_argument_by_name("if"))
            .and_then(|v| literal(v, vars))
            .and_then(|v| v.as_bool())
    };
    flag("skip") != Some(true) && flag("include") != Some(false)
}

/// Does a fragment with type condition `cond` apply to object type `type_name`?
pub(crate) fn applies(cond: &str, type_name: &str) -> bool {
    cond == type_name || SCHEMA.is_subtype(cond, type_name)
}
