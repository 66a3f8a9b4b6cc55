//! Facts + advisory → verdict, with the reasons. Each rule is explained in
//! `docs/classification.md`; the rule identifiers (R1...) appear in both places.
//!
//! The code of calloc outranks every label: a release string says what a build was meant
//! to be; the machine code says what it does. Unknown stays inconclusive, never safe.

use crate::advisory::{release_status, ReleaseStatus, CVE_2021_22156};
use crate::evidence::OsAssessment;
use crate::report::findings::recognise_library;
use crate::report::{
    BinaryReport, CallocReport, CallocVerdict, Confidence, ImageReport, ImageState, LibcReport,
    Verdict,
};

/// What classification needs from a target.
pub struct Findings<'a> {
    pub os: &'a OsAssessment,
    pub libc: &'a [LibcReport],
    pub binaries: &'a [BinaryReport],
    /// Number of ELF files examined: none means there was nothing to judge.
    pub elf_files: u64,
    /// Files named like a C library that could not be read or decoded: their calloc was
    /// not checked, which is not the same as there being no C library.
    pub unreadable_libc: &'a [UnreadableFile],
    /// Images found (opened or only recognised), nested ones included; their `state` says
    /// how much of each was read (rule DAMAGED-IMAGE).
    pub images: &'a [ImageReport],
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
    pub reasons: Vec<String>,
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
        reasons: vec![format!(
            "NOT-FIRMWARE: {} empty or holds only text (no ELF file, no image, no binary \
             data): this is not firmware, so there is nothing of QNX to audit",
            if f.files == 1 {
                "the file is".to_string()
            } else {
                format!("each of the {} files is", f.files)
            }
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
    let damaged: Vec<&ImageReport> = f
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
            format!("{} ({} image) {state}{what}", i.path, i.kind)
        })
        .collect();
    if damaged.len() > MAX_NAMED_IMAGES {
        named.push(format!(
            "and {} more images",
            damaged.len() - MAX_NAMED_IMAGES
        ));
    }
    let reason = format!(
        "DAMAGED-IMAGE: {}; what is missing may hold a C library or a static copy of \
         calloc, so it cannot be ruled out: acquire the image again (a fresh dump or copy, \
         checked against its source) and scan it again",
        named.join("; ")
    );
    match c.verdict {
        Verdict::NotAffected | Verdict::Patched | Verdict::NotQnx | Verdict::Inconclusive => {
            c.verdict = Verdict::Inconclusive;
            c.reasons.insert(0, reason);
        }
        Verdict::Affected | Verdict::Error => c.reasons.push(reason),
    }
}

/// The rules R0-R10 on the facts (see `docs/classification.md`).
fn classify_facts(f: &Findings<'_>) -> Classification {
    let mut reasons = Vec::new();
    let qnx_libcs: Vec<&LibcReport> = f.libc.iter().filter(|l| l.qnx).collect();
    let unchecked_libc: Vec<&LibcReport> = qnx_libcs
        .iter()
        .copied()
        .filter(|l| l.calloc.verdict == CallocVerdict::Unchecked)
        .collect();
    let static_copies: Vec<&BinaryReport> = f
        .binaries
        .iter()
        .filter(|b| b.static_calloc.is_some())
        .collect();
    let unchecked_static: Vec<&BinaryReport> = static_copies
        .iter()
        .copied()
        .filter(|b| {
            b.static_calloc
                .as_ref()
                .is_some_and(|c| c.verdict == CallocVerdict::Unchecked)
        })
        .collect();

    let unreadable = describe_unreadable(f.unreadable_libc);
    if !f.os.is_qnx {
        if let Some(u) = &unreadable {
            reasons.push(format!(
                "unread: {u}; a C library that could not be read is not an absent one"
            ));
        }
        if f.elf_files == 0 {
            reasons.push(
                "R0: no ELF file was found, so nothing tells whether this is QNX; an encrypted or unknown image format is possible"
                    .to_string(),
            );
            return Classification {
                verdict: Verdict::Inconclusive,
                reasons,
            };
        }
        reasons.push(format!(
            "R3: none of the {} ELF files carries a QNX marker (ldqnx runtime linker, QNX note, QNX_info, QNX kernel, QNX compiler target, Neutrino kernel calls)",
            f.elf_files
        ));
        // BadAlloc-family finding: an unchecked calloc outside QNX (newlib <= 3.3 linked
        // statically, say). Not the QNX CVE, but the same flaw; named, never silent.
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
        let statics = unchecked_static.iter().map(|b| {
            let c = b.static_calloc.as_ref();
            let chain = c.map(|c| c.chain.as_slice()).unwrap_or_default();
            let note = c.map(CallocReport::located_note).unwrap_or_default();
            (
                b.path.as_str(),
                recognise_library(&b.path, None, chain),
                note,
            )
        });
        for (path, library, note) in libcs.chain(statics) {
            reasons.push(format!(
                "BADALLOC-CALLOC-UNCHECKED: {path} has a calloc{note} without an overflow test{} (a BadAlloc-family flaw; \
                 CVE-2021-22156 itself is QNX's and does not apply)",
                library.map(|l| format!(", from {l}")).unwrap_or_default()
            ));
        }
        return Classification {
            verdict: Verdict::NotQnx,
            reasons,
        };
    }

    // R1, R2: the code decides first.
    for l in &unchecked_libc {
        reasons.push(format!(
            "R1: the QNX C library {} ({}) has a calloc that does not test nmemb*size for overflow: {}",
            l.path,
            l.soname.as_deref().unwrap_or("no SONAME"),
            l.calloc.reason
        ));
    }
    for b in &unchecked_static {
        let c = b.static_calloc.as_ref();
        let why = c.map(|c| c.reason.as_str()).unwrap_or_default();
        reasons.push(format!(
            "R2: {} carries its own statically linked calloc{} without an overflow test (replacing libc does not fix it): {why}",
            b.path,
            c.map(CallocReport::located_note).unwrap_or_default()
        ));
    }
    let release_text = describe_release(f.os);
    if !unchecked_libc.is_empty() || !unchecked_static.is_empty() {
        if let Some(r) =
            f.os.estimate
                .exact
                .filter(|r| release_status(*r) == ReleaseStatus::Fixed)
        {
            reasons.push(format!(
                "note: release {r} is a fixed release, yet unchecked code was found: a custom or downgraded build"
            ));
        }
        return Classification {
            verdict: Verdict::Affected,
            reasons,
        };
    }

    let (libc_checked, code_note) = code_of_calloc(&qnx_libcs, unreadable.as_deref());

    // Only the kernel's release string, or a SONAME series that lies wholly on one side of
    // the fix, decides on its own; a release read from QNX_info or a compiler string is a
    // component's label and decides only together with the code.
    let (status, decisive) = match (f.os.estimate.exact, &f.os.estimate.range) {
        (Some(r), _) => (
            Some(release_status(r)),
            f.os.report.confidence == Confidence::High,
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
    let floor =
        f.os.estimate
            .floor
            .as_ref()
            .filter(|fl| !decisive && release_status(fl.release) == ReleaseStatus::Fixed);
    let (status, decisive, release_text) = match floor {
        Some(fl) => (
            Some(ReleaseStatus::Fixed),
            true,
            format!("QNX release {} (a lower bound: {})", fl.label, fl.why),
        ),
        None => (status, decisive, release_text),
    };
    let status = if decisive || libc_checked {
        status
    } else {
        None
    };
    let adv = &CVE_2021_22156;
    let verdict = match status {
        Some(ReleaseStatus::Fixed) => {
            reasons.push(format!(
                "R4: {release_text} is fixed ({} and later ship a checked calloc); {code_note}",
                adv.first_fixed_release
            ));
            Verdict::NotAffected
        }
        Some(ReleaseStatus::Patchable) if libc_checked => {
            reasons.push(format!(
                "R5: {release_text} is affected unless patch 4844 (SDP) or 4846 (Medical) is applied, and {code_note}: patched"
            ));
            Verdict::Patched
        }
        Some(ReleaseStatus::Patchable) => {
            reasons.push(format!(
                "R6: {release_text} is affected unless patch 4844 or 4846 is applied, and only the code of calloc shows which; {code_note}"
            ));
            Verdict::Inconclusive
        }
        Some(ReleaseStatus::AffectedNoPatch) if libc_checked => {
            reasons.push(format!(
                "R7: {release_text} predates every fix and has no vendor patch, but {code_note}: a custom build with the fix backported"
            ));
            Verdict::Patched
        }
        Some(ReleaseStatus::AffectedNoPatch) => {
            reasons.push(format!(
                "R8: {release_text} is in the affected range (before {}) and no patch exists for it; {code_note}",
                adv.first_fixed_release
            ));
            Verdict::Affected
        }
        None if libc_checked => {
            reasons.push(format!(
                "R9: {release_text}, but {code_note}: not exposed whether this is a fixed release or a patched one"
            ));
            Verdict::NotAffected
        }
        None => {
            let why = if f.os.estimate.exact.is_some() {
                "comes from a component label (QNX_info or compiler), not from the kernel"
            } else if f.os.estimate.range.is_some() {
                "spans affected and fixed releases"
            } else {
                "leaves nothing to compare with the advisory"
            };
            reasons.push(format!(
                "R10: {release_text} {why}, so it does not decide alone, and {code_note}"
            ));
            Verdict::Inconclusive
        }
    };
    if verdict != Verdict::Affected {
        reasons.extend(stripped_caveat(f.binaries));
    }
    if verdict != Verdict::Affected {
        if let Some(caveat) = unknown_copies_caveat(&static_copies) {
            reasons.push(caveat);
        }
    }
    Classification { verdict, reasons }
}

/// What the search for calloc left undecided in stripped static QNX programs: the outcome
/// where it located no calloc (or an undecided one), and calloc-like functions without an
/// overflow test, named as the guesses they are. Neither changes the verdict.
fn stripped_caveat(binaries: &[BinaryReport]) -> Option<String> {
    let mut open: Vec<String> = Vec::new();
    let mut count = 0usize;
    for b in binaries.iter().filter(|b| b.qnx && b.stripped_static) {
        let located = b
            .static_calloc
            .as_ref()
            .filter(|c| c.verdict != CallocVerdict::Unknown);
        let like: Vec<&CallocReport> = b
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
        format!(
            "caveat: {count} statically linked and stripped QNX file{} left open by the search for calloc: {}{}",
            if count == 1 { "" } else { "s" },
            open.join("; "),
            if count > open.len() {
                format!("; and {} more", count - open.len())
            } else {
                String::new()
            }
        )
    })
}

/// Static copies of calloc whose code could not be decided (a kernel's own copy outside
/// its executable segments...): as undecided as a stripped program, so never hidden
/// behind the verdict the C library gives. Stripped static QNX programs are left to
/// `stripped_caveat`, which says how their copy was located.
fn unknown_copies_caveat(static_copies: &[&BinaryReport]) -> Option<String> {
    let unknown: Vec<String> = static_copies
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
    Some(format!(
        "caveat: {} statically linked cop{} of calloc could not be analysed and may lack the overflow test ({})",
        unknown.len(),
        if unknown.len() == 1 { "y" } else { "ies" },
        unknown.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
    ))
}

/// Whether every QNX C library's calloc was checked (one that could not be read was not),
/// and the part of a reason that says what the code of calloc showed.
fn code_of_calloc(qnx_libcs: &[&LibcReport], unreadable: Option<&str>) -> (bool, String) {
    // Every C library checked: one that could not be read was not.
    let readable_checked = !qnx_libcs.is_empty()
        && qnx_libcs
            .iter()
            .all(|l| l.calloc.verdict == CallocVerdict::Checked);
    let libc_checked = readable_checked && unreadable.is_none();
    let libc_unknown: Vec<&LibcReport> = qnx_libcs
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
