//! The `inspect` command: the calloc analysis of one ELF file, for a reviewer to check by eye.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::calloc::locate::{locate, needs_search};
use crate::calloc::{analyze_calloc, CallocAnalysis};
use crate::elf::ElfFile;
use crate::facts::facts_of;
use crate::report::{CallocReport, CallocSearchReport, EvidenceLine};
use crate::source::read_file;

#[derive(Serialize)]
pub struct Inspection {
    pub path: String,
    pub arch: String,
    pub qnx: bool,
    /// Null when the file defines no calloc and none was located.
    pub calloc: Option<CallocAnalysis>,
    /// A statically linked executable without symbols: the search for its calloc.
    pub search: Option<CallocSearchReport>,
    /// How the calloc above was located when it has no symbol (`behaviour`), and the shape
    /// that was seen.
    pub located_by: Option<String>,
    pub location_evidence: Vec<EvidenceLine>,
}

/// Read and analyse one file. Errors name the file and, where it applies, the offset.
pub fn inspect(path: &Path) -> Result<Inspection, String> {
    let bytes = read_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let elf = ElfFile::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let shown = path.display().to_string();
    let facts = facts_of(&shown, &elf, None);
    let mut i = Inspection {
        path: shown,
        arch: elf.arch_name(),
        qnx: facts.is_qnx(),
        calloc: analyze_calloc(&elf),
        search: None,
        located_by: None,
        location_evidence: Vec::new(),
    };
    if i.calloc.is_none() && needs_search(&elf) {
        let s = crate::guard::contain(|| locate(&elf)).ok_or_else(|| {
            format!(
                "{}: search for calloc aborted: the machine-code decoder failed (internal panic)",
                i.path
            )
        })?;
        if let Some(l) = &s.calloc {
            let loc = CallocReport::located(l, "behaviour").location;
            i.located_by = loc.as_ref().map(|l| l.by.clone());
            i.location_evidence = loc.map(|l| l.evidence).unwrap_or_default();
            i.calloc = Some(l.analysis.clone());
        }
        i.search = Some(CallocSearchReport::of(&s));
    }
    Ok(i)
}

fn verdict_word(v: crate::calloc::CallocVerdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn lines(s: &mut String, title: &str, lines: &[EvidenceLine]) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n{title}:");
    for e in lines {
        let _ = writeln!(s, "  {:>10}  {}", e.address, e.text);
    }
}

pub fn render_text(i: &Inspection) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}{})",
        i.path,
        i.arch,
        if i.qnx { ", QNX" } else { "" }
    );
    if let Some(search) = &i.search {
        let _ = writeln!(
            s,
            "statically linked, no symbols: search for calloc {}: {}",
            search.outcome, search.detail
        );
    }
    match &i.calloc {
        Some(c) => render_calloc(&mut s, i, c),
        None if i.search.is_some() => {
            let _ = writeln!(s, "no function was taken for calloc");
        }
        None => {
            let _ = writeln!(s, "no calloc defined in this file");
        }
    }
    for c in i.search.iter().flat_map(|x| &x.calloc_like) {
        let _ = writeln!(
            s,
            "\ncalloc-like (not taken for the C library's calloc) at {}: {}",
            c.address.as_deref().unwrap_or("?"),
            verdict_word(c.verdict)
        );
        let _ = writeln!(s, "reason:  {}", c.reason);
        if let Some(l) = &c.location {
            lines(&mut s, "seen", &l.evidence);
        }
        lines(&mut s, "decisive instructions", &c.evidence);
    }
    s
}

fn render_calloc(s: &mut String, i: &Inspection, c: &CallocAnalysis) {
    if let Some(by) = &i.located_by {
        let _ = writeln!(
            s,
            "calloc has no symbol: located by {by} (confidence medium: below a named symbol)"
        );
        lines(s, "located by", &i.location_evidence);
        let _ = writeln!(s);
    }
    let chain: Vec<String> = c
        .chain_links
        .iter()
        .map(|l| format!("{} @ {}", l.name, l.address))
        .collect();
    let _ = writeln!(s, "chain:   {}", chain.join(" -> "));
    let _ = writeln!(s, "verdict: {}", verdict_word(c.verdict));
    let _ = writeln!(s, "reason:  {}", c.reason);
    lines(s, "decisive instructions", &c.evidence);
    if !c.listing.is_empty() {
        let _ = writeln!(
            s,
            "\n{} (annotated):",
            c.function.as_deref().unwrap_or("function")
        );
        for e in &c.listing {
            let _ = writeln!(s, "  {:>10}  {}", e.address, e.text);
        }
    }
}
