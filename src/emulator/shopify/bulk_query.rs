//! Checks the inner query of `bulkOperationRunQuery` against Shopify's bulk
//! rules: a valid query operation without variables, exactly one top-level
//! connection field (not `node`/`nodes`), at most 5 connections, at most 2
//! levels of nested connections, no connection inside a list field, and an
//! unaliased `id` on every node that has nested connections (it becomes the
//! children's `__parentId`). Connection arguments such as `first` are not
//! required.

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable::{Field, OperationType, Selection, SelectionSet};
use apollo_compiler::validation::Valid;

use super::exec::{SCHEMA, is_connection, parse_document, select_operation};

/// Most connections one bulk query may contain.
pub(crate) const MAX_CONNECTIONS: usize = 5;
/// Deepest nesting level of a connection (the top-level one is level 0).
pub(crate) const MAX_NESTING: usize = 2;

fn flatten<'d>(
    doc: &'d ExecutableDocument,
    sets: &[&'d SelectionSet],
    out: &mut Vec<&'d Field>,
    seen: &mut Vec<&'d str>,
) {
    for set in sets {
        for selection in &set.selections {
            match selection {
                Selection::Field(f) => out.push(f),
                Selection::InlineFragment(i) => flatten(doc, &[&i.selection_set], out, seen),
                Selection::FragmentSpread(s) => {
                    let name = s.fragment_name.as_str();
                    if seen.contains(&name) {
                        continue;
                    }
                    seen.push(name);
                    if let Some(fragment) = doc.fragments.get(&s.fragment_name) {
                        flatten(doc, &[&fragment.selection_set], out, seen);
                    }
                }
            }
        }
    }
}

fn fields_of<'d>(doc: &'d ExecutableDocument, sets: &[&'d SelectionSet]) -> Vec<&'d Field> {
    let mut out = Vec::new();
    flatten(doc, sets, &mut out, &mut Vec::new());
    out
}

/// The selection sets of a connection's nodes (`edges { node }` and `nodes`).
fn node_sets<'d>(doc: &'d ExecutableDocument, connection: &'d Field) -> Vec<&'d SelectionSet> {
    let mut sets = Vec::new();
    for sub in fields_of(doc, &[&connection.selection_set]) {
        match sub.name.as_str() {
            "nodes" => sets.push(&sub.selection_set),
            "edges" => sets.extend(
                fields_of(doc, &[&sub.selection_set])
                    .into_iter()
                    .filter(|f| f.name == "node")
                    .map(|f| &f.selection_set),
            ),
            _ => {}
        }
    }
    sets
}

struct Walk<'d> {
    doc: &'d ExecutableDocument,
    connections: usize,
    problems: Vec<String>,
}

impl<'d> Walk<'d> {
    fn node(&mut self, sets: &[&'d SelectionSet], level: usize) {
        let fields = fields_of(self.doc, sets);
        let nested: Vec<&str> = fields
            .iter()
            .filter(|f| is_connection(f.definition.ty.inner_named_type()))
            .map(|f| f.name.as_str())
            .collect();
        let has_id = fields.iter().any(|f| f.name == "id" && f.alias.is_none());
        if !nested.is_empty() && !has_id {
            self.problems.push(format!(
                "The parent 'node' field for a nested connection must select the 'id' field without an alias and must be of 'ID' return type. Connection fields without 'id': {}.",
                nested.join(", ")
            ));
        }
        self.fields(&fields, level);
    }

    fn fields(&mut self, fields: &[&'d Field], level: usize) {
        for field in fields {
            let named = field.definition.ty.inner_named_type().as_str();
            if is_connection(named) {
                self.connections += 1;
                if level + 1 > MAX_NESTING {
                    self.problems.push(format!(
                        "Bulk queries cannot contain connections with a nesting depth greater than {MAX_NESTING}: '{}'.",
                        field.name
                    ));
                    continue;
                }
                let sets = node_sets(self.doc, field);
                self.node(&sets, level + 1);
            } else if SCHEMA.types.get(named).is_some_and(|t| !t.is_leaf()) {
                let inner = fields_of(self.doc, &[&field.selection_set]);
                if field.definition.ty.is_list() && self.contains_connection(&inner) {
                    self.problems.push(
                        "Queries that contain a connection field within a list field are not currently supported."
                            .to_owned(),
                    );
                    continue;
                }
                self.fields(&inner, level);
            }
        }
    }

    fn contains_connection(&self, fields: &[&'d Field]) -> bool {
        fields.iter().any(|f| {
            is_connection(f.definition.ty.inner_named_type())
                || self.contains_connection(&fields_of(self.doc, &[&f.selection_set]))
        })
    }
}

/// A bulk query that passed the rules, with its root connection field name.
pub(crate) struct CheckedBulkQuery {
    pub doc: Valid<ExecutableDocument>,
    pub root_field: String,
}

/// Validates a bulk query; the error is the user-facing message.
pub(crate) fn check(query: &str) -> Result<CheckedBulkQuery, String> {
    let doc = parse_document(query).map_err(|errors| {
        let first = errors
            .first()
            .and_then(|e| e.get("message"))
            .and_then(|m| m.as_str())
            .unwrap_or("syntax error")
            .to_owned();
        format!("Invalid bulk query: {first}")
    })?;
    let (root_field, top_sets) = {
        let op = select_operation(&doc, None)
            .map_err(|_| "Bulk queries must contain exactly one operation.".to_owned())?;
        if op.operation_type != OperationType::Query {
            return Err("Bulk queries must be query operations; use bulkOperationRunMutation for mutations.".to_owned());
        }
        if !op.variables.is_empty() {
            return Err("Bulk queries cannot declare variables.".to_owned());
        }
        let roots: Vec<&Field> = fields_of(&doc, &[&op.selection_set])
            .into_iter()
            .filter(|f| f.name != "__typename")
            .collect();
        if roots.iter().any(|f| f.name == "node" || f.name == "nodes") {
            return Err(
                "Bulk queries cannot contain a top level `node` or `nodes` field.".to_owned(),
            );
        }
        let connections: Vec<&&Field> = roots
            .iter()
            .filter(|f| is_connection(f.definition.ty.inner_named_type()))
            .collect();
        if connections.is_empty() {
            return Err("Bulk queries must contain at least one connection.".to_owned());
        }
        if roots.len() != 1 {
            return Err("Bulk queries must contain exactly one top-level field, and it must be a connection.".to_owned());
        }
        (roots[0].name.to_string(), node_sets(&doc, roots[0]))
    };
    let mut walk = Walk {
        doc: &doc,
        connections: 1,
        problems: Vec::new(),
    };
    walk.node(&top_sets, 0);
    if walk.connections > MAX_CONNECTIONS {
        walk.problems.insert(
            0,
            format!(
                "Bulk queries cannot contain more than {MAX_CONNECTIONS} connections (found {}).",
                walk.connections
            ),
        );
    }
    if let Some(problem) = walk.problems.into_iter().next() {
        return Err(problem);
    }
    Ok(CheckedBulkQuery { doc, root_field })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BULK: &str = include_str!("../../../queries/shopify/bulk_products.graphql");

    #[test]
    fn the_project_bulk_query_passes_the_rules() {
        let q = BULK.replace("__PUBLICATION_ID__", "gid://shopify/Publication/1");
        let checked = check(&q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked.root_field, "products");
    }

    #[test]
    fn bulk_rules_reject_what_shopify_rejects() {
        let cases = [
            ("{ shop { name } }", "at least one connection"),
            (
                "{ products { nodes { id } } shop { name } }",
                "exactly one top-level",
            ),
            (
                "{ products { nodes { title variants { nodes { id } } } } }",
                "must select the 'id' field",
            ),
            (
                "query($q: String) { products(query: $q) { nodes { id } } }",
                "cannot declare variables",
            ),
            ("{ products { nodes { id ", "Invalid bulk query"),
            (
                "{ products { nodes { id variants { nodes { id media { nodes { id } } } } } } }",
                "",
            ),
        ];
        for (query, expected) in cases {
            match check(query) {
                Err(message) => assert!(
                    !expected.is_empty() && message.contains(expected),
                    "{query}: {message}"
                ),
                Ok(_) => assert!(expected.is_empty(), "{query} should fail"),
            }
        }
        let six = "{ products { nodes { id a: media { nodes { id } } b: media { nodes { id } } c: media { nodes { id } } d: media { nodes { id } } e: media { nodes { id } } } } }";
        assert!(
            check(six)
                .err()
                .unwrap()
                .contains("more than 5 connections")
        );
    }
}
