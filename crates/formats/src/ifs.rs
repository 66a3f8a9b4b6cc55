//! QNX image file system (IFS) boot images, as written by `mkifs` and read by `dumpifs`.
//!
//! Layout: `[preboot stub][startup header (256 bytes) + startup code + trailer]
//! [imagefs: image header, directory, files, trailer]`. Only the imagefs may be compressed
//! (zlib as one gzip stream; LZO or UCL as `[u16 BE length][block]` sequences ended by a zero
//! length). An imagefs may also stand alone, without startup header.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem;

use super::block_memo::{BlockMemo, Codec};
use super::{
    cstr_at, gzip, lzo, slice_at, too_big, ucl, Container, ContainerKind, Endian, Entry, EntryType,
    Limits, Loc, Note,
};
use crate::layout::{parse_with, skip, u16_in, u32_in, u32s, Parsed};
use crate::{ErrorKind, FormatError};
use nom::branch::alt;
use nom::bytes::complete::tag;
use nom::combinator::{opt, verify};
use nom::number::complete::u8;
use nom::Parser;

/// `STARTUP_HDR_SIGNATURE`.
pub const STARTUP_SIGNATURE: u32 = 0x00FF_7EEB;
const STARTUP_SIGNATURE_LE: [u8; 4] = STARTUP_SIGNATURE.to_le_bytes();
const STARTUP_SIGNATURE_BE: [u8; 4] = STARTUP_SIGNATURE.to_be_bytes();
/// Size of `struct startup_header`.
pub const STARTUP_HEADER_SIZE: usize = 0x100;
/// How far into the input the startup header is searched for (preboot stubs are small:
/// 0x3F8 bytes on x86 BIOS images, 8 on ARM).
pub const STARTUP_SEARCH: usize = 64 * 1024;
/// Largest startup part accepted (real ones are 50–200 KiB: startup code only).
const MAX_STARTUP_SIZE: u32 = 32 << 20;
/// Headers found beyond this offset must have `preboot_size` equal to their offset.
const NEAR_START: usize = 4096;
/// Largest block a compressed imagefs block may expand to (mkifs's buffer).
pub const MAX_BLOCK_OUT: usize = 64 * 1024;
/// Minimum size of an image header up to and including `mountflags`.
const IMAGE_HEADER_MIN: usize = 88;
/// Longest directory path we accept (the entry size is a u16 anyway).
const MAX_PATH: usize = 0x1_0000;

/// Inode flag bits of `image_attr.ino`.
pub const IFS_INO_PROCESSED_ELF: u32 = 0x8000_0000;
pub const IFS_INO_RUNONCE_ELF: u32 = 0x4000_0000;
pub const IFS_INO_BOOTSTRAP_EXE: u32 = 0x2000_0000;
const IFS_INO_FLAGS: u32 = 0xF000_0000;

/// Compression of the imagefs (startup header `flags1` bits 2–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Zlib,
    Lzo,
    Ucl,
    Unknown(u8),
}

impl Compression {
    fn from_flags1(flags1: u8) -> Compression {
        match (flags1 >> 2) & 7 {
            0 => Compression::None,
            1 => Compression::Zlib,
            2 => Compression::Lzo,
            3 => Compression::Ucl,
            n => Compression::Unknown(n),
        }
    }

    pub fn name(self) -> String {
        match self {
            Compression::None => "none".into(),
            Compression::Zlib => "zlib".into(),
            Compression::Lzo => "lzo".into(),
            Compression::Ucl => "ucl".into(),
            Compression::Unknown(n) => format!("unknown({n})"),
        }
    }
}

/// `struct startup_header`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupHeader {
    /// Offset of the header in the input (= size of the preboot stub).
    pub offset: u64,
    pub big_endian: bool,
    pub version: u16,
    pub flags1: u8,
    pub flags2: u8,
    pub header_size: u16,
    pub machine: u16,
    pub startup_vaddr: u32,
    pub paddr_bias: u32,
    pub image_paddr: u32,
    pub ram_paddr: u32,
    pub ram_size: u32,
    pub startup_size: u32,
    pub stored_size: u32,
    pub imagefs_paddr: u32,
    pub imagefs_size: u32,
    pub preboot_size: u16,
}

impl StartupHeader {
    pub fn compression(&self) -> Compression {
        Compression::from_flags1(self.flags1)
    }

    fn endian(&self) -> Endian {
        if self.big_endian {
            Endian::Big
        } else {
            Endian::Little
        }
    }
}

/// Decode and validate a startup header at `off` in the given byte order: signature,
/// version 1, header size 0x100, the zero fields, sane sizes. The startup part it
/// announces may run past the input (a truncated image is still recognised: `open` then
/// says where it ends).
fn parse_startup(data: &[u8], off: usize, e: Endian) -> Option<StartupHeader> {
    let h = data.get(off..off.checked_add(STARTUP_HEADER_SIZE)?)?;
    let (sh, zero0, zeros) = parse_with(h, |i| parse_startup_fields(i, off as u64, e))?;
    if sh.version != 1
        || usize::from(sh.header_size) != STARTUP_HEADER_SIZE
        || zero0 != 0
        || zeros.iter().any(|&b| b != 0)
        || (sh.flags1 & 2 != 0) != (e == Endian::Big)
        || matches!(sh.compression(), Compression::Unknown(_))
        || (sh.startup_size as usize) < STARTUP_HEADER_SIZE
        || sh.startup_size > MAX_STARTUP_SIZE
        || sh.stored_size < sh.startup_size
    {
        return None;
    }
    Some(sh)
}

/// The fields of `struct startup_header` (after its signature, which must match), and its
/// reserved `zero0` and `zero[3]`, which must be 0.
fn parse_startup_fields(
    h: &[u8],
    offset: u64,
    e: Endian,
) -> Parsed<'_, (StartupHeader, u16, &[u8])> {
    let (h, _) = verify(u32_in(e), |&s| s == STARTUP_SIGNATURE).parse(h)?;
    let (h, (version, flags1, flags2, header_size, machine)) =
        (u16_in(e), u8, u8, u16_in(e), u16_in(e)).parse(h)?;
    let (h, words) = u32s::<9>(e)(h)?;
    let [startup_vaddr, paddr_bias, image_paddr, ram_paddr, ram_size, startup_size, stored_size, imagefs_paddr, imagefs_size] =
        words;
    let (h, (preboot_size, zero0, zeros)) = (u16_in(e), u16_in(e), skip(12)).parse(h)?;
    let sh = StartupHeader {
        offset,
        big_endian: e == Endian::Big,
        version,
        flags1,
        flags2,
        header_size,
        machine,
        startup_vaddr,
        paddr_bias,
        image_paddr,
        ram_paddr,
        ram_size,
        startup_size,
        stored_size,
        imagefs_paddr,
        imagefs_size,
        preboot_size,
    };
    Ok((h, (sh, zero0, zeros)))
}

/// Find a valid startup header within the first `window` bytes, in either byte order.
fn find_startup(data: &[u8], window: usize) -> Option<StartupHeader> {
    let hay = data.get(..data.len().min(window.saturating_add(4)))?;
    // Built once: every file of a scan is looked at, most of them small, and building a
    // searcher costs as much as searching a few KiB.
    static FINDERS: LazyLock<[(memmem::Finder<'static>, Endian); 2]> = LazyLock::new(|| {
        [
            (
                memmem::Finder::new(&STARTUP_SIGNATURE_LE).into_owned(),
                Endian::Little,
            ),
            (
                memmem::Finder::new(&STARTUP_SIGNATURE_BE).into_owned(),
                Endian::Big,
            ),
        ]
    });
    let mut best: Option<StartupHeader> = None;
    for (finder, e) in FINDERS.iter() {
        let e = *e;
        for pos in finder.find_iter(hay) {
            if let Some(sh) = parse_startup(data, pos, e).filter(|sh| {
                // Far from the start, the header must say that it sits behind a preboot
                // stub of exactly that size (so an IFS stored inside a bigger file or
                // file system is not taken for the file itself).
                pos <= NEAR_START || usize::from(sh.preboot_size) == pos
            }) {
                if best.as_ref().is_none_or(|b| sh.offset < b.offset) {
                    best = Some(sh);
                }
                break;
            }
        }
    }
    best
}

/// `struct image_header`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageHeader {
    pub big_endian: bool,
    /// `imagefs` or `sfegami`.
    pub signature: String,
    pub flags: u8,
    pub image_size: u32,
    pub hdr_dir_size: u32,
    pub dir_offset: u32,
    pub boot_ino: [u32; 4],
    pub script_ino: u32,
    pub chain_paddr: u32,
    pub mountflags: u32,
    pub mountpoint: String,
}

fn parse_image_header(img: &[u8]) -> Option<ImageHeader> {
    let ih = parse_with(img, parse_image_header_fields)?;
    if (ih.dir_offset as usize) < IMAGE_HEADER_MIN
        || ih.dir_offset > ih.hdr_dir_size
        || ih.hdr_dir_size > ih.image_size
    {
        return None;
    }
    let mp_len = (ih.dir_offset as usize).saturating_sub(88).min(1024);
    let mountpoint = cstr_at(img, 88, mp_len).unwrap_or_default();
    Some(ImageHeader { mountpoint, ..ih })
}

/// The fields of `struct image_header`: the signature (`imagefs`, or `sfegami` when written
/// big-endian), `flags` (bit 0: big-endian), sizes, the boot and script inodes, the chain
/// address, 40 spare bytes and the mount flags. The mountpoint is read by the caller.
fn parse_image_header_fields(img: &[u8]) -> Parsed<'_, ImageHeader> {
    let (img, signature) = alt((tag(&b"imagefs"[..]), tag(&b"sfegami"[..]))).parse(img)?;
    let (img, flags) = u8(img)?;
    let e = if flags & 1 != 0 {
        Endian::Big
    } else {
        Endian::Little
    };
    let (img, [image_size, hdr_dir_size, dir_offset]) = u32s::<3>(e)(img)?;
    let (img, (boot_ino, [script_ino, chain_paddr])) = (u32s::<4>(e), u32s::<2>(e)).parse(img)?;
    let (img, (_spare, mountflags)) = (skip(40), u32_in(e)).parse(img)?;
    let ih = ImageHeader {
        big_endian: e == Endian::Big,
        signature: String::from_utf8_lossy(signature).into_owned(),
        flags,
        image_size,
        hdr_dir_size,
        dir_offset,
        boot_ino,
        script_ino,
        chain_paddr,
        mountflags,
        mountpoint: String::new(),
    };
    Ok((img, ih))
}

/// For a compressed (LZO, UCL, zlib) IFS at the start of `data`: the offset of the startup
/// header the reader will take and the header's bytes. With [`Container::input_extent`],
/// what makes two inputs open to the same image: the header is chosen by the bytes before
/// it, and the decoder reads only the startup part and the blocks after it.
pub fn reuse_key(data: &[u8]) -> Option<(u64, Vec<u8>)> {
    let sh = find_startup(data, STARTUP_SEARCH)?;
    if !matches!(
        sh.compression(),
        Compression::Lzo | Compression::Ucl | Compression::Zlib
    ) {
        return None;
    }
    let at = usize::try_from(sh.offset).ok()?;
    let header = data.get(at..at.checked_add(STARTUP_HEADER_SIZE)?)?;
    Some((sh.offset, header.to_vec()))
}

/// An IFS at offset 0 of `data`: a valid startup header within the first
/// [`STARTUP_SEARCH`] bytes, or a valid image header at offset 0.
pub fn detect(data: &[u8]) -> bool {
    find_startup(data, STARTUP_SEARCH).is_some() || parse_image_header(data).is_some()
}

/// Validation used by the carver: a startup header at exactly `off` whose startup part
/// sums to zero, or whose imagefs starts where the startup size says (an image header for
/// uncompressed images; for compressed ones, a first block (inside the stored image) or
/// gzip stream that decodes to an image header). A header whose startup part runs past the
/// end of `data` is a truncated image: taken, so that `open` can say where it ends.
///
/// So a boot image with a flipped bit in its startup code (a wrong checksum) is carved,
/// as the reader opens it, with the checksum note; stray signature bytes are not.
///
/// `budget` bounds the bytes summed for checksums and decoded for first blocks over a
/// whole carve, so a dump crafted with many fake headers claiming large startup parts
/// cannot make carving quadratic; once it is spent, only the structural check is made.
pub(crate) fn valid_startup_at(data: &[u8], off: usize, big: bool, budget: &mut u64) -> bool {
    let e = if big { Endian::Big } else { Endian::Little };
    let Some(sh) = parse_startup(data, off, e) else {
        return false;
    };
    let Some(part) = slice_at(data, sh.offset, u64::from(sh.startup_size)) else {
        return true;
    };
    let fs = data.get(off + sh.startup_size as usize..).unwrap_or(&[]);
    // The compressed imagefs as stored (parse_startup: stored_size >= startup_size).
    let stored = sh.stored_size.saturating_sub(sh.startup_size) as usize;
    let comp = sh.compression();
    let structural = match comp {
        Compression::None => parse_image_header(fs).is_some(),
        Compression::Zlib => fs.get(..3) == Some(&[0x1f, 0x8b, 0x08][..]),
        // The first block, length and data, lies inside the stored image and the input.
        Compression::Lzo | Compression::Ucl => fs
            .get(..2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .is_some_and(|n| n > 0 && n + 2 <= fs.len() && n + 2 <= stored),
        Compression::Unknown(_) => false,
    };
    if structural && comp == Compression::None {
        return true;
    }
    let cost = part.len() as u64;
    if *budget < cost {
        return structural;
    }
    *budget -= cost;
    if word_sum(part, e) == 0 {
        return true;
    }
    // Wrong checksum: the imagefs behind it decides.
    let cost = MAX_BLOCK_OUT as u64;
    if !structural || *budget < cost {
        return false;
    }
    *budget -= cost;
    first_block_has_image_header(fs, comp)
}

/// Whether the compressed imagefs `fs` begins with a block (LZO, UCL) or a gzip stream
/// (zlib) that decodes to a valid image header. Decodes at most one block.
fn first_block_has_image_header(fs: &[u8], comp: Compression) -> bool {
    let mut out = Vec::new();
    match comp {
        Compression::Lzo | Compression::Ucl => {
            let Some(n) = fs
                .get(..2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            else {
                return false;
            };
            let Some(block) = fs.get(2..2 + n) else {
                return false;
            };
            let decoder = if comp == Compression::Ucl {
                ucl::decode
            } else {
                lzo::decode
            };
            // A block cut short still decodes its first bytes: only they are looked at.
            let _ = decoder(block, super::LzOut::new(&mut out, MAX_BLOCK_OUT));
        }
        Compression::Zlib => {
            use std::io::Read;
            let mut d = flate2::bufread::GzDecoder::new(fs).take(MAX_BLOCK_OUT as u64);
            let _ = d.read_to_end(&mut out);
        }
        Compression::None | Compression::Unknown(_) => return false,
    }
    parse_image_header(&out).is_some()
}

/// The `preboot_size` of a startup header at `off`.
pub(crate) fn preboot_size_at(data: &[u8], off: usize, big: bool) -> Option<usize> {
    let e = if big { Endian::Big } else { Endian::Little };
    parse_startup(data, off, e).map(|sh| usize::from(sh.preboot_size))
}

/// Where the image header of the (uncompressed) IFS with a startup header at `off` sits.
pub(crate) fn image_header_pos(data: &[u8], off: usize, big: bool) -> Option<usize> {
    let e = if big { Endian::Big } else { Endian::Little };
    let sh = parse_startup(data, off, e)?;
    off.checked_add(sh.startup_size as usize)
}

/// Validation used by the carver for a bare imagefs at `off`.
pub(crate) fn valid_image_at(data: &[u8], off: usize) -> bool {
    let Some(img) = data.get(off..) else {
        return false;
    };
    let Some(ih) = parse_image_header(img) else {
        return false;
    };
    let e = if ih.big_endian {
        Endian::Big
    } else {
        Endian::Little
    };
    // The first directory entry must be plausible, and the image must fit.
    let d = ih.dir_offset as usize;
    let ok_dir = e
        .u16(img, d)
        .is_some_and(|s| s == 0 || (24..=1024).contains(&s));
    ok_dir && (ih.image_size as usize) <= img.len()
}

/// Sum of the u32 words of `d` (trailing partial word ignored), wrapping.
pub fn word_sum(d: &[u8], e: Endian) -> u32 {
    let mut sum: u32 = 0;
    let chunks = d.chunks_exact(4);
    match e {
        Endian::Little => {
            for c in chunks {
                sum = sum.wrapping_add(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
            }
        }
        Endian::Big => {
            for c in chunks {
                sum = sum.wrapping_add(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
            }
        }
    }
    sum
}

/// Everything `open` learnt about the image.
#[derive(Debug, Clone)]
pub struct IfsInfo {
    pub startup: Option<StartupHeader>,
    /// Offset of the image header in the input (uncompressed images) or of the compressed
    /// imagefs (compressed images).
    pub imagefs_offset: u64,
    pub image: ImageHeader,
    pub compression: Compression,
    /// Bytes of compressed imagefs consumed (compressed images).
    pub compressed_size: Option<u64>,
    /// `Some(true)` when the startup part sums to zero.
    pub startup_checksum_ok: Option<bool>,
    pub image_checksum_ok: bool,
    /// The boot script (`script_ino`), decoded to text lines like `dumpifs -v`.
    pub boot_script: Option<Vec<String>>,
    /// Where decoding the compressed imagefs stopped before its end marker, and why (also
    /// a `damage` note): the entries read are those of the bytes decoded before it.
    pub damage: Option<FormatError>,
}

/// An opened IFS image.
pub struct Ifs<'a> {
    image: Cow<'a, [u8]>,
    /// Length of the input the image was opened from.
    input_len: u64,
    entries: Vec<Entry>,
    notes: Vec<Note>,
    info: IfsInfo,
}

impl Drop for Ifs<'_> {
    fn drop(&mut self) {
        // A decoded imagefs goes back to the pool for the next image.
        if let Cow::Owned(buf) = std::mem::take(&mut self.image) {
            super::buf_pool::give(buf);
        }
    }
}

impl<'a> Ifs<'a> {
    pub fn info(&self) -> &IfsInfo {
        &self.info
    }

    /// The uncompressed imagefs (image header to trailer).
    pub fn imagefs(&self) -> &[u8] {
        &self.image
    }

    pub fn open(data: &'a [u8], limits: &Limits) -> Result<Ifs<'a>, FormatError> {
        let mut notes = Vec::new();
        let mut damage = None;
        let startup = find_startup(data, STARTUP_SEARCH);
        let (image, imagefs_offset, compression, compressed_size, startup_ok) = match &startup {
            None => {
                if parse_image_header(data).is_none() {
                    return Err(FormatError::at(
                        ErrorKind::Corrupt,
                        0,
                        "no IFS startup header (0x00FF7EEB) in the first 64 KiB and no image header at offset 0",
                    ));
                }
                notes.push(Note::new(
                    "layout",
                    "bare imagefs (no startup header)",
                    Some(0),
                ));
                (Cow::Borrowed(data), 0u64, Compression::None, None, None)
            }
            Some(sh) => {
                describe_startup(sh, &mut notes);
                let behind = imagefs_behind(data, sh, limits, &mut notes)?;
                damage = behind.damage;
                (
                    behind.image,
                    behind.offset,
                    sh.compression(),
                    behind.compressed_size,
                    Some(behind.checksum_ok),
                )
            }
        };

        let ih = parse_image_header(&image).ok_or_else(|| {
            // Decoding that stopped before the image header: the damage is the error.
            if let Some(d) = damage.clone() {
                return d;
            }
            FormatError::at(
                ErrorKind::Corrupt,
                imagefs_offset,
                if compression == Compression::None {
                    "no valid image header (\"imagefs\") where the startup header puts it"
                        .to_string()
                } else {
                    "decompressed imagefs does not start with a valid image header".to_string()
                },
            )
        })?;
        let e = if ih.big_endian {
            Endian::Big
        } else {
            Endian::Little
        };
        if damage.is_some() && image.len() as u64 >= u64::from(ih.image_size) {
            // Decoding stopped only after the whole imagefs (to `image_size`, which the
            // image checksum covers): the framing is damaged, not the contents.
            damage = None;
            if let Some(n) = notes.iter_mut().find(|n| n.kind == "damage") {
                n.kind = "warning".into();
                n.detail
                    .push_str(" (after the whole imagefs: nothing lost)");
            }
        }
        if let Some(sh) = &startup {
            if sh.big_endian != ih.big_endian {
                notes.push(Note::new(
                    "warning",
                    "startup header and image header disagree on byte order",
                    Some(imagefs_offset),
                ));
            }
            if compression != Compression::None && u64::from(sh.imagefs_size) != image.len() as u64
            {
                notes.push(Note::new(
                    "warning",
                    format!(
                        "imagefs expanded to {} bytes, startup header says {}",
                        image.len(),
                        sh.imagefs_size
                    ),
                    Some(imagefs_offset),
                ));
            }
        }
        describe_image(&ih, imagefs_offset, compression, &mut notes);

        let image_checksum_ok = image_checksum(&image, &ih, e, imagefs_offset, &mut notes);

        // Files must lie inside image_size (or what we have of it).
        let img_len = image.len().min(ih.image_size as usize);
        let entries = parse_dir(
            &image,
            img_len,
            &ih,
            e,
            limits,
            imagefs_offset,
            compression,
            &mut notes,
        )?;

        let boot_script = boot_script(
            &image,
            &ih,
            &entries,
            compression,
            imagefs_offset,
            &mut notes,
        );

        let info = IfsInfo {
            startup,
            imagefs_offset,
            image: ih,
            compression,
            compressed_size,
            startup_checksum_ok: startup_ok,
            image_checksum_ok,
            boot_script,
            damage,
        };
        Ok(Ifs {
            image,
            input_len: data.len() as u64,
            entries,
            notes,
            info,
        })
    }
}

/// The image checksum over `image_size` bytes (trailer included), as a `checksum` note; a
/// `truncated` note when the imagefs is shorter.
fn image_checksum(
    image: &[u8],
    ih: &ImageHeader,
    e: Endian,
    at: u64,
    notes: &mut Vec<Note>,
) -> bool {
    let Some(part) = image.get(..ih.image_size as usize) else {
        notes.push(Note::new(
            "truncated",
            format!(
                "imagefs is {} bytes, image header says {}: image checksum not checked",
                image.len(),
                ih.image_size
            ),
            Some(at),
        ));
        return false;
    };
    let sum = word_sum(part, e);
    notes.push(Note::new(
        "checksum",
        if sum == 0 {
            format!("image checksum valid ({:#x} bytes sum to 0)", ih.image_size)
        } else {
            format!(
                "image checksum INVALID: {:#x} bytes sum to {sum:#010x}, expected 0",
                ih.image_size
            )
        },
        Some(at),
    ));
    sum == 0
}

/// The startup checksum over the startup part, as a `checksum` note.
fn startup_checksum(part: &[u8], sh: &StartupHeader, notes: &mut Vec<Note>) -> bool {
    let sum = word_sum(part, sh.endian());
    notes.push(Note::new(
        "checksum",
        if sum == 0 {
            format!(
                "startup checksum valid ({:#x} bytes sum to 0)",
                sh.startup_size
            )
        } else {
            format!(
                "startup checksum INVALID: {:#x} bytes sum to {sum:#010x}, expected 0",
                sh.startup_size
            )
        },
        Some(sh.offset),
    ));
    sum == 0
}

/// The boot script (`script_ino`) decoded to lines, also as a `boot-script` note.
fn boot_script(
    image: &[u8],
    ih: &ImageHeader,
    entries: &[Entry],
    compression: Compression,
    imagefs_offset: u64,
    notes: &mut Vec<Note>,
) -> Option<Vec<String>> {
    if ih.script_ino == 0 {
        return None;
    }
    let target = ih.script_ino & !IFS_INO_FLAGS;
    let Some(se) = entries
        .iter()
        .find(|x| x.entry_type == EntryType::File && x.ino == Some(u64::from(target)))
    else {
        notes.push(Note::new(
            "warning",
            format!(
                "script_ino {} names no file in the directory",
                ih.script_ino
            ),
            None,
        ));
        return None;
    };
    let bytes = slice_at(image, se.loc.offset, se.loc.len)?;
    let lines = decode_script(bytes);
    notes.push(Note::new(
        "boot-script",
        lines.join("\n"),
        file_note_offset(compression, imagefs_offset, se.loc.offset),
    ));
    Some(lines)
}

fn file_note_offset(c: Compression, fs_off: u64, off: u64) -> Option<u64> {
    if c == Compression::None {
        Some(fs_off.saturating_add(off))
    } else {
        None
    }
}

/// The imagefs behind a startup header, as [`imagefs_behind`] finds it.
struct Behind<'a> {
    image: Cow<'a, [u8]>,
    /// Offset of the imagefs in the input.
    offset: u64,
    /// Compressed bytes read (compressed images).
    compressed_size: Option<u64>,
    checksum_ok: bool,
    damage: Option<FormatError>,
}

/// Check the startup part (a `checksum` note) and find the imagefs behind it: borrowed
/// when uncompressed, else decompressed as far as it decodes (a `damage` note says where
/// decoding stopped). Err: the startup part is cut short, or nothing could be decoded.
fn imagefs_behind<'a>(
    data: &'a [u8],
    sh: &StartupHeader,
    limits: &Limits,
    notes: &mut Vec<Note>,
) -> Result<Behind<'a>, FormatError> {
    let part = slice_at(data, sh.offset, u64::from(sh.startup_size)).ok_or_else(|| {
        FormatError::at(
            ErrorKind::Truncated,
            data.len() as u64,
            format!(
                "IFS truncated in its startup part: the startup header at {:#x} says {:#x} \
                 bytes, the input ends {:#x} bytes after it",
                sh.offset,
                sh.startup_size,
                (data.len() as u64).saturating_sub(sh.offset)
            ),
        )
    })?;
    let checksum_ok = startup_checksum(part, sh, notes);
    let offset = sh.offset + u64::from(sh.startup_size);
    if sh.compression() == Compression::None {
        let rest = data.get(offset as usize..).unwrap_or(&[]);
        return Ok(Behind {
            image: Cow::Borrowed(rest),
            offset,
            compressed_size: None,
            checksum_ok,
            damage: None,
        });
    }
    let decoded = decompress_imagefs(data, sh, limits)?;
    if let Some(d) = &decoded.damage {
        notes.push(Note::new(
            "damage",
            format!(
                "{}; decoding stopped there: {} bytes of imagefs decoded, the rest is lost",
                d.message,
                decoded.bytes.len()
            ),
            d.offset,
        ));
    }
    Ok(Behind {
        image: Cow::Owned(decoded.bytes),
        offset,
        compressed_size: Some(decoded.consumed),
        checksum_ok,
        damage: decoded.damage,
    })
}

fn describe_startup(sh: &StartupHeader, notes: &mut Vec<Note>) {
    let e = if sh.big_endian {
        "big-endian"
    } else {
        "little-endian"
    };
    notes.push(Note::new(
        "startup-header",
        format!(
            "startup header at {:#x} ({e}): version={} flags1={:#04x} flags2={:#04x} machine={} \
             startup_vaddr={:#x} paddr_bias={:#x} image_paddr={:#x} ram_paddr={:#x} ram_size={:#x} \
             startup_size={:#x} stored_size={:#x} imagefs_paddr={:#x} imagefs_size={:#x} preboot_size={:#x}",
            sh.offset,
            sh.version,
            sh.flags1,
            sh.flags2,
            sh.machine,
            sh.startup_vaddr,
            sh.paddr_bias,
            sh.image_paddr,
            sh.ram_paddr,
            sh.ram_size,
            sh.startup_size,
            sh.stored_size,
            sh.imagefs_paddr,
            sh.imagefs_size,
            sh.preboot_size
        ),
        Some(sh.offset),
    ));
    notes.push(Note::new("byte-order", e, Some(sh.offset)));
    if sh.offset > 0 {
        notes.push(Note::new(
            "preboot",
            format!(
                "{:#x} bytes of preboot code before the startup header",
                sh.offset
            ),
            Some(0),
        ));
    }
    if u64::from(sh.preboot_size) != sh.offset {
        notes.push(Note::new(
            "warning",
            format!(
                "preboot_size {:#x} differs from the startup header offset {:#x}",
                sh.preboot_size, sh.offset
            ),
            Some(sh.offset + 48),
        ));
    }
    notes.push(Note::new(
        "compression",
        sh.compression().name(),
        Some(sh.offset + 6),
    ));
}

fn describe_image(ih: &ImageHeader, off: u64, c: Compression, notes: &mut Vec<Note>) {
    notes.push(Note::new(
        "image-header",
        format!(
            "image header{} ({}): signature={} flags={:#04x} image_size={:#x} hdr_dir_size={:#x} \
             dir_offset={:#x} boot_ino={:?} script_ino={} chain_paddr={:#x} mountflags={:#x} mountpoint={}",
            if c == Compression::None {
                format!(" at {off:#x}")
            } else {
                " at start of decompressed imagefs".to_string()
            },
            if ih.big_endian { "big-endian" } else { "little-endian" },
            ih.signature,
            ih.flags,
            ih.image_size,
            ih.hdr_dir_size,
            ih.dir_offset,
            ih.boot_ino,
            ih.script_ino,
            ih.chain_paddr,
            ih.mountflags,
            ih.mountpoint
        ),
        if c == Compression::None { Some(off) } else { None },
    ));
}

/// A compressed imagefs, decoded as far as it goes.
struct Decoded {
    bytes: Vec<u8>,
    /// Compressed bytes read: up to and including the end marker, or to the damage.
    consumed: u64,
    /// Where and why decoding stopped before the end marker (a truncated input, a corrupt
    /// block, output past the header's figure): what came before it is kept.
    damage: Option<FormatError>,
}

/// Decompress a compressed imagefs of at most `imagefs_size` bytes (plus the block that
/// crosses it, or 64 KiB of a zlib stream: a figure a few bytes short still decodes the
/// whole image, and `open` says so). LZO and UCL images are decoded block by block, and a
/// damaged block stops decoding with what came before it kept; a zlib stream is all or
/// nothing. Err: nothing was decoded.
fn decompress_imagefs(
    data: &[u8],
    sh: &StartupHeader,
    limits: &Limits,
) -> Result<Decoded, FormatError> {
    let start = sh.offset + u64::from(sh.startup_size);
    let expect = u64::from(sh.imagefs_size);
    if expect > limits.max_expanded {
        return Err(too_big(
            "IFS imagefs_size in startup header",
            expect,
            limits,
            Some(sh.offset + 44),
        ));
    }
    let src = data.get(start as usize..).unwrap_or(&[]);
    match sh.compression() {
        Compression::Zlib => {
            // As for blocks: up to one block's worth past the figure, the stream decides.
            let max = expect
                .saturating_add(MAX_BLOCK_OUT as u64)
                .min(limits.max_expanded);
            let (v, consumed) = gzip::gunzip_one(src, max, limits).map_err(|e| {
                FormatError::at(
                    e.kind,
                    start,
                    format!("IFS zlib imagefs: {} (imagefs_size {expect})", e.message),
                )
            })?;
            Ok(Decoded {
                bytes: v,
                consumed,
                damage: None,
            })
        }
        Compression::Lzo | Compression::Ucl => Ok(decode_blocks(
            src,
            start,
            expect,
            sh.compression() == Compression::Ucl,
            limits,
        )),
        Compression::None | Compression::Unknown(_) => Err(FormatError::at(
            ErrorKind::Unsupported,
            sh.offset + 6,
            "unsupported IFS compression",
        )),
    }
}

/// Decode the `[u16 BE length][block]` sequence of an LZO or UCL imagefs starting at
/// `src` (offset `start` in the input) until the zero length that ends it.
fn decode_blocks(src: &[u8], start: u64, expect: u64, ucl: bool, limits: &Limits) -> Decoded {
    let name = if ucl { "UCL" } else { "LZO" };
    let cap = usize::try_from(limits.max_expanded).unwrap_or(usize::MAX);
    // The most the output may hold: a block past the figure, within the limit (and the
    // decoder's slack); the buffer never has more room than that.
    let bound = usize::try_from(expect)
        .unwrap_or(usize::MAX)
        .saturating_add(MAX_BLOCK_OUT)
        .min(cap)
        .saturating_add(super::LZ_SLACK);
    // Pre-allocate modestly: a lying header must not make us reserve memory.
    let mut out: Vec<u8> =
        super::buf_pool::take((expect as usize).min(src.len().saturating_mul(8)), bound);
    let mut pos: usize = 0;
    // End of the output so far: `out` runs a little past it (room zero-filled ahead for the
    // next block), and is cut to it at the end.
    let mut end: usize = 0;
    let memo = super::block_memo::current();
    let damage = loop {
        let block_at = start + pos as u64;
        let Some(hdr) = src.get(pos..pos + 2) else {
            break Some(FormatError::at(
                ErrorKind::Truncated,
                block_at,
                format!(
                    "IFS {name} imagefs truncated: block header missing after {end} expanded bytes"
                ),
            ));
        };
        let len = usize::from(u16::from_be_bytes([hdr[0], hdr[1]]));
        if len == 0 {
            pos += 2;
            break None;
        }
        let Some(block) = src.get(pos + 2..pos + 2 + len) else {
            break Some(FormatError::at(
                ErrorKind::Truncated,
                block_at,
                format!(
                    "IFS {name} block of {len} bytes runs past the end of the input ({} bytes \
                     left): the image is truncated",
                    src.len().saturating_sub(pos + 2)
                ),
            ));
        };
        if end as u64 >= expect {
            break Some(FormatError::at(
                ErrorKind::Corrupt,
                block_at,
                format!(
                    "IFS {name} imagefs expands past imagefs_size ({expect} bytes): \
                     decompression bomb or corrupt header"
                ),
            ));
        }
        let max = cap.saturating_sub(end).min(MAX_BLOCK_OUT);
        match decode_block(block, &mut out, (end, max, bound), ucl, memo.as_deref()) {
            Ok(n) => end += n,
            Err(e) => {
                let mut fe = e.to_format_error(
                    &format!("IFS {name} block at {block_at:#x}"),
                    start + pos as u64 + 2,
                );
                if e.message.contains("output overrun") {
                    if max == MAX_BLOCK_OUT {
                        fe.message.push_str(" (block expands past 64 KiB)");
                    } else {
                        fe.message
                            .push_str(" (imagefs expands past the size limit)");
                        fe.kind = ErrorKind::BoundHit;
                    }
                }
                break Some(fe);
            }
        }
        pos += 2 + len;
    };
    out.truncate(end);
    Decoded {
        bytes: out,
        consumed: pos as u64,
        damage,
    }
}

/// Decode one block into `out` at `end` (at most `max` bytes): from the scan's block memo
/// when the same bytes were decoded before, else by the decoder (and kept in the memo).
fn decode_block(
    block: &[u8],
    out: &mut Vec<u8>,
    (end, max, bound): (usize, usize, usize),
    ucl: bool,
    memo: Option<&BlockMemo>,
) -> Result<usize, super::DecodeError> {
    let codec = if ucl { Codec::Ucl } else { Codec::Lzo };
    if let Some(seen) = memo.and_then(|m| m.find(codec, block, max)) {
        let bytes = seen.output();
        let to = end + bytes.len();
        // Grown exactly (never past what the decoder itself could have made room for); an
        // allocation that fails falls back to decoding, which reports it.
        let room = to.saturating_sub(out.len());
        if to <= bound && out.try_reserve_exact(room).is_ok() {
            if out.len() < to {
                out.resize(to, 0);
            }
            if let Some(d) = out.get_mut(end..to) {
                d.copy_from_slice(bytes);
                return Ok(bytes.len());
            }
        }
    }
    let decoder = if ucl { ucl::decode } else { lzo::decode };
    let n = decoder(block, super::LzOut::resume(out, end, max, bound))?;
    if let (Some(m), Some(bytes)) = (memo, out.get(end..end + n)) {
        m.insert(codec, block, bytes);
    }
    Ok(n)
}

#[allow(clippy::too_many_arguments)]
fn parse_dir(
    image: &[u8],
    img_len: usize,
    ih: &ImageHeader,
    e: Endian,
    limits: &Limits,
    fs_off: u64,
    comp: Compression,
    notes: &mut Vec<Note>,
) -> Result<Vec<Entry>, FormatError> {
    let mut entries = Vec::new();
    let mut pos = ih.dir_offset as usize;
    let where_ = |p: usize| file_note_offset(comp, fs_off, p as u64);
    loop {
        let Some(size) = e.u16(image, pos) else {
            notes.push(Note::new(
                "error",
                format!(
                    "IFS directory runs past the end of the imagefs at imagefs offset {pos:#x}"
                ),
                where_(pos),
            ));
            break;
        };
        let size = usize::from(size);
        if size == 0 {
            break;
        }
        if size < 24 {
            notes.push(Note::new(
                "error",
                format!("IFS directory entry of {size} bytes (< 24) at imagefs offset {pos:#x}; listing stops"),
                where_(pos),
            ));
            break;
        }
        let Some(ent) = image.get(pos..pos + size) else {
            notes.push(Note::new(
                "error",
                format!("IFS directory entry at imagefs offset {pos:#x} runs past the imagefs"),
                where_(pos),
            ));
            break;
        };
        if entries.len() >= limits.max_entries {
            return Err(FormatError::at(
                ErrorKind::BoundHit,
                fs_off + pos as u64,
                format!("IFS directory has more than {} entries", limits.max_entries),
            ));
        }
        if pos + size > ih.hdr_dir_size as usize {
            notes.push(Note::new(
                "warning",
                format!("IFS directory entry at imagefs offset {pos:#x} extends past hdr_dir_size"),
                where_(pos),
            ));
        }
        entries.push(dirent_entry(ent, e, ih, img_len, where_(pos), notes));
        pos += size;
    }
    Ok(entries)
}

/// `struct image_dirent`'s common part after `size` and `extattr_offset`: inode (with the
/// `IFS_INO_*` flags), mode, gid, uid, mtime.
struct DirentHeader {
    ino: u32,
    mode: u32,
    gid: u32,
    uid: u32,
    mtime: u32,
}

fn parse_dirent_header(ent: &[u8], e: Endian) -> Parsed<'_, DirentHeader> {
    let (rest, (_size_and_extattr, [ino, mode, gid, uid, mtime])) =
        (skip(4), u32s::<5>(e)).parse(ent)?;
    Ok((
        rest,
        DirentHeader {
            ino,
            mode,
            gid,
            uid,
            mtime,
        },
    ))
}

/// The two fields after the common part, each `None` past the entry's end: a file's data
/// offset and size, a device's `dev` and `rdev` (`u32`), a symlink's target offset and size
/// (`u16`).
fn dirent_pair<'a, O>(
    rest: &'a [u8],
    field: impl Parser<&'a [u8], Output = O, Error = ()> + Clone,
) -> (Option<O>, Option<O>) {
    parse_with(rest, (opt(field.clone()), opt(field))).unwrap_or((None, None))
}

/// The entry of directory entry `ent` (at least 24 bytes): type, path, owner, inode flags,
/// and a file's data location, a symlink's target or a device's numbers. `at`: where
/// notes about it are located.
fn dirent_entry(
    ent: &[u8],
    e: Endian,
    ih: &ImageHeader,
    img_len: usize,
    at: Option<u64>,
    notes: &mut Vec<Note>,
) -> Entry {
    let Some((rest, d)) = parse_dirent_header(ent, e).ok() else {
        // Not reached: the caller hands entries of 24 bytes or more.
        return Entry::new(String::new(), EntryType::Other, 0, 0);
    };
    let etype = match d.mode & 0o170000 {
        0o010000 => EntryType::Fifo,
        0o020000 | 0o060000 | 0o050000 => EntryType::Device, // incl. S_IFNAM
        0o140000 => EntryType::Other,
        _ => EntryType::from_mode(d.mode),
    };
    let path_at = match etype {
        EntryType::File | EntryType::Device | EntryType::Fifo | EntryType::Other => 32,
        EntryType::Dir => 24,
        EntryType::Symlink => 28,
    };
    let path = cstr_at(ent, path_at, MAX_PATH).unwrap_or_default();
    let path = path.trim_start_matches('/').to_string();
    let mut en =
        Entry::new(path, etype, d.mode, 0).with_owner_time(d.uid, d.gid, u64::from(d.mtime));
    inode_flags(&mut en, d.ino, ih);
    match etype {
        EntryType::File => {
            let (off, len) = dirent_pair(rest, u32_in(e));
            let (off, len) = (off.unwrap_or(0), len.unwrap_or(0));
            en.size = u64::from(len);
            en.loc = Loc {
                offset: u64::from(off),
                len: u64::from(len),
                aux: 0,
            };
            let end = u64::from(off) + u64::from(len);
            if end > img_len as u64 {
                notes.push(Note::new(
                    "error",
                    format!(
                        "{}: data at imagefs offset {off:#x}+{len:#x} runs past the image ({img_len:#x} bytes)",
                        en.path
                    ),
                    at,
                ));
                en.flags.push("truncated".into());
            }
        }
        EntryType::Symlink => {
            let (sym_off, sym_size) = dirent_pair(rest, u16_in(e));
            let sym_off = usize::from(sym_off.unwrap_or(0));
            let sym_size = usize::from(sym_size.unwrap_or(0));
            let t_at = 28 + sym_off;
            match ent.get(t_at..t_at + sym_size) {
                Some(t) => {
                    let t = t.split(|&b| b == 0).next().unwrap_or(&[]);
                    en.link_target = Some(crate::names::escape_name(t));
                    en.size = t.len() as u64;
                }
                None => notes.push(Note::new(
                    "error",
                    format!("{}: symlink target outside its directory entry", en.path),
                    at,
                )),
            }
        }
        EntryType::Device | EntryType::Fifo | EntryType::Other => {
            let (dev, rdev) = dirent_pair(rest, u32_in(e));
            en.flags.push(format!("dev={}", dev.unwrap_or(0)));
            en.flags.push(format!("rdev={}", rdev.unwrap_or(0)));
        }
        EntryType::Dir => {}
    }
    en
}

/// The inode number of `en` (without its flags), and flags for what the inode's flag bits
/// and the image header say of it (ELF, run-once, bootstrap, the boot script, a boot file).
fn inode_flags(en: &mut Entry, raw_ino: u32, ih: &ImageHeader) {
    en.ino = Some(u64::from(raw_ino & !IFS_INO_FLAGS));
    if raw_ino & IFS_INO_PROCESSED_ELF != 0 {
        en.flags.push("elf".into());
    }
    if raw_ino & IFS_INO_RUNONCE_ELF != 0 {
        en.flags.push("run-once".into());
    }
    if raw_ino & IFS_INO_BOOTSTRAP_EXE != 0 {
        en.flags.push("bootstrap".into());
    }
    let ino_plain = raw_ino & !IFS_INO_FLAGS;
    if ih.script_ino != 0 && ino_plain == ih.script_ino & !IFS_INO_FLAGS {
        en.flags.push("boot-script".into());
    }
    if ih
        .boot_ino
        .iter()
        .any(|&b| b != 0 && b & !IFS_INO_FLAGS == ino_plain)
    {
        en.flags.push("boot".into());
    }
}

/// Decode a compiled mkifs boot script into text lines, like `dumpifs -v` prints it.
pub fn decode_script(s: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut off = 0usize;
    while let Some(h) = s.get(off..off + 4) {
        let size = usize::from(h[0]) | (usize::from(h[1]) << 8);
        if size == 0 {
            break;
        }
        let end = (off + size).min(s.len());
        let cmd = s.get(off..end).unwrap_or(&[]);
        let strs = |from: usize| -> Vec<String> {
            cmd.get(from..)
                .unwrap_or(&[])
                .split(|&b| b == 0)
                .map(|x| String::from_utf8_lossy(x).into_owned())
                .collect()
        };
        let line = match h[2] {
            0 => {
                // external: cpu, flags, extsched[2], policy, priority, argc, envc, strings
                let flags = cmd.get(5).copied().unwrap_or(0);
                let policy = cmd.get(8).copied().unwrap_or(0);
                let prio = cmd.get(9).copied().unwrap_or(0);
                let argc = usize::from(cmd.get(10).copied().unwrap_or(0));
                let envc = usize::from(cmd.get(11).copied().unwrap_or(0));
                let st = strs(12);
                let exe = st.first().cloned().unwrap_or_default();
                let argv: Vec<String> = st.iter().skip(1).take(argc).cloned().collect();
                let envs: Vec<String> = st.iter().skip(1 + argc).take(envc).cloned().collect();
                let mut opts = Vec::new();
                let base = exe.rsplit('/').next().unwrap_or("");
                if let Some(a0) = argv.first() {
                    if a0 != base {
                        opts.push(format!("argv0={a0}"));
                    }
                }
                if flags & 0x02 != 0 {
                    opts.push("+session".into());
                }
                if flags & 0x40 != 0 {
                    opts.push("+debug".into());
                }
                if flags & 0x04 != 0 {
                    let p = match policy {
                        1 => "f",
                        2 => "r",
                        3 => "o",
                        _ => "",
                    };
                    opts.push(format!("priority={prio}{p}"));
                }
                if flags & 0x08 != 0 {
                    opts.push(format!("cpu={}", cmd.get(4).copied().unwrap_or(0)));
                }
                let mut l = String::new();
                if !opts.is_empty() {
                    l.push_str(&format!("[ {} ] ", opts.join(" ")));
                }
                for env in &envs {
                    l.push_str(env);
                    l.push(' ');
                }
                l.push_str(&exe);
                for a in argv.iter().skip(1) {
                    l.push(' ');
                    l.push_str(a);
                }
                if flags & 0x20 != 0 {
                    l.push_str(" &");
                }
                l
            }
            t @ (1 | 2) => {
                let checks = u32::from(cmd.get(4).copied().unwrap_or(0))
                    | (u32::from(cmd.get(5).copied().unwrap_or(0)) << 8);
                let name = strs(6).first().cloned().unwrap_or_default();
                let word = if t == 1 { "waitfor" } else { "reopen" };
                if checks != 0 {
                    format!("{word} {}.{} {name}", checks / 10, checks % 10)
                } else {
                    format!("{word} {name}")
                }
            }
            3 => format!(
                "display_msg '{}'",
                strs(4)
                    .first()
                    .cloned()
                    .unwrap_or_default()
                    .trim_end_matches('\n')
            ),
            4 => {
                let st = strs(4);
                format!(
                    "procmgr_symlink '{}' '{}'",
                    st.first().cloned().unwrap_or_default(),
                    st.get(1).cloned().unwrap_or_default()
                )
            }
            5 => {
                let budget = cmd.get(5).copied().unwrap_or(0);
                let crit = u32::from(cmd.get(6).copied().unwrap_or(0))
                    | (u32::from(cmd.get(7).copied().unwrap_or(0)) << 8);
                let name = strs(9).first().cloned().unwrap_or_default();
                format!("sched_aps {name} {budget} {crit}")
            }
            t => format!("unknown script command type {t}"),
        };
        lines.push(line);
        off += (size + 3) & !3;
    }
    lines
}

impl Container for Ifs<'_> {
    fn resident_bytes(&self) -> u64 {
        match &self.image {
            Cow::Owned(v) => v.len() as u64,
            Cow::Borrowed(_) => 0,
        }
    }

    /// Compressed images only: what they report comes from the startup part and the
    /// compressed imagefs (LZO and UCL blocks up to the end marker, one gzip member), all
    /// read while opening, and from the span. A zlib image's span is its startup header's
    /// `stored_size`, which may end after the gzip member: the extent then runs to it, so
    /// that an input holding the extent has the same span. (An uncompressed image's entries
    /// are read from the input later.)
    /// A damaged image is left out: what it reports depends on where its input ends.
    fn input_extent(&self) -> Option<u64> {
        let sh = self.info.startup.as_ref()?;
        if self.info.damage.is_some() {
            return None;
        }
        let used = sh
            .offset
            .checked_add(u64::from(sh.startup_size))?
            .checked_add(self.info.compressed_size?)?;
        match self.info.compression {
            Compression::Lzo | Compression::Ucl => Some(used),
            Compression::Zlib => {
                let stored = sh.offset.checked_add(u64::from(sh.stored_size))?;
                Some(used.max(stored)).filter(|&end| end <= self.input_len)
            }
            Compression::None | Compression::Unknown(_) => None,
        }
    }

    fn damage(&self) -> Option<&FormatError> {
        self.info.damage.as_ref()
    }

    fn data_offset(&self, entry: &Entry) -> Option<u64> {
        file_note_offset(
            self.info.compression,
            self.info.imagefs_offset,
            entry.loc.offset,
        )
    }

    fn decoded_data_offset(&self, entry: &Entry) -> Option<u64> {
        (self.info.compression != Compression::None).then_some(entry.loc.offset)
    }

    /// Preboot stub and startup part, then the imagefs: the blocks read up to the end
    /// marker (LZO, UCL), `stored_size` (zlib: the stream's own end is the decoder's
    /// business), or `image_size` (uncompressed, and a bare imagefs).
    fn span(&self) -> Option<u64> {
        let info = &self.info;
        let end = match (&info.startup, info.compression) {
            (None, _) => u64::from(info.image.image_size),
            (Some(sh), Compression::Zlib) => sh.offset.checked_add(u64::from(sh.stored_size))?,
            (Some(_), Compression::None) => info
                .imagefs_offset
                .checked_add(u64::from(info.image.image_size))?,
            (Some(_), _) => info.imagefs_offset.checked_add(info.compressed_size?)?,
        };
        Some(end.min(self.input_len))
    }

    fn kind(&self) -> ContainerKind {
        ContainerKind::Ifs
    }
    fn entries(&self) -> &[Entry] {
        &self.entries
    }
    fn read(&self, entry: &Entry) -> Result<Cow<'_, [u8]>, FormatError> {
        if let Some(not_a_file) = super::read_non_file(entry) {
            return not_a_file;
        }
        let limit = (self.info.image.image_size as usize).min(self.image.len());
        let img = self.image.get(..limit).unwrap_or(&[]);
        slice_at(img, entry.loc.offset, entry.loc.len)
            .map(Cow::Borrowed)
            .ok_or_else(|| {
                FormatError::at(
                    ErrorKind::Truncated,
                    self.info.imagefs_offset.saturating_add(entry.loc.offset),
                    format!(
                        "{}: data at imagefs offset {:#x}+{:#x} runs past the image ({:#x} bytes)",
                        entry.path, entry.loc.offset, entry.loc.len, limit
                    ),
                )
            })
    }
    fn notes(&self) -> &[Note] {
        &self.notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Startup part size of the generated headers: the header and two words.
    const PART: u32 = STARTUP_HEADER_SIZE as u32 + 8;
    /// Flags1 compression field (bits 2..4): none 0, UCL 3.
    const NONE: u8 = 0;
    const UCL: u8 = 3;

    /// A little-endian startup part (header, a word of "code", the checksum word) with
    /// `stored` bytes of imagefs declared behind it; its words sum to zero when `good`.
    fn startup_part(comp: u8, stored: u32, good: bool) -> Vec<u8> {
        let mut h = vec![0u8; PART as usize];
        h[0..4].copy_from_slice(&STARTUP_SIGNATURE.to_le_bytes());
        h[4..6].copy_from_slice(&1u16.to_le_bytes()); // version
        h[6] = 1 | (comp << 2); // flags1: little endian
        h[8..10].copy_from_slice(&(STARTUP_HEADER_SIZE as u16).to_le_bytes());
        h[10..12].copy_from_slice(&40u16.to_le_bytes()); // machine: ARM
        h[32..36].copy_from_slice(&PART.to_le_bytes()); // startup_size
        h[36..40].copy_from_slice(&(PART + stored).to_le_bytes()); // stored_size
        h[0x100..0x104].copy_from_slice(&0x9090_9090u32.to_le_bytes());
        let sum = word_sum(&h, Endian::Little);
        let check = 0u32.wrapping_sub(sum) ^ u32::from(!good);
        let at = h.len() - 4;
        h[at..].copy_from_slice(&check.to_le_bytes());
        assert_eq!(word_sum(&h, Endian::Little) == 0, good);
        h
    }

    /// A compressed image with a wrong startup checksum and no checksum budget left: the
    /// structure alone decides, and the first block (length word and data) must lie
    /// inside both the input and the stored image. One byte past either is refused.
    #[test]
    fn first_block_must_fit_the_input_and_the_stored_image_to_the_byte() {
        let block = [0x00, 0x04, 1, 2, 3, 4]; // length 4, then its 4 bytes
        let carve = |d: &[u8]| valid_startup_at(d, 0, false, &mut 0);
        // Fits exactly: the input ends with the block, the stored image is the block.
        let mut d = startup_part(UCL, 6, false);
        d.extend_from_slice(&block);
        assert!(carve(&d));
        // The input ends one byte before the block does (the stored size has room).
        let mut d = startup_part(UCL, 64, false);
        d.extend_from_slice(&block[..5]);
        assert!(!carve(&d));
        // The stored image ends one byte before the block does (the input has room).
        let mut d = startup_part(UCL, 5, false);
        d.extend_from_slice(&block);
        d.extend_from_slice(&[0xff; 64]);
        assert!(!carve(&d));
        // Budget left, the same block past the stored image: the checksum alone decides.
        let mut d = startup_part(UCL, 5, true);
        d.extend_from_slice(&block);
        assert!(valid_startup_at(&d, 0, false, &mut u64::from(PART)));
    }

    /// A UCL block (length word, data) that decodes to a minimal image header.
    fn block_with_image_header() -> Vec<u8> {
        let mut ih = vec![0u8; 96];
        ih[..8].copy_from_slice(b"imagefs\x04");
        ih[8..12].copy_from_slice(&96u32.to_le_bytes()); // image_size
        ih[12..16].copy_from_slice(&96u32.to_le_bytes()); // hdr_dir_size
        ih[16..20].copy_from_slice(&88u32.to_le_bytes()); // dir_offset
        assert!(parse_image_header(&ih).is_some());
        let data = ucl::nrv2b_encode_literals(&ih);
        let mut block = (data.len() as u16).to_be_bytes().to_vec();
        block.extend_from_slice(&data);
        block
    }

    /// A wrong startup checksum: the first block is decoded when it lies inside the stored
    /// image and the budget still holds a whole block's output (which it then loses); a
    /// block one byte past the stored image is not decoded, nor one a byte over budget.
    #[test]
    fn first_block_decoding_needs_structure_and_a_whole_block_of_budget() {
        let block = block_with_image_header();
        let mut d = startup_part(UCL, block.len() as u32, false);
        d.extend_from_slice(&block);
        let full = u64::from(PART) + MAX_BLOCK_OUT as u64;
        let mut budget = full;
        assert!(valid_startup_at(&d, 0, false, &mut budget));
        assert_eq!(budget, 0);
        let mut budget = full - 1;
        assert!(!valid_startup_at(&d, 0, false, &mut budget));
        assert_eq!(budget, MAX_BLOCK_OUT as u64 - 1);
        // The same block, the stored image one byte shorter than it.
        let mut plenty = u64::MAX;
        let mut d = startup_part(UCL, block.len() as u32 - 1, false);
        d.extend_from_slice(&block);
        assert!(!valid_startup_at(&d, 0, false, &mut plenty));
    }

    /// The checksum budget covers a startup part it equals (and is then spent); one byte
    /// short, the checksum is not summed, the budget is left as it was, and only the
    /// structure decides. Here there is no structure (no image header behind an
    /// uncompressed startup part), so a valid checksum is taken only within the budget.
    #[test]
    fn checksum_budget_boundary() {
        let d = startup_part(NONE, 0, true);
        let mut budget = u64::from(PART);
        assert!(valid_startup_at(&d, 0, false, &mut budget));
        assert_eq!(budget, 0);
        let mut budget = u64::from(PART) - 1;
        assert!(!valid_startup_at(&d, 0, false, &mut budget));
        assert_eq!(budget, u64::from(PART) - 1);
        // Past the budget a compressed image with a wrong checksum and a first block
        // in place is taken on its structure.
        let mut d = startup_part(UCL, 6, false);
        d.extend_from_slice(&[0x00, 0x04, 1, 2, 3, 4]);
        let mut budget = u64::from(PART) - 1;
        assert!(valid_startup_at(&d, 0, false, &mut budget));
        assert_eq!(budget, u64::from(PART) - 1);
    }
}
