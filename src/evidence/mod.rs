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

pub mod kernel;

use std::collections::BTreeMap;
use std::fmt;

use crate::container::ContainerKind;
use crate::facts::{FileFacts, QnxMarker};
use crate::report::{Confidence, EvidenceItem, ImageReport, ImageState, OsReport};

/// A Neutrino release `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl Release {
    pub const fn new(major: u16, minor: u16, patch: u16) -> Release {
        Release {
            major,
            minor,
            patch,
        }
    }

    /// Parse `X.Y.Z` (exactly), as the kernel and `QNX_info` write it.
    pub fn parse(s: &str) -> Option<Release> {
        let mut it = s.trim().split('.').map(|p| p.parse::<u16>().ok());
        let r = Release::new(it.next()??, it.next()??, it.next()??);
        it.next().is_none().then_some(r)
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

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
}

/// The OS view of a target: the report section plus the estimate classification uses.
#[derive(Debug, Clone, Default)]
pub struct OsAssessment {
    pub report: OsReport,
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
fn image_formats(images: &[ImageReport]) -> Vec<EvidenceItem> {
    let qnx: Vec<(&ImageReport, ContainerKind)> = images
        .iter()
        .filter_map(|i| Some((i, ContainerKind::from_name(&i.kind)?)))
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
                kind: "image-format".into(),
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
            kind: "image-format".into(),
            detail: format!("and {more} more images of QNX formats"),
        });
    }
    items
}

/// Weigh the release evidence of all ELF files of one target, and the images of QNX
/// formats found in it.
pub fn assess(files: &[FileFacts], images: &[ImageReport]) -> OsAssessment {
    let mut evidence = image_formats(images);
    let is_qnx = files.iter().any(FileFacts::is_qnx) || !evidence.is_empty();
    let mut conflicts = Vec::new();

    // 1. Kernel release strings.
    let mut kernels: Vec<(&FileFacts, Release)> = Vec::new();
    for f in files {
        if let Some(k) = &f.kernel {
            evidence.push(EvidenceItem {
                source: f.path.clone(),
                kind: "procnto-release".into(),
                detail: format!(
                    "kernel release string \"{}\" next to link timestamp \"{}\" at offset {:#x}",
                    k.release, k.timestamp, k.offset
                ),
            });
            if let Some(r) = Release::parse(&k.release) {
                kernels.push((f, r));
            }
        }
    }

    // 2. QNX_info VERSION of C libraries (and of the kernel, for the record).
    let mut libc_versions: Vec<(&FileFacts, Release)> = Vec::new();
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
        evidence.push(EvidenceItem {
            source: f.path.clone(),
            kind: "qnx-info".into(),
            detail,
        });
        if f.is_libc {
            if let Some(r) = version.and_then(Release::parse) {
                libc_versions.push((f, r));
            }
        }
    }

    // 3. Compiler targets; 4. interpreters; QNX notes — aggregated, they repeat per file.
    let mut compiler: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut interps: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut notes: Vec<&str> = Vec::new();
    for f in files {
        for m in &f.markers {
            match m {
                QnxMarker::CompilerTarget(t) => {
                    compiler.entry(t.clone()).or_default().push(&f.path)
                }
                QnxMarker::Interpreter(i) => interps.entry(i.clone()).or_default().push(&f.path),
                QnxMarker::Note => notes.push(&f.path),
                QnxMarker::QnxInfo | QnxMarker::Kernel => {}
            }
        }
    }
    let mut compiler_releases = Vec::new();
    for (target, paths) in &compiler {
        evidence.push(aggregate(
            "compiler",
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
            "interpreter",
            &format!("QNX runtime linker {interp}"),
            paths,
        ));
    }
    if !notes.is_empty() {
        evidence.push(aggregate("qnx-note", "ELF note named \"QNX\"", &notes));
    }

    // 4. SONAMEs of C libraries, counted only with a QNX marker.
    let qnx_libcs = qnx_libcs(files);
    let mut series: Vec<(Release, Release, &'static str)> = Vec::new();
    for f in files.iter().filter(|f| f.is_libc) {
        let name = f.library_name();
        let counted = qnx_libcs.contains(f.path.as_str());
        match (libc_soname_series(name), counted) {
            (Some(s), true) => {
                evidence.push(EvidenceItem {
                    source: f.path.clone(),
                    kind: "libc-soname".into(),
                    detail: format!("C library {name}: QNX {} series", s.2),
                });
                series.push(s);
            }
            (_, false) => evidence.push(EvidenceItem {
                source: f.path.clone(),
                kind: "libc-soname".into(),
                detail: format!("C library {name} not counted: it carries no QNX marker (glibc is libc.so.6 too)"),
            }),
            (None, true) => {}
        }
    }

    // Decide.
    let mut estimate = ReleaseEstimate::default();
    let mut confidence = Confidence::Low;
    let distinct = |v: &[Release]| -> Vec<Release> {
        let mut d = v.to_vec();
        d.sort();
        d.dedup();
        d
    };
    let kernel_rel = distinct(&kernels.iter().map(|k| k.1).collect::<Vec<_>>());
    let libc_rel = distinct(&libc_versions.iter().map(|k| k.1).collect::<Vec<_>>());
    let compiler_rel = distinct(&compiler_releases);
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
    series.sort_by_key(|s| s.0);
    series.dedup();
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
        report: OsReport {
            family: is_qnx.then(|| "qnx".to_string()),
            release: estimate.exact.map(|r| r.to_string()),
            release_range: estimate.range.as_ref().map(|r| r.2.clone()),
            confidence,
            evidence,
            conflicts,
        },
        is_qnx,
        estimate,
    }
}

fn aggregate(kind: &str, what: &str, paths: &[&str]) -> EvidenceItem {
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
        kind: kind.into(),
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
    fn soname_series() {
        assert_eq!(
            libc_soname_series("libc.so.3").map(|s| s.2),
            Some("6.4-6.6")
        );
        assert_eq!(libc_soname_series("libc.so.5").map(|s| s.2), Some("7.1"));
        assert_eq!(libc_soname_series("libm.so.3"), None);
    }
}
