//! Firmware containers: QNX boot images (IFS), QNX6 and QNX4 file systems, the EFS (NOR) and
//! ETFS (NAND) flash file systems, tar and gzip.
//!
//! The bottom layer: depends on no other crate of the workspace, only on std, serde,
//! thiserror, rayon, the codecs (flate2, lzokay-native; UCL is its own) and memchr,
//! aho-corasick and nom. It knows nothing of ELF, calloc or QNX releases.
//!
//! Each reader understands exactly one format. Nesting (an IFS inside a QNX6 file system
//! inside a `.tar.gz`) is the caller's business: it calls [`detect`] / [`open`] again on the
//! bytes of an entry.
//!
//! Every reader works on a borrowed byte slice, never panics on hostile input, and bounds
//! the memory it allocates by [`Limits`]. Problems that do not stop reading (a bad checksum,
//! an unreadable directory entry) become [`Note`]s; problems that do are [`FormatError`]s.
//!
//! Note kinds in use:
//! - `checksum`: IFS startup / image word sums, QNX6 superblock CRCs ("valid" or "INVALID",
//!   with the offset of the summed part);
//! - `startup-header`, `image-header`: every IFS header field; `byte-order`; `compression`;
//!   `preboot` (size of the stub before the startup header); `layout` (bare imagefs);
//! - `boot-script`: the IFS boot script decoded to text, one command per line;
//! - `active-superblock` (QNX6), `qnx4` (root directory), `payload` (gzip holding a tar);
//! - `efs-partition` (each EFS partition: units, byte order, alignment, mount point),
//!   `etfs-layout` (ETFS cluster and spare sizes, clusters and versions);
//! - `warning`, `error`, `truncated`: damage that did not stop the reader.
//!
//! Entry flags in use: IFS `elf`, `run-once`, `bootstrap` (inode flags), `boot-script`,
//! `boot` (named by `boot_ino`), `dev=N`/`rdev=N` (devices), `truncated` (data past the
//! image); tar `hardlink`, `typeflag=X`; QNX4 `extents=N`, `extent=OFFSET+LEN` (first four),
//! `bad-extents`; EFS `extents=N`, `bad-extents`, `mount-point`, `deflated`; ETFS
//! `missing-clusters=N`, `orphan`, and [`FS_METADATA_FLAG`] (the scan does not examine those).

use std::borrow::Cow;

use serde::Serialize;

pub mod error;
pub mod names;
pub use error::{ErrorKind, FormatError};

pub mod block_memo;
mod buf_pool;
pub mod carve;
mod carve_cut;
pub mod carve_flash;
pub mod efs;
pub mod etfs;
pub mod extract;
pub mod gzip;
pub mod ifs;
mod layout;
pub mod lzo;
mod pair_filter;
pub mod qnx4;
pub mod qnx6;
pub mod tar;
/// The suite's skip rules (missing corpus fails under CI), shared with tests/common.
#[cfg(test)]
#[path = "../../../tests/common/skip.rs"]
pub(crate) mod test_skip;
pub mod ucl;
pub mod work_budget;

pub use carve::carve;
pub use extract::{extract, extract_within, ExtractError, ExtractSummary};

/// The container formats this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerKind {
    /// QNX image file system (boot image), optionally behind a startup header and preboot stub.
    Ifs,
    /// QNX6 power-safe file system.
    Qnx6,
    /// QNX4 file system.
    Qnx4,
    /// POSIX ustar / GNU / pax archive.
    Tar,
    /// A gzip stream: one entry (the payload), or the tar entries if the payload is a tar.
    Gzip,
    /// QNX embedded flash file system (NOR flash, `mkefs`, `devf-*`).
    Efs,
    /// QNX embedded transaction file system (NAND flash, `fs-etfs-*`).
    Etfs,
}

impl ContainerKind {
    pub fn name(self) -> &'static str {
        match self {
            ContainerKind::Ifs => "ifs",
            ContainerKind::Qnx6 => "qnx6",
            ContainerKind::Qnx4 => "qnx4",
            ContainerKind::Tar => "tar",
            ContainerKind::Gzip => "gzip",
            ContainerKind::Efs => "efs",
            ContainerKind::Etfs => "etfs",
        }
    }

    /// The kind [`ContainerKind::name`] names.
    pub fn from_name(name: &str) -> Option<ContainerKind> {
        [
            ContainerKind::Ifs,
            ContainerKind::Qnx6,
            ContainerKind::Qnx4,
            ContainerKind::Tar,
            ContainerKind::Gzip,
            ContainerKind::Efs,
            ContainerKind::Etfs,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    /// Whether finding this format is itself evidence of QNX: only QNX writes boot images
    /// and QNX4/QNX6/EFS/ETFS file systems, so one recognised by its signature makes a
    /// target QNX even when nothing inside it can be read.
    pub fn is_qnx_format(self) -> bool {
        match self {
            ContainerKind::Ifs
            | ContainerKind::Qnx6
            | ContainerKind::Qnx4
            | ContainerKind::Efs
            | ContainerKind::Etfs => true,
            ContainerKind::Tar | ContainerKind::Gzip => false,
        }
    }

    /// What recognised the format, for the evidence a report gives.
    pub fn signature(self) -> &'static str {
        match self {
            ContainerKind::Ifs => "QNX boot image (IFS startup or image header)",
            ContainerKind::Qnx6 => "QNX6 file system (boot block and superblock)",
            ContainerKind::Qnx4 => "QNX4 file system (root directory entry)",
            ContainerKind::Tar => "tar archive header",
            ContainerKind::Gzip => "gzip header",
            ContainerKind::Efs => "QNX EFS flash file system (QSSL_F3S partition)",
            ContainerKind::Etfs => "QNX ETFS flash file system (transaction records)",
        }
    }
}

/// An error of a reader that says what went wrong as a value of its own `kind` type (EFS,
/// ETFS), and where: the offset in the reader's input of the structure at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedError<K> {
    pub offset: u64,
    pub kind: K,
}

impl<K> LocatedError<K> {
    pub(crate) fn at(offset: usize, kind: K) -> LocatedError<K> {
        LocatedError {
            offset: offset as u64,
            kind,
        }
    }
}

impl<K: std::fmt::Display> std::fmt::Display for LocatedError<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at offset {:#x})", self.kind, self.offset)
    }
}

impl<K: std::fmt::Display + std::fmt::Debug> std::error::Error for LocatedError<K> {}

/// The [`ErrorKind`] of a reader's own error kind.
pub trait KindOfError {
    fn error_kind(&self) -> ErrorKind;
}

impl<K: std::fmt::Display + KindOfError> From<LocatedError<K>> for FormatError {
    fn from(e: LocatedError<K>) -> FormatError {
        FormatError::at(e.kind.error_kind(), e.offset, e.kind.to_string())
    }
}

/// Flag of an entry that is the file system's own bookkeeping (ETFS `.badblks`, `.counts`,
/// `.filetable`): listed and extractable, but not examined as firmware.
pub const FS_METADATA_FLAG: &str = "fs-metadata";

/// Resource limits applied by every reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Hard cap, in bytes, on the output of any one decompression or file read
    /// (a whole compressed imagefs, a gzip payload, one file of a file system).
    pub max_expanded: u64,
    /// Hard cap on the number of entries one container may list.
    pub max_entries: usize,
}

/// Default for [`Limits::max_expanded`]: 512 MiB.
///
/// Real IFS boot images are a few MiB to a few tens of MiB (they are copied to RAM at boot);
/// the biggest flash parts that hold them are 256 MiB to 1 GiB. 512 MiB lets any real
/// boot image or file through while a decompression bomb stops long before it exhausts the
/// memory of an ordinary workstation or CI runner.
pub const DEFAULT_MAX_EXPANDED: u64 = 512 * 1024 * 1024;

/// Default for [`Limits::max_entries`]: one million.
///
/// A full QNX SDP target tree has some tens of thousands of files and boot images a few
/// hundred; a million leaves room for the largest real file systems while bounding the
/// memory a crafted directory structure can make us spend on `Entry` values (~100 MB).
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_expanded: DEFAULT_MAX_EXPANDED,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

/// What kind of object an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryType {
    File,
    Dir,
    Symlink,
    Device,
    Fifo,
    Other,
}

impl EntryType {
    /// From the `S_IFMT` bits of a POSIX mode (QNX uses the usual values, plus `S_IFNAM`).
    pub fn from_mode(mode: u32) -> EntryType {
        match mode & 0o170000 {
            0o100000 => EntryType::File,
            0o040000 => EntryType::Dir,
            0o120000 => EntryType::Symlink,
            0o020000 | 0o060000 => EntryType::Device,
            0o010000 => EntryType::Fifo,
            _ => EntryType::Other,
        }
    }

    fn letter(self) -> char {
        match self {
            EntryType::File => '-',
            EntryType::Dir => 'd',
            EntryType::Symlink => 'l',
            EntryType::Device => 'c',
            EntryType::Fifo => 'p',
            EntryType::Other => '?',
        }
    }
}

/// Where a reader finds an entry's bytes; its meaning is private to each reader, but two
/// file entries of one container with the same `Loc` read the same bytes (the scanner
/// examines them once: hard links, entries sharing an extent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Loc {
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) aux: u64,
}

/// One object inside a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Path inside the container, `/`-separated, without a leading slash.
    pub path: String,
    pub entry_type: EntryType,
    /// POSIX mode including the `S_IFMT` bits.
    pub mode: u32,
    /// Size in bytes of the content [`Container::read`] returns (files) or of the target (links).
    pub size: u64,
    pub link_target: Option<String>,
    pub ino: Option<u64>,
    /// Owner, where the format records one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Group, where the format records one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Time of last modification, seconds since 1970-01-01 UTC, where the format records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtime: Option<u64>,
    /// Format-specific flags, e.g. IFS inode flags `elf`, `run-once`, `bootstrap`, `boot-script`.
    pub flags: Vec<String>,
    #[serde(skip)]
    pub loc: Loc,
}

impl Entry {
    pub(crate) fn new(path: String, entry_type: EntryType, mode: u32, size: u64) -> Entry {
        Entry {
            path,
            entry_type,
            mode,
            size,
            link_target: None,
            ino: None,
            uid: None,
            gid: None,
            mtime: None,
            flags: Vec::new(),
            loc: Loc::default(),
        }
    }

    /// The same entry with owner, group and modification time.
    pub(crate) fn with_owner_time(mut self, uid: u32, gid: u32, mtime: u64) -> Entry {
        self.uid = Some(uid);
        self.gid = Some(gid);
        self.mtime = Some(mtime);
        self
    }
}

/// A fact worth reporting about a container: checksums, compression, byte order, header
/// fields, the IFS boot script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub kind: String,
    pub detail: String,
    pub offset: Option<u64>,
}

impl Note {
    pub(crate) fn new(kind: &str, detail: impl Into<String>, offset: Option<u64>) -> Note {
        Note {
            kind: kind.to_string(),
            detail: detail.into(),
            offset,
        }
    }
}

/// An opened container.
pub trait Container {
    fn kind(&self) -> ContainerKind;
    fn entries(&self) -> &[Entry];
    /// The content of a file entry (or a symlink's target), bounded by the [`Limits`] the
    /// container was opened with.
    fn read(&self, entry: &Entry) -> Result<Cow<'_, [u8]>, FormatError>;
    fn notes(&self) -> &[Note];
    /// Bytes this container holds in memory of its own (a decompressed imagefs or gzip
    /// payload); 0 when it only borrows its input. The scanner charges them to the file's
    /// memory budget (`scan::MAX_EXPANDED_PER_FILE`).
    fn resident_bytes(&self) -> u64 {
        0
    }
    /// How many bytes at the start of the input decide everything this container reports,
    /// when that is known: an input with the same [`ifs::reuse_key`] and the same first
    /// `input_extent` bytes opens to the same container. The scanner then reuses what it
    /// found in the first copy of an image for the next (a flash dump holding a boot image
    /// that is also in the tree as a file, the A and B copies of a partition).
    fn input_extent(&self) -> Option<u64> {
        None
    }
    /// Where the bytes of a file entry start in the container's input, when they lie there
    /// (errors about an entry that is not read are located there).
    fn data_offset(&self, _entry: &Entry) -> Option<u64> {
        None
    }
    /// Where the bytes of a file entry start in the data the container decoded from its
    /// input (a compressed boot image's imagefs), when they do not lie in the input itself:
    /// errors about an entry that is not read name this offset in their message.
    fn decoded_data_offset(&self, _entry: &Entry) -> Option<u64> {
        None
    }
    /// How many bytes from the start of the input this container occupies, when its format
    /// says (the blocks a file system really uses or its declared size, a boot image's
    /// startup part and imagefs), never more than the input. A raw dump is carved outside
    /// these bytes (`carve::images_of`): what lies inside is reached through the
    /// container's own entries. None: not known.
    fn span(&self) -> Option<u64> {
        None
    }
    /// Where decoding stopped, when the container is read only in part (its `damage` note
    /// says so too): what went wrong, of which kind.
    fn damage(&self) -> Option<&FormatError> {
        None
    }
}

/// What every reader's [`Container::read`] does before reading file data: a symlink reads as
/// its target; anything else that is not a regular file is an error. `None`: a regular file.
pub(crate) fn read_non_file(entry: &Entry) -> Option<Result<Cow<'static, [u8]>, FormatError>> {
    match entry.entry_type {
        EntryType::File => None,
        EntryType::Symlink => Some(Ok(Cow::Owned(
            entry.link_target.clone().unwrap_or_default().into_bytes(),
        ))),
        _ => Some(Err(FormatError::new(
            ErrorKind::Unsupported,
            format!("{}: not a regular file", entry.path),
        ))),
    }
}

/// Identify the container format at offset 0 of `data` (IFS also behind a preboot stub).
pub fn detect(data: &[u8]) -> Option<ContainerKind> {
    // File systems first: their signatures sit at fixed offsets, while the IFS startup
    // header is searched for (and a file system may hold an IFS near its start).
    if qnx6::detect(data) {
        return Some(ContainerKind::Qnx6);
    }
    if qnx4::detect(data) {
        return Some(ContainerKind::Qnx4);
    }
    // Flash file systems: EFS has a unit info at offset 0.
    if efs::detect(data) {
        return Some(ContainerKind::Efs);
    }
    // ETFS has no magic: its pages must decode as transactions and hold a file table.
    if etfs::detect(data) {
        return Some(ContainerKind::Etfs);
    }
    if ifs::detect(data) {
        return Some(ContainerKind::Ifs);
    }
    if gzip::detect(data) {
        return Some(ContainerKind::Gzip);
    }
    if tar::detect(data) {
        return Some(ContainerKind::Tar);
    }
    None
}

/// Open `data` as a container of the given kind.
pub fn open<'a>(
    data: &'a [u8],
    kind: ContainerKind,
    limits: &Limits,
) -> Result<Box<dyn Container + 'a>, FormatError> {
    Ok(match kind {
        ContainerKind::Ifs => Box::new(ifs::Ifs::open(data, limits)?),
        ContainerKind::Qnx6 => Box::new(qnx6::Qnx6::open(data, limits)?),
        ContainerKind::Qnx4 => Box::new(qnx4::Qnx4::open(data, limits)?),
        ContainerKind::Tar => Box::new(tar::Tar::open(data, limits)?),
        ContainerKind::Gzip => gzip::open(data, limits)?,
        ContainerKind::Efs => Box::new(efs::Efs::open(data, limits)?),
        ContainerKind::Etfs => Box::new(etfs::Etfs::open(data, limits)?),
    })
}

/// `rwxr-xr-x`-style rendering of the permission bits.
pub fn mode_string(entry_type: EntryType, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(entry_type.letter());
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (bit, c)) in bits.iter().enumerate() {
        let set = mode & bit != 0;
        let special = match i {
            2 => mode & 0o4000 != 0,
            5 => mode & 0o2000 != 0,
            8 => mode & 0o1000 != 0,
            _ => false,
        };
        let ch = match (set, special, i) {
            (true, true, 8) => 't',
            (false, true, 8) => 'T',
            (true, true, _) => 's',
            (false, true, _) => 'S',
            (true, false, _) => *c,
            (false, false, _) => '-',
        };
        s.push(ch);
    }
    s
}

/// One text line per entry, like `dumpifs`/`ls -l`: type and mode, size, path,
/// `-> target` for links, and the format's flags in brackets.
pub fn listing(c: &dyn Container) -> Vec<String> {
    c.entries().iter().map(listing_line).collect()
}

/// The listing line of one entry (see [`listing`]).
pub fn listing_line(e: &Entry) -> String {
    let mut line = format!(
        "{} {:>10} {}",
        mode_string(e.entry_type, e.mode),
        e.size,
        if e.path.is_empty() { "." } else { &e.path }
    );
    if let Some(t) = &e.link_target {
        line.push_str(" -> ");
        line.push_str(t);
    }
    if !e.flags.is_empty() {
        line.push_str(" [");
        line.push_str(&e.flags.join(","));
        line.push(']');
    }
    line
}

/// The serialisable view of a container for JSON output.
#[derive(Debug, Serialize)]
pub struct Listing<'a> {
    pub kind: ContainerKind,
    pub entries: &'a [Entry],
    pub notes: &'a [Note],
}

/// The listing as a serde-serialisable value (kind, entries, notes).
pub fn listing_json<'a>(c: &'a dyn Container) -> Listing<'a> {
    Listing {
        kind: c.kind(),
        entries: c.entries(),
        notes: c.notes(),
    }
}

/// Byte order of a format's integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

impl Endian {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Endian::Little => "little-endian",
            Endian::Big => "big-endian",
        }
    }

    pub(crate) fn u16(self, d: &[u8], off: usize) -> Option<u16> {
        let b: [u8; 2] = d.get(off..off.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        })
    }

    pub(crate) fn u32(self, d: &[u8], off: usize) -> Option<u32> {
        let b: [u8; 4] = d.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        })
    }
}

/// `d[off..off+len]` with checked arithmetic.
pub(crate) fn slice_at(d: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(off).ok()?;
    let len = usize::try_from(len).ok()?;
    d.get(start..start.checked_add(len)?)
}

/// A NUL-terminated name starting at `off` (at most `max` bytes), escaped (`crate::names`).
pub(crate) fn cstr_at(d: &[u8], off: usize, max: usize) -> Option<String> {
    let rest = d.get(off..)?;
    let rest = &rest[..rest.len().min(max)];
    let end = memchr::memchr(0, rest).unwrap_or(rest.len());
    Some(crate::names::escape_name(&rest[..end]))
}

/// Error for an allocation or output that would pass [`Limits::max_expanded`].
pub(crate) fn too_big(what: &str, size: u64, limits: &Limits, offset: Option<u64>) -> FormatError {
    let msg = format!(
        "{what}: {size} bytes exceed the limit of {} bytes",
        limits.max_expanded
    );
    match offset {
        Some(o) => FormatError::at(ErrorKind::BoundHit, o, msg),
        None => FormatError::new(ErrorKind::BoundHit, msg),
    }
}

/// Error for an output buffer that could not be allocated (the process is out of memory or
/// under an address-space limit): the reader stops with this error instead of aborting.
pub(crate) fn out_of_memory(what: &str, size: u64, offset: Option<u64>) -> FormatError {
    let msg = format!("{what}: cannot allocate {size} bytes (out of memory)");
    match offset {
        Some(o) => FormatError::at(ErrorKind::BoundHit, o, msg),
        None => FormatError::new(ErrorKind::BoundHit, msg),
    }
}

/// Grow `buf` to `len` bytes, zero-filled. Room is reserved ahead (twice the capacity, so
/// growing step by step stays linear) but never past `bound` bytes of capacity, nor past
/// `len` when that is more: a decoder's output may not make us reserve more than its bound
/// allows (`Vec`'s own growth doubles past it: 1 GiB reserved for a 512 MiB bound). An
/// allocation that fails is an error, not an abort.
pub(crate) fn grow_zeroed(
    buf: &mut Vec<u8>,
    len: usize,
    bound: usize,
) -> Result<(), std::collections::TryReserveError> {
    if len > buf.capacity() {
        let target = buf.capacity().saturating_mul(2).clamp(len, bound.max(len));
        buf.try_reserve_exact(target - buf.len())?;
    }
    if len > buf.len() {
        buf.resize(len, 0);
    }
    Ok(())
}

/// Reads a whole entry into memory and returns its bytes (convenience for callers).
pub fn read_to_vec(c: &dyn Container, entry: &Entry) -> Result<Vec<u8>, FormatError> {
    c.read(entry).map(Cow::into_owned)
}

/// Find an entry by path (exact match, without leading slash).
pub fn find<'c>(c: &'c dyn Container, path: &str) -> Option<&'c Entry> {
    let path = path.trim_start_matches('/');
    c.entries().iter().find(|e| e.path == path)
}

/// A failure inside a raw decompressor: what went wrong, and where in its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset in the compressed input where decoding failed.
    pub input_offset: usize,
    pub message: &'static str,
}

impl DecodeError {
    pub(crate) fn at(input_offset: usize, message: &'static str) -> DecodeError {
        DecodeError {
            input_offset,
            message,
        }
    }

    /// As a [`FormatError`] located at `base + input_offset`. Corrupt: the decoders run on
    /// blocks of declared length, so even an input overrun is a block whose content
    /// contradicts its length, not an input cut short (that is found before decoding).
    pub fn to_format_error(&self, what: &str, base: u64) -> FormatError {
        let kind = if self.message == LZ_OUT_OF_MEMORY {
            ErrorKind::BoundHit
        } else {
            ErrorKind::Corrupt
        };
        FormatError::at(
            kind,
            base.saturating_add(self.input_offset as u64),
            format!("{what}: {}", self.message),
        )
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (input offset {:#x})",
            self.message, self.input_offset
        )
    }
}

impl std::error::Error for DecodeError {}

/// The output of one LZ block decoder (UCL, LZO): bytes are written into a `Vec` that is
/// grown ahead in steps, zero-filled once, so literal runs and matches are plain slice copies
/// (short ones of a fixed 16 bytes into the slack) instead of a capacity check and a
/// `memcpy` call per few bytes. Dropping one made by [`LzOut::new`] cuts the `Vec` back to
/// what was written.
pub(crate) struct LzOut<'a> {
    buf: &'a mut Vec<u8>,
    /// Where this stream's output starts: matches may not reach before it.
    base: usize,
    /// End of what is written so far.
    pos: usize,
    /// Most `pos` may reach.
    limit: usize,
    /// Cut `buf` back to `pos` when done ([`LzOut::new`]); [`LzOut::resume`] leaves the
    /// zero-filled room past it for the next stream.
    truncate: bool,
    /// Most capacity `buf` may be given (see [`grow_zeroed`]).
    bound: usize,
    /// Growing `buf` failed: the output stopped for want of memory, not at its limit.
    out_of_memory: bool,
}

/// The message of a stream that stopped because its output buffer could not be grown.
pub(crate) const LZ_OUT_OF_MEMORY: &str = "output buffer cannot be allocated (out of memory)";

/// Bytes kept writable past `pos`, for the fixed-size short copies.
pub(crate) const LZ_SLACK: usize = 16;

/// Copies up to this long are done in fixed 16-byte moves, not through `memcpy`: the
/// decoders make millions of short copies, and a libc `memcpy` call per copy is slow for
/// them (musl's, in the static builds, starts a `rep movs` each time).
const SHORT_COPY: usize = 256;

/// Write `exact` (= `src[from..from + exact.len()]`) at `buf[at..]`, where `buf` has
/// [`LZ_SLACK`] writable bytes past the end of the write: short copies in fixed 16-byte
/// moves (the last may read past `exact` when `src` has the bytes, and spill into the
/// slack), long ones through `copy_from_slice`.
#[inline(always)]
fn copy_short(buf: &mut [u8], at: usize, src: &[u8], from: usize, exact: &[u8]) {
    let n = exact.len();
    if n > SHORT_COPY {
        if let Some(d) = buf.get_mut(at..at + n) {
            d.copy_from_slice(exact);
        }
        return;
    }
    let mut done = 0;
    while done < n {
        let dst = buf
            .get_mut(at + done..)
            .and_then(|d| d.first_chunk_mut::<LZ_SLACK>());
        match (
            src.get(from + done..)
                .and_then(|s| s.first_chunk::<LZ_SLACK>()),
            dst,
        ) {
            (Some(s), Some(d)) => *d = *s,
            // The input ends within 16 bytes: the exact rest.
            (_, d) => {
                let rest = exact.get(done..).unwrap_or(&[]);
                if let Some(d) = d.and_then(|d| d.get_mut(..rest.len())) {
                    d.copy_from_slice(rest);
                }
            }
        }
        done += LZ_SLACK;
    }
}

impl<'a> LzOut<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>, max_out: usize) -> Self {
        let base = buf.len();
        let limit = base.saturating_add(max_out);
        LzOut {
            buf,
            base,
            pos: base,
            limit,
            truncate: true,
            bound: limit.saturating_add(LZ_SLACK),
            out_of_memory: false,
        }
    }

    /// A stream whose output starts at `end` of `buf` (not at its length): the blocks of
    /// one image decoded one after another into one buffer. The bytes past `end` are
    /// room the previous block zero-filled; they are written over, not zero-filled again
    /// (cutting the buffer back after each block had every block zero-fill 64 KiB anew).
    /// `buf` keeps that room when the stream ends: the caller cuts it to the last end.
    /// `bound`: the capacity `buf` may grow to over all the streams (their total limit), so
    /// it grows in doubling steps across them, not block by block.
    pub(crate) fn resume(buf: &'a mut Vec<u8>, end: usize, max_out: usize, bound: usize) -> Self {
        let base = end.min(buf.len());
        let limit = base.saturating_add(max_out);
        LzOut {
            buf,
            base,
            pos: base,
            limit,
            truncate: false,
            bound: bound.max(limit.saturating_add(LZ_SLACK)),
            out_of_memory: false,
        }
    }

    /// The error of a stream whose output stopped (`limit_message` when it reached its
    /// limit, or [`LZ_OUT_OF_MEMORY`] when its buffer could not be grown), at input `at`.
    #[cold]
    pub(crate) fn stopped(&self, at: usize, limit_message: &'static str) -> DecodeError {
        DecodeError::at(
            at,
            if self.out_of_memory {
                LZ_OUT_OF_MEMORY
            } else {
                limit_message
            },
        )
    }

    /// Bytes written by this stream.
    pub(crate) fn produced(&self) -> usize {
        self.pos - self.base
    }

    /// Make room for `n` more bytes (plus slack); false when that passes the limit.
    #[inline(always)]
    fn reserve(&mut self, n: usize) -> bool {
        let Some(end) = self.pos.checked_add(n).filter(|&e| e <= self.limit) else {
            return false;
        };
        if end + LZ_SLACK > self.buf.len() {
            // Grow by doubling what this stream has written (at least 64 KiB), never far
            // past the limit: a lying stream cannot make us zero-fill much it won't fill.
            let want = end
                .max(self.buf.len() + self.produced().max(64 * 1024))
                .min(self.limit)
                + LZ_SLACK;
            if grow_zeroed(self.buf, want, self.bound).is_err() {
                self.out_of_memory = true;
                return false;
            }
        }
        true
    }

    /// Append the literals `src[at..at + n]`. None if the input is short; false past the
    /// limit.
    #[inline(always)]
    pub(crate) fn literals(&mut self, src: &[u8], at: usize, n: usize) -> Option<bool> {
        let exact = src.get(at..at.checked_add(n)?)?;
        if !self.reserve(n) {
            return Some(false);
        }
        copy_short(self.buf, self.pos, src, at, exact);
        self.pos += n;
        Some(true)
    }

    /// Append up to 8 literals taken from `src[at..at + n]` (`n <= 8`), copying a fixed 8
    /// bytes when the input has them (the rest lands in the slack). None if the input is
    /// short; false past the limit.
    #[inline(always)]
    pub(crate) fn short_literals(&mut self, src: &[u8], at: usize, n: usize) -> Option<bool> {
        let exact = src.get(at..at.checked_add(n)?)?;
        if !self.reserve(n) {
            return Some(false);
        }
        if let (Some(s), Some(d)) = (
            src.get(at..).and_then(|s| s.first_chunk::<8>()),
            self.buf
                .get_mut(self.pos..)
                .and_then(|d| d.first_chunk_mut::<8>()),
        ) {
            *d = *s;
        } else {
            self.buf
                .get_mut(self.pos..self.pos + n)?
                .copy_from_slice(exact);
        }
        self.pos += n;
        Some(true)
    }

    /// Append `len` bytes copied from `dist` bytes back (overlapping copies repeat the
    /// period). Err(true): `dist` reaches before this stream's output (or is 0);
    /// Err(false): past the limit.
    #[inline(always)]
    pub(crate) fn copy_match(&mut self, dist: usize, len: usize) -> Result<(), bool> {
        if dist == 0 || dist > self.produced() {
            return Err(true);
        }
        if !self.reserve(len) {
            return Err(false);
        }
        let from = self.pos - dist;
        let buf = self.buf.as_mut_slice();
        if len <= SHORT_COPY && (dist >= LZ_SLACK || dist >= len) {
            // 16 bytes at a time, forward (one move for the usual short match): the bytes
            // of each chunk's source that it copies are written before it is read (the
            // source ends at or before the chunk's destination, or before the whole
            // destination), and the last chunk's overshoot lands in the slack. One
            // slice holds source and destination (`reserve` made it long enough); the first
            // move is outside the loop, as most matches take only it.
            if let Some(w) = buf.get_mut(from..self.pos + len + LZ_SLACK) {
                w.copy_within(..LZ_SLACK, dist);
                let mut done = LZ_SLACK;
                while done < len {
                    w.copy_within(done..done + LZ_SLACK, dist + done);
                    done += LZ_SLACK;
                }
            }
        } else if dist >= len {
            buf.copy_within(from..from + len, self.pos);
        } else if len <= SHORT_COPY {
            // A short overlapping copy (a repeated pattern): byte by byte.
            for i in 0..len {
                let b = buf.get(from + i).copied().unwrap_or_default();
                if let Some(d) = buf.get_mut(self.pos + i) {
                    *d = b;
                }
            }
        } else {
            // Overlapping: each pass copies the whole period written so far.
            let mut done = 0;
            while done < len {
                let n = (len - done).min(self.pos + done - from);
                buf.copy_within(from..from + n, self.pos + done);
                done += n;
            }
        }
        self.pos += len;
        Ok(())
    }
}

impl Drop for LzOut<'_> {
    fn drop(&mut self) {
        if self.truncate {
            self.buf.truncate(self.pos);
        }
    }
}

#[cfg(test)]
mod lz_out_tests {
    use super::*;

    #[test]
    fn growing_in_small_steps_never_reserves_past_the_bound() {
        let bound = 1_000_000;
        let mut buf = Vec::new();
        let mut reallocs = 0;
        let mut len = 0;
        while len < bound {
            len = (len + 4099).min(bound);
            let cap = buf.capacity();
            grow_zeroed(&mut buf, len, bound).unwrap();
            reallocs += usize::from(buf.capacity() != cap);
            assert_eq!(buf.len(), len);
            assert!(buf.capacity() <= bound, "{} > {bound}", buf.capacity());
        }
        assert!(
            reallocs < 20,
            "room is reserved ahead: {reallocs} reallocations"
        );
        // An allocation that cannot be made is an error.
        assert!(grow_zeroed(&mut buf, usize::MAX / 2, usize::MAX).is_err());
    }

    #[test]
    fn a_decoder_output_stays_within_its_limit_and_slack() {
        let src: Vec<u8> = (0..255u8).collect();
        for limit in [1000usize, 65_536, 300_000] {
            let mut buf = Vec::new();
            let mut out = LzOut::new(&mut buf, limit);
            assert_eq!(out.literals(&src, 0, 200), Some(true));
            while out.copy_match(200, 200) == Ok(()) {}
            assert_eq!(out.copy_match(200, 200), Err(false));
            assert!(!out.out_of_memory);
            drop(out);
            assert!(buf.capacity() <= limit + LZ_SLACK, "{}", buf.capacity());
        }
        // Blocks resumed one after another grow the buffer up to the total bound only.
        let bound = 10 * 65_536 + LZ_SLACK;
        let mut buf = Vec::new();
        let mut end = 0;
        for _ in 0..10 {
            let mut out = LzOut::resume(&mut buf, end, 65_536, bound);
            assert_eq!(out.literals(&src, 0, 200), Some(true));
            while out.copy_match(200, 200) == Ok(()) {}
            end += out.produced();
        }
        assert!(buf.capacity() <= bound, "{} > {bound}", buf.capacity());
    }

    #[test]
    fn copies_agree_with_a_byte_by_byte_model() {
        // Literal runs and matches of every length class (fixed 8/16-byte moves, 16-byte
        // chunks, memcpy, overlapping patterns), against the plain LZ definition.
        let src: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut x: u32 = 22156;
        let mut next = |m: u32| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 8) % m
        };
        let mut buf = Vec::new();
        let mut out = LzOut::new(&mut buf, 1 << 20);
        let mut model: Vec<u8> = Vec::new();
        for _ in 0..2000 {
            let n = next(300) as usize;
            let at = next(3000) as usize;
            let ok = if n <= 8 && next(2) == 0 {
                out.short_literals(&src, at, n)
            } else {
                out.literals(&src, at, n)
            };
            assert_eq!(ok, Some(true));
            model.extend_from_slice(&src[at..at + n]);
            if model.is_empty() {
                continue;
            }
            let dist = 1 + next(model.len().min(300) as u32) as usize;
            let len = 1 + next(300) as usize;
            assert_eq!(out.copy_match(dist, len), Ok(()));
            for _ in 0..len {
                model.push(model[model.len() - dist]);
            }
        }
        drop(out); // trims the slack
        assert_eq!(buf, model);
        // The input may end right after a short literal run: no read past it.
        let mut buf = Vec::new();
        let mut out = LzOut::new(&mut buf, 1 << 20);
        assert_eq!(out.literals(&src[..5], 0, 5), Some(true));
        assert_eq!(out.literals(&src[..5], 3, 3), None);
    }

    #[test]
    fn short_matches_of_every_distance_and_length_agree_with_the_model() {
        // Every distance and length around the 16-byte moves, overlapping or not, each after
        // a prefix long enough for the distance.
        for dist in 1..=40 {
            for len in (1..=40).chain(250..=260) {
                let src: Vec<u8> = (0..dist as u8).map(|i| i.wrapping_mul(29) ^ 0x5a).collect();
                let mut buf = vec![0xEE; 3];
                let mut out = LzOut::new(&mut buf, 1 << 12);
                assert_eq!(out.literals(&src, 0, dist), Some(true));
                assert_eq!(out.copy_match(dist, len), Ok(()));
                assert_eq!(out.copy_match(dist + 1, 3), Ok(()));
                drop(out);
                let mut model = vec![0xEE; 3];
                model.extend_from_slice(&src);
                for n in [(dist, len), (dist + 1, 3)] {
                    for _ in 0..n.1 {
                        model.push(model[model.len() - n.0]);
                    }
                }
                assert_eq!(buf, model, "dist {dist} len {len}");
            }
        }
    }

    #[test]
    fn resumed_streams_follow_each_other_in_one_buffer() {
        // Blocks decoded one after another at the running end: each starts where the last
        // ended, matches cannot reach into the block before, and the room left past the
        // end is written over by the next block.
        let src: Vec<u8> = (0..200u8).collect();
        let mut buf = Vec::new();
        let mut end = 0;
        for k in 0..3usize {
            let mut out = LzOut::resume(&mut buf, end, 1 << 16, 1 << 20);
            assert_eq!(out.literals(&src, k * 10, 10), Some(true));
            assert_eq!(out.copy_match(10, 5), Ok(()));
            assert_eq!(out.copy_match(16, 1), Err(true), "before this block");
            end += out.produced();
        }
        assert!(buf.len() >= end, "the room stays");
        buf.truncate(end);
        let mut want = Vec::new();
        for k in 0..3 {
            want.extend(k * 10..k * 10 + 10);
            want.extend(k * 10..k * 10 + 5);
        }
        assert_eq!(buf, want);
    }
}
