//! Writes a bulk operation's JSONL result: one line per node, nested
//! connection nodes as their own lines carrying `"__parentId"`.
//!
//! Lines are written as they are produced (a window of a few root nodes is
//! buffered), so 100,000 products never sit in memory twice. Children are
//! deliberately *not* written next to their parents: the children of one
//! window of roots are shuffled (seeded, so runs are reproducible) and
//! written after the next window's root lines. Within a window, shallower
//! levels come first, so every parent line precedes its children, but
//! clients must still not rely on line order (Shopify makes no promise).

use std::collections::VecDeque;
use std::io::{self, BufWriter, Write};
use std::sync::Arc;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable::SelectionSet;
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::validation::Valid;
use tempfile::{NamedTempFile, TempPath};

use super::data::{Product, Publication, ShopInfo};
use super::exec::{Executor, select_operation};
use super::resolve::{Context, Obj};

/// Root nodes per shuffle window.
const WINDOW: usize = 16;

/// The root nodes of a bulk query, captured when it started.
pub(crate) enum Roots {
    Products(Vec<Arc<Product>>),
    Publications(Vec<Publication>),
}

/// Everything a bulk run needs, owned so it can move to a blocking thread.
pub(crate) struct BulkPlan {
    pub doc: Arc<Valid<ExecutableDocument>>,
    pub roots: Roots,
    pub shop: ShopInfo,
    pub publications: Vec<Publication>,
    pub online_store: Option<u64>,
    pub seed: u64,
    pub file: NamedTempFile,
}

/// What the run produced.
pub(crate) struct BulkOutput {
    pub object_count: u64,
    pub root_object_count: u64,
    pub file_size: u64,
    pub path: TempPath,
}

fn write_line(out: &mut impl Write, map: JsonMap) -> io::Result<u64> {
    let bytes = serde_json::to_vec(&JsonValue::Object(map)).map_err(io::Error::other)?;
    out.write_all(&bytes)?;
    out.write_all(b"\n")?;
    Ok(bytes.len() as u64 + 1)
}

/// Runs the plan and writes the JSONL file.
pub(crate) fn write(plan: BulkPlan) -> io::Result<BulkOutput> {
    let BulkPlan {
        doc,
        roots,
        shop,
        publications,
        online_store,
        seed,
        file,
    } = plan;
    let vars = JsonMap::new();
    let cx = Context {
        shop: &shop,
        publications: &publications,
        catalog: None,
        online_store,
        bulk: true,
        host: None,
    };
    let mut ex = Executor::new(&doc, &vars, cx);
    let op = select_operation(&doc, None)
        .map_err(|_| io::Error::other("bulk query has no operation"))?;
    let root_sets: Vec<&SelectionSet> = {
        let groups = ex.collect("QueryRoot", &[&op.selection_set]);
        let fields: Vec<_> = groups
            .into_iter()
            .filter(|(key, _)| *key != "__typename")
            .flat_map(|(_, fields)| fields)
            .collect();
        match fields.first() {
            Some(first) => ex.node_sets(first.definition.ty.inner_named_type().as_str(), &fields),
            None => Vec::new(),
        }
    };
    let root_objs: Vec<Obj<'_>> = match &roots {
        Roots::Products(products) => products.iter().map(|p| Obj::Product(p)).collect(),
        Roots::Publications(pubs) => pubs.iter().map(Obj::Publication).collect(),
    };
    let (file, path) = file.into_parts();
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut size = 0u64;
    let mut objects = 0u64;
    let mut root_count = 0u64;
    let mut deferred: Vec<(usize, JsonMap)> = Vec::new();
    for window in root_objs.chunks(WINDOW) {
        let mut children: Vec<(usize, JsonMap)> = Vec::new();
        for root in window {
            ex.children.clear();
            let Ok(map) = ex.object(root, &root_sets) else {
                continue;
            };
            size += write_line(&mut out, map)?;
            objects += 1;
            root_count += 1;
            let mut queue: VecDeque<_> = ex.children.drain(..).map(|b| (b, 1)).collect();
            while let Some((batch, depth)) = queue.pop_front() {
                for node in &batch.nodes {
                    if let Ok(mut map) = ex.object(node, &batch.sets) {
                        map.insert("__parentId", JsonValue::from(batch.parent_id.as_str()));
                        children.push((depth, map));
                    }
                    queue.extend(ex.children.drain(..).map(|b| (b, depth + 1)));
                }
            }
        }
        for (_, map) in shuffled(std::mem::replace(&mut deferred, children), &mut rng) {
            size += write_line(&mut out, map)?;
            objects += 1;
        }
    }
    for (_, map) in shuffled(deferred, &mut rng) {
        size += write_line(&mut out, map)?;
        objects += 1;
    }
    out.flush()?;
    Ok(BulkOutput {
        object_count: objects,
        root_object_count: root_count,
        file_size: size,
        path,
    })
}

/// Shuffles lines within each depth, shallow levels first.
fn shuffled(mut lines: Vec<(usize, JsonMap)>, rng: &mut fastrand::Rng) -> Vec<(usize, JsonMap)> {
    rng.shuffle(&mut lines);
    lines.sort_by_key(|(depth, _)| *depth);
    lines
}
