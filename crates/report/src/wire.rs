//! The wire types of the report: the JSON contract of `docs/json-report.md` (schema v1).
//!
//! Every renderer is a pure function of [`Report`]. Field names and meanings are a contract:
//! later versions add fields, never rename or remove them. The audit's own model
//! (`badalloc_audit_core::model`) is converted into these once, by value (`convert.rs`).

use serde::{Deserialize, Serialize};

use crate::wire_name;
pub use badalloc_audit_core::model::{Confidence, ImageState, LocatedBy, NoteKind, TargetKind};
pub use badalloc_audit_core::ErrorKind;

/// The kind of an error read from a report written before `errors[].kind` existed.
fn unknown_error_kind() -> ErrorKind {
    ErrorKind::Unreadable
}

pub use badalloc_audit_core::model::CallocVerdict;

/// A function of a calloc's chain and its address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    pub name: String,
    pub address: String,
}

/// One decisive instruction (or one line of a listing): its address and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceLine {
    pub address: String,
    pub text: String,
}
pub use badalloc_audit_core::verdict::Verdict;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub targets: Vec<TargetReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl TargetReport {
    /// What the target is, by the name its report gives (none for a name this version does
    /// not know).
    pub fn target_kind(&self) -> Option<TargetKind> {
        TargetKind::from_name(&self.kind)
    }
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            // The tool, not this library crate (issue 18 moved the model out of the binary's package).
            name: "badalloc-audit".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetReport {
    /// The PATH as given on the command line.
    pub path: String,
    /// `directory`, `elf`, `file`, or an image kind.
    pub kind: String,
    #[serde(with = "wire_name")]
    pub verdict: Verdict,
    /// Why the verdict is what it is, one sentence per rule that fired (most decisive first).
    pub reasons: Vec<String>,
    pub os: OsReport,
    pub libc: Vec<LibcReport>,
    pub binaries: Vec<BinaryReport>,
    /// Symbolic links found (recorded, never followed).
    pub symlinks: Vec<SymlinkReport>,
    /// Images opened (boot images, file systems, archives), nested ones included.
    #[serde(default)]
    pub images: Vec<ImageReport>,
    pub errors: Vec<ErrorReport>,
    pub stats: ScanStats,
    /// For affected and inconclusive targets: binaries ranked by exposure, most exposed first.
    #[serde(default)]
    pub exposure: Vec<ExposureReport>,
    /// For affected and inconclusive targets: what to do until the patch ships.
    #[serde(default)]
    pub mitigations: Vec<String>,
}

/// A binary of an affected or inconclusive target, ranked by exposure (`surface::rank`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureReport {
    pub path: String,
    /// 0..=4: one point each for unchecked calloc, network-facing, started at boot, named service.
    pub score: u8,
    /// How it reaches calloc: `static-copy-unchecked`, `imports-unchecked`, `imports-unverified`, or null.
    pub calloc: Option<String>,
    pub network: bool,
    /// Where it is started at boot (script path), if found.
    pub started_by: Option<String>,
    pub named_service: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OsReport {
    /// `"qnx"` when any QNX marker was found, else null.
    pub family: Option<String>,
    /// Exact release `X.Y.Z`, when a source gives one.
    pub release: Option<String>,
    /// Release series when only a range is known (e.g. `6.4-6.6` from `libc.so.3`).
    pub release_range: Option<String>,
    #[serde(with = "wire_name")]
    pub confidence: Confidence,
    pub evidence: Vec<EvidenceItem>,
    /// Sources that disagree, and which one was preferred.
    pub conflicts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// Path inside the target of the file that carries it.
    pub source: String,
    /// `procnto-release`, `qnx-info`, `libc-soname`, `interpreter`, `compiler`, `qnx-note`.
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LibcReport {
    pub path: String,
    pub soname: Option<String>,
    pub arch: String,
    /// `QNX_info` VERSION, when present.
    pub version: Option<String>,
    pub qnx: bool,
    pub calloc: CallocReport,
    /// SHA-256 of the file (lowercase hex); null in reports made before it was recorded.
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallocReport {
    #[serde(with = "wire_name")]
    pub verdict: CallocVerdict,
    /// The function that computes the size (last link of the chain).
    pub function: Option<String>,
    /// Address of `calloc`.
    pub address: Option<String>,
    pub reason: String,
    /// Functions followed from `calloc` to the one that multiplies.
    pub chain: Vec<String>,
    /// The same chain with each function's address.
    #[serde(default)]
    pub chain_links: Vec<ChainLink>,
    /// The decisive instructions.
    pub evidence: Vec<EvidenceLine>,
    /// How it was found, and how sure the tool is that it is the C library's calloc; null
    /// for a C library that exports none.
    #[serde(default)]
    pub location: Option<CallocLocation>,
}

/// How a calloc was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallocLocation {
    /// `symbol`, or, in a program without one, `behaviour` or `signature`.
    pub by: String,
    /// `high` for a symbol, `medium` when located without one, `low` for a calloc-like
    /// function.
    #[serde(with = "wire_name")]
    pub confidence: Confidence,
    /// `calloc`, or `calloc-like`: a function with part of calloc's shape (or one of several
    /// with all of it), shown for its overflow but never taken for the C library's calloc.
    pub identified_as: String,
    /// How it was located without a symbol: the multiply, the allocation, the null test and
    /// the zero-fill seen, or the named calloc whose code it matches.
    pub evidence: Vec<EvidenceLine>,
}

impl CallocReport {
    /// How it was found (`symbol` when the report does not say).
    pub fn located_by(&self) -> &str {
        self.location
            .as_ref()
            .map_or(LocatedBy::Symbol.as_str(), |l| l.by.as_str())
    }

    /// Whether it was located without a symbol (by behaviour or by signature).
    pub fn located_without_symbol(&self) -> bool {
        self.location
            .as_ref()
            .is_some_and(|l| LocatedBy::from_name(&l.by) != Some(LocatedBy::Symbol))
    }

    /// ` (no symbol: located by behaviour at 0x114404, confidence medium)` for a copy found
    /// without a symbol; empty for a named one.
    pub fn located_note(&self) -> String {
        match &self.location {
            Some(l) if self.located_without_symbol() => format!(
                " (no symbol: located by {} at {}, confidence {})",
                l.by,
                self.address.as_deref().unwrap_or("?"),
                l.confidence.as_str()
            ),
            _ => String::new(),
        }
    }
}

/// The search for calloc in a statically linked program without symbols.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallocSearchReport {
    /// `found` (by behaviour or signature), `ambiguous`, `not-found`, `incomplete` (a bound
    /// was hit), `unsupported` (no analysis for the architecture).
    pub outcome: String,
    /// One sentence: what was found, or why not.
    pub detail: String,
    /// Candidate entries considered, and probed for calloc's shape.
    pub candidates: u64,
    pub probed: u64,
    /// Functions with part of calloc's shape, each analysed (`identified_as: calloc-like`).
    pub calloc_like: Vec<CallocReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BinaryReport {
    pub path: String,
    pub arch: String,
    /// `executable`, `shared-object`, `relocatable`, ...
    #[serde(rename = "type")]
    pub elf_type: String,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
    /// The libc it links (`libc.so.3`...), `static`, or null.
    pub libc: Option<String>,
    pub qnx: bool,
    pub imports_calloc: bool,
    pub imports_malloc: bool,
    pub imports_realloc: bool,
    /// A statically linked copy of calloc in this file, analysed; null when it has none.
    pub static_calloc: Option<CallocReport>,
    /// Imports the socket API (network-facing).
    pub network: bool,
    pub network_imports: Vec<String>,
    /// Statically linked and stripped: a copy of calloc inside cannot be located by symbol.
    pub stripped_static: bool,
    /// For a stripped static program: the search for calloc by behaviour and by known code
    /// (what it found is in `static_calloc`; functions with part of calloc's shape here).
    #[serde(default)]
    pub calloc_search: Option<CallocSearchReport>,
    /// Segments (PT_DYNAMIC, PT_INTERP, PT_NOTE) whose recorded file offset disagrees with
    /// their address: read where the address maps, as the loader reads them.
    #[serde(default)]
    pub located_by_address: Vec<LocatedByAddress>,
    /// SHA-256 of the file (lowercase hex); null in reports made before it was recorded.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// A segment read at its address instead of its recorded file offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageReport {
    /// Virtual path of the image (`fw.tar.gz!/boot/qnx.ifs`; `dump.bin@0x40000` when carved).
    pub path: String,
    /// `ifs`, `qnx6`, `qnx4`, `efs`, `etfs`, `tar`, `gzip`; `device` for the bytes of a
    /// device not read (unreadable).
    pub kind: String,
    /// Offset in the enclosing file where it was carved, for images found inside raw dumps.
    pub offset: Option<u64>,
    pub entries: u64,
    /// Header facts, checksums (valid or not), compression, byte order.
    pub notes: Vec<ImageNote>,
    /// The IFS boot script, decoded to text lines (empty for other kinds).
    pub boot_script: Vec<String>,
    /// How much of the image was read; what stopped the rest is in its `damage`, `error`
    /// or `truncated` notes.
    #[serde(default, with = "wire_name")]
    pub state: ImageState,
    /// Files of this image whose bytes are those of a file examined before in it (the same
    /// extent: hard links, entries sharing their data): reported here, not examined again.
    /// At most `scan::MAX_SAME_CONTENT_LISTED`; a `same-content` note counts the others.
    #[serde(default)]
    pub same_content: Vec<SameContent>,
}

/// A file with the same bytes as another file of the same image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SameContent {
    /// Virtual path of the file not examined again.
    pub path: String,
    /// Virtual path of the file examined, whose findings stand for both.
    pub same_as: String,
}

impl ImageReport {
    /// The first note that says what is damaged, for an image not read in full.
    pub fn damage(&self) -> Option<&ImageNote> {
        if self.state == ImageState::Complete {
            return None;
        }
        self.notes
            .iter()
            .find(|n| NoteKind::from_name(&n.kind).is_damage())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageNote {
    pub kind: String,
    pub detail: String,
    pub offset: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SymlinkReport {
    pub path: String,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    pub path: String,
    pub offset: Option<u64>,
    /// What kind of problem: damage (`corrupt`, `truncated`) told apart from a bound of the
    /// tool (`bound-hit`), an input not read (`unreadable`) or not supported (`unsupported`).
    /// A report written before the field existed reads as `unreadable`.
    #[serde(with = "wire_name", default = "unknown_error_kind")]
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScanStats {
    pub files: u64,
    pub bytes: u64,
    pub elf_files: u64,
    pub skipped: u64,
    /// Files examined inside images.
    #[serde(default)]
    pub image_files: u64,
    /// Images reported from an earlier byte-identical copy instead of being decoded again
    /// (`image_memo`). Not in the report: with several workers, which copy comes first
    /// depends on timing, and the report does not.
    #[serde(skip)]
    pub reused_images: u64,
    /// Files read from disk that are not ELF, hold no image and are not text or empty:
    /// bytes of an unknown (maybe encrypted) format. Not in the report; classification
    /// uses it (rule NOT-FIRMWARE).
    #[serde(skip)]
    pub opaque_files: u64,
}
