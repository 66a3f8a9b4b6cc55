//! The text rendering: for a field engineer. First the plain sentence anyone can act on
//! ([`super::plain`]), then the technical verdict and why, then the evidence; repeated
//! evidence grouped with counts ([`super::group`]); the verdict again as the last line.
//!
//! Every string that comes from the scanned bytes (names, `QNX_info` strings, messages...) goes
//! through `esc` ([`badalloc_formats::names::escape_text`]): a file name cannot move the cursor, recolour
//! or start a line, so it cannot forge a verdict.

use std::fmt::Write;

use super::group::{self, Group};
use super::plain::{self, exposure_legend, rule_of};
use super::{BinaryReport, CallocReport, CallocVerdict, Report, TargetReport, Verdict};
use badalloc_formats::names::escape_text as esc;

/// How many binaries (or groups of identical ones) of each list the text shows before
/// "... and N more" (JSON has all).
const MAX_LISTED: usize = 12;
/// Reasons of one rule shown before "... and N more" (a tree of many copies of one library
/// gives one R1 reason per copy).
const MAX_REASONS_PER_RULE: usize = 3;
/// Evidence items of one kind shown before "... and N more".
const MAX_EVIDENCE_PER_KIND: usize = 4;

pub fn render(report: &Report) -> String {
    render_with(report, false)
}

/// `color`: ANSI colour on the verdict lines (the caller decides: terminal, NO_COLOR).
pub fn render_with(report: &Report, color: bool) -> String {
    let mut out = String::new();
    for (i, t) in report.targets.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        target(&mut out, t, color);
    }
    if !report.targets.is_empty() {
        out.push('\n');
        out.push_str(&verdict_lines(report, color));
    }
    out
}

/// The closing lines: the verdict of each target and what to do, one line each (and the
/// count per verdict when there are several). The text report ends with them; `scan` also
/// writes them on standard error when the report does not go to a terminal.
pub fn verdict_lines(report: &Report, color: bool) -> String {
    let mut out: String = report
        .targets
        .iter()
        .map(|t| verdict_line(t, color))
        .collect();
    let verdicts: Vec<Verdict> = report.targets.iter().map(|t| t.verdict).collect();
    if let Some(counts) = verdict_counts(&verdicts) {
        out.push_str(&counts);
    }
    out
}

/// "Verdict for PATH: AFFECTED. Patch or upgrade; ...", ended by a line break.
pub fn verdict_line(t: &TargetReport, color: bool) -> String {
    format!(
        "Verdict for {}: {}. {}\n",
        esc(&t.path),
        paint(plain::verdict_title(t.verdict), t.verdict, color),
        esc(&plain::plain(t).action)
    )
}

/// "3 targets: 1 affected, 2 not affected.", for more than one target.
pub fn verdict_counts(verdicts: &[Verdict]) -> Option<String> {
    if verdicts.len() < 2 {
        return None;
    }
    let mut counts: Vec<(Verdict, usize)> = Vec::new();
    for v in verdicts {
        match counts.iter_mut().find(|(c, _)| c == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((*v, 1)),
        }
    }
    counts.sort();
    let counts: Vec<String> = counts
        .iter()
        .map(|(v, n)| format!("{n} {}", plain::verdict_words(*v)))
        .collect();
    Some(format!(
        "{} targets: {}.\n",
        verdicts.len(),
        counts.join(", ")
    ))
}

fn paint(text: &str, v: Verdict, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match v {
        Verdict::Affected | Verdict::Error => "1;31",
        Verdict::Inconclusive => "1;33",
        Verdict::Patched | Verdict::NotAffected => "1;32",
        Verdict::NotQnx => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn headline(v: Verdict) -> &'static str {
    match v {
        Verdict::Affected => "AFFECTED by CVE-2021-22156 (BadAlloc)",
        Verdict::Patched => "PATCHED: affected release, but calloc is fixed",
        Verdict::NotAffected => "NOT AFFECTED",
        Verdict::NotQnx => "NOT QNX: CVE-2021-22156 does not apply",
        Verdict::Inconclusive => "INCONCLUSIVE: the evidence does not decide",
        Verdict::Error => "ERROR: could not be read",
    }
}

fn calloc_word(c: &CallocReport) -> &'static str {
    match c.verdict {
        CallocVerdict::Checked => "checked",
        CallocVerdict::Unchecked => "UNCHECKED",
        CallocVerdict::Unknown => "unknown",
    }
}

fn target(out: &mut String, t: &TargetReport, color: bool) {
    let p = plain::plain(t);
    let _ = writeln!(out, "{}\n", paint(&esc(&p.sentence()), t.verdict, color));
    let _ = writeln!(
        out,
        "{}: {}",
        esc(&t.path),
        paint(headline(t.verdict), t.verdict, color)
    );
    reasons(out, &t.reasons);
    os(out, t);
    libcs(out, t);
    binaries(out, &t.binaries);
    exposure(out, t);
    if !t.mitigations.is_empty() {
        let _ = writeln!(out, "\nWhat to do:");
        for (i, m) in t.mitigations.iter().enumerate() {
            let _ = writeln!(out, "  {}. {}", i + 1, esc(m));
        }
    }
    errors(out, t);
    let s = &t.stats;
    let _ = writeln!(
        out,
        "\nScanned {} file{} ({} ELF, {:.1} MB), {} symlink{} recorded, {} skipped.",
        s.files,
        if s.files == 1 { "" } else { "s" },
        s.elf_files,
        s.bytes as f64 / 1e6,
        t.symlinks.len(),
        if t.symlinks.len() == 1 { "" } else { "s" },
        s.skipped
    );
}

/// The reasons, at most [`MAX_REASONS_PER_RULE`] of each rule (in their order), then how
/// many more that rule gave.
fn reasons(out: &mut String, reasons: &[String]) {
    let groups = group::group_by(reasons, |r| rule_of(r));
    for g in groups {
        let Some(rule) = rule_of(g.first) else {
            // Notes and caveats: each shown.
            for r in &g.members {
                let _ = writeln!(out, "  - {}", esc(r));
            }
            continue;
        };
        for r in g.members.iter().take(MAX_REASONS_PER_RULE) {
            let _ = writeln!(out, "  - {}", esc(r));
        }
        if g.count() > MAX_REASONS_PER_RULE {
            let _ = writeln!(
                out,
                "    ... and {} more {} reasons like these (see --format json)",
                g.count() - MAX_REASONS_PER_RULE,
                rule.id()
            );
        }
    }
}

fn os(out: &mut String, t: &TargetReport) {
    let os = &t.os;
    let release = match (&os.release, &os.release_range) {
        (Some(r), _) => esc(r).into_owned(),
        (None, Some(range)) => format!("{} (series only)", esc(range)),
        (None, None) => "unknown".into(),
    };
    match &os.family {
        Some(_) => {
            let _ = writeln!(
                out,
                "\nOS: QNX, release {release} (confidence: {})",
                os.confidence.as_str()
            );
        }
        None if t.verdict != Verdict::Error => {
            let _ = writeln!(
                out,
                "\nOS: not QNX (confidence: {})",
                os.confidence.as_str()
            );
        }
        None => {}
    }
    // Items of one kind in their order, at most MAX_EVIDENCE_PER_KIND of each.
    for g in group::group_by(&os.evidence, |e| e.kind.clone()) {
        for e in g.members.iter().take(MAX_EVIDENCE_PER_KIND) {
            let _ = writeln!(
                out,
                "  [{}] {}: {}",
                esc(&e.kind),
                esc(&e.source),
                esc(&e.detail)
            );
        }
        if g.count() > MAX_EVIDENCE_PER_KIND {
            let _ = writeln!(
                out,
                "  [{}] ... and {} more items of this kind (see --format json)",
                esc(&g.first.kind),
                g.count() - MAX_EVIDENCE_PER_KIND
            );
        }
    }
    for c in &os.conflicts {
        let _ = writeln!(out, "  conflict: {}", esc(c));
    }
}

/// Unchecked first, then undecided, then checked.
fn calloc_rank(c: Option<&CallocReport>) -> u8 {
    match c.map(|c| c.verdict) {
        Some(CallocVerdict::Unchecked) => 0,
        Some(CallocVerdict::Unknown) => 1,
        Some(CallocVerdict::Checked) => 2,
        None => 3,
    }
}

/// ", and 3 more files with the same code (e.g. a, b)" for a group of several.
fn same_code<T>(g: &Group<'_, T>, path: impl Fn(&T) -> &str) -> String {
    if g.count() < 2 {
        return String::new();
    }
    let examples: Vec<String> = g
        .members
        .iter()
        .skip(1)
        .take(2)
        .map(|m| esc(path(m)).into_owned())
        .collect();
    format!(
        "the same code in {} more file{} (e.g. {})",
        g.count() - 1,
        if g.count() == 2 { "" } else { "s" },
        examples.join(", ")
    )
}

fn libcs(out: &mut String, t: &TargetReport) {
    if t.libc.is_empty() {
        return;
    }
    let mut groups = group::libcs(&t.libc);
    groups.sort_by_key(|g| calloc_rank(Some(&g.first.calloc)));
    let _ = writeln!(
        out,
        "\nC libraries ({}{}):",
        t.libc.len(),
        if groups.len() < t.libc.len() {
            format!(", {} different", groups.len())
        } else {
            String::new()
        }
    );
    for g in groups.iter().take(MAX_LISTED) {
        let l = g.first;
        let _ = writeln!(
            out,
            "  {}  ({})",
            esc(&l.path),
            esc(&plain::libc_description(l))
        );
        calloc_lines(out, &l.calloc, "    ");
        let same = same_code(g, |l| &l.path);
        if !same.is_empty() {
            let _ = writeln!(out, "    {same}");
        }
    }
    if groups.len() > MAX_LISTED {
        let rest: usize = groups[MAX_LISTED..].iter().map(Group::count).sum();
        let _ = writeln!(out, "  ... and {rest} more C libraries (see --format json)");
    }
}

/// "440 unchecked, 500 checked, 35 unknown".
fn calloc_counts<'a>(callocs: impl Iterator<Item = &'a CallocReport>) -> String {
    let mut n = [0usize; 3];
    for c in callocs {
        n[usize::from(calloc_rank(Some(c)))] += 1;
    }
    let parts: Vec<String> = [(n[0], "unchecked"), (n[1], "unknown"), (n[2], "checked")]
        .iter()
        .filter(|(k, _)| *k > 0)
        .map(|(k, w)| format!("{k} {w}"))
        .collect();
    parts.join(", ")
}

fn binaries(out: &mut String, bins: &[BinaryReport]) {
    if bins.is_empty() {
        return;
    }
    let net = bins.iter().filter(|b| b.network).count();
    let imp = bins.iter().filter(|b| b.imports_calloc).count();
    let copies: Vec<&CallocReport> = bins
        .iter()
        .filter_map(|b| b.static_calloc.as_ref())
        .collect();
    let _ = writeln!(
        out,
        "\nBinaries: {} ELF file{}, {net} network-facing, {imp} import calloc, {} with a static copy of calloc{}",
        bins.len(),
        if bins.len() == 1 { "" } else { "s" },
        copies.len(),
        if copies.is_empty() {
            String::new()
        } else {
            format!(" ({})", calloc_counts(copies.iter().copied()))
        }
    );
    let mut statics = group::static_copies(bins);
    statics.sort_by_key(|g| calloc_rank(g.first.static_calloc.as_ref()));
    if !statics.is_empty() {
        let _ = writeln!(out, "  static calloc copies:");
        for g in statics.iter().take(MAX_LISTED) {
            let b = g.first;
            let calloc = b.static_calloc.as_ref();
            let c = calloc.map(calloc_word).unwrap_or("");
            let located = calloc.map(CallocReport::located_note).unwrap_or_default();
            let same = same_code(g, |b| &b.path);
            let _ = writeln!(
                out,
                "    {} ({}): calloc {c}{}{}",
                esc(&b.path),
                esc(&b.arch),
                esc(&located),
                if same.is_empty() {
                    String::new()
                } else {
                    format!("; {same}")
                }
            );
        }
        if statics.len() > MAX_LISTED {
            let rest: usize = statics[MAX_LISTED..].iter().map(Group::count).sum();
            let _ = writeln!(out, "    ... and {rest} more (see --format json)");
        }
    }
    calloc_like(out, bins);
    let moved = bins
        .iter()
        .filter(|b| !b.located_by_address.is_empty())
        .count();
    if moved > 0 {
        let _ = writeln!(
            out,
            "  {moved} file{} record{} a segment (PT_DYNAMIC, PT_INTERP, PT_NOTE) at a file offset that disagrees with its address (mkifs packing): read at the address, as the loader does",
            if moved == 1 { "" } else { "s" },
            if moved == 1 { "s" } else { "" }
        );
    }
    let network: Vec<&BinaryReport> = bins.iter().filter(|b| b.network).collect();
    list(out, "network-facing", &network, |b| {
        format!(
            "{} ({}){}",
            esc(&b.path),
            esc(&b.network_imports.join(", ")),
            if b.imports_calloc {
                ", imports calloc"
            } else {
                ""
            }
        )
    });
}

/// Functions the search without symbols found with part of calloc's shape: guesses, never
/// named the C library's calloc.
fn calloc_like(out: &mut String, bins: &[BinaryReport]) {
    let like: Vec<&BinaryReport> = bins
        .iter()
        .filter(|b| {
            b.calloc_search
                .as_ref()
                .is_some_and(|s| !s.calloc_like.is_empty())
        })
        .collect();
    list(
        out,
        "calloc-like functions (not taken for the C library's calloc)",
        &like,
        |b| {
            let fns: Vec<String> = b
                .calloc_search
                .iter()
                .flat_map(|s| &s.calloc_like)
                .map(|c| format!("{} {}", c.address.as_deref().unwrap_or("?"), calloc_word(c)))
                .collect();
            format!(
                "{} ({}): {}",
                esc(&b.path),
                esc(&b.arch),
                esc(&fns.join(", "))
            )
        },
    );
}

fn exposure(out: &mut String, t: &TargetReport) {
    if t.exposure.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nExposure (most exposed first):");
    for e in t.exposure.iter().take(MAX_LISTED) {
        let mut why = Vec::new();
        if let Some(c) = &e.calloc {
            why.push(c.replace('-', " "));
        }
        if e.network {
            why.push("network-facing".to_string());
        }
        if let Some(s) = &e.started_by {
            why.push(format!("started by {}", esc(s)));
        }
        if e.named_service {
            why.push("a service the advisory names".to_string());
        }
        let _ = writeln!(
            out,
            "  [{}] {}: {}",
            e.score,
            esc(&e.path),
            esc(&why.join(", "))
        );
    }
    if t.exposure.len() > MAX_LISTED {
        let _ = writeln!(
            out,
            "  ... and {} more (see --format json)",
            t.exposure.len() - MAX_LISTED
        );
    }
    let _ = writeln!(out, "  [score] {}", exposure_legend());
}

fn errors(out: &mut String, t: &TargetReport) {
    if t.errors.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nErrors and skipped files ({}):", t.errors.len());
    let groups = group::errors(&t.errors);
    for g in groups.iter().take(MAX_LISTED * 4) {
        let e = g.first;
        let off = e
            .offset
            .map(|o| format!(" at offset {o:#x}"))
            .unwrap_or_default();
        let more = if g.count() > 1 {
            format!(" (and {} more files with this message)", g.count() - 1)
        } else {
            String::new()
        };
        let _ = writeln!(out, "  {}{off}: {}{more}", esc(&e.path), esc(&e.message));
    }
    if groups.len() > MAX_LISTED * 4 {
        let rest: usize = groups[MAX_LISTED * 4..].iter().map(Group::count).sum();
        let _ = writeln!(out, "  ... and {rest} more (see --format json)");
    }
}

fn calloc_lines(out: &mut String, c: &CallocReport, indent: &str) {
    let chain = if c.chain.is_empty() {
        String::new()
    } else {
        format!(" via {}", esc(&c.chain.join(" -> ")))
    };
    let at = c
        .address
        .as_deref()
        .map(|a| format!(" at {}", esc(a)))
        .unwrap_or_default();
    let _ = writeln!(out, "{indent}calloc{at}: {}{chain}", calloc_word(c));
    let _ = writeln!(out, "{indent}  {}", esc(&c.reason));
    for e in &c.evidence {
        let _ = writeln!(out, "{indent}    {}  {}", esc(&e.address), esc(&e.text));
    }
}

fn list(
    out: &mut String,
    title: &str,
    items: &[&BinaryReport],
    line: impl Fn(&BinaryReport) -> String,
) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {title}:");
    for b in items.iter().take(MAX_LISTED) {
        let _ = writeln!(out, "    {}", line(b));
    }
    if items.len() > MAX_LISTED {
        let _ = writeln!(
            out,
            "    ... and {} more (see --format json)",
            items.len() - MAX_LISTED
        );
    }
}
