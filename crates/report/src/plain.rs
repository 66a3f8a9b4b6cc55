//! The plain-language reading of a target: the one sentence a field engineer, a hospital's
//! biomedical engineer or a regulator acts on, built once from the wire report and used by
//! the text, HTML and fleet renderings alike.
//!
//! It is a pure function of a [`TargetReport`] (and the advisory): which case applies is read
//! from the verdict, the rule ids that open the reasons (`docs/classification.md`) and the
//! facts the report carries, never from scan internals. The strings it returns hold text
//! from the firmware (paths, release strings): each renderer escapes them for its medium.

use super::{CallocVerdict, ImageState, LibcReport, TargetKind, TargetReport, Verdict};
use badalloc_audit_core::advisory::{ReleaseStatus, CVE_2021_22156};
use badalloc_audit_core::rules::Rule;

/// The flaw as a reader knows it.
const FLAW: &str = "the BadAlloc flaw (CVE-2021-22156)";

/// What the exposure score counts, for the legend under every exposure table.
pub fn exposure_legend() -> String {
    format!(
        "Score 0-4: one point each for reaching an unchecked \
calloc (or an unverified one, on an inconclusive device), being network-facing, being started \
at boot, and being a service BlackBerry's advisory names ({}).",
        CVE_2021_22156.named_services_list()
    )
}

/// Which situation a target is in: one per verdict and way of reaching it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// R1: the QNX C library's calloc is unchecked (static copies may add to it).
    AffectedLibc,
    /// R2 alone: only programs' own static copies are unchecked.
    AffectedStaticOnly,
    /// R8: the release predates every fix and has no patch; the code did not decide.
    AffectedRelease,
    /// Affected by a rule this reading does not know (a later version's).
    AffectedOther,
    /// R5: 6.5.0 with the vendor's fix.
    Patched,
    /// R7: an older release with the fix backported.
    PatchedBackport,
    /// R4: a fixed release.
    NotAffectedRelease,
    /// R9: the release is not known, but every calloc is checked.
    NotAffectedCode,
    /// R3: programs were found and none is QNX.
    NotQnx,
    /// NOT-FIRMWARE: every file is empty or text.
    NotFirmware,
    /// DAMAGED-IMAGE: an image could not be read in full.
    InconclusiveDamaged,
    /// R0: no program at all (maybe encrypted).
    InconclusiveNoPrograms,
    /// R6: 6.5.0, and the code of calloc was not checked.
    InconclusivePatchUnknown,
    /// R10 (or a later rule): neither release nor code decides.
    InconclusiveUndecided,
    /// The PATH could not be read at all.
    Unreadable,
}

/// The plain reading of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    pub case: Case,
    /// What was found, ending with the verdict in words: "This device runs QNX 6.5.0, whose
    /// C library has the BadAlloc flaw (CVE-2021-22156): affected."
    pub finding: String,
    /// What to do: "Patch or upgrade; until then restrict its network services."
    pub action: String,
}

impl Plain {
    /// The finding and the action: the first line of a report.
    pub fn sentence(&self) -> String {
        format!("{} {}", self.finding, self.action)
    }
}

/// The verdict in words, as the plain sentence ends it.
pub fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::Affected => "affected",
        Verdict::Patched => "patched",
        Verdict::NotAffected => "not affected",
        Verdict::NotQnx => "not QNX",
        Verdict::Inconclusive => "inconclusive",
        Verdict::Error => "unreadable",
    }
}

/// The verdict as a banner or a closing line shows it.
pub fn verdict_title(v: Verdict) -> &'static str {
    match v {
        Verdict::Affected => "AFFECTED",
        Verdict::Patched => "PATCHED",
        Verdict::NotAffected => "NOT AFFECTED",
        Verdict::NotQnx => "NOT QNX",
        Verdict::Inconclusive => "INCONCLUSIVE",
        Verdict::Error => "UNREADABLE",
    }
}

/// The verdict rule a reason opens with (`R1`, `DAMAGED-IMAGE`...), read through the rule
/// table; none for a note (`note:`, `caveat:`, `unread:`) or any other text.
pub fn rule_of(reason: &str) -> Option<Rule> {
    Rule::of_reason(reason).filter(|r| r.is_verdict_rule())
}

/// The release as a reader says it: "QNX 6.5.0", "QNX 6.4-6.6", "QNX 7.0 or later", or
/// "QNX (release unknown)".
pub fn release_phrase(t: &TargetReport) -> String {
    match (&t.os.release, &t.os.release_range) {
        (Some(r), _) => format!("QNX {r}"),
        (None, Some(range)) => format!("QNX {range}"),
        (None, None) => "QNX (release unknown)".to_string(),
    }
}

/// The release for a table cell: "6.5.0", "6.4-6.6", "unknown", or "-" when not QNX.
pub fn release_cell(t: &TargetReport) -> String {
    match (&t.os.family, &t.os.release, &t.os.release_range) {
        (_, Some(r), _) => r.clone(),
        (_, None, Some(range)) => range.clone(),
        (Some(_), None, None) => "unknown".to_string(),
        (None, None, None) => "-".to_string(),
    }
}

/// What a C library is: "libc.so.3, x86, QNX_info 6.5.0" (", not QNX" when it is not
/// counted as QNX's).
pub fn libc_description(l: &LibcReport) -> String {
    format!(
        "{}, {}{}{}",
        l.soname.as_deref().unwrap_or("no SONAME"),
        l.arch,
        l.version
            .as_deref()
            .map(|v| format!(", QNX_info {v}"))
            .unwrap_or_default(),
        if l.qnx { "" } else { ", not QNX" }
    )
}

/// Programs that carry their own unchecked copy of calloc.
pub fn unchecked_static_copies(t: &TargetReport) -> usize {
    t.binaries
        .iter()
        .filter(|b| {
            b.static_calloc
                .as_ref()
                .is_some_and(|c| c.verdict == CallocVerdict::Unchecked)
        })
        .count()
}

/// Whether some program of the exposure ranking is network-facing.
pub fn has_network_services(t: &TargetReport) -> bool {
    t.exposure.iter().any(|e| e.network)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Whether the target is one file (an ELF file or another file), not a device's tree or
/// image.
fn is_one_file(t: &TargetReport) -> bool {
    matches!(t.target_kind(), Some(TargetKind::Elf | TargetKind::File))
}

/// What the target is, as the subject of the sentence.
fn subject(t: &TargetReport) -> (&'static str, &'static str) {
    if is_one_file(t) {
        ("This file", "is built for")
    } else {
        ("This device", "runs")
    }
}

/// The plain reading of a target.
pub fn plain(t: &TargetReport) -> Plain {
    let case = case_of(t);
    let (finding, action) = match case {
        Case::AffectedLibc
        | Case::AffectedStaticOnly
        | Case::AffectedRelease
        | Case::AffectedOther => affected(t, case),
        Case::Patched | Case::PatchedBackport | Case::NotAffectedRelease => fixed(t, case),
        Case::NotAffectedCode | Case::NotQnx | Case::NotFirmware => clear(t, case),
        Case::InconclusiveDamaged
        | Case::InconclusiveNoPrograms
        | Case::InconclusivePatchUnknown
        | Case::InconclusiveUndecided => inconclusive(t, case),
        Case::Unreadable => unreadable(t),
    };
    Plain {
        case,
        finding,
        action,
    }
}

/// Which case applies: the verdict, then the rule that decided it.
pub fn case_of(t: &TargetReport) -> Case {
    let first_rule = t.reasons.iter().find_map(|r| rule_of(r));
    match t.verdict {
        Verdict::Affected if t.fired(Rule::R1) => Case::AffectedLibc,
        Verdict::Affected if t.fired(Rule::R2) => Case::AffectedStaticOnly,
        Verdict::Affected if t.fired(Rule::R8) => Case::AffectedRelease,
        Verdict::Affected => Case::AffectedOther,
        Verdict::Patched if t.fired(Rule::R7) => Case::PatchedBackport,
        Verdict::Patched => Case::Patched,
        Verdict::NotAffected if t.fired(Rule::R9) => Case::NotAffectedCode,
        Verdict::NotAffected => Case::NotAffectedRelease,
        Verdict::NotQnx if t.fired(Rule::NotFirmware) => Case::NotFirmware,
        Verdict::NotQnx => Case::NotQnx,
        Verdict::Inconclusive => match first_rule {
            Some(Rule::DamagedImage) => Case::InconclusiveDamaged,
            Some(Rule::R0) => Case::InconclusiveNoPrograms,
            Some(Rule::R6) => Case::InconclusivePatchUnknown,
            _ => Case::InconclusiveUndecided,
        },
        Verdict::Error => Case::Unreadable,
    }
}

/// "until then restrict its network services", when it has some.
fn restrict(t: &TargetReport) -> &'static str {
    if has_network_services(t) {
        "; until then restrict its network services."
    } else {
        "."
    }
}

/// "1 program carries its own copy" / "3 programs carry their own copies".
fn carry(copies: usize) -> String {
    if copies == 1 {
        "1 program carries its own copy".to_string()
    } else {
        format!("{copies} programs carry their own copies")
    }
}

fn affected(t: &TargetReport, case: Case) -> (String, String) {
    let (who, runs) = subject(t);
    let release = release_phrase(t);
    let copies = unchecked_static_copies(t);
    let fixed = CVE_2021_22156.first_fixed_release;
    match case {
        Case::AffectedLibc => {
            let (also, relink) = if copies > 0 {
                (
                    format!(", and {} of the flawed code", carry(copies)),
                    if copies == 1 {
                        " (then relink the program with its own copy)".to_string()
                    } else {
                        format!(" (then relink the {copies} programs with their own copies)")
                    },
                )
            } else {
                (String::new(), String::new())
            };
            // No vendor patch exists before 6.5.0 (issue 15.8).
            let status = badalloc_audit_core::surface::patch_status_of(
                t.os.release.as_deref(),
                t.os.release_range.as_deref(),
            );
            let action = match status {
                Some(ReleaseStatus::AffectedNoPatch) => format!(
                    "Upgrade to QNX {fixed} or later, or port the fix to this build (no vendor \
                     patch exists for this release)"
                ),
                _ => "Patch or upgrade".to_string(),
            };
            (
                format!("{who} {runs} {release}, whose C library has {FLAW}{also}: affected."),
                format!("{action}{relink}{}", restrict(t)),
            )
        }
        Case::AffectedStaticOnly => (
            format!(
                "{who} {runs} {release}, but {} of calloc with {FLAW}: affected.",
                if is_one_file(t) {
                    "it carries its own copy".to_string()
                } else {
                    carry(copies)
                }
            ),
            format!(
                "Relink {} against a fixed C library{}",
                if copies == 1 { "it" } else { "them" },
                restrict(t)
            ),
        ),
        Case::AffectedRelease => (
            format!(
                "{who} {runs} {release}, a release with {FLAW} for which no patch exists: affected."
            ),
            format!("Upgrade to QNX {fixed} or later{}", restrict(t)),
        ),
        _ => (
            format!("{who} {runs} {release} and has {FLAW}: affected."),
            format!("Patch or upgrade{}", restrict(t)),
        ),
    }
}

fn fixed(t: &TargetReport, case: Case) -> (String, String) {
    let (who, runs) = subject(t);
    let release = release_phrase(t);
    let finding = match case {
        Case::PatchedBackport => format!(
            "{who} {runs} {release}, a release with {FLAW} and no vendor patch, but its C \
             library carries a backported fix: patched."
        ),
        Case::Patched => format!(
            "{who} {runs} {release}, a release with {FLAW}, but its C library carries the fix: \
             patched."
        ),
        _ => format!("{who} {runs} {release}, a release in which {FLAW} is fixed: not affected."),
    };
    let action = if case == Case::NotAffectedRelease {
        "Nothing to do for this flaw."
    } else {
        "Nothing to do for this flaw; keep the fix in future builds."
    };
    (finding, action.to_string())
}

fn clear(t: &TargetReport, case: Case) -> (String, String) {
    let (who, runs) = subject(t);
    match case {
        Case::NotAffectedCode => (
            format!(
                "{who} {runs} {}, and its C library's calloc tests for overflow, so {FLAW} is \
                 absent: not affected.",
                release_phrase(t)
            ),
            "Nothing to do for this flaw.".to_string(),
        ),
        Case::NotFirmware => (
            format!(
                "{} not firmware (only empty or text files), so {FLAW} of QNX cannot be in it: \
                 not QNX.",
                if t.target_kind() == Some(TargetKind::Directory) {
                    "This is"
                } else {
                    "This file is"
                }
            ),
            "Nothing to do; to check a device, scan its firmware.".to_string(),
        ),
        _ => {
            let family = t
                .reasons
                .iter()
                .filter(|r| rule_of(r) == Some(Rule::FamilyUnchecked))
                .count();
            let programs = t.stats.elf_files.max(t.binaries.len() as u64) as usize;
            let doesnt = if is_one_file(t) {
                "This file is not built for QNX".to_string()
            } else {
                format!(
                    "This device does not run QNX (none of its {} carries a QNX marker)",
                    plural(programs, "program", "programs")
                )
            };
            let (but, action) = if family > 0 {
                (
                    format!(
                        "; but {} a calloc with the same kind of flaw from another C library",
                        plural(family, "file has", "files have")
                    ),
                    "Nothing to do for the QNX flaw; ask the vendor for a fixed C library."
                        .to_string(),
                )
            } else {
                (String::new(), "Nothing to do for this flaw.".to_string())
            };
            (
                format!("{doesnt}, so {FLAW} does not apply{but}: not QNX."),
                action,
            )
        }
    }
}

fn inconclusive(t: &TargetReport, case: Case) -> (String, String) {
    let (who, runs) = subject(t);
    let release = release_phrase(t);
    match case {
        Case::InconclusiveDamaged => {
            let damaged: Vec<&str> = t
                .images
                .iter()
                .filter(|i| i.state != ImageState::Complete)
                .map(|i| i.path.as_str())
                .collect();
            let which = match damaged.as_slice() {
                [] => "an image".to_string(),
                [one] => one.to_string(),
                [first, rest @ ..] => {
                    format!("{first} and {}", plural(rest.len(), "other", "others"))
                }
            };
            (
                format!(
                    "Part of this firmware could not be read ({which} is damaged or cut short), \
                     and the missing part may hold {FLAW}: inconclusive."
                ),
                "Treat it as affected; acquire the image again (a fresh dump or copy) and scan \
                 it again."
                    .to_string(),
            )
        }
        Case::InconclusiveNoPrograms => (
            format!(
                "Whether {} runs QNX cannot be told: no program was found in it (it may be \
                 encrypted, or in a format this tool does not read), so {FLAW} cannot be ruled \
                 out: inconclusive.",
                if is_one_file(t) {
                    "this file"
                } else {
                    "this device"
                }
            ),
            "Treat it as affected until its decrypted firmware, or its kernel and C library, \
             are scanned."
                .to_string(),
        ),
        Case::InconclusivePatchUnknown => (
            format!(
                "{who} {runs} {release}, which has {FLAW} unless patch {} is applied, \
                 and the code of its C library could not be checked: inconclusive.",
                CVE_2021_22156.patch_numbers()
            ),
            "Treat it as affected: scan its C library (libc.so), or apply the patch.".to_string(),
        ),
        _ => (
            format!(
                "{who} {runs} {release}, but neither its release nor its code tells whether it \
                 has {FLAW} ({}): inconclusive.",
                undecided_why(t)
            ),
            "Treat it as affected until its kernel (procnto) and C library are scanned."
                .to_string(),
        ),
    }
}

/// Why neither release nor code decided, from the facts.
fn undecided_why(t: &TargetReport) -> &'static str {
    let qnx_libcs: Vec<_> = t.libc.iter().filter(|l| l.qnx).collect();
    if qnx_libcs.is_empty() {
        "its C library was not found"
    } else if qnx_libcs
        .iter()
        .any(|l| l.calloc.verdict == CallocVerdict::Unknown)
    {
        "the code of its C library's calloc could not be analysed"
    } else {
        "its release is known only from a component's label or a range of releases"
    }
}

fn unreadable(t: &TargetReport) -> (String, String) {
    let why = t
        .errors
        .first()
        .map(|e| format!(" ({})", e.message))
        .unwrap_or_default();
    (
        format!("This path could not be read at all{why}, so nothing was checked: unreadable."),
        "Check the path and its permissions, then scan it again.".to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A target as the JSON report carries it: `verdict`, its reasons, release, and what
    /// the facts add (`extra` fields merged in).
    fn target(
        verdict: &str,
        reasons: &[&str],
        release: Option<&str>,
        extra: serde_json::Value,
    ) -> TargetReport {
        let mut t = json!({
            "path": "fw", "kind": "directory", "verdict": verdict, "reasons": reasons,
            "os": {"family": "qnx", "release": release, "release_range": null,
                   "confidence": "high", "evidence": [], "conflicts": []},
            "libc": [], "binaries": [], "symlinks": [], "images": [], "errors": [],
            "stats": {"files": 3, "bytes": 10, "elf_files": 3, "skipped": 0},
            "exposure": [], "mitigations": []
        });
        if let (Some(t), Some(extra)) = (t.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                t.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(t).expect("a target report")
    }

    fn static_copy(verdict: &str) -> serde_json::Value {
        json!({"path": "bin/a", "arch": "x86", "type": "executable", "interpreter": null,
               "needed": [], "libc": "static", "qnx": true, "imports_calloc": false,
               "imports_malloc": false, "imports_realloc": false,
               "static_calloc": {"verdict": verdict, "function": null, "address": "0x10",
                                 "reason": "r", "chain": [], "evidence": []},
               "network": false, "network_imports": [], "stripped_static": false})
    }

    fn exposed_service() -> serde_json::Value {
        json!([{"path": "usr/sbin/qconn", "score": 4, "calloc": "imports-unchecked",
                "network": true, "started_by": "etc/rc.d/rc.local", "named_service": true}])
    }

    #[test]
    fn rule_ids_are_read_from_the_reasons() {
        assert_eq!(rule_of("R1: the QNX C library"), Some(Rule::R1));
        assert_eq!(rule_of("R10: x"), Some(Rule::R10));
        assert_eq!(rule_of("DAMAGED-IMAGE: a"), Some(Rule::DamagedImage));
        assert_eq!(rule_of("note: release 7.1.0"), None);
        assert_eq!(rule_of("caveat: 2 files"), None);
        assert_eq!(rule_of("R: x"), None);
        assert_eq!(rule_of("no colon"), None);
    }

    /// Every case: its sentence names the release, the verdict in words and the action.
    #[test]
    fn one_sentence_per_verdict_and_case() {
        let cases: Vec<(TargetReport, Case, &[&str])> = vec![
            (
                target("affected", &["R1: x"], Some("6.5.0"), json!({"exposure": exposed_service()})),
                Case::AffectedLibc,
                &["This device runs QNX 6.5.0, whose C library has the BadAlloc flaw (CVE-2021-22156): affected. Patch or upgrade; until then restrict its network services."],
            ),
            (
                target("affected", &["R1: x", "R2: y"], Some("6.5.0"), json!({"binaries": [static_copy("unchecked")]})),
                Case::AffectedLibc,
                &["and 1 program carries its own copy of the flawed code: affected.", "Patch or upgrade (then relink the program with its own copy)."],
            ),
            (
                target("affected", &["R1: x"], Some("6.4.1"), json!({})),
                Case::AffectedLibc,
                &["This device runs QNX 6.4.1, whose C library has the BadAlloc flaw (CVE-2021-22156): affected. Upgrade to QNX 6.6.0 or later, or port the fix to this build (no vendor patch exists for this release)."],
            ),
            (
                target("affected", &["R2: y"], Some("7.1.0"), json!({"binaries": [static_copy("unchecked"), static_copy("unchecked")]})),
                Case::AffectedStaticOnly,
                &["This device runs QNX 7.1.0, but 2 programs carry their own copies of calloc with the BadAlloc flaw (CVE-2021-22156): affected. Relink them against a fixed C library."],
            ),
            (
                target("affected", &["R8: z"], Some("6.4.1"), json!({})),
                Case::AffectedRelease,
                &["QNX 6.4.1, a release with the BadAlloc flaw (CVE-2021-22156) for which no patch exists: affected. Upgrade to QNX 6.6.0 or later."],
            ),
            (
                target("patched", &["R5: p"], Some("6.5.0"), json!({})),
                Case::Patched,
                &["QNX 6.5.0, a release with the BadAlloc flaw (CVE-2021-22156), but its C library carries the fix: patched."],
            ),
            (
                target("patched", &["R7: p"], Some("6.4.1"), json!({})),
                Case::PatchedBackport,
                &["no vendor patch, but its C library carries a backported fix: patched."],
            ),
            (
                target("not-affected", &["R4: f"], Some("7.1.0"), json!({})),
                Case::NotAffectedRelease,
                &["This device runs QNX 7.1.0, a release in which the BadAlloc flaw (CVE-2021-22156) is fixed: not affected. Nothing to do for this flaw."],
            ),
            (
                target("not-affected", &["R9: c"], None, json!({})),
                Case::NotAffectedCode,
                &["QNX (release unknown), and its C library's calloc tests for overflow", ": not affected."],
            ),
            (
                target("not-qnx", &["R3: none"], None, json!({"os": {"family": null, "confidence": "high", "evidence": [], "conflicts": []}})),
                Case::NotQnx,
                &["This device does not run QNX (none of its 3 programs carries a QNX marker), so the BadAlloc flaw (CVE-2021-22156) does not apply: not QNX. Nothing to do for this flaw."],
            ),
            (
                target("not-qnx", &["R3: none", "BADALLOC-CALLOC-UNCHECKED: bin/x"], None, json!({"os": {"family": null, "confidence": "high", "evidence": [], "conflicts": []}})),
                Case::NotQnx,
                &["but 1 file has a calloc with the same kind of flaw from another C library: not QNX.", "ask the vendor for a fixed C library"],
            ),
            (
                target("not-qnx", &["NOT-FIRMWARE: text"], None, json!({"os": {"family": null, "confidence": "high", "evidence": [], "conflicts": []}})),
                Case::NotFirmware,
                &["This is not firmware (only empty or text files)", ": not QNX."],
            ),
            (
                target("inconclusive", &["R0: no ELF"], None, json!({"os": {"family": null, "confidence": "low", "evidence": [], "conflicts": []}})),
                Case::InconclusiveNoPrograms,
                &["Whether this device runs QNX cannot be told", ": inconclusive. Treat it as affected"],
            ),
            (
                target("inconclusive", &["R6: 6.5"], Some("6.5.0"), json!({})),
                Case::InconclusivePatchUnknown,
                &["QNX 6.5.0, which has the BadAlloc flaw (CVE-2021-22156) unless patch 4844 or 4846 is applied", ": inconclusive. Treat it as affected"],
            ),
            (
                target("inconclusive", &["R10: u"], None, json!({})),
                Case::InconclusiveUndecided,
                &["(its C library was not found): inconclusive. Treat it as affected until its kernel (procnto) and C library are scanned."],
            ),
            (
                target("inconclusive", &["DAMAGED-IMAGE: d", "R4: f"], Some("7.1.0"), json!({"images": [
                    {"path": "fw.ifs", "kind": "ifs", "offset": null, "entries": 3, "notes": [], "boot_script": [], "state": "partial"}]})),
                Case::InconclusiveDamaged,
                &["Part of this firmware could not be read (fw.ifs is damaged or cut short)", ": inconclusive. Treat it as affected; acquire the image again"],
            ),
            (
                target("error", &["the path could not be read at all"], None, json!({"kind": "unreadable", "errors": [{"path": "fw", "offset": null, "message": "cannot read fw: No such file"}]})),
                Case::Unreadable,
                &["This path could not be read at all (cannot read fw: No such file), so nothing was checked: unreadable."],
            ),
        ];
        for (t, case, needles) in cases {
            let p = plain(&t);
            assert_eq!(p.case, case, "{t:?}");
            let sentence = p.sentence();
            for n in needles {
                assert!(sentence.contains(n), "{case:?}: {n:?} not in {sentence:?}");
            }
            assert!(
                p.finding
                    .ends_with(&format!(": {}.", verdict_words(t.verdict))),
                "{sentence}"
            );
        }
    }

    #[test]
    fn a_single_file_is_not_called_a_device() {
        let t = target(
            "affected",
            &["R1: x"],
            Some("6.4.0"),
            json!({"kind": "elf"}),
        );
        assert!(plain(&t)
            .finding
            .starts_with("This file is built for QNX 6.4.0"));
    }
}
