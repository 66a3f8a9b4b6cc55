//! The enums of the model, each with the name the report writes for it (`as_str`) and,
//! where a report is read back, the way back (`from_name`).

use badalloc_formats::ContainerKind;

/// What a target (a PATH of the command line) is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TargetKind {
    Directory,
    /// One ELF file.
    Elf,
    /// One file that is neither ELF nor an image.
    #[default]
    File,
    /// One file holding images carved from inside it (a flash or disk dump).
    RawDump,
    /// One file that is an image.
    Image(ContainerKind),
    /// The path could not be read at all.
    Unreadable,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Directory => "directory",
            TargetKind::Elf => "elf",
            TargetKind::File => "file",
            TargetKind::RawDump => "raw-dump",
            TargetKind::Image(k) => k.name(),
            TargetKind::Unreadable => "unreadable",
        }
    }

    /// The kind [`TargetKind::as_str`] names.
    pub fn from_name(name: &str) -> Option<TargetKind> {
        Some(match name {
            "directory" => TargetKind::Directory,
            "elf" => TargetKind::Elf,
            "file" => TargetKind::File,
            "raw-dump" => TargetKind::RawDump,
            "unreadable" => TargetKind::Unreadable,
            _ => TargetKind::Image(ContainerKind::from_name(name)?),
        })
    }
}

/// What an image entry of a report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Container(ContainerKind),
    /// The bytes of a device not read (past the read bound, or after a read error).
    Device,
    /// The bytes of a file on disk not read as they were (it shrank during the scan).
    File,
}

impl ImageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Container(k) => k.name(),
            ImageKind::Device => "device",
            ImageKind::File => "file",
        }
    }

    /// The container format, for an image that is one.
    pub fn container(self) -> Option<ContainerKind> {
        match self {
            ImageKind::Container(k) => Some(k),
            ImageKind::Device | ImageKind::File => None,
        }
    }
}

/// The operating system family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Qnx,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Qnx => "qnx",
        }
    }

    pub fn from_name(name: &str) -> Option<Family> {
        (name == Family::Qnx.as_str()).then_some(Family::Qnx)
    }
}

/// What a piece of release evidence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvidenceKind {
    /// The kernel's release string.
    ProcntoRelease,
    /// A `QNX_info` section.
    QnxInfo,
    /// The SONAME of a C library (a release series).
    LibcSoname,
    /// A QNX runtime linker as interpreter.
    Interpreter,
    /// A QNX compiler target in `.comment`.
    Compiler,
    /// An ELF note named "QNX".
    QnxNote,
    /// Neutrino kernel calls in the dynamic symbols.
    KernelCalls,
    /// The lowest release whose ABI the files use.
    AbiFloor,
    /// An image format only QNX writes.
    ImageFormat,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::ProcntoRelease => "procnto-release",
            EvidenceKind::QnxInfo => "qnx-info",
            EvidenceKind::LibcSoname => "libc-soname",
            EvidenceKind::Interpreter => "interpreter",
            EvidenceKind::Compiler => "compiler",
            EvidenceKind::QnxNote => "qnx-note",
            EvidenceKind::KernelCalls => "kernel-calls",
            EvidenceKind::AbiFloor => "abi-floor",
            EvidenceKind::ImageFormat => "image-format",
        }
    }
}

/// What an image note says. The container readers name their notes (`checksum`,
/// `compression`, ...); the kinds the audit decides on have their own variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NoteKind {
    /// Decoding stopped here: the rest of the image is lost.
    Damage,
    /// An entry or structure could not be read.
    Error,
    /// The image ends before its header says it does.
    Truncated,
    /// The IFS boot script (reported as the image's `boot_script` lines).
    BootScript,
    /// How many more files have the bytes of one examined than are listed.
    SameContent,
    /// Any other fact a reader reports (`checksum`, `compression`, `byte-order`...).
    Other(String),
}

impl NoteKind {
    /// The kind of a container reader's note, by its name.
    pub fn from_name(name: &str) -> NoteKind {
        match name {
            "damage" => NoteKind::Damage,
            "error" => NoteKind::Error,
            "truncated" => NoteKind::Truncated,
            "boot-script" => NoteKind::BootScript,
            "same-content" => NoteKind::SameContent,
            other => NoteKind::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            NoteKind::Damage => "damage",
            NoteKind::Error => "error",
            NoteKind::Truncated => "truncated",
            NoteKind::BootScript => "boot-script",
            NoteKind::SameContent => "same-content",
            NoteKind::Other(name) => name,
        }
    }

    /// Whether the note says part of the image is lost.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            NoteKind::Damage | NoteKind::Error | NoteKind::Truncated
        )
    }
}

/// How a calloc was located.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocatedBy {
    /// By its symbol.
    Symbol,
    /// In a program without symbols: by the shape of its code (multiply, allocation, null
    /// test, zero fill).
    Behaviour,
    /// In a program without symbols: its code matches a named calloc's.
    Signature,
}

impl LocatedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            LocatedBy::Symbol => "symbol",
            LocatedBy::Behaviour => "behaviour",
            LocatedBy::Signature => "signature",
        }
    }

    pub fn from_name(name: &str) -> Option<LocatedBy> {
        [
            LocatedBy::Symbol,
            LocatedBy::Behaviour,
            LocatedBy::Signature,
        ]
        .into_iter()
        .find(|b| b.as_str() == name)
    }
}

/// What a located function is taken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identified {
    /// The C library's calloc.
    Calloc,
    /// A function with part of calloc's shape (or one of several with all of it), shown
    /// for its overflow but never taken for the C library's calloc.
    CallocLike,
}

impl Identified {
    pub fn as_str(self) -> &'static str {
        match self {
            Identified::Calloc => "calloc",
            Identified::CallocLike => "calloc-like",
        }
    }
}

/// How sure the audit is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    #[default]
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    pub fn from_name(name: &str) -> Option<Confidence> {
        [Confidence::Low, Confidence::Medium, Confidence::High]
            .into_iter()
            .find(|c| c.as_str() == name)
    }
}

/// How much of an image was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImageState {
    /// Opened, and every entry read.
    #[default]
    Complete,
    /// Opened, but some of it is lost: decoding stopped at damage, a directory or an entry
    /// could not be read. What was read was examined.
    Partial,
    /// Recognised by its signature but not opened (damaged, nested too deep, over the
    /// memory budget): nothing inside was examined.
    Unreadable,
}

impl ImageState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageState::Complete => "complete",
            ImageState::Partial => "partial",
            ImageState::Unreadable => "unreadable",
        }
    }

    pub fn from_name(name: &str) -> Option<ImageState> {
        [
            ImageState::Complete,
            ImageState::Partial,
            ImageState::Unreadable,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}
