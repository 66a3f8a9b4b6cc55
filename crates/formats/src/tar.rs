//! tar archives: POSIX ustar, GNU (long names `L`/`K`, base-256 sizes) and pax (`path`,
//! `linkpath`, `size` records). File contents are borrowed in place.

use std::borrow::Cow;
use std::collections::HashMap;

use super::{Container, ContainerKind, Entry, EntryType, Limits, Loc, Note};
use crate::{ErrorKind, FormatError};

const BLOCK: usize = 512;
/// Longest GNU long name / pax header we accept (real ones are a few KiB at most).
const MAX_META: u64 = 1024 * 1024;

/// Owner, group and modification time of a header, pax records first.
fn owner_and_time(h: &[u8], pax: &HashMap<String, String>) -> (u32, u32, u64) {
    let field = |at: usize, len: usize| h.get(at..at + len).and_then(octal).unwrap_or(0);
    let pax_num = |key: &str| {
        pax.get(key)
            .and_then(|v| v.split('.').next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let id = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    (
        id(pax_num("uid").unwrap_or_else(|| field(108, 8))),
        id(pax_num("gid").unwrap_or_else(|| field(116, 8))),
        pax_num("mtime").unwrap_or_else(|| field(136, 12)),
    )
}

fn octal(field: &[u8]) -> Option<u64> {
    if let Some(&first) = field.first() {
        if first & 0x80 != 0 {
            // GNU base-256: big-endian binary in the remaining bits.
            let mut v: u64 = u64::from(first & 0x7f);
            for &b in field.get(1..)? {
                v = v.checked_mul(256)?.checked_add(u64::from(b))?;
            }
            return Some(v);
        }
    }
    let mut v: u64 = 0;
    let mut seen = false;
    for &b in field {
        match b {
            b'0'..=b'7' => {
                v = v.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
                seen = true;
            }
            b' ' if !seen => {}
            b' ' | 0 => break,
            _ => return None,
        }
    }
    Some(v)
}

fn field_str(field: &[u8]) -> String {
    let end = memchr::memchr(0, field).unwrap_or(field.len());
    crate::names::escape_name(field.get(..end).unwrap_or(&[]))
}

fn checksum_ok(h: &[u8]) -> bool {
    let Some(stored) = h.get(148..156).and_then(octal) else {
        return false;
    };
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    // Some old tars summed signed chars.
    let ssum: i64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                i64::from(b as i8)
            }
        })
        .sum();
    stored == sum || i64::try_from(stored).ok() == Some(ssum)
}

/// A valid tar header at offset 0 (checksum, and ustar magic or a plausible v7 header).
pub fn detect(data: &[u8]) -> bool {
    let Some(h) = data.get(..BLOCK) else {
        return false;
    };
    if h.iter().all(|&b| b == 0) || !checksum_ok(h) {
        return false;
    }
    let magic = h.get(257..262) == Some(&b"ustar"[..]);
    magic || (h.first().is_some_and(|&b| b != 0) && h.get(124..136).and_then(octal).is_some())
}

/// Normalise an archive path: no leading `/` or `./`, no trailing `/`.
fn clean_path(p: &str) -> String {
    let mut s = p.trim_start_matches('/');
    while let Some(r) = s.strip_prefix("./") {
        s = r.trim_start_matches('/');
    }
    let s = s.trim_end_matches('/');
    if s == "." {
        String::new()
    } else {
        s.to_string()
    }
}

/// Parse pax records `"<len> key=value\n"`.
fn pax_records(data: &[u8]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Some(sp) = memchr::memchr(b' ', rest) else {
            break;
        };
        let Some(len) = std::str::from_utf8(rest.get(..sp).unwrap_or(&[]))
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        else {
            break;
        };
        let Some(rec) = rest.get(sp + 1..len) else {
            break;
        };
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        if let Some(eq) = memchr::memchr(b'=', rec) {
            let k = String::from_utf8_lossy(rec.get(..eq).unwrap_or(&[])).into_owned();
            let v = crate::names::escape_name(rec.get(eq + 1..).unwrap_or(&[]));
            map.insert(k, v);
        }
        rest = rest.get(len..).unwrap_or(&[]);
    }
    map
}

/// A parsed tar archive over borrowed (or, for `.tar.gz`, owned) bytes.
pub struct Tar<'a> {
    data: Cow<'a, [u8]>,
    kind: ContainerKind,
    entries: Vec<Entry>,
    notes: Vec<Note>,
}

impl<'a> Tar<'a> {
    pub fn open(data: &'a [u8], limits: &Limits) -> Result<Tar<'a>, FormatError> {
        let (entries, notes) = parse(data, limits)?;
        Ok(Tar {
            data: Cow::Borrowed(data),
            kind: ContainerKind::Tar,
            entries,
            notes,
        })
    }

    pub(crate) fn from_owned(
        data: Vec<u8>,
        limits: &Limits,
        kind: ContainerKind,
        mut notes: Vec<Note>,
    ) -> Result<Tar<'static>, FormatError> {
        let (entries, more) = parse(&data, limits)?;
        notes.extend(more);
        Ok(Tar {
            data: Cow::Owned(data),
            kind,
            entries,
            notes,
        })
    }
}

/// What metadata records (GNU long names, pax headers) say about the entries that follow.
#[derive(Default)]
struct Meta {
    long_name: Option<String>,
    long_link: Option<String>,
    /// The pax records of the next entry only.
    pax: HashMap<String, String>,
    /// The global pax records (`g`), for all entries after them.
    global: HashMap<String, String>,
}

impl Meta {
    /// Take in the metadata record of type `typeflag` with content `c`.
    fn record(&mut self, typeflag: u8, c: &[u8]) {
        match typeflag {
            b'L' => self.long_name = Some(field_str(c)),
            b'K' => self.long_link = Some(field_str(c)),
            b'x' => self.pax = pax_records(c),
            _ => self.global.extend(pax_records(c)),
        }
    }

    /// The name and link target of header `h`, metadata records first (they are used up).
    fn names(&mut self, h: &[u8]) -> (String, String) {
        let ustar = h.get(257..262) == Some(&b"ustar"[..]);
        let mut name = field_str(h.get(0..100).unwrap_or(&[]));
        if ustar && h.get(263..265) == Some(&b"00"[..]) {
            let prefix = field_str(h.get(345..500).unwrap_or(&[]));
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        if let Some(n) = self.long_name.take() {
            name = n;
        }
        if let Some(p) = self.pax.get("path").or_else(|| self.global.get("path")) {
            name = p.clone();
        }
        let mut link = field_str(h.get(157..257).unwrap_or(&[]));
        if let Some(l) = self.long_link.take() {
            link = l;
        }
        if let Some(l) = self.pax.get("linkpath") {
            link = l.clone();
        }
        (name, link)
    }
}

/// The entry type and file-type mode bits of a header's `typeflag`; `name` for old tars,
/// which mark directories only by a trailing slash.
fn entry_type(typeflag: u8, name: &str) -> (EntryType, u32) {
    let (etype, fmt) = match typeflag {
        b'0' | 0 | b'7' => (EntryType::File, 0o100000),
        b'1' => (EntryType::File, 0o100000),
        b'2' => (EntryType::Symlink, 0o120000),
        b'3' => (EntryType::Device, 0o020000),
        b'4' => (EntryType::Device, 0o060000),
        b'5' => (EntryType::Dir, 0o040000),
        b'6' => (EntryType::Fifo, 0o010000),
        _ => (EntryType::Other, 0),
    };
    if etype == EntryType::File && typeflag == 0 && name.ends_with('/') {
        (EntryType::Dir, 0o040000)
    } else {
        (etype, fmt)
    }
}

/// Where a header is and what it declares, for [`fill_entry`].
struct Header<'d> {
    at: usize,
    typeflag: u8,
    size: u64,
    data_off: usize,
    content: Option<&'d [u8]>,
}

/// Size, location and link of entry `e` (a hard link takes its target's, found in `index`).
fn fill_entry(
    e: &mut Entry,
    h: &Header<'_>,
    link: String,
    entries: &[Entry],
    index: &HashMap<String, usize>,
    notes: &mut Vec<Note>,
) {
    let path = e.path.clone();
    match h.typeflag {
        b'1' => {
            let target = clean_path(&link);
            e.flags.push("hardlink".into());
            if let Some(t) = index.get(&target).and_then(|&i| entries.get(i)) {
                e.size = t.size;
                e.loc = t.loc;
            } else {
                notes.push(Note::new(
                    "warning",
                    format!("hard link {path} -> {target}: target not found earlier in archive"),
                    Some(h.at as u64),
                ));
            }
            e.link_target = Some(target);
        }
        b'2' => {
            e.size = link.len() as u64;
            e.link_target = Some(link);
        }
        _ if e.entry_type == EntryType::File => {
            let size = h.size;
            e.size = size;
            e.loc = Loc {
                offset: h.data_off as u64,
                len: size,
                aux: 0,
            };
            let available = h.content.map_or(0, <[u8]>::len) as u64;
            if available < size {
                notes.push(Note::new(
                    "truncated",
                    format!("{path}: {size} bytes declared, {available} present"),
                    Some(h.data_off as u64),
                ));
            }
        }
        _ => {}
    }
}

fn parse(data: &[u8], limits: &Limits) -> Result<(Vec<Entry>, Vec<Note>), FormatError> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut notes = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut off: usize = 0;
    let mut meta = Meta::default();
    let mut zero_blocks = 0;
    loop {
        let Some(h) = data.get(off..off.saturating_add(BLOCK)) else {
            if off < data.len() {
                notes.push(Note::new(
                    "truncated",
                    "partial tar header at end",
                    Some(off as u64),
                ));
            } else if zero_blocks == 0 && !entries.is_empty() {
                notes.push(Note::new(
                    "truncated",
                    "no end-of-archive blocks",
                    Some(off as u64),
                ));
            }
            break;
        };
        if h.iter().all(|&b| b == 0) {
            zero_blocks += 1;
            off += BLOCK;
            if zero_blocks >= 2 {
                break;
            }
            continue;
        }
        zero_blocks = 0;
        if !checksum_ok(h) {
            if entries.is_empty() {
                return Err(FormatError::at(
                    ErrorKind::Corrupt,
                    off as u64,
                    "tar header checksum mismatch",
                ));
            }
            notes.push(Note::new(
                "error",
                "tar header checksum mismatch; archive listing stops here",
                Some(off as u64),
            ));
            break;
        }
        let hdr_off = off;
        let mut size = h.get(124..136).and_then(octal).ok_or_else(|| {
            FormatError::at(
                ErrorKind::Corrupt,
                hdr_off as u64 + 124,
                "tar: bad size field",
            )
        })?;
        if let Some(s) = meta.pax.get("size").and_then(|s| s.parse::<u64>().ok()) {
            size = s;
        }
        let typeflag = h.get(156).copied().unwrap_or(0);
        let data_off = off + BLOCK;
        let padded = size
            .checked_add(511)
            .map(|s| s & !511)
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| {
                FormatError::at(
                    ErrorKind::Corrupt,
                    hdr_off as u64 + 124,
                    "tar: size overflow",
                )
            })?;
        let next = data_off.checked_add(padded).ok_or_else(|| {
            FormatError::at(
                ErrorKind::Corrupt,
                hdr_off as u64 + 124,
                "tar: size overflow",
            )
        })?;
        let content = data.get(data_off..data_off.saturating_add(size as usize).min(data.len()));
        match typeflag {
            b'L' | b'K' | b'x' | b'g' => {
                if size > MAX_META {
                    return Err(FormatError::at(
                        ErrorKind::BoundHit,
                        hdr_off as u64,
                        "tar: oversized metadata record",
                    ));
                }
                let Some(c) = data.get(data_off..data_off.saturating_add(size as usize)) else {
                    // Truncated here: keep what was listed before, as for a bad checksum.
                    if entries.is_empty() {
                        return Err(FormatError::at(
                            ErrorKind::Truncated,
                            data_off as u64,
                            "tar: truncated metadata record",
                        ));
                    }
                    notes.push(Note::new(
                        "error",
                        "tar: truncated metadata record; archive listing stops here",
                        Some(data_off as u64),
                    ));
                    break;
                };
                meta.record(typeflag, c);
                off = next;
                continue;
            }
            _ => {}
        }
        if entries.len() >= limits.max_entries {
            return Err(FormatError::at(
                ErrorKind::BoundHit,
                hdr_off as u64,
                format!("tar: more than {} entries", limits.max_entries),
            ));
        }
        let (name, link) = meta.names(h);
        let owner = owner_and_time(h, &meta.pax);
        meta.pax.clear();
        let perm = h.get(100..108).and_then(octal).unwrap_or(0) as u32 & 0o7777;
        let path = clean_path(&name);
        let (etype, fmt) = entry_type(typeflag, &name);
        let mut e = Entry::new(path.clone(), etype, fmt | perm, 0)
            .with_owner_time(owner.0, owner.1, owner.2);
        let header = Header {
            at: hdr_off,
            typeflag,
            size,
            data_off,
            content,
        };
        fill_entry(&mut e, &header, link, &entries, &index, &mut notes);
        if etype == EntryType::Other {
            e.flags.push(format!("typeflag={}", char::from(typeflag)));
        }
        index.insert(path, entries.len());
        entries.push(e);
        if next >= data.len() {
            break;
        }
        off = next;
    }
    Ok((entries, notes))
}

impl Container for Tar<'_> {
    fn resident_bytes(&self) -> u64 {
        match &self.data {
            Cow::Owned(v) => v.len() as u64,
            Cow::Borrowed(_) => 0,
        }
    }

    /// In the archive (for a `.tar.gz`, in its payload: not the input's offset).
    fn data_offset(&self, entry: &Entry) -> Option<u64> {
        (self.kind == ContainerKind::Tar).then_some(entry.loc.offset)
    }

    fn kind(&self) -> ContainerKind {
        self.kind
    }
    fn entries(&self) -> &[Entry] {
        &self.entries
    }
    fn read(&self, entry: &Entry) -> Result<Cow<'_, [u8]>, FormatError> {
        if let Some(not_a_file) = super::read_non_file(entry) {
            return not_a_file;
        }
        let d: &[u8] = &self.data;
        super::slice_at(d, entry.loc.offset, entry.loc.len)
            .map(Cow::Borrowed)
            .ok_or_else(|| {
                FormatError::at(
                    ErrorKind::Truncated,
                    entry.loc.offset,
                    format!("{}: file data runs past the end of the archive", entry.path),
                )
            })
    }
    fn notes(&self) -> &[Note] {
        &self.notes
    }
}
