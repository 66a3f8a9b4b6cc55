//! QNX embedded transaction file system (ETFS, `fs-etfs-*`) on NAND flash.
//!
//! Layout (QNX `<fs/etfs.h>`; qnxmount `qnxmount/etfs/parser.ksy`): the device is a run of
//! pages, each a data cluster followed by its spare area, which holds the transaction of the
//! cluster: file id, cluster number within the file, the number of clusters written together,
//! a code for the transaction and one for the data (ok, ECC-corrected, erased, bad block...),
//! and a sequence number. Files are not stored in place: every write puts new versions of
//! the clusters somewhere else, so one cluster of a file may exist several times; the valid
//! version with the highest sequence number is the file's (for equal numbers, the later
//! page: pages of a block are written in order).
//!
//! File id 1 is the file table (`.filetable`): 64-byte entries, one per file id. A file
//! entry holds the file id of its extension (0: none), of its parent directory, mode, uid,
//! gid, atime, mtime, ctime, size, and a 32-byte name; an extension entry (top bit of its
//! first field set) holds 59 more bytes of the name of the entry that points at it. File id 0
//! is the root directory; 2 (`.badblks`), 3 (`.counts`), 4 (`.lost+found`) and 5
//! (`.reserved`) are the file system's own.
//!
//! Two spare layouts are read: the 16-byte transaction record (`struct etfs_trans`) that
//! `etfsctl -R` and `mketfs` write after each cluster (and qnxmount reads), and the 64-byte
//! (or 128-/224-byte) spare area of QNX's NAND drivers (`struct spare`: bad-block marks,
//! erase signature, transaction, ECC, CRCs). Cluster size (512 to 4096 bytes), spare size and
//! layout are found from the data: the one whose pages decode as transactions and whose file
//! table is found.
//!
//! This module knows nothing of ELF or QNX releases: it reads `&[u8]` and produces
//! [`Entry`]s; errors carry an offset and an [`EtfsErrorKind`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use super::{
    Container, ContainerKind, Endian, Entry, EntryType, KindOfError, Limits, Loc, LocatedError,
    Note,
};
use crate::layout::{parse_with, u32s, Parsed};
use crate::{ErrorKind, FormatError};
use nom::bytes::complete::take;
use nom::number::complete::{le_u16, u8};
use nom::Parser;

/// Size of a file table entry.
const FTABLE_ENTRY: usize = 64;
/// File ids index the file table with 15 bits (the 16th marks extension entries).
pub const MAX_FID: u32 = 0x8000;
/// File ids of the root directory, the file table, and the last of the file system's own.
const FID_ROOT: u32 = 0;
const FID_FTABLE: u32 = 1;
const FID_LOSTFOUND: u32 = 4;
const FID_RESERVED: u32 = 5;
/// Pages checked at the start before a layout is tried on the whole input.
const PREFILTER_PAGES: usize = 256;
/// Deepest directory nesting listed.
const MAX_DEPTH: usize = 256;
/// Longest symlink target read.
const MAX_LINK: u64 = 4096;
/// Short and extension name fields.
const SHORT_NAME: usize = 32;
const EXT_NAME: usize = 59;
/// Flag of the file system's own files (`.filetable`, `.badblks`, `.counts`, `.reserved`):
/// listed and extractable, not examined as firmware.
pub const FS_METADATA_FLAG: &str = super::FS_METADATA_FLAG;
const LE: Endian = Endian::Little;

/// What went wrong, for [`EtfsError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtfsErrorKind {
    /// No page layout decodes as ETFS transactions with a file table.
    NoLayout,
    /// A cluster of a file has no valid version.
    MissingCluster { fid: u32, cluster: u32 },
    /// The newest version of a cluster failed its data check.
    BadClusterData { fid: u32, cluster: u32 },
    /// A file larger than `Limits::max_expanded`.
    TooBig { size: u64, limit: u64 },
    /// More entries than `Limits::max_entries`.
    TooManyEntries(usize),
    /// The copy of a file could not be allocated (out of memory, an address-space limit).
    OutOfMemory { size: u64 },
}

/// An error of the ETFS reader: the offset in the image of the structure at fault (for a
/// missing cluster: the file's file-table entry, as the cluster itself is nowhere), and what.
pub type EtfsError = LocatedError<EtfsErrorKind>;

impl KindOfError for EtfsErrorKind {
    fn error_kind(&self) -> ErrorKind {
        use EtfsErrorKind::*;
        match self {
            TooBig { .. } | TooManyEntries(_) | OutOfMemory { .. } => ErrorKind::BoundHit,
            NoLayout | MissingCluster { .. } | BadClusterData { .. } => ErrorKind::Corrupt,
        }
    }
}

impl fmt::Display for EtfsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EtfsErrorKind::*;
        match self {
            NoLayout => write!(
                f,
                "no ETFS page layout (512-4096 byte clusters, transaction spare areas, file table)"
            ),
            MissingCluster { fid, cluster } => {
                write!(f, "ETFS cluster {cluster} of file id {fid} is missing")
            }
            BadClusterData { fid, cluster } => write!(
                f,
                "the newest version of ETFS cluster {cluster} of file id {fid} failed its data check"
            ),
            TooBig { size, limit } => {
                write!(f, "ETFS file of {size} bytes exceeds the limit of {limit} bytes")
            }
            TooManyEntries(n) => write!(f, "ETFS file table has more than {n} entries"),
            OutOfMemory { size } => write!(
                f,
                "ETFS file of {size} bytes: cannot allocate its copy (out of memory)"
            ),
        }
    }
}

/// How a spare area holds the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spare {
    /// `struct etfs_trans` (16 bytes: fid u32, cluster u32, nclusters u16, tacode, dacode,
    /// sequence u32), as written by `etfsctl -R` and `mketfs`.
    Trans,
    /// The spare area of QNX's NAND drivers: status bytes at 0 and 1 (0xff: good block),
    /// erase signature at 8, then nclusters at 22, cluster bits 16-23 at 23, sequence at 24,
    /// fid (u16) at 28, cluster bits 0-15 at 30; ECC and CRCs after.
    Nand,
}

/// A page layout: cluster size, spare size, spare format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    cluster: usize,
    spare: usize,
    kind: Spare,
}

impl Layout {
    fn page(&self) -> usize {
        self.cluster + self.spare
    }
}

/// The layouts tried, most common first.
const LAYOUTS: [Layout; 7] = [
    Layout {
        cluster: 2048,
        spare: 16,
        kind: Spare::Trans,
    },
    Layout {
        cluster: 1024,
        spare: 16,
        kind: Spare::Trans,
    },
    Layout {
        cluster: 512,
        spare: 16,
        kind: Spare::Trans,
    },
    Layout {
        cluster: 4096,
        spare: 16,
        kind: Spare::Trans,
    },
    Layout {
        cluster: 2048,
        spare: 64,
        kind: Spare::Nand,
    },
    Layout {
        cluster: 4096,
        spare: 128,
        kind: Spare::Nand,
    },
    Layout {
        cluster: 4096,
        spare: 224,
        kind: Spare::Nand,
    },
];

/// A decoded transaction.
#[derive(Debug, Clone, Copy)]
struct Trans {
    fid: u32,
    cluster: u32,
    sequence: u32,
    /// The data passed its check (ok or ECC-corrected).
    data_ok: bool,
}

/// What a page's spare area says.
#[derive(Debug, Clone, Copy)]
enum Page {
    Valid(Trans),
    /// Erased, bad or unreadable: a page ETFS has, but no cluster.
    Empty,
    /// Not an ETFS spare area.
    Invalid,
}

#[inline]
fn decode(layout: Layout, s: &[u8]) -> Page {
    match layout.kind {
        Spare::Trans => decode_trans(s),
        Spare::Nand => decode_nand(s),
    }
}

/// `struct etfs_trans` (codes: 0 ok, 1 ECC-corrected, 2 erased with stamp, 3 erased, 5 data
/// error, 6 device error, 7 factory bad block).
fn decode_trans(s: &[u8]) -> Page {
    let (Some(fid), Some(cluster), Some(n), Some(&ta), Some(&da), Some(sequence)) = (
        LE.u32(s, 0),
        LE.u32(s, 4),
        LE.u16(s, 8),
        s.get(10),
        s.get(11),
        LE.u32(s, 12),
    ) else {
        return Page::Invalid;
    };
    match ta & 0x0f {
        0 | 1 if fid < MAX_FID && n >= 1 => match da & 0x0f {
            0 | 1 => Page::Valid(Trans {
                fid,
                cluster,
                sequence,
                data_ok: true,
            }),
            5 | 6 => Page::Valid(Trans {
                fid,
                cluster,
                sequence,
                data_ok: false,
            }),
            _ => Page::Invalid,
        },
        2 | 3 | 5 | 6 | 7 => Page::Empty,
        _ => Page::Invalid,
    }
}

/// The QNX NAND drivers' spare area (CRCs are not checked: the driver's CRC function is its
/// own).
fn decode_nand(s: &[u8]) -> Page {
    let (Some(&status), Some(&status2)) = (s.first(), s.get(1)) else {
        return Page::Invalid;
    };
    if status != 0xff || status2 != 0xff {
        return Page::Empty; // a bad block
    }
    if s.get(16..).is_some_and(|r| r.iter().all(|&b| b == 0xff)) {
        return Page::Empty; // erased
    }
    let (Some(&n), Some(&hi), Some(sequence), Some(fid), Some(lo)) = (
        s.get(22),
        s.get(23),
        LE.u32(s, 24),
        LE.u16(s, 28),
        LE.u16(s, 30),
    ) else {
        return Page::Invalid;
    };
    if u32::from(fid) >= MAX_FID || n == 0 {
        return Page::Invalid;
    }
    Page::Valid(Trans {
        fid: u32::from(fid),
        cluster: (u32::from(hi) << 16) | u32::from(lo),
        sequence,
        data_ok: true,
    })
}

/// A file-table entry (`struct etfs_ftable_file`, 64 bytes, little-endian), as stored.
struct FtableEntry<'d> {
    efid: u16,
    pfid: u16,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u32,
    size: u32,
    short: &'d [u8],
}

/// Extension entry, parent, mode, uid, gid, atime, mtime, ctime, size, the short name.
fn parse_ftable_entry(b: &[u8]) -> Parsed<'_, FtableEntry<'_>> {
    let (rest, (efid, pfid, [mode, uid, gid, _atime, mtime, _ctime, size], short)) =
        (le_u16, le_u16, u32s::<7>(LE), take(SHORT_NAME)).parse(b)?;
    let entry = FtableEntry {
        efid,
        pfid,
        mode,
        uid,
        gid,
        mtime,
        size,
        short,
    };
    Ok((rest, entry))
}

/// An extension entry (`struct etfs_ftable_extname`): its fid with the top bit set, the fid
/// it continues, 59 more bytes of name, and its type (0: more name).
fn parse_ftable_extension(x: &[u8]) -> Parsed<'_, (u16, u16, &[u8], u8)> {
    (le_u16, le_u16, take(EXT_NAME), u8).parse(x)
}

/// The newest version of one cluster.
#[derive(Debug, Clone, Copy)]
struct Version {
    sequence: u32,
    page: usize,
    data_ok: bool,
    /// Versions seen of this cluster.
    count: u32,
}

/// Pages, decoded: the newest version of every (file id, cluster), and counts.
struct Scan {
    clusters: HashMap<(u32, u32), Version>,
    pages: usize,
    valid: usize,
    /// Pages from the start that decode as ETFS (valid or empty), up to the first that does
    /// not: the file system. What follows (a boot image, another partition, noise) is not
    /// read.
    extent_pages: usize,
    /// Pages up to the last of the extent that holds a valid transaction.
    used_pages: usize,
}

/// Decode the pages of `d` with `layout`, up to the first that does not decode.
fn scan(d: &[u8], layout: Layout) -> Scan {
    let page = layout.page();
    let pages = d.len() / page;
    let mut clusters: HashMap<(u32, u32), Version> = HashMap::new();
    let mut valid = 0;
    let mut extent_pages = pages;
    let mut used_pages = 0;
    for i in 0..pages {
        let s = d
            .get(i * page + layout.cluster..(i + 1) * page)
            .unwrap_or(&[]);
        let t = match decode(layout, s) {
            Page::Valid(t) => t,
            Page::Empty => continue,
            Page::Invalid => {
                extent_pages = i;
                break;
            }
        };
        valid += 1;
        used_pages = i + 1;
        let v = Version {
            sequence: t.sequence,
            page: i,
            data_ok: t.data_ok,
            count: 1,
        };
        clusters
            .entry((t.fid, t.cluster))
            .and_modify(|old| {
                let count = old.count + 1;
                // Equal sequence numbers: the later page of the block is the newer.
                if t.sequence >= old.sequence {
                    *old = v;
                }
                old.count = count;
            })
            .or_insert(v);
    }
    Scan {
        clusters,
        pages,
        valid,
        extent_pages,
        used_pages,
    }
}

/// Pages that must decode at the start of an input for it to be taken for ETFS when those
/// after them do not (a file system followed by something else in a dump).
const MIN_LEADING_PAGES: usize = 16;

/// The first pages decode with `layout`, one at least a valid transaction: the first and
/// all but a few of the others are ETFS pages, or the first [`MIN_LEADING_PAGES`] (or all
/// there are) before one that is not.
fn plausible_start(d: &[u8], layout: Layout) -> bool {
    let page = layout.page();
    let n = (d.len() / page).min(PREFILTER_PAGES);
    if n == 0 {
        return false;
    }
    let (mut valid, mut invalid) = (0, 0);
    // Leading pages that decode, and the valid ones among them, once one does not.
    let mut leading: Option<(usize, usize)> = None;
    for i in 0..n {
        match decode(
            layout,
            d.get(i * page + layout.cluster..(i + 1) * page)
                .unwrap_or(&[]),
        ) {
            Page::Valid(_) => valid += 1,
            Page::Empty => {}
            Page::Invalid => {
                // Most files are rejected by their first page: detection runs on every
                // file.
                if i == 0 {
                    return false;
                }
                invalid += 1;
                leading.get_or_insert((i, valid));
            }
        }
        if invalid * 16 > n {
            return leading
                .is_some_and(|(pages, valid)| pages >= MIN_LEADING_PAGES.min(n) && valid > 0);
        }
    }
    valid > 0
}

/// The data of the newest version of cluster 0 of the file table, if it looks like one
/// ([`is_table_cluster`]).
fn ftable_start<'d>(d: &'d [u8], layout: Layout, s: &Scan) -> Option<&'d [u8]> {
    let v = s.clusters.get(&(FID_FTABLE, 0))?;
    let c = d.get(v.page * layout.page()..v.page * layout.page() + layout.cluster)?;
    is_table_cluster(c).then_some(c)
}

/// The file table's own name, in its first cluster (the name of entry 1): what a carver
/// looks for, as ETFS has no magic number.
pub const TABLE_SIGNATURE: &[u8; 11] = b".filetable\0";
/// Offset of [`TABLE_SIGNATURE`] in the file table's first cluster.
pub const TABLE_SIGNATURE_AT: usize = FTABLE_ENTRY + 32;

/// Whether `c` (a cluster's data) starts like the file table's first cluster: entry 1 is
/// `.filetable`, a regular file.
fn is_table_cluster(c: &[u8]) -> bool {
    let Some(e1) = c.get(FTABLE_ENTRY..2 * FTABLE_ENTRY) else {
        return false;
    };
    e1.get(32..32 + TABLE_SIGNATURE.len()) == Some(&TABLE_SIGNATURE[..])
        && LE
            .u32(e1, 4)
            .is_some_and(|m| EntryType::from_mode(m) == EntryType::File)
}

/// The page layouts, by index (`0..LAYOUT_COUNT`), for a carver.
pub(crate) const LAYOUT_COUNT: usize = LAYOUTS.len();

/// Bytes per page (cluster and spare area) of layout `layout`.
pub(crate) fn page_size(layout: usize) -> usize {
    LAYOUTS.get(layout).map_or(usize::MAX, Layout::page)
}

/// How the page whose cluster starts at `at` decodes in layout `layout`: `Some(Some((file
/// id, cluster)))` a valid transaction, `Some(None)` a page ETFS has but no cluster
/// (erased, bad), `None` not an ETFS page (or past the end of `data`).
pub(crate) fn page_at(data: &[u8], at: usize, layout: usize) -> Option<Option<(u32, u32)>> {
    let l = *LAYOUTS.get(layout)?;
    let spare = data.get(at.checked_add(l.cluster)?..at.checked_add(l.page())?)?;
    match decode(l, spare) {
        Page::Valid(t) => Some(Some((t.fid, t.cluster))),
        Page::Empty => Some(None),
        Page::Invalid => None,
    }
}

/// The file ids a file table declares (its own size in entry 1, read from its first
/// cluster at `at`), at least those of the file system's own files, at most [`MAX_FID`].
pub(crate) fn table_fids(data: &[u8], at: usize) -> u32 {
    let size = at
        .checked_add(FTABLE_ENTRY + 28)
        .and_then(|o| LE.u32(data, o))
        .unwrap_or(0);
    (size / FTABLE_ENTRY as u32).clamp(FID_RESERVED + 1, MAX_FID)
}

/// Whether the page at `at` of layout `layout` is a version of the file table's first
/// cluster the reader would take: a valid transaction of file id 1, cluster 0, whose data
/// passed its check, and [`is_table_cluster`].
pub(crate) fn is_table_start(data: &[u8], at: usize, layout: usize) -> bool {
    let Some(l) = LAYOUTS.get(layout) else {
        return false;
    };
    let spare = at
        .checked_add(l.cluster)
        .and_then(|s| data.get(s..s.checked_add(l.spare)?));
    matches!(
        spare.map(|s| decode(*l, s)),
        Some(Page::Valid(Trans {
            fid: FID_FTABLE,
            cluster: 0,
            data_ok: true,
            ..
        }))
    ) && data
        .get(at..at.saturating_add(l.cluster))
        .is_some_and(is_table_cluster)
}

/// The layout of `d` and its decoded pages: of the layouts whose first pages decode and
/// whose file table is found, the one with the most valid transactions.
fn find_layout(d: &[u8]) -> Option<(Layout, Scan)> {
    let mut best: Option<(Layout, Scan)> = None;
    for layout in LAYOUTS {
        if !plausible_start(d, layout) {
            continue;
        }
        let s = scan(d, layout);
        if ftable_start(d, layout, &s).is_none() {
            continue;
        }
        if best.as_ref().is_none_or(|(_, b)| s.valid > b.valid) {
            best = Some((layout, s));
        }
    }
    best
}

/// An ETFS image at offset 0: pages that decode as transactions, and a file table.
pub fn detect(data: &[u8]) -> bool {
    LAYOUTS.iter().any(|&l| plausible_start(data, l)) && find_layout(data).is_some()
}

/// For a carver: the length in bytes of the ETFS starting at `offset`, as its
/// [`Container::span`] gives it (its pages up to the last holding a valid transaction), or
/// None. The page at `offset` must hold a valid transaction: erased blocks before an ETFS
/// are not claimed (a used block is written from its first page on), so a carver stepping
/// over block boundaries finds the first block in use.
pub fn probe(data: &[u8], offset: usize) -> Option<u64> {
    let d = data.get(offset..)?;
    let (layout, s) = find_layout(d)?;
    let first = d.get(layout.cluster..layout.page())?;
    matches!(decode(layout, first), Page::Valid(_)).then_some((s.used_pages * layout.page()) as u64)
}

/// One file table entry, decoded.
#[derive(Debug, Clone)]
struct FileEntry {
    pfid: u16,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u32,
    size: u32,
    name: Vec<u8>,
    /// Offset of the entry in the image.
    at: usize,
}

/// A raw file table slot: (bytes, offset in the image).
type Slot<'d> = Option<(&'d [u8], usize)>;

/// An opened ETFS image.
pub struct Etfs<'a> {
    data: &'a [u8],
    limits: Limits,
    layout: Layout,
    /// Bytes from the start up to the end of the last page holding a valid transaction.
    used: usize,
    clusters: HashMap<(u32, u32), Version>,
    /// The clusters of each file id with a usable newest version, sorted.
    usable: HashMap<u32, Vec<u32>>,
    entries: Vec<Entry>,
    notes: Vec<Note>,
}

impl<'a> Etfs<'a> {
    pub fn open(data: &'a [u8], limits: &Limits) -> Result<Etfs<'a>, EtfsError> {
        let (layout, s) = find_layout(data).ok_or(EtfsError::at(0, EtfsErrorKind::NoLayout))?;
        let versions: u64 = s.clusters.values().map(|v| u64::from(v.count)).sum();
        let mut notes = vec![Note::new(
            "etfs-layout",
            format!(
                "ETFS: {} pages of {} + {} bytes ({}), {} clusters in use, {} versions of them",
                s.extent_pages,
                layout.cluster,
                layout.spare,
                match layout.kind {
                    Spare::Trans => "etfs_trans records, as etfsctl and mketfs write them",
                    Spare::Nand => "NAND driver spare areas",
                },
                s.clusters.len(),
                versions,
            ),
            Some(0),
        )];
        if s.extent_pages < s.pages || data.len() % layout.page() != 0 {
            notes.push(Note::new(
                "warning",
                format!(
                    "ETFS pages end at {:#x}; the rest does not decode as ETFS and is not read",
                    s.extent_pages * layout.page()
                ),
                Some((s.extent_pages * layout.page()) as u64),
            ));
        }
        let mut usable: HashMap<u32, Vec<u32>> = HashMap::new();
        for (&(fid, c), v) in &s.clusters {
            if v.data_ok {
                usable.entry(fid).or_default().push(c);
            }
        }
        for v in usable.values_mut() {
            v.sort_unstable();
        }
        let mut fs = Etfs {
            data,
            limits: *limits,
            layout,
            used: s.used_pages * layout.page(),
            clusters: s.clusters,
            usable,
            entries: Vec::new(),
            notes,
        };
        let table = fs.file_table();
        fs.list(&table)?;
        Ok(fs)
    }

    /// Offset in the image of the data of a cluster's newest version.
    fn cluster_at(&self, v: &Version) -> usize {
        v.page * self.layout.page()
    }

    /// The slots of the file table, by file id (None where its cluster is missing).
    fn file_table(&mut self) -> Vec<Slot<'a>> {
        let d = self.data;
        let cs = self.layout.cluster;
        let per_cluster = cs / FTABLE_ENTRY;
        // Its own entry (1) gives its size; the clusters present bound it too.
        let present = self
            .clusters
            .keys()
            .filter(|(f, _)| *f == FID_FTABLE)
            .map(|&(_, c)| c as usize + 1)
            .max()
            .unwrap_or(0);
        let first = self
            .clusters
            .get(&(FID_FTABLE, 0))
            .map(|v| self.cluster_at(v));
        let own_size = first
            .and_then(|at| LE.u32(d, at + FTABLE_ENTRY + 28))
            .map_or(0, |s| (s as usize).div_ceil(cs));
        let n = own_size
            .max(present)
            .min((MAX_FID as usize).div_ceil(per_cluster));
        let mut slots = Vec::with_capacity(n * per_cluster);
        let mut missing: Vec<usize> = Vec::new();
        for c in 0..n {
            let v = self.clusters.get(&(FID_FTABLE, c as u32)).copied();
            match v.filter(|v| v.data_ok) {
                Some(v) => {
                    let at = self.cluster_at(&v);
                    for k in 0..per_cluster {
                        let o = at + k * FTABLE_ENTRY;
                        slots.push(d.get(o..o + FTABLE_ENTRY).map(|b| (b, o)));
                    }
                }
                None => {
                    missing.push(c);
                    slots.extend(std::iter::repeat_n(None, per_cluster));
                }
            }
        }
        if let Some(&c) = missing.first() {
            self.notes.push(Note::new(
                "error",
                format!(
                    "ETFS file table: {} of its {n} clusters missing or unreadable (the first: \
                     cluster {c}, file ids {} to {}); their files are not listed",
                    missing.len(),
                    c * per_cluster,
                    (c + 1) * per_cluster - 1
                ),
                first.map(|at| (at + FTABLE_ENTRY) as u64),
            ));
        }
        slots
    }

    /// The file entry of `fid`, with its full name (short name + extension), or None for an
    /// unused, removed or extension slot.
    fn file_entry(&mut self, slots: &[Slot<'_>], fid: usize) -> Option<FileEntry> {
        let (b, at) = (*slots.get(fid)?)?;
        let f = parse_with(b, parse_ftable_entry)?;
        let (efid, pfid) = (f.efid, f.pfid);
        if efid == 0xffff || pfid == 0xffff || efid & 0x8000 != 0 {
            return None;
        }
        let short = f.short;
        let mut name = short[..memchr::memchr(0, short).unwrap_or(short.len())].to_vec();
        if efid != 0 {
            // The extension entry: top bit set, pointing back, type 0 (more name).
            let ext = slots.get(usize::from(efid)).copied().flatten();
            let ext = ext.and_then(|(x, _)| parse_with(x, parse_ftable_extension));
            match ext
                .filter(|&(e, back, _, kind)| e & 0x8000 != 0 && back == fid as u16 && kind == 0)
            {
                Some((_, _, more, _)) => {
                    name.extend_from_slice(&more[..memchr::memchr(0, more).unwrap_or(more.len())]);
                }
                None => self.notes.push(Note::new(
                    "warning",
                    format!(
                        "ETFS file id {fid}: extension entry {efid} is not its name's \
                         continuation; the 32-byte name is used"
                    ),
                    Some(at as u64),
                )),
            }
        }
        Some(FileEntry {
            pfid,
            mode: f.mode,
            uid: f.uid,
            gid: f.gid,
            mtime: f.mtime,
            size: f.size,
            name,
            at,
        })
    }

    /// List the tree: the root, then depth first from it; entries whose parents do not lead
    /// to the root are listed under `recovered_files/`.
    fn list(&mut self, slots: &[Slot<'_>]) -> Result<(), EtfsError> {
        let mut files: HashMap<u32, FileEntry> = HashMap::new();
        let mut children: HashMap<u16, Vec<u32>> = HashMap::new();
        for fid in 0..slots.len() {
            if let Some(fe) = self.file_entry(slots, fid) {
                if fid != 0 {
                    children.entry(fe.pfid).or_default().push(fid as u32);
                }
                files.insert(fid as u32, fe);
            }
        }
        if files.len() > self.limits.max_entries {
            return Err(EtfsError::at(
                0,
                EtfsErrorKind::TooManyEntries(self.limits.max_entries),
            ));
        }
        let root = files.get(&FID_ROOT);
        let mut re = Entry::new(
            String::new(),
            EntryType::Dir,
            root.map_or(0o040755, |r| r.mode),
            0,
        );
        if let Some(r) = root {
            re = re.with_owner_time(r.uid, r.gid, u64::from(r.mtime));
        }
        re.ino = Some(0);
        self.entries.push(re);
        let mut listed: HashSet<u32> = HashSet::from([FID_ROOT]);
        let mut stack: Vec<(u32, String, usize)> = vec![(FID_ROOT, String::new(), 0)];
        while let Some((dir, prefix, depth)) = stack.pop() {
            let kids = children.get(&(dir as u16)).cloned().unwrap_or_default();
            let mut subdirs = Vec::new();
            for fid in kids {
                let Some(fe) = files.get(&fid) else { continue };
                if !listed.insert(fid) || !usable_name(&fe.name) {
                    continue;
                }
                let name = crate::names::escape_name(&fe.name);
                let path = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                if EntryType::from_mode(fe.mode) == EntryType::Dir {
                    if depth < MAX_DEPTH {
                        subdirs.push((fid, path.clone(), depth + 1));
                    } else {
                        self.notes.push(Note::new(
                            "error",
                            format!("{path}: directory nesting too deep"),
                            Some(fe.at as u64),
                        ));
                    }
                }
                let e = self.entry(fid, fe, path);
                self.entries.push(e);
            }
            stack.extend(subdirs.into_iter().rev());
        }
        self.list_orphans(&files, &listed);
        Ok(())
    }

    /// Entries not reached from the root (a parent removed, not a directory, or a loop).
    fn list_orphans(&mut self, files: &HashMap<u32, FileEntry>, listed: &HashSet<u32>) {
        let mut orphans: Vec<u32> = files
            .keys()
            .copied()
            .filter(|f| !listed.contains(f))
            .collect();
        orphans.sort_unstable();
        for fid in orphans {
            let Some(fe) = files.get(&fid) else { continue };
            let name = if usable_name(&fe.name) {
                crate::names::escape_name(&fe.name)
            } else {
                String::new()
            };
            let path = format!("recovered_files/{fid}-{name}");
            self.notes.push(Note::new(
                "warning",
                format!(
                    "ETFS file id {fid} ({name:?}): its parent {} does not lead to the root; \
                     listed as {path}",
                    fe.pfid
                ),
                Some(fe.at as u64),
            ));
            let mut e = self.entry(fid, fe, path);
            e.flags.push("orphan".into());
            self.entries.push(e);
        }
    }

    /// The entry of file id `fid`.
    fn entry(&mut self, fid: u32, fe: &FileEntry, path: String) -> Entry {
        let etype = EntryType::from_mode(fe.mode);
        let size = match etype {
            EntryType::File | EntryType::Symlink => u64::from(fe.size),
            _ => 0,
        };
        let mut e = Entry::new(path, etype, fe.mode, size).with_owner_time(
            fe.uid,
            fe.gid,
            u64::from(fe.mtime),
        );
        e.ino = Some(u64::from(fid));
        e.loc = Loc {
            offset: u64::from(fid),
            len: size,
            aux: fe.at as u64,
        };
        if (FID_FTABLE..=FID_RESERVED).contains(&fid) && fid != FID_LOSTFOUND {
            e.flags.push(FS_METADATA_FLAG.into());
        }
        if etype == EntryType::Symlink {
            match self.read_fid(fid, size.min(MAX_LINK), fe.at) {
                Ok(t) => {
                    let t = t.split(|&b| b == 0).next().unwrap_or(&[]);
                    e.link_target = Some(crate::names::escape_name(t));
                }
                Err(err) => self.notes.push(Note::new(
                    "error",
                    format!("{}: symlink target: {}", e.path, err.kind),
                    Some(err.offset),
                )),
            }
        } else if etype == EntryType::File {
            // Missing clusters are found now, so the listing says which files are whole.
            let missing = self.missing_clusters(fid, size);
            if missing > 0 {
                e.flags.push(format!("missing-clusters={missing}"));
            }
        }
        e
    }

    /// How many of the clusters of file `fid` (of `size` bytes) have no usable version.
    fn missing_clusters(&self, fid: u32, size: u64) -> u64 {
        let n = size.div_ceil(self.layout.cluster as u64);
        let have = self
            .usable
            .get(&fid)
            .map_or(0, |v| v.partition_point(|&c| u64::from(c) < n) as u64);
        n - have
    }

    /// The first `size` bytes of file `fid`, whose file table entry is at `entry_at`.
    fn read_fid(&self, fid: u32, size: u64, entry_at: usize) -> Result<Cow<'a, [u8]>, EtfsError> {
        if size > self.limits.max_expanded {
            return Err(EtfsError::at(
                entry_at,
                EtfsErrorKind::TooBig {
                    size,
                    limit: self.limits.max_expanded,
                },
            ));
        }
        let cs = self.layout.cluster as u64;
        let n = size.div_ceil(cs);
        let data = self.data;
        let cluster = |c: u64| -> Result<&'a [u8], EtfsError> {
            let c32 = u32::try_from(c).unwrap_or(u32::MAX);
            let v = self.clusters.get(&(fid, c32)).ok_or(EtfsError::at(
                entry_at,
                EtfsErrorKind::MissingCluster { fid, cluster: c32 },
            ))?;
            let at = self.cluster_at(v);
            if !v.data_ok {
                return Err(EtfsError::at(
                    at,
                    EtfsErrorKind::BadClusterData { fid, cluster: c32 },
                ));
            }
            let take = (size - c * cs).min(cs) as usize;
            Ok(data.get(at..at + take).unwrap_or(&[]))
        };
        if n <= 1 {
            return if n == 0 {
                Ok(Cow::Borrowed(&[]))
            } else {
                cluster(0).map(Cow::Borrowed)
            };
        }
        // Check every cluster before allocating for the copy.
        let parts = (0..n).map(cluster).collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::new();
        if out.try_reserve_exact(size as usize).is_err() {
            return Err(EtfsError::at(entry_at, EtfsErrorKind::OutOfMemory { size }));
        }
        for p in parts {
            out.extend_from_slice(p);
        }
        Ok(Cow::Owned(out))
    }
}

/// A name that can be a path component.
fn usable_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/')
}

impl Container for Etfs<'_> {
    fn kind(&self) -> ContainerKind {
        ContainerKind::Etfs
    }
    fn entries(&self) -> &[Entry] {
        &self.entries
    }
    fn read(&self, entry: &Entry) -> Result<Cow<'_, [u8]>, FormatError> {
        if let Some(not_a_file) = super::read_non_file(entry) {
            return not_a_file;
        }
        let fid = u32::try_from(entry.loc.offset).unwrap_or(u32::MAX);
        let at = usize::try_from(entry.loc.aux).unwrap_or(0);
        self.read_fid(fid, entry.loc.len, at)
            .map_err(|e| FormatError::from(e).in_context(&entry.path))
    }
    fn notes(&self) -> &[Note] {
        &self.notes
    }
    /// The pages from the start up to the last that holds a valid transaction, as [`probe`]
    /// gives them: erased pages after it hold nothing, and pages of whatever follows the
    /// file system can decode as "erased" or "bad" by chance (random bytes in a spare
    /// area often do), so they are left to be carved.
    fn span(&self) -> Option<u64> {
        Some(self.used as u64)
    }
}
