//! Cross-file tests of the protocol layer: schema conformance of every
//! rendered session and error, spec examples parsing, JSONPath `param`s.

mod fixtures;
mod parse;
mod render;
mod schema;
