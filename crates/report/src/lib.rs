//! The renderings of a report: text, JSON, SARIF, CycloneDX, HTML, NDJSON, the fleet
//! summary, and the diff of two reports. Every renderer is a pure function of its input.
//!
//! Depends on `badalloc-audit-core` (the results it renders) and `badalloc-formats`, serde,
//! serde_json and rayon; only the binary depends on it.
//!
//! Stage 1 of issue 18: the wire types of JSON schema v1 still live in the audit crate
//! (`badalloc_audit_core::report_model`), which the core builds its results in; they are
//! re-exported here so renderers name them as before (`super::Report`). Stage 2 moves them
//! here, apart from the domain model.

pub mod cyclonedx;
pub mod diff;
pub mod group;
pub mod html;
pub mod json;
pub mod ndjson;
pub mod plain;
pub mod sarif;
pub mod summary;
pub mod text;
pub mod uri;

pub use badalloc_audit_core::report_model::*;

// The old in-crate paths of the advisory and the name escaping (issue 18, stage 1), so the
// moved files keep theirs.
use badalloc_audit_core::advisory;
use badalloc_formats::names;
