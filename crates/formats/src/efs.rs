//! QNX embedded flash file system (EFS, flash file system v3: `mkefs`, `devf-*` drivers) on
//! NOR flash.
//!
//! Layout (QNX `<fs/f3s_spec.h>`; qnxmount `qnxmount/efs/parser.ksy`): a partition is a run
//! of erase units of `2^unit_pow2` bytes. Every unit starts with its unit info
//! (`struct_size`, byte order `'L'`/`'B'`, `unit_pow2`, erase count, pointer to the boot
//! info) and ends with its extent headers, 32 bytes each, growing down from the end: header
//! `i` sits at `unit end - 32 * (i + 1)`, the last one has `F3S_EXT_LAST`. A header gives the
//! status (flags are set by clearing bits: "no write", "no next", "no supersede"; condition;
//! type file/dir/sys), the text (the bytes it describes: offset in the unit, shifted left by
//! the alignment power, and size), a `next` pointer and a `super` pointer (the extent that
//! replaces this one). Pointers are (logical unit, header index). Header 0 is the unit info,
//! header 1 the unit's logical number; spare units have none. The boot info (`QSSL_F3S`:
//! unit index, total and spare units, alignment, root pointer) is one extent of logical
//! unit 1.
//!
//! The tree: a directory entry (name, `first` pointer, stat: mode, uid, gid, mtime, ctime) is
//! the text of one extent; a directory's children are the chain of extents from its `first`
//! (through `next`), ended by an extent of size 0; a file's (or symlink's) bytes are the
//! texts of the chain from its `first`. Each pointer is followed through its `super` chain
//! first. A removed entry is superseded by the next one; a renamed or moved entry by its new
//! version. The root entry's name is the partition's mount point (`/mnt/test123`): it is
//! part of every path.
//!
//! This module knows nothing of ELF or QNX releases: it reads `&[u8]` and produces
//! [`Entry`]s; errors carry an offset and an [`EfsErrorKind`].

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use super::{
    Container, ContainerKind, Endian, Entry, EntryType, KindOfError, Limits, Loc, LocatedError,
    Note,
};
use crate::layout::{parse_with, skip, u16_in, u32_in, Parsed};
use crate::{ErrorKind, FormatError};
use nom::bytes::complete::tag;
use nom::number::complete::u8;
use nom::Parser;

/// The signature of the boot info, at offset 4 of its extent.
pub const SIGNATURE: &[u8; 8] = b"QSSL_F3S";
/// Size of an extent header.
const HEAD: usize = 32;
/// Smallest and largest erase unit read: 4 KiB to 16 MiB (NOR sectors are 4 KiB to 256 KiB).
const MIN_UNIT_POW2: u16 = 12;
const MAX_UNIT_POW2: u16 = 24;
/// Logical unit numbers are 16-bit: a partition has at most this many units.
const MAX_UNITS: usize = 0xffff;
/// Text alignment powers tried for the system extents before the boot info is found
/// (mkefs uses 2; ECC flash 5 or 6; vehicles have been seen with 6), most likely first.
const ALIGN_CANDIDATES: [u32; 9] = [2, 6, 5, 3, 4, 0, 1, 7, 8];
/// Extent headers followed (supersede and next steps) while opening one partition (its
/// directories and the extents of all its files), and while reading one file: bounds the
/// time a crafted image of chains that share extents can take. Reading every file costs no
/// more than opening did (the same chains). A 256 MiB NOR part written in 1 KiB extents has
/// 262 144 of them, each followed about twice when the partition is opened: 4 194 304 steps
/// leave room for that eight times over.
pub const MAX_EXTENT_STEPS: u64 = 1 << 22;
/// Deepest directory nesting descended.
const MAX_DEPTH: usize = 256;
/// Most partitions read from one image.
pub const MAX_PARTITIONS: usize = 64;
/// The "no pointer" value of both halves of an extent pointer.
const NONE: u16 = 0xffff;

// Extent header status bits (`F3S_EXT_*`): flags are set by clearing bits.
const NO_WRITE: u32 = 0x0001;
const NO_NEXT: u32 = 0x0002;
const NO_SUPER: u32 = 0x0004;
const CONDITION: u32 = 0x0070;
const COND_FREE: u32 = 0x0070;
const COND_BAD: u32 = 0x0000;
const LAST: u32 = 0x0080;
const TYPE: u32 = 0x0300;
const TYPE_SYS: u32 = 0x0100;

/// What went wrong, for [`EfsError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EfsErrorKind {
    /// No valid unit info (byte order, unit size, reserved fields) where a unit starts.
    NoUnitInfo,
    /// The boot info (`QSSL_F3S`) could not be reached from the unit infos.
    NoBootInfo,
    /// The boot info puts its unit at another index than where it is.
    PartitionStart { unit_index: u16, found_at: usize },
    /// A pointer names a logical unit no unit holds.
    NoSuchUnit(u16),
    /// A pointer names a header index past the unit's last header.
    NoSuchHeader { unit: u16, index: u16 },
    /// An extent's text lies outside its unit.
    TextOutsideUnit,
    /// An extent whose text was never written, or whose header is free or bad.
    Unwritten,
    /// A supersede or next chain comes back to an extent already seen.
    ChainLoops,
    /// More than [`MAX_EXTENT_STEPS`] extent headers followed.
    TooManySteps,
    /// A directory entry too short for its name and stat.
    BadDirEntry,
    /// A file larger than `Limits::max_expanded`.
    TooBig { size: u64, limit: u64 },
    /// More entries than `Limits::max_entries`.
    TooManyEntries(usize),
    /// The copy of a file could not be allocated (out of memory, an address-space limit).
    OutOfMemory { size: u64 },
}

/// An error of the EFS reader: the offset in the image of the structure at fault, and what.
pub type EfsError = LocatedError<EfsErrorKind>;

impl KindOfError for EfsErrorKind {
    fn error_kind(&self) -> ErrorKind {
        use EfsErrorKind::*;
        match self {
            TooManySteps | TooBig { .. } | TooManyEntries(_) | OutOfMemory { .. } => {
                ErrorKind::BoundHit
            }
            NoUnitInfo
            | NoBootInfo
            | PartitionStart { .. }
            | NoSuchUnit(_)
            | NoSuchHeader { .. }
            | TextOutsideUnit
            | Unwritten
            | ChainLoops
            | BadDirEntry => ErrorKind::Corrupt,
        }
    }
}

impl fmt::Display for EfsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EfsErrorKind::*;
        match self {
            NoUnitInfo => write!(f, "no EFS unit info"),
            NoBootInfo => write!(f, "no EFS boot info (QSSL_F3S) reachable"),
            PartitionStart {
                unit_index,
                found_at,
            } => write!(
                f,
                "the EFS boot info says its unit is unit {unit_index} of the partition, \
                 but it is unit {found_at} from here"
            ),
            NoSuchUnit(u) => write!(f, "EFS pointer to logical unit {u}, which no unit holds"),
            NoSuchHeader { unit, index } => {
                write!(
                    f,
                    "EFS pointer to header {index} of unit {unit}, past its last"
                )
            }
            TextOutsideUnit => write!(f, "EFS extent text outside its unit"),
            Unwritten => write!(f, "EFS extent not written (or free, or bad)"),
            ChainLoops => write!(f, "EFS extent chain loops"),
            TooManySteps => write!(f, "more than {MAX_EXTENT_STEPS} EFS extents followed"),
            BadDirEntry => write!(f, "EFS directory entry too short for its name and stat"),
            TooBig { size, limit } => {
                write!(
                    f,
                    "EFS file of {size} bytes exceeds the limit of {limit} bytes"
                )
            }
            TooManyEntries(n) => write!(f, "EFS image has more than {n} entries"),
            OutOfMemory { size } => write!(
                f,
                "EFS file of {size} bytes: cannot allocate its copy (out of memory)"
            ),
        }
    }
}

/// An extent pointer: logical unit and header index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Ptr {
    unit: u16,
    index: u16,
}

/// A pointer's layout: logical unit, then header index (`u16` each).
fn parse_ptr(e: Endian) -> impl Fn(&[u8]) -> Parsed<'_, Ptr> {
    move |i| {
        let (rest, (unit, index)) = (u16_in(e), u16_in(e)).parse(i)?;
        Ok((rest, Ptr { unit, index }))
    }
}

/// The first 24 bytes of an extent header (`struct f3s_extptr`'s owner): status, 15 bytes
/// the reader does not use, the text offset (high byte, low `u16`, in alignment units) and
/// the text size.
fn parse_head_text(h: &[u8], e: Endian) -> Parsed<'_, (u32, usize, usize)> {
    let (rest, (status, _, hi, lo, size)) =
        (u32_in(e), skip(15), u8, u16_in(e), u16_in(e)).parse(h)?;
    let raw = (usize::from(hi) << 16) | usize::from(lo);
    Ok((rest, (status, raw, usize::from(size))))
}

/// A whole extent header (32 bytes): [`parse_head_text`], then the next and supersede
/// pointers.
fn parse_head(h: &[u8], e: Endian) -> Parsed<'_, (u32, usize, usize, Ptr, Ptr)> {
    let (rest, ((status, raw, size), next, sup)) =
        (|i| parse_head_text(i, e), parse_ptr(e), parse_ptr(e)).parse(h)?;
    Ok((rest, (status, raw, size, next, sup)))
}

/// A unit info (`struct f3s_unit_info`): its size, the byte-order letter, 0xff, the unit
/// size as a power of two, 0xffff, 4 bytes not used here, the boot info's pointer. The
/// byte order is `e`, read from the letter by the caller.
fn parse_unit_info(d: &[u8], e: Endian) -> Parsed<'_, (u16, u8, u16, u16, Ptr)> {
    let (rest, (struct_size, _letter, pad, unit_pow2, reserved, _, boot)) = (
        u16_in(e),
        u8,
        u8,
        u16_in(e),
        u16_in(e),
        skip(4),
        parse_ptr(e),
    )
        .parse(d)?;
    Ok((rest, (struct_size, pad, unit_pow2, reserved, boot)))
}

impl Ptr {
    fn is_none(self) -> bool {
        self.unit == NONE || self.index == NONE
    }
    fn packed(self) -> u64 {
        (u64::from(self.unit) << 16) | u64::from(self.index)
    }
    fn unpack(v: u64) -> Ptr {
        Ptr {
            unit: (v >> 16) as u16,
            index: v as u16,
        }
    }
}

/// A unit's info (header 0's text, at the unit's start).
#[derive(Debug, Clone, Copy)]
struct UnitInfo {
    e: Endian,
    unit_pow2: u16,
    boot: Ptr,
}

/// The unit info at `at`, checked against its header 0.
fn unit_info(d: &[u8], at: usize) -> Option<UnitInfo> {
    let e = match *d.get(at + 2)? {
        b'L' => Endian::Little,
        b'B' => Endian::Big,
        _ => return None,
    };
    let (struct_size, pad, unit_pow2, reserved, boot) =
        parse_with(d.get(at..)?, |i| parse_unit_info(i, e))?;
    if !(16..=256).contains(&struct_size)
        || pad != 0xff
        || !(MIN_UNIT_POW2..=MAX_UNIT_POW2).contains(&unit_pow2)
        || reserved != 0xffff
    {
        return None;
    }
    let size = 1usize << unit_pow2;
    // Header 0 describes the unit info: text at 0, of its size, a written system extent.
    let h = at.checked_add(size)?.checked_sub(HEAD)?;
    let (status, text, text_size) = parse_with(d.get(h..)?, |i| parse_head_text(i, e))?;
    if text != 0
        || text_size != usize::from(struct_size)
        || status & NO_WRITE != 0
        || status & TYPE != TYPE_SYS
    {
        return None;
    }
    Some(UnitInfo { e, unit_pow2, boot })
}

/// One decoded extent header.
#[derive(Debug, Clone, Copy)]
struct Head {
    /// Offset of the header in the image.
    at: usize,
    status: u32,
    /// Offset of the text in the image, and its size.
    text: usize,
    size: usize,
    next: Ptr,
    sup: Ptr,
}

impl Head {
    fn has_next(&self) -> bool {
        self.status & NO_NEXT == 0 && !self.next.is_none()
    }
    fn superseded(&self) -> bool {
        self.status & NO_SUPER == 0 && !self.sup.is_none()
    }
    fn written(&self) -> bool {
        let cond = self.status & CONDITION;
        self.status & NO_WRITE == 0 && cond != COND_FREE && cond != COND_BAD
    }
}

/// The boot info of a partition.
#[derive(Debug, Clone, Copy)]
struct BootInfo {
    unit_index: u16,
    unit_total: u16,
    unit_spare: u16,
    align_pow2: u16,
    root: Ptr,
}

/// One partition: its units and how to follow pointers in it.
#[derive(Debug, Clone)]
struct Partition {
    /// Offset of the first unit in the image.
    start: usize,
    unit_size: usize,
    e: Endian,
    /// Alignment power of regular extents (from the boot info) and of system extents (the
    /// one that led to the boot info).
    align: u32,
    sys_align: u32,
    /// Physical unit start (offset in the image) of each logical unit, by number.
    logical: Vec<Option<usize>>,
    /// Number of headers of each physical unit, by logical number.
    heads: Vec<u16>,
    boot: BootInfo,
}

/// The units from `start` that have a unit info of the partition's byte order and size:
/// (offset, number of headers). Counting headers reads a unit's header area once.
fn units_from(d: &[u8], start: usize, info: UnitInfo, count: usize) -> Vec<(usize, u16)> {
    let size = 1usize << info.unit_pow2;
    (0..count)
        .filter_map(|p| p.checked_mul(size)?.checked_add(start))
        .filter(|&u| {
            unit_info(d, u).is_some_and(|ui| ui.e == info.e && ui.unit_pow2 == info.unit_pow2)
        })
        .map(|u| (u, head_count(d, u, size, info.e)))
        .collect()
}

/// The logical units of `units`, given the system alignment power: (logical number → unit
/// start, header count), and notes on duplicate logical numbers.
fn logical_units(
    d: &[u8],
    units: &[(usize, u16)],
    info: UnitInfo,
    sys_align: u32,
) -> (Vec<Option<usize>>, Vec<u16>, Vec<Note>) {
    let size = 1usize << info.unit_pow2;
    let mut logical: Vec<Option<usize>> = Vec::new();
    let mut heads: Vec<u16> = Vec::new();
    let mut ages: Vec<u32> = Vec::new();
    let mut notes = Vec::new();
    for &(u, n) in units {
        let Some(h) = (n >= 2)
            .then(|| head_at(d, u, size, info.e, 1, sys_align))
            .flatten()
        else {
            continue; // a spare unit: unit info only
        };
        // qnxmount: a logical-unit extent whose second status word is still erased is not
        // committed (a unit being prepared as spare).
        if !h.written() || info.e.u32(d, h.at + 4) == Some(u32::MAX) || h.size < 8 {
            continue;
        }
        let (Some(logi), Some(age)) = (info.e.u16(d, h.text + 2), info.e.u32(d, h.text + 4)) else {
            continue;
        };
        let li = usize::from(logi);
        if logi == 0 || logi == NONE {
            continue;
        }
        if logical.len() <= li {
            logical.resize(li + 1, None);
            heads.resize(li + 1, 0);
            ages.resize(li + 1, 0);
        }
        if logical[li].is_some() {
            notes.push(Note::new(
                "warning",
                format!("EFS: two units hold logical unit {logi}; the one of higher age is read"),
                Some(u as u64),
            ));
            if ages[li] >= age {
                continue;
            }
        }
        logical[li] = Some(u);
        heads[li] = n;
        ages[li] = age;
    }
    (logical, heads, notes)
}

/// How many extent headers the unit at `u` has: up to the one marked last, or the first
/// free (all-0xFF) one.
fn head_count(d: &[u8], u: usize, size: usize, e: Endian) -> u16 {
    let max = (size / HEAD).min(usize::from(NONE));
    let mut n = 0;
    while n < max {
        let Some(at) = (u + size).checked_sub(HEAD * (n + 1)) else {
            break;
        };
        let Some(h) = d.get(at..at + HEAD) else { break };
        if h.iter().all(|&b| b == 0xff) {
            break;
        }
        n += 1;
        if e.u32(h, 0).is_some_and(|s| s & LAST == 0) {
            continue;
        }
        break;
    }
    n as u16
}

/// Header `index` of the unit at `u` (not checked against the header count).
fn head_at(d: &[u8], u: usize, size: usize, e: Endian, index: usize, align: u32) -> Option<Head> {
    let at = (u + size).checked_sub(HEAD * (index + 1))?;
    let h = d.get(at..at + HEAD)?;
    let (status, raw, size_t, next, sup) = parse_with(h, |i| parse_head(i, e))?;
    let off = raw.checked_shl(align).filter(|o| o >> align == raw)?;
    Some(Head {
        at,
        status,
        text: u.checked_add(off)?,
        size: size_t,
        next,
        sup,
    })
    .filter(|hd| off.checked_add(hd.size).is_some_and(|end| end <= size))
}

/// The boot info at `ptr`, if the logical map reaches it and it carries the signature.
fn boot_info(
    d: &[u8],
    logical: &[Option<usize>],
    heads: &[u16],
    info: UnitInfo,
    sys_align: u32,
) -> Option<(BootInfo, usize)> {
    let li = usize::from(info.boot.unit);
    let u = (*logical.get(li)?)?;
    if info.boot.index >= *heads.get(li)? {
        return None;
    }
    let size = 1usize << info.unit_pow2;
    let h = head_at(d, u, size, info.e, usize::from(info.boot.index), sys_align)?;
    let t = h.text;
    let e = info.e;
    if h.size < 24 {
        return None;
    }
    Some((parse_with(d.get(t..)?, |i| parse_boot_info(i, e))?, u))
}

/// The boot info (`struct f3s_boot_info`): 4 bytes not used here, the `QSSL_F3S` signature
/// (which must match), the unit's index, the unit total and spare count, the alignment as a
/// power of two, the root directory's pointer.
fn parse_boot_info(t: &[u8], e: Endian) -> Parsed<'_, BootInfo> {
    let (rest, (_, _signature, unit_index, unit_total, unit_spare, align_pow2, root)) = (
        skip(4),
        tag(&SIGNATURE[..]),
        u16_in(e),
        u16_in(e),
        u16_in(e),
        u16_in(e),
        parse_ptr(e),
    )
        .parse(t)?;
    let info = BootInfo {
        unit_index,
        unit_total,
        unit_spare,
        align_pow2,
        root,
    };
    Ok((rest, info))
}

/// The partition whose first unit starts at `start`: units, logical map, boot info. The
/// tree is not read.
fn partition_at(d: &[u8], start: usize) -> Result<(Partition, Vec<Note>), EfsError> {
    let info = unit_info(d, start).ok_or(EfsError::at(start, EfsErrorKind::NoUnitInfo))?;
    let size = 1usize << info.unit_pow2;
    let available = (d.len().saturating_sub(start) / size).min(MAX_UNITS);
    let units = units_from(d, start, info, available);
    for sys_align in ALIGN_CANDIDATES {
        let (logical, heads, notes) = logical_units(d, &units, info, sys_align);
        let Some((boot, boot_unit)) = boot_info(d, &logical, &heads, info, sys_align) else {
            continue;
        };
        let found_at = (boot_unit - start) / size;
        if usize::from(boot.unit_index) != found_at {
            return Err(EfsError::at(
                boot_unit,
                EfsErrorKind::PartitionStart {
                    unit_index: boot.unit_index,
                    found_at,
                },
            ));
        }
        if boot.unit_total == 0 || u32::from(boot.align_pow2) > 16 {
            continue;
        }
        // Only the partition's own units count (the map was built from all that follow).
        let total = usize::from(boot.unit_total).min(available);
        let end = start + total * size;
        let logical: Vec<Option<usize>> = logical
            .into_iter()
            .map(|u| u.filter(|&u| u < end))
            .collect();
        let p = Partition {
            start,
            unit_size: size,
            e: info.e,
            align: u32::from(boot.align_pow2),
            sys_align,
            logical,
            heads,
            boot,
        };
        let mut notes = notes;
        if total < usize::from(boot.unit_total) {
            notes.push(Note::new(
                "truncated",
                format!(
                    "EFS partition of {} units; the image holds {total}",
                    boot.unit_total
                ),
                Some(start as u64),
            ));
        }
        return Ok((p, notes));
    }
    Err(EfsError::at(start, EfsErrorKind::NoBootInfo))
}

/// An EFS partition starting at offset 0 (unit info, and a boot info reachable from it).
pub fn detect(data: &[u8]) -> bool {
    unit_info(data, 0).is_some() && partition_at(data, 0).is_ok()
}

/// For a carver: the length in bytes of the EFS partition whose first unit starts at
/// `offset` (its units, from the boot info), or None. Reads the unit infos, the logical-unit
/// extents and the boot info; not the tree.
pub fn probe(data: &[u8], offset: usize) -> Option<u64> {
    unit_info(data, offset)?;
    let (p, _) = partition_at(data, offset).ok()?;
    Some(u64::from(p.boot.unit_total) * p.unit_size as u64)
}

/// For a carver that found [`SIGNATURE`] at `signature_at`: where the partition holding that
/// boot info starts (its unit's start, less `unit_index` units), if the boot info is one.
/// [`probe`] reads only the units the boot info gives the partition, so the work is that
/// partition's, whatever follows it.
pub fn partition_start(data: &[u8], signature_at: usize) -> Option<usize> {
    let (start, len) = boot_claim(data, signature_at)?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .map_or(data.len(), |e| e.min(data.len()));
    probe(data.get(..end)?, start).map(|_| start)
}

/// How far back from a boot info its unit's start is looked for: the boot info is one of
/// the first extents of its unit (mkefs writes it third), so the unit starts at most
/// 64 KiB before it.
pub const BOOT_INFO_REACH: usize = 0x10000;

/// For a carver that found [`SIGNATURE`] at `signature_at`: where the partition would start
/// and how many bytes its boot info gives it (units × unit size), from the nearest unit
/// info before the boot info (at a multiple of 4 KiB, or less, at most
/// [`BOOT_INFO_REACH`] back) and the boot info's own fields. Nothing past them is read or
/// checked: [`probe`] decides.
pub fn boot_claim(data: &[u8], signature_at: usize) -> Option<(usize, u64)> {
    let boot_text = signature_at.checked_sub(4)?;
    for align in [4096usize, 2048, 1024, 512, 256, 128, 64] {
        let mut u = boot_text - boot_text % align;
        while boot_text - u < BOOT_INFO_REACH {
            if let Some(info) = unit_info(data, u) {
                let size = 1usize << info.unit_pow2;
                let index = usize::from(info.e.u16(data, boot_text + 12)?);
                let total = u64::from(info.e.u16(data, boot_text + 14)?);
                let start = u.checked_sub(index.checked_mul(size)?)?;
                return Some((start, total * size as u64));
            }
            let Some(prev) = u.checked_sub(align) else {
                break;
            };
            u = prev;
        }
    }
    None
}

impl Partition {
    fn end(&self) -> usize {
        self.start
            .saturating_add(usize::from(self.boot.unit_total).saturating_mul(self.unit_size))
    }

    /// The header `ptr` names (not followed through its supersede chain).
    fn head(&self, ptr: Ptr, d: &[u8]) -> Result<Head, EfsError> {
        let li = usize::from(ptr.unit);
        let u = self
            .logical
            .get(li)
            .copied()
            .flatten()
            .ok_or(EfsError::at(self.start, EfsErrorKind::NoSuchUnit(ptr.unit)))?;
        let n = self.heads.get(li).copied().unwrap_or(0);
        let no_header = EfsError::at(
            u,
            EfsErrorKind::NoSuchHeader {
                unit: ptr.unit,
                index: ptr.index,
            },
        );
        if ptr.index >= n {
            return Err(no_header);
        }
        // System extents (unit info, logical unit, boot info) have their own alignment.
        let index = usize::from(ptr.index);
        let at = (u + self.unit_size).saturating_sub(HEAD * (index + 1));
        let status = self.e.u32(d, at).unwrap_or(0);
        let align = if status & TYPE == TYPE_SYS {
            self.sys_align
        } else {
            self.align
        };
        let h = head_at(d, u, self.unit_size, self.e, index, align)
            .ok_or(EfsError::at(at, EfsErrorKind::TextOutsideUnit))?;
        Ok(h)
    }

    /// The extent `ptr` names, through its supersede chain.
    fn resolve(&self, mut ptr: Ptr, d: &[u8], steps: &mut u64) -> Result<Head, EfsError> {
        let mut loops = LoopCheck::new(ptr);
        loop {
            let h = self.head(ptr, d)?;
            *steps += 1;
            if *steps > MAX_EXTENT_STEPS {
                return Err(EfsError::at(h.at, EfsErrorKind::TooManySteps));
            }
            if !h.superseded() {
                return Ok(h);
            }
            ptr = h.sup;
            if loops.back_at(ptr) {
                return Err(EfsError::at(h.at, EfsErrorKind::ChainLoops));
            }
        }
    }

    /// The extents of a chain from `first` (each resolved), in order; with `dir`, up to the
    /// first of size 0 (which ends a directory).
    fn chain(
        &self,
        first: Ptr,
        d: &[u8],
        dir: bool,
        steps: &mut u64,
    ) -> Result<Vec<Head>, EfsError> {
        let mut out = Vec::new();
        if first.is_none() {
            return Ok(out);
        }
        let mut loops = LoopCheck::new(first);
        let mut ptr = first;
        loop {
            let h = self.resolve(ptr, d, steps)?;
            if dir && h.size == 0 {
                return Ok(out);
            }
            if !h.written() {
                return Err(EfsError::at(h.at, EfsErrorKind::Unwritten));
            }
            if d.get(h.text..h.text + h.size).is_none() {
                return Err(EfsError::at(h.at, EfsErrorKind::TextOutsideUnit));
            }
            out.push(h);
            if !h.has_next() {
                return Ok(out);
            }
            ptr = h.next;
            if loops.back_at(ptr) {
                return Err(EfsError::at(h.at, EfsErrorKind::ChainLoops));
            }
        }
    }

    /// The directory entry that is the text of `h`.
    fn dir_entry(&self, h: &Head, d: &[u8]) -> Result<DirEntry, EfsError> {
        let bad = EfsError::at(h.text, EfsErrorKind::BadDirEntry);
        let t = d.get(h.text..h.text + h.size).ok_or(bad.clone())?;
        let e = self.e;
        // `struct f3s_dirent`: name offset, 1 byte, name length, first extent.
        let (name_at, _, name_len, first) =
            parse_with(t, (u16_in(e), skip(1), u8, parse_ptr(e))).ok_or(bad.clone())?;
        let (name_at, name_len) = (usize::from(name_at), usize::from(name_len));
        if name_at < 8 {
            return Err(bad);
        }
        let name = t.get(name_at..name_at + name_len).ok_or(bad.clone())?;
        let name = &name[..memchr::memchr(0, name).unwrap_or(name.len())];
        // The stat follows the name, padded to 4 bytes (F3S_NAME_ALIGN): 2 bytes, mode, uid,
        // gid, mtime.
        let st = name_at + name_len.next_multiple_of(4);
        let stat = (skip(2), u16_in(e), u32_in(e), u32_in(e), u32_in(e));
        let (_, mode, uid, gid, mtime) =
            parse_with(t.get(st..).ok_or(bad.clone())?, stat).ok_or(bad.clone())?;
        Ok(DirEntry {
            name: crate::names::escape_name(name),
            first,
            mode: u32::from(mode),
            uid,
            gid,
            mtime,
        })
    }
}

/// Finds a loop in a chain of pointers (each the function of the one before) in time
/// proportional to the chain and constant memory: Brent's method, which compares each
/// pointer with one remembered at the last power of two.
struct LoopCheck {
    mark: Ptr,
    power: u64,
    since: u64,
}

impl LoopCheck {
    fn new(first: Ptr) -> LoopCheck {
        LoopCheck {
            mark: first,
            power: 1,
            since: 0,
        }
    }

    /// True when `next` closes a loop.
    fn back_at(&mut self, next: Ptr) -> bool {
        if next == self.mark {
            return true;
        }
        self.since += 1;
        if self.since == self.power {
            self.mark = next;
            self.power *= 2;
            self.since = 0;
        }
        false
    }
}

/// A decoded directory entry.
#[derive(Debug, Clone)]
struct DirEntry {
    name: String,
    first: Ptr,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u32,
}

/// The first bytes of a file compressed by QNX's `deflate` (read through `inflator`).
const DEFLATE_SIGNATURE: &[u8; 8] = b"iwlyfmbp";
/// Longest symlink target read.
const MAX_LINK: usize = 4096;
/// Mode given to the directories of a mount point above the partition's root (`mnt` of
/// `/mnt/test123`) and to the image's root: they exist in no entry of the image.
const MOUNT_DIR_MODE: u32 = 0o040755;

/// An opened EFS image: every partition found from offset 0 on, one after the other.
pub struct Efs<'a> {
    data: &'a [u8],
    limits: Limits,
    partitions: Vec<Partition>,
    entries: Vec<Entry>,
    notes: Vec<Note>,
}

impl<'a> Efs<'a> {
    /// Open the partition at offset 0 and any that follow it (after erased units).
    pub fn open(data: &'a [u8], limits: &Limits) -> Result<Efs<'a>, EfsError> {
        let mut fs = Efs {
            data,
            limits: *limits,
            partitions: Vec::new(),
            entries: Vec::new(),
            notes: Vec::new(),
        };
        let (first, notes) = partition_at(data, 0)?;
        fs.notes.extend(notes);
        let mut next = first.end();
        let mut unit = first.unit_size;
        fs.partitions.push(first);
        while fs.partitions.len() < MAX_PARTITIONS && next < data.len() {
            if let Ok((p, notes)) = partition_at(data, next) {
                fs.notes.extend(notes);
                next = p.end();
                unit = p.unit_size;
                fs.partitions.push(p);
                continue;
            }
            // Erased units between partitions are skipped; anything else ends the image.
            match data.get(next..next.saturating_add(unit).min(data.len())) {
                Some(u) if u.iter().all(|&b| b == 0xff) => next += unit,
                _ => break,
            }
        }
        if fs.partitions.len() == MAX_PARTITIONS && partition_at(data, next).is_ok() {
            fs.notes.push(Note::new(
                "warning",
                format!(
                    "more than {MAX_PARTITIONS} EFS partitions; those from here on are not read"
                ),
                Some(next as u64),
            ));
        }
        let mut root = Entry::new(String::new(), EntryType::Dir, MOUNT_DIR_MODE, 0);
        root.flags.push("mount-point".into());
        fs.entries.push(root);
        let mut mounts: HashSet<String> = HashSet::new();
        for pi in 0..fs.partitions.len() {
            fs.walk(pi, &mut mounts)?;
        }
        Ok(fs)
    }

    fn describe(&mut self, pi: usize, mount: &str) {
        let p = &self.partitions[pi];
        self.notes.push(Note::new(
            "efs-partition",
            format!(
                "EFS partition at {:#x}: {} units of {} KiB ({} spare), {}, text alignment {} \
                 bytes, mount point /{mount}",
                p.start,
                p.boot.unit_total,
                p.unit_size / 1024,
                p.boot.unit_spare,
                p.e.name(),
                1u64 << p.align,
            ),
            Some(p.start as u64),
        ));
    }

    /// The directories of the mount point `path` not listed yet, as entries.
    fn mount_dirs(&mut self, path: &str, listed: &mut HashSet<String>) {
        let mut at = String::new();
        for c in path.split('/') {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(c);
            if at != path && listed.insert(at.clone()) {
                let mut e = Entry::new(at.clone(), EntryType::Dir, MOUNT_DIR_MODE, 0);
                e.flags.push("mount-point".into());
                self.entries.push(e);
            }
        }
    }

    /// List partition `pi` under its mount point.
    fn walk(&mut self, pi: usize, mounts: &mut HashSet<String>) -> Result<(), EfsError> {
        let p = self.partitions[pi].clone();
        let d = self.data;
        let mut steps = 0u64;
        let root_head = p.resolve(p.boot.root, d, &mut steps)?;
        let root = p.dir_entry(&root_head, d)?;
        let mut mount = clean_mount(&root.name);
        if mounts.contains(&mount) || (mount.is_empty() && pi > 0) {
            mount = format!(
                "{}@{:#x}",
                if mount.is_empty() { "efs" } else { &mount },
                p.start
            );
        }
        mounts.insert(mount.clone());
        self.describe(pi, &mount);
        if !mount.is_empty() {
            self.mount_dirs(&mount, mounts);
            let mut e = self.entry(&p, pi, mount.clone(), &root, &mut steps);
            e.flags.push("mount-point".into());
            self.entries.push(e);
        }
        let mut visited: HashSet<Ptr> = HashSet::from([root.first]);
        let mut stack: Vec<(Ptr, String, usize)> = vec![(root.first, mount, 0)];
        while let Some((first, prefix, depth)) = stack.pop() {
            let chain = match p.chain(first, d, true, &mut steps) {
                Ok(c) => c,
                Err(e) => {
                    self.error(&format!("directory /{prefix}"), &e);
                    if e.kind == EfsErrorKind::TooManySteps {
                        return Ok(());
                    }
                    continue;
                }
            };
            let mut subdirs = Vec::new();
            for h in chain {
                let de = match p.dir_entry(&h, d) {
                    Ok(de) => de,
                    Err(e) => {
                        self.error(&format!("directory /{prefix}"), &e);
                        continue;
                    }
                };
                if de.name.is_empty() || de.name == "." || de.name == ".." || de.name.contains('/')
                {
                    continue;
                }
                if self.entries.len() >= self.limits.max_entries {
                    return Err(EfsError::at(
                        h.text,
                        EfsErrorKind::TooManyEntries(self.limits.max_entries),
                    ));
                }
                let path = if prefix.is_empty() {
                    de.name.clone()
                } else {
                    format!("{prefix}/{}", de.name)
                };
                let en = self.entry(&p, pi, path.clone(), &de, &mut steps);
                if steps > MAX_EXTENT_STEPS {
                    // Already noted by the entry: the budget of the whole image is spent.
                    self.entries.push(en);
                    return Ok(());
                }
                if en.entry_type == EntryType::Dir {
                    if depth + 1 > MAX_DEPTH {
                        self.notes.push(Note::new(
                            "error",
                            format!("/{path}: directory nesting too deep"),
                            Some(h.text as u64),
                        ));
                    } else if visited.insert(de.first) {
                        subdirs.push((de.first, path, depth + 1));
                    } else {
                        self.notes.push(Note::new(
                            "warning",
                            format!("/{path}: directory already listed; not descended"),
                            Some(h.text as u64),
                        ));
                    }
                }
                self.entries.push(en);
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }

    /// The entry for directory entry `de` at `path`: size, symlink target and flags from its
    /// data extents (errors become notes and a `bad-extents` flag). `steps`: the image's
    /// extent budget, shared with the directory walk.
    fn entry(
        &mut self,
        p: &Partition,
        pi: usize,
        path: String,
        de: &DirEntry,
        steps: &mut u64,
    ) -> Entry {
        let etype = EntryType::from_mode(de.mode);
        let mut en = Entry::new(path, etype, de.mode, 0).with_owner_time(
            de.uid,
            de.gid,
            u64::from(de.mtime),
        );
        en.loc = Loc {
            offset: pi as u64,
            len: 0,
            aux: de.first.packed(),
        };
        if !matches!(etype, EntryType::File | EntryType::Symlink) {
            return en;
        }
        match p.chain(de.first, self.data, false, steps) {
            Ok(exts) => {
                en.size = exts.iter().map(|h| h.size as u64).sum();
                en.loc.len = en.size;
                en.flags.push(format!("extents={}", exts.len()));
                let head = exts
                    .iter()
                    .find(|h| h.size > 0)
                    .and_then(|h| self.data.get(h.text..h.text + h.size.min(8)));
                if etype == EntryType::File && head == Some(&DEFLATE_SIGNATURE[..]) {
                    en.flags.push("deflated".into());
                }
                if etype == EntryType::Symlink {
                    let mut t = Vec::new();
                    for h in &exts {
                        let room = MAX_LINK.saturating_sub(t.len());
                        t.extend_from_slice(
                            self.data
                                .get(h.text..h.text + h.size.min(room))
                                .unwrap_or(&[]),
                        );
                    }
                    let t = t.split(|&b| b == 0).next().unwrap_or(&[]);
                    en.link_target = Some(crate::names::escape_name(t));
                }
            }
            Err(e) => {
                en.flags.push("bad-extents".into());
                self.error(&format!("/{}", en.path), &e);
            }
        }
        en
    }

    fn error(&mut self, what: &str, e: &EfsError) {
        self.notes.push(Note::new(
            "error",
            format!("{what}: {}", e.kind),
            Some(e.offset),
        ));
    }

    /// The bytes of a file (or symlink) entry.
    fn read_entry(&self, entry: &Entry) -> Result<Cow<'a, [u8]>, EfsError> {
        let p = usize::try_from(entry.loc.offset)
            .ok()
            .and_then(|i| self.partitions.get(i))
            .ok_or(EfsError::at(0, EfsErrorKind::NoBootInfo))?;
        let mut steps = 0;
        let exts = p.chain(Ptr::unpack(entry.loc.aux), self.data, false, &mut steps)?;
        let size: u64 = exts.iter().map(|h| h.size as u64).sum();
        if size > self.limits.max_expanded {
            let at = exts.first().map_or(p.start, |h| h.at);
            return Err(EfsError::at(
                at,
                EfsErrorKind::TooBig {
                    size,
                    limit: self.limits.max_expanded,
                },
            ));
        }
        let text = |h: &Head| self.data.get(h.text..h.text + h.size).unwrap_or(&[]);
        let mut parts = exts.iter().filter(|h| h.size > 0);
        match (parts.next(), parts.next()) {
            (None, _) => Ok(Cow::Borrowed(&[])),
            (Some(h), None) => Ok(Cow::Borrowed(text(h))),
            _ => {
                let mut out = Vec::new();
                if out.try_reserve_exact(size as usize).is_err() {
                    let at = exts.first().map_or(p.start, |h| h.at);
                    return Err(EfsError::at(at, EfsErrorKind::OutOfMemory { size }));
                }
                for h in &exts {
                    out.extend_from_slice(text(h));
                }
                Ok(Cow::Owned(out))
            }
        }
    }
}

/// A mount point as a relative path: no leading, trailing or doubled slashes, no `.`/`..`.
fn clean_mount(name: &str) -> String {
    name.split('/')
        .filter(|c| !c.is_empty() && *c != "." && *c != "..")
        .collect::<Vec<_>>()
        .join("/")
}

impl Container for Efs<'_> {
    fn kind(&self) -> ContainerKind {
        ContainerKind::Efs
    }
    fn entries(&self) -> &[Entry] {
        &self.entries
    }
    fn read(&self, entry: &Entry) -> Result<Cow<'_, [u8]>, FormatError> {
        if let Some(not_a_file) = super::read_non_file(entry) {
            return not_a_file;
        }
        self.read_entry(entry)
            .map_err(|e| FormatError::from(e).in_context(&entry.path))
    }
    fn notes(&self) -> &[Note] {
        &self.notes
    }
    /// The partitions read, from the first unit of the first to the last unit of the last
    /// (as their boot infos give them), within the input.
    fn span(&self) -> Option<u64> {
        let end = self.partitions.iter().map(Partition::end).max()?;
        Some(end.min(self.data.len()) as u64)
    }
}
