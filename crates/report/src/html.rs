//! `--format html`: one self-contained page a person opens in a browser or prints on A4.
//!
//! No network and no script: the styles are inline, and a Content-Security-Policy forbids
//! loading anything (a browser that honours it logs, and blocks, any attempt). Every string
//! from the firmware (names, `QNX_info` strings, messages, boot scripts) goes through
//! [`text`]: control and reordering characters become `\xHH` (as in the text report), then
//! `&`, `<`, `>`, `"` and `'` become entities, so no name can open a tag or an attribute.
//! A pure function of the wire [`Report`].

use std::fmt::Write;

use super::group::{self, Group};
use super::plain::{self, exposure_legend};
use super::{
    BinaryReport, CallocReport, CallocVerdict, ImageState, LibcReport, Report, TargetReport,
    Verdict,
};
use badalloc_audit_core::advisory::CVE_2021_22156;
use badalloc_formats::names::escape_text;

/// Groups of identical C libraries or static copies shown with their decisive instructions;
/// past these, one line each (the JSON report has every one).
const MAX_DETAILED: usize = 24;
/// Rows of the exposure, image and error tables before "and N more".
const MAX_ROWS: usize = 200;

/// Text from the report, safe in HTML element content and attribute values.
pub fn text(s: &str) -> String {
    let s = escape_text(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSS class of a verdict (banner colour, table cells).
pub fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Affected => "v-affected",
        Verdict::Patched => "v-patched",
        Verdict::NotAffected => "v-not-affected",
        Verdict::NotQnx => "v-not-qnx",
        Verdict::Inconclusive => "v-inconclusive",
        Verdict::Error => "v-error",
    }
}

/// The banner colours, `#rrggbb`, one per verdict (tests look for them in screenshots).
pub fn verdict_colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Affected => "#b00020",
        Verdict::Error => "#6a1b9a",
        Verdict::Inconclusive => "#a14a00",
        Verdict::Patched | Verdict::NotAffected => "#1b5e20",
        Verdict::NotQnx => "#37474f",
    }
}

/// The style sheet: screen and A4 print.
fn style() -> String {
    let mut css = String::from(
        "*{box-sizing:border-box}\
body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#1a1a1a;background:#fafafa}\
main{max-width:64rem;margin:0 auto;padding:1rem 1.25rem 2rem}\
h1{font-size:1.35rem;margin:.2rem 0 1rem}\
h2{font-size:1.1rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}\
h3{font-size:1rem;margin:1rem 0 .3rem}\
code,pre,.mono{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.88em}\
code,td,li,p{overflow-wrap:anywhere}\
pre{white-space:pre-wrap;word-break:break-all;background:#f0f0f0;padding:.5rem .7rem;border-radius:4px;margin:.3rem 0}\
table{border-collapse:collapse;width:100%;margin:.4rem 0;background:#fff}\
th,td{border:1px solid #d0d0d0;padding:.25rem .45rem;text-align:left;vertical-align:top}\
th{background:#eceff1}\
td.num{text-align:right;white-space:nowrap}\
table.evidence td:first-child{width:8.5rem}table.evidence td:nth-child(2){width:32%}\
.banner{color:#fff;padding:1rem 1.25rem;border-radius:6px;margin:1rem 0}\
.banner .verdict{font-size:1.9rem;font-weight:700;letter-spacing:.04em;margin:0}\
.banner .sentence{font-size:1.15rem;margin:.4rem 0}\
.banner .action{font-size:1.15rem;font-weight:600;margin:.2rem 0}\
.banner .path{margin:.5rem 0 0;opacity:.92}\
.banner code{font-size:.95em}\
.note{color:#555;font-size:.92em}\
.bad{color:#b00020;font-weight:700}\
.good{color:#1b5e20;font-weight:700}\
.unknown{color:#a14a00;font-weight:700}\
.target{margin-bottom:2.5rem}\
footer{color:#555;font-size:.9em;margin-top:1.5rem;border-top:1px solid #ccc;padding-top:.5rem}\
@page{size:A4;margin:14mm 12mm}\
@media print{body{background:#fff;font-size:9.5pt}main{max-width:none;padding:0}\
.banner,th,td.cell{-webkit-print-color-adjust:exact;print-color-adjust:exact}\
h2,h3{break-after:avoid}tr,.banner,pre{break-inside:avoid}.target+.target{break-before:page}}",
    );
    for v in [
        Verdict::Affected,
        Verdict::Patched,
        Verdict::NotAffected,
        Verdict::NotQnx,
        Verdict::Inconclusive,
        Verdict::Error,
    ] {
        let _ = write!(
            css,
            ".banner.{c}{{background:{col}}}td.cell.{c}{{background:{col};color:#fff;font-weight:700}}",
            c = verdict_class(v),
            col = verdict_colour(v)
        );
    }
    css
}

/// A whole page around `body` (already HTML).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        text(title),
        style()
    )
}

/// The report as a page: one section per target, each opening with its verdict banner.
pub fn render(report: &Report) -> String {
    let mut body = String::new();
    let title = match report.targets.as_slice() {
        [one] => format!("{}: {}", plain::verdict_words(one.verdict), one.path),
        many => format!("{} targets", many.len()),
    };
    let _ = writeln!(
        body,
        "<h1>BadAlloc (CVE-2021-22156) audit: {}</h1>",
        text(&title)
    );
    if report.targets.len() > 1 {
        index(&mut body, &report.targets);
    }
    for (i, t) in report.targets.iter().enumerate() {
        target(&mut body, i, t);
    }
    let _ = writeln!(
        body,
        "<footer>Written by {} {} (report schema {}). Advisory: {} ({}), {}; sources: {}.</footer>",
        text(&report.tool.name),
        text(&report.tool.version),
        report.schema_version,
        CVE_2021_22156.id,
        CVE_2021_22156.title,
        CVE_2021_22156.cvss_cna,
        CVE_2021_22156.sources.join("; ")
    );
    page(&format!("badalloc-audit: {title}"), &body)
}

/// Several targets: a table of their verdicts first, each linking to its section.
fn index(out: &mut String, targets: &[TargetReport]) {
    out.push_str(
        "<table class=\"index\"><tr><th>verdict</th><th>target</th><th>in plain words</th></tr>\n",
    );
    for (i, t) in targets.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td class=\"cell {}\">{}</td><td><a href=\"#t{i}\"><code>{}</code></a></td><td>{}</td></tr>",
            verdict_class(t.verdict),
            plain::verdict_title(t.verdict),
            text(&t.path),
            text(&plain::plain(t).finding)
        );
    }
    out.push_str("</table>\n");
}

fn target(out: &mut String, i: usize, t: &TargetReport) {
    let p = plain::plain(t);
    let _ = writeln!(
        out,
        "<section class=\"target\" id=\"t{i}\">\n<header class=\"banner {}\">\
<p class=\"verdict\">{}</p><p class=\"sentence\">{}</p><p class=\"action\">{}</p>\
<p class=\"path\">Target: <code>{}</code> ({})</p></header>",
        verdict_class(t.verdict),
        plain::verdict_title(t.verdict),
        text(&p.finding),
        text(&p.action),
        text(&t.path),
        text(&t.kind)
    );
    if !t.mitigations.is_empty() {
        out.push_str("<h2>What to do</h2>\n<ol>");
        for m in &t.mitigations {
            let _ = write!(out, "<li>{}</li>", text(m));
        }
        out.push_str("</ol>\n");
    }
    out.push_str("<h2>Why</h2>\n<ul class=\"reasons\">");
    for r in &t.reasons {
        let _ = write!(out, "<li>{}</li>", text(r));
    }
    out.push_str("</ul>\n");
    os(out, t);
    libcs(out, &t.libc);
    static_copies(out, &t.binaries);
    exposure(out, t);
    images(out, t);
    errors(out, t);
    let s = &t.stats;
    let _ = writeln!(
        out,
        "<p class=\"note\">Scanned {} ({} ELF, {:.1} MB read; {} inside images), {} recorded, {} skipped.</p>\n</section>",
        count(s.files, "file"),
        s.elf_files,
        s.bytes as f64 / 1e6,
        count(s.image_files, "file"),
        count(t.symlinks.len() as u64, "symbolic link"),
        s.skipped
    );
}

/// "1 file", "3 files".
fn count(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn os(out: &mut String, t: &TargetReport) {
    let os = &t.os;
    out.push_str("<h2>Operating system</h2>\n");
    let what = match &os.family {
        Some(_) => format!(
            "{} (confidence: {})",
            plain::release_phrase(t),
            os.confidence.as_str()
        ),
        None if t.verdict == Verdict::Error => "not read".to_string(),
        None => format!("not QNX (confidence: {})", os.confidence.as_str()),
    };
    let _ = writeln!(out, "<p>{}</p>", text(&what));
    if !os.evidence.is_empty() {
        out.push_str(
            "<table class=\"evidence\"><tr><th>evidence</th><th>file</th><th>detail</th></tr>\n",
        );
        for e in &os.evidence {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                text(&e.kind),
                text(&e.source),
                text(&e.detail)
            );
        }
        out.push_str("</table>\n");
    }
    for c in &os.conflicts {
        let _ = writeln!(out, "<p class=\"note\">Conflict: {}</p>", text(c));
    }
}

fn calloc_class(c: &CallocReport) -> (&'static str, &'static str) {
    match c.verdict {
        CallocVerdict::Checked => ("good", "checked"),
        CallocVerdict::Unchecked => ("bad", "UNCHECKED"),
        CallocVerdict::Unknown => ("unknown", "unknown"),
    }
}

/// "… and 3 more images (see the JSON report)", when `n` is not 0.
fn more(out: &mut String, n: usize, what: &str) {
    if n > 0 {
        let _ = writeln!(
            out,
            "<p class=\"note\">… and {n} more {what} (see the JSON report).</p>"
        );
    }
}

/// A calloc's verdict, chain, reason and decisive instructions.
fn calloc_detail(out: &mut String, c: &CallocReport) {
    let (class, word) = calloc_class(c);
    let chain = if c.chain.is_empty() {
        String::new()
    } else {
        format!(" via <code>{}</code>", text(&c.chain.join(" → ")))
    };
    let at = c
        .address
        .as_deref()
        .map(|a| format!(" at <code>{}</code>", text(a)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "<p>calloc{at}{}: <span class=\"{class}\">{word}</span>{chain}: {}</p>",
        text(&c.located_note()),
        text(&c.reason)
    );
    if !c.evidence.is_empty() {
        out.push_str("<pre class=\"insns\">");
        for e in &c.evidence {
            let _ = writeln!(out, "{:>10}  {}", text(&e.address), text(&e.text));
        }
        out.push_str("</pre>\n");
    }
}

/// "and 3 identical copies: a, b, c" for a group of more than one.
fn copies_line<T>(out: &mut String, g: &Group<'_, T>, path: impl Fn(&T) -> &str) {
    if g.count() < 2 {
        return;
    }
    let names: Vec<String> = g
        .members
        .iter()
        .skip(1)
        .take(MAX_DETAILED)
        .map(|m| format!("<code>{}</code>", text(path(m))))
        .collect();
    let more = g.count() - 1 - names.len();
    let _ = writeln!(
        out,
        "<p class=\"note\">The same code in {} more file{}: {}{}</p>",
        g.count() - 1,
        if g.count() == 2 { "" } else { "s" },
        names.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    );
}

fn libcs(out: &mut String, libc: &[LibcReport]) {
    if libc.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2>C libraries ({})</h2>", libc.len());
    let groups = group::libcs(libc);
    for (n, g) in groups.iter().enumerate() {
        let l = g.first;
        if n >= MAX_DETAILED {
            more(
                out,
                groups[n..].iter().map(Group::count).sum(),
                "C libraries",
            );
            break;
        }
        let _ = writeln!(
            out,
            "<h3><code>{}</code> ({})</h3>",
            text(&l.path),
            text(&plain::libc_description(l))
        );
        calloc_detail(out, &l.calloc);
        copies_line(out, g, |l: &LibcReport| &l.path);
    }
}

fn static_copies(out: &mut String, binaries: &[BinaryReport]) {
    let groups = group::static_copies(binaries);
    if groups.is_empty() {
        return;
    }
    let total: usize = groups.iter().map(Group::count).sum();
    let _ = writeln!(
        out,
        "<h2>Programs with their own copy of calloc ({total})</h2>"
    );
    out.push_str("<p class=\"note\">Statically linked programs keep their own calloc: patching the C library does not fix them.</p>\n");
    for (n, g) in groups.iter().enumerate() {
        if n >= MAX_DETAILED {
            more(out, groups[n..].iter().map(Group::count).sum(), "programs");
            break;
        }
        let b = g.first;
        let _ = writeln!(
            out,
            "<h3><code>{}</code> ({})</h3>",
            text(&b.path),
            text(&b.arch)
        );
        if let Some(c) = &b.static_calloc {
            calloc_detail(out, c);
        }
        copies_line(out, g, |b: &BinaryReport| &b.path);
    }
}

fn exposure(out: &mut String, t: &TargetReport) {
    if t.exposure.is_empty() {
        return;
    }
    out.push_str("<h2>Exposure (most exposed first)</h2>\n<table><tr><th>score</th><th>program</th><th>calloc</th><th>network-facing</th><th>started by</th><th>named by the advisory</th></tr>\n");
    for e in t.exposure.iter().take(MAX_ROWS) {
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.score,
            text(&e.path),
            e.calloc
                .as_deref()
                .map_or_else(|| "-".to_string(), |c| text(&c.replace('-', " "))),
            if e.network { "yes" } else { "no" },
            e.started_by.as_deref().map(|s| format!("<code>{}</code>", text(s))).unwrap_or_else(|| "-".into()),
            if e.named_service { "yes" } else { "no" }
        );
    }
    out.push_str("</table>\n");
    more(out, t.exposure.len().saturating_sub(MAX_ROWS), "programs");
    let _ = writeln!(out, "<p class=\"note\">{}</p>", text(&exposure_legend()));
}

fn images(out: &mut String, t: &TargetReport) {
    if t.images.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h2>Images ({})</h2>\n<table><tr><th>image</th><th>kind</th><th>entries</th><th>read</th></tr>",
        t.images.len()
    );
    for i in t.images.iter().take(MAX_ROWS) {
        let state = match (i.state, i.damage()) {
            (ImageState::Complete, _) => "complete".to_string(),
            (s, Some(d)) => format!(
                "<span class=\"bad\">{}</span>: {}{}",
                s.as_str(),
                text(&d.detail),
                d.offset
                    .map(|o| format!(" (offset {o:#x})"))
                    .unwrap_or_default()
            ),
            (s, None) => format!("<span class=\"bad\">{}</span>", s.as_str()),
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td>{state}</td></tr>",
            text(&i.path),
            text(&i.kind),
            i.entries
        );
    }
    out.push_str("</table>\n");
    more(out, t.images.len().saturating_sub(MAX_ROWS), "images");
}

fn errors(out: &mut String, t: &TargetReport) {
    if t.errors.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h2>Errors and skipped files ({})</h2>\n<table><tr><th>file</th><th>offset</th><th>message</th><th>files</th></tr>",
        t.errors.len()
    );
    let groups = group::errors(&t.errors);
    for g in groups.iter().take(MAX_ROWS) {
        let e = g.first;
        let also = if g.count() > 1 {
            format!("{} (this one and {} more)", g.count(), g.count() - 1)
        } else {
            "1".to_string()
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{also}</td></tr>",
            text(&e.path),
            e.offset.map(|o| format!("{o:#x}")).unwrap_or_default(),
            text(&e.message)
        );
    }
    out.push_str("</table>\n");
    more(
        out,
        groups.iter().skip(MAX_ROWS).map(Group::count).sum(),
        "errors",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_text_cannot_open_a_tag_or_an_attribute() {
        let hostile =
            "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>&amp;\u{1b}[2J\u{202e}";
        let t = text(hostile);
        for bad in ["<", ">", "\"", "'", "\u{1b}", "\u{202e}"] {
            assert!(!t.contains(bad), "{bad:?} in {t}");
        }
        assert!(
            t.contains("&lt;script&gt;") && t.contains("&amp;amp;"),
            "{t}"
        );
        assert!(t.contains("\\x1b") && t.contains("\\xe2\\x80\\xae"), "{t}");
    }
}
