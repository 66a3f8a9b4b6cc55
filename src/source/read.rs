//! Reading one file's bytes: memory-mapped where the platform allows (only the pages that
//! triage touches are read), a plain read otherwise. Always read-only.

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::Path;

/// Files smaller than this are read into memory: a map costs more than the read.
const MMAP_THRESHOLD: u64 = 64 * 1024;

/// Hard cap on a single input file's size (1 TiB): anything larger is not a firmware file
/// we can reason about and would only exhaust the address space.
pub const MAX_FILE_SIZE: u64 = 1 << 40;

/// The bytes of one input file.
pub enum FileBytes {
    Owned(Vec<u8>),
    #[cfg(not(target_os = "nto"))]
    Mapped(memmap2::Mmap),
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Owned(v) => v,
            #[cfg(not(target_os = "nto"))]
            FileBytes::Mapped(m) => m,
        }
    }
}

/// Open `path` read-only and return its bytes.
pub fn read_file(path: &Path) -> std::io::Result<FileBytes> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len > MAX_FILE_SIZE {
        return Err(std::io::Error::other(format!(
            "file is {len} bytes, above the {MAX_FILE_SIZE}-byte limit"
        )));
    }
    #[cfg(not(target_os = "nto"))]
    if len >= MMAP_THRESHOLD {
        // SAFETY: the map is read-only and private to this process; if another process
        // truncates the file while we read it we may get SIGBUS, the accepted risk of every
        // mmap-based reader (ripgrep makes the same trade). Firmware trees under audit are
        // not being modified.
        if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
            return Ok(FileBytes::Mapped(map));
        }
    }
    // Read the size fstat gave, in one call for most files (no extra read to see EOF); a file
    // that shrank meanwhile is read as far as it goes, one that grew is read as it was.
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(FileBytes::Owned(buf))
}
