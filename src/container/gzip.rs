//! gzip streams (`.gz`, `.tar.gz`, and the zlib-compressed IFS imagefs), bounded.

use std::borrow::Cow;
use std::io::Read;

use flate2::bufread::{GzDecoder, MultiGzDecoder};

use super::{tar, too_big, Container, ContainerKind, Entry, EntryType, Limits, Note};
use crate::FormatError;

/// gzip magic and the only method in use (deflate).
pub fn detect(data: &[u8]) -> bool {
    data.len() >= 18 && data.get(..3) == Some(&[0x1f, 0x8b, 0x08][..])
}

/// Read `r` to the end, failing once more than `max` bytes come out. `consumed(&r)` is how
/// much compressed input the decoder has taken: errors are located there. `hint`: the size
/// expected, used for the first allocation only up to a few times the input (a header may
/// lie).
///
/// The decoder writes straight into the output, which grows by doubling: no bounce buffer,
/// no copy per chunk (inflating a boot image is a large part of a scan's time).
fn read_bounded<R: Read>(
    mut r: R,
    consumed: impl Fn(&R) -> u64,
    max: u64,
    hint: usize,
    what: &str,
    limits: &Limits,
) -> Result<Vec<u8>, FormatError> {
    // One byte past `max` is room enough to see that the stream goes past it.
    let cap = usize::try_from(max).unwrap_or(usize::MAX).saturating_add(1);
    let first = hint.clamp(64 * 1024, 64 << 20).min(cap);
    let mut out = super::buf_pool::take(first);
    out.resize(first, 0);
    let mut filled = 0;
    loop {
        if filled == out.len() {
            if out.len() >= cap {
                return Err(too_big(what, filled as u64, limits, Some(consumed(&r))));
            }
            let grown = out.len().saturating_mul(2).min(cap);
            out.resize(grown, 0);
        }
        let room = out.get_mut(filled..).unwrap_or(&mut []);
        match r.read(room) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(FormatError::at(
                    consumed(&r),
                    format!("{what}: corrupt deflate data after {filled} output bytes: {e}"),
                ))
            }
        }
        if filled as u64 > max {
            return Err(too_big(what, filled as u64, limits, Some(consumed(&r))));
        }
    }
    out.truncate(filled);
    Ok(out)
}

/// Decompress exactly one gzip member (as mkifs writes the zlib imagefs), at most `max` bytes.
pub fn gunzip_one(data: &[u8], max: u64, limits: &Limits) -> Result<Vec<u8>, FormatError> {
    let total = data.len() as u64;
    let consumed = |d: &GzDecoder<&[u8]>| total - d.get_ref().len() as u64;
    let hint = data.len().saturating_mul(4);
    read_bounded(GzDecoder::new(data), consumed, max, hint, "gzip", limits)
}

/// Decompress all concatenated gzip members, at most `limits.max_expanded` bytes.
pub fn gunzip_all(data: &[u8], limits: &Limits) -> Result<Vec<u8>, FormatError> {
    let total = data.len() as u64;
    read_bounded(
        MultiGzDecoder::new(data),
        |d: &MultiGzDecoder<&[u8]>| total - d.get_ref().len() as u64,
        limits.max_expanded,
        data.len().saturating_mul(4),
        "gzip",
        limits,
    )
}

/// The original file name from the gzip header, if any.
fn header_name(data: &[u8]) -> Option<String> {
    let d = GzDecoder::new(data);
    let name = d.header()?.filename()?;
    let s = crate::names::escape_name(name);
    let s = s.rsplit('/').next().unwrap_or("").to_string();
    if s.is_empty() || s == "." || s == ".." {
        None
    } else {
        Some(s)
    }
}

/// A gzip stream whose payload is not a tar: one entry, the payload.
pub struct GzipBlob {
    payload: Vec<u8>,
    entries: Vec<Entry>,
    notes: Vec<Note>,
}

impl Container for GzipBlob {
    fn resident_bytes(&self) -> u64 {
        self.payload.len() as u64
    }

    fn kind(&self) -> ContainerKind {
        ContainerKind::Gzip
    }
    fn entries(&self) -> &[Entry] {
        &self.entries
    }
    fn read(&self, entry: &Entry) -> Result<Cow<'_, [u8]>, FormatError> {
        if entry.entry_type != EntryType::File {
            return Err(FormatError::new(format!(
                "{}: not a regular file",
                entry.path
            )));
        }
        Ok(Cow::Borrowed(&self.payload))
    }
    fn notes(&self) -> &[Note] {
        &self.notes
    }
}

/// Open a gzip stream: a tar payload gives its entries, anything else one entry named after
/// the header's file name (or `payload`).
pub fn open<'a>(data: &'a [u8], limits: &Limits) -> Result<Box<dyn Container + 'a>, FormatError> {
    if !detect(data) {
        return Err(FormatError::at(0, "not a gzip stream (no 1f 8b 08 magic)"));
    }
    let payload = gunzip_all(data, limits)?;
    let mut notes = vec![Note::new(
        "compression",
        format!(
            "gzip: {} bytes expand to {} bytes",
            data.len(),
            payload.len()
        ),
        Some(0),
    )];
    if tar::detect(&payload) {
        notes.push(Note::new("payload", "tar archive", None));
        let t = tar::Tar::from_owned(payload, limits, ContainerKind::Gzip, notes)?;
        return Ok(Box::new(t));
    }
    let name = header_name(data).unwrap_or_else(|| "payload".to_string());
    let entry = Entry::new(name, EntryType::File, 0o100644, payload.len() as u64);
    Ok(Box::new(GzipBlob {
        payload,
        entries: vec![entry],
        notes,
    }))
}
