//! Mutations with state: the shop's commerce state (pricing rules and the
//! order book) and the step that applies `draftOrderCalculate` and
//! `orderCreate` before a mutation document is executed.
//!
//! Execution reads the catalog through a shared borrow, so a mutation cannot
//! write while it is being rendered. Instead `graphql.rs` calls [`apply`]
//! first: it takes the catalog and commerce write locks (always in that
//! order), runs each stateful root field in document order, and keeps the
//! outcomes by response key. The executor then renders the selection sets
//! against those outcomes (`Obj::Mutation`) with read access, so payloads see
//! the state after the mutation, as on Shopify.

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable::Operation;
use apollo_compiler::response::{JsonMap, JsonValue};
use serde::de::DeserializeOwned;

use super::draft::{DraftOrderInput, DraftOutcome, calculate};
use super::exec::field_arguments;
use super::fields::collect_fields;
use super::inputs::decode;
use super::order_create::{OptionsInput, OrderCreateOutcome, OrderInput, create};
use super::orders::OrderBook;
use super::pricing::PricingRules;
use super::{Inner, write};

/// Pricing rules and orders, behind the emulator's `commerce` lock.
pub(crate) struct Commerce {
    pub pricing: PricingRules,
    pub orders: OrderBook,
}

/// What a stateful root mutation field produced.
pub(crate) enum Outcome {
    Draft(Box<DraftOutcome>),
    Create(Box<OrderCreateOutcome>),
}

/// Outcomes of one mutation document's stateful fields, by response key; a
/// `String` is a field error.
#[derive(Default)]
pub(crate) struct Applied {
    outcomes: Vec<(String, Result<Outcome, String>)>,
    ran_order_create: bool,
}

impl Applied {
    /// The outcome of the field at response key `key`, if it was applied.
    pub(crate) fn get(&self, key: &str) -> Option<&Result<Outcome, String>> {
        self.outcomes.iter().find(|(k, _)| k == key).map(|(_, o)| o)
    }

    /// Whether the document ran `orderCreate` (the lost-response fault
    /// applies only to those).
    pub(crate) fn ran_order_create(&self) -> bool {
        self.ran_order_create
    }
}

/// Root mutation fields that change or read commerce state.
fn is_stateful(name: &str) -> bool {
    matches!(name, "draftOrderCalculate" | "orderCreate")
}

/// Decodes an optional input object; absent or `null` is the default.
fn decode_or_default<T: DeserializeOwned + Default>(
    value: Option<&JsonValue>,
) -> Result<T, String> {
    match value {
        None | Some(JsonValue::Null) => Ok(T::default()),
        Some(v) => decode(Some(v)),
    }
}

/// Applies the stateful root fields of mutation `op` in document order.
pub(crate) fn apply(
    inner: &Inner,
    doc: &ExecutableDocument,
    op: &Operation,
    vars: &JsonMap,
) -> Applied {
    let fields = collect_fields(doc, vars, "Mutation", &[&op.selection_set]);
    let stateful: Vec<_> = fields
        .into_iter()
        .filter(|(_, f)| is_stateful(f[0].name.as_str()))
        .collect();
    let mut applied = Applied::default();
    if stateful.is_empty() {
        return applied;
    }
    let mut catalog = write(&inner.catalog);
    let mut commerce = write(&inner.commerce);
    let Commerce { pricing, orders } = &mut *commerce;
    for (key, fields) in stateful {
        let field = fields[0];
        let args = field_arguments(field, vars);
        let outcome = match field.name.as_str() {
            "draftOrderCalculate" => decode::<DraftOrderInput>(args.get("input"))
                .map(|input| Outcome::Draft(Box::new(calculate(&catalog, pricing, &input)))),
            _ => {
                applied.ran_order_create = true;
                let input = decode::<OrderInput>(args.get("order"));
                let options = decode_or_default::<OptionsInput>(args.get("options"));
                input.and_then(|input| {
                    options.map(|options| {
                        let delay = inner.faults.order_index_delay();
                        Outcome::Create(Box::new(create(
                            &mut catalog,
                            orders,
                            pricing,
                            &input,
                            &options,
                            delay,
                        )))
                    })
                })
            }
        };
        applied.outcomes.push((key.to_owned(), outcome));
    }
    applied
}
