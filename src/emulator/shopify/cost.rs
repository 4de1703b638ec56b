//! Static `requestedQueryCost`, following Shopify's published rules:
//!
//! - scalar and enum fields cost 0, `__typename` 0;
//! - an object field costs 1 plus the cost of its selection; a list of
//!   objects that is not a connection (`selectedOptions`) also costs 1 plus
//!   its selection (not multiplied);
//! - an interface or union selection costs the maximum over its possible
//!   object types;
//! - a connection costs `2 + n × (1 + node selection)`, where `n` is `first`
//!   or `last` (0 when neither is given) and the node selection is what is
//!   selected under `edges { node }` and `nodes` (the larger of the two);
//!   `pageInfo`, `cursor` and the edge objects are covered by the 2;
//! - each root mutation field costs 10 regardless of its selection.
//!
//! The executor counts `actualQueryCost` with the same rules but with the
//! number of nodes actually returned (`exec.rs`).

use std::collections::HashMap;
use std::sync::LazyLock;

use apollo_compiler::executable::{Field, Operation, SelectionSet};
use apollo_compiler::response::JsonMap;
use apollo_compiler::schema::{ExtendedType, Implementers};
use apollo_compiler::{ExecutableDocument, Name, Node};

use super::exec::{SCHEMA, is_connection};
use super::fields::{collect_fields, literal};

static IMPLEMENTERS: LazyLock<HashMap<Name, Implementers>> =
    LazyLock::new(|| SCHEMA.implementers_map().into_iter().collect());

/// The requested cost of running `op` with `vars`.
pub(crate) fn requested_cost(doc: &ExecutableDocument, op: &Operation, vars: &JsonMap) -> u64 {
    let walker = Walker { doc, vars };
    walker.selection(op.object_type().as_str(), &[&op.selection_set])
}

struct Walker<'d> {
    doc: &'d ExecutableDocument,
    vars: &'d JsonMap,
}

impl<'d> Walker<'d> {
    fn selection(&self, type_name: &str, sets: &[&'d SelectionSet]) -> u64 {
        match SCHEMA.types.get(type_name) {
            Some(ExtendedType::Object(_)) => self.fields(type_name, sets),
            Some(ExtendedType::Interface(_)) => IMPLEMENTERS
                .get(type_name)
                .map(|imp| {
                    imp.objects
                        .iter()
                        .map(|t| self.fields(t, sets))
                        .max()
                        .unwrap_or(0)
                })
                .unwrap_or(0),
            Some(ExtendedType::Union(u)) => u
                .members
                .iter()
                .map(|t| self.fields(t.name.as_str(), sets))
                .max()
                .unwrap_or(0),
            _ => 0,
        }
    }

    fn fields(&self, type_name: &str, sets: &[&'d SelectionSet]) -> u64 {
        collect_fields(self.doc, self.vars, type_name, sets)
            .iter()
            .map(|(_, fields)| self.field(type_name, fields))
            .sum()
    }

    fn field(&self, parent: &str, fields: &[&'d Node<Field>]) -> u64 {
        let field = fields[0];
        if field.name == "__typename" {
            return 0;
        }
        if parent == "Mutation" {
            return 10;
        }
        let named = field.definition.ty.inner_named_type().as_str();
        if SCHEMA.types.get(named).is_none_or(|t| t.is_leaf()) {
            return 0;
        }
        let subsets: Vec<&'d SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
        if !is_connection(named) {
            return 1 + self.selection(named, &subsets);
        }
        let size = ["first", "last"]
            .iter()
            .filter_map(|arg| field.specified_argument_by_name(arg))
            .filter_map(|v| literal(v, self.vars))
            .filter_map(|v| v.as_u64())
            .max()
            .unwrap_or(0);
        let mut node_cost = 0;
        for (_, conn_fields) in collect_fields(self.doc, self.vars, named, &subsets) {
            let sub = conn_fields[0];
            let node_type = sub.definition.ty.inner_named_type().as_str();
            let sets: Vec<&'d SelectionSet> =
                conn_fields.iter().map(|f| &f.selection_set).collect();
            let cost = match sub.name.as_str() {
                "nodes" => 1 + self.selection(node_type, &sets),
                "edges" => collect_fields(self.doc, self.vars, node_type, &sets)
                    .iter()
                    .filter(|(_, f)| f[0].name == "node")
                    .map(|(_, f)| {
                        let ty = f[0].definition.ty.inner_named_type().as_str();
                        let node_sets: Vec<&'d SelectionSet> =
                            f.iter().map(|x| &x.selection_set).collect();
                        1 + self.selection(ty, &node_sets)
                    })
                    .max()
                    .unwrap_or(0),
                _ => 0,
            };
            node_cost = node_cost.max(cost);
        }
        2 + size * node_cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::shopify::exec::{coerce_variables, parse_document, select_operation};
    use apollo_compiler::response::JsonValue;

    fn cost(query: &str, vars: serde_json::Value) -> u64 {
        let doc = parse_document(query).unwrap_or_else(|e| panic!("{e:?}"));
        let op = select_operation(&doc, None).unwrap();
        let raw: JsonMap = match serde_json::from_value::<JsonValue>(vars).unwrap() {
            JsonValue::Object(m) => m,
            _ => JsonMap::new(),
        };
        let vars = coerce_variables(&doc, op, &raw).unwrap();
        requested_cost(&doc, op, &vars)
    }

    const PRODUCTS_PAGE: &str = include_str!("../../../queries/shopify/products_page.graphql");

    #[test]
    fn products_page_costs_two_plus_first_times_node_cost() {
        // Product node = 8 + 2·mediaFirst + 9·variantsFirst (see the module doc).
        for (first, variants, media) in [(5, 10, 3), (10, 10, 1), (25, 3, 2), (1, 1, 1)] {
            let vars = serde_json::json!({
                "first": first, "variantsFirst": variants, "mediaFirst": media,
                "publicationId": "gid://shopify/Publication/1"
            });
            assert_eq!(
                cost(PRODUCTS_PAGE, vars),
                2 + first * (8 + 2 * media + 9 * variants)
            );
        }
        let vars = serde_json::json!({
            "first": 9, "variantsFirst": 10, "mediaFirst": 1, "publicationId": "gid://shopify/Publication/1"
        });
        assert!(cost(PRODUCTS_PAGE, vars) < 1000);
    }

    #[test]
    fn shop_publications_and_mutations_cost_as_documented() {
        let shop = include_str!("../../../queries/shopify/shop.graphql");
        // shop 1 + primaryDomain 1 + shopAddress 1 + shopPolicies 1.
        assert_eq!(cost(shop, serde_json::json!({})), 4);
        let pubs = include_str!("../../../queries/shopify/publications.graphql");
        // 2 + 10 × (publication 1 + catalog 1).
        assert_eq!(cost(pubs, serde_json::json!({"first": 10})), 22);
        let bulk = include_str!("../../../queries/shopify/bulk_run_query.graphql");
        assert_eq!(
            cost(
                bulk,
                serde_json::json!({"query": "{ products { edges { node { id } } } }"})
            ),
            10
        );
        let status = include_str!("../../../queries/shopify/bulk_status.graphql");
        assert_eq!(
            cost(
                status,
                serde_json::json!({"id": "gid://shopify/BulkOperation/1"})
            ),
            1
        );
        let variants = include_str!("../../../queries/shopify/product_variants.graphql");
        // product 1 + variants(2 + 250 × 9).
        assert_eq!(
            cost(
                variants,
                serde_json::json!({"id": "gid://shopify/Product/1", "first": 250})
            ),
            2253
        );
    }

    #[test]
    fn edges_and_nodes_on_one_connection_are_not_counted_twice() {
        let q = "{ products(first: 10) { edges { cursor node { id category { fullName } } } nodes { id } pageInfo { hasNextPage } } }";
        assert_eq!(cost(q, serde_json::json!({})), 2 + 10 * 2);
    }
}
