//! Build script: makes schema and query edits rebuild the `graphql_client`
//! derives in `src/source/shopify/gql.rs`.
//!
//! The derive macro only `include_str!`s the query documents, so without these
//! lines an edit to `queries/shopify/schema.graphql` (or a new document in the
//! folder) would not trigger a rebuild and a stale field would go unnoticed.

use std::fs;
use std::path::Path;

fn main() {
    let dir = Path::new("queries/shopify");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", dir.display());
    // A missing folder is reported by the derives themselves with the path;
    // here we only register what exists.
    if let Ok(entries) = fs::read_dir(dir) {
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "graphql"))
            .collect();
        paths.sort();
        for path in paths {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
