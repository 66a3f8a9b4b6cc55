//! Finding containers at any offset of a raw dump (flash images, disk images, memory).
//!
//! Each format has a short signature that `memchr::memmem` finds at several GB/s; each hit
//! is then validated with the format's own rules, so stray signature bytes (in BIOS code,
//! compressed data, random padding) are not reported:
//! - IFS startup header (`eb 7e ff 00` / `00 ff 7e eb`): version, header size, the zero
//!   fields, sizes that fit, and a startup checksum of zero (or an image header exactly
//!   where the startup size puts it).
//! - bare imagefs (`imagefs`/`sfegami`): header fields consistent, directory plausible, not
//!   the image header of an IFS already found.
//! - QNX6 (`eb 10 90 00` boot block): a superblock with a valid CRC behind it.
//! - QNX4 (`/` + 15 NULs at partition + 0x200): root directory inode and its `.` entry.

use memchr::memmem;

use super::{ifs, qnx4, qnx6, ContainerKind};

/// Offsets and kinds of every validated container signature in `data`, sorted by offset.
/// An IFS is reported at the start of its preboot stub (header offset - `preboot_size`),
/// so `detect`/`open` on `&data[offset..]` find it.
/// Nested containers (an IFS inside a QNX4 `.boot` file stored contiguously) are reported
/// too: the caller decides how to nest.
pub fn carve(data: &[u8]) -> Vec<(u64, ContainerKind)> {
    let mut out: Vec<(u64, ContainerKind)> = Vec::new();
    let mut image_headers_of_ifs: Vec<usize> = Vec::new();

    for (sig, big) in [
        ([0xeb, 0x7e, 0xff, 0x00], false),
        ([0x00, 0xff, 0x7e, 0xeb], true),
    ] {
        for pos in memmem::find_iter(data, &sig) {
            if ifs::valid_startup_at(data, pos, big) {
                // Report the start of the image: the preboot stub, if the header says so.
                let pre = ifs::preboot_size_at(data, pos, big).unwrap_or(0);
                let start = if pre <= pos { pos - pre } else { pos };
                out.push((start as u64, ContainerKind::Ifs));
                if let Some(img) = ifs::image_header_pos(data, pos, big) {
                    image_headers_of_ifs.push(img);
                }
            }
        }
    }
    for sig in [&b"imagefs"[..], &b"sfegami"[..]] {
        for pos in memmem::find_iter(data, sig) {
            if !image_headers_of_ifs.contains(&pos) && ifs::valid_image_at(data, pos) {
                out.push((pos as u64, ContainerKind::Ifs));
            }
        }
    }
    for pos in memmem::find_iter(data, &[0xeb, 0x10, 0x90, 0x00]) {
        if qnx6::valid_at(data, pos) {
            out.push((pos as u64, ContainerKind::Qnx6));
        }
    }
    let root = b"/\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    for pos in memmem::find_iter(data, root) {
        if pos >= 0x200 && qnx4::valid_at(data, pos - 0x200) {
            out.push(((pos - 0x200) as u64, ContainerKind::Qnx4));
        }
    }
    out.sort_by_key(|&(o, _)| o);
    out.dedup();
    out
}
