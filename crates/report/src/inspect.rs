//! The JSON form of `inspect` (one file's calloc analysis): the audit's
//! [`Inspection`] with the search as the report writes it.

use serde::Serialize;

use badalloc_audit_core::inspect::Inspection;

use crate::{CallocAnalysis, CallocSearchReport, EvidenceLine};

#[derive(Serialize)]
struct InspectionReport {
    path: String,
    arch: String,
    qnx: bool,
    /// Null when the file defines no calloc and none was located.
    calloc: Option<CallocAnalysis>,
    /// A statically linked executable without symbols: the search for its calloc.
    search: Option<CallocSearchReport>,
    /// How the calloc above was located when it has no symbol (`behaviour`).
    located_by: Option<&'static str>,
    location_evidence: Vec<EvidenceLine>,
}

/// `inspect --format json`, pretty, ended by a line break.
pub fn render_json(i: Inspection) -> String {
    let wire = InspectionReport {
        path: i.path,
        arch: i.arch,
        qnx: i.qnx,
        calloc: i.calloc,
        search: i.search.map(CallocSearchReport::from),
        located_by: i.located_by.map(|b| b.as_str()),
        location_evidence: i.location_evidence,
    };
    serde_json::to_string_pretty(&wire).unwrap_or_default() + "\n"
}
