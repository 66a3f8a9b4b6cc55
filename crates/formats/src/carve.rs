//! Finding containers at any offset of a raw dump (flash images, disk images, memory).
//!
//! Each format has a short signature, found in one pass over the dump at memory speed (see
//! [`super::pair_filter`]); each hit is then validated with the format's own rules, so
//! stray signature bytes (in BIOS code, compressed data, random padding) are not reported:
//! - IFS startup header (`eb 7e ff 00` / `00 ff 7e eb`): version, header size, the zero
//!   fields, sane sizes, and a startup checksum of zero (or an image header where the
//!   startup size puts it, decoded from the first block when compressed; or a startup part
//!   cut off by the end of the dump).
//! - bare imagefs (`imagefs`/`sfegami`): header fields consistent, directory plausible, not
//!   the image header of an IFS already found.
//! - QNX6 (`eb 10 90 00` boot block): a superblock where the boot block says (a wrong CRC
//!   is damage, still QNX6).
//! - QNX4 (`/` + 15 NULs at partition + 0x200): root directory inode and its `.` entry.
//! - EFS boot info (`QSSL_F3S`) and ETFS file table (`.filetable`): the flash file
//!   systems, resolved once for the whole buffer ([`super::carve_flash`]).
//!
//! [`images_of`] is how `scan` and `ls` both walk a file's images: the one it starts with,
//! then those carved outside the bytes each opened image claims (its `span`).

use memchr::memmem;

pub use super::carve_cut::{Cut, CutBound, MAX_CARVED_PER_FILE};
use super::carve_flash::{self, Candidates};
use super::{efs, etfs, ifs, qnx4, qnx6, ContainerKind};

/// Files (and parts of files outside the images found in them) smaller than this are not
/// carved: the smallest image with a C library in it is far larger, and small files are
/// most of a tree.
pub const MIN_CARVE_SIZE: usize = 64 * 1024;

/// Offsets and kinds of the validated container signatures in `data`, sorted by offset,
/// at most [`MAX_CARVED_PER_FILE`] of them.
/// An IFS is reported at the start of its preboot stub (header offset - `preboot_size`),
/// so `detect`/`open` on `&data[offset..]` find it.
/// Nested containers (an IFS inside a QNX4 `.boot` file stored contiguously) are reported
/// too: [`images_of`] decides which of them to take.
pub fn carve(data: &[u8]) -> Vec<(u64, ContainerKind)> {
    carve_paged(data, &|_| {}).found
}

/// What [`carve_paged`] found.
pub struct Carved {
    /// Validated signatures, sorted by offset, at most [`MAX_CARVED_PER_FILE`].
    pub found: Vec<(u64, ContainerKind)>,
    /// Validated signatures past the bound, not kept.
    pub cut: Option<Cut>,
}

impl Cut {
    /// Why the signatures were not examined, for an error message.
    pub fn reason(&self) -> String {
        match self.bound {
            CutBound::Count => format!("more than {MAX_CARVED_PER_FILE} in one file"),
            CutBound::FlashWork => format!(
                "the work of finding flash file systems would pass {} times the bytes \
                 carved plus {} MiB",
                super::carve_flash::FLASH_WORK_PER_BYTE,
                super::carve_flash::FLASH_WORK_BASE >> 20
            ),
        }
    }
}

/// [`carve`], calling `done(chunk)` after each chunk of `data` has been searched, so a
/// caller scanning a memory-mapped file can give those pages back as it goes.
pub fn carve_paged(data: &[u8], done: &(dyn Fn(&[u8]) + Sync)) -> Carved {
    carve_from(data, 0, done)
}

/// [`carve_paged`] of the signatures from offset `from` on (offsets stay those of `data`:
/// flash file systems are found on unit and block boundaries counted from its start).
/// Nothing found starts before `from`.
pub fn carve_from(data: &[u8], from: usize, done: &(dyn Fn(&[u8]) + Sync)) -> Carved {
    use rayon::prelude::*;
    let chunks: Vec<ChunkHits> = if data.len().saturating_sub(from) <= PAR_THRESHOLD {
        vec![ChunkHits::of(data, from, data.len())]
    } else {
        // Chunks searched in parallel; a signature is found in the chunk where it starts
        // (each chunk's haystack reaches a little past its end), and validation always
        // sees the whole buffer.
        let starts: Vec<usize> = (from..data.len()).step_by(CHUNK).collect();
        starts
            .par_iter()
            .map(|&s| {
                let end = (s + CHUNK).min(data.len());
                let hits = ChunkHits::of(data, s, end);
                done(data.get(s..end).unwrap_or(&[]));
                hits
            })
            .collect()
    };
    let mut cut: Option<Cut> = None;
    let mut hits = Vec::new();
    let mut flash = Vec::new();
    for c in chunks {
        for c in [c.cut, c.flash.cut].into_iter().flatten() {
            cut = Some(Cut::merge(cut, c));
        }
        hits.extend(c.hits);
        flash.push(c.flash);
    }
    let (flash_found, flash_cut) = carve_flash::resolve(data, from, flash);
    if let Some(c) = flash_cut {
        cut = Some(Cut::merge(cut, c));
    }
    // A bare imagefs that is the image header of an IFS found by its startup header is
    // part of that IFS.
    let owned: std::collections::HashSet<usize> =
        hits.iter().filter_map(|h| h.image_header).collect();
    let mut found: Vec<(u64, ContainerKind)> = hits
        .iter()
        .filter(|h| !(h.bare_image && owned.contains(&h.at)) && h.report >= from)
        .map(|h| (h.report as u64, h.kind))
        .chain(flash_found)
        .collect();
    found.sort_by_key(|&(o, _)| o);
    found.dedup();
    if let Some(&(first, kind)) = found.get(MAX_CARVED_PER_FILE) {
        let more = (found.len() - MAX_CARVED_PER_FILE) as u64;
        cut = Some(Cut::merge(
            cut,
            Cut {
                more,
                first,
                kind,
                bound: CutBound::Count,
            },
        ));
        found.truncate(MAX_CARVED_PER_FILE);
    }
    // Signatures cut in one chunk lie before others kept from a later one: only those
    // before the first cut are kept.
    if let Some(c) = cut {
        let before = found.len();
        found.retain(|&(o, _)| o < c.first);
        cut = Some(Cut {
            more: c.more + (before - found.len()) as u64,
            ..c
        });
    }
    Carved { found, cut }
}

/// The validated hits of one chunk, at most [`MAX_CARVED_PER_FILE`] (the first by
/// offset): a dense dump cannot make the carver hold a hit for every few bytes. The flash
/// signatures, bounded the same way, are resolved later for the whole buffer.
struct ChunkHits {
    hits: Vec<Hit>,
    cut: Option<Cut>,
    flash: Candidates,
}

impl ChunkHits {
    /// The hits of the signatures starting in `data[from..to]`.
    fn of(data: &[u8], from: usize, to: usize) -> ChunkHits {
        let (mut hits, flash) = carve_range(data, from, to);
        hits.sort_by_key(|h| h.report);
        let cut = hits.get(MAX_CARVED_PER_FILE).map(|h| Cut {
            more: (hits.len() - MAX_CARVED_PER_FILE) as u64,
            first: h.report as u64,
            kind: h.kind,
            bound: CutBound::Count,
        });
        hits.truncate(MAX_CARVED_PER_FILE);
        ChunkHits { hits, cut, flash }
    }
}

/// How the caller of [`images_of`] took an image.
pub enum Taken {
    /// Opened; `span`: the bytes from its offset it claims ([`super::Container::span`]).
    Opened { span: Option<u64> },
    /// Recognised but not opened (damaged, too deep, over a budget).
    NotOpened,
    /// The caller takes no more images from this input now (it will examine the file
    /// again later, or it has reached a bound of its own): nothing more is offered.
    Later,
}

/// What [`images_of`] went through.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The kind of the image offered at offset 0, when the file starts with one.
    pub at_start: Option<ContainerKind>,
    /// Images carved from the rest and offered.
    pub carved: usize,
    /// Validated signatures past [`MAX_CARVED_PER_FILE`], not offered (offsets in the
    /// file).
    pub cut: Option<Cut>,
}

/// The images of one file, as `scan` and `ls` both take them: the image at offset 0 (if
/// the file starts with one), then the images carved from the rest, in offset order.
/// `take(offset, kind)` opens each and says what it claims: an opened image claims its
/// [`span`](super::Container::span) (the whole file when its format does not say, as for
/// a tar), and a signature inside a claimed span is not offered (it is reached through
/// the entries of the image that claims it). Everything outside the spans is carved, so an
/// image behind a file system or after a boot image is examined. Files and remainders
/// under [`MIN_CARVE_SIZE`] are not carved; past [`MAX_CARVED_PER_FILE`] signatures
/// nothing more is offered (`Layout::cut`).
///
/// Linear: one carving pass, then one walk over the signatures in order.
pub fn images_of(
    data: &[u8],
    done: &(dyn Fn(&[u8]) + Sync),
    take: &mut dyn FnMut(u64, ContainerKind) -> Taken,
) -> Layout {
    let mut layout = Layout::default();
    let len = data.len() as u64;
    // Everything before `claimed` belongs to an image already taken.
    let mut claimed = 0u64;
    let first = super::detect(data);
    if let Some(kind) = first {
        layout.at_start = Some(kind);
        match take(0, kind) {
            Taken::Opened { span } => claimed = span.unwrap_or(len).min(len),
            Taken::Later => return layout,
            Taken::NotOpened => {}
        }
    }
    let from = usize::try_from(claimed).unwrap_or(usize::MAX);
    if data.len().saturating_sub(from) < MIN_CARVE_SIZE {
        return layout;
    }
    let carved = carve_from(data, from, done);
    layout.cut = carved.cut;
    for (offset, kind) in carved.found {
        // The image at offset 0, not opened, is found again by the carver.
        if offset < claimed || (offset == 0 && first == Some(kind)) {
            continue;
        }
        match take(offset, kind) {
            Taken::Opened { span } => {
                claimed = claimed.max(offset.saturating_add(span.unwrap_or(0)));
            }
            Taken::NotOpened => {}
            Taken::Later => return layout,
        }
        layout.carved += 1;
    }
    layout
}

/// Buffers up to this size are searched on the calling thread.
const PAR_THRESHOLD: usize = 32 << 20;
/// Chunk size for the parallel search.
const CHUNK: usize = 16 << 20;
/// Longest signature, minus one: how far a chunk's haystack reaches past its end.
const OVERLAP: usize = 15;

struct Hit {
    /// Where the signature is.
    at: usize,
    /// Where the container starts (an IFS's preboot stub).
    report: usize,
    kind: ContainerKind,
    /// For an IFS startup header: where its image header is.
    image_header: Option<usize>,
    bare_image: bool,
}

/// How many signatures there are: one per pair of the prefilter.
const SIGNATURE_COUNT: usize = super::pair_filter::PAIRS;

/// The signatures: IFS startup header (both byte orders), bare image header (both byte
/// orders), QNX6 boot block, QNX4 root directory entry (at partition + 0x200), EFS boot
/// info, ETFS file table name.
const SIGNATURES: [&[u8]; SIGNATURE_COUNT] = [
    &[0xeb, 0x7e, 0xff, 0x00],
    &[0x00, 0xff, 0x7e, 0xeb],
    b"imagefs",
    b"sfegami",
    &[0xeb, 0x10, 0x90, 0x00],
    b"/\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
    efs::SIGNATURE,
    etfs::TABLE_SIGNATURE,
];

/// Positions of each of [`SIGNATURES`].
type SignatureHits = [Vec<usize>; SIGNATURE_COUNT];

/// All signatures in one SIMD pass (aho-corasick's packed "Teddy" searcher), where the
/// AVX2 pair filter is not available. `None` where the CPU has no SIMD support for it.
fn searcher() -> Option<&'static aho_corasick::packed::Searcher> {
    static SEARCHER: std::sync::OnceLock<Option<aho_corasick::packed::Searcher>> =
        std::sync::OnceLock::new();
    SEARCHER
        .get_or_init(|| {
            let mut b = aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                .builder();
            b.extend(SIGNATURES);
            b.build()
        })
        .as_ref()
}

/// Positions (absolute) of each signature starting in `data[from..to]`, in order.
/// Overlapping occurrences count: after a hit at `p` the search resumes at `p + 1`, so a
/// decoy cannot hide a real signature that shares bytes with it.
fn signature_hits(data: &[u8], from: usize, to: usize) -> SignatureHits {
    let mut found: SignatureHits = Default::default();
    let hay = data
        .get(..to.saturating_add(OVERLAP).min(data.len()))
        .unwrap_or(&[]);
    if !pair_filter_hits(hay, from, to, &mut found) && !teddy_hits(hay, from, to, &mut found) {
        memmem_hits(hay, from, to, &mut found);
    }
    found
}

/// The first two bytes of each signature, for [`super::pair_filter`].
const PAIRS: [[u8; 2]; SIGNATURE_COUNT] = {
    let mut pairs = [[0u8; 2]; SIGNATURE_COUNT];
    let mut k = 0;
    while k < SIGNATURES.len() {
        pairs[k] = [SIGNATURES[k][0], SIGNATURES[k][1]];
        k += 1;
    }
    pairs
};

/// [`signature_hits`] through the AVX2 two-byte prefilter, each candidate checked against
/// the whole signatures. `false` where the CPU has no AVX2.
fn pair_filter_hits(hay: &[u8], from: usize, to: usize, found: &mut SignatureHits) -> bool {
    super::pair_filter::candidates(hay, from, to, &PAIRS, &mut |p| {
        let rest = hay.get(p..).unwrap_or(&[]);
        for (sig, out) in SIGNATURES.iter().zip(found.iter_mut()) {
            if rest.starts_with(sig) {
                out.push(p);
            }
        }
    })
}

/// [`signature_hits`] through aho-corasick's packed "Teddy" searcher (SSSE3/AVX2 on x86,
/// NEON on aarch64): all signatures in one pass. `false` where the CPU has no SIMD
/// support for it.
fn teddy_hits(hay: &[u8], from: usize, to: usize, found: &mut SignatureHits) -> bool {
    let Some(s) = searcher() else {
        return false;
    };
    let mut at = from;
    while at < to {
        let Some(m) = s.find_in(hay, aho_corasick::Span::from(at..hay.len())) else {
            break;
        };
        if m.start() >= to {
            break;
        }
        if let Some(v) = found.get_mut(m.pattern().as_usize()) {
            v.push(m.start());
        }
        // A pattern that is a prefix-overlap of another may start inside this match.
        at = m.start() + 1;
    }
    true
}

/// [`signature_hits`] one memchr pass per signature: where no SIMD searcher is available,
/// and the reference the SIMD paths are tested against.
fn memmem_hits(hay: &[u8], from: usize, to: usize, found: &mut SignatureHits) {
    let win = hay.get(from..).unwrap_or(&[]);
    for (sig, out) in SIGNATURES.iter().zip(found.iter_mut()) {
        out.extend(
            memmem::find_iter(win, sig)
                .map(|p| p + from)
                .filter(|&p| p < to),
        );
    }
}

/// Validated hits whose signature starts in `data[from..to]`, and the flash signatures
/// there (resolved later, for the whole buffer).
fn carve_range(data: &[u8], from: usize, to: usize) -> (Vec<Hit>, Candidates) {
    let span = to.saturating_sub(from);
    let [ifs_le, ifs_be, image_le, image_be, qnx6_boot, qnx4_root, efs_boot, etfs_table] =
        signature_hits(data, from, to);
    let mut out = Vec::new();
    // Checksum work allowed in this range (see `ifs::valid_startup_at`).
    let mut budget = (span as u64).saturating_mul(2).saturating_add(32 << 20);
    for (hits, big) in [(ifs_le, false), (ifs_be, true)] {
        for pos in hits {
            if ifs::valid_startup_at(data, pos, big, &mut budget) {
                // Report the start of the image: the preboot stub, if the header says so.
                let pre = ifs::preboot_size_at(data, pos, big).unwrap_or(0);
                out.push(Hit {
                    at: pos,
                    // (Not before the bytes carved: a stub there is another image's.)
                    report: if pre <= pos - from { pos - pre } else { pos },
                    kind: ContainerKind::Ifs,
                    image_header: ifs::image_header_pos(data, pos, big),
                    bare_image: false,
                });
            }
        }
    }
    for pos in image_le.into_iter().chain(image_be) {
        if ifs::valid_image_at(data, pos) {
            out.push(Hit {
                at: pos,
                report: pos,
                kind: ContainerKind::Ifs,
                image_header: None,
                bare_image: true,
            });
        }
    }
    for pos in qnx6_boot {
        if qnx6::valid_at(data, pos) {
            out.push(Hit {
                at: pos,
                report: pos,
                kind: ContainerKind::Qnx6,
                image_header: None,
                bare_image: false,
            });
        }
    }
    for pos in qnx4_root {
        if pos >= 0x200 && qnx4::valid_at(data, pos - 0x200) {
            out.push(Hit {
                at: pos,
                report: pos - 0x200,
                kind: ContainerKind::Qnx4,
                image_header: None,
                bare_image: false,
            });
        }
    }
    (out, carve_flash::candidates(data, efs_boot, etfs_table))
}

#[cfg(test)]
mod signature_tests {
    use super::*;

    #[test]
    fn overlapping_signatures_are_all_found() {
        // An LE startup signature whose last byte starts a BE one, then a QNX6 boot block,
        // in a buffer long enough for the SIMD searcher.
        let mut data = vec![0x55u8; 4096];
        data[100..107].copy_from_slice(&[0xeb, 0x7e, 0xff, 0x00, 0xff, 0x7e, 0xeb]);
        data[2000..2004].copy_from_slice(&[0xeb, 0x10, 0x90, 0x00]);
        data[3000..3007].copy_from_slice(b"imagefs");
        let [le, be, image, _, qnx6, ..] = signature_hits(&data, 0, data.len());
        assert_eq!(le, [100]);
        assert_eq!(be, [103]);
        assert_eq!(qnx6, [2000]);
        assert_eq!(image, [3000]);
        // Only the part of the range asked for.
        let [le, ..] = signature_hits(&data, 101, 4096);
        assert!(le.is_empty());
    }

    #[test]
    fn simd_search_matches_the_memchr_reference() {
        // Pseudo-random bytes with every signature planted at offsets around 64-byte
        // vector boundaries, overlapping, and at the very end; searched over many sub-ranges.
        let mut x: u32 = 22156;
        let mut data: Vec<u8> = (0..20_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                // Bias towards signature bytes so partial matches are common.
                [0xeb, 0x7e, 0x00, 0xff, b'i', b's', b'/', (x >> 8) as u8][(x >> 24) as usize % 8]
            })
            .collect();
        let mut at = 0;
        for (k, sig) in SIGNATURES.iter().cycle().take(120).enumerate() {
            at += 61 + k % 7;
            data[at..at + sig.len()].copy_from_slice(sig);
        }
        let n = data.len();
        data[n - 4..].copy_from_slice(SIGNATURES[0]);
        for (from, to) in [
            (0, n),
            (1, n),
            (63, n - 3),
            (64, 129),
            (4000, 4001),
            (n - 70, n),
        ] {
            let mut reference: SignatureHits = Default::default();
            let hay = &data[..(to + OVERLAP).min(n)];
            memmem_hits(hay, from, to, &mut reference);
            assert_eq!(
                signature_hits(&data, from, to),
                reference,
                "range {from}..{to}"
            );
            // Each SIMD strategy on its own, where this CPU has it.
            let mut pair: SignatureHits = Default::default();
            if pair_filter_hits(hay, from, to, &mut pair) {
                assert_eq!(pair, reference, "pair filter, range {from}..{to}");
            }
            let mut teddy: SignatureHits = Default::default();
            if teddy_hits(hay, from, to, &mut teddy) {
                assert_eq!(teddy, reference, "teddy, range {from}..{to}");
            }
            assert!(reference.iter().map(Vec::len).sum::<usize>() > 0 || to - from < 200);
        }
    }
}
