//! Facts + advisory → verdict, with the reasons. Each rule is a row of [`crate::rules`] and
//! is explained in `docs/classification.md`; the rule identifiers (R1...) appear in both.
//!
//! The code of calloc outranks every label: a release string says what a build was meant
//! to be; the machine code says what it does. Unknown stays inconclusive, never safe.

use crate::advisory::recognise_library;
use crate::advisory::{release_status, ReleaseStatus, CVE_2021_22156, MEDICAL_PATCH, SDP_PATCH};
use crate::evidence::{OsAssessment, Release};
use crate::model::{
    Binary, CallocFinding, CallocVerdict, Confidence, Image, ImageState, Libc, Verdict,
};
use crate::rules::{Gives, Reason, Rule};

/// What classification needs from a target.
pub struct Findings<'a> {
    pub os: &'a OsAssessment,
    pub libc: &'a [Libc],
    pub binaries: &'a [Binary],
    /// Number of ELF files examined: none means there was nothing to judge.
    pub elf_files: u64,
    /// Files named like a C library that could not be read or decoded: their calloc was
    /// not checked, which is not the same as there being no C library.
    pub unreadable_libc: &'a [UnreadableFile],
    /// Images found (opened or only recognised), nested ones included; their `state` says
    /// how much of each was read (rule DAMAGED-IMAGE).
    pub images: &'a [Image],
    /// Files read from disk, and how many of them are of an unknown format: not ELF, no
    /// image, not text and not empty (rule NOT-FIRMWARE).
    pub files: u64,
    pub opaque_files: u64,
    /// Error entries of the target (a file or image entry that could not be read).
    pub errors: usize,
}

/// A file that could not be read, and why ("permission denied; run as root").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableFile {
    pub path: String,
    pub reason: String,
}

/// "lib/libc.so.5 could not be read: permission denied; run as root", for each.
fn describe_unreadable(files: &[UnreadableFile]) -> Option<String> {
    let each: Vec<String> = files
        .iter()
        .map(|u| format!("{} could not be read: {}", u.path, u.reason))
        .collect();
    (!each.is_empty()).then(|| each.join(", and "))
}

pub struct Classification {
    pub verdict: Verdict,
    /// The rules that fired, most decisive first, each with its sentence.
    pub reasons: Vec<Reason>,
}

impl Classification {
    /// Whether the rule fired.
    pub fn fired(&self, rule: Rule) -> bool {
        self.reasons.iter().any(|r| r.rule == rule)
    }
}

pub fn classify(f: &Findings<'_>) -> Classification {
    if let Some(c) = not_firmware(f) {
        return c;
    }
    let mut c = classify_facts(f);
    damaged_images(f, &mut c);
    c
}

/// Rule NOT-FIRMWARE: every file was read, and each is empty or text (no ELF file, no
/// image, no bytes of an unknown format): nothing here is firmware, so nothing could be
/// QNX. (R0 is for bytes that might be an encrypted or unknown image.)
fn not_firmware(f: &Findings<'_>) -> Option<Classification> {
    let plain = !f.os.is_qnx
        && f.elf_files == 0
        && f.images.is_empty()
        && f.files > 0
        && f.opaque_files == 0
        && f.errors == 0;
    plain.then(|| Classification {
        verdict: Verdict::NotQnx,
        reasons: vec![Reason::new(
            Rule::NotFirmware,
            format_args!(
                "{} empty or holds only text (no ELF file, no image, no binary \
                 data): this is not firmware, so there is nothing of QNX to audit",
                if f.files == 1 {
                    "the file is".to_string()
                } else {
                    format!("each of the {} files is", f.files)
                }
            ),
        )],
    })
}

/// How many damaged images a reason names before it counts the rest.
const MAX_NAMED_IMAGES: usize = 3;

/// Rule DAMAGED-IMAGE: an image found by its signature that could not be read in full
/// (damaged, truncated, nested too deep, over a bound) may hold what decides the verdict (a
/// C library, a static copy of calloc), so the target is at most inconclusive: never
/// not-affected, patched or not-qnx (an image of a QNX format already makes it QNX, see
/// `evidence::assess`). An affected verdict stands; the images are named either way, with
/// the damage, its offset, and what to do.
fn damaged_images(f: &Findings<'_>, c: &mut Classification) {
    let damaged: Vec<&Image> = f
        .images
        .iter()
        .filter(|i| i.state != ImageState::Complete)
        .collect();
    if damaged.is_empty() {
        return;
    }
    let mut named: Vec<String> = damaged
        .iter()
        .take(MAX_NAMED_IMAGES)
        .map(|i| {
            let what = i.damage().map_or(String::new(), |d| match d.offset {
                Some(o) => format!(", damaged at offset {o:#x} of the image: {}", d.detail),
                None => format!(": {}", d.detail),
            });
            let state = match i.state {
                ImageState::Unreadable => "could not be read",
                _ => "could be read only in part",
            };
            format!("{} ({} image) {state}{what}", i.path, i.kind.as_str())
        })
        .collect();
    if damaged.len() > MAX_NAMED_IMAGES {
        named.push(format!(
            "and {} more images",
            damaged.len() - MAX_NAMED_IMAGES
        ));
    }
    let reason = Reason::new(
        Rule::DamagedImage,
        format_args!(
            "{}; what is missing may hold a C library or a static copy of \
             calloc, so it cannot be ruled out: acquire the image again (a fresh dump or copy, \
             checked against its source) and scan it again",
            named.join("; ")
        ),
    );
    match c.verdict {
        Verdict::NotAffected | Verdict::Patched | Verdict::NotQnx | Verdict::Inconclusive => {
            c.verdict = Verdict::Inconclusive;
            c.reasons.insert(0, reason);
        }
        Verdict::Affected | Verdict::Error => c.reasons.push(reason),
    }
}

/// The calloc copies of a target that classification weighs.
struct Copies<'a> {
    qnx_libcs: Vec<&'a Libc>,
    unchecked_libc: Vec<&'a Libc>,
    unchecked_static: Vec<&'a Binary>,
}

impl<'a> Copies<'a> {
    fn of(f: &Findings<'a>) -> Copies<'a> {
        let qnx_libcs: Vec<&Libc> = f.libc.iter().filter(|l| l.qnx).collect();
        let unchecked_libc = qnx_libcs
            .iter()
            .copied()
            .filter(|l| l.calloc.verdict == CallocVerdict::Unchecked)
            .collect();
        let unchecked_static = f
            .binaries
            .iter()
            .filter(|b| {
                b.static_calloc
                    .as_ref()
                    .is_some_and(|c| c.verdict == CallocVerdict::Unchecked)
            })
            .collect();
        Copies {
            qnx_libcs,
            unchecked_libc,
            unchecked_static,
        }
    }
}

/// The rules R0-R10 on the facts (see `docs/classification.md`).
fn classify_facts(f: &Findings<'_>) -> Classification {
    let copies = Copies::of(f);
    let unreadable = describe_unreadable(f.unreadable_libc);
    if !f.os.is_qnx {
        return not_qnx(f, &copies, unreadable.as_deref());
    }
    // R1, R2: the code decides first.
    let mut reasons = unchecked_code(&copies);
    if !reasons.is_empty() {
        if let Some(r) =
            f.os.estimate
                .exact
                .filter(|r| release_status(*r) == ReleaseStatus::Fixed)
        {
            reasons.push(Reason::new(
                Rule::FixedReleaseNote,
                format_args!(
                    "release {r} is a fixed release, yet unchecked code was found: a custom or downgraded build"
                ),
            ));
        }
        return Classification {
            verdict: Verdict::Affected,
            reasons,
        };
    }
    let (libc_checked, code_note) = code_of_calloc(&copies.qnx_libcs, unreadable.as_deref());
    let (status, release_text) = decisive_status(f.os, libc_checked);
    let reason = release_rule(f.os, status, libc_checked, &release_text, &code_note);
    // The table says what each release rule gives; every one of them decides.
    let verdict = match reason.rule.row().gives {
        Gives::Verdict(v) => v,
        Gives::AtMost(_) | Gives::Nothing => Verdict::Inconclusive,
    };
    reasons.push(reason);
    if verdict != Verdict::Affected {
        reasons.extend(stripped_caveat(f.binaries));
        reasons.extend(unknown_copies_caveat(f.binaries));
    }
    Classification { verdict, reasons }
}

/// A target without a QNX marker: R0 (no ELF at all) or R3, with the BadAlloc-family
/// findings of any unchecked calloc (newlib <= 3.3 linked statically, say): not the QNX
/// CVE, but the same flaw; named, never silent.
fn not_qnx(f: &Findings<'_>, copies: &Copies<'_>, unreadable: Option<&str>) -> Classification {
    let mut reasons = Vec::new();
    if let Some(u) = unreadable {
        reasons.push(Reason::new(
            Rule::Unread,
            format_args!("{u}; a C library that could not be read is not an absent one"),
        ));
    }
    if f.elf_files == 0 {
        reasons.push(Reason::new(
            Rule::R0,
            "no ELF file was found, so nothing tells whether this is QNX; an encrypted or unknown image format is possible",
        ));
        return Classification {
            verdict: Verdict::Inconclusive,
            reasons,
        };
    }
    reasons.push(Reason::new(
        Rule::R3,
        format_args!(
            "none of the {} ELF files carries a QNX marker (ldqnx runtime linker, QNX note, QNX_info, QNX kernel, QNX compiler target, Neutrino kernel calls)",
            f.elf_files
        ),
    ));
    let libcs = f
        .libc
        .iter()
        .filter(|l| l.calloc.verdict == CallocVerdict::Unchecked)
        .map(|l| {
            (
                l.path.as_str(),
                recognise_library(&l.path, l.soname.as_deref(), &l.calloc.chain),
                String::new(),
            )
        });
    let statics = copies.unchecked_static.iter().map(|b| {
        let c = b.static_calloc.as_ref();
        let chain = c.map(|c| c.chain.as_slice()).unwrap_or_default();
        let note = c.map(CallocFinding::located_note).unwrap_or_default();
        (
            b.path.as_str(),
            recognise_library(&b.path, None, chain),
            note,
        )
    });
    for (path, library, note) in libcs.chain(statics) {
        reasons.push(Reason::new(
            Rule::FamilyUnchecked,
            format_args!(
                "{path} has a calloc{note} without an overflow test{} (a BadAlloc-family flaw; \
                 CVE-2021-22156 itself is QNX's and does not apply)",
                library.map(|l| format!(", from {l}")).unwrap_or_default()
            ),
        ));
    }
    Classification {
        verdict: Verdict::NotQnx,
        reasons,
    }
}

/// R1 and R2: each unchecked QNX C library and static copy of calloc.
fn unchecked_code(copies: &Copies<'_>) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for l in &copies.unchecked_libc {
        reasons.push(Reason::new(
            Rule::R1,
            format_args!(
                "the QNX C library {} ({}) has a calloc that does not test nmemb*size for overflow: {}",
                l.path,
                l.soname.as_deref().unwrap_or("no SONAME"),
                l.calloc.reason
            ),
        ));
    }
    for b in &copies.unchecked_static {
        let c = b.static_calloc.as_ref();
        let why = c.map(|c| c.reason.as_str()).unwrap_or_default();
        reasons.push(Reason::new(
            Rule::R2,
            format_args!(
                "{} carries its own statically linked calloc{} without an overflow test (replacing libc does not fix it): {why}",
                b.path,
                c.map(CallocFinding::located_note).unwrap_or_default()
            ),
        ));
    }
    reasons
}

/// Where the release stands against the advisory, when it may decide, and how a reason
/// names it.
///
/// Only the kernel's release string, or a SONAME series that lies wholly on one side of the
/// fix, decides on its own; a release read from QNX_info or a compiler string is a
/// component's label and decides only together with the code.
fn decisive_status(os: &OsAssessment, libc_checked: bool) -> (Option<ReleaseStatus>, String) {
    let (status, decisive) = match (os.estimate.exact, &os.estimate.range) {
        (Some(r), _) => (
            Some(release_status(r)),
            os.report.confidence == Confidence::High,
        ),
        (None, Some((lo, hi, _))) => {
            let (a, b) = (release_status(*lo), release_status(*hi));
            if a == b {
                (Some(a), true)
            } else {
                (None, false)
            }
        }
        (None, None) => (None, false),
    };
    // Nor does a lower bound from what QNX programs need (libc.so.4, ldqnx-64.so.2: only
    // QNX 7.0 and later run them) when nothing stronger decided: it is ABI, not a label.
    let floor = os
        .estimate
        .floor
        .as_ref()
        .filter(|fl| !decisive && release_status(fl.release) == ReleaseStatus::Fixed);
    let (status, decisive, release_text) = match floor {
        Some(fl) => (
            Some(ReleaseStatus::Fixed),
            true,
            format!("QNX release {} (a lower bound: {})", fl.label, fl.why),
        ),
        None => (status, decisive, describe_release(os)),
    };
    let status = if decisive || libc_checked {
        status
    } else {
        None
    };
    (status, release_text)
}

/// R4-R10: the release, where it decides, together with what the code of calloc showed.
fn release_rule(
    os: &OsAssessment,
    status: Option<ReleaseStatus>,
    libc_checked: bool,
    release_text: &str,
    code_note: &str,
) -> Reason {
    let adv = &CVE_2021_22156;
    let fixed: Release = adv.first_fixed_release;
    match status {
        Some(ReleaseStatus::Fixed) => Reason::new(
            Rule::R4,
            format_args!(
                "{release_text} is fixed ({fixed} and later ship a checked calloc); {code_note}"
            ),
        ),
        Some(ReleaseStatus::Patchable) if libc_checked => Reason::new(
            Rule::R5,
            format_args!(
                "{release_text} is affected unless patch {} ({}) or {} ({}) is applied, and {code_note}: patched",
                SDP_PATCH.number,
                SDP_PATCH.product_short,
                MEDICAL_PATCH.number,
                MEDICAL_PATCH.product_short
            ),
        ),
        Some(ReleaseStatus::Patchable) => Reason::new(
            Rule::R6,
            format_args!(
                "{release_text} is affected unless patch {} is applied, and only the code of calloc shows which; {code_note}",
                adv.patch_numbers()
            ),
        ),
        Some(ReleaseStatus::AffectedNoPatch) if libc_checked => Reason::new(
            Rule::R7,
            format_args!(
                "{release_text} predates every fix and has no vendor patch, but {code_note}: a custom build with the fix backported"
            ),
        ),
        Some(ReleaseStatus::AffectedNoPatch) => Reason::new(
            Rule::R8,
            format_args!(
                "{release_text} is in the affected range (before {fixed}) and no patch exists for it; {code_note}"
            ),
        ),
        None if libc_checked => Reason::new(
            Rule::R9,
            format_args!(
                "{release_text}, but {code_note}: not exposed whether this is a fixed release or a patched one"
            ),
        ),
        None => {
            let why = if os.estimate.exact.is_some() {
                "comes from a component label (QNX_info or compiler), not from the kernel"
            } else if os.estimate.range.is_some() {
                "spans affected and fixed releases"
            } else {
                "leaves nothing to compare with the advisory"
            };
            Reason::new(
                Rule::R10,
                format_args!(
                    "{release_text} {why}, so it does not decide alone, and {code_note}"
                ),
            )
        }
    }
}

/// What the search for calloc left undecided in stripped static QNX programs: the outcome
/// where it located no calloc (or an undecided one), and calloc-like functions without an
/// overflow test, named as the guesses they are. Neither changes the verdict.
fn stripped_caveat(binaries: &[Binary]) -> Option<Reason> {
    let mut open: Vec<String> = Vec::new();
    let mut count = 0usize;
    for b in binaries.iter().filter(|b| b.qnx && b.stripped_static) {
        let located = b
            .static_calloc
            .as_ref()
            .filter(|c| c.verdict != CallocVerdict::Unknown);
        let like: Vec<&CallocFinding> = b
            .calloc_search
            .iter()
            .flat_map(|s| &s.calloc_like)
            .filter(|c| c.verdict == CallocVerdict::Unchecked)
            .collect();
        if located.is_some() && like.is_empty() {
            continue;
        }
        count += 1;
        if open.len() >= 5 {
            continue;
        }
        let mut what = match (located, &b.calloc_search, &b.static_calloc) {
            (Some(_), _, _) => String::new(),
            (None, _, Some(c)) => format!("calloc located but undecided: {}", c.reason),
            (None, Some(s), None) => format!("calloc not located: {}", s.detail),
            (None, None, None) => "calloc not searched for".to_string(),
        };
        for c in like {
            if !what.is_empty() {
                what.push_str("; ");
            }
            what.push_str(&format!(
                "a calloc-like function at {} has no overflow test (a guess: not known to be the C library's calloc, so it does not decide the verdict): {}",
                c.address.as_deref().unwrap_or("?"),
                c.reason
            ));
        }
        open.push(format!("{} ({what})", b.path));
    }
    (count > 0).then(|| {
        Reason::new(Rule::StrippedCaveat, format_args!(
            "{count} statically linked and stripped QNX file{} left open by the search for calloc: {}{}",
            if count == 1 { "" } else { "s" },
            open.join("; "),
            if count > open.len() {
                format!("; and {} more", count - open.len())
            } else {
                String::new()
            }
        ))
    })
}

/// Static copies of calloc whose code could not be decided (a kernel's own copy outside
/// its executable segments...): as undecided as a stripped program, so never hidden
/// behind the verdict the C library gives. Stripped static QNX programs are left to
/// `stripped_caveat`, which says how their copy was located.
fn unknown_copies_caveat(binaries: &[Binary]) -> Option<Reason> {
    let unknown: Vec<String> = binaries
        .iter()
        .filter(|b| !(b.qnx && b.stripped_static))
        .filter_map(|b| {
            let c = b.static_calloc.as_ref()?;
            (c.verdict == CallocVerdict::Unknown).then(|| format!("{}: {}", b.path, c.reason))
        })
        .collect();
    if unknown.is_empty() {
        return None;
    }
    Some(Reason::new(
        Rule::StrippedCaveat,
        format_args!(
            "{} statically linked cop{} of calloc could not be analysed and may lack the overflow test ({})",
            unknown.len(),
            if unknown.len() == 1 { "y" } else { "ies" },
            unknown.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        ),
    ))
}

/// Whether every QNX C library's calloc was checked (one that could not be read was not),
/// and the part of a reason that says what the code of calloc showed.
fn code_of_calloc(qnx_libcs: &[&Libc], unreadable: Option<&str>) -> (bool, String) {
    // Every C library checked: one that could not be read was not.
    let readable_checked = !qnx_libcs.is_empty()
        && qnx_libcs
            .iter()
            .all(|l| l.calloc.verdict == CallocVerdict::Checked);
    let libc_checked = readable_checked && unreadable.is_none();
    let libc_unknown: Vec<&Libc> = qnx_libcs
        .iter()
        .copied()
        .filter(|l| l.calloc.verdict == CallocVerdict::Unknown)
        .collect();
    let checked_note = || {
        format!(
            "the calloc of {} tests the product for overflow",
            qnx_libcs
                .iter()
                .map(|l| l.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let code_note = if libc_checked {
        checked_note()
    } else if let (true, Some(u)) = (qnx_libcs.is_empty(), unreadable) {
        format!("{u}, so the code of its calloc could not be checked")
    } else if qnx_libcs.is_empty() {
        "no QNX C library was found, so the code of calloc could not be checked".to_string()
    } else if let (true, Some(u)) = (readable_checked, unreadable) {
        format!(
            "{}, but {u}, so not every calloc was checked",
            checked_note()
        )
    } else {
        let undecided = format!(
            "the calloc of {} could not be decided ({})",
            libc_unknown
                .iter()
                .map(|l| l.path.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            libc_unknown
                .iter()
                .map(|l| l.calloc.reason.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
        match unreadable {
            Some(u) => format!("{undecided}, and {u}"),
            None => undecided,
        }
    };
    (libc_checked, code_note)
}

fn describe_release(os: &OsAssessment) -> String {
    match (&os.estimate.exact, &os.estimate.range) {
        (Some(r), _) => format!("QNX release {r}"),
        (None, Some((_, _, series))) => {
            format!("QNX release series {series} (from the C library's SONAME only)")
        }
        (None, None) => "the QNX release is unknown".to_string(),
    }
}

/// One test per rule of [`crate::rules::RULES`]: the smallest facts that make it fire, the
/// verdict the table says it gives, and its id opening the reason.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{ReleaseEstimate, ReleaseFloor};
    use crate::model::test_support::{calloc, static_program};
    use crate::model::{CallocSearch, ImageKind, ImageNote, NoteKind};
    use crate::rules::RULES;
    use badalloc_calloc::locate::SearchOutcome;
    use badalloc_formats::ContainerKind;

    fn libc(verdict: &str, qnx: bool) -> Libc {
        Libc {
            path: "lib/libc.so.3".into(),
            soname: Some("libc.so.3".into()),
            arch: "x86".into(),
            version: None,
            qnx,
            calloc: calloc(verdict, "0x10", "why"),
            sha256: None,
        }
    }

    fn static_copy(verdict: &str, qnx: bool, stripped: bool) -> Binary {
        Binary {
            static_calloc: Some(calloc(verdict, "0x10", "why")),
            stripped_static: stripped,
            ..static_program("bin/a", qnx)
        }
    }

    fn image(state: ImageState) -> Image {
        Image {
            path: "fw.ifs".into(),
            kind: ImageKind::Container(ContainerKind::Ifs),
            offset: None,
            entries: 3,
            notes: vec![ImageNote {
                kind: NoteKind::Damage,
                detail: "bad checksum".into(),
                offset: Some(64),
            }],
            boot_script: vec![],
            state,
            same_content: vec![],
        }
    }

    fn qnx(exact: Option<Release>, confidence: Confidence) -> OsAssessment {
        let mut os = OsAssessment {
            is_qnx: true,
            estimate: ReleaseEstimate {
                exact,
                ..ReleaseEstimate::default()
            },
            ..OsAssessment::default()
        };
        os.report.confidence = confidence;
        os
    }

    /// What a test varies; the rest is a target of one ELF file with no image.
    #[derive(Default)]
    struct Case {
        os: OsAssessment,
        libc: Vec<Libc>,
        binaries: Vec<Binary>,
        images: Vec<Image>,
        unreadable: Vec<UnreadableFile>,
        elf_files: u64,
        opaque_files: u64,
    }

    fn run(c: &Case) -> Classification {
        classify(&Findings {
            os: &c.os,
            libc: &c.libc,
            binaries: &c.binaries,
            elf_files: c.elf_files,
            unreadable_libc: &c.unreadable,
            images: &c.images,
            files: c.elf_files + c.opaque_files + 1,
            opaque_files: c.opaque_files,
            errors: 0,
        })
    }

    /// The rule fired, opened its reason with its id, and the verdict is the table's.
    fn fires(c: &Case, rule: Rule, verdict: Verdict) -> Classification {
        let out = run(c);
        let reason = out.reasons.iter().find(|r| r.rule == rule);
        let reason = reason.unwrap_or_else(|| panic!("{rule:?} did not fire: {:?}", out.reasons));
        assert!(
            reason.text.starts_with(&format!("{}: ", rule.id())),
            "{}",
            reason.text
        );
        assert_eq!(out.verdict, verdict, "{:?}", out.reasons);
        match rule.row().gives {
            Gives::Verdict(v) | Gives::AtMost(v) => assert_eq!(v, verdict, "{rule:?}"),
            Gives::Nothing => {}
        }
        out
    }

    const V650: Option<Release> = Some(Release::new(6, 5, 0));
    const V641: Option<Release> = Some(Release::new(6, 4, 1));
    const V710: Option<Release> = Some(Release::new(7, 1, 0));

    #[test]
    fn not_firmware_only_text() {
        fires(&Case::default(), Rule::NotFirmware, Verdict::NotQnx);
    }

    #[test]
    fn r0_no_elf_but_unknown_bytes() {
        let c = Case {
            opaque_files: 1,
            ..Case::default()
        };
        fires(&c, Rule::R0, Verdict::Inconclusive);
    }

    #[test]
    fn r1_unchecked_qnx_libc_outranks_a_fixed_release() {
        let c = Case {
            os: qnx(V710, Confidence::High),
            libc: vec![libc("unchecked", true)],
            elf_files: 1,
            ..Case::default()
        };
        let out = fires(&c, Rule::R1, Verdict::Affected);
        assert!(out.fired(Rule::FixedReleaseNote), "{:?}", out.reasons);
    }

    #[test]
    fn r2_unchecked_static_copy() {
        let c = Case {
            os: qnx(None, Confidence::Low),
            binaries: vec![static_copy("unchecked", true, false)],
            elf_files: 1,
            ..Case::default()
        };
        fires(&c, Rule::R2, Verdict::Affected);
    }

    #[test]
    fn r3_no_qnx_marker() {
        let c = Case {
            elf_files: 2,
            ..Case::default()
        };
        fires(&c, Rule::R3, Verdict::NotQnx);
    }

    #[test]
    fn family_unchecked_outside_qnx() {
        let c = Case {
            binaries: vec![static_copy("unchecked", false, false)],
            elf_files: 1,
            ..Case::default()
        };
        let out = fires(&c, Rule::FamilyUnchecked, Verdict::NotQnx);
        assert!(
            out.reasons[1].text.contains("does not apply"),
            "{:?}",
            out.reasons
        );
    }

    #[test]
    fn r4_fixed_kernel_release() {
        let c = Case {
            os: qnx(V710, Confidence::High),
            elf_files: 1,
            ..Case::default()
        };
        fires(&c, Rule::R4, Verdict::NotAffected);
    }

    #[test]
    fn r4_abi_floor_decides_as_a_lower_bound() {
        let mut os = qnx(None, Confidence::Medium);
        os.estimate.floor = Some(ReleaseFloor {
            release: Release::new(7, 0, 0),
            label: "7.0 or later".into(),
            why: "bin/a needs libc.so.4".into(),
        });
        let c = Case {
            os,
            elf_files: 1,
            ..Case::default()
        };
        let out = fires(&c, Rule::R4, Verdict::NotAffected);
        assert!(
            out.reasons[0].text.contains("a lower bound"),
            "{:?}",
            out.reasons
        );
    }

    #[test]
    fn r5_patchable_release_with_checked_code() {
        let c = Case {
            os: qnx(V650, Confidence::High),
            libc: vec![libc("checked", true)],
            elf_files: 1,
            ..Case::default()
        };
        let out = fires(&c, Rule::R5, Verdict::Patched);
        assert!(out.reasons[0].text.contains("4844"), "{:?}", out.reasons);
    }

    #[test]
    fn r6_patchable_release_without_code() {
        let c = Case {
            os: qnx(V650, Confidence::High),
            elf_files: 1,
            ..Case::default()
        };
        fires(&c, Rule::R6, Verdict::Inconclusive);
    }

    #[test]
    fn r7_unpatchable_release_with_checked_code() {
        let c = Case {
            os: qnx(V641, Confidence::High),
            libc: vec![libc("checked", true)],
            elf_files: 1,
            ..Case::default()
        };
        fires(&c, Rule::R7, Verdict::Patched);
    }

    #[test]
    fn r8_unpatchable_release_without_code() {
        let c = Case {
            os: qnx(V641, Confidence::High),
            elf_files: 1,
            ..Case::default()
        };
        fires(&c, Rule::R8, Verdict::Affected);
    }

    #[test]
    fn r9_no_decisive_release_but_checked_code() {
        let c = Case {
            os: qnx(V650, Confidence::Medium),
            libc: vec![libc("checked", true)],
            elf_files: 1,
            ..Case::default()
        };
        // A release from a label decides together with the code: 6.5.0 and checked is R5.
        fires(&c, Rule::R5, Verdict::Patched);
        let c = Case {
            os: qnx(None, Confidence::Low),
            ..c
        };
        fires(&c, Rule::R9, Verdict::NotAffected);
    }

    #[test]
    fn r10_a_label_alone_does_not_decide() {
        let c = Case {
            os: qnx(V710, Confidence::Medium),
            libc: vec![libc("unknown", true)],
            elf_files: 1,
            ..Case::default()
        };
        let out = fires(&c, Rule::R10, Verdict::Inconclusive);
        assert!(
            out.reasons[0].text.contains("component label"),
            "{:?}",
            out.reasons
        );
    }

    #[test]
    fn damaged_image_lowers_to_inconclusive_but_keeps_affected() {
        let c = Case {
            os: qnx(V710, Confidence::High),
            images: vec![image(ImageState::Partial)],
            elf_files: 1,
            ..Case::default()
        };
        let out = fires(&c, Rule::DamagedImage, Verdict::Inconclusive);
        assert_eq!(
            out.reasons[0].rule,
            Rule::DamagedImage,
            "first: {:?}",
            out.reasons
        );
        assert!(
            out.reasons[0].text.contains("offset 0x40"),
            "{:?}",
            out.reasons
        );
        let c = Case {
            libc: vec![libc("unchecked", true)],
            ..c
        };
        let out = run(&c);
        assert_eq!(out.verdict, Verdict::Affected);
        assert!(out.fired(Rule::DamagedImage), "{:?}", out.reasons);
    }

    #[test]
    fn unread_libc_is_named_outside_qnx() {
        let c = Case {
            unreadable: vec![UnreadableFile {
                path: "lib/libc.so.5".into(),
                reason: "permission denied".into(),
            }],
            elf_files: 1,
            ..Case::default()
        };
        let out = run(&c);
        assert_eq!(out.reasons[0].rule, Rule::Unread, "{:?}", out.reasons);
        assert!(out.reasons[0].text.starts_with("unread: lib/libc.so.5"));
        assert_eq!(out.verdict, Verdict::NotQnx);
    }

    #[test]
    fn fixed_release_note_with_unchecked_code() {
        let c = Case {
            os: qnx(V710, Confidence::High),
            binaries: vec![static_copy("unchecked", true, false)],
            elf_files: 1,
            ..Case::default()
        };
        let out = fires(&c, Rule::FixedReleaseNote, Verdict::Affected);
        assert!(out.fired(Rule::R2));
    }

    #[test]
    fn stripped_caveat_never_decides() {
        let mut open = static_copy("unknown", true, true);
        open.static_calloc = None;
        let c = Case {
            os: qnx(V710, Confidence::High),
            binaries: vec![open],
            elf_files: 1,
            ..Case::default()
        };
        let out = fires(&c, Rule::StrippedCaveat, Verdict::NotAffected);
        assert!(
            out.reasons[1].text.contains("calloc not searched for"),
            "{:?}",
            out.reasons
        );
    }

    /// What the caveat says of each stripped program: a decided copy says nothing; a copy
    /// left unknown is "located but undecided"; an unchecked calloc-like function is named
    /// as a guess (a checked one is not), after what was said of the copy.
    #[test]
    fn stripped_caveat_names_what_the_search_left_open() {
        let search = |like: &[&str]| CallocSearch {
            outcome: SearchOutcome::Found,
            detail: "searched".into(),
            candidates: 9,
            probed: 3,
            calloc_like: like
                .iter()
                .map(|v| calloc(v, &format!("0x{v}"), "multiplies"))
                .collect(),
        };
        let program = |copy: &str, like: &[&str]| {
            let mut b = static_copy(copy, true, true);
            b.calloc_search = Some(search(like));
            b
        };
        let caveat = |b: Binary| {
            let c = Case {
                os: qnx(V710, Confidence::High),
                binaries: vec![b],
                elf_files: 1,
                ..Case::default()
            };
            let out = run(&c);
            assert_eq!(out.verdict, Verdict::NotAffected, "{:?}", out.reasons);
            assert!(
                !out.fired(Rule::R1) && !out.fired(Rule::R2),
                "{:?}",
                out.reasons
            );
            out.reasons
                .iter()
                .find(|r| r.rule == Rule::StrippedCaveat)
                .map(|r| r.text.clone())
        };
        // A decided copy and no calloc-like function: nothing left open.
        assert_eq!(caveat(program("checked", &[])), None);
        assert_eq!(caveat(program("checked", &["checked"])), None);
        // A copy left unknown, then a calloc-like guess after it.
        let text = caveat(program("unknown", &["unchecked"])).expect("a caveat");
        assert!(
            text.contains(
                "(calloc located but undecided: why; a calloc-like function at 0xunchecked"
            ),
            "{text}"
        );
        // A decided copy with an unchecked guess: the guess alone, with no separator first.
        let text = caveat(program("checked", &["unchecked", "checked"])).expect("a caveat");
        assert!(
            text.contains("bin/a (a calloc-like function at 0xunchecked"),
            "{text}"
        );
        assert!(!text.contains("0xchecked"), "{text}");
    }

    /// Every row of the table has a test above (the names above follow the rules' order);
    /// a new rule without one fails here until it is added to this list.
    #[test]
    fn every_rule_is_tested() {
        let tested = [
            Rule::NotFirmware,
            Rule::R0,
            Rule::R1,
            Rule::R2,
            Rule::R3,
            Rule::FamilyUnchecked,
            Rule::R4,
            Rule::R5,
            Rule::R6,
            Rule::R7,
            Rule::R8,
            Rule::R9,
            Rule::R10,
            Rule::DamagedImage,
            Rule::Unread,
            Rule::FixedReleaseNote,
            Rule::StrippedCaveat,
        ];
        let all: Vec<Rule> = RULES.iter().map(|r| r.rule).collect();
        assert_eq!(all, tested);
    }
}
