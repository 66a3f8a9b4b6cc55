//! QNX4 file system (Linux `fs/qnx4`).
//!
//! 512-byte blocks, block numbers 1-based in extents (block `n` is at byte `(n - 1) * 512`).
//! Block 1 (offset 0x200) holds the root directory's inode entry, named `/`, followed by the
//! inodes of `.inodes`, `.boot` and `.altboot`. Directory blocks hold 64-byte entries: an
//! inode entry (status `USED`: 16-byte name, size, first extent, extent-block pointer,
//! times, extent count, mode, ...) or a link entry (status `LINK`: 48-byte name, block and
//! index of the inode entry). Files are runs of extents: the first in the inode, the rest
//! in a chain of extent blocks (`IamXblk` signature, up to 60 extents each). Names over 48
//! bytes (QNX 6.2.1 and later, with `.longfilenames` in the root) are records of their own
//! block, named by the link entry (layout as read by fox-it's dissect.qnxfs).

use std::borrow::Cow;
use std::collections::HashSet;

use super::{
    slice_at, too_big, Container, ContainerKind, Endian, Entry, EntryType, Limits, Loc, Note,
};
use crate::layout::{parse_with, skip, Parsed};
use crate::{ErrorKind, FormatError};
use nom::number::complete::{le_u16, le_u32};
use nom::Parser;

const BS: u64 = 512;
const ENTRY: usize = 64;
const ROOT_OFF: usize = 0x200;
const USED: u8 = 0x01;
const BUSY: u8 = 0x04;
const LINK: u8 = 0x08;
/// Only the low five status bits are defined; stale data in a directory's unused tail
/// often has higher ones set.
const STATUS_UNDEFINED: u8 = 0xE0;
const XBLK_SIG: &[u8; 8] = b"IamXblk\0";
const MAX_DEPTH: usize = 256;
/// Length of a link entry's name field; longer names live in `.longfilenames`.
const LINK_NAME_MAX: usize = 48;
/// Where a link entry holds the block of its long-name record (`dl_lfn_blk`).
const LFN_BLOCK_AT: usize = 53;
/// Where the name starts in a long-name record.
const LFN_NAME_AT: usize = 6;
const LE: Endian = Endian::Little;

/// A decoded inode entry.
#[derive(Debug, Clone, Copy)]
struct Inode {
    size: u32,
    first: (u32, u32),
    xblk: u32,
    num_xtnts: u16,
    mode: u16,
    mtime: u32,
    uid: u16,
    gid: u16,
}

fn parse_inode(e: &[u8]) -> Option<Inode> {
    parse_with(e, parse_inode_fields)
}

/// `struct qnx4_inode_entry` (little-endian): the 16-byte name, size, first extent (block,
/// blocks), extent block, ftime, mtime, atime, ctime, extent count, mode, uid, gid.
fn parse_inode_fields(e: &[u8]) -> Parsed<'_, Inode> {
    let (e, (_name, size, first_blk, first_len, xblk, _ftime, mtime, _atime_ctime)) = (
        skip(16),
        le_u32,
        le_u32,
        le_u32,
        le_u32,
        le_u32,
        le_u32,
        skip(8),
    )
        .parse(e)?;
    let (e, (num_xtnts, mode, uid, gid)) = (le_u16, le_u16, le_u16, le_u16).parse(e)?;
    let ino = Inode {
        size,
        first: (first_blk, first_len),
        xblk,
        mtime,
        num_xtnts,
        mode,
        uid,
        gid,
    };
    Ok((e, ino))
}

fn plausible_mode(mode: u16) -> bool {
    matches!(
        u32::from(mode) & 0o170000,
        0o100000 | 0o040000 | 0o120000 | 0o020000 | 0o060000 | 0o010000 | 0o140000
    )
}

fn valid_root(data: &[u8]) -> Option<Inode> {
    let r = data.get(ROOT_OFF..ROOT_OFF + ENTRY)?;
    if r.get(..16)? != b"/\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0" {
        return None;
    }
    let ino = parse_inode(r)?;
    if u32::from(ino.mode) & 0o170000 != 0o040000
        || ino.num_xtnts == 0
        || ino.first.0 == 0
        || ino.first.1 == 0
        || ino.size == 0
        || ino.size % ENTRY as u32 != 0
    {
        return None;
    }
    // The first directory block starts with the "." entry.
    let dir_off = (u64::from(ino.first.0) - 1) * BS;
    let first = slice_at(data, dir_off, ENTRY as u64)?;
    (first.first() == Some(&b'.') && first.get(1) == Some(&0)).then_some(ino)
}

/// A QNX4 file system at offset 0: the root entry `/` at 0x200, a directory whose first
/// block starts with `.`.
pub fn detect(data: &[u8]) -> bool {
    valid_root(data).is_some()
}

/// Validation used by the carver.
pub(crate) fn valid_at(data: &[u8], off: usize) -> bool {
    data.get(off..).is_some_and(detect)
}

/// An opened QNX4 file system.
pub struct Qnx4<'a> {
    data: &'a [u8],
    /// End of the last block the file system was seen to use (see [`Container::span`]).
    used_end: u64,
    limits: Limits,
    entries: Vec<Entry>,
    notes: Vec<Note>,
}

impl<'a> Qnx4<'a> {
    pub fn open(data: &'a [u8], limits: &Limits) -> Result<Qnx4<'a>, FormatError> {
        let root = valid_root(data).ok_or_else(|| {
            FormatError::at(
                ErrorKind::Corrupt,
                ROOT_OFF as u64,
                "no QNX4 root directory entry \"/\" at 0x200",
            )
        })?;
        let mut fs = Qnx4 {
            data,
            used_end: (ROOT_OFF + ENTRY) as u64,
            limits: *limits,
            entries: Vec::new(),
            notes: vec![Note::new(
                "qnx4",
                format!(
                    "root directory at 0x200: {} bytes, first extent block {} ({} blocks)",
                    root.size, root.first.0, root.first.1
                ),
                Some(ROOT_OFF as u64),
            )],
        };
        let mut re = Entry::new(
            String::new(),
            EntryType::Dir,
            u32::from(root.mode),
            u64::from(root.size),
        )
        .with_owner_time(
            u32::from(root.uid),
            u32::from(root.gid),
            u64::from(root.mtime),
        );
        re.ino = Some(ROOT_OFF as u64 / ENTRY as u64);
        re.loc = Loc {
            offset: ROOT_OFF as u64,
            len: u64::from(root.size),
            aux: 0,
        };
        fs.entries.push(re);
        if let Ok(exts) = fs.extents(&root) {
            fs.note_used(&exts);
        }
        fs.walk(root)?;
        Ok(fs)
    }

    /// Record the extents of an entry as used (bounded by the input).
    fn note_used(&mut self, exts: &[(u64, u64)]) {
        let len = self.data.len() as u64;
        for &(off, n) in exts {
            self.used_end = self.used_end.max(off.saturating_add(n).min(len));
        }
    }

    /// The extents (start byte, length in bytes) of an inode.
    fn extents(&self, ino: &Inode) -> Result<Vec<(u64, u64)>, FormatError> {
        let mut out = Vec::new();
        let want = usize::from(ino.num_xtnts);
        let ext = |blk: u32, n: u32| -> Result<(u64, u64), FormatError> {
            if blk == 0 {
                return Err(FormatError::new(
                    ErrorKind::Corrupt,
                    "QNX4 extent at block 0",
                ));
            }
            Ok(((u64::from(blk) - 1) * BS, u64::from(n) * BS))
        };
        if want == 0 {
            return Ok(out);
        }
        out.push(ext(ino.first.0, ino.first.1)?);
        let mut xblk = ino.xblk;
        let mut seen = HashSet::new();
        while out.len() < want && xblk != 0 {
            if !seen.insert(xblk) {
                return Err(FormatError::at(
                    ErrorKind::Corrupt,
                    (u64::from(xblk) - 1) * BS,
                    "QNX4 extent block chain loops",
                ));
            }
            let off = (u64::from(xblk) - 1) * BS;
            let b = slice_at(self.data, off, BS).ok_or_else(|| {
                FormatError::at(
                    ErrorKind::Truncated,
                    off,
                    "QNX4 extent block past the end of the image",
                )
            })?;
            if b.get(68..76) != Some(&XBLK_SIG[..]) {
                return Err(FormatError::at(
                    ErrorKind::Corrupt,
                    off,
                    "QNX4 extent block without IamXblk signature",
                ));
            }
            let n = usize::from(b.get(8).copied().unwrap_or(0)).min(60);
            for i in 0..n {
                if out.len() >= want {
                    break;
                }
                let blk = LE.u32(b, 16 + 8 * i).unwrap_or(0);
                let cnt = LE.u32(b, 20 + 8 * i).unwrap_or(0);
                out.push(ext(blk, cnt)?);
            }
            xblk = LE.u32(b, 0).unwrap_or(0);
        }
        Ok(out)
    }

    fn read_inode(&self, ino: &Inode, cap: u64) -> Result<Cow<'a, [u8]>, FormatError> {
        let size = u64::from(ino.size).min(cap);
        if size > self.limits.max_expanded {
            return Err(too_big("QNX4 file", size, &self.limits, None));
        }
        let exts = self.extents(ino)?;
        // One extent covering the file: borrow.
        if let Some(&(off, len)) = exts.first() {
            if len >= size {
                return slice_at(self.data, off, size)
                    .map(Cow::Borrowed)
                    .ok_or_else(|| {
                        FormatError::at(
                            ErrorKind::Truncated,
                            off,
                            "QNX4 extent past the end of the image",
                        )
                    });
            }
        }
        let total: u64 = exts.iter().map(|e| e.1).sum();
        if total < size {
            return Err(FormatError::new(
                ErrorKind::Corrupt,
                format!("QNX4 file of {size} bytes has only {total} bytes of extents"),
            ));
        }
        for &(off, len) in &exts {
            if slice_at(self.data, off, len).is_none() {
                return Err(FormatError::at(
                    ErrorKind::Truncated,
                    off,
                    "QNX4 extent past the end of the image",
                ));
            }
        }
        let mut out = Vec::new();
        out.try_reserve_exact(size as usize)
            .map_err(|_| super::out_of_memory("QNX4 file", size, None))?;
        for (off, len) in exts {
            let need = size - out.len() as u64;
            if need == 0 {
                break;
            }
            let take = len.min(need);
            out.extend_from_slice(slice_at(self.data, off, take).unwrap_or(&[]));
        }
        Ok(Cow::Owned(out))
    }

    /// The long name of a link entry, when it has one (`.longfilenames`, QNX 6.2.1 and
    /// later): a link entry whose 48-byte name is full holds, at byte 53, the block of its
    /// long-name record: 6 bytes, then the name, NUL-terminated, up to 505 bytes. Its first
    /// 48 bytes are the entry's own name (what older systems show); a record that does not
    /// start with them is not this entry's, and is an error.
    fn long_name(&self, de: &[u8], short: &[u8]) -> Result<Option<Vec<u8>>, FormatError> {
        let blk = LE.u32(de, LFN_BLOCK_AT).unwrap_or(0);
        if short.len() < LINK_NAME_MAX || blk == 0 {
            return Ok(None);
        }
        let off = (u64::from(blk) - 1) * BS;
        let rec = slice_at(self.data, off, BS).ok_or_else(|| {
            FormatError::at(
                ErrorKind::Truncated,
                off,
                "long-name block past the end of the image",
            )
        })?;
        let text = rec.get(LFN_NAME_AT..).unwrap_or(&[]);
        let end = memchr::memchr(0, text).unwrap_or(text.len());
        let long = text.get(..end).unwrap_or(&[]);
        if long.len() <= LINK_NAME_MAX || !long.starts_with(short) {
            return Err(FormatError::at(
                ErrorKind::Corrupt,
                off,
                format!("long-name block {blk} does not hold this entry's name"),
            ));
        }
        Ok(Some(long.to_vec()))
    }

    /// The path and inode of directory entry `de` in directory `prefix`: None for a free
    /// or skipped entry (`.`, `..`, a bad name); the inode None when it cannot be resolved.
    #[allow(clippy::type_complexity)]
    fn dir_entry(&mut self, de: &[u8], prefix: &str) -> Option<(String, Option<(u64, Inode)>)> {
        let status = de.get(63).copied().unwrap_or(0);
        let name_end = |max: usize| de.iter().take(max).position(|&b| b == 0).unwrap_or(max);
        if de.first().copied().unwrap_or(0) == 0
            || status & STATUS_UNDEFINED != 0
            || status & (USED | LINK | BUSY) == 0
        {
            return None;
        }
        // Resolve the inode: inline (USED) or through a link entry (LINK).
        let as_link = || -> Option<(u64, Inode)> {
            let blk = LE.u32(de, 48)?;
            let ndx = u64::from(*de.get(52)?);
            if blk == 0 || ndx >= 8 {
                return None;
            }
            let off = (u64::from(blk) - 1) * BS + ndx * ENTRY as u64;
            let ie = slice_at(self.data, off, ENTRY as u64)?;
            let ino = parse_inode(ie)?;
            plausible_mode(ino.mode).then_some((off, ino))
        };
        let (name, resolved) = if status & LINK != 0 {
            (de.get(..name_end(48)).unwrap_or(&[]), as_link())
        } else if status & USED != 0 {
            let ino = parse_inode(de).filter(|i| plausible_mode(i.mode));
            (de.get(..name_end(16)).unwrap_or(&[]), ino.map(|i| (0, i)))
        } else {
            // BUSY without USED/LINK (seen on lost+found): take it if the link
            // interpretation is sound.
            (de.get(..name_end(48)).unwrap_or(&[]), as_link())
        };
        let long = if status & (LINK | USED) != USED {
            self.long_name(de, name)
        } else {
            Ok(None)
        };
        let name = match long {
            Ok(Some(long)) => crate::names::escape_name(&long),
            Ok(None) => crate::names::escape_name(name),
            Err(e) => {
                let short = crate::names::escape_name(name);
                self.notes.push(Note::new(
                    "warning",
                    format!("{prefix}/{short}: {}; the 48-byte name is used", e.message),
                    e.offset,
                ));
                short
            }
        };
        if name == "." || name == ".." || name.is_empty() || name.contains('/') {
            return None;
        }
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        Some((path, resolved))
    }

    /// The entry of inode `ino` (at `ino_key` when not inline) named `path`: its extents
    /// (a few as flags), the locator its data is read from, a symlink's target.
    fn entry_of(&mut self, path: String, ino_key: u64, ino: &Inode) -> (Entry, EntryType) {
        let mode = u32::from(ino.mode);
        let etype = EntryType::from_mode(mode);
        let mut en = Entry::new(path.clone(), etype, mode, u64::from(ino.size)).with_owner_time(
            u32::from(ino.uid),
            u32::from(ino.gid),
            u64::from(ino.mtime),
        );
        if ino_key != 0 {
            en.ino = Some(ino_key / ENTRY as u64);
        }
        en.flags.push(format!("extents={}", ino.num_xtnts));
        // The first few extents, as image byte offset + length.
        match self.extents(ino) {
            Ok(exts) => {
                for (off, len) in exts.iter().take(4) {
                    en.flags.push(format!("extent={off:#x}+{len:#x}"));
                }
                self.note_used(&exts);
            }
            Err(e) => {
                en.flags.push("bad-extents".into());
                self.notes.push(Note::new(
                    "error",
                    format!("{path}: {}", e.message),
                    e.offset,
                ));
            }
        }
        // Locator: the inode entry itself is re-parsed on read from these fields.
        en.loc = Loc {
            offset: u64::from(ino.first.0) | (u64::from(ino.first.1) << 32),
            len: u64::from(ino.size),
            aux: u64::from(ino.xblk)
                | (u64::from(ino.num_xtnts) << 32)
                | (u64::from(ino.mode) << 48),
        };
        if etype == EntryType::Symlink {
            match self.read_inode(ino, 4096) {
                Ok(t) => {
                    let t = t.split(|&b| b == 0).next().unwrap_or(&[]);
                    en.link_target = Some(crate::names::escape_name(t));
                }
                Err(e) => self.notes.push(Note::new(
                    "error",
                    format!("{path}: symlink target: {}", e.message),
                    e.offset,
                )),
            }
        }
        (en, etype)
    }

    fn walk(&mut self, root: Inode) -> Result<(), FormatError> {
        let mut visited: HashSet<u64> = HashSet::new();
        visited.insert(ROOT_OFF as u64);
        let mut stack: Vec<(Inode, String, usize)> = vec![(root, String::new(), 0)];
        let mut budget = self.limits.max_expanded;
        while let Some((dir, prefix, depth)) = stack.pop() {
            // All directories together may not make us scan more than `max_expanded` bytes.
            let size = u64::from(dir.size);
            if size > budget {
                return Err(FormatError::new(
                    ErrorKind::BoundHit,
                    format!(
                        "QNX4 directories hold more than {} bytes in total",
                        self.limits.max_expanded
                    ),
                ));
            }
            budget -= size;
            let raw = match self.read_inode(&dir, u64::MAX) {
                Ok(r) => r,
                Err(e) => {
                    self.notes.push(Note::new(
                        "error",
                        format!("directory {prefix:?}: {}", e.message),
                        e.offset,
                    ));
                    continue;
                }
            };
            let mut subdirs = Vec::new();
            for de in raw.chunks_exact(ENTRY) {
                let Some((path, resolved)) = self.dir_entry(de, &prefix) else {
                    continue;
                };
                let Some((ioff, ino)) = resolved else {
                    self.notes.push(Note::new(
                        "error",
                        format!("{path}: unresolvable directory entry"),
                        None,
                    ));
                    continue;
                };
                // Inline inodes live in the directory's own blocks; locate them by content.
                let ino_key = if ioff != 0 { ioff } else { 0 };
                if self.entries.len() >= self.limits.max_entries {
                    return Err(FormatError::new(
                        ErrorKind::BoundHit,
                        format!(
                            "QNX4 file system has more than {} entries",
                            self.limits.max_entries
                        ),
                    ));
                }
                let (en, etype) = self.entry_of(path.clone(), ino_key, &ino);
                if etype == EntryType::Dir {
                    let key = if ino_key != 0 {
                        ino_key
                    } else {
                        (u64::from(ino.first.0) << 1) | 1
                    };
                    if depth + 1 > MAX_DEPTH {
                        self.notes.push(Note::new(
                            "error",
                            format!("{path}: directory nesting too deep"),
                            None,
                        ));
                    } else if visited.insert(key) {
                        subdirs.push((ino, path.clone(), depth + 1));
                    } else {
                        self.notes.push(Note::new(
                            "warning",
                            format!("{path}: directory already visited; not descended"),
                            None,
                        ));
                    }
                }
                self.entries.push(en);
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }
}

impl Container for Qnx4<'_> {
    /// The first extent (its block number is the low half of `loc.offset`).
    fn data_offset(&self, entry: &Entry) -> Option<u64> {
        let first = entry.loc.offset & 0xffff_ffff;
        first.checked_sub(1).map(|b| b * BS)
    }

    fn kind(&self) -> ContainerKind {
        ContainerKind::Qnx4
    }
    /// Up to the end of the last extent any entry uses. Not the size the `.bitmap` implies:
    /// real images disagree with it (the corpus image's bitmap covers 1 MiB of its 1.3).
    fn span(&self) -> Option<u64> {
        Some(self.used_end)
    }
    fn entries(&self) -> &[Entry] {
        &self.entries
    }
    fn read(&self, entry: &Entry) -> Result<Cow<'_, [u8]>, FormatError> {
        if let Some(not_a_file) = super::read_non_file(entry) {
            return not_a_file;
        }
        let l = entry.loc;
        let ino = Inode {
            size: l.len as u32,
            first: (l.offset as u32, (l.offset >> 32) as u32),
            xblk: l.aux as u32,
            num_xtnts: (l.aux >> 32) as u16,
            mode: (l.aux >> 48) as u16,
            mtime: 0,
            uid: 0,
            gid: 0,
        };
        self.read_inode(&ino, u64::MAX)
            .map_err(|e| e.in_context(&entry.path))
    }
    fn notes(&self) -> &[Note] {
        &self.notes
    }
}
