//! Crafted inputs that make a scanner do far more work than their size: many entries on
//! the bytes of one extent (issue 16.1), and nested decompression bombs (16.3). Built here,
//! byte by byte, for the tests (tests/amplification.rs) and for the timings under
//! `prlimit` (examples/make_amplifiers.rs writes them out).
#![allow(dead_code)]

use std::io::Write;

use super::ifs_writer::{self, Comp, Opts};

/// An IFS (compressed as `comp`) holding `blob` as the file `blob` and `entries` more files
/// that point into it: entry `k` starts `k * shift` bytes into the blob (modulo half its
/// length) and runs to its end. `shift` 0: every entry has the blob's own extent.
pub fn shared_extent_ifs(entries: usize, blob: &[u8], shift: usize, comp: Comp) -> Vec<u8> {
    let half = (blob.len() / 2).max(1);
    let aliases: Vec<(String, String, usize)> = (0..entries)
        .map(|k| {
            (
                format!("d{}/f{k}", k / 1000),
                "blob".to_string(),
                k * shift % half,
            )
        })
        .collect();
    ifs_with_aliases(&[ifs_writer::file("blob", 2, blob)], &aliases, comp)
}

/// An IFS of `nodes` and one more file per `(alias, of, skip)`, with no bytes of its own:
/// its extent is that of the file `of`, from `skip` bytes in to its end.
pub fn ifs_with_aliases(
    nodes: &[ifs_writer::Node],
    aliases: &[(String, String, usize)],
    comp: Comp,
) -> Vec<u8> {
    let mut all = nodes.to_vec();
    let first_ino = 2 + nodes.iter().map(|n| n.ino & 0x0fff_ffff).max().unwrap_or(0);
    for (k, (alias, _, _)) in aliases.iter().enumerate() {
        all.push(ifs_writer::file(alias, first_ino + k as u32, b""));
    }
    let o = Opts {
        comp,
        preboot: 0,
        ..Opts::default()
    };
    let mut img = ifs_writer::build_imagefs(&all, &o);
    // File entries: offset and size at +24 and +28 (little-endian), path from +32. The
    // directory starts at 0x5c.
    let rd = |d: &[u8], at: usize| u32::from_le_bytes(d[at..at + 4].try_into().unwrap());
    let mut files = std::collections::HashMap::new();
    let mut pos = 0x5c;
    loop {
        let size = usize::from(u16::from_le_bytes([img[pos], img[pos + 1]]));
        if size == 0 {
            break;
        }
        if rd(&img, pos + 8) & 0o170000 == 0o100000 {
            let name = &img[pos + 32..pos + size];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap()];
            files.insert(String::from_utf8(name.to_vec()).unwrap(), pos);
        }
        pos += size;
    }
    for (alias, of, skip) in aliases {
        let (from, to) = (files[of.as_str()], files[alias.as_str()]);
        let (off, len) = (rd(&img, from + 24), rd(&img, from + 28));
        let skip = (*skip as u32).min(len);
        img[to + 24..to + 28].copy_from_slice(&(off + skip).to_le_bytes());
        img[to + 28..to + 32].copy_from_slice(&(len - skip).to_le_bytes());
    }
    resum_imagefs(&mut img);
    ifs_writer::wrap_imagefs(&img, &o)
}

/// Make the words of an imagefs (`image_size` bytes, trailer last) sum to zero again.
fn resum_imagefs(img: &mut [u8]) {
    let size = u32::from_le_bytes(img[8..12].try_into().unwrap()) as usize;
    let body = &img[..size - 4];
    let sum = body
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .fold(0u32, u32::wrapping_add);
    img[size - 4..size].copy_from_slice(&0u32.wrapping_sub(sum).to_le_bytes());
}

const QNX6_BS: usize = 4096;
const QNX6_DATA: usize = 0x3000;
const NO_BLOCK: u32 = u32::MAX;

/// A QNX6 file system (block size 4 KiB) whose root directory lists `entries` files of
/// `size` bytes, every one made of one data block repeated: a two-level pointer tree whose
/// pointer blocks all point at the same block, so the image stays a few tens of KiB.
/// `distinct_inodes` false: every entry names the same inode (hard links); true: each has
/// an inode of its own, all with the same tree.
pub fn repeated_block_qnx6(entries: usize, size: u64, distinct_inodes: bool) -> Vec<u8> {
    let fan = QNX6_BS / 4;
    assert!(size <= (16 * fan * fan * QNX6_BS) as u64);
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut add = |b: Vec<u8>| {
        blocks.push(b);
        blocks.len() as u32 - 1
    };
    let data = add(vec![0x5a; QNX6_BS]);
    let l1 = add(pointer_block(&vec![data; fan]));
    let l2 = add(pointer_block(&vec![l1; fan]));
    let mut file_tree = [NO_BLOCK; 16];
    file_tree[0] = l2;
    // Inodes: 1 is the root directory, then the files (32 per block). Every table block
    // after the first is the same block.
    let files = if distinct_inodes { entries } else { 1 };
    let per_block = QNX6_BS / 128;
    let file_inode = inode(size, 0o100644, &file_tree, 2);
    let dir_len = (entries + 2) * 32;
    let dir_blocks: Vec<u32> = (0..dir_len.div_ceil(QNX6_BS))
        .map(|i| {
            let mut b = vec![0u8; QNX6_BS];
            for slot in 0..QNX6_BS / 32 {
                let n = i * (QNX6_BS / 32) + slot;
                let (ino, name) = match n {
                    0 => (1, ".".to_string()),
                    1 => (1, "..".to_string()),
                    n if n < entries + 2 => {
                        let k = n - 2;
                        let ino = if distinct_inodes { 2 + k as u32 } else { 2 };
                        (ino, format!("f{k}"))
                    }
                    _ => break,
                };
                let de = &mut b[slot * 32..slot * 32 + 32];
                de[..4].copy_from_slice(&ino.to_le_bytes());
                de[4] = name.len() as u8;
                de[5..5 + name.len()].copy_from_slice(name.as_bytes());
            }
            add(b)
        })
        .collect();
    let (dir_tree, dir_levels) = small_tree(&dir_blocks, &mut add);
    let root = inode(dir_len as u64, 0o040755, &dir_tree, dir_levels);
    let mut first = root.clone();
    let mut rest = Vec::new();
    for slot in 1..per_block {
        first.extend_from_slice(if slot <= files {
            &file_inode
        } else {
            &[0; 128]
        });
    }
    for _ in 0..per_block {
        rest.extend_from_slice(&file_inode);
    }
    let table_blocks = (files + 1).div_ceil(per_block);
    let t0 = add(first);
    let t1 = add(rest);
    let table: Vec<u32> = (0..table_blocks)
        .map(|i| if i == 0 { t0 } else { t1 })
        .collect();
    let (inode_tree, inode_levels) = small_tree(&table, &mut add);
    let num_blocks = blocks.len();
    let mut img = vec![0u8; QNX6_DATA + num_blocks * QNX6_BS];
    for (i, b) in blocks.iter().enumerate() {
        img[QNX6_DATA + i * QNX6_BS..][..b.len()].copy_from_slice(b);
    }
    let sb1_at = img.len();
    img[..4].copy_from_slice(&[0xeb, 0x10, 0x90, 0x00]);
    img[8..12].copy_from_slice(&(0x2000u32 / 512).to_le_bytes());
    img[12..16].copy_from_slice(&(sb1_at as u32 / 512).to_le_bytes());
    let sb = |serial: u64| {
        let mut s = vec![0u8; 512];
        s[..4].copy_from_slice(&0x6819_1122u32.to_le_bytes());
        s[8..16].copy_from_slice(&serial.to_le_bytes());
        s[48..52].copy_from_slice(&(QNX6_BS as u32).to_le_bytes());
        s[52..56].copy_from_slice(&(table_blocks as u32 * per_block as u32).to_le_bytes());
        s[60..64].copy_from_slice(&(num_blocks as u32).to_le_bytes());
        let inode_bytes = (table_blocks * QNX6_BS) as u64;
        put_tree(&mut s[72..], inode_bytes, &inode_tree, inode_levels);
        put_tree(&mut s[232..], 0, &[NO_BLOCK; 16], 0);
        let crc = badalloc_formats::qnx6::crc32_qnx6(&s[8..]);
        s[4..8].copy_from_slice(&crc.to_le_bytes());
        s
    };
    img[0x2000..0x2200].copy_from_slice(&sb(2));
    img.extend_from_slice(&sb(1));
    img
}

/// A QNX6 root node or inode tree: size, 16 pointers, then the level count.
fn put_tree(at: &mut [u8], size: u64, ptrs: &[u32; 16], levels: u8) {
    at[..8].copy_from_slice(&size.to_le_bytes());
    for (i, p) in ptrs.iter().enumerate() {
        at[8 + 4 * i..12 + 4 * i].copy_from_slice(&p.to_le_bytes());
    }
    at[72] = levels;
}

/// A 128-byte QNX6 inode: size at 0, mode at 32, pointers at 36, levels at 100.
fn inode(size: u64, mode: u16, ptrs: &[u32; 16], levels: u8) -> Vec<u8> {
    let mut i = vec![0u8; 128];
    i[..8].copy_from_slice(&size.to_le_bytes());
    i[32..34].copy_from_slice(&mode.to_le_bytes());
    for (k, p) in ptrs.iter().enumerate() {
        i[36 + 4 * k..40 + 4 * k].copy_from_slice(&p.to_le_bytes());
    }
    i[100] = levels;
    i
}

fn pointer_block(ptrs: &[u32]) -> Vec<u8> {
    let mut b = vec![0xffu8; QNX6_BS];
    for (i, p) in ptrs.iter().enumerate() {
        b[4 * i..4 * i + 4].copy_from_slice(&p.to_le_bytes());
    }
    b
}

/// The pointers of a tree over `blocks`: direct (level 0) for up to 16, else through one
/// level of pointer blocks.
fn small_tree(blocks: &[u32], add: &mut impl FnMut(Vec<u8>) -> u32) -> ([u32; 16], u8) {
    let mut ptrs = [NO_BLOCK; 16];
    if blocks.len() <= 16 {
        ptrs[..blocks.len()].copy_from_slice(blocks);
        return (ptrs, 0);
    }
    for (i, chunk) in blocks.chunks(QNX6_BS / 4).enumerate() {
        ptrs[i] = add(pointer_block(chunk));
    }
    (ptrs, 1)
}

/// The QNX4 image `img` with `links` more entries in its root directory, each a link
/// (status 0x08) to the inode entry of `target` (a file of the root directory). The root
/// directory is moved to the end of the image, its old entries first.
pub fn qnx4_extra_links(img: &[u8], target: &str, links: usize) -> Vec<u8> {
    let rd = |at: usize| u32::from_le_bytes(img[at..at + 4].try_into().unwrap()) as usize;
    let (dir_at, dir_len) = ((rd(0x200 + 20) - 1) * 512, rd(0x200 + 16));
    let old_dir = &img[dir_at..dir_at + dir_len];
    let (blk, index) = old_dir
        .chunks_exact(64)
        .enumerate()
        .find_map(|(i, de)| {
            let name_len = de.iter().take(48).position(|&b| b == 0).unwrap_or(48);
            if &de[..name_len] != target.as_bytes() {
                return None;
            }
            if de[63] & 0x08 != 0 {
                let blk = u32::from_le_bytes(de[48..52].try_into().unwrap());
                Some((blk, de[52]))
            } else {
                let at = dir_at + i * 64;
                Some(((at / 512 + 1) as u32, ((at % 512) / 64) as u8))
            }
        })
        .unwrap_or_else(|| panic!("{target} is not in the root directory"));
    let mut dir = old_dir.to_vec();
    for k in 0..links {
        let mut de = [0u8; 64];
        let name = format!("link{k}");
        de[..name.len()].copy_from_slice(name.as_bytes());
        de[48..52].copy_from_slice(&blk.to_le_bytes());
        de[52] = index;
        de[63] = 0x08;
        dir.extend_from_slice(&de);
    }
    let mut out = img.to_vec();
    out.resize(out.len().div_ceil(512) * 512, 0);
    let new_blk = out.len() / 512 + 1;
    out.extend_from_slice(&dir);
    out.resize(out.len().div_ceil(512) * 512, 0);
    let root = 0x200;
    out[root + 16..root + 20].copy_from_slice(&(dir.len() as u32).to_le_bytes());
    out[root + 20..root + 24].copy_from_slice(&(new_blk as u32).to_le_bytes());
    out[root + 24..root + 28].copy_from_slice(&(dir.len().div_ceil(512) as u32).to_le_bytes());
    out[root + 28..root + 32].copy_from_slice(&0u32.to_le_bytes());
    out[root + 48..root + 50].copy_from_slice(&1u16.to_le_bytes());
    out
}

/// A gzip stream of `zeros` zero bytes: gzip members of 1 MiB of zeros one after another
/// (readers of `.gz` files take every member), so it is built fast even in a debug build.
pub fn gzip_bomb(zeros: u64) -> Vec<u8> {
    let member = |n: usize| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0u8; n]).unwrap();
        e.finish().unwrap()
    };
    let mib = member(1 << 20);
    let mut out = Vec::new();
    for _ in 0..zeros >> 20 {
        out.extend_from_slice(&mib);
    }
    if zeros % (1 << 20) != 0 {
        out.extend_from_slice(&member((zeros % (1 << 20)) as usize));
    }
    out
}

/// [`gzip_bomb`] followed by a gzip member of stored bytes that brings the stream to
/// exactly `total` bytes (a power of two made the decoder's first guess, four times the
/// input, double onto the bound exactly, and the next step reserve twice the bound).
pub fn gzip_bomb_padded(zeros: u64, total: usize) -> Vec<u8> {
    let mut bomb = gzip_bomb(zeros);
    let stored = |n: usize| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        e.write_all(&vec![0x11u8; n]).unwrap();
        e.finish().unwrap()
    };
    let want = total
        .checked_sub(bomb.len())
        .expect("bomb larger than the total");
    // Stored blocks add a few bytes each, so not every length is one member's: a second,
    // small member makes up the difference.
    let pad = (want.saturating_sub(4096)..want)
        .rev()
        .find_map(|n| {
            let mut pad = stored(n);
            let rest = want.checked_sub(pad.len())?;
            if rest != 0 {
                pad.extend((0..rest).map(stored).find(|m| m.len() == rest)?);
            }
            Some(pad)
        })
        .expect("a padding of that length");
    bomb.extend_from_slice(&pad);
    bomb
}

/// `depth` levels of `.tar.gz` in `.tar.gz`, each level holding `bomb` (a gzip stream) next
/// to the next level.
pub fn nested_tar_gz_bombs(depth: usize, bomb: &[u8]) -> Vec<u8> {
    let one = bomb;
    let mut inner = super::gzip(&super::tar(&[("bomb.gz", one)]));
    for _ in 1..depth {
        inner = super::gzip(&super::tar(&[("bomb.gz", one), ("inner.tar.gz", &inner)]));
    }
    inner
}
