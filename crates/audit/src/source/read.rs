//! Reading one file's bytes, always read-only: small and medium files are read into memory;
//! large ones are memory-mapped where the platform allows (only the pages that triage
//! touches are read).
//!
//! A file is opened without following a final symbolic link (`O_NOFOLLOW`, for files found
//! by the walk), without waiting (`O_NONBLOCK`: a FIFO put in place of a file since the walk
//! is not waited on) and, on Linux, without updating its access time (`O_NOATIME`, allowed
//! to the file's owner and to root; others open it normally). Its type is then checked on
//! the open descriptor (`fstat`): anything but a regular file is refused, except a block or
//! character device the user names (a flash partition, a disk): it is read, never mapped,
//! up to [`MAX_DEVICE_READ`] bytes.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::ops::Deref;
use std::path::Path;

/// Files smaller than this are read into memory; larger ones are mapped. A read copy cannot
/// be taken away: a file truncated while it is examined only shows its old bytes, where the
/// pages of a mapped file that shrinks are gone past its new end (they read as zeros, see
/// `fault`, and the file is reported as changed). 1 MiB holds nearly every program and C
/// library of a firmware tree; what is larger (kernels, boot images, dumps, blobs) is
/// mapped, which saves copying it (docs/bounds.md: reading rather than mapping the files of
/// 64 KiB to 1 MiB of the 1 GB benchmark set costs about 2 % of the scan's CPU time).
#[cfg(not(target_os = "nto"))]
pub const MAP_THRESHOLD: u64 = 1 << 20;

/// The most that one file may take in memory when it is read rather than mapped (a file
/// that could not be mapped, or any file on a platform without maps): a larger one is an
/// error naming this bound, never an allocation that aborts the process.
pub const MAX_READ_IN_MEMORY: u64 = 1 << 30;

/// Mapped files at least this large give their pages back as the scan moves on (see
/// [`Pager`]); smaller ones are unmapped soon enough.
pub const PAGE_OUT_THRESHOLD: usize = 64 << 20;

/// Hard cap on a single input file's size (1 TiB): anything larger is not a firmware file
/// we can reason about and would only exhaust the address space.
pub const MAX_FILE_SIZE: u64 = 1 << 40;

/// The most read from a block or character device named as a PATH (a flash partition,
/// `/dev/fs0p0`, a disk, `/dev/sdb`). A device is read into memory, never mapped: a map of
/// a device faults (SIGBUS) on a read error, and a character device may not be mappable or
/// may never end (`/dev/zero`). 1 GiB holds any NOR part and the flash partitions that
/// hold QNX programs; a larger device is read up to here and the rest reported unread.
pub const MAX_DEVICE_READ: u64 = 1 << 30;

/// Bytes read from a device per `read` call (and the step its buffer grows by).
const DEVICE_READ_STEP: usize = 1 << 20;

/// The bytes of one input file.
pub enum FileBytes {
    Owned(Vec<u8>),
    /// A small file, read into this thread's reused buffer (see [`SpareBuf`]).
    Spare(SpareBuf),
    #[cfg(not(target_os = "nto"))]
    Mapped(Mapped),
    /// What was read from a device, and why reading stopped before its end, if it did.
    Device {
        bytes: Vec<u8>,
        unread: Option<Unread>,
    },
}

/// A memory-mapped file, registered with the SIGBUS handler (`fault`) while it is mapped:
/// if the file shrinks, the pages past its new end read as zeros instead of ending the
/// process, and [`Mapped::shrunk`] says so.
#[cfg(not(target_os = "nto"))]
pub struct Mapped {
    // Dropped first: deregistered before the map is unmapped (fields drop in order).
    #[cfg(unix)]
    guard: super::fault::Guard,
    map: memmap2::Mmap,
    /// The open file, for its size now (`fstat`).
    file: File,
}

#[cfg(not(target_os = "nto"))]
impl Mapped {
    /// Map `file` and register the map; the file back when it cannot be mapped or the
    /// table of maps is full (it is then read instead), with why.
    fn new(file: File) -> Result<Mapped, (File, std::io::Error)> {
        // SAFETY: the map is read-only and private to this process. If another process
        // truncates the file while it is mapped, touching a page past the new end raises
        // SIGBUS: the map is registered with the handler (`fault`), which puts a page of
        // zeros there and records it, before any of its bytes are read.
        let map = match unsafe { memmap2::Mmap::map(&file) } {
            Ok(map) => map,
            Err(e) => return Err((file, e)),
        };
        #[cfg(unix)]
        let Some(guard) = super::fault::Guard::register(map.as_ptr(), map.len()) else {
            return Err((
                file,
                std::io::Error::other(format!(
                    "more than {} files mapped at once",
                    super::fault::MAX_GUARDED_MAPS
                )),
            ));
        };
        Ok(Mapped {
            #[cfg(unix)]
            guard,
            map,
            file,
        })
    }

    /// Whether the file is now smaller than its map, or a page of the map faulted.
    fn shrunk(&self) -> Option<Shrunk> {
        let mapped = self.map.len() as u64;
        #[cfg(unix)]
        let zeros_from = self.guard.first_fault();
        #[cfg(not(unix))]
        let zeros_from = None;
        let size = self.file.metadata().map_or(mapped, |m| m.len());
        (zeros_from.is_some() || size < mapped).then_some(Shrunk {
            size,
            mapped,
            zeros_from,
        })
    }
}

/// A mapped file that changed while it was examined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shrunk {
    /// Its size now.
    pub size: u64,
    /// Its size when it was mapped.
    pub mapped: u64,
    /// The first offset whose page was gone when it was read, and read as zeros.
    pub zeros_from: Option<u64>,
}

impl Shrunk {
    /// Where its bytes stopped being the file's: the first page read as zeros, or its end.
    pub fn offset(&self) -> u64 {
        self.zeros_from.unwrap_or(self.size)
    }

    /// "file changed during the scan (shrank to N bytes; bytes from offset X read as zeros)".
    pub fn reason(&self) -> String {
        let now = if self.size < self.mapped {
            format!("shrank to {} bytes", self.size)
        } else {
            format!("shrank, and is now {} bytes", self.size)
        };
        let zeros = match self.zeros_from {
            Some(at) => format!("; bytes from offset {at:#x} read as zeros"),
            None => format!(" of the {} mapped", self.mapped),
        };
        format!(
            "file changed during the scan ({now}{zeros}): its findings are not used; scan \
             it again once it no longer changes"
        )
    }
}

/// Where and why the read of a device stopped before its end: its bytes from `offset` on
/// were not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub offset: u64,
    /// A bound (the most read from a device) or a read that failed.
    pub kind: crate::ErrorKind,
    pub reason: String,
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Owned(v) => v,
            FileBytes::Spare(s) => s.buf.get(..s.len).unwrap_or(&[]),
            #[cfg(not(target_os = "nto"))]
            FileBytes::Mapped(m) => &m.map,
            FileBytes::Device { bytes, .. } => bytes,
        }
    }
}

impl FileBytes {
    /// For a device: where and why its read stopped before its end.
    pub fn unread(&self) -> Option<&Unread> {
        match self {
            FileBytes::Device { unread, .. } => unread.as_ref(),
            _ => None,
        }
    }

    /// For a mapped file: whether it shrank since it was mapped (and which of its bytes
    /// were read as zeros because of it). Its findings are then not to be used.
    pub fn shrunk(&self) -> Option<Shrunk> {
        match self {
            #[cfg(not(target_os = "nto"))]
            FileBytes::Mapped(m) => m.shrunk(),
            _ => None,
        }
    }

    /// What lets the scan give back the pages of this file it is done with.
    pub fn pager(&self) -> Pager<'_> {
        match self {
            #[cfg(all(unix, not(target_os = "nto")))]
            FileBytes::Mapped(m) if m.map.len() >= PAGE_OUT_THRESHOLD => {
                Pager { map: Some(&m.map) }
            }
            _ => Pager::none(),
        }
    }
}

/// Gives back the pages of a large memory-mapped file that the scan has read, so that the
/// scanner's resident memory stays bounded however large one file is (a multi-gigabyte
/// partition dump read end to end would otherwise stay resident until it is unmapped).
/// The page cache keeps the data; touching a released page again reads it back.
#[derive(Clone, Copy)]
pub struct Pager<'a> {
    #[cfg(all(unix, not(target_os = "nto")))]
    map: Option<&'a memmap2::Mmap>,
    #[cfg(not(all(unix, not(target_os = "nto"))))]
    map: Option<&'a [u8]>,
}

impl Pager<'_> {
    /// A pager that does nothing (bytes in memory, small maps, other platforms).
    pub const fn none() -> Pager<'static> {
        Pager { map: None }
    }

    /// Give back the pages under `part`, if `part` lies in the mapped file (anything else,
    /// such as decompressed data, is left alone).
    pub fn release(&self, part: &[u8]) {
        #[cfg(all(unix, not(target_os = "nto")))]
        if let Some(map) = self.map {
            let base = map.as_ptr() as usize;
            let start = part.as_ptr() as usize;
            if part.is_empty() || start < base || start + part.len() > base + map.len() {
                return;
            }
            // SAFETY: the map is a read-only private file mapping that is never written, so
            // it holds no private copies: MADV_DONTNEED only unmaps page-cache pages, and a
            // later access maps the same file bytes again. Slices into the map stay valid.
            // A failure only means the pages stay resident.
            let _ = unsafe {
                map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    start - base,
                    part.len(),
                )
            };
        }
        #[cfg(not(all(unix, not(target_os = "nto"))))]
        let _ = (part, self.map);
    }
}

/// Open a file found by the walk (or inside a scan target) read-only and return its bytes.
/// A symbolic link is not followed: the walk recorded it, and a link put in place of a file
/// since then is refused.
pub fn read_file(path: &Path) -> std::io::Result<FileBytes> {
    match open_file(path)? {
        Input::Bytes(bytes) => Ok(bytes),
        Input::Windowed(w) => Err(w.refusal()),
    }
}

/// [`read_file`] for the scan: a file too large to read whole that cannot be mapped is
/// handed back to be read in windows ([`Input::Windowed`]) instead of refused.
pub fn open_file(path: &Path) -> std::io::Result<Input> {
    let input = read_opened_or_windowed(open_input(path, FinalLink::NotFollowed)?)?;
    #[cfg(feature = "test-hooks")]
    if let Input::Bytes(bytes) = &input {
        test_hooks::shrink_if_asked(path, bytes);
    }
    Ok(input)
}

/// A file's bytes, or a file to be read in windows.
pub enum Input {
    Bytes(FileBytes),
    Windowed(WindowedFile),
}

/// The size of the windows a file that cannot be mapped is read in, when it is too large
/// to read whole ([`MAX_READ_IN_MEMORY`]): images are carved from each window in turn.
pub const WINDOW: usize = 64 << 20;

/// Bytes each window reads past its end, which belong to the next window: a signature at
/// the end of a window is checked on the bytes after it (the headers the carver reads are
/// at most a few KiB), and is offered in the window where it starts. At least
/// `carve::MIN_CARVE_SIZE`, so that the last window is never too small to carve.
pub const WINDOW_OVERLAP: usize = 1 << 20;

/// The most read from a windowed file for one image that runs past the window it starts
/// in (read again from its start). Real boot images are a few MiB to tens of MiB; a file
/// system larger than this is read up to here and reported damaged where its data stops.
pub const MAX_IMAGE_READ: u64 = 512 << 20;

/// A regular file that cannot be mapped and is larger than [`MAX_READ_IN_MEMORY`]: read a
/// part at a time, never whole.
pub struct WindowedFile {
    file: File,
    len: u64,
    why: std::io::Error,
}

impl WindowedFile {
    /// A file read in windows whatever its size (tests of the windowed examination).
    #[cfg(test)]
    pub(crate) fn for_test(file: File) -> std::io::Result<WindowedFile> {
        let len = file.metadata()?.len();
        Ok(WindowedFile {
            file,
            len,
            why: std::io::Error::other("a test"),
        })
    }

    /// Its size when it was opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it is empty (never: only large files are windowed).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Read up to `max` bytes from `offset` (fewer at the end of the file, or if it shrank),
    /// into a buffer reserved first: memory that cannot be had is an error, not an abort.
    pub fn read_at(&self, offset: u64, max: u64) -> std::io::Result<Vec<u8>> {
        let want = self.len.saturating_sub(offset).min(max);
        let size = usize::try_from(want).map_err(std::io::Error::other)?;
        let mut buf = zeroed(size).ok_or_else(|| {
            std::io::Error::new(
                ErrorKind::OutOfMemory,
                format!("cannot allocate {size} bytes to read the file at offset {offset:#x}"),
            )
        })?;
        let mut got = 0;
        while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
            match positioned_read(&self.file, rest, offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(got);
        Ok(buf)
    }

    /// The error of a reader that cannot take a file in windows (`inspect`, `ls`...).
    fn refusal(&self) -> std::io::Error {
        std::io::Error::other(format!(
            "file is {} bytes and could not be memory-mapped ({}); a file read without a \
             map is held in memory, at most {MAX_READ_IN_MEMORY} bytes: not examined",
            self.len, self.why
        ))
    }
}

#[cfg(unix)]
fn positioned_read(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn positioned_read(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// [`read_file`] for a file the user named (a scan PATH, `inspect`, `ls`, `extract`): a
/// symbolic link is the user's choice and is followed, and a block or character device is
/// read as a raw dump (up to [`MAX_DEVICE_READ`] bytes, see [`FileBytes::unread`]).
pub fn read_named_file(path: &Path) -> std::io::Result<FileBytes> {
    let file = open_input(path, FinalLink::Followed)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = file.metadata()?.file_type();
        if kind.is_block_device() || kind.is_char_device() {
            return read_device(file, MAX_DEVICE_READ);
        }
    }
    let bytes = read_opened(file)?;
    #[cfg(feature = "test-hooks")]
    test_hooks::shrink_if_asked(path, &bytes);
    Ok(bytes)
}

/// Hooks for the workspace's own tests (feature `test-hooks`, enabled by the root package's
/// dev-dependency only, so never in a build made with `cargo build`).
#[cfg(feature = "test-hooks")]
mod test_hooks {
    use super::{FileBytes, Path};

    /// `BADALLOC_TEST_SHRINK_MAPPED=NAME:LEN`: a file named NAME that is mapped is truncated
    /// to LEN bytes right after it is mapped, before any of its bytes are read, so that a
    /// test can make a file shrink during the scan at a known point.
    pub(super) fn shrink_if_asked(path: &Path, bytes: &FileBytes) {
        let Some(asked) = std::env::var_os("BADALLOC_TEST_SHRINK_MAPPED") else {
            return;
        };
        let asked = asked.to_string_lossy();
        let Some((name, len)) = asked.rsplit_once(':') else {
            return;
        };
        let named = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy() == name);
        #[cfg(not(target_os = "nto"))]
        if let (true, FileBytes::Mapped(_), Ok(len)) = (named, bytes, len.parse::<u64>()) {
            let file = std::fs::OpenOptions::new().write(true).open(path);
            let _ = file.and_then(|f| f.set_len(len));
        }
        let _ = (named, bytes);
    }
}

/// Read a device from its start, up to `bound` bytes, into memory grown a step at a time
/// (its size is not known beforehand: a character device has none). Reading stops at its
/// end, at the bound, when it has nothing more to give without waiting (it was opened
/// non-blocking: a terminal or a log device), or at a read error; each but the end is
/// said in [`FileBytes::unread`]. Memory that cannot be had is an error, not an abort.
fn read_device(mut file: File, bound: u64) -> std::io::Result<FileBytes> {
    let bound = usize::try_from(bound).unwrap_or(usize::MAX);
    let mut bytes: Vec<u8> = Vec::new();
    let unread = loop {
        let at = bytes.len();
        let want = DEVICE_READ_STEP.min(bound - at);
        if want == 0 {
            // At the bound: the device ends here, or there is more that is not read.
            let more = matches!(file.read(&mut [0u8; 1]), Ok(1));
            break more.then(|| Unread {
                offset: at as u64,
                kind: crate::ErrorKind::BoundHit,
                reason: format!(
                    "the device holds more than {bound} bytes (the most read from a \
                     device): the rest was not read; copy the device to a file and scan \
                     the file"
                ),
            });
        }
        bytes.try_reserve(want).map_err(|_| {
            std::io::Error::new(
                ErrorKind::OutOfMemory,
                format!("cannot allocate {} bytes to read the device", at + want),
            )
        })?;
        bytes.resize(at + want, 0);
        let got = file.read(&mut bytes[at..]);
        bytes.truncate(at + *got.as_ref().unwrap_or(&0));
        match got {
            Ok(0) => break None,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                break Some(Unread {
                    offset: at as u64,
                    kind: crate::ErrorKind::Unreadable,
                    reason: "the device had no more bytes to give without waiting: the rest \
                             (if any) was not read"
                        .to_string(),
                })
            }
            Err(e) => {
                break Some(Unread {
                    offset: at as u64,
                    kind: crate::ErrorKind::Unreadable,
                    reason: format!("read error ({e}): the rest of the device was not read"),
                })
            }
        }
    };
    Ok(FileBytes::Device { bytes, unread })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FinalLink {
    Followed,
    NotFollowed,
}

fn open_input(path: &Path, link: FinalLink) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
        if link == FinalLink::NotFollowed {
            flags |= libc::O_NOFOLLOW;
        }
        // The access time is evidence on a forensic copy. O_NOATIME is refused (EPERM) to
        // anyone but the owner and root: such files are opened without it.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        match options
            .clone()
            .custom_flags(flags | libc::O_NOATIME)
            .open(path)
        {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            opened => return opened.map_err(|e| explain_open_error(e, link)),
        }
        options.custom_flags(flags);
    }
    options.open(path).map_err(|e| explain_open_error(e, link))
}

fn explain_open_error(e: std::io::Error, link: FinalLink) -> std::io::Error {
    #[cfg(unix)]
    if link == FinalLink::NotFollowed && e.raw_os_error() == Some(libc::ELOOP) {
        return std::io::Error::other("a symbolic link, not followed");
    }
    let _ = link;
    e
}

/// Why a file could not be read, for a report: what went wrong and, where it helps, what to
/// do ("permission denied; run as root").
pub fn describe_read_error(e: &std::io::Error) -> String {
    if e.kind() == ErrorKind::PermissionDenied {
        #[cfg(unix)]
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return "permission denied; run as root".to_string();
        }
        return "permission denied".to_string();
    }
    e.to_string()
}

/// The bytes of an open file, after checking on its descriptor that it is a regular file.
fn read_opened(file: File) -> std::io::Result<FileBytes> {
    match read_opened_or_windowed(file)? {
        Input::Bytes(bytes) => Ok(bytes),
        Input::Windowed(w) => Err(w.refusal()),
    }
}

/// [`read_opened`], but a file that cannot be mapped and is too large to read whole is
/// handed back to be read in windows.
fn read_opened_or_windowed(file: File) -> std::io::Result<Input> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(format!(
            "not a regular file ({}): not read",
            super::walk::special_kind(&meta.file_type())
        )));
    }
    let len = meta.len();
    if len > MAX_FILE_SIZE {
        return Err(std::io::Error::other(format!(
            "file is {len} bytes, above the {MAX_FILE_SIZE}-byte limit"
        )));
    }
    #[cfg(not(target_os = "nto"))]
    let file = if len >= MAP_THRESHOLD {
        match Mapped::new(file) {
            Ok(mapped) => return Ok(Input::Bytes(FileBytes::Mapped(mapped))),
            Err((file, why)) if len > MAX_READ_IN_MEMORY => {
                return Ok(Input::Windowed(WindowedFile { file, len, why }))
            }
            Err((file, _)) => file,
        }
    } else {
        file
    };
    #[cfg(target_os = "nto")]
    if len > MAX_READ_IN_MEMORY {
        return Err(std::io::Error::other(format!(
            "file is {len} bytes; files are read into memory on this platform, at most \
             {MAX_READ_IN_MEMORY} bytes: not examined"
        )));
    }
    read_into_memory(file, len).map(Input::Bytes)
}

/// Files up to this size are read into a buffer that each thread keeps for its next file
/// (a fresh, zeroed buffer for each of thousands of small files cost an allocation and a
/// pass over it each time). At most this much is kept per thread.
pub const MAX_SPARE_READ: usize = 1 << 20;

thread_local! {
    /// The buffer the last small file read on this thread was read into, once it is done.
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The bytes of a small file in this thread's reused buffer (its first `len` bytes); the
/// buffer goes back to the thread when dropped.
pub struct SpareBuf {
    buf: Vec<u8>,
    len: usize,
}

impl Drop for SpareBuf {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        // Two files read at once on one thread: the larger buffer is kept.
        SPARE.with(|s| {
            let kept = s.take();
            s.set(if kept.len() > buf.len() { kept } else { buf });
        });
    }
}

/// Read a file of at most [`MAX_SPARE_READ`] bytes into this thread's reused buffer. The
/// buffer is only ever grown (zero-filled once), so every byte of it is initialised.
fn read_into_spare(file: &mut File, size: usize) -> std::io::Result<FileBytes> {
    let mut buf = SPARE.with(std::cell::Cell::take);
    if buf.len() < size {
        buf.resize(size, 0);
    }
    let got = read_up_to(file, buf.get_mut(..size).unwrap_or(&mut []))?;
    Ok(FileBytes::Spare(SpareBuf { buf, len: got }))
}

/// Read into `buf` until it is full or the file ends; the bytes read.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        match file.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Read the size fstat gave, in one call for most files (no extra read to see EOF); a file
/// that shrank meanwhile is read as far as it goes, one that grew is read as it was. The
/// buffer is reserved first, so memory that cannot be had is an error, not an abort.
fn read_into_memory(mut file: File, len: u64) -> std::io::Result<FileBytes> {
    let size = usize::try_from(len).map_err(std::io::Error::other)?;
    if size <= MAX_SPARE_READ {
        return read_into_spare(&mut file, size);
    }
    let mut buf = zeroed(size).ok_or_else(|| {
        std::io::Error::new(
            ErrorKind::OutOfMemory,
            format!("cannot allocate {len} bytes to read the file"),
        )
    })?;
    let got = read_up_to(&mut file, &mut buf)?;
    buf.truncate(got);
    Ok(FileBytes::Owned(buf))
}

/// `size` zero bytes, or None when the allocator cannot give them (instead of aborting, as
/// `vec![0; size]` does). Zeroed by the allocator: large blocks come zeroed from the
/// kernel, with no pass over them here.
fn zeroed(size: usize) -> Option<Vec<u8>> {
    let layout = std::alloc::Layout::array::<u8>(size).ok()?;
    if size == 0 {
        return Some(Vec::new());
    }
    // SAFETY: the layout's size is not zero. A non-null pointer is a block of `size` zeroed
    // (so initialised) bytes from the global allocator with the layout of `[u8; size]`,
    // which is what `Vec::from_raw_parts` needs for a length and capacity of `size`.
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    (!p.is_null()).then(|| unsafe { Vec::from_raw_parts(p, size, size) })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Resident pages of this process backed by files (the `shared` field of statm).
    fn resident_file_pages() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        statm
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn pager_gives_back_the_pages_of_a_large_mapped_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.bin");
        let size = PAGE_OUT_THRESHOLD + (32 << 20);
        std::fs::write(&path, vec![0x5au8; size]).unwrap();
        let bytes = read_file(&path).unwrap();
        assert!(matches!(bytes, FileBytes::Mapped(_)));
        let before = resident_file_pages();
        // Touch every page.
        let sum: u64 = bytes.iter().step_by(4096).map(|&b| u64::from(b)).sum();
        assert_eq!(sum, 0x5a * (size as u64 / 4096));
        let touched = resident_file_pages();
        assert!(
            touched >= before + (size as u64 / 4096) * 9 / 10,
            "{before} -> {touched}"
        );
        bytes.pager().release(&bytes);
        let released = resident_file_pages();
        assert!(
            released + (size as u64 / 4096) * 9 / 10 <= touched,
            "{touched} -> {released}"
        );
        // The bytes read the same afterwards.
        assert!(bytes.iter().step_by(4093).all(|&b| b == 0x5a));
        // Parts outside the map, and small files, are left alone.
        bytes.pager().release(&[1, 2, 3]);
        assert!(FileBytes::Owned(vec![0; 10]).pager().map.is_none());
    }

    /// `read_file` on `path` in a thread: its result, or None if it did not return within
    /// five seconds (it is waiting on something).
    fn read_within_seconds(path: &Path) -> Option<std::io::Result<usize>> {
        let path = path.to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read_file(&path).map(|b| b.len()));
        });
        rx.recv_timeout(std::time::Duration::from_secs(5)).ok()
    }

    #[test]
    fn a_fifo_in_place_of_a_file_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("libc.so.3");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        // No writer ever opens it: a blocking open would wait forever.
        let err = read_within_seconds(&fifo)
            .expect("read_file waited on a FIFO")
            .unwrap_err();
        assert!(
            err.to_string().contains("not a regular file (FIFO)"),
            "{err}"
        );
    }

    #[test]
    fn devices_and_links_are_refused_and_named_files_follow_links() {
        let err = read_file(Path::new("/dev/zero"))
            .err()
            .expect("a device is no file");
        assert!(err.to_string().contains("character device"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, b"\x7fELF").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        // A link found where the walk saw a file is not followed...
        let err = read_file(&link).err().expect("a link is not followed");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // ...a file the user names through a link is.
        assert_eq!(&*read_named_file(&link).unwrap(), b"\x7fELF");
    }

    #[test]
    fn named_devices_are_read_up_to_the_bound_and_fifos_refused_at_once() {
        // A character device with no end: read up to the bound, the rest said unread.
        let zero = open_input(Path::new("/dev/zero"), FinalLink::Followed).unwrap();
        let bound = 3 * DEVICE_READ_STEP as u64 + 5;
        let bytes = read_device(zero, bound).unwrap();
        assert_eq!(bytes.len() as u64, bound);
        assert!(bytes.iter().all(|&b| b == 0));
        assert!(bytes.pager().map.is_none(), "never mapped");
        let unread = bytes.unread().expect("more than the bound");
        assert_eq!(unread.offset, bound);
        assert!(unread.reason.contains(&format!("more than {bound} bytes")));
        // One that ends: all of it, nothing unread.
        let bytes = read_named_file(Path::new("/dev/null")).unwrap();
        assert!(matches!(bytes, FileBytes::Device { .. }));
        assert_eq!((bytes.len(), bytes.unread()), (0, None));
        // A FIFO named by the user is no device: refused at once, never waited on.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("flash");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read_named_file(&fifo).map(|b| b.len()));
        });
        let err = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("read_named_file waited on a FIFO")
            .unwrap_err();
        assert!(
            err.to_string().contains("not a regular file (FIFO)"),
            "{err}"
        );
    }

    #[test]
    fn medium_files_are_read_so_truncating_them_cannot_fault() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("boot.ifs");
        let size = MAP_THRESHOLD as usize - 1;
        std::fs::write(&path, vec![0xa5u8; size]).unwrap();
        let bytes = read_file(&path).unwrap();
        assert!(matches!(bytes, FileBytes::Owned(_) | FileBytes::Spare(_)));
        // Truncated while it is examined: a mapped copy would lose its pages past the end.
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        assert_eq!(bytes.len(), size);
        assert!(bytes.iter().all(|&b| b == 0xa5));
        // At the threshold, files are mapped.
        std::fs::write(&path, vec![0u8; MAP_THRESHOLD as usize]).unwrap();
        assert!(matches!(read_file(&path).unwrap(), FileBytes::Mapped(_)));
    }

    #[test]
    fn a_mapped_file_that_shrinks_reads_zeros_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flash.bin");
        let size = 4 * MAP_THRESHOLD as usize;
        std::fs::write(&path, vec![0x3cu8; size]).unwrap();
        let bytes = read_file(&path).unwrap();
        assert!(matches!(bytes, FileBytes::Mapped(_)));
        assert_eq!(bytes.shrunk(), None, "unchanged");
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_len(MAP_THRESHOLD + 100).unwrap();
        // Shrunk, nothing read past the end yet: said, with no zeros read.
        let untouched = bytes.shrunk().expect("smaller than mapped");
        assert_eq!(
            (untouched.size, untouched.zeros_from),
            (MAP_THRESHOLD + 100, None)
        );
        assert_eq!(untouched.offset(), MAP_THRESHOLD + 100);
        // Every byte read: the file's up to its last page, zeros after, and no SIGBUS.
        let page = MAP_THRESHOLD + 4096;
        let nonzero = bytes.iter().rposition(|&b| b != 0).map(|i| i as u64);
        assert_eq!(nonzero, Some(MAP_THRESHOLD + 99));
        let shrunk = bytes.shrunk().unwrap();
        assert_eq!(
            shrunk,
            Shrunk {
                size: MAP_THRESHOLD + 100,
                mapped: size as u64,
                zeros_from: Some(page),
            }
        );
        assert_eq!(shrunk.offset(), page);
        assert!(
            shrunk.reason().starts_with(&format!(
                "file changed during the scan (shrank to {} bytes; bytes from offset {page:#x} \
                 read as zeros)",
                MAP_THRESHOLD + 100
            )),
            "{}",
            shrunk.reason()
        );
        // Dropped: its slot is free again, and a new map of the file is sound.
        drop(bytes);
        let again = read_named_file(&path).unwrap();
        assert_eq!(
            (again.len() as u64, again.shrunk()),
            (MAP_THRESHOLD + 100, None)
        );
    }

    #[test]
    fn small_files_reuse_one_buffer_per_thread_and_keep_their_own_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (big, small) = (dir.path().join("big"), dir.path().join("small"));
        std::fs::write(&big, vec![0xeeu8; 300_000]).unwrap();
        std::fs::write(&small, b"abc").unwrap();
        let first = read_file(&big).unwrap();
        let at = first.as_ptr();
        assert_eq!((first.len(), first[299_999]), (300_000, 0xee));
        drop(first);
        // The next file lands in the same buffer and shows only its own bytes.
        let second = read_file(&small).unwrap();
        assert!(matches!(second, FileBytes::Spare(_)));
        assert_eq!((&*second, second.as_ptr()), (&b"abc"[..], at));
        // Read while the buffer is in use: a buffer of its own.
        let third = read_file(&big).unwrap();
        assert_ne!(third.as_ptr(), at);
        assert_eq!((&*second, third.len()), (&b"abc"[..], 300_000));
        // Above the bound: not kept for reuse.
        let over = dir.path().join("over");
        std::fs::write(&over, vec![1u8; MAX_SPARE_READ + 1]).unwrap();
        let file = std::fs::File::open(&over).unwrap();
        let bytes = read_into_memory(file, MAX_SPARE_READ as u64 + 1).unwrap();
        assert!(matches!(bytes, FileBytes::Owned(_)));
    }

    #[test]
    fn a_file_read_into_memory_beyond_what_can_be_allocated_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse.bin");
        let file = std::fs::File::create(&path).unwrap();
        // More than the address space allows: reserving it fails, and says so.
        let len = 1u64 << 62;
        let err = read_into_memory(file, len)
            .err()
            .expect("cannot be allocated");
        assert_eq!(err.kind(), ErrorKind::OutOfMemory);
        assert!(
            err.to_string()
                .contains(&format!("cannot allocate {len} bytes")),
            "{err}"
        );
    }
}
