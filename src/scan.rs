//! The scan: targets → files → facts → verdict. Files are examined in parallel; each file's
//! bytes are dropped as soon as its facts are taken, so memory stays flat as trees grow.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::classify::{classify, Findings};
use crate::container::{self, ContainerKind, EntryType, Limits};
use crate::elf::{is_elf, ElfFile, ElfType};
use crate::evidence::{self, libc_soname_series};
use crate::facts::{facts_of, FileFacts, QnxMarker};
use crate::report::{
    BinaryReport, CallocReport, ErrorReport, ImageNote, ImageReport, LibcReport, Report, ScanStats,
    SymlinkReport, TargetReport, Tool, Verdict,
};
use crate::source::{read_file, walk, WalkItem};
use crate::surface;

#[derive(Clone, Default)]
pub struct ScanOptions {
    /// Worker threads; `None` = one per core.
    pub jobs: Option<usize>,
    /// Told about progress (the CLI draws a bar from it); `None` = silent.
    pub progress: Option<Arc<dyn Progress>>,
}

/// Receives progress as files are examined, from worker threads.
pub trait Progress: Send + Sync {
    /// A target's file list is known.
    fn target_started(&self, path: &str, files: u64);
    /// One file (of the current target) has been examined.
    fn file_done(&self, bytes: u64);
    fn target_done(&self);
}

/// Scan every target; one report entry per target, in the order given.
pub fn scan(targets: &[PathBuf], options: &ScanOptions) -> Report {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.unwrap_or(0))
        .build();
    let progress = options.progress.as_deref();
    let run = || targets.iter().map(|t| scan_target(t, progress)).collect();
    let targets = match pool {
        Ok(pool) => pool.install(run),
        Err(_) => run(),
    };
    Report {
        schema_version: crate::report::SCHEMA_VERSION,
        tool: Tool::default(),
        targets,
    }
}

/// What examining one file produced.
/// How deep images may nest (fw.tar.gz → tar → QNX6 → IFS is four levels). Real firmware
/// nests a few levels; the bound stops a crafted image that contains itself.
pub const MAX_NESTING: usize = 6;

/// Files smaller than this are not carved for embedded images: the smallest image with a
/// C library in it is far larger, and small files are most of a tree.
const MIN_CARVE_SIZE: usize = 64 * 1024;

/// Memory budget of one file on disk: the bytes decompressed or copied out of its images
/// that are held at once, across all nesting levels (a `.tar.gz` payload, the imagefs
/// decompressed from an IFS inside it, a QNX6 file read out of fragmented blocks...).
///
/// Each image is opened with `max_expanded` = what is left of the budget after everything
/// its ancestors hold (never more than [`container::DEFAULT_MAX_EXPANDED`]), and each entry
/// read out of it is charged before its own contents are examined; an image that would go
/// past the budget is reported as an error at its virtual path and skipped. Two budgets
/// are the most one file can make the scanner hold: the budget itself, plus one entry read
/// that is charged after it is read. 1 GiB lets the largest real boot image (tens of MiB)
/// through many times over, while a crafted nest of bombs cannot multiply
/// `DEFAULT_MAX_EXPANDED` by [`MAX_NESTING`].
pub const MAX_EXPANDED_PER_FILE: u64 = 1 << 30;

/// What examining one file (and everything inside it) produced.
#[derive(Default)]
struct FileOutcome {
    facts: Vec<FileFacts>,
    errors: Vec<ErrorReport>,
    symlinks: Vec<SymlinkReport>,
    images: Vec<ImageReport>,
    /// Bytes read from disk.
    bytes: u64,
    /// Files examined inside images.
    image_files: u64,
    /// Programs started at boot: (program base name, the script that starts it).
    started: Vec<(String, String)>,
    /// What the file at the top is: `elf`, an image kind, `raw-dump` or `file`.
    kind: &'static str,
}

fn scan_target(path: &Path, progress: Option<&dyn Progress>) -> TargetReport {
    let shown = path.display().to_string();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return unreadable(&shown, format!("cannot read {shown}: {e}")),
    };
    let mut symlinks = Vec::new();
    let mut errors = Vec::new();
    let mut stats = ScanStats::default();
    let (kind, outcomes): (String, Vec<FileOutcome>) = if meta.is_dir() {
        let items = walk(path);
        let mut files = Vec::new();
        for item in items {
            match item {
                WalkItem::File { rel, full, size } => files.push((rel, full, size)),
                WalkItem::Symlink { rel, target } => {
                    symlinks.push(SymlinkReport { path: rel, target })
                }
                WalkItem::Skipped { rel, reason } => {
                    stats.skipped += 1;
                    errors.push(ErrorReport {
                        path: rel,
                        offset: None,
                        message: reason,
                    });
                }
            }
        }
        if let Some(p) = progress {
            p.target_started(&shown, files.len() as u64);
        }
        let outcomes = files
            .par_iter()
            .map(|(rel, full, size)| {
                let o = examine_path(rel, full);
                if let Some(p) = progress {
                    p.file_done(*size);
                }
                o
            })
            .collect();
        if let Some(p) = progress {
            p.target_done();
        }
        ("directory".to_string(), outcomes)
    } else if meta.is_file() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| shown.clone());
        let outcome = examine_path(&name, path);
        (outcome.kind.to_string(), vec![outcome])
    } else if meta.file_type().is_symlink() {
        // A symlink given on the command line is the user's explicit choice: follow it once.
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() || m.is_dir() => {
                let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
                let mut r = scan_target(&target, progress);
                r.path = shown;
                return r;
            }
            _ => {
                return unreadable(
                    &shown,
                    format!("{shown} is a symbolic link to nothing readable"),
                )
            }
        }
    } else {
        return unreadable(
            &shown,
            format!("{shown} is not a regular file or directory"),
        );
    };

    finish_target(shown, kind, outcomes, symlinks, errors, stats)
}

/// Scan one file already in memory, named `name` (the path shown in the report and the
/// prefix of every virtual path inside it): the same examination as [`scan`] gives a file on
/// disk, without touching the file system. For fuzzing and for tests that mutate images.
pub fn scan_bytes(name: &str, data: &[u8]) -> TargetReport {
    scan_bytes_with_budget(name, data, MAX_EXPANDED_PER_FILE)
}

/// [`scan_bytes`] with another memory budget than [`MAX_EXPANDED_PER_FILE`] (for tests of
/// the bound).
#[doc(hidden)]
pub fn scan_bytes_with_budget(name: &str, data: &[u8], budget: u64) -> TargetReport {
    let mut outcome = FileOutcome {
        bytes: data.len() as u64,
        kind: "file",
        ..Default::default()
    };
    outcome.kind = examine_nested(name, data, 0, budget, &mut outcome);
    let kind = outcome.kind.to_string();
    finish_target(
        name.to_string(),
        kind,
        vec![outcome],
        Vec::new(),
        Vec::new(),
        ScanStats::default(),
    )
}

/// Merge the outcomes of a target's files into its report.
fn finish_target(
    shown: String,
    kind: String,
    outcomes: Vec<FileOutcome>,
    mut symlinks: Vec<SymlinkReport>,
    mut errors: Vec<ErrorReport>,
    mut stats: ScanStats,
) -> TargetReport {
    let mut facts = Vec::new();
    let mut images = Vec::new();
    let mut started = BTreeMap::new();
    for o in outcomes {
        stats.files += 1;
        stats.bytes += o.bytes;
        stats.image_files += o.image_files;
        stats.elf_files += o.facts.len() as u64;
        errors.extend(o.errors);
        symlinks.extend(o.symlinks);
        images.extend(o.images);
        facts.extend(o.facts);
        for (prog, script) in o.started {
            started.entry(prog).or_insert(script);
        }
    }
    // A single file that could not be read at all is an unreadable PATH.
    if kind == "file" && stats.bytes == 0 && !errors.is_empty() {
        let mut r = unreadable(&shown, String::new());
        r.errors = errors;
        return r;
    }
    let mut t = build_target(shown, kind, facts, symlinks, images, errors, stats);
    if matches!(t.verdict, Verdict::Affected | Verdict::Inconclusive) {
        t.exposure = surface::rank(&t, &started);
        t.mitigations = surface::mitigations(&t, &t.exposure);
    }
    t
}

fn unreadable(shown: &str, message: String) -> TargetReport {
    TargetReport {
        path: shown.to_string(),
        kind: "unreadable".into(),
        verdict: Verdict::Error,
        reasons: vec!["the path could not be read at all".into()],
        os: Default::default(),
        libc: vec![],
        binaries: vec![],
        symlinks: vec![],
        images: vec![],
        exposure: vec![],
        mitigations: vec![],
        errors: if message.is_empty() {
            vec![]
        } else {
            vec![ErrorReport {
                path: shown.to_string(),
                offset: None,
                message,
            }]
        },
        stats: ScanStats::default(),
    }
}

fn examine_path(rel: &str, full: &Path) -> FileOutcome {
    match read_file(full) {
        Ok(bytes) => examine_bytes(rel, &bytes),
        Err(e) => FileOutcome {
            errors: vec![ErrorReport {
                path: rel.to_string(),
                offset: None,
                message: format!("cannot read: {e}"),
            }],
            ..Default::default()
        },
    }
}

/// Examine one file's bytes: an ELF file is read; an image (recognised by its bytes, at
/// offset 0 or carved from a raw dump) is opened and its files examined the same way, under
/// virtual paths `image!/path/inside`.
fn examine_bytes(path: &str, data: &[u8]) -> FileOutcome {
    let mut out = FileOutcome {
        bytes: data.len() as u64,
        kind: "file",
        ..Default::default()
    };
    out.kind = examine_nested(path, data, 0, MAX_EXPANDED_PER_FILE, &mut out);
    out
}

fn examine_nested(
    path: &str,
    data: &[u8],
    depth: usize,
    budget: u64,
    out: &mut FileOutcome,
) -> &'static str {
    if is_elf(data) {
        examine_elf(path, data, out);
        return "elf";
    }
    if let Some(kind) = container::detect(data) {
        open_image(path, data, kind, None, depth, budget, out);
        return kind.name();
    }
    if surface::is_startup_script(path) && data.len() <= surface::MAX_SCRIPT_BYTES {
        let text = String::from_utf8_lossy(data);
        for prog in surface::programs_started(path, &text) {
            out.started.push((prog, path.to_string()));
        }
        return "file";
    }
    if data.len() >= MIN_CARVE_SIZE {
        let found = container::carve(data);
        // A file system spans its partition: hits inside it (its .boot IFS) are reached
        // through its own entries, so they are skipped here until the next file system.
        let fs_starts: Vec<u64> = found
            .iter()
            .filter(|(_, k)| matches!(k, ContainerKind::Qnx4 | ContainerKind::Qnx6))
            .map(|(o, _)| *o)
            .collect();
        let mut opened = false;
        let mut covered_until = 0u64;
        for (offset, kind) in found {
            let is_fs = matches!(kind, ContainerKind::Qnx4 | ContainerKind::Qnx6);
            if offset < covered_until && !is_fs {
                continue;
            }
            let Some(slice) = usize::try_from(offset).ok().and_then(|o| data.get(o..)) else {
                continue;
            };
            let vpath = format!("{path}@{offset:#x}");
            if open_image(&vpath, slice, kind, Some(offset), depth, budget, out) {
                opened = true;
                if is_fs {
                    covered_until = fs_starts
                        .iter()
                        .copied()
                        .find(|&o| o > offset)
                        .unwrap_or(u64::MAX);
                }
            }
        }
        if opened {
            return "raw-dump";
        }
    }
    "file"
}

/// Open an image and examine its entries; false when it could not be opened.
fn open_image(
    path: &str,
    data: &[u8],
    kind: ContainerKind,
    carved_at: Option<u64>,
    depth: usize,
    budget: u64,
    out: &mut FileOutcome,
) -> bool {
    if depth >= MAX_NESTING {
        out.errors.push(ErrorReport {
            path: path.to_string(),
            offset: carved_at,
            message: format!(
                "{} image nested deeper than {MAX_NESTING} levels: not opened",
                kind.name()
            ),
        });
        return false;
    }
    let limits = Limits {
        max_expanded: container::DEFAULT_MAX_EXPANDED.min(budget),
        ..Limits::default()
    };
    let image = match container::open(data, kind, &limits) {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(ErrorReport {
                path: path.to_string(),
                offset: e.offset,
                message: if budget < container::DEFAULT_MAX_EXPANDED && e.message.contains("exceed")
                {
                    format!(
                        "{} image: {} (memory budget of the file: {budget} of \
                         {MAX_EXPANDED_PER_FILE} bytes left)",
                        kind.name(),
                        e.message
                    )
                } else {
                    format!("{} image: {}", kind.name(), e.message)
                },
            });
            return false;
        }
    };
    let mut report = ImageReport {
        path: path.to_string(),
        kind: kind.name().to_string(),
        offset: carved_at,
        entries: image.entries().len() as u64,
        notes: image
            .notes()
            .iter()
            .map(|n| ImageNote {
                kind: n.kind.clone(),
                detail: n.detail.clone(),
                offset: n.offset,
            })
            .collect(),
        boot_script: Vec::new(),
    };
    let budget = budget.saturating_sub(image.resident_bytes());
    for entry in image.entries() {
        let vpath = format!("{path}!/{}", entry.path);
        match entry.entry_type {
            EntryType::File => match image.read(entry) {
                Ok(bytes) => {
                    out.image_files += 1;
                    if entry.flags.iter().any(|f| f == "boot-script") {
                        report.boot_script = container::ifs::decode_script(&bytes);
                        let script = format!("{path} boot script");
                        for prog in
                            surface::programs_started(&script, &report.boot_script.join("\n"))
                        {
                            out.started.push((prog, script.clone()));
                        }
                    }
                    let held = match &bytes {
                        Cow::Owned(v) => v.len() as u64,
                        Cow::Borrowed(_) => 0,
                    };
                    examine_nested(&vpath, &bytes, depth + 1, budget.saturating_sub(held), out);
                }
                Err(e) => out.errors.push(ErrorReport {
                    path: vpath,
                    offset: e.offset,
                    message: e.message,
                }),
            },
            EntryType::Symlink => out.symlinks.push(SymlinkReport {
                path: vpath,
                target: entry.link_target.clone().unwrap_or_default(),
            }),
            EntryType::Dir | EntryType::Device | EntryType::Fifo | EntryType::Other => {}
        }
    }
    out.images.push(report);
    true
}

fn examine_elf(path: &str, data: &[u8], out: &mut FileOutcome) {
    match ElfFile::parse(data) {
        Ok(elf) => {
            let calloc = match calloc_of(&elf) {
                Ok(c) => c,
                Err(e) => {
                    out.errors.push(ErrorReport {
                        path: path.to_string(),
                        offset: e.offset,
                        message: e.message.clone(),
                    });
                    Some(CallocReport::unknown(&e.message))
                }
            };
            let facts = facts_of(path, &elf, calloc);
            out.errors
                .extend(facts.warnings.iter().map(|w| ErrorReport {
                    path: path.to_string(),
                    offset: w.offset,
                    message: w.message.clone(),
                }));
            out.facts.push(facts);
        }
        Err(e) => out.errors.push(ErrorReport {
            path: path.to_string(),
            offset: e.offset,
            message: e.message,
        }),
    }
}

/// The analysed calloc of a file that defines one; None when it has none.
///
/// The analysis runs third-party instruction decoders over hostile bytes: a panic in one of
/// them (a decoder bug) becomes an error for this file, located at its calloc, and the scan
/// goes on.
fn calloc_of(elf: &ElfFile<'_>) -> Result<Option<CallocReport>, crate::FormatError> {
    let analysis = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::calloc::analyze_calloc(elf)
    }));
    match analysis {
        Ok(a) => Ok(a.map(CallocReport::from)),
        Err(_) => {
            let offset = crate::calloc::locate_calloc(elf)
                .and_then(|s| elf.bytes_at(s.addr & !1))
                .and_then(|b| (b.as_ptr() as usize).checked_sub(elf.data.as_ptr() as usize))
                .map(|o| o as u64);
            Err(crate::FormatError {
                offset,
                message: "calloc analysis aborted: the machine-code decoder failed on this \
                          code (internal panic)"
                    .into(),
            })
        }
    }
}

fn build_target(
    path: String,
    kind: String,
    facts: Vec<FileFacts>,
    symlinks: Vec<SymlinkReport>,
    images: Vec<ImageReport>,
    errors: Vec<ErrorReport>,
    stats: ScanStats,
) -> TargetReport {
    let os = evidence::assess(&facts);
    // A C library counts as QNX's when it carries a marker itself or a binary that uses QNX's
    // runtime linker needs it (glibc's libc.so.6 is neither).
    let qnx_needed: Vec<&str> = facts
        .iter()
        .filter(|f| {
            f.markers
                .iter()
                .any(|m| matches!(m, QnxMarker::Interpreter(_)))
        })
        .flat_map(|f| f.needed.iter().map(String::as_str))
        .collect();
    let libc: Vec<LibcReport> = facts
        .iter()
        .filter(|f| f.is_libc)
        .map(|f| {
            let name = f
                .soname
                .clone()
                .unwrap_or_else(|| file_name(&f.path).to_string());
            let qnx = f.is_qnx()
                || (qnx_needed.contains(&name.as_str()) && libc_soname_series(&name).is_some());
            LibcReport {
                path: f.path.clone(),
                soname: f.soname.clone(),
                arch: f.arch.clone(),
                version: f
                    .qnx_info
                    .iter()
                    .find(|(k, _)| k == "VERSION")
                    .map(|(_, v)| v.clone()),
                qnx,
                calloc: f
                    .calloc
                    .clone()
                    .unwrap_or_else(|| CallocReport::unknown("this C library exports no calloc")),
            }
        })
        .collect();
    let binaries: Vec<BinaryReport> = facts.iter().map(binary_report).collect();
    let class = classify(&Findings {
        os: &os,
        libc: &libc,
        binaries: &binaries,
        elf_files: stats.elf_files,
    });
    TargetReport {
        path,
        kind,
        verdict: class.verdict,
        reasons: class.reasons,
        os: os.report,
        libc,
        binaries,
        symlinks,
        images,
        errors,
        stats,
        exposure: vec![],
        mitigations: vec![],
    }
}

fn binary_report(f: &FileFacts) -> BinaryReport {
    BinaryReport {
        path: f.path.clone(),
        arch: f.arch.clone(),
        elf_type: elf_type_name(f.elf_type).to_string(),
        interpreter: f.interpreter.clone(),
        needed: f.needed.clone(),
        libc: f.linked_libc(),
        qnx: f.is_qnx(),
        imports_calloc: f.imports_calloc,
        imports_malloc: f.imports_malloc,
        imports_realloc: f.imports_realloc,
        // A libc's own calloc is reported under `libc`; every other definition is a static copy.
        static_calloc: if f.is_libc { None } else { f.calloc.clone() },
        network: !f.network_imports.is_empty(),
        network_imports: f.network_imports.clone(),
        stripped_static: f.is_static && !f.has_symtab && f.elf_type == ElfType::Executable,
    }
}

fn elf_type_name(t: ElfType) -> &'static str {
    match t {
        ElfType::Relocatable => "relocatable",
        ElfType::Executable => "executable",
        ElfType::SharedObject => "shared-object",
        ElfType::Core => "core",
        ElfType::Other(_) => "other",
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '!']).next().unwrap_or(path)
}
