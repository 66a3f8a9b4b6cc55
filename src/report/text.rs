//! The text rendering: for a field engineer. The verdict first, then why, then the evidence.

use std::fmt::Write;

use super::{BinaryReport, CallocReport, CallocVerdict, Report, TargetReport, Verdict};

/// How many binaries of each group the text lists before "... and N more" (JSON has all).
const MAX_LISTED: usize = 12;

pub fn render(report: &Report) -> String {
    render_with(report, false)
}

/// `color`: ANSI colour on the verdict line (the caller decides: terminal, NO_COLOR).
pub fn render_with(report: &Report, color: bool) -> String {
    let mut out = String::new();
    for (i, t) in report.targets.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        target(&mut out, t, color);
    }
    out
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
    let _ = writeln!(
        out,
        "{}: {}",
        t.path,
        paint(headline(t.verdict), t.verdict, color)
    );
    for r in &t.reasons {
        let _ = writeln!(out, "  - {r}");
    }

    let os = &t.os;
    let release = match (&os.release, &os.release_range) {
        (Some(r), _) => r.clone(),
        (None, Some(range)) => format!("{range} (series only)"),
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
    for e in &os.evidence {
        let _ = writeln!(out, "  [{}] {}: {}", e.kind, e.source, e.detail);
    }
    for c in &os.conflicts {
        let _ = writeln!(out, "  conflict: {c}");
    }

    if !t.libc.is_empty() {
        let _ = writeln!(out, "\nC libraries:");
        for l in &t.libc {
            let _ = writeln!(
                out,
                "  {}  ({}, {}{}{})",
                l.path,
                l.soname.as_deref().unwrap_or("no SONAME"),
                l.arch,
                l.version
                    .as_deref()
                    .map(|v| format!(", QNX_info {v}"))
                    .unwrap_or_default(),
                if l.qnx { "" } else { ", not QNX" }
            );
            calloc_lines(out, &l.calloc, "    ");
        }
    }

    let bins = &t.binaries;
    if !bins.is_empty() {
        let net = bins.iter().filter(|b| b.network).count();
        let imp = bins.iter().filter(|b| b.imports_calloc).count();
        let copies = bins.iter().filter(|b| b.static_calloc.is_some()).count();
        let _ = writeln!(
            out,
            "\nBinaries: {} ELF file{}, {net} network-facing, {imp} import calloc, {copies} with a static copy of calloc",
            bins.len(),
            if bins.len() == 1 { "" } else { "s" }
        );
        let statics: Vec<&BinaryReport> =
            bins.iter().filter(|b| b.static_calloc.is_some()).collect();
        list(out, "static calloc copies", &statics, |b| {
            let c = b.static_calloc.as_ref();
            let located = c.map(CallocReport::located_note).unwrap_or_default();
            let word = c.map(calloc_word).unwrap_or("");
            format!("{} ({}): calloc {word}{located}", b.path, b.arch)
        });
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
                format!("{} ({}): {}", b.path, b.arch, fns.join(", "))
            },
        );
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
                b.path,
                b.network_imports.join(", "),
                if b.imports_calloc {
                    ", imports calloc"
                } else {
                    ""
                }
            )
        });
    }

    if !t.exposure.is_empty() {
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
                why.push(format!("started by {s}"));
            }
            if e.named_service {
                why.push("a service the advisory names".to_string());
            }
            let _ = writeln!(out, "  [{}] {}: {}", e.score, e.path, why.join(", "));
        }
        if t.exposure.len() > MAX_LISTED {
            let _ = writeln!(
                out,
                "  ... and {} more (see --format json)",
                t.exposure.len() - MAX_LISTED
            );
        }
    }
    if !t.mitigations.is_empty() {
        let _ = writeln!(out, "\nWhat to do:");
        for (i, m) in t.mitigations.iter().enumerate() {
            let _ = writeln!(out, "  {}. {m}", i + 1);
        }
    }

    if !t.errors.is_empty() {
        let _ = writeln!(out, "\nErrors and skipped files ({}):", t.errors.len());
        for e in t.errors.iter().take(MAX_LISTED * 4) {
            let off = e
                .offset
                .map(|o| format!(" at offset {o:#x}"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {}{off}: {}", e.path, e.message);
        }
        if t.errors.len() > MAX_LISTED * 4 {
            let _ = writeln!(
                out,
                "  ... and {} more (see --format json)",
                t.errors.len() - MAX_LISTED * 4
            );
        }
    }
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

fn calloc_lines(out: &mut String, c: &CallocReport, indent: &str) {
    let chain = if c.chain.is_empty() {
        String::new()
    } else {
        format!(" via {}", c.chain.join(" -> "))
    };
    let at = c
        .address
        .as_deref()
        .map(|a| format!(" at {a}"))
        .unwrap_or_default();
    let _ = writeln!(out, "{indent}calloc{at}: {}{chain}", calloc_word(c));
    let _ = writeln!(out, "{indent}  {}", c.reason);
    for e in &c.evidence {
        let _ = writeln!(out, "{indent}    {}  {}", e.address, e.text);
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
