//! gzip streams (`.gz`, `.tar.gz`, and the zlib-compressed IFS imagefs), bounded.

use std::borrow::Cow;
use std::io::Read;

use flate2::bufread::{GzDecoder, MultiGzDecoder};

use super::{tar, too_big, Container, ContainerKind, Entry, EntryType, Limits, Note};
use crate::{ErrorKind, FormatError};

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
/// no copy per chunk (inflating a boot image is a large part of a scan's time). It never
/// holds more than `max` bytes of room (see [`super::grow_zeroed`]): once it is full, one
/// byte more read into a buffer of its own says whether the stream goes past the bound. A
/// buffer that cannot be allocated is an error.
fn read_bounded<R: Read>(
    mut r: R,
    consumed: impl Fn(&R) -> u64,
    max: u64,
    hint: usize,
    what: &str,
    limits: &Limits,
) -> Result<Vec<u8>, FormatError> {
    let cap = usize::try_from(max).unwrap_or(usize::MAX);
    let first = hint.clamp(64 * 1024, 64 << 20).min(cap);
    let mut out = super::buf_pool::take(first, cap);
    let mut filled = 0;
    loop {
        if filled == out.len() {
            if filled >= cap {
                return match read_some(&mut r, &mut [0u8; 1]) {
                    Ok(0) => break,
                    Ok(_) => Err(too_big(
                        what,
                        max.saturating_add(1),
                        limits,
                        Some(consumed(&r)),
                    )),
                    Err(e) => Err(corrupt(what, filled, &e, consumed(&r))),
                };
            }
            let grown = out.len().saturating_mul(2).clamp(first, cap);
            if super::grow_zeroed(&mut out, grown, cap).is_err() {
                return Err(super::out_of_memory(what, grown as u64, Some(consumed(&r))));
            }
        }
        let room = out.get_mut(filled..).unwrap_or(&mut []);
        match read_some(&mut r, room) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => return Err(corrupt(what, filled, &e, consumed(&r))),
        }
    }
    out.truncate(filled);
    Ok(out)
}

/// `r.read(buf)`, retried when interrupted.
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A decoder error: the stream ending early is truncation, anything else corruption.
fn corrupt(what: &str, filled: usize, e: &std::io::Error, at: u64) -> FormatError {
    let kind = if e.kind() == std::io::ErrorKind::UnexpectedEof {
        ErrorKind::Truncated
    } else {
        ErrorKind::Corrupt
    };
    FormatError::at(
        kind,
        at,
        format!("{what}: corrupt deflate data after {filled} output bytes: {e}"),
    )
}

/// Decompress exactly one gzip member (as mkifs writes the zlib imagefs), at most `max` bytes.
/// Also gives the member's length in `data`: the decoder takes its input byte by byte from
/// the slice, through the trailer and no further, so nothing after it decides the output.
pub fn gunzip_one(data: &[u8], max: u64, limits: &Limits) -> Result<(Vec<u8>, u64), FormatError> {
    let total = data.len() as u64;
    let consumed = |d: &GzDecoder<&[u8]>| total - d.get_ref().len() as u64;
    let hint = data.len().saturating_mul(4);
    let mut decoder = GzDecoder::new(data);
    let out = read_bounded(&mut decoder, |d| consumed(d), max, hint, "gzip", limits)?;
    Ok((out, consumed(&decoder)))
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
            return Err(FormatError::new(
                ErrorKind::Unsupported,
                format!("{}: not a regular file", entry.path),
            ));
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
        return Err(FormatError::at(
            ErrorKind::Corrupt,
            0,
            "not a gzip stream (no 1f 8b 08 magic)",
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn zeros_gz(n: usize) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, &vec![0u8; n]).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn the_output_never_has_more_room_than_the_bound() {
        // First guesses that double onto the bound exactly (the case that reserved twice the
        // bound), and outputs just under, at and just over it.
        let max: usize = 4 << 20;
        let limits = Limits {
            max_expanded: max as u64,
            ..Limits::default()
        };
        for size in [max - 1, max, max + 1, 3 << 20, 5 << 20] {
            let gz = zeros_gz(size);
            for hint in [64 << 10, 1 << 20, max / 3, max, 8 << 20] {
                let r = read_bounded(
                    GzDecoder::new(&gz[..]),
                    |_| 0,
                    max as u64,
                    hint,
                    "t",
                    &limits,
                );
                match r {
                    Ok(v) => {
                        assert!(size <= max, "{size} bytes passed a bound of {max}");
                        assert_eq!(v.len(), size);
                        assert!(v.capacity() <= max, "capacity {} > {max}", v.capacity());
                    }
                    Err(e) => {
                        assert!(size > max, "size {size} hint {hint}: {e}");
                        assert!(e.message.contains("exceed the limit"), "{e}");
                    }
                }
            }
        }
    }
}
