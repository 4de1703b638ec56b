//! GraphQL execution over apollo-compiler's validated documents: operation
//! selection, variable coercion, field collection (fragments, type
//! conditions, `@skip`/`@include`), argument coercion, value completion with
//! null propagation, field errors with paths, the actual query cost, and the
//! bulk mode that splits nested connections into separate JSONL records.
//!
//! Resolvers live in `resolve.rs`; this file knows nothing about products.

use std::sync::LazyLock;

use apollo_compiler::ast::Type;
use apollo_compiler::executable::{Field, Operation, SelectionSet};
use apollo_compiler::parser::SourceSpan;
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};

use super::diagnostics;
use super::fields::{collect_fields, literal};
use super::resolve::{Context, Obj, Resolved};

const SCHEMA_SDL: &str = include_str!("../../../queries/shopify/schema.graphql");
/// The order-lifecycle and webhook part only the emulator serves.
pub(crate) const ORDERS_SDL: &str = include_str!("schema_orders.graphql");

/// The validated Admin API subset the emulator serves: the daemon's subset
/// plus [`ORDERS_SDL`] (see [`merge_sdl`]).
pub(crate) static SCHEMA: LazyLock<Valid<Schema>> = LazyLock::new(|| {
    // Invariant: both SDL files are checked-in build inputs; the emulator
    // tests parse and validate the merge, so this cannot fail in a tested
    // build.
    Schema::parse_and_validate(merge_sdl(SCHEMA_SDL, ORDERS_SDL), "schema.graphql")
        .expect("queries/shopify/schema.graphql + schema_orders.graphql must be a valid schema")
});

/// Merges `extra` into `base`: new types are added, and a type both define
/// gets the fields (enum values, union members) that `base` lacks. Both are
/// subsets of the same real schema, so a field in both has one signature and
/// the one in `base` is kept.
pub(crate) fn merge_sdl(base: &str, extra: &str) -> String {
    use apollo_compiler::ast::{Definition, Document};
    fn parsed(text: &str, path: &str) -> Document {
        Document::parse(text, path).unwrap_or_else(|e| e.partial)
    }
    fn add_missing<T: Clone>(into: &mut Vec<T>, from: &[T], key: impl Fn(&T) -> String) {
        for item in from {
            if !into.iter().any(|x| key(x) == key(item)) {
                into.push(item.clone());
            }
        }
    }
    let mut doc = parsed(base, "schema.graphql");
    for def in parsed(extra, "schema_orders.graphql").definitions {
        let existing = doc.definitions.iter_mut().find(|d| {
            std::mem::discriminant(*d) == std::mem::discriminant(&def) && d.name() == def.name()
        });
        match (existing, def) {
            (Some(Definition::ObjectTypeDefinition(a)), Definition::ObjectTypeDefinition(b)) => {
                add_missing(&mut a.make_mut().fields, &b.fields, |f| f.name.to_string());
            }
            (
                Some(Definition::InterfaceTypeDefinition(a)),
                Definition::InterfaceTypeDefinition(b),
            ) => add_missing(&mut a.make_mut().fields, &b.fields, |f| f.name.to_string()),
            (
                Some(Definition::InputObjectTypeDefinition(a)),
                Definition::InputObjectTypeDefinition(b),
            ) => add_missing(&mut a.make_mut().fields, &b.fields, |f| f.name.to_string()),
            (Some(Definition::EnumTypeDefinition(a)), Definition::EnumTypeDefinition(b)) => {
                add_missing(&mut a.make_mut().values, &b.values, |v| v.value.to_string());
            }
            (Some(Definition::UnionTypeDefinition(a)), Definition::UnionTypeDefinition(b)) => {
                add_missing(&mut a.make_mut().members, &b.members, |m| m.to_string());
            }
            (Some(_), _) => {}
            (None, def) => doc.definitions.push(def),
        }
    }
    doc.to_string()
}

/// Is this output type a Relay connection (by Shopify's naming)?
pub(crate) fn is_connection(type_name: &str) -> bool {
    type_name.ends_with("Connection")
}

/// Builds one GraphQL error object in Shopify's shape.
pub(crate) fn error(
    message: impl Into<String>,
    locations: &[(usize, usize)],
    path: Option<Vec<JsonValue>>,
    extensions: Option<JsonMap>,
) -> JsonValue {
    let mut map = JsonMap::new();
    map.insert("message", JsonValue::from(message.into()));
    if !locations.is_empty() {
        let locs = locations
            .iter()
            .map(|(line, column)| {
                let mut loc = JsonMap::new();
                loc.insert("line", JsonValue::from(*line as u64));
                loc.insert("column", JsonValue::from(*column as u64));
                JsonValue::Object(loc)
            })
            .collect();
        map.insert("locations", JsonValue::Array(locs));
    }
    if let Some(path) = path {
        map.insert("path", JsonValue::Array(path));
    }
    if let Some(ext) = extensions {
        map.insert("extensions", JsonValue::Object(ext));
    }
    JsonValue::Object(map)
}

/// `{"code": code}` as an extensions map.
pub(crate) fn code_extensions(code: &str) -> JsonMap {
    let mut ext = JsonMap::new();
    ext.insert("code", JsonValue::from(code));
    ext
}

fn line_column(span: Option<SourceSpan>, doc: &ExecutableDocument) -> Vec<(usize, usize)> {
    span.and_then(|s| s.line_column(&doc.sources))
        .map(|lc| vec![(lc.line, lc.column)])
        .unwrap_or_default()
}

/// Parses and validates a document; errors come back in Shopify's shape.
pub(crate) fn parse_document(query: &str) -> Result<Valid<ExecutableDocument>, Vec<JsonValue>> {
    ExecutableDocument::parse_and_validate(&SCHEMA, query, "query.graphql")
        .map_err(|e| diagnostics::to_shopify_errors(&e.errors, &e.partial))
}

/// Picks the operation to run, like graphql-ruby.
pub(crate) fn select_operation<'d>(
    doc: &'d Valid<ExecutableDocument>,
    name: Option<&str>,
) -> Result<&'d Node<Operation>, JsonValue> {
    let name = name.filter(|n| !n.is_empty());
    match name {
        Some(n) => doc.operations.get(Some(n)).map_err(|_| {
            error(
                format!("No operation named \"{n}\""),
                &[],
                None,
                Some(code_extensions("operationNotFound")),
            )
        }),
        None => doc.operations.get(None).map_err(|_| {
            error(
                "An operation name is required",
                &[],
                None,
                Some(code_extensions("operationNameRequired")),
            )
        }),
    }
}

/// Coerces request variables against the operation's declarations.
pub(crate) fn coerce_variables(
    doc: &Valid<ExecutableDocument>,
    op: &Operation,
    raw: &JsonMap,
) -> Result<JsonMap, Vec<JsonValue>> {
    let mut errors = Vec::new();
    for def in &op.variables {
        let given = raw.get(def.name.as_str());
        let missing = given.is_none_or(JsonValue::is_null);
        if def.ty.is_non_null() && missing && def.default_value.is_none() {
            errors.push(invalid_variable(
                doc,
                def.location(),
                &def.name,
                &def.ty,
                given,
                "Expected value to not be null",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    match apollo_compiler::request::coerce_variable_values(&SCHEMA, op, raw) {
        Ok(values) => Ok(values.into_inner()),
        Err(e) => {
            let explanation = e.message().to_string();
            let def = op
                .variables
                .iter()
                .find(|d| explanation.contains(&format!("${}", d.name)));
            Err(vec![match def {
                Some(d) => invalid_variable(
                    doc,
                    d.location(),
                    &d.name,
                    &d.ty,
                    raw.get(d.name.as_str()),
                    &explanation,
                ),
                None => error(
                    explanation,
                    &[],
                    None,
                    Some(code_extensions("INVALID_VARIABLE")),
                ),
            }])
        }
    }
}

fn invalid_variable(
    doc: &ExecutableDocument,
    span: Option<SourceSpan>,
    name: &str,
    ty: &Type,
    given: Option<&JsonValue>,
    explanation: &str,
) -> JsonValue {
    let mut ext = code_extensions("INVALID_VARIABLE");
    ext.insert("value", given.cloned().unwrap_or(JsonValue::Null));
    let mut problem = JsonMap::new();
    problem.insert("path", JsonValue::Array(Vec::new()));
    problem.insert("explanation", JsonValue::from(explanation));
    ext.insert(
        "problems",
        JsonValue::Array(vec![JsonValue::Object(problem)]),
    );
    error(
        format!("Variable ${name} of type {ty} was provided invalid value"),
        &line_column(span, doc),
        None,
        Some(ext),
    )
}

/// One step of a response path, turned into JSON only for errors.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Fields collected for one (object type, selection sets) pair.
type Collected<'a> = std::rc::Rc<Vec<(&'a str, Vec<&'a Node<Field>>)>>;

/// Marker: a non-null field resolved to null; the parent becomes null.
pub(crate) struct Propagate;

/// Nested connection nodes found while executing one node in bulk mode.
pub(crate) struct ChildBatch<'a> {
    pub parent_id: String,
    pub nodes: Vec<Obj<'a>>,
    pub sets: Vec<&'a SelectionSet>,
}

/// Executes selection sets against resolver objects.
pub(crate) struct Executor<'a> {
    doc: &'a Valid<ExecutableDocument>,
    vars: &'a JsonMap,
    pub cx: Context<'a>,
    pub errors: Vec<JsonValue>,
    /// Actual cost, counted as the query runs (see `cost.rs` for the rules).
    pub cost: u64,
    free: u32,
    path: Vec<Seg<'a>>,
    cache: std::collections::HashMap<(&'static str, Vec<*const SelectionSet>), Collected<'a>>,
    /// Bulk mode only: connections deferred to their own records.
    pub children: Vec<ChildBatch<'a>>,
}

impl<'a> Executor<'a> {
    pub(crate) fn new(
        doc: &'a Valid<ExecutableDocument>,
        vars: &'a JsonMap,
        cx: Context<'a>,
    ) -> Self {
        Executor {
            doc,
            vars,
            cx,
            errors: Vec::new(),
            cost: 0,
            free: 0,
            path: Vec::new(),
            cache: std::collections::HashMap::new(),
            children: Vec::new(),
        }
    }

    /// Runs an operation from its root object; `None` when null propagated
    /// to the root (`"data": null`).
    pub(crate) fn execute(&mut self, op: &'a Operation, root: Obj<'a>) -> Option<JsonMap> {
        self.object(&root, &[&op.selection_set]).ok()
    }

    /// Executes one object's merged selection sets.
    pub(crate) fn object(
        &mut self,
        obj: &Obj<'a>,
        sets: &[&'a SelectionSet],
    ) -> Result<JsonMap, Propagate> {
        let type_name = obj.type_name();
        let groups = self.collect_cached(type_name, sets);
        let mut map = JsonMap::new();
        for (key, fields) in groups.iter() {
            let (key, fields) = (*key, fields.as_slice());
            let field = fields[0];
            if field.name == "__typename" {
                map.insert(key, JsonValue::from(type_name));
                continue;
            }
            let named = field.definition.ty.inner_named_type().as_str();
            if self.cx.bulk && is_connection(named) {
                self.defer_connection(obj, field, fields)?;
                continue;
            }
            self.path.push(Seg::Key(key));
            let args = self.arguments(field);
            let resolved = obj.resolve_keyed(key, field.name.as_str(), &args, &self.cx);
            let is_mutation_field = type_name == "Mutation";
            if is_mutation_field {
                self.cost += 10;
                self.free += 1;
            }
            if let Ok(r) = &resolved {
                self.charge(type_name, r);
            }
            let value = self.complete(&field.definition.ty, fields, resolved);
            if is_mutation_field {
                self.free -= 1;
            }
            self.path.pop();
            map.insert(key, value?);
        }
        Ok(map)
    }

    fn charge(&mut self, parent: &str, resolved: &Resolved<'a>) {
        if self.free > 0 || parent.ends_with("Connection") || parent.ends_with("Edge") {
            return;
        }
        match resolved {
            Resolved::Object(Obj::Connection(conn)) => self.cost += 2 + conn.items.len() as u64,
            Resolved::Object(_) => self.cost += 1,
            Resolved::List(items) if items.iter().any(|i| matches!(i, Resolved::Object(_))) => {
                self.cost += 1;
            }
            _ => {}
        }
    }

    fn defer_connection(
        &mut self,
        obj: &Obj<'a>,
        field: &'a Node<Field>,
        fields: &[&'a Node<Field>],
    ) -> Result<(), Propagate> {
        let args = self.arguments(field);
        let Ok(Resolved::Object(Obj::Connection(conn))) =
            obj.resolve(field.name.as_str(), &args, &self.cx)
        else {
            return Ok(());
        };
        let conn_type = field.definition.ty.inner_named_type().as_str();
        let sets = self.node_sets(conn_type, fields);
        self.children.push(ChildBatch {
            parent_id: obj.gid().unwrap_or_default(),
            nodes: conn.items.into_iter().map(|(node, _)| node).collect(),
            sets,
        });
        Ok(())
    }

    /// The selection sets applied to a connection's nodes: what is selected
    /// under `edges { node }` and under `nodes`.
    pub(crate) fn node_sets(
        &self,
        conn_type: &str,
        fields: &[&'a Node<Field>],
    ) -> Vec<&'a SelectionSet> {
        let top: Vec<&'a SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
        let mut sets = Vec::new();
        for (_, subfields) in self.collect(conn_type, &top) {
            for sub in subfields {
                match sub.name.as_str() {
                    "nodes" => sets.push(&sub.selection_set),
                    "edges" => {
                        let edge_type = sub.definition.ty.inner_named_type().as_str();
                        for (_, edge_fields) in self.collect(edge_type, &[&sub.selection_set]) {
                            sets.extend(
                                edge_fields
                                    .iter()
                                    .filter(|f| f.name == "node")
                                    .map(|f| &f.selection_set),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
        sets
    }

    fn complete(
        &mut self,
        ty: &Type,
        fields: &[&'a Node<Field>],
        resolved: Result<Resolved<'a>, String>,
    ) -> Result<JsonValue, Propagate> {
        let resolved = match resolved {
            Ok(r) => r,
            Err(message) => {
                self.field_error(message, fields[0]);
                return if ty.is_non_null() {
                    Err(Propagate)
                } else {
                    Ok(JsonValue::Null)
                };
            }
        };
        if let Resolved::Null = resolved {
            if ty.is_non_null() {
                let parent = fields[0].definition.name.as_str();
                self.field_error(
                    format!("Cannot return null for non-nullable field {parent}"),
                    fields[0],
                );
                return Err(Propagate);
            }
            return Ok(JsonValue::Null);
        }
        let inner = match ty {
            Type::NonNullNamed(n) => Type::Named(n.clone()),
            Type::NonNullList(t) => Type::List(t.clone()),
            other => other.clone(),
        };
        let result = match (&inner, resolved) {
            (Type::List(item_ty), Resolved::List(items)) => {
                let mut out = Vec::with_capacity(items.len());
                let mut failed = false;
                for (i, item) in items.into_iter().enumerate() {
                    self.path.push(Seg::Index(i));
                    let v = self.complete(item_ty, fields, Ok(item));
                    self.path.pop();
                    match v {
                        Ok(v) => out.push(v),
                        Err(Propagate) => {
                            failed = true;
                            break;
                        }
                    }
                }
                if failed {
                    Err(Propagate)
                } else {
                    Ok(JsonValue::Array(out))
                }
            }
            (_, Resolved::Leaf(v)) => Ok(v),
            (_, Resolved::Object(obj)) => {
                let sets: Vec<&'a SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
                self.object(&obj, &sets).map(JsonValue::Object)
            }
            (_, Resolved::List(_)) | (_, Resolved::Null) => Ok(JsonValue::Null),
        };
        match result {
            Err(Propagate) if !ty.is_non_null() => Ok(JsonValue::Null),
            other => other,
        }
    }

    fn field_error(&mut self, message: String, field: &Node<Field>) {
        let locations = line_column(field.location(), self.doc);
        let path = self
            .path
            .iter()
            .map(|seg| match seg {
                Seg::Key(k) => JsonValue::from(*k),
                Seg::Index(i) => JsonValue::from(*i as u64),
            })
            .collect();
        self.errors
            .push(error(message, &locations, Some(path), None));
    }

    /// [`Self::collect`], memoised per type and selection sets (bulk runs
    /// execute the same selections hundreds of thousands of times).
    fn collect_cached(
        &mut self,
        type_name: &'static str,
        sets: &[&'a SelectionSet],
    ) -> Collected<'a> {
        let key = (
            type_name,
            sets.iter()
                .map(|s| *s as *const SelectionSet)
                .collect::<Vec<_>>(),
        );
        if let Some(hit) = self.cache.get(&key) {
            return hit.clone();
        }
        let collected = std::rc::Rc::new(self.collect(type_name, sets));
        self.cache.insert(key, collected.clone());
        collected
    }

    /// Groups the fields selected on `type_name` by response key, in order.
    pub(crate) fn collect(
        &self,
        type_name: &str,
        sets: &[&'a SelectionSet],
    ) -> Vec<(&'a str, Vec<&'a Node<Field>>)> {
        collect_fields(self.doc, self.vars, type_name, sets)
    }

    /// Coerced arguments of a field: literals, variables, then defaults.
    fn arguments(&self, field: &Field) -> JsonMap {
        field_arguments(field, self.vars)
    }
}

/// Coerced arguments of a field: literals, variables, then defaults.
pub(crate) fn field_arguments(field: &Field, vars: &JsonMap) -> JsonMap {
    let mut args = JsonMap::new();
    for def in &field.definition.arguments {
        let given = field
            .arguments
            .iter()
            .find(|a| a.name == def.name)
            .and_then(|a| literal(&a.value, vars));
        let value = given.or_else(|| def.default_value.as_ref().and_then(|d| literal(d, vars)));
        if let Some(v) = value {
            args.insert(def.name.as_str(), v);
        }
    }
    args
}
