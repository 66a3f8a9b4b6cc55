//! The `inspect` command: the calloc analysis of one ELF file, for a reviewer to check by eye.

use std::fmt::Write;
use std::path::Path;

use crate::facts::facts_of;
use crate::model::{CallocFinding, CallocSearch, CallocVerdict, EvidenceLine, LocatedBy};
use crate::source::read_named_file;
use badalloc_calloc::locate::{locate, needs_search};
use badalloc_calloc::{analyze_calloc, CallocAnalysis};
use badalloc_elf::ElfFile;
use badalloc_formats::names::{escape_path, escape_text as esc};

/// What `inspect` found (its JSON form is `badalloc_report::inspect`).
pub struct Inspection {
    pub path: String,
    pub arch: String,
    pub qnx: bool,
    /// Null when the file defines no calloc and none was located.
    pub calloc: Option<CallocAnalysis>,
    /// A statically linked executable without symbols: the search for its calloc.
    pub search: Option<CallocSearch>,
    /// How the calloc above was located when it has no symbol (`behaviour`), and the shape
    /// that was seen.
    pub located_by: Option<LocatedBy>,
    pub location_evidence: Vec<EvidenceLine>,
}

/// Read and analyse one file. Errors name the file and, where it applies, the offset.
///
/// `path` is a file on disk, or a file inside images named by the virtual path `scan`
/// prints (`fw.ifs!/proc/boot/libc.so.3`, `dump.bin@0x40000!/...`), read through the same
/// image readers.
pub fn inspect(path: &Path) -> Result<Inspection, String> {
    match read_named_file(path) {
        Ok(bytes) => analyse(escape_path(path), &bytes),
        // `image!/inside` is no path on disk.
        Err(e) => match crate::image_cmd::read_virtual(path) {
            Some(file) => {
                let file = file?;
                analyse(file.shown, &file.bytes)
            }
            None => Err(format!("cannot read {}: {e}", path.display())),
        },
    }
}

fn analyse(shown: String, bytes: &[u8]) -> Result<Inspection, String> {
    let elf = ElfFile::parse(bytes).map_err(|e| format!("{}: {e}", esc(&shown)))?;
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
        let s = badalloc_elf::guard::contain(|| locate(&elf)).ok_or_else(|| {
            format!(
                "{}: search for calloc aborted: the machine-code decoder failed (internal panic)",
                esc(&i.path)
            )
        })?;
        if let Some(l) = &s.calloc {
            let loc = CallocFinding::located(l, LocatedBy::Behaviour).location;
            i.located_by = loc.as_ref().map(|l| l.by);
            i.location_evidence = loc.map(|l| l.evidence).unwrap_or_default();
            i.calloc = Some(l.analysis.clone());
        }
        i.search = Some(CallocSearch::of(&s));
    }
    Ok(i)
}

fn verdict_word(v: CallocVerdict) -> &'static str {
    match v {
        CallocVerdict::Checked => "checked",
        CallocVerdict::Unchecked => "unchecked",
        CallocVerdict::Unknown => "unknown",
    }
}

fn lines(s: &mut String, title: &str, lines: &[EvidenceLine]) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n{title}:");
    for e in lines {
        let _ = writeln!(s, "  {:>10}  {}", esc(&e.address), esc(&e.text));
    }
}

pub fn render_text(i: &Inspection) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}{})",
        esc(&i.path),
        esc(&i.arch),
        if i.qnx { ", QNX" } else { "" }
    );
    if let Some(search) = &i.search {
        let _ = writeln!(
            s,
            "statically linked, no symbols: search for calloc {}: {}",
            search.outcome.as_str(),
            esc(&search.detail)
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
            esc(c.address.as_deref().unwrap_or("?")),
            verdict_word(c.verdict)
        );
        let _ = writeln!(s, "reason:  {}", esc(&c.reason));
        if let Some(l) = &c.location {
            lines(&mut s, "seen", &l.evidence);
        }
        lines(&mut s, "decisive instructions", &c.evidence);
    }
    s
}

fn render_calloc(s: &mut String, i: &Inspection, c: &CallocAnalysis) {
    if let Some(by) = i.located_by {
        let _ = writeln!(
            s,
            "calloc has no symbol: located by {} (confidence medium: below a named symbol)",
            by.as_str()
        );
        lines(s, "located by", &i.location_evidence);
        let _ = writeln!(s);
    }
    let chain: Vec<String> = c
        .chain_links
        .iter()
        .map(|l| format!("{} @ {}", l.name, l.address))
        .collect();
    let _ = writeln!(s, "chain:   {}", esc(&chain.join(" -> ")));
    let _ = writeln!(s, "verdict: {}", verdict_word(c.verdict));
    let _ = writeln!(s, "reason:  {}", esc(&c.reason));
    lines(s, "decisive instructions", &c.evidence);
    if !c.listing.is_empty() {
        let _ = writeln!(
            s,
            "\n{} (annotated):",
            esc(c.function.as_deref().unwrap_or("function"))
        );
        for e in &c.listing {
            let _ = writeln!(s, "  {:>10}  {}", esc(&e.address), esc(&e.text));
        }
    }
}
