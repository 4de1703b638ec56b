//! The GraphQL request pipeline after HTTP concerns: parse and validate
//! (cached), pick the operation, coerce variables, compute the requested
//! cost, reject `MAX_COST_EXCEEDED`, apply the throttle (storm fault or
//! bucket), apply stateful mutation fields (`mutate.rs`), execute, refund
//! unused points and attach `extensions.cost`.

use std::sync::Arc;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::validation::Valid;

use super::bucket::ThrottleStatus;
use super::cost::requested_cost;
use super::exec::{
    Executor, code_extensions, coerce_variables, error, parse_document, select_operation,
};
use super::faults::LostResponse;
use super::mutate::{Applied, apply};
use super::resolve::{BulkHost, Context, Obj};
use super::{Inner, lock, read};

/// Documents kept parsed; cleared when full.
const DOC_CACHE_LIMIT: usize = 256;

/// A response body, and whether an injected fault loses it after the work
/// was committed.
pub(crate) struct Ran {
    pub body: JsonValue,
    pub lost: Option<LostResponse>,
}

impl From<JsonValue> for Ran {
    fn from(body: JsonValue) -> Self {
        Ran { body, lost: None }
    }
}

/// One decoded GraphQL request.
pub(crate) struct GraphqlRequest {
    pub query: String,
    pub variables: JsonMap,
    pub operation_name: Option<String>,
}

fn object(entries: Vec<(&str, JsonValue)>) -> JsonValue {
    let mut map = JsonMap::new();
    for (k, v) in entries {
        map.insert(k, v);
    }
    JsonValue::Object(map)
}

/// `extensions.cost` as Shopify prints it (`maximumAvailable` and
/// `restoreRate` are floats, `currentlyAvailable` an integer).
fn cost_extensions(requested: u64, actual: Option<u64>, status: ThrottleStatus) -> JsonValue {
    let throttle = object(vec![
        (
            "maximumAvailable",
            JsonValue::from(status.maximum_available as f64),
        ),
        (
            "currentlyAvailable",
            JsonValue::from(status.currently_available),
        ),
        ("restoreRate", JsonValue::from(status.restore_rate as f64)),
    ]);
    let cost = object(vec![
        ("requestedQueryCost", JsonValue::from(requested)),
        (
            "actualQueryCost",
            actual.map_or(JsonValue::Null, JsonValue::from),
        ),
        ("throttleStatus", throttle),
    ]);
    object(vec![("cost", cost)])
}

fn errors_only(errors: Vec<JsonValue>) -> JsonValue {
    object(vec![("errors", JsonValue::Array(errors))])
}

fn document(inner: &Inner, query: &str) -> Result<Arc<Valid<ExecutableDocument>>, Vec<JsonValue>> {
    if let Some(doc) = lock(&inner.doc_cache).get(query) {
        return Ok(doc.clone());
    }
    let doc = Arc::new(parse_document(query)?);
    let mut cache = lock(&inner.doc_cache);
    if cache.len() >= DOC_CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(query.to_owned(), doc.clone());
    Ok(doc)
}

/// Runs one request and returns the response body (HTTP 200 unless a
/// lost-response fault says otherwise).
pub(crate) fn run(inner: &Inner, request: GraphqlRequest) -> Ran {
    let doc = match document(inner, &request.query) {
        Ok(doc) => doc,
        Err(errors) => return errors_only(errors).into(),
    };
    let op = match select_operation(&doc, request.operation_name.as_deref()) {
        Ok(op) => op,
        Err(e) => return errors_only(vec![e]).into(),
    };
    let vars = match coerce_variables(&doc, op, &request.variables) {
        Ok(v) => v,
        Err(errors) => return errors_only(errors).into(),
    };
    let name = request
        .operation_name
        .clone()
        .or_else(|| op.name.as_ref().map(|n| n.to_string()))
        .unwrap_or_else(|| "anonymous".to_owned());
    let requested = requested_cost(&doc, op, &vars);
    if requested > inner.max_query_cost {
        let status = lock(&inner.bucket).status();
        let mut ext = code_extensions("MAX_COST_EXCEEDED");
        ext.insert("cost", JsonValue::from(requested));
        ext.insert("maxCost", JsonValue::from(inner.max_query_cost));
        ext.insert(
            "documentation",
            JsonValue::from("https://shopify.dev/api/usage/rate-limits"),
        );
        let message = format!(
            "Query cost is {requested}, which exceeds the single query max cost limit ({}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n",
            inner.max_query_cost
        );
        return object(vec![
            (
                "errors",
                JsonValue::Array(vec![error(message, &[], None, Some(ext))]),
            ),
            ("extensions", cost_extensions(requested, None, status)),
        ])
        .into();
    }
    let charged = if inner.faults.take_throttle() {
        Err(lock(&inner.bucket).status())
    } else {
        lock(&inner.bucket).try_charge(requested)
    };
    if let Err(status) = charged {
        inner.counters.throttled();
        tracing::debug!(graphql.operation = %name, cost.requested = requested, "emulated request throttled");
        let mut ext = code_extensions("THROTTLED");
        ext.insert(
            "documentation",
            JsonValue::from("https://shopify.dev/api/usage/rate-limits"),
        );
        return object(vec![
            (
                "errors",
                JsonValue::Array(vec![error("Throttled", &[], None, Some(ext))]),
            ),
            ("extensions", cost_extensions(requested, None, status)),
        ])
        .into();
    }
    inner.counters.operation(&name);
    let applied = if op.is_mutation() {
        apply(inner, &doc, op, &vars)
    } else {
        Applied::default()
    };
    let (data, errors, actual) = {
        // Lock order: catalog, then commerce (as in `mutate::apply`).
        let catalog = read(&inner.catalog);
        let commerce = read(&inner.commerce);
        let host: &dyn BulkHost = &*inner.bulk;
        let cx = Context {
            shop: &catalog.shop,
            publications: &catalog.publications,
            catalog: Some(&catalog),
            online_store: catalog.online_store_id(),
            bulk: false,
            host: Some(host),
        };
        let mut ex = Executor::new(&doc, &vars, cx);
        let root = if op.is_mutation() {
            Obj::Mutation(&applied)
        } else {
            Obj::Query(&commerce)
        };
        let data = ex.execute(op, root);
        (data, std::mem::take(&mut ex.errors), ex.cost.min(requested))
    };
    let status = {
        let mut bucket = lock(&inner.bucket);
        bucket.refund(requested - actual);
        bucket.status()
    };
    inner.counters.charged(actual);
    let mut body = Vec::new();
    if !errors.is_empty() {
        body.push(("errors", JsonValue::Array(errors)));
    }
    body.push(("data", data.map_or(JsonValue::Null, JsonValue::Object)));
    body.push((
        "extensions",
        cost_extensions(requested, Some(actual), status),
    ));
    let lost = if applied.ran_order_create() {
        inner.faults.take_lost_order_create()
    } else {
        None
    };
    Ran {
        body: object(body),
        lost,
    }
}
