//! The report: the wire types of JSON schema v1 ([`wire`]), converted from the audit's
//! model once (`convert`), and their renderings: text, JSON, SARIF, CycloneDX, HTML,
//! NDJSON, the fleet summary, and the diff of two reports. Every renderer is a pure
//! function of its input; `diff` and `summary` also read reports back from JSON.
//!
//! Depends on `badalloc-audit-core` (the model it converts, the advisory and the rule
//! table) and `badalloc-formats`, serde, serde_json and rayon; only the binary depends on
//! it.

mod convert;
pub mod cyclonedx;
pub mod diff;
pub mod findings;
pub mod group;
pub mod html;
pub mod inspect;
pub mod json;
pub mod ndjson;
pub mod plain;
pub mod sarif;
pub mod summary;
pub mod text;
pub mod uri;
pub mod wire;
mod wire_name;

pub use wire::*;
