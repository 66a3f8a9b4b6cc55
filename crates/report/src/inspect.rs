//! The JSON form of `inspect` (one file's calloc analysis): the audit's
//! [`Inspection`] with the search as the report writes it.

use serde::Serialize;

use badalloc_audit_core::inspect::Inspection;

use badalloc_audit_core::model::{CallocAnalysis, CallocVerdict};

use crate::convert::lines;
use crate::{wire_name, CallocSearchReport, ChainLink, EvidenceLine};

/// One calloc's analysis with its full listing, as `inspect` writes it.
#[derive(Serialize)]
struct AnalysisReport {
    #[serde(with = "wire_name")]
    verdict: CallocVerdict,
    chain: Vec<String>,
    chain_links: Vec<ChainLink>,
    function: Option<String>,
    address: String,
    evidence: Vec<EvidenceLine>,
    reason: String,
    listing: Vec<EvidenceLine>,
}

impl From<CallocAnalysis> for AnalysisReport {
    fn from(a: CallocAnalysis) -> AnalysisReport {
        AnalysisReport {
            verdict: a.verdict,
            chain: a.chain,
            chain_links: a.chain_links.into_iter().map(ChainLink::from).collect(),
            function: a.function,
            address: a.address,
            evidence: lines(a.evidence),
            reason: a.reason,
            listing: lines(a.listing),
        }
    }
}

#[derive(Serialize)]
struct InspectionReport {
    path: String,
    arch: String,
    qnx: bool,
    /// Null when the file defines no calloc and none was located.
    calloc: Option<AnalysisReport>,
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
        calloc: i.calloc.map(AnalysisReport::from),
        search: i.search.map(CallocSearchReport::from),
        located_by: i.located_by.map(|b| b.as_str()),
        location_evidence: lines(i.location_evidence),
    };
    serde_json::to_string_pretty(&wire).unwrap_or_default() + "\n"
}
