//! The verdict rules of `crates/audit/src/classify.rs` (docs/classification.md), one row per rule and per
//! edge, with the findings built by hand. Each row asserts the verdict and the ids of the
//! reasons, in order (the first is the rule that decided).
//!
//! Findings are built only through the constructors below: when the model's structs grow,
//! they are the one place to adapt.

use badalloc_audit_core::classify::{classify, Findings, UnreadableFile};
use badalloc_audit_core::evidence::{OsAssessment, Release, ReleaseEstimate, ReleaseFloor};
use badalloc_audit_core::model::{
    Binary, CallocFinding, CallocVerdict, Confidence, Family, Image, ImageKind, ImageNote,
    ImageState, Libc, NoteKind, Os, Verdict,
};
use badalloc_formats::ContainerKind;

use CallocVerdict::{Checked, Unchecked, Unknown};

// ---------------------------------------------------------------- constructors

fn rel(s: &str) -> Release {
    Release::parse(s).unwrap_or_else(|| panic!("bad release {s}"))
}

fn calloc(v: CallocVerdict) -> CallocFinding {
    CallocFinding {
        verdict: v,
        function: Some("__calloc".into()),
        address: Some("0x1000".into()),
        reason: format!("hand-made {v:?} calloc"),
        chain: vec!["calloc".into(), "__calloc".into()],
        chain_links: vec![],
        evidence: vec![],
        location: None,
    }
}

/// The OS view: QNX or not, an exact release with its confidence, or a range.
fn os(
    is_qnx: bool,
    exact: Option<&str>,
    confidence: Confidence,
    range: Option<(&str, &str, &str)>,
) -> OsAssessment {
    let exact = exact.map(rel);
    let range = range.map(|(lo, hi, name)| (rel(lo), rel(hi), name.to_string()));
    OsAssessment {
        report: Os {
            family: is_qnx.then_some(Family::Qnx),
            release: exact.map(|r| r.to_string()),
            release_range: range.as_ref().map(|r| r.2.clone()),
            confidence,
            evidence: vec![],
            conflicts: vec![],
        },
        is_qnx,
        estimate: ReleaseEstimate {
            exact,
            range,
            floor: None,
        },
    }
}

/// The kernel's release string: exact, high confidence, decides alone.
fn kernel(r: &str) -> OsAssessment {
    os(true, Some(r), Confidence::High, None)
}

/// A release read from `QNX_info` or a compiler target only: a component's label.
fn label(r: &str) -> OsAssessment {
    os(true, Some(r), Confidence::Medium, None)
}

/// Only a series (libc SONAME) or a lower bound is known.
fn series(lo: &str, hi: &str, name: &str) -> OsAssessment {
    os(true, None, Confidence::Low, Some((lo, hi, name)))
}

/// Only a lower bound from what the programs need (libc.so.4+: QNX 7.0 or later).
fn floor(r: &str, label: &str) -> OsAssessment {
    let mut o = qnx_unknown_release();
    o.estimate.floor = Some(ReleaseFloor {
        release: rel(r),
        label: label.to_string(),
        why: "bin/ls needs libc.so.4".to_string(),
    });
    o.report.release_range = Some(label.to_string());
    o
}

/// The kernel's release, and programs that need libc.so.4+ (a contradiction: the kernel
/// decides).
fn kernel_and_floor(r: &str) -> OsAssessment {
    let mut o = kernel(r);
    o.estimate.floor = floor("7.0.0", "7.0 or later").estimate.floor;
    o
}

/// QNX, with nothing that tells the release.
fn qnx_unknown_release() -> OsAssessment {
    os(true, None, Confidence::Low, None)
}

fn not_qnx() -> OsAssessment {
    os(false, None, Confidence::High, None)
}

fn qnx_libc(path: &str, v: CallocVerdict) -> Libc {
    Libc {
        path: path.into(),
        soname: Some("libc.so.3".into()),
        arch: "x86".into(),
        version: None,
        qnx: true,
        calloc: calloc(v),
        sha256: None,
    }
}

/// A C library without a QNX marker (glibc's libc.so.6, a newlib build...).
fn other_libc(path: &str, v: CallocVerdict) -> Libc {
    Libc {
        soname: Some("libc.so.6".into()),
        qnx: false,
        ..qnx_libc(path, v)
    }
}

fn program(path: &str, qnx: bool) -> Binary {
    Binary {
        path: path.into(),
        arch: "x86".into(),
        elf_type: "executable".into(),
        interpreter: None,
        needed: vec![],
        libc: None,
        qnx,
        imports_calloc: false,
        imports_malloc: false,
        imports_realloc: false,
        static_calloc: None,
        network: false,
        network_imports: vec![],
        stripped_static: false,
        located_by_address: vec![],
        sha256: None,
        calloc_search: None,
    }
}

/// A program with its own statically linked calloc.
fn static_copy(path: &str, v: CallocVerdict) -> Binary {
    Binary {
        libc: Some("static".into()),
        static_calloc: Some(calloc(v)),
        ..program(path, true)
    }
}

fn stripped_static(path: &str) -> Binary {
    Binary {
        libc: Some("static".into()),
        stripped_static: true,
        ..program(path, true)
    }
}

/// What a target holds besides its ELF files.
#[derive(Default)]
struct Extra {
    /// C libraries that could not be read.
    unreadable: Vec<UnreadableFile>,
    images: Vec<Image>,
    /// Files that are neither ELF, nor image, nor text, nor empty.
    opaque_files: u64,
    /// Text or empty files.
    plain_files: u64,
    errors: usize,
}

fn unreadable_libc(path: &str) -> UnreadableFile {
    UnreadableFile {
        path: path.into(),
        reason: "permission denied; run as root".into(),
    }
}

fn image(path: &str, state: ImageState) -> Image {
    Image {
        path: path.into(),
        kind: ImageKind::Container(ContainerKind::Ifs),
        offset: None,
        entries: 3,
        notes: vec![ImageNote {
            kind: NoteKind::Damage,
            detail: "UCL block truncated".into(),
            offset: Some(0x1234),
        }],
        boot_script: vec![],
        state,
        same_content: vec![],
    }
}

/// Classify; every ELF file given counts as a file read, and so do the `extra` ones.
fn judge_with(os: &OsAssessment, libc: &[Libc], binaries: &[Binary], extra: &Extra) -> Judged {
    let elf_files = (libc.len() + binaries.len()) as u64;
    let c = classify(&Findings {
        os,
        libc,
        binaries,
        elf_files,
        unreadable_libc: &extra.unreadable,
        images: &extra.images,
        files: elf_files + extra.opaque_files + extra.plain_files + extra.unreadable.len() as u64,
        opaque_files: extra.opaque_files,
        errors: extra.errors + extra.unreadable.len(),
    });
    // Each reason's text starts with the id of the rule that fired it (reports carry only
    // the text): the two must agree.
    for r in &c.reasons {
        assert!(
            r.text.starts_with(&format!("{}:", r.rule.id())),
            "{}",
            r.text
        );
    }
    Judged {
        verdict: c.verdict,
        reasons: c.reasons.into_iter().map(|r| r.text).collect(),
    }
}

/// A classification as the report carries it: the verdict and the reasons' texts.
struct Judged {
    verdict: Verdict,
    reasons: Vec<String>,
}

fn judge(os: &OsAssessment, libc: &[Libc], binaries: &[Binary]) -> Judged {
    judge_with(os, libc, binaries, &Extra::default())
}

/// The id each reason starts with (`R4`, `caveat`, `BADALLOC-CALLOC-UNCHECKED`...).
fn rule_ids(c: &Judged) -> Vec<String> {
    c.reasons
        .iter()
        .map(|r| r.split(':').next().unwrap_or("").to_string())
        .collect()
}

// ---------------------------------------------------------------- the table

struct Row {
    name: &'static str,
    os: OsAssessment,
    libc: Vec<Libc>,
    binaries: Vec<Binary>,
    extra: Extra,
    verdict: Verdict,
    ids: &'static [&'static str],
}

fn row(
    name: &'static str,
    os: OsAssessment,
    libc: Vec<Libc>,
    binaries: Vec<Binary>,
    verdict: Verdict,
    ids: &'static [&'static str],
) -> Row {
    Row {
        name,
        os,
        libc,
        binaries,
        extra: Extra::default(),
        verdict,
        ids,
    }
}

fn with(extra: Extra, r: Row) -> Row {
    Row { extra, ..r }
}

const LIBC: &str = "lib/libc.so.3";

fn rows() -> Vec<Row> {
    use Verdict::*;
    let libc = |v| vec![qnx_libc(LIBC, v)];
    let none = Vec::new;
    vec![
        // ---- not QNX, not firmware
        with(
            Extra {
                opaque_files: 1,
                ..Extra::default()
            },
            row(
                "R0: no ELF file at all, bytes of an unknown format",
                not_qnx(),
                none(),
                vec![],
                Inconclusive,
                &["R0"],
            ),
        ),
        row(
            "R0: nothing at all (an empty directory) is not 'not firmware'",
            not_qnx(),
            none(),
            vec![],
            Inconclusive,
            &["R0"],
        ),
        with(
            Extra {
                plain_files: 2,
                ..Extra::default()
            },
            row(
                "NOT-FIRMWARE: only text and empty files",
                not_qnx(),
                none(),
                vec![],
                NotQnx,
                &["NOT-FIRMWARE"],
            ),
        ),
        with(
            Extra {
                plain_files: 2,
                errors: 1,
                ..Extra::default()
            },
            row(
                "R0: text files, but one could not be read",
                not_qnx(),
                none(),
                vec![],
                Inconclusive,
                &["R0"],
            ),
        ),
        with(
            Extra {
                unreadable: vec![unreadable_libc("lib/libc.so.3")],
                ..Extra::default()
            },
            row(
                "unread + R3: a C library that could not be read is named",
                not_qnx(),
                none(),
                vec![program("bin/hello", false)],
                NotQnx,
                &["unread", "R3"],
            ),
        ),
        row(
            "R3: ELF files, none QNX",
            not_qnx(),
            none(),
            vec![program("bin/hello", false)],
            NotQnx,
            &["R3"],
        ),
        row(
            "R3: a checked non-QNX libc adds no finding",
            not_qnx(),
            vec![other_libc("lib/libc.so.6", Checked)],
            vec![],
            NotQnx,
            &["R3"],
        ),
        row(
            "R3 + family: unchecked non-QNX libc",
            not_qnx(),
            vec![other_libc("lib/libc.so.6", Unchecked)],
            vec![],
            NotQnx,
            &["R3", "BADALLOC-CALLOC-UNCHECKED"],
        ),
        row(
            "R3 + family: unchecked static copy outside QNX (newlib)",
            not_qnx(),
            none(),
            vec![Binary {
                qnx: false,
                ..static_copy("firmware.elf", Unchecked)
            }],
            NotQnx,
            &["R3", "BADALLOC-CALLOC-UNCHECKED"],
        ),
        row(
            "R3: an unknown non-QNX calloc is no finding",
            not_qnx(),
            vec![other_libc("lib/libc.so.6", Unknown)],
            vec![],
            NotQnx,
            &["R3"],
        ),
        // ---- the code decides first
        row(
            "R1: 6.5.0, unchecked libc",
            kernel("6.5.0"),
            libc(Unchecked),
            vec![],
            Affected,
            &["R1"],
        ),
        row(
            "R1 + note: a fixed kernel does not outrank unchecked code",
            kernel("7.1.0"),
            libc(Unchecked),
            vec![],
            Affected,
            &["R1", "note"],
        ),
        row(
            "R1: unknown release, unchecked libc",
            qnx_unknown_release(),
            libc(Unchecked),
            vec![],
            Affected,
            &["R1"],
        ),
        row(
            "R1: one unchecked libc among checked ones",
            kernel("6.5.0"),
            vec![
                qnx_libc(LIBC, Checked),
                qnx_libc("x/lib/libc.so.3", Unchecked),
            ],
            vec![],
            Affected,
            &["R1"],
        ),
        row(
            "R2: a static copy alone",
            qnx_unknown_release(),
            none(),
            vec![static_copy("sbin/devc-ser8250", Unchecked)],
            Affected,
            &["R2"],
        ),
        row(
            "R2 + note: a static copy beside a checked 7.1.0 libc",
            kernel("7.1.0"),
            libc(Checked),
            vec![static_copy("sbin/devc-ser8250", Unchecked)],
            Affected,
            &["R2", "note"],
        ),
        row(
            "R2: a static copy in a patched 6.5.0 tree",
            kernel("6.5.0"),
            libc(Checked),
            vec![static_copy("sbin/devc-ser8250", Unchecked)],
            Affected,
            &["R2"],
        ),
        row(
            "R1 + R2",
            kernel("6.5.0"),
            libc(Unchecked),
            vec![static_copy("sbin/devc-ser8250", Unchecked)],
            Affected,
            &["R1", "R2"],
        ),
        row(
            "R1: a non-QNX libc beside an unchecked QNX one",
            kernel("6.5.0"),
            vec![
                other_libc("lib/libc.so.6", Checked),
                qnx_libc(LIBC, Unchecked),
            ],
            vec![],
            Affected,
            &["R1"],
        ),
        // ---- damaged images: at most inconclusive, whatever else was found
        with(
            Extra {
                images: vec![image("fw.bin@0x40000", ImageState::Partial)],
                ..Extra::default()
            },
            row(
                "DAMAGED-IMAGE: a fixed release and a checked libc, but an image read in part",
                kernel("6.6.0"),
                libc(Checked),
                vec![],
                Inconclusive,
                &["DAMAGED-IMAGE", "R4"],
            ),
        ),
        with(
            Extra {
                images: vec![image("fw.bin@0x40000", ImageState::Unreadable)],
                ..Extra::default()
            },
            row(
                "DAMAGED-IMAGE: not QNX by its ELF files, but an image could not be read",
                not_qnx(),
                none(),
                vec![program("bin/hello", false)],
                Inconclusive,
                &["DAMAGED-IMAGE", "R3"],
            ),
        ),
        with(
            Extra {
                images: vec![image("fw.bin@0x40000", ImageState::Partial)],
                ..Extra::default()
            },
            row(
                "DAMAGED-IMAGE: an affected verdict stands, the image is named",
                kernel("6.5.0"),
                libc(Unchecked),
                vec![],
                Affected,
                &["R1", "DAMAGED-IMAGE"],
            ),
        ),
        with(
            Extra {
                images: vec![image("fw.bin@0x40000", ImageState::Complete)],
                ..Extra::default()
            },
            row(
                "R4: an image read in full changes nothing",
                kernel("6.6.0"),
                libc(Checked),
                vec![],
                NotAffected,
                &["R4"],
            ),
        ),
        // ---- fixed releases, and the lower bound from the programs' ABI
        row(
            "R4: programs need libc.so.4+ (7.0 or later), no C library",
            floor("7.0.0", "7.0 or later"),
            none(),
            vec![program("bin/ls", true)],
            NotAffected,
            &["R4"],
        ),
        row(
            "R1: the lower bound does not outrank unchecked code",
            floor("7.0.0", "7.0 or later"),
            libc(Unchecked),
            vec![],
            Affected,
            &["R1"],
        ),
        row(
            "R6: the kernel's 6.5.0 outranks programs that need libc.so.4+",
            kernel_and_floor("6.5.0"),
            none(),
            vec![],
            Inconclusive,
            &["R6"],
        ),
        with(
            Extra {
                unreadable: vec![unreadable_libc("lib/libc.so.3")],
                ..Extra::default()
            },
            row(
                "R6: a 6.5.0 kernel and a C library that could not be read",
                kernel("6.5.0"),
                none(),
                vec![],
                Inconclusive,
                &["R6"],
            ),
        ),
        with(
            Extra {
                unreadable: vec![unreadable_libc("x/lib/libc.so.3")],
                ..Extra::default()
            },
            row(
                "R10: a checked libc and one that could not be read are not all checked",
                qnx_unknown_release(),
                libc(Checked),
                vec![],
                Inconclusive,
                &["R10"],
            ),
        ),
        row(
            "R4: 6.6.0 kernel, checked libc",
            kernel("6.6.0"),
            libc(Checked),
            vec![],
            NotAffected,
            &["R4"],
        ),
        row(
            "R4: 6.6.0 kernel, no libc",
            kernel("6.6.0"),
            none(),
            vec![],
            NotAffected,
            &["R4"],
        ),
        row(
            "R4: 7.1.0 kernel, unknown libc",
            kernel("7.1.0"),
            libc(Unknown),
            vec![],
            NotAffected,
            &["R4"],
        ),
        row(
            "R4: a series wholly fixed (libc.so.4: 7.0) decides alone",
            series("7.0.0", "7.0.99", "7.0"),
            libc(Unknown),
            vec![],
            NotAffected,
            &["R4"],
        ),
        row(
            "R4: a lower bound at 7.0 (programs need libc.so.4+) decides alone",
            series("7.0.0", "65535.65535.65535", "7.0 or later"),
            none(),
            vec![],
            NotAffected,
            &["R4"],
        ),
        row(
            "R4 + caveat: a stripped static program",
            kernel("6.6.0"),
            libc(Checked),
            vec![stripped_static("sbin/tool")],
            NotAffected,
            &["R4", "caveat"],
        ),
        // ---- 6.5.x: only the code tells
        row(
            "R5: 6.5.0 kernel, checked libc",
            kernel("6.5.0"),
            libc(Checked),
            vec![],
            Patched,
            &["R5"],
        ),
        row(
            "R5: 6.5.0 from QNX_info, checked libc",
            label("6.5.0"),
            libc(Checked),
            vec![],
            Patched,
            &["R5"],
        ),
        row(
            "R5: the last 6.5 release before the boundary",
            kernel("6.5.99"),
            libc(Checked),
            vec![],
            Patched,
            &["R5"],
        ),
        row(
            "R6: 6.5.0 kernel, unknown libc",
            kernel("6.5.0"),
            libc(Unknown),
            vec![],
            Inconclusive,
            &["R6"],
        ),
        row(
            "R6: 6.5.0 kernel, no libc",
            kernel("6.5.0"),
            none(),
            vec![],
            Inconclusive,
            &["R6"],
        ),
        row(
            "R6: one checked and one unknown libc do not make a checked one",
            kernel("6.5.0"),
            vec![
                qnx_libc(LIBC, Checked),
                qnx_libc("x/lib/libc.so.3", Unknown),
            ],
            vec![],
            Inconclusive,
            &["R6"],
        ),
        row(
            "R6: a checked static copy is not a checked C library",
            kernel("6.5.0"),
            none(),
            vec![static_copy("sbin/devc-ser8250", Checked)],
            Inconclusive,
            &["R6"],
        ),
        row(
            "R6: a checked non-QNX libc does not count",
            kernel("6.5.0"),
            vec![other_libc("lib/libc.so.6", Checked)],
            vec![],
            Inconclusive,
            &["R6"],
        ),
        row(
            "R6 + caveat: a stripped static program",
            kernel("6.5.0"),
            libc(Unknown),
            vec![stripped_static("sbin/tool")],
            Inconclusive,
            &["R6", "caveat"],
        ),
        // ---- before 6.5.0: no vendor patch
        row(
            "R7: 6.4.1 kernel, checked libc",
            kernel("6.4.1"),
            libc(Checked),
            vec![],
            Patched,
            &["R7"],
        ),
        row(
            "R7: 6.4.0 from QNX_info, checked libc",
            label("6.4.0"),
            libc(Checked),
            vec![],
            Patched,
            &["R7"],
        ),
        row(
            "R8: 6.4.1 kernel, no libc",
            kernel("6.4.1"),
            none(),
            vec![],
            Affected,
            &["R8"],
        ),
        row(
            "R8: 6.4.1 kernel, unknown libc",
            kernel("6.4.1"),
            libc(Unknown),
            vec![],
            Affected,
            &["R8"],
        ),
        row(
            "R8: a series wholly affected (libc.so.2: 6.1-6.3) decides alone",
            series("6.1.0", "6.3.99", "6.1-6.3"),
            libc(Unknown),
            vec![],
            Affected,
            &["R8"],
        ),
        row(
            "R8: a stripped static program adds no caveat to an affected verdict",
            kernel("6.4.1"),
            none(),
            vec![stripped_static("sbin/tool")],
            Affected,
            &["R8"],
        ),
        // ---- no decisive release
        row(
            "R9: unknown release, checked libc",
            qnx_unknown_release(),
            libc(Checked),
            vec![],
            NotAffected,
            &["R9"],
        ),
        row(
            "R9: libc.so.3 series (6.4-6.6), checked libc",
            series("6.4.0", "6.6.99", "6.4-6.6"),
            libc(Checked),
            vec![],
            NotAffected,
            &["R9"],
        ),
        row(
            "R10: unknown release, unknown libc",
            qnx_unknown_release(),
            libc(Unknown),
            vec![],
            Inconclusive,
            &["R10"],
        ),
        row(
            "R10: unknown release, no libc",
            qnx_unknown_release(),
            none(),
            vec![program("bin/ls", true)],
            Inconclusive,
            &["R10"],
        ),
        row(
            "R10: a QNX_info-only 6.5.0 with an unknown libc does not decide",
            label("6.5.0"),
            libc(Unknown),
            vec![],
            Inconclusive,
            &["R10"],
        ),
        row(
            "R10: a QNX_info-only 7.1.0 does not decide alone either",
            label("7.1.0"),
            libc(Unknown),
            vec![],
            Inconclusive,
            &["R10"],
        ),
        row(
            "R10: a QNX_info-only 6.4.0 does not make it affected",
            label("6.4.0"),
            none(),
            vec![],
            Inconclusive,
            &["R10"],
        ),
        row(
            "R10: libc.so.3 series spans the fix",
            series("6.4.0", "6.6.99", "6.4-6.6"),
            libc(Unknown),
            vec![],
            Inconclusive,
            &["R10"],
        ),
        row(
            "R4 + caveat: a static copy whose analysis ended unknown",
            kernel("6.6.0"),
            libc(Checked),
            vec![static_copy("proc/boot/procnto-smp-instr", Unknown)],
            NotAffected,
            &["R4", "caveat"],
        ),
        row(
            "R9 + caveat: an unknown static copy beside a checked libc",
            qnx_unknown_release(),
            libc(Checked),
            vec![static_copy("sbin/devc-ser8250", Unknown)],
            NotAffected,
            &["R9", "caveat"],
        ),
        row(
            "R5 + caveats: a stripped program and an unknown static copy",
            kernel("6.5.0"),
            libc(Checked),
            vec![
                stripped_static("sbin/tool"),
                static_copy("sbin/devc-ser8250", Unknown),
            ],
            Patched,
            &["R5", "caveat", "caveat"],
        ),
        row(
            "R1: an unknown static copy adds no caveat to an affected verdict",
            kernel("6.5.0"),
            libc(Unchecked),
            vec![static_copy("sbin/devc-ser8250", Unknown)],
            Affected,
            &["R1"],
        ),
        row(
            "R4: a checked static copy is no caveat",
            kernel("6.6.0"),
            libc(Checked),
            vec![static_copy("sbin/devc-ser8250", Checked)],
            NotAffected,
            &["R4"],
        ),
        row(
            "R10 + caveat: a stripped static program",
            qnx_unknown_release(),
            libc(Unknown),
            vec![stripped_static("sbin/tool")],
            Inconclusive,
            &["R10", "caveat"],
        ),
    ]
}

#[test]
fn every_rule_and_edge_gives_its_verdict_and_rule_id() {
    let mut wrong = Vec::new();
    for r in rows() {
        let c = judge_with(&r.os, &r.libc, &r.binaries, &r.extra);
        let ids = rule_ids(&c);
        if c.verdict != r.verdict || ids != r.ids {
            wrong.push(format!(
                "{}: expected {:?} {:?}, got {:?} {:?}\n    {}",
                r.name,
                r.verdict,
                r.ids,
                c.verdict,
                ids,
                c.reasons.join("\n    ")
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every rule id of docs/classification.md is produced by some row.
#[test]
fn the_table_covers_every_rule() {
    let fired: Vec<String> = rows()
        .iter()
        .flat_map(|r| r.ids.iter().map(|s| s.to_string()))
        .collect();
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/classification.md"
    ))
    .unwrap();
    // The rule table: every line whose first cell is an id (R0, NOT-FIRMWARE, caveat...).
    let table = doc
        .split("## Rules")
        .nth(1)
        .and_then(|t| t.split("\n## ").next())
        .expect("docs/classification.md has a Rules section");
    let ids: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| id") && !l.starts_with("|--"))
        .filter_map(|l| l.trim_start_matches('|').split('|').next())
        .map(str::trim)
        .collect();
    assert!(ids.len() >= 15, "{ids:?}");
    for id in ids {
        assert!(fired.iter().any(|f| f == id), "no row fires {id}");
    }
}

/// DAMAGED-IMAGE names each image, whether it was read in part or not at all, the damage
/// and its offset; past three images it counts the rest.
#[test]
fn damaged_images_are_named_with_their_state_and_counted_past_three() {
    let judge_images = |images: Vec<Image>| {
        let extra = Extra {
            images,
            ..Extra::default()
        };
        judge_with(&kernel("6.6.0"), &[qnx_libc(LIBC, Checked)], &[], &extra)
    };
    let c = judge_images(vec![
        image("a.ifs", ImageState::Unreadable),
        image("b.ifs", ImageState::Partial),
    ]);
    let r = &c.reasons[0];
    assert!(
        r.contains("a.ifs (ifs image) could not be read, damaged at offset 0x1234 of the image: UCL block truncated"),
        "{r}"
    );
    assert!(
        r.contains("b.ifs (ifs image) could be read only in part"),
        "{r}"
    );
    let three: Vec<Image> = ["a", "b", "c"]
        .iter()
        .map(|n| image(n, ImageState::Partial))
        .collect();
    let r = &judge_images(three.clone()).reasons[0];
    assert!(!r.contains("more images"), "{r}");
    let mut four = three;
    four.push(image("d", ImageState::Partial));
    let r = &judge_images(four).reasons[0];
    assert!(r.contains("; and 1 more images;"), "{r}");
    assert!(!r.contains("d (ifs image)"), "{r}");
}

#[test]
fn reasons_name_the_files_and_the_release() {
    let c = judge(
        &kernel("6.5.0"),
        &[qnx_libc(LIBC, Unchecked)],
        &[static_copy("sbin/devc-ser8250", Unchecked)],
    );
    assert!(c.reasons[0].contains(LIBC) && c.reasons[0].contains("hand-made Unchecked"));
    assert!(c.reasons[1].contains("sbin/devc-ser8250"));
    let c = judge(&kernel("6.5.0"), &[qnx_libc(LIBC, Checked)], &[]);
    assert!(
        c.reasons[0].contains("QNX release 6.5.0"),
        "{:?}",
        c.reasons
    );
    assert!(c.reasons[0].contains(LIBC), "{:?}", c.reasons);
    let c = judge(
        &series("6.4.0", "6.6.99", "6.4-6.6"),
        &[qnx_libc(LIBC, Unknown)],
        &[],
    );
    assert!(c.reasons[0].contains("6.4-6.6"), "{:?}", c.reasons);
    assert!(
        c.reasons[0].contains("spans affected and fixed"),
        "{:?}",
        c.reasons
    );
    // The code note names the C libraries that could not be decided, and only those.
    let c = judge(
        &kernel("6.5.0"),
        &[
            qnx_libc(LIBC, Checked),
            qnx_libc("x/lib/libc.so.3", Unknown),
        ],
        &[],
    );
    assert!(
        c.reasons[0].ends_with(
            "the calloc of x/lib/libc.so.3 could not be decided (hand-made Unknown calloc)"
        ),
        "{:?}",
        c.reasons
    );
    let c = judge(&label("6.5.0"), &[qnx_libc(LIBC, Unknown)], &[]);
    assert!(c.reasons[0].contains("component label"), "{:?}", c.reasons);
    let c = judge(&qnx_unknown_release(), &[], &[]);
    assert!(
        c.reasons[0].contains("no QNX C library was found"),
        "{:?}",
        c.reasons
    );
    let c = judge(
        &qnx_unknown_release(),
        &[],
        &[stripped_static("a"), stripped_static("b")],
    );
    assert!(
        c.reasons[1].starts_with(
            "caveat: 2 statically linked and stripped QNX files left open by the search for \
             calloc: a (calloc not searched for); b (calloc not searched for)"
        ),
        "{:?}",
        c.reasons
    );
    let c = judge(
        &kernel("6.6.0"),
        &[qnx_libc(LIBC, Checked)],
        &[static_copy("proc/boot/procnto-smp-instr", Unknown)],
    );
    assert_eq!(
        c.reasons[1],
        "caveat: 1 statically linked copy of calloc could not be analysed and may lack the \
         overflow test (proc/boot/procnto-smp-instr: hand-made Unknown calloc)"
    );
}
