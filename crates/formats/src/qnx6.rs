//! QNX6 power-safe file system.
//!
//! Layout (Linux `fs/qnx6`, qnxmount `qnx6/parser.ksy`): a 0x2000-byte boot block
//! (`eb 10 90 00`, then u32 offset, u32 sector of superblock 0, u32 sector of superblock 1),
//! two 512-byte superblocks (magic 0x68191122 in the file system's byte order, CRC-32 over
//! bytes 8..512, the higher serial is active), then data blocks from 12 KiB into the
//! partition, or from the first multiple of the block size after it for blocks above 4 KiB
//! (see [`data_area_offset`]). Every object (the inode table, the long-name
//! table, each file) is a tree: 16 root pointers and a level count; level 0 points at data
//! blocks, each further level through blocks of u32 pointers. Inodes are 128 bytes,
//! numbered from 1 (the root directory). Directories are arrays of 32-byte entries: u32
//! inode, u8 name length, 27 name bytes; length 0xff means a long name whose text is block
//! `index` of the long-name table (u16 length + bytes).

use std::borrow::Cow;
use std::collections::HashSet;

use super::{Container, ContainerKind, Endian, Entry, EntryType, Limits, Loc, Note};
use crate::layout::{parse_with, skip, u16_in, u32_in, u32s, u64_in, Parsed};
use crate::{ErrorKind, FormatError};
use nom::bytes::complete::take;
use nom::combinator::peek;
use nom::number::complete::u8;
use nom::Parser;

pub const QNX6_MAGIC: u32 = 0x6819_1122;
const BOOTBLOCK_MAGIC: [u8; 4] = [0xeb, 0x10, 0x90, 0x00];
const BOOTBLOCK_SIZE: u64 = 0x2000;
const SB_AREA: u64 = 0x1000;
const INODE_SIZE: u64 = 128;
const DIRENT_SIZE: usize = 32;
const SHORT_NAME_MAX: usize = 27;
/// Deepest pointer tree we follow (real file systems use at most 3 or 4 levels).
const MAX_LEVELS: u32 = 5;
/// Deepest directory nesting we descend (a guard against crafted recursion).
const MAX_DEPTH: usize = 256;

/// CRC-32, polynomial 0x04C11DB7, initial value 0, MSB first, no final XOR.
pub fn crc32_qnx6(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = (i as u32) << 24;
            for _ in 0..8 {
                c = if c & 0x8000_0000 != 0 {
                    (c << 1) ^ 0x04C1_1DB7
                } else {
                    c << 1
                };
            }
            *slot = c;
        }
        t
    });
    let mut crc: u32 = 0;
    for &b in data {
        crc = (crc << 8) ^ t[((crc >> 24) as u8 ^ b) as usize];
    }
    crc
}

/// A root node: size, 16 pointers, levels.
#[derive(Debug, Clone, Copy, Default)]
struct Tree {
    size: u64,
    ptrs: [u32; 16],
    levels: u8,
}

/// A superblock's tree root (`struct qnx6_root_node`, 80 bytes): the size, 16 block
/// pointers, the level count, the mode and 6 spare bytes.
fn parse_root_node(node: &[u8], e: Endian) -> Parsed<'_, Tree> {
    let (rest, (size, ptrs, levels, _mode_spare)) =
        (u64_in(e), u32s::<16>(e), u8, skip(7)).parse(node)?;
    Ok((rest, Tree { size, ptrs, levels }))
}

/// A directory entry (`struct qnx6_dir_entry`, 32 bytes): inode, name length, and the name's
/// 27 bytes, which for a long name (`struct qnx6_long_dir_entry`) hold 3 bytes of padding
/// and the index of the name in the long-name tree.
fn parse_dirent(de: &[u8], e: Endian) -> Parsed<'_, (u32, u8, &[u8], u32)> {
    let (rest, (ino, len, short)) = (u32_in(e), u8, peek(take(27usize))).parse(de)?;
    let (rest, (_pad, long_index)) = (skip(3), u32_in(e)).parse(rest)?;
    Ok((rest, (ino, len, short, long_index)))
}

/// A decoded superblock.
#[derive(Debug, Clone)]
pub struct Superblock {
    pub offset: u64,
    pub big_endian: bool,
    pub crc_ok: bool,
    pub serial: u64,
    pub blocksize: u32,
    pub num_inodes: u32,
    pub free_inodes: u32,
    pub num_blocks: u32,
    pub free_blocks: u32,
    inodes: Tree,
    longfile: Tree,
}

fn parse_sb(data: &[u8], off: u64) -> Option<Superblock> {
    let o = usize::try_from(off).ok()?;
    let sb = data.get(o..o.checked_add(512)?)?;
    let e = match sb.get(..4)? {
        [0x22, 0x11, 0x19, 0x68] => Endian::Little,
        [0x68, 0x19, 0x11, 0x22] => Endian::Big,
        _ => return None,
    };
    let (crc, fields) = parse_with(sb, |i| parse_sb_fields(i, e))?;
    let blocksize = fields.blocksize;
    if !(512..=65536).contains(&blocksize) || !blocksize.is_power_of_two() {
        return None;
    }
    Some(Superblock {
        offset: off,
        crc_ok: crc32_qnx6(sb.get(8..)?) == crc,
        ..fields
    })
}

/// `struct qnx6_super_block`: magic, CRC (returned apart), serial, times, flags, versions and
/// volume id (skipped), block size and counts, allocation group, then the roots of the
/// inode, bitmap and long-name trees (80 bytes each). `offset` and `crc_ok` are left for the
/// caller.
fn parse_sb_fields(sb: &[u8], e: Endian) -> Parsed<'_, (u32, Superblock)> {
    let (rest, (_magic, crc, serial, _times_flags_versions_volume)) =
        (u32_in(e), u32_in(e), u64_in(e), skip(32)).parse(sb)?;
    let (rest, [blocksize, num_inodes, free_inodes, num_blocks, free_blocks, _allocgroup]) =
        u32s::<6>(e)(rest)?;
    let (rest, (inodes, _bitmap, longfile)) = (
        |i| parse_root_node(i, e),
        skip(80),
        |i| parse_root_node(i, e),
    )
        .parse(rest)?;
    let fields = Superblock {
        offset: 0,
        big_endian: e == Endian::Big,
        crc_ok: false,
        serial,
        blocksize,
        num_inodes,
        free_inodes,
        num_blocks,
        free_blocks,
        inodes,
        longfile,
    };
    Ok((rest, (crc, fields)))
}

/// Offset of superblock 0: from the boot block, else 0x2000, else 0 (no boot block).
fn find_sb0(data: &[u8]) -> Option<u64> {
    if data.get(..4) == Some(&BOOTBLOCK_MAGIC[..]) {
        for e in [Endian::Little, Endian::Big] {
            if let Some(s) = e.u32(data, 8) {
                let off = u64::from(s) * 512;
                if off > 0 && parse_sb(data, off).is_some() {
                    return Some(off);
                }
            }
        }
    }
    if parse_sb(data, BOOTBLOCK_SIZE).is_some() {
        return Some(BOOTBLOCK_SIZE);
    }
    if parse_sb(data, 0).is_some() {
        return Some(0);
    }
    None
}

/// Where the data blocks start, counted from superblock 0 (`QNX6FS_DATA_START` of QNX's
/// `<sys/fs_qnx6.h>`, whose boot block is 8 KiB before superblock 0): the 4 KiB superblock
/// area, then, for blocks above 4 KiB, padding so that the data blocks are aligned to the
/// block size from the start of the partition (16 KiB blocks start at 16 KiB, 32 KiB ones at
/// 32 KiB).
fn data_area_offset(bs: u64) -> u64 {
    let reserved = BOOTBLOCK_SIZE + SB_AREA;
    SB_AREA
        + if bs <= SB_AREA {
            0
        } else {
            bs.abs_diff(reserved)
        }
}

/// A QNX6 file system at offset 0: the boot block and a superblock where it says (its
/// CRC may be wrong: a damaged file system is still QNX6, and `open` says what it can
/// read), or, with no boot block, a CRC-valid superblock at 0x2000 or 0.
pub fn detect(data: &[u8]) -> bool {
    let boot_block = data.get(..4) == Some(&BOOTBLOCK_MAGIC[..]);
    find_sb0(data)
        .and_then(|o| parse_sb(data, o))
        .is_some_and(|sb| sb.crc_ok || boot_block)
}

/// Validation used by the carver: boot block at `off` and a CRC-valid superblock behind it.
pub(crate) fn valid_at(data: &[u8], off: usize) -> bool {
    data.get(off..)
        .is_some_and(|d| d.get(..4) == Some(&BOOTBLOCK_MAGIC[..]) && detect(d))
}

/// An opened QNX6 file system.
pub struct Qnx6<'a> {
    data: &'a [u8],
    /// Bytes of the input the file system occupies (see [`Container::span`]).
    span: u64,
    e: Endian,
    bs: u64,
    data_start: u64,
    limits: Limits,
    sb: Superblock,
    entries: Vec<Entry>,
    notes: Vec<Note>,
}

/// A raw inode.
#[derive(Debug, Clone, Copy)]
struct Inode {
    tree: Tree,
    mode: u16,
    uid: u32,
    gid: u32,
    mtime: u32,
}

/// `struct qnx6_inode_entry`: size, uid, gid, ftime, mtime, atime, ctime, mode, extended
/// mode, the 16 block pointers and the level count (unlike a root node, the pointers do not
/// follow the size).
fn parse_inode(raw: &[u8], e: Endian) -> Parsed<'_, Inode> {
    let (rest, (size, uid, gid, _ftime, mtime, _atime_ctime)) = (
        u64_in(e),
        u32_in(e),
        u32_in(e),
        u32_in(e),
        u32_in(e),
        skip(8),
    )
        .parse(raw)?;
    let (rest, (mode, _ext_mode, ptrs, levels)) =
        (u16_in(e), skip(2), u32s::<16>(e), u8).parse(rest)?;
    let tree = Tree { size, ptrs, levels };
    let inode = Inode {
        tree,
        mode,
        uid,
        gid,
        mtime,
    };
    Ok((rest, inode))
}

impl<'a> Qnx6<'a> {
    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    pub fn open(data: &'a [u8], limits: &Limits) -> Result<Qnx6<'a>, FormatError> {
        let mut notes = Vec::new();
        let sb0_off = find_sb0(data).ok_or_else(|| {
            FormatError::at(
                ErrorKind::Corrupt,
                0,
                "no QNX6 superblock (magic 0x68191122) found",
            )
        })?;
        let sb0 = parse_sb(data, sb0_off)
            .ok_or_else(|| FormatError::at(ErrorKind::Corrupt, sb0_off, "bad QNX6 superblock"))?;
        let bs = u64::from(sb0.blocksize);
        let data_start = sb0_off + data_area_offset(bs);
        // Superblock 1: from the boot block if it says, else after the data blocks.
        let mut sb1_off = u64::from(sb0.num_blocks)
            .checked_mul(bs)
            .and_then(|x| x.checked_add(data_start));
        if sb0_off == BOOTBLOCK_SIZE && data.get(..4) == Some(&BOOTBLOCK_MAGIC[..]) {
            let e = if sb0.big_endian {
                Endian::Big
            } else {
                Endian::Little
            };
            if let Some(s) = e.u32(data, 12) {
                let off = u64::from(s) * 512;
                if parse_sb(data, off).is_some() {
                    sb1_off = Some(off);
                }
            }
        }
        let sb1 = sb1_off.and_then(|o| parse_sb(data, o));
        // The second superblock ends the file system; without it, the declared size.
        let sb_area = SB_AREA.max(bs);
        let span = match &sb1 {
            Some(sb) => sb.offset.checked_add(sb_area),
            None => u64::from(sb0.num_blocks)
                .checked_mul(bs)
                .and_then(|x| x.checked_add(data_start))
                .and_then(|x| x.checked_add(sb_area)),
        }
        .map_or(data.len() as u64, |end| end.min(data.len() as u64));
        for sb in std::iter::once(&sb0).chain(sb1.as_ref()) {
            notes.push(Note::new(
                "checksum",
                format!(
                    "superblock at {:#x}: CRC {} serial={} blocksize={} blocks={} free_blocks={} inodes={} free_inodes={}",
                    sb.offset,
                    if sb.crc_ok { "valid" } else { "INVALID" },
                    sb.serial,
                    sb.blocksize,
                    sb.num_blocks,
                    sb.free_blocks,
                    sb.num_inodes,
                    sb.free_inodes
                ),
                Some(sb.offset),
            ));
        }
        if sb1.is_none() {
            notes.push(Note::new("warning", "second superblock not found", sb1_off));
        }
        // Active: the CRC-valid one with the higher serial (same block size required).
        let mut cands: Vec<Superblock> = std::iter::once(sb0.clone())
            .chain(sb1)
            .filter(|s| s.blocksize == sb0.blocksize)
            .collect();
        cands.sort_by_key(|s| (s.crc_ok, s.serial));
        let sb = cands.pop().ok_or_else(|| {
            FormatError::at(ErrorKind::Corrupt, sb0_off, "no usable QNX6 superblock")
        })?;
        if !sb.crc_ok {
            notes.push(Note::new(
                "warning",
                "no superblock has a valid CRC; using the highest serial",
                Some(sb.offset),
            ));
        }
        notes.push(Note::new(
            "active-superblock",
            format!("superblock at {:#x} (serial {})", sb.offset, sb.serial),
            Some(sb.offset),
        ));
        let e = if sb.big_endian {
            Endian::Big
        } else {
            Endian::Little
        };
        notes.push(Note::new("byte-order", e.name(), Some(sb.offset)));
        let mut fs = Qnx6 {
            data,
            span,
            e,
            bs,
            data_start,
            limits: *limits,
            sb,
            entries: Vec::new(),
            notes,
        };
        fs.walk()?;
        Ok(fs)
    }

    /// The block number holding logical block `i` of `tree`, `None` for a hole.
    fn map_block(&self, tree: &Tree, i: u64) -> Result<Option<u32>, FormatError> {
        let levels = u32::from(tree.levels);
        if levels > MAX_LEVELS {
            return Err(FormatError::new(
                ErrorKind::Corrupt,
                format!("QNX6 tree with {levels} levels (max {MAX_LEVELS})"),
            ));
        }
        let fan = self.bs / 4;
        let per_root = fan.checked_pow(levels).unwrap_or(u64::MAX);
        let top = i / per_root;
        let Some(&mut_ptr) = tree.ptrs.get(top as usize).filter(|_| top < 16) else {
            return Err(FormatError::new(
                ErrorKind::Corrupt,
                format!("QNX6 logical block {i} beyond the 16 root pointers"),
            ));
        };
        let mut ptr = mut_ptr;
        let mut rem = i % per_root;
        for lvl in (0..levels).rev() {
            if ptr == u32::MAX {
                return Ok(None);
            }
            let unit = fan.pow(lvl);
            let idx = rem / unit;
            rem %= unit;
            let blk = self.block(ptr)?;
            let at = self.block_offset(ptr).unwrap_or(0);
            ptr = self.e.u32(blk, (idx * 4) as usize).ok_or_else(|| {
                FormatError::at(ErrorKind::Corrupt, at, "QNX6 pointer index out of block")
            })?;
        }
        if ptr == u32::MAX {
            return Ok(None);
        }
        Ok(Some(ptr))
    }

    fn block_offset(&self, ptr: u32) -> Option<u64> {
        u64::from(ptr)
            .checked_mul(self.bs)?
            .checked_add(self.data_start)
    }

    fn block(&self, ptr: u32) -> Result<&'a [u8], FormatError> {
        let off = self
            .block_offset(ptr)
            .ok_or_else(|| FormatError::new(ErrorKind::Corrupt, "QNX6 block number overflow"))?;
        super::slice_at(self.data, off, self.bs).ok_or_else(|| {
            FormatError::at(
                ErrorKind::Truncated,
                off,
                format!(
                    "QNX6 block {ptr} lies past the end of the image ({} bytes)",
                    self.data.len()
                ),
            )
        })
    }

    /// Read `len` bytes at `offset` of a tree-structured object.
    fn read_tree(&self, tree: &Tree, offset: u64, len: u64) -> Result<Cow<'a, [u8]>, FormatError> {
        if len > self.limits.max_expanded {
            return Err(super::too_big("QNX6 file", len, &self.limits, None));
        }
        if len == 0 {
            return Ok(Cow::Borrowed(&[]));
        }
        let first = offset / self.bs;
        let end = offset
            .checked_add(len)
            .ok_or_else(|| FormatError::new(ErrorKind::Corrupt, "QNX6 read overflow"))?;
        let last = (end - 1) / self.bs;
        // Fast path: physically contiguous blocks are borrowed.
        let mut blocks = Vec::with_capacity(((last - first + 1) as usize).min(1 << 16));
        for i in first..=last {
            let b = self.map_block(tree, i)?;
            if let Some(p) = b {
                // Validate before allocating anything for the copy.
                self.block(p)?;
            }
            blocks.push(b);
        }
        let contiguous = blocks.windows(2).all(|w| match (w[0], w[1]) {
            (Some(a), Some(b)) => b.checked_sub(a) == Some(1),
            _ => false,
        }) && blocks.first().is_some_and(Option::is_some);
        let skip = offset % self.bs;
        if contiguous {
            if let Some(Some(b0)) = blocks.first() {
                let start = self
                    .block_offset(*b0)
                    .and_then(|o| o.checked_add(skip))
                    .ok_or_else(|| {
                        FormatError::new(ErrorKind::Corrupt, "QNX6 block number overflow")
                    })?;
                if let Some(s) = super::slice_at(self.data, start, len) {
                    return Ok(Cow::Borrowed(s));
                }
            }
        }
        // Copied into a buffer of exactly `len` bytes: the part of each block that is in
        // the range (holes read as zeros).
        let len = len as usize;
        let mut out = Vec::new();
        out.try_reserve_exact(len)
            .map_err(|_| super::out_of_memory("QNX6 file", len as u64, None))?;
        let mut skip = skip as usize;
        for b in blocks {
            let want = (self.bs as usize - skip).min(len - out.len());
            match b {
                Some(p) => {
                    out.extend_from_slice(self.block(p)?.get(skip..skip + want).unwrap_or(&[]))
                }
                None => out.resize(out.len() + want, 0),
            }
            skip = 0;
        }
        Ok(Cow::Owned(out))
    }

    fn inode(&self, ino: u32) -> Result<Inode, FormatError> {
        if ino == 0 {
            return Err(FormatError::new(ErrorKind::Corrupt, "QNX6 inode 0"));
        }
        let off = u64::from(ino - 1) * INODE_SIZE;
        if off + INODE_SIZE > self.sb.inodes.size {
            return Err(FormatError::new(
                ErrorKind::Corrupt,
                format!(
                    "QNX6 inode {ino} beyond the inode table ({} bytes)",
                    self.sb.inodes.size
                ),
            ));
        }
        let raw = self.read_tree(&self.sb.inodes, off, INODE_SIZE)?;
        parse_with(&raw, |i| parse_inode(i, self.e)).ok_or_else(|| {
            FormatError::new(ErrorKind::Corrupt, format!("QNX6 inode {ino} unreadable"))
        })
    }

    fn long_name(&self, index: u32) -> Result<String, FormatError> {
        let off = u64::from(index) * self.bs;
        let raw = self.read_tree(&self.sb.longfile, off, self.bs.min(512 + 2))?;
        let n = self.e.u16(&raw, 0).unwrap_or(0) as usize;
        let name = raw.get(2..2 + n).ok_or_else(|| {
            FormatError::new(
                ErrorKind::Corrupt,
                format!("QNX6 long name {index} too long"),
            )
        })?;
        Ok(crate::names::escape_name(name))
    }

    /// The root directory's entry (inode 1, which must be a directory).
    fn push_root(&mut self) -> Result<(), FormatError> {
        let root = self.inode(1)?;
        if EntryType::from_mode(u32::from(root.mode)) != EntryType::Dir {
            return Err(FormatError::new(
                ErrorKind::Corrupt,
                "QNX6 inode 1 (root) is not a directory",
            ));
        }
        let mut root_e = Entry::new(
            String::new(),
            EntryType::Dir,
            u32::from(root.mode),
            root.tree.size,
        )
        .with_owner_time(root.uid, root.gid, u64::from(root.mtime));
        root_e.ino = Some(1);
        root_e.loc = Loc {
            offset: 0,
            len: 0,
            aux: 1,
        };
        self.entries.push(root_e);
        Ok(())
    }

    /// The inode and name of directory entry `de` in directory `prefix`: a short name in the
    /// entry, a long one through its index into the long-name tree. None for a free entry,
    /// `.`, `..`, a name that cannot be used or read (noted).
    fn dir_entry(&mut self, de: &[u8], prefix: &str) -> Option<(u32, String)> {
        let (ino, len, short, long_index) = parse_with(de, |i| parse_dirent(i, self.e))?;
        if ino == 0 {
            return None;
        }
        let name = if usize::from(len) <= SHORT_NAME_MAX {
            crate::names::escape_name(short.get(..usize::from(len)).unwrap_or(&[]))
        } else {
            match self.long_name(long_index) {
                Ok(n) => n,
                Err(err) => {
                    self.notes.push(Note::new(
                        "error",
                        format!("{prefix}: long name {long_index}: {}", err.message),
                        err.offset,
                    ));
                    return None;
                }
            }
        };
        if name == "." || name == ".." || name.is_empty() || name.contains('/') {
            return None;
        }
        Some((ino, name))
    }

    fn walk(&mut self) -> Result<(), FormatError> {
        self.push_root()?;
        let mut visited: HashSet<u32> = HashSet::new();
        visited.insert(1);
        let mut stack: Vec<(u32, String, usize)> = vec![(1, String::new(), 0)];
        let mut budget = self.limits.max_expanded;
        while let Some((dino, prefix, depth)) = stack.pop() {
            let dir = match self.inode(dino) {
                Ok(d) => d,
                Err(err) => {
                    self.notes
                        .push(Note::new("error", format!("{prefix}: {err}"), None));
                    continue;
                }
            };
            // All directories together may not make us scan more than `max_expanded`
            // bytes: crafted trees of huge, empty directories would otherwise take hours.
            let size = dir.tree.size.min(budget);
            budget -= size;
            if size < dir.tree.size {
                return Err(FormatError::new(
                    ErrorKind::BoundHit,
                    format!(
                        "QNX6 directories hold more than {} bytes in total",
                        self.limits.max_expanded
                    ),
                ));
            }
            let raw = match self.read_tree(&dir.tree, 0, size) {
                Ok(r) => r,
                Err(err) => {
                    self.notes.push(Note::new(
                        "error",
                        format!("directory {prefix:?}: {}", err.message),
                        err.offset,
                    ));
                    continue;
                }
            };
            let mut subdirs = Vec::new();
            for de in raw.chunks_exact(DIRENT_SIZE) {
                let Some((ino, name)) = self.dir_entry(de, &prefix) else {
                    continue;
                };
                let path = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                if self.entries.len() >= self.limits.max_entries {
                    return Err(FormatError::new(
                        ErrorKind::BoundHit,
                        format!(
                            "QNX6 file system has more than {} entries",
                            self.limits.max_entries
                        ),
                    ));
                }
                let inode = match self.inode(ino) {
                    Ok(i) => i,
                    Err(err) => {
                        self.notes.push(Note::new(
                            "error",
                            format!("{path}: {}", err.message),
                            err.offset,
                        ));
                        continue;
                    }
                };
                let mode = u32::from(inode.mode);
                let etype = EntryType::from_mode(mode);
                let mut en = Entry::new(path.clone(), etype, mode, inode.tree.size)
                    .with_owner_time(inode.uid, inode.gid, u64::from(inode.mtime));
                en.ino = Some(u64::from(ino));
                en.loc = Loc {
                    offset: 0,
                    len: inode.tree.size,
                    aux: u64::from(ino),
                };
                if etype == EntryType::Symlink {
                    match self.read_tree(&inode.tree, 0, inode.tree.size.min(4096)) {
                        Ok(t) => {
                            let t = t.split(|&b| b == 0).next().unwrap_or(&[]);
                            en.link_target = Some(crate::names::escape_name(t));
                        }
                        Err(err) => self.notes.push(Note::new(
                            "error",
                            format!("{path}: symlink target: {}", err.message),
                            err.offset,
                        )),
                    }
                }
                if etype == EntryType::Dir {
                    if depth + 1 > MAX_DEPTH {
                        self.notes.push(Note::new(
                            "error",
                            format!("{path}: directory nesting too deep"),
                            None,
                        ));
                    } else if visited.insert(ino) {
                        subdirs.push((ino, path.clone(), depth + 1));
                    } else {
                        self.notes.push(Note::new(
                            "warning",
                            format!("{path}: directory inode {ino} already visited (loop or hard link); not descended"),
                            None,
                        ));
                    }
                }
                self.entries.push(en);
            }
            // Depth-first, in directory order.
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }
}

impl Container for Qnx6<'_> {
    /// The first data block of the file's inode.
    fn data_offset(&self, entry: &Entry) -> Option<u64> {
        let inode = self.inode(u32::try_from(entry.loc.aux).ok()?).ok()?;
        let first = self.map_block(&inode.tree, 0).ok()??;
        self.block_offset(first)
    }

    fn kind(&self) -> ContainerKind {
        ContainerKind::Qnx6
    }
    /// Up to the end of the second superblock's area (mkfs.qnx6 puts it after the last
    /// data block); without it, the size the superblock declares.
    fn span(&self) -> Option<u64> {
        Some(self.span)
    }
    fn entries(&self) -> &[Entry] {
        &self.entries
    }
    fn read(&self, entry: &Entry) -> Result<Cow<'_, [u8]>, FormatError> {
        if let Some(not_a_file) = super::read_non_file(entry) {
            return not_a_file;
        }
        let ino = u32::try_from(entry.loc.aux).map_err(|_| {
            FormatError::new(ErrorKind::Corrupt, format!("{}: bad inode", entry.path))
        })?;
        let inode = self.inode(ino)?;
        self.read_tree(&inode.tree, 0, inode.tree.size)
            .map_err(|e| e.in_context(&entry.path))
    }
    fn notes(&self) -> &[Note] {
        &self.notes
    }
}
