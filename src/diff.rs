//! Compares two reports (before and after a patch or a firmware update): which verdicts,
//! releases and calloc verdicts changed, which binaries came and went, and whether anything
//! is still exposed. Reports are read back from `--format json` files (see `Report`'s serde).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::report::{CallocVerdict, Report, TargetReport, Verdict};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    pub targets: Vec<TargetDiff>,
    /// The after report has an affected target, or any unchecked calloc (QNX or not).
    pub still_exposed: bool,
    /// What keeps it exposed, one line each.
    pub exposures: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    Changed,
    Unchanged,
    Added,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetDiff {
    pub before_path: Option<String>,
    pub after_path: Option<String>,
    pub status: TargetStatus,
    pub verdict_before: Option<Verdict>,
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
    pub before: Option<CallocVerdict>,
    pub after: Option<CallocVerdict>,
}

pub fn diff(before: &Report, after: &Report) -> Diff {
    let mut targets = Vec::new();
    for (b, a) in pair_targets(before, after) {
        targets.push(diff_target(b, a));
    }
    let exposures = exposures(after);
    Diff {
        targets,
        still_exposed: !exposures.is_empty(),
        exposures,
    }
}

/// Targets match by path; when each report has exactly one, they match whatever their
/// paths (the same device scanned from two mount points).
fn pair_targets<'a>(
    before: &'a Report,
    after: &'a Report,
) -> Vec<(Option<&'a TargetReport>, Option<&'a TargetReport>)> {
    if let ([b], [a]) = (before.targets.as_slice(), after.targets.as_slice()) {
        return vec![(Some(b), Some(a))];
    }
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
        (_, None) => TargetStatus::Removed,
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

fn exposures(after: &Report) -> Vec<String> {
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

/// A plain-text summary, one block per target, then the exposure line.
pub fn render_text(d: &Diff) -> String {
    let mut s = String::new();
    for t in &d.targets {
        let name = match (&t.before_path, &t.after_path) {
            (Some(b), Some(a)) if b != a => format!("{b} -> {a}"),
            (Some(p), _) | (None, Some(p)) => p.clone(),
            (None, None) => "?".into(),
        };
        let status = match t.status {
            TargetStatus::Changed => "changed",
            TargetStatus::Unchanged => "unchanged",
            TargetStatus::Added => "added",
            TargetStatus::Removed => "removed",
        };
        s.push_str(&format!("{name}: {status}\n"));
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
                opt(&t.release_before),
                opt(&t.release_after)
            ));
        }
        for c in &t.calloc_changes {
            s.push_str(&format!(
                "  calloc of {} ({}): {} -> {}\n",
                c.path,
                c.kind,
                calloc_text(c.before),
                calloc_text(c.after)
            ));
        }
        for p in &t.binaries_added {
            s.push_str(&format!("  + {p}\n"));
        }
        for p in &t.binaries_removed {
            s.push_str(&format!("  - {p}\n"));
        }
    }
    if d.still_exposed {
        s.push_str("still exposed:\n");
        for e in &d.exposures {
            s.push_str(&format!("  {e}\n"));
        }
    } else {
        s.push_str("nothing exposed remains\n");
    }
    s
}

/// JSON rendering of a diff (the same field names as the struct).
pub fn render_json(d: &Diff) -> String {
    let mut s =
        serde_json::to_string_pretty(d).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
