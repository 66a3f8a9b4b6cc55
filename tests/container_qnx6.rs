//! QNX6: the qnxmount test image must hold exactly what its tar.gz says was written into it.

mod common;

use std::collections::BTreeMap;

use badalloc_formats::qnx6::{crc32_qnx6, Qnx6};
use badalloc_formats::*;

#[derive(Debug, PartialEq, Eq)]
struct Obj {
    kind: EntryType,
    perm: u32,
    size: u64,
    target: Option<String>,
    sha: Option<String>,
}

fn collect(c: &dyn Container, skip: &[&str]) -> BTreeMap<String, Obj> {
    let mut m = BTreeMap::new();
    for e in c.entries() {
        if e.path.is_empty()
            || skip
                .iter()
                .any(|s| e.path == *s || e.path.starts_with(&format!("{s}/")))
        {
            continue;
        }
        let sha =
            (e.entry_type == EntryType::File).then(|| common::sha256_hex(&c.read(e).unwrap()));
        let size = match e.entry_type {
            EntryType::File | EntryType::Symlink => e.size,
            _ => 0,
        };
        m.insert(
            e.path.clone(),
            Obj {
                kind: e.entry_type,
                perm: e.mode & 0o7777,
                size,
                target: e.link_target.clone(),
                sha,
            },
        );
    }
    m
}

#[test]
fn qnxmount_image_matches_its_tarball() {
    let (Some(img), Some(tgz)) = (
        common::corpus("qnx6/qnxmount-test_image.bin"),
        common::corpus("qnx6/qnxmount-test_image.tar.gz"),
    ) else {
        return;
    };
    assert_eq!(detect(&img), Some(ContainerKind::Qnx6));
    assert_eq!(detect(&tgz), Some(ContainerKind::Gzip));
    let fs = open(&img, ContainerKind::Qnx6, &Limits::default()).unwrap();
    let tar = open(&tgz, ContainerKind::Gzip, &Limits::default()).unwrap();
    assert_eq!(tar.kind(), ContainerKind::Gzip);
    let want = collect(tar.as_ref(), &[]);
    let got = collect(fs.as_ref(), &[".boot"]);
    assert!(want.len() >= 30, "{}", want.len());
    for (p, w) in &want {
        assert_eq!(got.get(p), Some(w), "{p}");
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    // Superblock facts.
    let q = Qnx6::open(&img, &Limits::default()).unwrap();
    assert_eq!(q.superblock().serial, 2);
    assert_eq!(q.superblock().offset, 0x63000);
    assert!(q.superblock().crc_ok);
    let notes = fs.notes();
    assert_eq!(
        notes
            .iter()
            .filter(|n| n.kind == "checksum" && n.detail.contains("CRC valid"))
            .count(),
        2
    );
    let large = find(fs.as_ref(), "this_file_is_large").unwrap();
    assert_eq!(fs.read(large).unwrap().len(), 16384);
}

#[test]
fn superblock_crc_matches_corpus() {
    let Some(img) = common::corpus("qnx6/qnxmount-test_image.bin") else {
        return;
    };
    let sb = &img[0x2000..0x2200];
    let stored = u32::from_le_bytes(sb[4..8].try_into().unwrap());
    assert_eq!(crc32_qnx6(&sb[8..]), stored);
}

#[test]
fn corrupt_superblock_crc_falls_back() {
    let Some(mut img) = common::corpus("qnx6/qnxmount-test_image.bin") else {
        return;
    };
    // Break the active (serial 2) superblock: the older one is used, with a note.
    img[0x63000 + 100] ^= 0xff;
    let q = Qnx6::open(&img, &Limits::default()).unwrap();
    assert_eq!(q.superblock().serial, 1);
    assert!(q
        .notes()
        .iter()
        .any(|n| n.detail.contains("CRC INVALID") && n.offset == Some(0x63000)));
}

/// Convert the little-endian corpus image to big-endian by swapping every multi-byte
/// field the reader uses (superblocks, inodes, pointer blocks, directory entries).
fn to_big_endian(img: &[u8]) -> Vec<u8> {
    let mut d = img.to_vec();
    let bs = 1024usize;
    let data_start = 0x3000usize;
    let sw4 = |d: &mut Vec<u8>, at: usize| d[at..at + 4].reverse();
    let sw2 = |d: &mut Vec<u8>, at: usize| d[at..at + 2].reverse();
    let sw8 = |d: &mut Vec<u8>, at: usize| d[at..at + 8].reverse();
    let rd4 = |d: &[u8], at: usize| u32::from_le_bytes(d[at..at + 4].try_into().unwrap());
    // Pointer trees: collect blocks (pointer blocks get swapped) from LE data first.
    fn tree_blocks(
        d: &[u8],
        ptrs: &[u32],
        levels: u8,
        bs: usize,
        ds: usize,
        ptr_blocks: &mut Vec<usize>,
        data_blocks: &mut Vec<usize>,
    ) {
        for &p in ptrs {
            if p == u32::MAX {
                continue;
            }
            let at = ds + p as usize * bs;
            if levels == 0 {
                data_blocks.push(at);
            } else {
                ptr_blocks.push(at);
                let sub: Vec<u32> = (0..bs / 4)
                    .map(|i| u32::from_le_bytes(d[at + 4 * i..at + 4 * i + 4].try_into().unwrap()))
                    .filter(|&x| x != 0)
                    .collect();
                tree_blocks(d, &sub, levels - 1, bs, ds, ptr_blocks, data_blocks);
            }
        }
    }
    let fs = Qnx6::open(img, &Limits::default()).unwrap();
    let mut ptr_blocks = Vec::new();
    let mut inode_blocks = Vec::new();
    let mut dir_blocks = Vec::new();
    for sb_at in [0x2000usize, 0x63000] {
        let ptrs: Vec<u32> = (0..16).map(|i| rd4(img, sb_at + 72 + 8 + 4 * i)).collect();
        tree_blocks(
            img,
            &ptrs,
            img[sb_at + 72 + 72],
            bs,
            data_start,
            &mut ptr_blocks,
            &mut inode_blocks,
        );
    }
    inode_blocks.sort();
    inode_blocks.dedup();
    // Directory data blocks: every directory inode's tree.
    let mut inodes = Vec::new();
    for &b in &inode_blocks {
        for k in 0..bs / 128 {
            inodes.push(b + k * 128);
        }
    }
    for &ia in &inodes {
        let mode = u16::from_le_bytes(img[ia + 32..ia + 34].try_into().unwrap());
        let ptrs: Vec<u32> = (0..16).map(|i| rd4(img, ia + 36 + 4 * i)).collect();
        let mut data = Vec::new();
        tree_blocks(
            img,
            &ptrs,
            img[ia + 100],
            bs,
            data_start,
            &mut ptr_blocks,
            &mut data,
        );
        if mode & 0o170000 == 0o040000 {
            dir_blocks.extend(data);
        }
    }
    let _ = fs;
    ptr_blocks.sort();
    ptr_blocks.dedup();
    dir_blocks.sort();
    dir_blocks.dedup();
    for sb_at in [0x2000usize, 0x63000] {
        for at in [0usize, 4] {
            sw4(&mut d, sb_at + at);
        }
        sw8(&mut d, sb_at + 8);
        for at in [16usize, 20, 24] {
            sw4(&mut d, sb_at + at);
        }
        sw2(&mut d, sb_at + 28);
        sw2(&mut d, sb_at + 30);
        for k in 0..6 {
            sw4(&mut d, sb_at + 48 + 4 * k);
        }
        for r in 0..5 {
            let base = sb_at + 72 + 80 * r;
            sw8(&mut d, base);
            for i in 0..16 {
                sw4(&mut d, base + 8 + 4 * i);
            }
        }
        let crc = crc32_qnx6(&d[sb_at + 8..sb_at + 512]);
        d[sb_at + 4..sb_at + 8].copy_from_slice(&crc.to_be_bytes());
    }
    for b in ptr_blocks {
        for i in 0..bs / 4 {
            sw4(&mut d, b + 4 * i);
        }
    }
    for ia in inodes {
        sw8(&mut d, ia);
        for k in 0..6 {
            sw4(&mut d, ia + 8 + 4 * k);
        }
        sw2(&mut d, ia + 32);
        sw2(&mut d, ia + 34);
        for i in 0..16 {
            sw4(&mut d, ia + 36 + 4 * i);
        }
    }
    for b in dir_blocks {
        for k in 0..bs / 32 {
            let de = b + 32 * k;
            sw4(&mut d, de);
            if d[de + 4] == 0xff {
                sw4(&mut d, de + 8);
            }
        }
    }
    d
}

#[test]
fn big_endian_image_reads_the_same() {
    let Some(img) = common::corpus("qnx6/qnxmount-test_image.bin") else {
        return;
    };
    let be = to_big_endian(&img);
    let le_fs = open(&img, ContainerKind::Qnx6, &Limits::default()).unwrap();
    let be_fs = open(&be, ContainerKind::Qnx6, &Limits::default()).unwrap();
    assert!(be_fs
        .notes()
        .iter()
        .any(|n| n.kind == "byte-order" && n.detail == "big-endian"));
    assert_eq!(collect(le_fs.as_ref(), &[]), collect(be_fs.as_ref(), &[]));
}

#[test]
fn hostile_mutations_never_panic() {
    let Some(img) = common::corpus("qnx6/qnxmount-test_image.bin") else {
        return;
    };
    let mut x: u64 = 7;
    let lim = Limits {
        max_expanded: 1 << 20,
        ..Limits::default()
    };
    let mut tally = common::mutants::MutantTally::default();
    for _ in 0..300 {
        let mut d = img.clone();
        for _ in 0..16 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Hit the metadata region (superblocks, inode table, directories) hardest.
            let i = if x & 1 == 0 {
                0x3000 + (x >> 33) as usize % 0x8000
            } else {
                (x >> 33) as usize % d.len()
            };
            d[i] = (x >> 20) as u8;
        }
        // Keep the superblock CRCs valid so the mutated trees are actually walked.
        for sb in [0x2000usize, 0x63000] {
            let crc = crc32_qnx6(&d[sb + 8..sb + 512]);
            d[sb + 4..sb + 8].copy_from_slice(&crc.to_le_bytes());
        }
        tally.check(&d, ContainerKind::Qnx6, &lim);
    }
    tally.assert_both_seen();
}

/// Helpers to craft variants of the little-endian corpus image (block size 1024, data at
/// 0x3000, active superblock at 0x63000).
mod craft {
    pub const BS: usize = 1024;
    pub const DS: usize = 0x3000;
    pub const SB: usize = 0x63000;

    pub fn rd4(d: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
    }
    pub fn wr4(d: &mut [u8], at: usize, v: u32) {
        d[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    pub fn fix_crc(d: &mut [u8]) {
        let crc = badalloc_formats::qnx6::crc32_qnx6(&d[SB + 8..SB + 512]);
        wr4(d, SB + 4, crc);
    }
    /// Byte offset of inode `ino` (the inode table is level 0 in this image).
    pub fn inode_at(d: &[u8], ino: u32) -> usize {
        let idx = (ino as usize - 1) * 128;
        let blk = rd4(d, SB + 72 + 8 + 4 * (idx / BS));
        DS + blk as usize * BS + idx % BS
    }
    /// All-zero blocks that no root node or inode points at (every tree in this image is
    /// level 0, which is asserted).
    pub fn free_blocks(d: &[u8], n: usize) -> Vec<u32> {
        let mut used = std::collections::HashSet::new();
        for r in 0..5 {
            let base = SB + 72 + 80 * r;
            let size = u64::from_le_bytes(d[base..base + 8].try_into().unwrap());
            assert!(
                size == 0 || d[base + 72] == 0,
                "root node {r} is not level 0"
            );
            for i in 0..16 {
                used.insert(rd4(d, base + 8 + 4 * i));
            }
        }
        for ino in 1..=48 {
            let at = inode_at(d, ino);
            let size = u64::from_le_bytes(d[at..at + 8].try_into().unwrap());
            if size > 0 {
                assert_eq!(d[at + 100], 0, "inode {ino} is not level 0");
            }
            for i in 0..16 {
                used.insert(rd4(d, at + 36 + 4 * i));
            }
        }
        (0..384u32)
            .rev()
            .filter(|b| !used.contains(b))
            .filter(|&b| {
                let o = DS + b as usize * BS;
                d[o..o + BS].iter().all(|&x| x == 0)
            })
            .take(n)
            .collect()
    }
    /// Find the directory entry named `name` in the root directory.
    pub fn root_dirent(d: &[u8], name: &str) -> usize {
        let root = inode_at(d, 1);
        for i in 0..16 {
            let p = rd4(d, root + 36 + 4 * i);
            if p == u32::MAX {
                continue;
            }
            let b = DS + p as usize * BS;
            for k in 0..BS / 32 {
                let de = b + 32 * k;
                let len = d[de + 4] as usize;
                if len <= 27 && &d[de + 5..de + 5 + len] == name.as_bytes() {
                    return de;
                }
            }
        }
        panic!("{name} not found");
    }
}

#[test]
fn long_names_through_the_longfile_table() {
    use craft::*;
    let Some(mut d) = common::corpus("qnx6/qnxmount-test_image.bin") else {
        return;
    };
    let free = free_blocks(&d, 1);
    let blk = free[0];
    let long = "a_file_name_that_is_much_longer_than_twenty_seven_characters.bin";
    let o = DS + blk as usize * BS;
    d[o..o + 2].copy_from_slice(&(long.len() as u16).to_le_bytes());
    d[o + 2..o + 2 + long.len()].copy_from_slice(long.as_bytes());
    // Longfile root node: size one block, ptr[0] = blk, level 0.
    let lf = SB + 72 + 80 * 2;
    d[lf..lf + 8].copy_from_slice(&(BS as u64).to_le_bytes());
    wr4(&mut d, lf + 8, blk);
    d[lf + 72] = 0;
    // Turn "this_file_is_small" into a long-name entry with index 0.
    let de = root_dirent(&d, "this_file_is_small");
    d[de + 4] = 0xff;
    for b in &mut d[de + 5..de + 32] {
        *b = 0;
    }
    wr4(&mut d, de + 8, 0);
    fix_crc(&mut d);
    let c = open(&d, ContainerKind::Qnx6, &Limits::default()).unwrap();
    let e = find(c.as_ref(), long).expect("long name resolved");
    assert_eq!(c.read(e).unwrap().len(), 16);
    assert!(find(c.as_ref(), "this_file_is_small").is_none());
}

#[test]
fn indirect_pointer_levels_one_and_two() {
    use craft::*;
    let Some(orig) = common::corpus("qnx6/qnxmount-test_image.bin") else {
        return;
    };
    let fs = open(&orig, ContainerKind::Qnx6, &Limits::default()).unwrap();
    let large = find(fs.as_ref(), "this_file_is_large").unwrap();
    let want = fs.read(large).unwrap().into_owned();
    let ino = large.ino.unwrap() as u32;
    for levels in [1u8, 2] {
        let mut d = orig.clone();
        let at = inode_at(&d, ino);
        assert_eq!(d[at + 100], 0);
        let direct: Vec<u32> = (0..16).map(|i| rd4(&d, at + 36 + 4 * i)).collect();
        let free = free_blocks(&d, 2);
        // Level-1 block listing the 16 data blocks.
        let l1 = free[0];
        let o1 = DS + l1 as usize * BS;
        for (i, p) in direct.iter().enumerate() {
            wr4(&mut d, o1 + 4 * i, *p);
        }
        for i in direct.len()..BS / 4 {
            wr4(&mut d, o1 + 4 * i, u32::MAX);
        }
        let top = if levels == 1 {
            l1
        } else {
            let l2 = free[1];
            let o2 = DS + l2 as usize * BS;
            wr4(&mut d, o2, l1);
            for i in 1..BS / 4 {
                wr4(&mut d, o2 + 4 * i, u32::MAX);
            }
            l2
        };
        wr4(&mut d, at + 36, top);
        for i in 1..16 {
            wr4(&mut d, at + 36 + 4 * i, u32::MAX);
        }
        d[at + 100] = levels;
        {
            let c = open(&d, ContainerKind::Qnx6, &Limits::default()).unwrap();
            let e = find(c.as_ref(), "this_file_is_large").unwrap();
            assert_eq!(c.read(e).unwrap().as_ref(), &want[..], "levels={levels}");
        }
        // A pointer block pointing past the image is an error with an offset, not a panic.
        wr4(&mut d, DS + l1 as usize * BS + 4 * 3, 0x00ff_ffff);
        let c = open(&d, ContainerKind::Qnx6, &Limits::default()).unwrap();
        let e = find(c.as_ref(), "this_file_is_large").unwrap();
        let err = c.read(e).unwrap_err();
        assert!(err.message.contains("past the end"), "{err}");
        assert_eq!(err.kind, ErrorKind::Truncated, "{err}");
        assert!(err.offset.is_some());
    }
}

#[test]
fn a_file_copied_out_of_scattered_blocks_takes_exactly_its_size() {
    // One block repeated (not contiguous): the file is copied, into a buffer of exactly its
    // size (it was once built whole and then copied again, twice the memory).
    let size = (1 << 20) + 100;
    let img = common::amplify::repeated_block_qnx6(2, size, false);
    let c = open(&img, ContainerKind::Qnx6, &Limits::default()).unwrap();
    let e = find(c.as_ref(), "f1").unwrap();
    match c.read(e).unwrap() {
        std::borrow::Cow::Owned(v) => {
            assert_eq!(v.len() as u64, size);
            assert_eq!(v.capacity(), v.len());
            assert!(v.iter().all(|&b| b == 0x5a));
        }
        std::borrow::Cow::Borrowed(_) => panic!("scattered blocks cannot be borrowed"),
    }
}

/// A small little-endian QNX6 file system with block size `bs`, built from scratch: boot
/// block, two superblocks, an inode table (block 0), the root directory (block 1), a file of
/// `file.len()` bytes (blocks 2..), a long-name block, a second file with a long name.
fn build_qnx6(bs: usize, file: &[u8], long_name: &str) -> Vec<u8> {
    fn wr4(d: &mut [u8], at: usize, v: u32) {
        d[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn tree(d: &mut [u8], at: usize, levels_at: usize, size: u64, ptrs: &[u32]) {
        d[at..at + 8].copy_from_slice(&size.to_le_bytes());
        for i in 0..16 {
            wr4(d, at + 8 + 4 * i, ptrs.get(i).copied().unwrap_or(u32::MAX));
        }
        d[at + levels_at] = 0;
    }
    // QNX6FS_DATA_START: 12 KiB, or the first multiple of the block size after it.
    let data_start = if bs <= 0x1000 {
        0x3000
    } else {
        0x3000usize.next_multiple_of(bs)
    };
    let file_blocks = file.len().div_ceil(bs) as u32;
    let longname_blk = 2 + file_blocks;
    let nblocks = longname_blk + 1;
    let sb1 = data_start + nblocks as usize * bs;
    let mut d = vec![0u8; sb1 + 0x1000.max(bs)];
    d[..4].copy_from_slice(&[0xeb, 0x10, 0x90, 0x00]);
    wr4(&mut d, 8, 0x2000 / 512);
    wr4(&mut d, 12, (sb1 / 512) as u32);
    let blk = |b: u32| data_start + b as usize * bs;
    // Inodes 1 (root), 2 (the file), 3 (the long-named file).
    let inode = |d: &mut Vec<u8>, ino: usize, size: u64, mode: u16, ptrs: &[u32]| {
        let at = blk(0) + (ino - 1) * 128;
        d[at..at + 8].copy_from_slice(&size.to_le_bytes());
        wr4(d, at + 8, 1000); // uid
        wr4(d, at + 12, 100); // gid
        wr4(d, at + 20, 1_660_000_000 + ino as u32); // mtime
        d[at + 32..at + 34].copy_from_slice(&mode.to_le_bytes());
        for i in 0..16 {
            wr4(d, at + 36 + 4 * i, ptrs.get(i).copied().unwrap_or(u32::MAX));
        }
        d[at + 100] = 0;
    };
    let file_ptrs: Vec<u32> = (2..2 + file_blocks).collect();
    inode(&mut d, 1, 4 * 32, 0o040755, &[1]);
    inode(&mut d, 2, file.len() as u64, 0o100750, &file_ptrs);
    inode(&mut d, 3, 5, 0o100644, &file_ptrs[..1]);
    // Root directory: ".", "..", "libc.so.3", and a long-name entry (index 0).
    let dir = blk(1);
    for (k, (ino, name)) in [(1u32, "."), (1, ".."), (2, "libc.so.3")]
        .iter()
        .enumerate()
    {
        wr4(&mut d, dir + 32 * k, *ino);
        d[dir + 32 * k + 4] = name.len() as u8;
        d[dir + 32 * k + 5..dir + 32 * k + 5 + name.len()].copy_from_slice(name.as_bytes());
    }
    wr4(&mut d, dir + 96, 3);
    d[dir + 96 + 4] = 0xff;
    wr4(&mut d, dir + 96 + 8, 0);
    d[blk(2)..blk(2) + file.len()].copy_from_slice(file);
    let ln = blk(longname_blk);
    d[ln..ln + 2].copy_from_slice(&(long_name.len() as u16).to_le_bytes());
    d[ln + 2..ln + 2 + long_name.len()].copy_from_slice(long_name.as_bytes());
    for (sb, serial) in [(0x2000usize, 1u64), (sb1, 2)] {
        wr4(&mut d, sb, 0x6819_1122);
        d[sb + 8..sb + 16].copy_from_slice(&serial.to_le_bytes());
        wr4(&mut d, sb + 48, bs as u32);
        wr4(&mut d, sb + 52, 3);
        wr4(&mut d, sb + 60, nblocks);
        tree(&mut d, sb + 72, 72, 3 * 128, &[0]);
        tree(&mut d, sb + 232, 72, bs as u64, &[longname_blk]);
        let crc = badalloc_formats::qnx6::crc32_qnx6(&d[sb + 8..sb + 512]);
        wr4(&mut d, sb + 4, crc);
    }
    d
}

#[test]
fn block_sizes_above_4k_read_from_the_aligned_data_area() {
    let long = "a_library_name_longer_than_the_twenty_seven_bytes_of_an_entry.so";
    for bs in [512usize, 4096, 8192, 16384, 32768] {
        // Three blocks' worth, the last one partly used.
        let file: Vec<u8> = (0..2 * bs as u32 + 1234)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let img = build_qnx6(bs, &file, long);
        assert_eq!(detect(&img), Some(ContainerKind::Qnx6), "bs {bs}");
        let q = Qnx6::open(&img, &Limits::default()).unwrap();
        assert_eq!(q.superblock().blocksize as usize, bs);
        assert_eq!(
            q.superblock().serial,
            2,
            "bs {bs}: the second superblock is active"
        );
        let c = open(&img, ContainerKind::Qnx6, &Limits::default()).unwrap();
        let e = find(c.as_ref(), "libc.so.3").unwrap_or_else(|| panic!("bs {bs}"));
        assert_eq!(c.read(e).unwrap().as_ref(), &file[..], "bs {bs}");
        assert_eq!(
            (e.mode, e.uid, e.gid, e.mtime),
            (0o100750, Some(1000), Some(100), Some(1_660_000_002))
        );
        let l = find(c.as_ref(), long).unwrap_or_else(|| panic!("bs {bs}: long name"));
        assert_eq!(c.read(l).unwrap().as_ref(), &file[..5], "bs {bs}");
    }
}
