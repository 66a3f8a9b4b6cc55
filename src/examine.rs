//! Examining one file: an ELF file is read into facts (and its calloc analysed); an image,
//! recognised by its bytes at offset 0 or carved from a raw dump, is opened in memory and its
//! files examined the same way, nested to a bound, under virtual paths (`image!/inside`,
//! `dump@0x40000!/inside`); startup scripts are read for the programs they start.

use std::borrow::Cow;
use std::path::Path;

use crate::container::carve::{self, Layout, Taken};
use crate::container::{self, ifs, ContainerKind, EntryType, Limits};
use crate::content_memo::{ElfExamined, ElfMemo, NameClass, ScanMemo};
use crate::elf::{is_elf, ElfFile};
use crate::facts::{facts_of, hex_of, FileFacts};
use crate::image_memo::{Examined, ImageMemo, Mark};
use crate::report::{CallocReport, ErrorReport, ImageNote, ImageReport, ImageState, SymlinkReport};
use crate::source::read::describe_read_error;
use crate::source::{read_file, Pager};
use crate::surface;

/// How deep images may nest (fw.tar.gz → tar → QNX6 → IFS is four levels). Real firmware
/// nests a few levels; the bound stops a crafted image that contains itself.
pub const MAX_NESTING: usize = 6;

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
pub(crate) struct FileOutcome {
    pub(crate) facts: Vec<FileFacts>,
    pub(crate) errors: Vec<ErrorReport>,
    pub(crate) symlinks: Vec<SymlinkReport>,
    pub(crate) images: Vec<ImageReport>,
    /// Bytes read from disk.
    pub(crate) bytes: u64,
    /// Files examined inside images.
    pub(crate) image_files: u64,
    /// Images reported from the memo.
    pub(crate) reused_images: u64,
    /// Programs started at boot: (program base name, the script that starts it).
    pub(crate) started: Vec<(String, String)>,
    /// What the file at the top is: `elf`, an image kind, `raw-dump` or `file`.
    pub(crate) kind: &'static str,
    /// The file itself could not be read (its error is in `errors`).
    pub(crate) unread: bool,
    /// The file is none of these and not text either (nor empty): bytes of an unknown or
    /// encrypted format, which may be firmware.
    pub(crate) opaque: bool,
}

/// Examine the file at `full`, reported as `rel`; `memo`: the images and ELF files of its
/// scan target already examined.
pub(crate) fn examine_path(rel: &str, full: &Path, memo: &ScanMemo) -> FileOutcome {
    match read_file(full) {
        Ok(bytes) => {
            let on_disk = OnDisk {
                pager: bytes.pager(),
                memo: &memo.images,
                path: full,
            };
            let at = Level {
                depth: 0,
                budget: MAX_EXPANDED_PER_FILE,
                pager: on_disk.pager,
                on_disk: Some(on_disk),
                elves: Some(&memo.elves),
            };
            examine_top(rel, &bytes, &at)
        }
        Err(e) => FileOutcome {
            errors: vec![ErrorReport {
                path: rel.to_string(),
                offset: None,
                message: format!("could not be read: {}", describe_read_error(&e)),
            }],
            unread: true,
            kind: "file",
            ..Default::default()
        },
    }
}

/// Examine one file's bytes: an ELF file is read; an image (recognised by its bytes, at
/// offset 0 or carved from a raw dump) is opened and its files examined the same way, under
/// virtual paths `image!/path/inside`. `budget`: bytes the file's images may hold.
pub(crate) fn examine_bytes(path: &str, data: &[u8], budget: u64) -> FileOutcome {
    let at = Level {
        depth: 0,
        budget,
        pager: Pager::none(),
        on_disk: None,
        elves: None,
    };
    examine_top(path, data, &at)
}

/// What is known of bytes that are a file on disk: its pager (which gives back the pages
/// read so far), its path, and the images of the scan already examined (see `image_memo`).
#[derive(Clone, Copy)]
struct OnDisk<'p> {
    pager: Pager<'p>,
    memo: &'p ImageMemo,
    path: &'p Path,
}

/// Examine the bytes of a file (at the top level `at`).
fn examine_top(path: &str, data: &[u8], at: &Level<'_>) -> FileOutcome {
    let mut out = FileOutcome {
        bytes: data.len() as u64,
        kind: "file",
        ..Default::default()
    };
    out.kind = examine_nested(path, data, at, &mut out);
    out
}

/// Where an examination stands: how deep in nested images, the memory budget left, the
/// pager of the file on disk (its pages are given back as the scan moves on), and, at the
/// top level, the file the bytes are; the ELF files of the scan already examined.
struct Level<'p> {
    depth: usize,
    budget: u64,
    pager: Pager<'p>,
    on_disk: Option<OnDisk<'p>>,
    elves: Option<&'p ElfMemo>,
}

impl Level<'_> {
    fn inner(&self, budget: u64) -> Level<'_> {
        Level {
            depth: self.depth + 1,
            budget,
            pager: self.pager,
            // Bytes inside an image are not the file's: no reuse below the top level.
            on_disk: None,
            elves: self.elves,
        }
    }
}

/// Entries read out of a mapped image between two page releases.
const RELEASE_EVERY: u64 = 32 << 20;

fn examine_nested(path: &str, data: &[u8], at: &Level<'_>, out: &mut FileOutcome) -> &'static str {
    if is_elf(data) {
        examine_elf(path, data, at.elves, out);
        return "elf";
    }
    if surface::is_startup_script(path)
        && data.len() <= surface::MAX_SCRIPT_BYTES
        && container::detect(data).is_none()
    {
        let text = String::from_utf8_lossy(data);
        for prog in surface::programs_started(path, &text) {
            out.started.push((prog, path.to_string()));
        }
        return "file";
    }
    // The image the file starts with, then those carved from outside it, as `ls` lists
    // them (`carve::images_of`).
    let pager = at.pager;
    let layout = carve::images_of(data, &|part| pager.release(part), &mut |offset, kind| {
        let slice = usize::try_from(offset).ok().and_then(|o| data.get(o..));
        match (offset, slice) {
            (0, _) => open_image(path, data, kind, None, at, out),
            (_, Some(slice)) => {
                let vpath = format!("{path}@{offset:#x}");
                open_image(&vpath, slice, kind, Some(offset), at, out)
            }
            (_, None) => Taken::NotOpened,
        }
    });
    if let Some(cut) = layout.cut {
        let message = format!(
            "{} more image signatures from offset {:#x} on were not examined: {} (a crafted \
             or corrupt dump)",
            cut.more,
            cut.first,
            cut.reason()
        );
        let vpath = format!("{path}@{:#x}", cut.first);
        out.images.push(unread_image(
            &vpath,
            cut.kind.name(),
            Some(cut.first),
            &message,
        ));
        out.errors.push(ErrorReport {
            path: path.to_string(),
            offset: Some(cut.first),
            message,
        });
    }
    match layout {
        Layout { carved: 1.., .. } => "raw-dump",
        Layout {
            at_start: Some(kind),
            ..
        } => kind.name(),
        _ => {
            if at.depth == 0 {
                out.opaque = !is_text(data);
            }
            "file"
        }
    }
}

/// Empty, or UTF-8 text without NUL bytes (configuration, scripts, logs): not firmware.
/// Encrypted or compressed bytes have a NUL every few hundred bytes.
fn is_text(data: &[u8]) -> bool {
    memchr::memchr(0, data).is_none() && std::str::from_utf8(data).is_ok()
}

/// An image recognised but not opened: its report entry (state `unreadable`, the reason
/// as a `damage` note).
fn unread_image(path: &str, kind: &str, carved_at: Option<u64>, why: &str) -> ImageReport {
    ImageReport {
        path: path.to_string(),
        kind: kind.to_string(),
        offset: carved_at,
        entries: 0,
        notes: vec![ImageNote {
            kind: "damage".into(),
            detail: why.to_string(),
            offset: None,
        }],
        boot_script: Vec::new(),
        state: ImageState::Unreadable,
    }
}

/// Open an image and examine its entries; says what it claims of `data` when opened.
fn open_image(
    path: &str,
    data: &[u8],
    kind: ContainerKind,
    carved_at: Option<u64>,
    at: &Level<'_>,
    out: &mut FileOutcome,
) -> Taken {
    let (depth, budget) = (at.depth, at.budget);
    if depth >= MAX_NESTING {
        let message = format!(
            "{} image nested deeper than {MAX_NESTING} levels: not opened",
            kind.name()
        );
        out.images
            .push(unread_image(path, kind.name(), carved_at, &message));
        out.errors.push(ErrorReport {
            path: path.to_string(),
            offset: carved_at,
            message,
        });
        return Taken::NotOpened;
    }
    // A block-compressed boot image in a file, seen before (byte for byte), is reported
    // from the memo.
    let memo = match (kind, at.on_disk) {
        (ContainerKind::Ifs, Some(disk)) => ifs::reuse_key(data).map(|key| (key, disk)),
        _ => None,
    };
    if let Some(seen) = memo.as_ref().and_then(|(k, disk)| disk.memo.find(k, data)) {
        seen.apply(out, path, carved_at);
        out.reused_images += 1;
        return Taken::Opened {
            span: Some(seen.extent()),
        };
    }
    let mark = Mark::of(out);
    let limits = Limits {
        max_expanded: container::DEFAULT_MAX_EXPANDED.min(budget),
        ..Limits::default()
    };
    let image = match container::open(data, kind, &limits) {
        Ok(c) => c,
        Err(e) => {
            // A nested image opened with less than the usual cap says so, whatever the
            // error: the budget may be why.
            let why = if budget < container::DEFAULT_MAX_EXPANDED {
                format!(
                    "{} (memory budget of the file: {budget} of {MAX_EXPANDED_PER_FILE} \
                     bytes left)",
                    e.message
                )
            } else {
                e.message
            };
            let mut unread = unread_image(path, kind.name(), carved_at, &why);
            unread.notes[0].offset = e.offset;
            out.images.push(unread);
            out.errors.push(ErrorReport {
                path: path.to_string(),
                offset: e.offset,
                message: format!("{} image: {why}", kind.name()),
            });
            return Taken::NotOpened;
        }
    };
    let mut report = image_report(path, kind, carved_at, image.as_ref());
    // Where decoding stopped is an error of the image too, as where opening failed is.
    for d in report.notes.iter().filter(|n| n.kind == "damage") {
        out.errors.push(ErrorReport {
            path: path.to_string(),
            offset: d.offset,
            message: format!("{} image damaged: {}", kind.name(), d.detail),
        });
    }
    if !report.boot_script.is_empty() {
        let script = format!("{path} boot script");
        for prog in surface::programs_started(&script, &report.boot_script.join("\n")) {
            out.started.push((prog, script.clone()));
        }
    }
    let budget = budget.saturating_sub(image.resident_bytes());
    let mut read_since_release = 0u64;
    for entry in image.entries() {
        // A file system's own bookkeeping (ETFS `.badblks`, `.counts`) is listed, not examined.
        if entry.flags.iter().any(|f| f == container::FS_METADATA_FLAG) {
            continue;
        }
        let vpath = format!("{path}!/{}", entry.path);
        match entry.entry_type {
            EntryType::File => match image.read(entry) {
                Ok(bytes) => {
                    out.image_files += 1;
                    let held = match &bytes {
                        Cow::Owned(v) => v.len() as u64,
                        Cow::Borrowed(_) => 0,
                    };
                    let inner = at.inner(budget.saturating_sub(held));
                    examine_nested(&vpath, &bytes, &inner, out);
                    // Pages of a mapped image read for its entries are given back now and
                    // then (the pager ignores images that are not in the mapped file).
                    read_since_release += bytes.len() as u64;
                    if read_since_release >= RELEASE_EVERY {
                        at.pager.release(data);
                        read_since_release = 0;
                    }
                }
                Err(e) => {
                    // An entry that cannot be read is a part of the image lost.
                    report.state = ImageState::Partial;
                    if !report.notes.iter().any(|n| n.detail == e.message) {
                        report.notes.push(ImageNote {
                            kind: "error".into(),
                            detail: e.message.clone(),
                            offset: e.offset,
                        });
                    }
                    out.errors.push(ErrorReport {
                        path: vpath,
                        offset: e.offset,
                        message: e.message,
                    });
                }
            },
            EntryType::Symlink => out.symlinks.push(SymlinkReport {
                path: vpath,
                target: entry.link_target.clone().unwrap_or_default(),
            }),
            EntryType::Dir | EntryType::Device | EntryType::Fifo | EntryType::Other => {}
        }
    }
    at.pager.release(data);
    let complete = report.state == ImageState::Complete;
    out.images.push(report);
    let deciding = image
        .input_extent()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n <= data.len() && complete);
    if let (Some((key, disk)), Some(len)) = (memo, deciding) {
        let in_file = carved_at.map_or(Some(0), |o| usize::try_from(o).ok());
        if let Some(examined) =
            in_file.and_then(|at| Examined::capture(out, &mark, path, (disk.path, at, len)))
        {
            disk.memo.insert(key, examined);
        }
    }
    Taken::Opened { span: image.span() }
}

/// The report entry of an opened image: its notes (the boot script as lines), and
/// `partial` when the reader says part of it is lost.
fn image_report(
    path: &str,
    kind: ContainerKind,
    carved_at: Option<u64>,
    image: &dyn container::Container,
) -> ImageReport {
    let notes: Vec<ImageNote> = image
        .notes()
        .iter()
        // The IFS reader decodes the boot script into a note: reported once, as lines.
        .filter(|n| n.kind != "boot-script")
        .map(|n| ImageNote {
            kind: n.kind.clone(),
            detail: n.detail.clone(),
            offset: n.offset,
        })
        .collect();
    let damaged = notes
        .iter()
        .any(|n| ImageReport::DAMAGE_NOTES.contains(&n.kind.as_str()));
    ImageReport {
        path: path.to_string(),
        kind: kind.name().to_string(),
        offset: carved_at,
        entries: image.entries().len() as u64,
        notes,
        boot_script: image
            .notes()
            .iter()
            .find(|n| n.kind == "boot-script")
            .map(|n| n.detail.lines().map(str::to_string).collect())
            .unwrap_or_default(),
        state: if damaged {
            ImageState::Partial
        } else {
            ImageState::Complete
        },
    }
}

/// Examine an ELF file: from `memo` when a file of the same bytes (and the same name class)
/// was examined before in the scan.
fn examine_elf(path: &str, data: &[u8], memo: Option<&ElfMemo>, out: &mut FileOutcome) {
    use sha2::{Digest, Sha256};
    // Hashed here, where the bytes are, once per file (CycloneDX hashes, and the memo's key).
    let digest: [u8; 32] = Sha256::digest(data).into();
    let name = NameClass::of(path);
    match memo.and_then(|m| m.find(&digest, name)) {
        Some(seen) => report_elf(path, &seen, out),
        None => {
            let fresh = examine_elf_bytes(path, data, &digest);
            report_elf(path, &fresh, out);
            if let Some(m) = memo {
                m.insert(digest, name, fresh);
            }
        }
    }
}

/// Add what examining an ELF file gave to `out`, as the file at `path`.
fn report_elf(path: &str, examined: &ElfExamined, out: &mut FileOutcome) {
    let error = |e: &crate::FormatError| ErrorReport {
        path: path.to_string(),
        offset: e.offset,
        message: e.message.clone(),
    };
    match examined {
        Ok((facts, calloc_error)) => {
            out.errors.extend(calloc_error.iter().map(error));
            out.errors.extend(facts.warnings.iter().map(error));
            let mut facts = facts.clone();
            facts.path = path.to_string();
            out.facts.push(facts);
        }
        Err(e) => out.errors.push(error(e)),
    }
}

/// Parse an ELF file, analyse its calloc and take its facts (`digest`: its SHA-256).
fn examine_elf_bytes(path: &str, data: &[u8], digest: &[u8; 32]) -> ElfExamined {
    let elf = ElfFile::parse(data)?;
    let (calloc, calloc_error) = match calloc_of(&elf) {
        Ok(c) => (c, None),
        Err(e) => (Some(CallocReport::unknown(&e.message)), Some(e)),
    };
    let mut facts = facts_of(path, &elf, calloc);
    facts.sha256 = Some(hex_of(digest));
    Ok((facts, calloc_error))
}

/// The analysed calloc of a file that defines one; None when it has none.
///
/// The analysis runs third-party instruction decoders over hostile bytes: a panic in one of
/// them (a decoder bug) becomes an error for this file, located at its calloc, and the scan
/// goes on.
fn calloc_of(elf: &ElfFile<'_>) -> Result<Option<CallocReport>, crate::FormatError> {
    match crate::guard::contain(|| crate::calloc::analyze_calloc_brief(elf)) {
        Some(a) => Ok(a.map(CallocReport::from)),
        None => {
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
