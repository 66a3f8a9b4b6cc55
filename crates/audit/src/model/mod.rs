//! The audit's own data model: what a scan finds in a target, with enums where the audit
//! decides (the kind of a target or an image, the OS family, the kind of a piece of
//! evidence or an image note, how a calloc was located, how much of an image was read).
//!
//! No serde here: the JSON contract (schema v1) is `badalloc-report`'s, which converts
//! these types into its wire types once, when a report is rendered. The names returned by
//! the `as_str` methods are those the report writes.

pub use badalloc_calloc::{CallocAnalysis, CallocVerdict, ChainLink, EvidenceLine};
pub use badalloc_formats::{ContainerKind, ErrorKind};

pub use crate::verdict::Verdict;

mod kinds;
#[cfg(test)]
pub(crate) mod test_support;
pub use kinds::{
    Confidence, EvidenceKind, Family, Identified, ImageKind, ImageState, LocatedBy, NoteKind,
    TargetKind,
};

/// One target of a scan (a PATH of the command line) and everything found in it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The PATH as given on the command line.
    pub path: String,
    pub kind: TargetKind,
    pub verdict: Verdict,
    /// Why the verdict is what it is, one sentence per rule that fired (most decisive
    /// first); each opens with its rule's id.
    pub reasons: Vec<String>,
    pub os: Os,
    pub libc: Vec<Libc>,
    pub binaries: Vec<Binary>,
    /// Symbolic links found (recorded, never followed).
    pub symlinks: Vec<Symlink>,
    /// Images opened (boot images, file systems, archives), nested ones included.
    pub images: Vec<Image>,
    pub errors: Vec<ScanError>,
    pub stats: ScanStats,
    /// For affected and inconclusive targets: binaries ranked by exposure, most exposed first.
    pub exposure: Vec<Exposure>,
    /// For affected and inconclusive targets: what to do until the patch ships.
    pub mitigations: Vec<String>,
}

/// The operating system the target's files say they are built for.
#[derive(Debug, Clone, Default)]
pub struct Os {
    /// Set when any QNX marker was found.
    pub family: Option<Family>,
    /// Exact release `X.Y.Z`, when a source gives one.
    pub release: Option<String>,
    /// Release series when only a range is known (e.g. `6.4-6.6` from `libc.so.3`).
    pub release_range: Option<String>,
    pub confidence: Confidence,
    pub evidence: Vec<EvidenceItem>,
    /// Sources that disagree, and which one was preferred.
    pub conflicts: Vec<String>,
}

impl Os {
    pub fn is_qnx(&self) -> bool {
        self.family == Some(Family::Qnx)
    }
}

/// One source of what the OS release is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceItem {
    /// Path inside the target of the file that carries it.
    pub source: String,
    pub kind: EvidenceKind,
    pub detail: String,
}

/// A C library and its calloc.
#[derive(Debug, Clone)]
pub struct Libc {
    pub path: String,
    pub soname: Option<String>,
    pub arch: String,
    /// `QNX_info` VERSION, when present.
    pub version: Option<String>,
    pub qnx: bool,
    pub calloc: CallocFinding,
    /// SHA-256 of the file (lowercase hex).
    pub sha256: Option<String>,
}

/// What the analysis of one calloc found.
#[derive(Debug, Clone)]
pub struct CallocFinding {
    pub verdict: CallocVerdict,
    /// The function that computes the size (last link of the chain).
    pub function: Option<String>,
    /// Address of `calloc`.
    pub address: Option<String>,
    pub reason: String,
    /// Functions followed from `calloc` to the one that multiplies.
    pub chain: Vec<String>,
    /// The same chain with each function's address.
    pub chain_links: Vec<ChainLink>,
    /// The decisive instructions.
    pub evidence: Vec<EvidenceLine>,
    /// How it was found; none for a C library that exports no calloc.
    pub location: Option<CallocLocation>,
}

/// How a calloc was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallocLocation {
    pub by: LocatedBy,
    /// `high` for a symbol, `medium` when located without one, `low` for a calloc-like
    /// function.
    pub confidence: Confidence,
    pub identified_as: Identified,
    /// How it was located without a symbol: the multiply, the allocation, the null test and
    /// the zero-fill seen, or the named calloc whose code it matches.
    pub evidence: Vec<EvidenceLine>,
}

impl CallocFinding {
    /// How it was found ([`LocatedBy::Symbol`] when nothing says otherwise).
    pub fn located_by(&self) -> LocatedBy {
        self.location.as_ref().map_or(LocatedBy::Symbol, |l| l.by)
    }

    /// ` (no symbol: located by behaviour at 0x114404, confidence medium)` for a copy found
    /// without a symbol; empty for a named one.
    pub fn located_note(&self) -> String {
        match &self.location {
            Some(l) if l.by != LocatedBy::Symbol => format!(
                " (no symbol: located by {} at {}, confidence {})",
                l.by.as_str(),
                self.address.as_deref().unwrap_or("?"),
                l.confidence.as_str()
            ),
            _ => String::new(),
        }
    }

    /// An `unknown` verdict with its reason (e.g. a C library that exports no calloc).
    pub fn unknown(reason: &str) -> CallocFinding {
        CallocFinding {
            verdict: CallocVerdict::Unknown,
            function: None,
            address: None,
            reason: reason.to_string(),
            chain: vec![],
            chain_links: vec![],
            evidence: vec![],
            location: None,
        }
    }

    /// A copy of calloc the search located without a symbol (`by`: behaviour or
    /// signature), or a calloc-like function.
    pub fn located(l: &badalloc_calloc::locate::Located, by: LocatedBy) -> CallocFinding {
        let mut evidence = l.shape.clone();
        evidence.push(EvidenceLine {
            address: format!("{:#x}", l.function),
            text: l.why.clone(),
        });
        CallocFinding {
            location: Some(CallocLocation {
                by,
                confidence: if l.is_calloc {
                    Confidence::Medium
                } else {
                    Confidence::Low
                },
                identified_as: if l.is_calloc {
                    Identified::Calloc
                } else {
                    Identified::CallocLike
                },
                evidence,
            }),
            ..CallocFinding::from(l.analysis.clone())
        }
    }
}

impl From<CallocAnalysis> for CallocFinding {
    fn from(a: CallocAnalysis) -> CallocFinding {
        CallocFinding {
            verdict: a.verdict,
            function: a.function,
            address: Some(a.address),
            reason: a.reason,
            chain: a.chain,
            chain_links: a.chain_links,
            evidence: a.evidence,
            location: Some(CallocLocation {
                by: LocatedBy::Symbol,
                confidence: Confidence::High,
                identified_as: Identified::Calloc,
                evidence: Vec::new(),
            }),
        }
    }
}

/// The search for calloc in a statically linked program without symbols.
#[derive(Debug, Clone)]
pub struct CallocSearch {
    pub outcome: badalloc_calloc::locate::SearchOutcome,
    /// One sentence: what was found, or why not.
    pub detail: String,
    /// Candidate entries considered, and probed for calloc's shape.
    pub candidates: u64,
    pub probed: u64,
    /// Functions with part of calloc's shape, each analysed.
    pub calloc_like: Vec<CallocFinding>,
}

impl CallocSearch {
    /// The search by behaviour (what it took for calloc goes to `static_calloc`).
    pub fn of(s: &badalloc_calloc::locate::Search) -> CallocSearch {
        CallocSearch {
            outcome: s.outcome,
            detail: s.detail.clone(),
            candidates: s.candidates as u64,
            probed: s.probed as u64,
            calloc_like: s
                .calloc_like
                .iter()
                .map(|l| CallocFinding::located(l, LocatedBy::Behaviour))
                .collect(),
        }
    }
}

/// One ELF file of the target.
#[derive(Debug, Clone)]
pub struct Binary {
    pub path: String,
    pub arch: String,
    /// `executable`, `shared-object`, `relocatable`, ...
    pub elf_type: String,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
    /// The libc it links (`libc.so.3`...), `static`, or none.
    pub libc: Option<String>,
    pub qnx: bool,
    pub imports_calloc: bool,
    pub imports_malloc: bool,
    pub imports_realloc: bool,
    /// A statically linked copy of calloc in this file, analysed.
    pub static_calloc: Option<CallocFinding>,
    /// Imports the socket API (network-facing).
    pub network: bool,
    pub network_imports: Vec<String>,
    /// Statically linked and stripped: a copy of calloc inside cannot be located by symbol.
    pub stripped_static: bool,
    /// For a stripped static program: the search for calloc by behaviour and by known code.
    pub calloc_search: Option<CallocSearch>,
    /// Segments whose recorded file offset disagrees with their address.
    pub located_by_address: Vec<LocatedByAddress>,
    /// SHA-256 of the file (lowercase hex).
    pub sha256: Option<String>,
}

/// A segment read at its address instead of its recorded file offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedByAddress {
    /// `PT_DYNAMIC`, `PT_INTERP` or `PT_NOTE`.
    pub segment: String,
    /// Its virtual address, `"0x..."`.
    pub address: String,
    /// The file offset its program header records.
    pub recorded_offset: u64,
    /// The file offset its address maps to through the PT_LOAD segment: where it was read.
    pub offset_used: u64,
}

/// An image found (opened, or recognised and not opened).
#[derive(Debug, Clone)]
pub struct Image {
    /// Virtual path of the image (`fw.tar.gz!/boot/qnx.ifs`; `dump.bin@0x40000` when carved).
    pub path: String,
    pub kind: ImageKind,
    /// Offset in the enclosing file where it was carved, for images found inside raw dumps.
    pub offset: Option<u64>,
    pub entries: u64,
    /// Header facts, checksums (valid or not), compression, byte order.
    pub notes: Vec<ImageNote>,
    /// The IFS boot script, decoded to text lines (empty for other kinds).
    pub boot_script: Vec<String>,
    /// How much of the image was read.
    pub state: ImageState,
    /// Files of this image whose bytes are those of a file examined before in it: reported
    /// here, not examined again. At most `scan::MAX_SAME_CONTENT_LISTED`.
    pub same_content: Vec<SameContent>,
}

impl Image {
    /// The first note that says what is damaged, for an image not read in full.
    pub fn damage(&self) -> Option<&ImageNote> {
        if self.state == ImageState::Complete {
            return None;
        }
        self.notes.iter().find(|n| n.kind.is_damage())
    }
}

/// A file with the same bytes as another file of the same image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SameContent {
    /// Virtual path of the file not examined again.
    pub path: String,
    /// Virtual path of the file examined, whose findings stand for both.
    pub same_as: String,
}

/// A fact about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageNote {
    pub kind: NoteKind,
    pub detail: String,
    pub offset: Option<u64>,
}

/// A symbolic link (recorded, never followed).
#[derive(Debug, Clone)]
pub struct Symlink {
    pub path: String,
    pub target: String,
}

/// A file, image or entry that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub path: String,
    pub offset: Option<u64>,
    pub kind: ErrorKind,
    pub message: String,
}

/// What a scan of a target read.
#[derive(Debug, Clone, Default)]
pub struct ScanStats {
    pub files: u64,
    pub bytes: u64,
    pub elf_files: u64,
    pub skipped: u64,
    /// Files examined inside images.
    pub image_files: u64,
    /// Images reported from an earlier byte-identical copy instead of being decoded again
    /// (`image_memo`). Not in the report: with several workers, which copy comes first
    /// depends on timing, and the report does not.
    pub reused_images: u64,
    /// Files read from disk that are not ELF, hold no image and are not text or empty:
    /// bytes of an unknown (maybe encrypted) format. Classification uses it (rule
    /// NOT-FIRMWARE).
    pub opaque_files: u64,
}

/// How a binary reaches a calloc that is unchecked, or not verified checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallocReach {
    /// It carries its own copy, without an overflow test.
    StaticCopyUnchecked,
    /// It imports calloc from a QNX C library whose calloc is unchecked.
    ImportsUnchecked,
    /// It imports calloc from a C library whose calloc could not be verified.
    ImportsUnverified,
}

impl CallocReach {
    /// The report's name (`exposure[].calloc`).
    pub fn as_str(self) -> &'static str {
        match self {
            CallocReach::StaticCopyUnchecked => "static-copy-unchecked",
            CallocReach::ImportsUnchecked => "imports-unchecked",
            CallocReach::ImportsUnverified => "imports-unverified",
        }
    }
}

/// One binary ranked by exposure (the report's `exposure` entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub path: String,
    /// 0..=4: one point each for reaching calloc, network-facing, started at boot, named
    /// service.
    pub score: u8,
    pub reach: Option<CallocReach>,
    pub network: bool,
    /// Where it is started at boot (script path), if found.
    pub started_by: Option<String>,
    pub named_service: bool,
}
