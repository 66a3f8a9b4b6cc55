//! Reading one file's bytes: memory-mapped where the platform allows (only the pages that
//! triage touches are read), a plain read otherwise. Always read-only.

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::Path;

/// Files smaller than this are read into memory: a map costs more than the read.
#[cfg(not(target_os = "nto"))]
const MMAP_THRESHOLD: u64 = 64 * 1024;

/// Mapped files at least this large give their pages back as the scan moves on (see
/// [`Pager`]); smaller ones are unmapped soon enough.
pub const PAGE_OUT_THRESHOLD: usize = 64 << 20;

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

impl FileBytes {
    /// What lets the scan give back the pages of this file it is done with.
    pub fn pager(&self) -> Pager<'_> {
        match self {
            #[cfg(all(unix, not(target_os = "nto")))]
            FileBytes::Mapped(m) if m.len() >= PAGE_OUT_THRESHOLD => Pager { map: Some(m) },
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
}
