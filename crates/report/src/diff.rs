//! Compares two reports (before and after a patch or a firmware update): which verdicts,
//! releases and calloc verdicts changed, which binaries came and went, and whether anything
//! is still exposed. Reports are read back from `--format json` files (see `Report`'s serde).
//!
//! Targets are matched by path. A target of BEFORE that AFTER does not hold was not scanned
//! again: it is never part of "nothing exposed remains", and one that was affected,
//! inconclusive or unreadable before keeps the comparison exposed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{CallocVerdict, Report, TargetReport, Verdict};
use badalloc_formats::names::escape_text;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// How targets were paired: `path`, or `same-target` (the user said the single target
    /// of each report is the same device, whatever the paths).
    pub matched_by: String,
    /// Targets found in both reports.
    pub shared_targets: usize,
    pub targets: Vec<TargetDiff>,
    /// Something may still be exposed: the after report has an affected target or an
    /// unchecked calloc (QNX or not), or a target affected, inconclusive or unreadable
    /// before was not scanned again.
    pub still_exposed: bool,
    /// What keeps it exposed, one line each.
    pub exposures: Vec<String>,
    /// Targets of the after report that are inconclusive or could not be read: not known
    /// to be exposed, nor known not to be.
    pub undecided: Vec<String>,
}

/// How the targets of two reports are paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// Targets with the same path.
    ByPath,
    /// The one target of each report, whatever their paths (the same device scanned from
    /// another mount point): `diff --same-target`.
    SameTarget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetStatus {
    Changed,
    Unchanged,
    /// Only in the after report.
    Added,
    /// Only in the before report: not scanned again, so nothing is known of it now.
    NotRescanned,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetDiff {
    pub before_path: Option<String>,
    pub after_path: Option<String>,
    pub status: TargetStatus,
    #[serde(with = "crate::wire_name::option")]
    pub verdict_before: Option<Verdict>,
    #[serde(with = "crate::wire_name::option")]
    pub verdict_after: Option<Verdict>,
    pub release_before: Option<String>,
    pub release_after: Option<String>,
    /// C libraries and static copies whose calloc verdict changed (matched by path).
    pub calloc_changes: Vec<CallocChange>,
    pub binaries_added: Vec<String>,
    pub binaries_removed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallocChange {
    pub path: String,
    /// `libc` or `static`.
    pub kind: String,
    /// None: the file (or its calloc) is absent on that side.
    #[serde(with = "crate::wire_name::option")]
    pub before: Option<CallocVerdict>,
    #[serde(with = "crate::wire_name::option")]
    pub after: Option<CallocVerdict>,
}

/// Compare two reports, targets matched by path.
pub fn diff(before: &Report, after: &Report) -> Diff {
    let pairs = pair_by_path(before, after);
    compare(pairs, after, "path")
}

/// Compare two reports, targets paired as `matching` says; an error when `SameTarget` is
/// asked of reports that do not hold one target each.
pub fn diff_with(before: &Report, after: &Report, matching: Matching) -> Result<Diff, String> {
    match (
        matching,
        before.targets.as_slice(),
        after.targets.as_slice(),
    ) {
        (Matching::ByPath, _, _) => Ok(diff(before, after)),
        (Matching::SameTarget, [b], [a]) => {
            Ok(compare(vec![(Some(b), Some(a))], after, "same-target"))
        }
        (Matching::SameTarget, b, a) => Err(format!(
            "--same-target compares reports of one target each; these have {} and {}",
            b.len(),
            a.len()
        )),
    }
}

fn compare(
    pairs: Vec<(Option<&TargetReport>, Option<&TargetReport>)>,
    after: &Report,
    matched_by: &str,
) -> Diff {
    let shared_targets = pairs
        .iter()
        .filter(|(b, a)| b.is_some() && a.is_some())
        .count();
    let targets: Vec<TargetDiff> = pairs.into_iter().map(|(b, a)| diff_target(b, a)).collect();
    let mut exposures = not_rescanned(&targets);
    exposures.extend(exposures_after(after));
    let undecided = after
        .targets
        .iter()
        .filter(|t| matches!(t.verdict, Verdict::Inconclusive | Verdict::Error))
        .map(|t| format!("{}: {}", t.path, t.verdict.as_str()))
        .collect();
    Diff {
        matched_by: matched_by.to_string(),
        shared_targets,
        targets,
        still_exposed: !exposures.is_empty(),
        exposures,
        undecided,
    }
}

impl Diff {
    /// `diff`'s exit status: 1 while anything may still be exposed, 3 when nothing is known
    /// to be but a target of the after report is undecided, else 0.
    pub fn exit_status(&self) -> u8 {
        if self.still_exposed {
            1
        } else if !self.undecided.is_empty() {
            3
        } else {
            0
        }
    }
}

/// Targets of the before report that were affected, inconclusive or unreadable and are not
/// in the after report: their state now is unknown.
fn not_rescanned(targets: &[TargetDiff]) -> Vec<String> {
    targets
        .iter()
        .filter(|t| t.status == TargetStatus::NotRescanned)
        .filter_map(|t| {
            let v = t.verdict_before?;
            matches!(
                v,
                Verdict::Affected | Verdict::Inconclusive | Verdict::Error
            )
            .then(|| {
                format!(
                    "{}: {} before, not re-scanned",
                    t.before_path.as_deref().unwrap_or("?"),
                    v.as_str()
                )
            })
        })
        .collect()
}

/// Targets match by path.
fn pair_by_path<'a>(
    before: &'a Report,
    after: &'a Report,
) -> Vec<(Option<&'a TargetReport>, Option<&'a TargetReport>)> {
    let mut pairs: Vec<(Option<&TargetReport>, Option<&TargetReport>)> = before
        .targets
        .iter()
        .map(|b| (Some(b), after.targets.iter().find(|a| a.path == b.path)))
        .collect();
    pairs.extend(
        after
            .targets
            .iter()
            .filter(|a| !before.targets.iter().any(|b| b.path == a.path))
            .map(|a| (None, Some(a))),
    );
    pairs
}

fn release(t: &TargetReport) -> Option<String> {
    t.os.release.clone().or_else(|| t.os.release_range.clone())
}

/// Every calloc of a target by (path, kind): the C libraries' and the static copies.
fn callocs(t: Option<&TargetReport>) -> BTreeMap<(String, &'static str), CallocVerdict> {
    let mut m = BTreeMap::new();
    if let Some(t) = t {
        for l in &t.libc {
            m.insert((l.path.clone(), "libc"), l.calloc.verdict);
        }
        for b in &t.binaries {
            if let Some(c) = &b.static_calloc {
                m.insert((b.path.clone(), "static"), c.verdict);
            }
        }
    }
    m
}

fn diff_target(b: Option<&TargetReport>, a: Option<&TargetReport>) -> TargetDiff {
    let before = callocs(b);
    let after = callocs(a);
    let mut keys: Vec<&(String, &'static str)> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let calloc_changes: Vec<CallocChange> = keys
        .into_iter()
        .filter_map(|k| {
            let (x, y) = (before.get(k).copied(), after.get(k).copied());
            (x != y).then(|| CallocChange {
                path: k.0.clone(),
                kind: k.1.to_string(),
                before: x,
                after: y,
            })
        })
        .collect();
    let paths = |t: Option<&TargetReport>| -> Vec<String> {
        t.map(|t| t.binaries.iter().map(|b| b.path.clone()).collect())
            .unwrap_or_default()
    };
    let (pb, pa) = (paths(b), paths(a));
    // A target on one side only lists no binary changes: the whole target came or went.
    let both = b.is_some() && a.is_some();
    let binaries_added: Vec<String> = if both {
        pa.iter().filter(|p| !pb.contains(p)).cloned().collect()
    } else {
        vec![]
    };
    let binaries_removed: Vec<String> = if both {
        pb.iter().filter(|p| !pa.contains(p)).cloned().collect()
    } else {
        vec![]
    };
    let mut d = TargetDiff {
        before_path: b.map(|t| t.path.clone()),
        after_path: a.map(|t| t.path.clone()),
        status: TargetStatus::Unchanged,
        verdict_before: b.map(|t| t.verdict),
        verdict_after: a.map(|t| t.verdict),
        release_before: b.and_then(release),
        release_after: a.and_then(release),
        calloc_changes: if both { calloc_changes } else { vec![] },
        binaries_added,
        binaries_removed,
    };
    d.status = match (b, a) {
        (None, _) => TargetStatus::Added,
        (_, None) => TargetStatus::NotRescanned,
        _ if d.verdict_before != d.verdict_after
            || d.release_before != d.release_after
            || !d.calloc_changes.is_empty()
            || !d.binaries_added.is_empty()
            || !d.binaries_removed.is_empty() =>
        {
            TargetStatus::Changed
        }
        _ => TargetStatus::Unchanged,
    };
    d
}

fn exposures_after(after: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for t in &after.targets {
        if t.verdict == Verdict::Affected {
            out.push(format!("{}: affected", t.path));
        }
        for l in &t.libc {
            if l.calloc.verdict == CallocVerdict::Unchecked {
                out.push(format!("{}: {}: calloc unchecked", t.path, l.path));
            }
        }
        for b in &t.binaries {
            if b.static_calloc
                .as_ref()
                .is_some_and(|c| c.verdict == CallocVerdict::Unchecked)
            {
                out.push(format!("{}: {}: static calloc unchecked", t.path, b.path));
            }
        }
    }
    out
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "-".into())
}

fn verdict_text(v: Option<Verdict>) -> &'static str {
    v.map(Verdict::as_str).unwrap_or("-")
}

fn calloc_text(v: Option<CallocVerdict>) -> &'static str {
    match v {
        Some(CallocVerdict::Checked) => "checked",
        Some(CallocVerdict::Unchecked) => "unchecked",
        Some(CallocVerdict::Unknown) => "unknown",
        None => "absent",
    }
}

/// A plain-text summary: how targets were matched, one block per target, then what may
/// still be exposed. Every string from the reports is escaped for the terminal.
pub fn render_text(d: &Diff) -> String {
    let mut s = matching_line(d);
    for t in &d.targets {
        target_block(&mut s, t);
    }
    if d.still_exposed {
        s.push_str("still exposed:\n");
        for e in &d.exposures {
            s.push_str(&format!("  {}\n", escape_text(e)));
        }
    } else if !d.undecided.is_empty() {
        s.push_str("nothing is known to be exposed, but these targets are undecided:\n");
        for u in &d.undecided {
            s.push_str(&format!("  {}\n", escape_text(u)));
        }
    } else {
        s.push_str("nothing exposed remains\n");
    }
    s
}

/// How the targets were paired, and what that left out.
fn matching_line(d: &Diff) -> String {
    let only = |status: TargetStatus| d.targets.iter().filter(|t| t.status == status).count();
    let (gone, new) = (only(TargetStatus::NotRescanned), only(TargetStatus::Added));
    if d.matched_by == "same-target" {
        return "The single target of each report compared (--same-target).\n".to_string();
    }
    if d.shared_targets == 0 && gone + new > 0 {
        return format!(
            "The two reports share no target (targets are matched by path): nothing was \
             compared. {gone} target(s) of BEFORE not re-scanned, {new} only in AFTER. \
             For one device scanned from two paths, use --same-target.\n"
        );
    }
    format!(
        "Targets matched by path: {} in both reports, {gone} only in BEFORE (not re-scanned), \
         {new} only in AFTER.\n",
        d.shared_targets
    )
}

fn target_block(s: &mut String, t: &TargetDiff) {
    let name = match (&t.before_path, &t.after_path) {
        (Some(b), Some(a)) if b != a => format!("{b} -> {a}"),
        (Some(p), _) | (None, Some(p)) => p.clone(),
        (None, None) => "?".into(),
    };
    let status = match t.status {
        TargetStatus::Changed => "changed",
        TargetStatus::Unchanged => "unchanged",
        TargetStatus::Added => "only in AFTER",
        TargetStatus::NotRescanned => "not re-scanned (absent from AFTER)",
    };
    s.push_str(&format!("{}: {status}\n", escape_text(&name)));
    if t.verdict_before != t.verdict_after {
        s.push_str(&format!(
            "  verdict: {} -> {}\n",
            verdict_text(t.verdict_before),
            verdict_text(t.verdict_after)
        ));
    } else if let Some(v) = t.verdict_after {
        s.push_str(&format!("  verdict: {} (unchanged)\n", v.as_str()));
    }
    if t.release_before != t.release_after {
        s.push_str(&format!(
            "  release: {} -> {}\n",
            escape_text(&opt(&t.release_before)),
            escape_text(&opt(&t.release_after))
        ));
    }
    for c in &t.calloc_changes {
        s.push_str(&format!(
            "  calloc of {} ({}): {} -> {}\n",
            escape_text(&c.path),
            escape_text(&c.kind),
            calloc_text(c.before),
            calloc_text(c.after)
        ));
    }
    for p in &t.binaries_added {
        s.push_str(&format!("  + {}\n", escape_text(p)));
    }
    for p in &t.binaries_removed {
        s.push_str(&format!("  - {}\n", escape_text(p)));
    }
}

/// JSON rendering of a diff (the same field names as the struct).
pub fn render_json(d: &Diff) -> String {
    let mut s =
        serde_json::to_string_pretty(d).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
