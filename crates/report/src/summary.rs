//! `summary REPORT...`: many devices, many reports, one table. Any number of JSON reports and
//! NDJSON streams (from one machine or many) become one row per target: verdict, release, C
//! library, static copies, worst exposed service; with counts per verdict and per release.
//! As text, CSV or HTML. A pure function of the wire reports ([`super::ndjson::read`]).
//!
//! A target path met in more than one report (the same device scanned twice, or two devices
//! scanned under one path on different machines) keeps every row, each marked: dropping one
//! could hide an affected device. `diff` compares two scans of one device.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use super::html;
use super::ndjson::{ReadError, ReadTarget};
use super::plain;
use super::{CallocVerdict, TargetReport, Verdict};
use badalloc_formats::names::escape_text as esc;

/// The largest report `summary` reads (bytes): a report is read whole before its targets
/// become rows (docs/bounds.md).
pub const MAX_REPORT_BYTES: u64 = 512 << 20;

/// One device (target) of the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The target's path, as its report gives it.
    pub device: String,
    /// Where it was read: `file`, or `file:LINE` in an NDJSON stream.
    pub source: String,
    pub verdict: Verdict,
    /// `6.5.0`, `6.4-6.6`, `unknown`, or `n/a` when not QNX.
    pub release: String,
    /// The C libraries found and their calloc: `libc.so.3 unchecked`, `2: 1 unchecked, 1 checked`.
    pub libc: String,
    /// Programs with their own copy of calloc: `none`, `1 unchecked`, `3: 2 unchecked, 1 checked`.
    pub static_copies: String,
    /// The most exposed network-facing program and its score, `-` for none.
    pub worst_service: String,
    /// The plain sentence of the report.
    pub sentence: String,
    /// How many rows share this device path (1 when it is unique).
    pub seen: usize,
}

/// The fleet: rows worst first, counts, and what could not be read.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub rows: Vec<Row>,
    pub errors: Vec<ReadError>,
    /// Inputs read (files given).
    pub inputs: usize,
}

/// Most urgent first: affected, unreadable, inconclusive, patched, not affected, not QNX
/// (the order of `scan`'s exit statuses).
fn urgency(v: Verdict) -> u8 {
    match v {
        Verdict::Affected => 0,
        Verdict::Error => 1,
        Verdict::Inconclusive => 2,
        Verdict::Patched => 3,
        Verdict::NotAffected => 4,
        Verdict::NotQnx => 5,
    }
}

const ALL_VERDICTS: [Verdict; 6] = [
    Verdict::Affected,
    Verdict::Error,
    Verdict::Inconclusive,
    Verdict::Patched,
    Verdict::NotAffected,
    Verdict::NotQnx,
];

/// "1 unchecked", "3: 2 unchecked, 1 checked", or "none".
fn calloc_counts(verdicts: impl Iterator<Item = CallocVerdict>) -> (usize, String) {
    let (mut unchecked, mut checked, mut unknown) = (0, 0, 0);
    for v in verdicts {
        match v {
            CallocVerdict::Unchecked => unchecked += 1,
            CallocVerdict::Checked => checked += 1,
            CallocVerdict::Unknown => unknown += 1,
        }
    }
    let parts: Vec<String> = [
        (unchecked, "unchecked"),
        (checked, "checked"),
        (unknown, "unknown"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, w)| format!("{n} {w}"))
    .collect();
    let total = unchecked + checked + unknown;
    (total, parts.join(", "))
}

fn libc_cell(t: &TargetReport) -> String {
    match t.libc.as_slice() {
        [] => "none found".to_string(),
        [l] => {
            let name = l
                .soname
                .clone()
                .unwrap_or_else(|| l.path.rsplit(['/', '!']).next().unwrap_or(&l.path).into());
            let (_, what) = calloc_counts(std::iter::once(l.calloc.verdict));
            let what = what.trim_start_matches("1 ");
            format!("{name} {what}{}", if l.qnx { "" } else { " (not QNX)" })
        }
        many => {
            let (n, what) = calloc_counts(many.iter().map(|l| l.calloc.verdict));
            format!("{n}: {what}")
        }
    }
}

fn static_cell(t: &TargetReport) -> String {
    let (n, what) = calloc_counts(
        t.binaries
            .iter()
            .filter_map(|b| b.static_calloc.as_ref().map(|c| c.verdict)),
    );
    match n {
        0 => "none".to_string(),
        1 => what,
        n => format!("{n}: {what}"),
    }
}

fn worst_service_cell(t: &TargetReport) -> String {
    t.exposure
        .iter()
        .find(|e| e.network)
        .map(|e| format!("{} ({})", e.path, e.score))
        .unwrap_or_else(|| "-".to_string())
}

/// The row of one target.
pub fn row(source: &str, t: &TargetReport) -> Row {
    Row {
        device: t.path.clone(),
        source: source.to_string(),
        verdict: t.verdict,
        release: match plain::release_cell(t).as_str() {
            "-" => "n/a".to_string(),
            r => r.to_string(),
        },
        libc: libc_cell(t),
        static_copies: static_cell(t),
        worst_service: worst_service_cell(t),
        sentence: plain::plain(t).sentence(),
        seen: 1,
    }
}

impl Summary {
    /// Add one input's targets and errors (each target becomes its row at once, so a fleet
    /// of large reports is never held in memory).
    pub fn add(&mut self, targets: Vec<ReadTarget>, errors: Vec<ReadError>) {
        self.inputs += 1;
        self.rows
            .extend(targets.iter().map(|r| row(&r.source, &r.target)));
        self.errors.extend(errors);
    }

    /// Sort worst first and mark the device paths met more than once. Call once all inputs
    /// are added.
    pub fn finish(&mut self) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in &self.rows {
            *seen.entry(r.device.clone()).or_default() += 1;
        }
        for r in &mut self.rows {
            r.seen = seen.get(&r.device).copied().unwrap_or(1);
        }
        self.rows.sort_by(|a, b| {
            urgency(a.verdict)
                .cmp(&urgency(b.verdict))
                .then_with(|| a.device.cmp(&b.device))
                .then_with(|| a.source.cmp(&b.source))
        });
    }

    pub fn by_verdict(&self) -> Vec<(Verdict, usize)> {
        ALL_VERDICTS
            .iter()
            .map(|&v| (v, self.rows.iter().filter(|r| r.verdict == v).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Rows per release (`n/a` for devices that are not QNX), in release order.
    pub fn by_release(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for r in &self.rows {
            *m.entry(r.release.clone()).or_default() += 1;
        }
        m
    }

    /// Device paths met in more than one row: (path, rows, whether their verdicts differ).
    pub fn duplicates(&self) -> Vec<(String, usize, bool)> {
        let mut out: Vec<(String, usize, bool)> = Vec::new();
        for r in self.rows.iter().filter(|r| r.seen > 1) {
            if out.iter().any(|(d, _, _)| *d == r.device) {
                continue;
            }
            let differ = self
                .rows
                .iter()
                .filter(|o| o.device == r.device)
                .any(|o| o.verdict != r.verdict);
            out.push((r.device.clone(), r.seen, differ));
        }
        out.sort();
        out
    }

    /// As `scan`'s: 1 when any device is affected, else 4 when any is unreadable or an input
    /// could not be read, else 3 when any is inconclusive, else 0.
    pub fn exit_status(&self) -> u8 {
        let any = |v: Verdict| self.rows.iter().any(|r| r.verdict == v);
        if any(Verdict::Affected) {
            1
        } else if any(Verdict::Error) || !self.errors.is_empty() {
            4
        } else if any(Verdict::Inconclusive) {
            3
        } else {
            0
        }
    }

    /// The fleet in one line: "12 devices from 5 reports: 3 affected, 9 not affected."
    pub fn headline(&self) -> String {
        let counts: Vec<String> = self
            .by_verdict()
            .iter()
            .map(|(v, n)| format!("{n} {}", plain::verdict_words(*v)))
            .collect();
        let mut s = format!(
            "{} device{} from {} report{}: {}.",
            self.rows.len(),
            if self.rows.len() == 1 { "" } else { "s" },
            self.inputs,
            if self.inputs == 1 { "" } else { "s" },
            if counts.is_empty() {
                "none read".to_string()
            } else {
                counts.join(", ")
            }
        );
        if !self.errors.is_empty() {
            let _ = write!(
                s,
                " {} report{} or report line{} could not be read.",
                self.errors.len(),
                if self.errors.len() == 1 { "" } else { "s" },
                if self.errors.len() == 1 { "" } else { "s" }
            );
        }
        let any = |v: Verdict| self.rows.iter().any(|r| r.verdict == v);
        let advice = match (any(Verdict::Affected), any(Verdict::Inconclusive)) {
            (true, true) => " Patch or upgrade the affected devices; treat the inconclusive ones as affected until decided.",
            (true, false) => " Patch or upgrade the affected devices.",
            (false, true) => " Treat the inconclusive devices as affected until decided.",
            (false, false) => "",
        };
        s.push_str(advice);
        s
    }
}

/// The text table: the headline, counts, one line per device (worst first), duplicates,
/// errors, and the headline again as the last line.
pub fn render_text(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", s.headline());
    counts_text(&mut out, s);
    let header = [
        "VERDICT",
        "RELEASE",
        "C LIBRARY",
        "STATIC COPIES",
        "WORST EXPOSED SERVICE",
        "DEVICE",
        "REPORT",
    ];
    let cells: Vec<[String; 7]> = s
        .rows
        .iter()
        .map(|r| {
            [
                r.verdict.as_str().to_string(),
                esc(&r.release).into_owned(),
                esc(&r.libc).into_owned(),
                esc(&r.static_copies).into_owned(),
                esc(&r.worst_service).into_owned(),
                format!("{}{}", esc(&r.device), if r.seen > 1 { " (*)" } else { "" }),
                esc(&r.source).into_owned(),
            ]
        })
        .collect();
    let mut width = header.map(|h| h.chars().count());
    for c in &cells {
        for (w, cell) in width.iter_mut().zip(c) {
            *w = (*w).max(cell.chars().count());
        }
    }
    out.push('\n');
    let line = |out: &mut String, c: &[&str]| {
        let mut l = String::new();
        for (i, cell) in c.iter().enumerate() {
            if i + 1 == c.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ", w = width[i]);
            }
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(&mut out, &header);
    for c in &cells {
        line(&mut out, &c.each_ref().map(String::as_str));
    }
    let dups = s.duplicates();
    if !dups.is_empty() {
        let _ = writeln!(
            out,
            "\n(*) {} device path{} appear{} in more than one report; every row is kept and counted (use `diff` to compare two scans of one device):",
            dups.len(),
            if dups.len() == 1 { "" } else { "s" },
            if dups.len() == 1 { "s" } else { "" }
        );
        for (d, n, differ) in &dups {
            let _ = writeln!(
                out,
                "  {}: {n} rows{}",
                esc(d),
                if *differ {
                    ", with different verdicts"
                } else {
                    ""
                }
            );
        }
    }
    if !s.errors.is_empty() {
        let _ = writeln!(out, "\nInputs that could not be read ({}):", s.errors.len());
        for e in &s.errors {
            let _ = writeln!(out, "  {}: {}", esc(&e.source), esc(&e.message));
        }
    }
    let _ = writeln!(out, "\n{}", s.headline());
    out
}

fn counts_text(out: &mut String, s: &Summary) {
    let verdicts: Vec<String> = s
        .by_verdict()
        .iter()
        .map(|(v, n)| format!("{} {n}", v.as_str()))
        .collect();
    let releases: Vec<String> = s
        .by_release()
        .iter()
        .map(|(r, n)| format!("{} {n}", esc(r)))
        .collect();
    let _ = writeln!(out, "Per verdict: {}", verdicts.join(", "));
    let _ = writeln!(out, "Per release: {}", releases.join(", "));
}

/// A CSV cell (RFC 4180): quoted when it holds a comma, quote or line break; a cell a
/// spreadsheet would take for a formula (`=`, `+`, `-`, `@`, tab, carriage return first) is
/// prefixed with `'`.
fn csv_cell(s: &str) -> String {
    let s = esc(s);
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.into_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// One row per device with a header; the counts and errors are not rows (they are in the
/// text and HTML forms, and `summary`'s status).
pub fn render_csv(s: &Summary) -> String {
    let mut out = String::from(
        "device,verdict,release,c_library,static_copies,worst_exposed_service,rows_for_device,report,summary\r\n",
    );
    for r in &s.rows {
        let cells = [
            csv_cell(&r.device),
            csv_cell(r.verdict.as_str()),
            csv_cell(&r.release),
            csv_cell(&r.libc),
            csv_cell(&r.static_copies),
            csv_cell(&r.worst_service),
            r.seen.to_string(),
            csv_cell(&r.source),
            csv_cell(&r.sentence),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The fleet as a page: a banner of the worst verdict, the counts, the table, duplicates and
/// errors (the same page frame and escaping as `--format html`).
pub fn render_html(s: &Summary) -> String {
    let worst = s
        .rows
        .iter()
        .map(|r| r.verdict)
        .min_by_key(|v| urgency(*v))
        .unwrap_or(Verdict::Error);
    let mut b = String::new();
    let _ = writeln!(b, "<h1>BadAlloc (CVE-2021-22156) fleet summary</h1>");
    let _ = writeln!(
        b,
        "<header class=\"banner {}\"><p class=\"verdict\">{}</p><p class=\"sentence\">{}</p></header>",
        html::verdict_class(worst),
        if s.rows.is_empty() {
            "NO REPORT READ"
        } else {
            plain::verdict_title(worst)
        },
        html::text(&s.headline())
    );
    b.push_str("<h2>Per verdict</h2>\n<table><tr><th>verdict</th><th>devices</th></tr>\n");
    for (v, n) in s.by_verdict() {
        let _ = writeln!(
            b,
            "<tr><td class=\"cell {}\">{}</td><td class=\"num\">{n}</td></tr>",
            html::verdict_class(v),
            v.as_str()
        );
    }
    b.push_str(
        "</table>\n<h2>Per release</h2>\n<table><tr><th>release</th><th>devices</th></tr>\n",
    );
    for (r, n) in s.by_release() {
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td class=\"num\">{n}</td></tr>",
            html::text(&r)
        );
    }
    b.push_str("</table>\n<h2>Devices (most urgent first)</h2>\n<table><tr><th>verdict</th><th>release</th><th>C library</th><th>static copies</th><th>worst exposed service</th><th>device</th><th>report</th></tr>\n");
    for r in &s.rows {
        let _ = writeln!(
            b,
            "<tr><td class=\"cell {}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code>{}</td><td><code>{}</code></td></tr>",
            html::verdict_class(r.verdict),
            r.verdict.as_str(),
            html::text(&r.release),
            html::text(&r.libc),
            html::text(&r.static_copies),
            html::text(&r.worst_service),
            html::text(&r.device),
            if r.seen > 1 { " (*)" } else { "" },
            html::text(&r.source)
        );
    }
    b.push_str("</table>\n");
    let dups = s.duplicates();
    if !dups.is_empty() {
        b.push_str("<h2>Device paths in more than one report (*)</h2>\n<p class=\"note\">Every row is kept and counted: the same device scanned twice, or two devices scanned under one path. Use <code>diff</code> to compare two scans of one device.</p>\n<ul>");
        for (d, n, differ) in &dups {
            let _ = write!(
                b,
                "<li><code>{}</code>: {n} rows{}</li>",
                html::text(d),
                if *differ {
                    ", <span class=\"bad\">with different verdicts</span>"
                } else {
                    ""
                }
            );
        }
        b.push_str("</ul>\n");
    }
    if !s.errors.is_empty() {
        b.push_str(
            "<h2>Inputs that could not be read</h2>\n<table><tr><th>input</th><th>why</th></tr>\n",
        );
        for e in &s.errors {
            let _ = writeln!(
                b,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                html::text(&e.source),
                html::text(&e.message)
            );
        }
        b.push_str("</table>\n");
    }
    html::page("badalloc-audit: fleet summary", &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("line\nbreak"), "line\\x0abreak");
    }
}
