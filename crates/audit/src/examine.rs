//! Examining one file: an ELF file is read into facts (and its calloc analysed); an image,
//! recognised by its bytes at offset 0 or carved from a raw dump, is opened in memory and its
//! files examined the same way, nested to a bound, under virtual paths (`image!/inside`,
//! `dump@0x40000!/inside`); startup scripts are read for the programs they start.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use crate::content_memo::{ElfExamined, ElfMemo, NameClass, ScanMemo};
use crate::facts::{facts_of, hex_of};
use crate::image_memo::{Examined, ImageMemo, Mark};
use crate::model::{
    CallocFinding, Image, ImageKind, ImageNote, ImageState, NoteKind, SameContent, ScanError,
    Symlink, TargetKind,
};
use crate::outcome::FileOutcome;
use crate::source::read::{describe_read_error, Shrunk};
use crate::source::read::{open_file, Input, WindowedFile, MAX_IMAGE_READ, WINDOW, WINDOW_OVERLAP};
use crate::source::Pager;
use crate::surface;
use crate::ErrorKind;
use badalloc_elf::{is_elf, ElfFile};
use badalloc_formats::carve::{self, Layout, Taken};
use badalloc_formats::work_budget::{
    FileWork, ScanWork, MAX_EXTRA_WORK_PER_FILE, MAX_EXTRA_WORK_PER_SCAN, WORK_PER_INPUT_BYTE,
};
use badalloc_formats::{ifs, Container, ContainerKind, Entry, EntryType, Limits, Loc};

/// How deep images may nest (fw.tar.gz → tar → QNX6 → IFS is four levels). Real firmware
/// nests a few levels; the bound stops a crafted image that contains itself.
pub const MAX_NESTING: usize = 6;

/// Memory budget of one file on disk: the bytes decompressed or copied out of its images
/// that are held at once, across all nesting levels (a `.tar.gz` payload, the imagefs
/// decompressed from an IFS inside it, a QNX6 file read out of fragmented blocks...).
///
/// Each image is opened with `max_expanded` = what is left of the budget after everything
/// its ancestors hold (never more than [`badalloc_formats::DEFAULT_MAX_EXPANDED`]), and each entry
/// read out of it is charged before its own contents are examined; an image that would go
/// past the budget is reported as an error at its virtual path and skipped. Two budgets
/// are the most one file can make the scanner hold: the budget itself, plus one entry read
/// that is charged after it is read. 1 GiB lets the largest real boot image (tens of MiB)
/// through many times over, while a crafted nest of bombs cannot multiply
/// `DEFAULT_MAX_EXPANDED` by [`MAX_NESTING`].
pub const MAX_EXPANDED_PER_FILE: u64 = 1 << 30;

/// Files of one image listed in its `same_content` (files with the bytes of a file examined
/// before); a note counts the others. Hard links in real images are a few dozen; a crafted
/// image of 400,000 entries on one extent would otherwise give a report of tens of MB.
pub const MAX_SAME_CONTENT_LISTED: usize = 10_000;

/// Errors listed for reading the files of one image (extents past its end...); one more
/// error counts the others.
pub const MAX_ENTRY_ERRORS_LISTED: usize = 1_000;

/// Examine the file at `full`, reported as `rel`; `memo`: the images and ELF files of its
/// scan target already examined; `work`: the extra work the files of the target may still do.
pub(crate) fn examine_path(
    rel: &str,
    full: &Path,
    memo: &ScanMemo,
    work: &ScanWork,
    defer: bool,
) -> FileOutcome {
    match open_file(full) {
        Ok(Input::Windowed(file)) => examine_in_windows(rel, &file, work),
        Ok(Input::Bytes(bytes)) => {
            let on_disk = OnDisk {
                pager: bytes.pager(),
                memo: &memo.images,
                path: full,
                defer,
            };
            let budgets = (MAX_EXPANDED_PER_FILE, MAX_EXTRA_WORK_PER_FILE);
            let elves = Some(&memo.elves);
            let out = examine_bytes_on_disk(rel, &bytes, budgets, work, Some(on_disk), elves);
            match bytes.shrunk() {
                Some(shrunk) => changed_during_the_scan(rel, &shrunk, out.bytes),
                None => out,
            }
        }
        Err(e) => FileOutcome {
            errors: vec![ScanError {
                path: rel.to_string(),
                offset: None,
                kind: ErrorKind::Unreadable,
                message: format!("could not be read: {}", describe_read_error(&e)),
            }],
            unread: true,
            kind: TargetKind::File,
            ..Default::default()
        },
    }
}

/// The outcome of a mapped file that shrank while it was examined: what was found in it is
/// dropped (pages past its new end read as zeros, which must never pass for an all-clear),
/// and it is reported as a file that could not be read (error kind `truncated`), with the
/// bytes from where it changed as an image that could not be read, so that the verdict of
/// its target stays open (rule DAMAGED-IMAGE), as for a device read only in part.
fn changed_during_the_scan(rel: &str, shrunk: &Shrunk, bytes: u64) -> FileOutcome {
    let (offset, reason) = (shrunk.offset(), shrunk.reason());
    let mut out = FileOutcome {
        bytes,
        unread: true,
        kind: TargetKind::File,
        ..Default::default()
    };
    let error = (
        ErrorKind::Truncated,
        format!("could not be read: {reason}"),
        Some(reason),
    );
    report_unread(rel, offset, ImageKind::File, error, &mut out);
    out
}

/// Examine one file's bytes: an ELF file is read; an image (recognised by its bytes, at
/// offset 0 or carved from a raw dump) is opened and its files examined the same way, under
/// virtual paths `image!/path/inside`. `budget`: bytes the file's images may hold;
/// `extra_work`: work it may do beyond its own share (see `work_budget`).
pub(crate) fn examine_bytes(path: &str, data: &[u8], budget: u64, extra_work: u64) -> FileOutcome {
    examine_bytes_on_disk(
        path,
        data,
        (budget, extra_work),
        &ScanWork::default(),
        None,
        None,
    )
}

/// What is known of bytes that are a file on disk: its pager (which gives back the pages
/// read so far), its path, and the images of the scan already examined (see `image_memo`).
#[derive(Clone, Copy)]
struct OnDisk<'p> {
    pager: Pager<'p>,
    memo: &'p ImageMemo,
    path: &'p Path,
    /// Set the file aside (`FileOutcome::deferred`) rather than wait when what it starts
    /// with is being examined by another worker.
    defer: bool,
}

/// [`examine_bytes`] on the bytes of a file on disk, if `on_disk` says which.
fn examine_bytes_on_disk(
    path: &str,
    data: &[u8],
    (budget, extra_work): (u64, u64),
    scan_work: &ScanWork,
    on_disk: Option<OnDisk<'_>>,
    elves: Option<&ElfMemo>,
) -> FileOutcome {
    let mut out = FileOutcome {
        bytes: data.len() as u64,
        kind: TargetKind::File,
        ..Default::default()
    };
    let work = FileWork::new(data.len() as u64, extra_work, scan_work);
    let at = Level {
        depth: 0,
        budget,
        pager: on_disk.map_or(Pager::none(), |d| d.pager),
        on_disk,
        work: &work,
        elves,
    };
    out.kind = examine_nested(path, data, &at, &mut out);
    out
}

/// Where an examination stands: how deep in nested images, the memory budget left, the
/// pager of the file on disk (its pages are given back as the scan moves on), at the top
/// level the file the bytes are, the work budget of the file (shared by all levels), and
/// the ELF files of the scan already examined.
struct Level<'p> {
    depth: usize,
    budget: u64,
    pager: Pager<'p>,
    on_disk: Option<OnDisk<'p>>,
    work: &'p FileWork<'p>,
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
            work: self.work,
            elves: self.elves,
        }
    }
}

/// Entries read out of a mapped image between two page releases.
const RELEASE_EVERY: u64 = 32 << 20;

fn examine_nested(path: &str, data: &[u8], at: &Level<'_>, out: &mut FileOutcome) -> TargetKind {
    let defer = at.on_disk.as_ref().is_some_and(|d| d.defer);
    if is_elf(data) {
        examine_elf(path, data, at.elves, defer, out);
        return TargetKind::Elf;
    }
    if surface::is_startup_script(path)
        && data.len() <= surface::MAX_SCRIPT_BYTES
        && badalloc_formats::detect(data).is_none()
    {
        let text = String::from_utf8_lossy(data);
        for prog in surface::programs_started(path, &text) {
            out.started.push((prog, path.to_string()));
        }
        return TargetKind::File;
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
    if let Some(cut) = &layout.cut {
        report_cut(path, cut, 0, out);
    }
    match layout {
        Layout { carved: 1.., .. } => TargetKind::RawDump,
        Layout {
            at_start: Some(kind),
            ..
        } => TargetKind::Image(kind),
        _ => {
            if at.depth == 0 {
                out.opaque = !is_text(data);
            }
            TargetKind::File
        }
    }
}

/// Signatures not examined past a carving bound (`cut`, offsets from `base`): an error and
/// an image that could not be read at the first of them.
fn report_cut(path: &str, cut: &carve::Cut, base: u64, out: &mut FileOutcome) {
    let first = base.saturating_add(cut.first);
    let message = format!(
        "{} more image signatures from offset {first:#x} on were not examined: {} (a crafted \
         or corrupt dump)",
        cut.more,
        cut.reason()
    );
    let image = ImageKind::Container(cut.kind);
    report_unread(
        path,
        first,
        image,
        (ErrorKind::BoundHit, message, None),
        out,
    );
}

/// Bytes of `path` from `offset` on that were not examined: an error (its kind and message)
/// and an image there that could not be read (its note says `detail`, else the message),
/// which keeps the target's verdict open (rule DAMAGED-IMAGE).
pub(crate) fn report_unread(
    path: &str,
    offset: u64,
    image: ImageKind,
    (kind, message, detail): (ErrorKind, String, Option<String>),
    out: &mut FileOutcome,
) {
    let vpath = format!("{path}@{offset:#x}");
    let detail = detail.as_deref().unwrap_or(&message);
    out.images
        .push(unread_image(&vpath, image, Some(offset), detail));
    out.errors.push(ScanError {
        path: path.to_string(),
        offset: Some(offset),
        kind,
        message,
    });
}

/// A file that cannot be mapped and is too large to read whole (an address-space limit):
/// read in windows of [`WINDOW`] bytes (plus [`WINDOW_OVERLAP`]), images carved from each
/// by the same `carve::images_of` as any file, at their offsets in the file. An image that
/// starts in a window and runs past it is read again from its start, on its own, up to
/// [`MAX_IMAGE_READ`] bytes. Only images are looked for: the file is not examined as one
/// ELF file or one image read whole.
fn examine_in_windows(rel: &str, file: &WindowedFile, scan_work: &ScanWork) -> FileOutcome {
    examine_in_windows_up_to(rel, file, scan_work, carve::MAX_CARVED_PER_FILE)
}

/// [`examine_in_windows`], at most `max_carved` images carved from the whole file.
fn examine_in_windows_up_to(
    rel: &str,
    file: &WindowedFile,
    scan_work: &ScanWork,
    max_carved: usize,
) -> FileOutcome {
    let mut out = FileOutcome {
        bytes: file.len(),
        kind: TargetKind::File,
        ..Default::default()
    };
    let work = FileWork::new(file.len(), MAX_EXTRA_WORK_PER_FILE, scan_work);
    let at = Level {
        depth: 0,
        budget: MAX_EXPANDED_PER_FILE,
        pager: Pager::none(),
        on_disk: None,
        work: &work,
        elves: None,
    };
    // Everything before `claimed` belongs to an image already taken.
    let (mut claimed, mut offered, mut base) = (0u64, 0usize, 0u64);
    // The first signature past the bound on images carved from one file (the carver bounds
    // each window; this bounds the file).
    let mut past_bound: Option<(u64, ContainerKind)> = None;
    while base < file.len() {
        let window = match file.read_at(base, (WINDOW + WINDOW_OVERLAP) as u64) {
            Ok(w) => w,
            Err(e) => {
                let message = format!(
                    "could not be read from offset {base:#x} on: {}",
                    describe_read_error(&e)
                );
                let error = (
                    ErrorKind::Unreadable,
                    message,
                    Some(format!("not read: {e}")),
                );
                report_unread(rel, base, ImageKind::File, error, &mut out);
                break;
            }
        };
        let last = base + window.len() as u64 >= file.len() || window.len() <= WINDOW;
        let ctx = WindowAt {
            rel,
            file,
            base,
            window: &window,
            last,
            at: &at,
        };
        let layout = carve::images_of(&window, &|_| {}, &mut |off, kind| {
            let abs = base.saturating_add(off);
            if abs < claimed {
                return Taken::Opened {
                    span: Some(claimed - abs),
                };
            }
            if !last && off >= WINDOW as u64 {
                return Taken::NotOpened; // the next window's
            }
            if offered >= max_carved {
                past_bound.get_or_insert((abs, kind));
                return Taken::Later;
            }
            offered += 1;
            let taken = ctx.open(off, kind, &mut out);
            if let Taken::Opened { span: Some(span) } = taken {
                claimed = claimed.max(abs.saturating_add(span));
            }
            taken
        });
        if let Some(cut) = &layout.cut {
            report_cut(rel, cut, base, &mut out);
        }
        if base == 0 {
            out.kind = layout.at_start.map_or(TargetKind::File, TargetKind::Image);
        }
        if let Some((first, kind)) = past_bound {
            let message = format!(
                "image signatures from offset {first:#x} on were not examined: more than \
                 {max_carved} in one file, and the rest of the file was not searched (a crafted \
                 or corrupt dump)"
            );
            let image = ImageKind::Container(kind);
            report_unread(
                rel,
                first,
                image,
                (ErrorKind::BoundHit, message, None),
                &mut out,
            );
            break;
        }
        if last {
            break;
        }
        base += WINDOW as u64;
    }
    if offered > 0 && out.kind == TargetKind::File {
        out.kind = TargetKind::RawDump;
    }
    out.opaque = offered == 0;
    out
}

/// One window of a file read in windows, and what examining its images needs.
struct WindowAt<'w> {
    rel: &'w str,
    file: &'w WindowedFile,
    base: u64,
    window: &'w [u8],
    /// The window reaches the end of the file.
    last: bool,
    at: &'w Level<'w>,
}

impl WindowAt<'_> {
    /// Open the image at `off` in the window. One that may run past the window (it claims
    /// more bytes than the window has after it, or its data ran out) is opened again on its
    /// own read from its start, four times larger each time (the extent it claims, when it
    /// says), up to [`MAX_IMAGE_READ`] bytes or the end of the file; only the last
    /// examination is kept.
    fn open(&self, off: u64, kind: ContainerKind, out: &mut FileOutcome) -> Taken {
        let abs = self.base.saturating_add(off);
        let vpath = format!("{}@{abs:#x}", self.rel);
        let in_window = usize::try_from(off)
            .ok()
            .and_then(|o| self.window.get(o..))
            .unwrap_or(&[]);
        let mut found = FileOutcome::default();
        let mut taken = open_image(&vpath, in_window, kind, Some(abs), self.at, &mut found);
        let (mut had, rest) = (in_window.len() as u64, self.file.len().saturating_sub(abs));
        while let Some(size) = self.read_again(&taken, &found, had, rest) {
            // Bytes read again count as work: crafted signatures at the end of every window
            // cannot make the file be read many times over.
            let read = if self.at.work.charge(size) {
                self.file.read_at(abs, size)
            } else {
                Err(std::io::Error::other(format!(
                    "reading {size} bytes would pass the work budget of the file"
                )))
            };
            let own = match read {
                Ok(own) => own,
                Err(e) => {
                    let why = format!(
                        "the image runs past the {WINDOW}-byte window it starts in and could \
                         not be read again from its start: {e}"
                    );
                    out.images.push(unread_image(
                        &vpath,
                        ImageKind::Container(kind),
                        Some(abs),
                        &why,
                    ));
                    out.errors.push(ScanError {
                        path: vpath,
                        offset: Some(abs),
                        kind: ErrorKind::BoundHit,
                        message: why,
                    });
                    return Taken::NotOpened;
                }
            };
            found = FileOutcome::default();
            taken = open_image(&vpath, &own, kind, Some(abs), self.at, &mut found);
            had = own.len() as u64;
        }
        merge(out, found);
        taken
    }

    /// How much to read for the image again, if the examination on `had` bytes may have
    /// been cut short by their end: it claims more, claims the whole rest (no extent), or
    /// its data ran out (an error of kind `truncated`). None once `had` reaches the end of
    /// the file (`rest`) or [`MAX_IMAGE_READ`].
    fn read_again(&self, taken: &Taken, found: &FileOutcome, had: u64, rest: u64) -> Option<u64> {
        let cap = rest.min(MAX_IMAGE_READ);
        if self.last || had >= cap {
            return None;
        }
        let ran_out = found.errors.iter().any(|e| e.kind == ErrorKind::Truncated);
        let wanted = match *taken {
            Taken::Opened { span: Some(s) } if s > had => s,
            Taken::Opened { span: None } => cap,
            _ if ran_out => had.saturating_mul(4),
            _ => return None,
        };
        Some(wanted.min(cap)).filter(|&size| size > had)
    }
}

/// Add what examining one image found (`from`) to `out`.
fn merge(out: &mut FileOutcome, from: FileOutcome) {
    out.facts.extend(from.facts);
    out.errors.extend(from.errors);
    out.symlinks.extend(from.symlinks);
    out.images.extend(from.images);
    out.started.extend(from.started);
    out.image_files += from.image_files;
    out.reused_images += from.reused_images;
    out.work_cut += from.work_cut;
}

/// Empty, or UTF-8 text without NUL bytes (configuration, scripts, logs): not firmware.
/// Encrypted or compressed bytes have a NUL every few hundred bytes.
fn is_text(data: &[u8]) -> bool {
    memchr::memchr(0, data).is_none() && std::str::from_utf8(data).is_ok()
}

/// An image recognised but not opened: its report entry (state `unreadable`, the reason
/// as a `damage` note).
fn unread_image(path: &str, kind: ImageKind, carved_at: Option<u64>, why: &str) -> Image {
    Image {
        path: path.to_string(),
        kind,
        offset: carved_at,
        entries: 0,
        notes: vec![ImageNote {
            kind: NoteKind::Damage,
            detail: why.to_string(),
            offset: None,
        }],
        boot_script: Vec::new(),
        state: ImageState::Unreadable,
        same_content: Vec::new(),
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
        out.images.push(unread_image(
            path,
            ImageKind::Container(kind),
            carved_at,
            &message,
        ));
        out.errors.push(ScanError {
            path: path.to_string(),
            offset: carved_at,
            kind: ErrorKind::BoundHit,
            message,
        });
        return Taken::NotOpened;
    }
    // A compressed boot image in a file, seen before (byte for byte), is reported
    // from the memo.
    let memo = match (kind, at.on_disk) {
        (ContainerKind::Ifs, Some(disk)) => ifs::reuse_key(data).map(|key| (key, disk)),
        _ => None,
    };
    // The file starts with an image another worker is examining: it is taken again later.
    if let (Some((key, disk)), None) = (&memo, carved_at) {
        if disk.defer && disk.memo.busy(key) {
            out.deferred = true;
            return Taken::Later;
        }
    }
    // Held until this image is examined: a worker meeting a copy meanwhile waits for it.
    let _claim = memo.as_ref().and_then(|(k, disk)| disk.memo.enter(k));
    if let Some(seen) = memo.as_ref().and_then(|(k, disk)| disk.memo.find(k, data)) {
        seen.apply(out, path, carved_at);
        out.reused_images += 1;
        return Taken::Opened {
            span: Some(seen.extent()),
        };
    }
    let mark = Mark::of(out);
    let cut_before = out.work_cut;
    // What the image decodes is bounded by the memory and the work left, whichever is less.
    let work_left = at.work.left();
    let limits = Limits {
        max_expanded: badalloc_formats::DEFAULT_MAX_EXPANDED
            .min(budget)
            .min(work_left),
        ..Limits::default()
    };
    let opened = badalloc_formats::open(data, kind, &limits).and_then(|image| {
        // Charged once opened (another file may have drawn the scan's extra meanwhile).
        if at.work.charge(image.resident_bytes()) {
            Ok(image)
        } else {
            Err(crate::FormatError::new(
                ErrorKind::BoundHit,
                format!(
                    "{} decoded bytes exceed the work left",
                    image.resident_bytes()
                ),
            ))
        }
    });
    let image = match opened {
        Ok(c) => c,
        Err(e) => {
            let work_bound = work_left < badalloc_formats::DEFAULT_MAX_EXPANDED.min(budget);
            out.work_cut += u64::from(work_bound);
            let why = open_error(&e.message, budget, work_bound.then_some(work_left));
            let mut unread = unread_image(path, ImageKind::Container(kind), carved_at, &why);
            unread.notes[0].offset = e.offset;
            out.images.push(unread);
            out.errors.push(ScanError {
                path: path.to_string(),
                offset: e.offset,
                kind: e.kind,
                message: format!("{} image: {why}", kind.name()),
            });
            return Taken::NotOpened;
        }
    };
    let mut report = image_report(path, kind, carved_at, image.as_ref());
    // Where decoding stopped is an error of the image too, as where opening failed is.
    for d in report.notes.iter().filter(|n| n.kind == NoteKind::Damage) {
        out.errors.push(ScanError {
            path: path.to_string(),
            offset: d.offset,
            kind: image.damage().map_or(ErrorKind::Corrupt, |e| e.kind),
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
    examine_entries(path, data, image.as_ref(), budget, at, &mut report, out);
    at.pager.release(data);
    let complete = report.state == ImageState::Complete;
    out.images.push(report);
    // An examination cut short by the work budget is not kept: the next copy may have more.
    let whole = complete && out.work_cut == cut_before;
    let deciding = image
        .input_extent()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n <= data.len() && whole);
    if let (Some((key, disk)), Some(len)) = (memo, deciding) {
        let in_file = carved_at.map_or(Some(0), |o| usize::try_from(o).ok());
        if let Some(examined) = in_file
            .and_then(|at| Examined::capture(out, &mark, path, (disk.path, at, len), image.span()))
        {
            disk.memo.insert(key, examined);
        }
    }
    Taken::Opened { span: image.span() }
}

/// Why an image could not be opened: `message`, with what the file's budgets had left
/// when they may be why (`work_left`: when the work budget was the tighter bound).
fn open_error(message: &str, memory_left: u64, work_left: Option<u64>) -> String {
    match work_left {
        Some(left) => format!(
            "{message} (work budget of the file: {left} bytes left; it may do \
             {WORK_PER_INPUT_BYTE} bytes of work per byte of its size and \
             {MAX_EXTRA_WORK_PER_FILE} more, of the scan's {MAX_EXTRA_WORK_PER_SCAN})"
        ),
        // A nested image opened with less than the usual cap says so, whatever the error:
        // the budget may be why.
        None if memory_left < badalloc_formats::DEFAULT_MAX_EXPANDED => format!(
            "{message} (memory budget of the file: {memory_left} of {MAX_EXPANDED_PER_FILE} \
             bytes left)"
        ),
        None => message.to_string(),
    }
}

/// The report entry of an opened image: its notes (the boot script as lines), and
/// `partial` when the reader says part of it is lost.
fn image_report(
    path: &str,
    kind: ContainerKind,
    carved_at: Option<u64>,
    image: &dyn badalloc_formats::Container,
) -> Image {
    let mut notes = Vec::new();
    let mut boot_script = None;
    for n in image.notes() {
        match NoteKind::from_name(&n.kind) {
            // The IFS reader decodes the boot script into a note: reported once, as lines.
            NoteKind::BootScript => {
                if boot_script.is_none() {
                    boot_script = Some(n.detail.lines().map(str::to_string).collect());
                }
            }
            kind => notes.push(ImageNote {
                kind,
                detail: n.detail.clone(),
                offset: n.offset,
            }),
        }
    }
    let damaged = notes.iter().any(|n| n.kind.is_damage());
    Image {
        path: path.to_string(),
        kind: ImageKind::Container(kind),
        offset: carved_at,
        entries: image.entries().len() as u64,
        notes,
        boot_script: boot_script.unwrap_or_default(),
        state: if damaged {
            ImageState::Partial
        } else {
            ImageState::Complete
        },
        same_content: Vec::new(),
    }
}

/// Examine the files of an opened image (read, then examined as files of their own, with
/// `budget` bytes of memory left) and record its symlinks. A file with the same extent as
/// a file examined before (and a path that is examined the same way) is not read again: it
/// is listed in the image's `same_content`. A file the work budget cannot pay for is not
/// read: the first is an error, the others are counted.
fn examine_entries(
    path: &str,
    data: &[u8],
    image: &dyn Container,
    budget: u64,
    at: &Level<'_>,
    report: &mut Image,
    out: &mut FileOutcome,
) {
    let mut tally = EntryTally::default();
    let mut read_since_release = 0u64;
    for (index, entry) in image.entries().iter().enumerate() {
        // A file system's own bookkeeping (ETFS `.badblks`, `.counts`) is listed, not examined.
        if entry
            .flags
            .iter()
            .any(|f| f == badalloc_formats::FS_METADATA_FLAG)
        {
            continue;
        }
        let vpath = format!("{path}!/{}", entry.path);
        match entry.entry_type {
            EntryType::File => {
                let key = (entry.loc, path_class(&entry.path));
                if let Some(first) = tally.first.get(&key).and_then(|&i| image.entries().get(i)) {
                    let same_as = format!("{path}!/{}", first.path);
                    tally.same(report, vpath, same_as, image, entry);
                    continue;
                }
                let left = at.work.left();
                if entry.size > left {
                    tally.cut(report, out, vpath, image, entry, left);
                    continue;
                }
                match image.read(entry) {
                    Ok(bytes) => {
                        if !at.work.charge(bytes.len() as u64) {
                            let left = at.work.left();
                            tally.cut(report, out, vpath, image, entry, left);
                            continue;
                        }
                        tally.first.insert(key, index);
                        out.image_files += 1;
                        let held = match &bytes {
                            Cow::Owned(v) => v.len() as u64,
                            Cow::Borrowed(_) => 0,
                        };
                        let inner = at.inner(budget.saturating_sub(held));
                        examine_nested(&vpath, &bytes, &inner, out);
                        // Pages of a mapped image read for its entries are given back now
                        // and then (the pager ignores images that are not in the mapped file).
                        read_since_release += bytes.len() as u64;
                        if read_since_release >= RELEASE_EVERY {
                            at.pager.release(data);
                            read_since_release = 0;
                        }
                    }
                    Err(e) => {
                        // A file with the same extent would fail the same way.
                        tally.first.insert(key, index);
                        tally.error(report, out, vpath, e);
                    }
                }
            }
            EntryType::Symlink => out.symlinks.push(Symlink {
                path: vpath,
                target: entry.link_target.clone().unwrap_or_default(),
            }),
            EntryType::Dir | EntryType::Device | EntryType::Fifo | EntryType::Other => {}
        }
    }
    tally.finish(path, report, out);
}

/// What about a file's path changes how its bytes are examined: a C library's or the
/// kernel's file name (taken when the ELF file does not say), a startup script's path.
/// Files with the same extent are examined once per class.
fn path_class(path_in_image: &str) -> u8 {
    let name = path_in_image.rsplit('/').next().unwrap_or(path_in_image);
    u8::from(crate::facts::is_libc_name(name))
        | u8::from(name.starts_with("procnto")) << 1
        | u8::from(surface::is_startup_script(path_in_image)) << 2
}

/// The files of one image, as they are examined: the first file of each extent (see
/// [`path_class`]), and what is reported about the others in a bounded number of items.
#[derive(Default)]
struct EntryTally {
    /// (extent, path class) → index of the entry examined.
    first: HashMap<(Loc, u8), usize>,
    same_unlisted: u64,
    /// The first file left out of `same_content`.
    first_unlisted: Option<EntryAt>,
    errors_listed: usize,
    errors_unlisted: u64,
    cut: u64,
    /// The first file not examined after the one named in its own error.
    first_uncounted: Option<EntryAt>,
}

/// A file of an image named in an error about it: its virtual path, the offset of its data
/// in the image's input, and (when its data lies in what the image decoded, not in its
/// input) a phrase naming the offset there.
struct EntryAt {
    path: String,
    offset: Option<u64>,
    decoded: String,
}

impl EntryAt {
    fn new(path: String, image: &dyn Container, entry: &Entry) -> EntryAt {
        let offset = image.data_offset(entry);
        let decoded = match (offset, image.decoded_data_offset(entry)) {
            (None, Some(at)) => format!(" at {at:#x} of the decoded image"),
            _ => String::new(),
        };
        EntryAt {
            path,
            offset,
            decoded,
        }
    }
}

impl EntryTally {
    fn same(
        &mut self,
        report: &mut Image,
        path: String,
        same_as: String,
        image: &dyn Container,
        entry: &Entry,
    ) {
        if report.same_content.len() < MAX_SAME_CONTENT_LISTED {
            report.same_content.push(SameContent { path, same_as });
        } else {
            self.same_unlisted += 1;
            if self.first_unlisted.is_none() {
                self.first_unlisted = Some(EntryAt::new(path, image, entry));
            }
        }
    }

    /// A file that cannot be read: a part of the image lost.
    fn error(
        &mut self,
        report: &mut Image,
        out: &mut FileOutcome,
        path: String,
        e: crate::FormatError,
    ) {
        report.state = ImageState::Partial;
        if self.errors_listed < MAX_ENTRY_ERRORS_LISTED {
            self.errors_listed += 1;
            if !report.notes.iter().any(|n| n.detail == e.message) {
                report.notes.push(ImageNote {
                    kind: NoteKind::Error,
                    detail: e.message.clone(),
                    offset: e.offset,
                });
            }
            out.errors.push(ScanError {
                path,
                offset: e.offset,
                kind: e.kind,
                message: e.message,
            });
        } else {
            self.errors_unlisted += 1;
        }
    }

    /// A file not read: the work budget cannot pay for its `size` bytes (`left` are left).
    /// The image is then read only in part: what was not examined may decide the verdict.
    fn cut(
        &mut self,
        report: &mut Image,
        out: &mut FileOutcome,
        path: String,
        image: &dyn Container,
        entry: &Entry,
        left: u64,
    ) {
        self.cut += 1;
        out.work_cut += 1;
        let at = EntryAt::new(path, image, entry);
        if self.cut == 2 {
            self.first_uncounted = Some(at);
        } else if self.cut == 1 {
            report.state = ImageState::Partial;
            let (path, offset, size) = (at.path, at.offset, entry.size);
            let message = format!(
                "file of {size} bytes{} not examined: the work budget of the file is spent \
                 ({left} bytes left; it may do {WORK_PER_INPUT_BYTE} bytes of work per byte of \
                 its size and {MAX_EXTRA_WORK_PER_FILE} more, of the scan's \
                 {MAX_EXTRA_WORK_PER_SCAN})",
                at.decoded
            );
            report.notes.push(ImageNote {
                kind: NoteKind::Error,
                detail: format!("{path}: {message}"),
                offset,
            });
            out.errors.push(ScanError {
                path,
                offset,
                kind: ErrorKind::BoundHit,
                message,
            });
        }
    }

    /// Count what was not listed, in the image's report and errors.
    fn finish(self, path: &str, report: &mut Image, out: &mut FileOutcome) {
        if let Some(first) = self.first_uncounted {
            out.errors.push(ScanError {
                path: path.to_string(),
                offset: first.offset,
                kind: ErrorKind::BoundHit,
                message: format!(
                    "{} more files of this image not examined: the work budget of the file is \
                     spent (the first of them: {}{})",
                    self.cut - 1,
                    first.path,
                    first.decoded
                ),
            });
        }
        if self.errors_unlisted > 0 {
            out.errors.push(ScanError {
                path: path.to_string(),
                offset: report.offset,
                kind: ErrorKind::BoundHit,
                message: format!(
                    "{} more files of this image could not be read (the first \
                     {MAX_ENTRY_ERRORS_LISTED} are listed)",
                    self.errors_unlisted
                ),
            });
        }
        if let Some(first) = self.first_unlisted {
            // Examined (as the file they share their bytes with), but the report does not
            // name them: a bound cut the listing.
            out.errors.push(ScanError {
                path: path.to_string(),
                offset: first.offset,
                kind: ErrorKind::BoundHit,
                message: format!(
                    "{} more files have the bytes of a file examined before in this image: \
                     not listed in same_content, which lists at most \
                     {MAX_SAME_CONTENT_LISTED} per image (the first of them: {}{})",
                    self.same_unlisted, first.path, first.decoded
                ),
            });
            report.notes.push(ImageNote {
                kind: NoteKind::SameContent,
                detail: format!(
                    "{} more files have the bytes of a file examined before in this image \
                     (the first {MAX_SAME_CONTENT_LISTED} are listed in same_content)",
                    self.same_unlisted
                ),
                offset: None,
            });
        }
    }
}

/// Examine an ELF file: from `memo` when a file of the same bytes (and the same name class)
/// was examined before in the scan.
fn examine_elf(
    path: &str,
    data: &[u8],
    memo: Option<&ElfMemo>,
    defer: bool,
    out: &mut FileOutcome,
) {
    use sha2::{Digest, Sha256};
    // Hashed here, where the bytes are (CycloneDX hashes, and the memo's key); a copy of
    // bytes met before takes the SHA-256 from them.
    let digest: [u8; 32] = match memo {
        Some(m) => m.known.sha256(data),
        None => Sha256::digest(data).into(),
    };
    let name = NameClass::of(path);
    if defer && memo.is_some_and(|m| m.busy(&digest, name)) {
        out.deferred = true;
        return;
    }
    // Held until this file is examined: a worker meeting a copy meanwhile waits for it.
    let _claim = memo.and_then(|m| m.enter(&digest, name));
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
    let error = |e: &crate::FormatError| ScanError {
        path: path.to_string(),
        offset: e.offset,
        kind: e.kind,
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

/// Parse an ELF file, analyse its calloc (or search for it in a stripped static program)
/// and take its facts (`digest`: its SHA-256): a function of the bytes and the name class.
fn examine_elf_bytes(path: &str, data: &[u8], digest: &[u8; 32]) -> ElfExamined {
    let elf = ElfFile::parse(data)?;
    let (calloc, calloc_error) = match calloc_of(&elf) {
        Ok(c) => (c, None),
        Err(e) => (Some(CallocFinding::unknown(&e.message)), Some(e)),
    };
    let mut facts = facts_of(path, &elf, calloc);
    crate::facts::add_calloc_search(&mut facts, &elf);
    facts.sha256 = Some(hex_of(digest));
    Ok((facts, calloc_error))
}

/// The analysed calloc of a file that defines one; None when it has none.
///
/// The analysis runs third-party instruction decoders over hostile bytes: a panic in one of
/// them (a decoder bug) becomes an error for this file, located at its calloc, and the scan
/// goes on.
fn calloc_of(elf: &ElfFile<'_>) -> Result<Option<CallocFinding>, crate::FormatError> {
    match badalloc_elf::guard::contain(|| badalloc_calloc::analyze_calloc_brief(elf)) {
        Some(a) => Ok(a.map(CallocFinding::from)),
        None => {
            let offset = badalloc_calloc::locate_calloc(elf)
                .and_then(|s| elf.bytes_at(s.addr & !1))
                .and_then(|b| (b.as_ptr() as usize).checked_sub(elf.data.as_ptr() as usize))
                .map(|o| o as u64);
            Err(crate::FormatError {
                offset,
                kind: ErrorKind::Unsupported,
                message: "calloc analysis aborted: the machine-code decoder failed on this \
                          code (internal panic)"
                    .into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    // The tests' generator of dense dumps (tests/common/dense_qnx4.rs).
    include!("../../../tests/common/dense_qnx4.rs");

    /// A file read in windows gives at most `MAX_CARVED_PER_FILE` carved images in all,
    /// not per window: past it, one error (kind bound-hit, at the first signature left
    /// out) and the rest of the file is not searched. (Here with a bound of 300, so that a
    /// file of two windows passes it.)
    #[test]
    fn images_carved_from_a_windowed_file_are_bounded_per_file() {
        let mut f = tempfile::tempfile().expect("a temporary file");
        // About 190 images in each of the first two windows, in a sparse file of two.
        let part = dense_qnx4(375);
        for at in [1u64 << 20, WINDOW as u64 + (2 << 20)] {
            f.seek(SeekFrom::Start(at)).expect("seek");
            f.write_all(&part).expect("written");
        }
        f.set_len(2 * WINDOW as u64).expect("sized");
        let file = WindowedFile::for_test(f).expect("opened");
        let out = examine_in_windows_up_to("dense.bin", &file, &ScanWork::default(), 300);
        let cut: Vec<&ScanError> = out
            .errors
            .iter()
            .filter(|e| e.message.contains("more than 300 in one file"))
            .collect();
        assert_eq!(
            cut.len(),
            1,
            "{} images, {:?}",
            out.images.len(),
            out.errors.first()
        );
        assert_eq!(cut[0].kind, ErrorKind::BoundHit);
        let first = cut[0].offset.expect("an offset");
        assert!(first > WINDOW as u64, "in the second window: {first:#x}");
        assert_eq!(out.images.len(), 301, "300 carved and the one not examined");
    }
}
