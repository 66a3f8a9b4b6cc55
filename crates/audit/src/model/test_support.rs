//! Model values for the unit tests of the audit (the report's JSON is not the audit's to
//! read).

use super::*;

/// A calloc decided `verdict` (`checked`, `unchecked`, anything else unknown) at `address`.
pub(crate) fn calloc(verdict: &str, address: &str, reason: &str) -> CallocFinding {
    CallocFinding {
        verdict: match verdict {
            "checked" => CallocVerdict::Checked,
            "unchecked" => CallocVerdict::Unchecked,
            _ => CallocVerdict::Unknown,
        },
        function: None,
        address: Some(address.to_string()),
        reason: reason.to_string(),
        chain: vec![],
        chain_links: vec![],
        evidence: vec![],
        location: None,
    }
}

/// An x86 executable at `path`, statically linked (`libc: static`), with no calloc.
pub(crate) fn static_program(path: &str, qnx: bool) -> Binary {
    Binary {
        path: path.to_string(),
        arch: "x86".into(),
        elf_type: "executable".into(),
        interpreter: None,
        needed: vec![],
        libc: Some("static".into()),
        qnx,
        imports_calloc: false,
        imports_malloc: false,
        imports_realloc: false,
        static_calloc: None,
        network: false,
        network_imports: vec![],
        stripped_static: false,
        calloc_search: None,
        located_by_address: vec![],
        sha256: None,
    }
}

/// A directory target with a verdict and nothing found yet.
pub(crate) fn directory(path: &str, verdict: Verdict) -> Target {
    Target {
        path: path.to_string(),
        kind: TargetKind::Directory,
        verdict,
        reasons: vec![],
        os: Os::default(),
        libc: vec![],
        binaries: vec![],
        symlinks: vec![],
        images: vec![],
        errors: vec![],
        stats: ScanStats::default(),
        exposure: vec![],
        mitigations: vec![],
    }
}
