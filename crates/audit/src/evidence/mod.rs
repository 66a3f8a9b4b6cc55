//! Which OS and which release: each source weighed, with its evidence and a confidence.
//!
//! Sources, strongest first:
//! 1. the kernel's release string (`procnto-release`): what `uname -r` prints — high;
//! 2. `QNX_info` VERSION of the C library (`qnx-info`): the component's version, usually
//!    the release (6.4.1's libc says 6.4.0) — medium;
//! 3. a QNX compiler target in `.comment` (`compiler`, `i486-pc-nto-qnx6.5.0`) — medium;
//! 4. the libc SONAME (`libc-soname`), counted only where the libc carries a QNX marker or is
//!    needed by a binary that uses QNX's runtime linker: glibc is `libc.so.6` too — a series
//!    (`libc.so.3`: 6.4–6.6), low.
//!
//! When sources disagree, the disagreement is reported and the kernel is preferred.
//!
//! Whether the target is QNX at all: a QNX marker in any ELF file, or an image of a QNX
//! format (`image-format`: an IFS boot image, a QNX4 or QNX6 file system), even one whose
//! contents could not be read.

use std::collections::BTreeMap;

use crate::facts::{FileFacts, QnxMarker};
use crate::model::{Confidence, EvidenceItem, EvidenceKind, Family, Image, ImageState, Os};
pub use crate::release::Release;
use badalloc_formats::ContainerKind;

/// The release series a QNX libc SONAME implies (QNX migration notes, openqnx soversion.mk).
pub fn libc_soname_series(soname: &str) -> Option<(Release, Release, &'static str)> {
    let v = soname.rsplit('/').next()?.strip_prefix("libc.so.")?;
    Some(match v {
        "1" => (Release::new(6, 0, 0), Release::new(6, 0, 99), "6.0"),
        "2" => (Release::new(6, 1, 0), Release::new(6, 3, 99), "6.1-6.3"),
        "3" => (Release::new(6, 4, 0), Release::new(6, 6, 99), "6.4-6.6"),
        "4" => (Release::new(7, 0, 0), Release::new(7, 0, 99), "7.0"),
        "5" => (Release::new(7, 1, 0), Release::new(7, 1, 99), "7.1"),
        "6" => (Release::new(8, 0, 0), Release::new(8, 0, 99), "8.0"),
        _ => return None,
    })
}

/// What the evidence says about the release: exact where a source gives it, else a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseEstimate {
    pub exact: Option<Release>,
    /// Inclusive range, when only a series is known.
    pub range: Option<(Release, Release, String)>,
    /// A lower bound from what QNX programs need to run (hard ABI evidence), when no QNX
    /// file of the target needs an older C library.
    pub floor: Option<ReleaseFloor>,
}

/// "The device runs this release or a later one": QNX programs need a C library or runtime
/// linker that only this release and later ones provide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFloor {
    pub release: Release,
    /// `7.0 or later`.
    pub label: String,
    /// Which programs need what, and the labels that support or contradict it.
    pub why: String,
}

/// The first release that provides `libc.so.4` (and `ldqnx-64.so.2`): QNX 7.0.
const FIRST_ABI_FLOOR: Release = Release::new(7, 0, 0);

/// The release a QNX file needs at least, from its NEEDED C library (`libc.so.4`: 7.0,
/// `.5`: 7.1, `.6`: 8.0) or its runtime linker (`ldqnx-64.so.2`: 7.0), with what it needs;
/// `Err` with the name when it needs an older QNX C library (`libc.so.1` to `.3`).
fn abi_need(f: &FileFacts) -> Option<Result<(Release, String), String>> {
    let mut need: Option<(Release, String)> = None;
    for name in &f.needed {
        match libc_soname_series(name) {
            Some((lo, _, _)) if lo < FIRST_ABI_FLOOR => return Some(Err(name.clone())),
            Some((lo, _, _)) if need.as_ref().is_none_or(|n| lo > n.0) => {
                need = Some((lo, name.clone()));
            }
            _ => {}
        }
    }
    let interp = f.interpreter.as_deref().unwrap_or_default();
    if need.is_none() && interp.rsplit('/').next() == Some("ldqnx-64.so.2") {
        need = Some((FIRST_ABI_FLOOR, interp.to_string()));
    }
    need.map(Ok)
}

/// The release a version label names: `QNX_info` VERSION (`7.0.0`) or a compiler target
/// (`x86_64-pc-nto-qnx7.0.0`, `qnx700`).
fn labelled_release(label: &str) -> Option<Release> {
    if let Some(r) = Release::parse(label) {
        return Some(r);
    }
    let (_, after) = label.rsplit_once("qnx")?;
    let digits: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let digit = |c: u8| c.is_ascii_digit().then(|| u16::from(c - b'0'));
    Release::parse(&digits).or_else(|| match digits.as_bytes() {
        // `qnx700`: major, minor, patch one digit each
        &[a, b, c] => Some(Release::new(digit(a)?, digit(b)?, digit(c)?)),
        _ => None,
    })
}

/// The lower bound the QNX files' needs give, with its evidence item; a conflict instead
/// when some QNX file needs an older C library. `qnx_libc_series`: the series of the QNX C
/// libraries present (a `libc.so.3` present contradicts a 7.0 bound too).
fn abi_floor(
    files: &[FileFacts],
    qnx_libc_series: &[(Release, Release, &'static str)],
) -> (Option<(ReleaseFloor, EvidenceItem)>, Option<String>) {
    let mut needing: Vec<(&FileFacts, Release, String)> = Vec::new();
    let mut older: Vec<(&str, String)> = Vec::new();
    for f in files.iter().filter(|f| f.is_qnx()) {
        match abi_need(f) {
            Some(Ok((r, what))) => needing.push((f, r, what)),
            Some(Err(name)) => older.push((&f.path, name)),
            None => {}
        }
    }
    let Some(low) = needing.iter().map(|n| n.1).min() else {
        return (None, None);
    };
    let series_below = qnx_libc_series.iter().find(|s| s.1 < low);
    if !older.is_empty() || series_below.is_some() {
        let against = match (older.first(), series_below) {
            (Some((path, name)), _) => format!("{path} needs {name}"),
            (None, Some(s)) => format!("a QNX C library of the {} series is present", s.2),
            (None, None) => String::new(),
        };
        return (
            None,
            Some(format!(
                "QNX programs need C libraries of different releases ({} needs {}, {against}): no lower bound is drawn",
                needing[0].0.path, needing[0].2
            )),
        );
    }
    let label = format!("{}.{} or later", low.major, low.minor);
    let at_floor: Vec<&(&FileFacts, Release, String)> =
        needing.iter().filter(|n| n.1 == low).collect();
    let what: Vec<&str> = {
        let mut w: Vec<&str> = at_floor.iter().map(|n| n.2.as_str()).collect();
        w.sort();
        w.dedup();
        w
    };
    let paths: Vec<&str> = at_floor.iter().map(|n| n.0.path.as_str()).collect();
    let mut why = format!(
        "{} QNX file{} need{} {} (e.g. {}), which only QNX {label} provides",
        paths.len(),
        if paths.len() == 1 { "" } else { "s" },
        if paths.len() == 1 { "s" } else { "" },
        what.join(", "),
        paths
            .iter()
            .take(MAX_EXAMPLES)
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Version labels of any QNX file: support, or hints against (never a bound themselves).
    let (mut support, mut against) = (0usize, Vec::new());
    for f in files.iter().filter(|f| f.is_qnx()) {
        let labels = f
            .qnx_info
            .iter()
            .filter(|(k, _)| k == "VERSION")
            .map(|(_, v)| v.clone())
            .chain(f.markers.iter().filter_map(|m| match m {
                QnxMarker::CompilerTarget(t) => Some(t.clone()),
                _ => None,
            }));
        for l in labels {
            match labelled_release(&l) {
                Some(r) if r >= low => support += 1,
                Some(_) => against.push(l),
                None => {}
            }
        }
    }
    if support > 0 {
        why.push_str(&format!(
            "; {support} version label{} (QNX_info VERSION, compiler target) agree{}",
            if support == 1 { "" } else { "s" },
            if support == 1 { "s" } else { "" }
        ));
    }
    if !against.is_empty() {
        why.push_str(&format!(
            "; labels naming an older release ({}) are component labels and do not lower it",
            against
                .iter()
                .take(MAX_EXAMPLES)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let item = EvidenceItem {
        source: paths.first().map(|p| p.to_string()).unwrap_or_default(),
        kind: EvidenceKind::AbiFloor,
        detail: format!("QNX {label}: {why}"),
    };
    (
        Some((
            ReleaseFloor {
                release: low,
                label,
                why,
            },
            item,
        )),
        None,
    )
}

/// The OS view of a target: the report section plus the estimate classification uses.
#[derive(Debug, Clone, Default)]
pub struct OsAssessment {
    pub report: Os,
    pub is_qnx: bool,
    pub estimate: ReleaseEstimate,
}

/// Paths of the C libraries that are QNX's: they carry a QNX marker themselves, or a binary
/// that uses QNX's runtime linker needs them by a QNX libc SONAME. glibc's `libc.so.6` is
/// neither, so it is never taken for QNX 8.
pub fn qnx_libcs(files: &[FileFacts]) -> std::collections::BTreeSet<&str> {
    let needed_by_qnx: Vec<&str> = files
        .iter()
        .filter(|f| {
            f.markers
                .iter()
                .any(|m| matches!(m, QnxMarker::Interpreter(_)))
        })
        .flat_map(|f| f.needed.iter().map(String::as_str))
        .collect();
    files
        .iter()
        .filter(|f| f.is_libc)
        .filter(|f| {
            let name = f.library_name();
            f.is_qnx() || (needed_by_qnx.contains(&name) && libc_soname_series(name).is_some())
        })
        .map(|f| f.path.as_str())
        .collect()
}

/// How many files an aggregated evidence line names before it says "and N more".
const MAX_EXAMPLES: usize = 3;

/// How many QNX images are named one by one in the evidence before the rest are counted.
const MAX_IMAGE_EVIDENCE: usize = 8;

/// The `image-format` evidence: every image of a QNX format (boot image, QNX4 or QNX6 file
/// system) found by its signature, whether or not anything inside it could be read. Only
/// QNX writes these formats, so one is enough to make the target QNX.
fn image_formats(images: &[Image]) -> Vec<EvidenceItem> {
    let qnx: Vec<(&Image, ContainerKind)> = images
        .iter()
        .filter_map(|i| Some((i, i.kind.container()?)))
        .filter(|(_, k)| k.is_qnx_format())
        .collect();
    let mut items: Vec<EvidenceItem> = qnx
        .iter()
        .take(MAX_IMAGE_EVIDENCE)
        .map(|(i, kind)| {
            let at = i
                .offset
                .map(|o| format!(" at offset {o:#x} of its file"))
                .unwrap_or_default();
            let state = match (i.state, i.damage()) {
                (ImageState::Complete, _) => format!(
                    ", read ({} entr{})",
                    i.entries,
                    if i.entries == 1 { "y" } else { "ies" }
                ),
                (ImageState::Partial, Some(d)) => format!(", partly read: {}", d.detail),
                (ImageState::Unreadable, Some(d)) => format!(", not readable: {}", d.detail),
                (state, None) => format!(", {}", state.as_str()),
            };
            EvidenceItem {
                source: i.path.clone(),
                kind: EvidenceKind::ImageFormat,
                detail: format!("{}{at}{state}", kind.signature()),
            }
        })
        .collect();
    if let Some(more) = qnx.len().checked_sub(MAX_IMAGE_EVIDENCE).filter(|&n| n > 0) {
        items.push(EvidenceItem {
            source: qnx
                .get(MAX_IMAGE_EVIDENCE)
                .map(|(i, _)| i.path.clone())
                .unwrap_or_default(),
            kind: EvidenceKind::ImageFormat,
            detail: format!("and {more} more images of QNX formats"),
        });
    }
    items
}

/// Weigh the release evidence of all ELF files of one target, and the images of QNX
/// formats found in it.
pub fn assess(files: &[FileFacts], images: &[Image]) -> OsAssessment {
    let mut evidence = image_formats(images);
    let is_qnx = files.iter().any(FileFacts::is_qnx) || !evidence.is_empty();
    let mut conflicts = Vec::new();

    let kernels = kernel_releases(files, &mut evidence);
    let libc_versions = qnx_info_releases(files, &mut evidence);
    let compiler_releases = marker_evidence(files, &mut evidence);
    let mut series = soname_series(files, &mut evidence);

    let (mut estimate, mut confidence) =
        exact_release(&kernels, &libc_versions, &compiler_releases, &mut conflicts);
    series.sort_by_key(|s| s.0);
    series.dedup();
    let (floor, floor_conflict) = abi_floor(files, &series);
    conflicts.extend(floor_conflict);
    if let Some(s) = series.first() {
        if estimate.exact.is_none() {
            estimate.range = Some((s.0, s.1, s.2.to_string()));
        }
        if let Some(e) = estimate.exact {
            if !(s.0 <= e && e <= s.1) {
                conflicts.push(format!(
                    "release {e} does not match the C library series {} ({})",
                    s.2, "libc SONAME"
                ));
            }
        }
        if series.len() > 1 {
            conflicts.push(format!(
                "C libraries of several series: {}",
                series.iter().map(|s| s.2).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if let Some((floor, item)) = floor {
        evidence.push(item);
        conflicts.extend(apply_floor(&mut estimate, &mut confidence, floor));
    }
    if !is_qnx {
        // Confidence here is in "not QNX": strong when ELF files were read and none is QNX.
        confidence = if files.is_empty() {
            Confidence::Low
        } else {
            Confidence::High
        };
        estimate = ReleaseEstimate::default();
    }
    OsAssessment {
        report: Os {
            family: is_qnx.then_some(Family::Qnx),
            release: estimate.exact.map(|r| r.to_string()),
            release_range: estimate
                .range
                .as_ref()
                .map(|r| r.2.clone())
                .or_else(|| estimate.floor.as_ref().map(|f| f.label.clone())),
            confidence,
            evidence,
            conflicts,
        },
        is_qnx,
        estimate,
    }
}

/// Step 1: the kernels' release strings, each an evidence item.
fn kernel_releases(files: &[FileFacts], evidence: &mut Vec<EvidenceItem>) -> Vec<Release> {
    let mut kernels = Vec::new();
    for f in files {
        if let Some(k) = &f.kernel {
            evidence.push(EvidenceItem {
                source: f.path.clone(),
                kind: EvidenceKind::ProcntoRelease,
                detail: format!(
                    "kernel release string \"{}\" next to link timestamp \"{}\" at offset {:#x}",
                    k.release, k.timestamp, k.offset
                ),
            });
            if let Some(r) = Release::parse(&k.release) {
                kernels.push(r);
            }
        }
    }
    kernels
}

/// Step 2: QNX_info VERSION of C libraries (and of the kernel, for the record): the C
/// libraries' releases.
fn qnx_info_releases(files: &[FileFacts], evidence: &mut Vec<EvidenceItem>) -> Vec<Release> {
    let mut libc_versions = Vec::new();
    for f in files.iter().filter(|f| f.is_libc || f.kernel.is_some()) {
        if f.qnx_info.is_empty() {
            continue;
        }
        let get = |k: &str| {
            f.qnx_info
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let version = get("VERSION");
        let mut detail = match version {
            Some(v) => format!("QNX_info VERSION={v}"),
            None => "QNX_info without VERSION".to_string(),
        };
        for key in ["NAME", "DATE", "STATE"] {
            if let Some(v) = get(key) {
                detail.push_str(&format!(", {key}={v}"));
            }
        }
        if f.qnx_info_without_sections {
            detail.push_str(
                " (found in the bytes after the loaded segments: the section table names no sections)",
            );
        }
        evidence.push(EvidenceItem {
            source: f.path.clone(),
            kind: EvidenceKind::QnxInfo,
            detail,
        });
        if f.is_libc {
            if let Some(r) = version.and_then(Release::parse) {
                libc_versions.push(r);
            }
        }
    }
    libc_versions
}

/// Step 3: compiler targets, interpreters, QNX notes, kernel calls — aggregated, they repeat
/// per file. The releases the compiler targets name.
fn marker_evidence(files: &[FileFacts], evidence: &mut Vec<EvidenceItem>) -> Vec<Release> {
    let mut compiler: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut interps: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut notes: Vec<&str> = Vec::new();
    let mut kernel_calls: Vec<&str> = Vec::new();
    for f in files {
        for m in &f.markers {
            match m {
                QnxMarker::CompilerTarget(t) => {
                    compiler.entry(t.clone()).or_default().push(&f.path)
                }
                QnxMarker::Interpreter(i) => interps.entry(i.clone()).or_default().push(&f.path),
                QnxMarker::Note => notes.push(&f.path),
                QnxMarker::KernelCalls => kernel_calls.push(&f.path),
                QnxMarker::QnxInfo | QnxMarker::Kernel => {}
            }
        }
    }
    let mut compiler_releases = Vec::new();
    for (target, paths) in &compiler {
        evidence.push(aggregate(
            EvidenceKind::Compiler,
            &format!("QNX compiler target {target} in .comment"),
            paths,
        ));
        if let Some(r) = target
            .rsplit("nto-qnx")
            .next()
            .filter(|_| target.contains("nto-qnx"))
        {
            let digits: String = r
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            if let Some(rel) = Release::parse(&digits) {
                compiler_releases.push(rel);
            }
        }
    }
    for (interp, paths) in &interps {
        evidence.push(aggregate(
            EvidenceKind::Interpreter,
            &format!("QNX runtime linker {interp}"),
            paths,
        ));
    }
    if !notes.is_empty() {
        evidence.push(aggregate(
            EvidenceKind::QnxNote,
            "ELF note named \"QNX\"",
            &notes,
        ));
    }
    if !kernel_calls.is_empty() {
        evidence.push(aggregate(
            EvidenceKind::KernelCalls,
            "Neutrino kernel calls (MsgSend, ConnectAttach, ChannelCreate...) in the dynamic symbols",
            &kernel_calls,
        ));
    }
    compiler_releases
}

/// Step 4: SONAMEs of C libraries, counted only with a QNX marker: the series they imply.
fn soname_series(
    files: &[FileFacts],
    evidence: &mut Vec<EvidenceItem>,
) -> Vec<(Release, Release, &'static str)> {
    let qnx_libcs = qnx_libcs(files);
    let mut series: Vec<(Release, Release, &'static str)> = Vec::new();
    for f in files.iter().filter(|f| f.is_libc) {
        let name = f.library_name();
        let counted = qnx_libcs.contains(f.path.as_str());
        match (libc_soname_series(name), counted) {
            (Some(s), true) => {
                evidence.push(EvidenceItem {
                    source: f.path.clone(),
                    kind: EvidenceKind::LibcSoname,
                    detail: format!("C library {name}: QNX {} series", s.2),
                });
                series.push(s);
            }
            (_, false) => evidence.push(EvidenceItem {
                source: f.path.clone(),
                kind: EvidenceKind::LibcSoname,
                detail: format!("C library {name} not counted: it carries no QNX marker (glibc is libc.so.6 too)"),
            }),
            (None, true) => {}
        }
    }

    series
}

/// The exact release, preferring the kernel's over a C library's QNX_info over a compiler
/// target's, with its confidence; disagreements go to `conflicts`.
fn exact_release(
    kernels: &[Release],
    libc_versions: &[Release],
    compiler_releases: &[Release],
    conflicts: &mut Vec<String>,
) -> (ReleaseEstimate, Confidence) {
    let mut estimate = ReleaseEstimate::default();
    let mut confidence = Confidence::Low;
    let distinct = |v: &[Release]| -> Vec<Release> {
        let mut d = v.to_vec();
        d.sort();
        d.dedup();
        d
    };
    let kernel_rel = distinct(kernels);
    let libc_rel = distinct(libc_versions);
    let compiler_rel = distinct(compiler_releases);
    if kernel_rel.len() > 1 {
        conflicts.push(format!(
            "several kernels with different releases: {}; the lowest is reported (the device may boot the oldest)",
            join(&kernel_rel)
        ));
    }
    if libc_rel.len() > 1 {
        conflicts.push(format!(
            "C libraries with different QNX_info versions: {}",
            join(&libc_rel)
        ));
    }
    if let Some(&k) = kernel_rel.first() {
        estimate.exact = Some(k);
        confidence = Confidence::High;
        if let Some(l) = libc_rel.iter().find(|&&l| l != k) {
            conflicts.push(format!(
                "kernel says {k}, C library QNX_info says {l}: the kernel is preferred (QNX_info VERSION is the component's version)"
            ));
        }
    } else if let Some(&l) = libc_rel.first() {
        estimate.exact = Some(l);
        confidence = Confidence::Medium;
    } else if let Some(&c) = compiler_rel.first() {
        estimate.exact = Some(c);
        confidence = Confidence::Medium;
    }
    if !compiler_rel.is_empty() {
        if let Some(e) = estimate.exact {
            if let Some(c) = compiler_rel
                .iter()
                .find(|c| c.major != e.major || c.minor != e.minor)
            {
                conflicts.push(format!("compiler target says {c}, release taken as {e}"));
            }
        }
    }
    (estimate, confidence)
}

/// Take the programs' lower bound into the estimate unless the kernel's release string says
/// less; a component label that says less is overruled. Returns the disagreement, if any.
fn apply_floor(
    estimate: &mut ReleaseEstimate,
    confidence: &mut Confidence,
    floor: ReleaseFloor,
) -> Option<String> {
    let mut conflict = None;
    match estimate.exact {
        Some(e) if e < floor.release && *confidence == Confidence::High => {
            return Some(format!(
                "the kernel says {e}, but QNX programs need QNX {}: the kernel is preferred",
                floor.label
            ));
        }
        Some(e) if e < floor.release => {
            conflict = Some(format!(
                "a component label says {e}, but QNX programs need QNX {}: the programs' needs are preferred",
                floor.label
            ));
        }
        _ => {}
    }
    estimate.floor = Some(floor);
    if *confidence == Confidence::Low {
        *confidence = Confidence::Medium;
    }
    conflict
}

fn aggregate(kind: EvidenceKind, what: &str, paths: &[&str]) -> EvidenceItem {
    let mut detail = format!(
        "{what} in {} file{}",
        paths.len(),
        if paths.len() == 1 { "" } else { "s" }
    );
    if paths.len() > 1 {
        let shown: Vec<&str> = paths.iter().take(MAX_EXAMPLES).copied().collect();
        detail.push_str(&format!(" (e.g. {})", shown.join(", ")));
    }
    EvidenceItem {
        source: paths.first().map(|p| p.to_string()).unwrap_or_default(),
        kind,
        detail,
    }
}

fn join(v: &[Release]) -> String {
    v.iter()
        .map(Release::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_parse() {
        assert_eq!(Release::parse("6.4.1"), Some(Release::new(6, 4, 1)));
        assert_eq!(Release::parse("660-4036"), None);
        assert_eq!(Release::parse("6.6"), None);
        assert_eq!(Release::parse("6.6.0.1"), None);
        assert!(Release::new(6, 5, 0) < Release::new(6, 6, 0));
    }

    #[test]
    fn the_64_bit_runtime_linker_alone_needs_7_0() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/qnx/aarch64/qnx700/ls"
        );
        let data = std::fs::read(path).unwrap();
        let elf = badalloc_elf::ElfFile::parse(&data).unwrap();
        let mut f = crate::facts::facts_of("bin/ls", &elf, None);
        assert_eq!(
            abi_need(&f),
            Some(Ok((Release::new(7, 0, 0), "libc.so.4".to_string())))
        );
        f.needed.clear();
        assert_eq!(
            abi_need(&f),
            Some(Ok((
                Release::new(7, 0, 0),
                "/usr/lib/ldqnx-64.so.2".to_string()
            )))
        );
        f.needed = vec!["libc.so.3".into()];
        assert_eq!(abi_need(&f), Some(Err("libc.so.3".to_string())));
    }

    #[test]
    fn version_labels() {
        let r = |s: &str| labelled_release(s);
        assert_eq!(r("7.0.0"), Some(Release::new(7, 0, 0)));
        assert_eq!(r("x86_64-pc-nto-qnx7.0.0"), Some(Release::new(7, 0, 0)));
        assert_eq!(
            r("arm-unknown-nto-qnx6.6.0eabi"),
            Some(Release::new(6, 6, 0))
        );
        assert_eq!(r("qnx700"), Some(Release::new(7, 0, 0)));
        assert_eq!(r("660-4036"), None);
        assert_eq!(r("qnx7.0"), None);
    }

    #[test]
    fn soname_series() {
        assert_eq!(
            libc_soname_series("libc.so.3").map(|s| s.2),
            Some("6.4-6.6")
        );
        assert_eq!(libc_soname_series("libc.so.5").map(|s| s.2), Some("7.1"));
        assert_eq!(libc_soname_series("libm.so.3"), None);
    }
}
