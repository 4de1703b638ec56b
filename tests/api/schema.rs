//! The GraphQL contract: every document in `queries/shopify/` validates
//! against the real Shopify Admin schema and selects nothing deprecated, and
//! `queries/shopify/schema.graphql` (used by codegen and the emulator) is a
//! faithful subset of the real schema that also validates every document.
//!
//! The real schema (2.6 MB) is read from `$SHOPIFY_ADMIN_SCHEMA`, by default
//! `../shared/shopify-admin-schema/2026-01.graphql` next to the crate, and
//! parsed once per test binary. A missing file fails the tests.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use apollo_compiler::ast::{Type, Value};
use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::schema::{ExtendedType, FieldDefinition, InputValueDefinition};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};

const SCHEMA_ENV: &str = "SHOPIFY_ADMIN_SCHEMA";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn real_schema_path() -> PathBuf {
    match std::env::var_os(SCHEMA_ENV) {
        Some(path) => PathBuf::from(path),
        None => manifest_dir().join("../shared/shopify-admin-schema/2026-01.graphql"),
    }
}

/// Reads and validates a schema file, or explains what is wrong.
fn load_schema(path: &Path, what: &str) -> Result<Valid<Schema>, String> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the {what} at {} ({e}); set {SCHEMA_ENV} to the Shopify Admin \
             schema SDL (default ../shared/shopify-admin-schema/2026-01.graphql relative \
             to the crate)",
            path.display()
        )
    })?;
    Schema::parse_and_validate(source, path)
        .map_err(|e| format!("the {what} at {} is invalid:\n{}", path.display(), e.errors))
}

static REAL: LazyLock<Result<Valid<Schema>, String>> =
    LazyLock::new(|| load_schema(&real_schema_path(), "real Shopify Admin schema"));

static SUBSET: LazyLock<Result<Valid<Schema>, String>> = LazyLock::new(|| {
    load_schema(
        &manifest_dir().join("queries/shopify/schema.graphql"),
        "subset schema",
    )
});

fn real() -> &'static Valid<Schema> {
    match &*REAL {
        Ok(schema) => schema,
        Err(message) => panic!("{message}"),
    }
}

fn subset() -> &'static Valid<Schema> {
    match &*SUBSET {
        Ok(schema) => schema,
        Err(message) => panic!("{message}"),
    }
}

/// `(file name, document text)` of every operation document, with the bulk
/// inner query's placeholder substituted the way the client does it.
fn documents() -> Vec<(String, String)> {
    let dir = manifest_dir().join("queries/shopify");
    let mut docs = Vec::new();
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".graphql") || name == "schema.graphql" {
            continue;
        }
        let text = if name == "bulk_products.graphql" {
            acp_bridge::source::shopify::bulk_products_query("gid://shopify/Publication/1")
        } else {
            std::fs::read_to_string(&path).unwrap()
        };
        docs.push((name, text));
    }
    docs.sort();
    assert!(
        docs.len() >= 7,
        "expected the operation documents in {}, found {docs:?}",
        dir.display()
    );
    docs
}

fn validate_all(schema: &Valid<Schema>) -> Vec<String> {
    documents()
        .into_iter()
        .filter_map(|(name, text)| {
            ExecutableDocument::parse_and_validate(schema, text, &name)
                .err()
                .map(|e| format!("{name}:\n{}", e.errors))
        })
        .collect()
}

#[test]
fn a_missing_schema_file_fails_with_the_path_and_the_variable() {
    let path = manifest_dir().join("does/not/exist.graphql");
    let message = load_schema(&path, "real Shopify Admin schema").unwrap_err();
    assert!(message.contains("does/not/exist.graphql"), "{message}");
    assert!(message.contains(SCHEMA_ENV), "{message}");
}

#[test]
fn every_query_document_validates_against_the_real_admin_schema() {
    let problems = validate_all(real());
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_query_document_validates_against_the_subset_schema() {
    let problems = validate_all(subset());
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

fn deprecated(directives: &apollo_compiler::ast::DirectiveList) -> bool {
    directives.get("deprecated").is_some()
}

/// Collects deprecated fields, arguments and enum argument values selected
/// anywhere under `set`.
fn deprecated_uses(
    schema: &Valid<Schema>,
    doc: &ExecutableDocument,
    set: &SelectionSet,
    path: &str,
    out: &mut Vec<String>,
) {
    for selection in &set.selections {
        match selection {
            Selection::Field(field) => {
                let here = format!("{path}.{}", field.name);
                if deprecated(&field.definition.directives) {
                    out.push(format!("field {here}"));
                }
                for argument in &field.arguments {
                    let Some(definition) = field.definition.argument_by_name(&argument.name) else {
                        continue;
                    };
                    if deprecated(&definition.directives) {
                        out.push(format!("argument {here}({})", argument.name));
                    }
                    if let Value::Enum(value) = &*argument.value
                        && let Some(ExtendedType::Enum(enum_type)) =
                            schema.types.get(definition.ty.inner_named_type())
                        && enum_type
                            .values
                            .get(value)
                            .is_some_and(|v| deprecated(&v.directives))
                    {
                        out.push(format!("enum value {here}({}: {value})", argument.name));
                    }
                }
                deprecated_uses(schema, doc, &field.selection_set, &here, out);
            }
            Selection::InlineFragment(fragment) => {
                deprecated_uses(schema, doc, &fragment.selection_set, path, out);
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = doc.fragments.get(&spread.fragment_name) {
                    deprecated_uses(schema, doc, &fragment.selection_set, path, out);
                }
            }
        }
    }
}

#[test]
fn no_query_selects_a_deprecated_field_argument_or_enum_value() {
    let schema = real();
    let mut found = Vec::new();
    for (name, text) in documents() {
        let doc = match ExecutableDocument::parse_and_validate(schema, text, &name) {
            Ok(doc) => doc,
            // Reported by the validation test.
            Err(_) => continue,
        };
        for operation in doc.operations.iter() {
            let root = format!(
                "{name}:{}",
                operation.name.as_deref().unwrap_or("anonymous")
            );
            deprecated_uses(schema, &doc, &operation.selection_set, &root, &mut found);
        }
    }
    assert!(
        found.is_empty(),
        "deprecated in the real schema:\n{}",
        found.join("\n")
    );
}

fn type_text(ty: &Type) -> String {
    ty.to_string()
}

fn default_text(value: &InputValueDefinition) -> Option<String> {
    value.default_value.as_ref().map(|v| v.to_string())
}

fn is_required(value: &InputValueDefinition) -> bool {
    value.ty.is_non_null() && value.default_value.is_none()
}

/// Subset input values (arguments or input fields) must exist in the real
/// definition with the same type and default, and every required real one
/// must be present in the subset.
fn compare_input_values<'a>(
    owner: &str,
    subset: impl Iterator<Item = &'a Node<InputValueDefinition>> + Clone,
    real: impl Iterator<Item = &'a Node<InputValueDefinition>>,
    problems: &mut Vec<String>,
) {
    let real: Vec<_> = real.collect();
    for value in subset.clone() {
        match real.iter().find(|r| r.name == value.name) {
            None => problems.push(format!(
                "{owner}: `{}` does not exist in the real schema",
                value.name
            )),
            Some(r) => {
                if type_text(&value.ty) != type_text(&r.ty) {
                    problems.push(format!(
                        "{owner}: `{}` is `{}` but `{}` in the real schema",
                        value.name, value.ty, r.ty
                    ));
                }
                if default_text(value) != default_text(r) {
                    problems.push(format!(
                        "{owner}: `{}` defaults to {:?} but {:?} in the real schema",
                        value.name,
                        default_text(value),
                        default_text(r)
                    ));
                }
            }
        }
    }
    for r in real {
        if is_required(r) && !subset.clone().any(|v| v.name == r.name) {
            problems.push(format!("{owner}: required `{}` is missing", r.name));
        }
    }
}

fn compare_fields<'a>(
    type_name: &str,
    subset: impl Iterator<Item = &'a FieldDefinition>,
    real: &dyn Fn(&str) -> Option<&'a FieldDefinition>,
    problems: &mut Vec<String>,
) {
    for field in subset {
        let owner = format!("{type_name}.{}", field.name);
        let Some(real_field) = real(&field.name) else {
            problems.push(format!("{owner} does not exist in the real schema"));
            continue;
        };
        if type_text(&field.ty) != type_text(&real_field.ty) {
            problems.push(format!(
                "{owner} returns `{}` but `{}` in the real schema",
                field.ty, real_field.ty
            ));
        }
        compare_input_values(
            &owner,
            field.arguments.iter(),
            real_field.arguments.iter(),
            problems,
        );
    }
}

fn compare_names<'a>(
    what: &str,
    subset: impl Iterator<Item = &'a str>,
    real: &[&str],
    problems: &mut Vec<String>,
) {
    for name in subset {
        if !real.contains(&name) {
            problems.push(format!(
                "{what}: `{name}` does not exist in the real schema"
            ));
        }
    }
}

#[test]
fn the_subset_schema_is_a_faithful_subset_of_the_real_schema() {
    let (subset, real) = (subset(), real());
    let mut problems = Vec::new();
    for op in [
        apollo_compiler::ast::OperationType::Query,
        apollo_compiler::ast::OperationType::Mutation,
        apollo_compiler::ast::OperationType::Subscription,
    ] {
        if let Some(name) = subset.root_operation(op)
            && real.root_operation(op) != Some(name)
        {
            problems.push(format!(
                "root {op:?} type `{name}` differs from the real schema"
            ));
        }
    }
    for (name, ty) in &subset.types {
        if ty.is_built_in() {
            continue;
        }
        let Some(real_ty) = real.types.get(name) else {
            problems.push(format!("type `{name}` does not exist in the real schema"));
            continue;
        };
        match (ty, real_ty) {
            (ExtendedType::Scalar(_), ExtendedType::Scalar(_)) => {}
            (ExtendedType::Object(s), ExtendedType::Object(r)) => {
                let real_ifaces: Vec<&str> =
                    r.implements_interfaces.iter().map(|i| i.as_str()).collect();
                compare_names(
                    &format!("{name} implements"),
                    s.implements_interfaces.iter().map(|i| i.as_str()),
                    &real_ifaces,
                    &mut problems,
                );
                compare_fields(
                    name,
                    s.fields.values().map(|f| &***f),
                    &|f| r.fields.get(f).map(|f| &***f),
                    &mut problems,
                );
            }
            (ExtendedType::Interface(s), ExtendedType::Interface(r)) => {
                let real_ifaces: Vec<&str> =
                    r.implements_interfaces.iter().map(|i| i.as_str()).collect();
                compare_names(
                    &format!("{name} implements"),
                    s.implements_interfaces.iter().map(|i| i.as_str()),
                    &real_ifaces,
                    &mut problems,
                );
                compare_fields(
                    name,
                    s.fields.values().map(|f| &***f),
                    &|f| r.fields.get(f).map(|f| &***f),
                    &mut problems,
                );
            }
            (ExtendedType::Union(s), ExtendedType::Union(r)) => {
                let real_members: Vec<&str> = r.members.iter().map(|m| m.as_str()).collect();
                compare_names(
                    &format!("union {name}"),
                    s.members.iter().map(|m| m.as_str()),
                    &real_members,
                    &mut problems,
                );
            }
            (ExtendedType::Enum(s), ExtendedType::Enum(r)) => {
                let real_values: Vec<&str> = r.values.keys().map(|v| v.as_str()).collect();
                compare_names(
                    &format!("enum {name}"),
                    s.values.keys().map(|v| v.as_str()),
                    &real_values,
                    &mut problems,
                );
            }
            (ExtendedType::InputObject(s), ExtendedType::InputObject(r)) => {
                compare_input_values(
                    &format!("input {name}"),
                    s.fields.values().map(|f| &f.node),
                    r.fields.values().map(|f| &f.node),
                    &mut problems,
                );
            }
            _ => problems.push(format!(
                "type `{name}` is a different kind in the real schema"
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "queries/shopify/schema.graphql differs from the real schema:\n{}",
        problems.join("\n")
    );
}
