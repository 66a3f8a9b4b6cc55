//! EFS (NOR flash): the qnxmount test image holds exactly the tree of its tar.gz, under its
//! partition's mount point; byte order, alignment, offsets in a dump and hostile chains.

mod common;

use std::collections::BTreeMap;

use badalloc_formats::efs::{self, EfsErrorKind};
use badalloc_formats::*;
use common::tree::{tree, Obj};

const IMAGE: &str = "flash/qnxmount-efs-test_image.bin";
const TARBALL: &str = "flash/qnxmount-efs-test_image.tar.gz";
const MOUNT: &str = "mnt/test123/";
const UNIT: usize = 0x20000;

fn corpus_pair() -> Option<(Vec<u8>, Vec<u8>)> {
    Some((common::corpus(IMAGE)?, common::corpus(TARBALL)?))
}

/// The tarball's tree.
fn tar_tree(tgz: &[u8]) -> BTreeMap<String, Obj> {
    let tar = open(tgz, ContainerKind::Gzip, &Limits::default()).unwrap();
    tree(tar.as_ref(), "", |_| false)
}

/// The image's tree below its mount point.
fn efs_tree(img: &[u8]) -> BTreeMap<String, Obj> {
    let fs = open(img, ContainerKind::Efs, &Limits::default()).unwrap();
    tree(fs.as_ref(), MOUNT, |_| false)
}

#[test]
fn corpus_image_holds_exactly_its_tarball_under_its_mount_point() {
    let Some((img, tgz)) = corpus_pair() else {
        return;
    };
    assert_eq!(detect(&img), Some(ContainerKind::Efs));
    let want = tar_tree(&tgz);
    let got = efs_tree(&img);
    assert_eq!(want.len(), 31, "{:?}", want.keys());
    for (p, w) in &want {
        assert_eq!(got.get(p), Some(w), "{p}");
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    let fs = open(&img, ContainerKind::Efs, &Limits::default()).unwrap();
    // The mount point's directories come first; nothing lies outside it.
    let paths: Vec<&str> = fs.entries().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths[..3], ["", "mnt", "mnt/test123"]);
    assert!(paths[3..].iter().all(|p| p.starts_with(MOUNT)));
    let note = fs
        .notes()
        .iter()
        .find(|n| n.kind == "efs-partition")
        .unwrap();
    assert!(
        note.detail.contains("4 units of 128 KiB (1 spare)"),
        "{note:?}"
    );
    assert!(note.detail.contains("mount point /mnt/test123"), "{note:?}");
    // Removed, renamed and moved files: only their final state is listed (their old
    // directory entries are superseded: by the next entry, or by the new name).
    for gone in [
        "this_file_is_removed",
        "this_file_is_not_renamed",
        "directory_1/this_file_is_moved",
    ] {
        assert!(
            find(fs.as_ref(), &format!("{MOUNT}{gone}")).is_none(),
            "{gone}"
        );
    }
    for here in [
        "this_file_is_renamed",
        "this_file_is_moved",
        "this_file_is_a_copy",
    ] {
        assert!(
            find(fs.as_ref(), &format!("{MOUNT}{here}")).is_some(),
            "{here}"
        );
    }
    let large = find(fs.as_ref(), &format!("{MOUNT}this_file_is_large")).unwrap();
    assert_eq!(large.size, 16384);
    assert!(
        large.flags.contains(&"extents=16".to_string()),
        "{:?}",
        large.flags
    );
}

#[cfg(unix)]
#[test]
fn extracted_corpus_files_have_the_bytes_modes_and_times_of_the_tarball() {
    let Some((img, tgz)) = corpus_pair() else {
        return;
    };
    let fs = open(&img, ContainerKind::Efs, &Limits::default()).unwrap();
    let tar = open(&tgz, ContainerKind::Gzip, &Limits::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let s = extract(fs.as_ref(), tmp.path()).unwrap();
    assert_eq!(s.skipped.len(), 1, "{:?}", s.skipped); // the fifo
    let files = common::tree::assert_extracted_like(tar.as_ref(), &tmp.path().join("mnt/test123"));
    assert_eq!(files, 22);
}

/// The extent headers of the unit at `u` (offset, status, text offset, text size), up to
/// the one marked last.
fn heads(d: &[u8], u: usize) -> Vec<(usize, u32, usize, usize)> {
    let mut v = Vec::new();
    for i in 0..UNIT / 32 {
        let at = u + UNIT - 32 * (i + 1);
        let h = &d[at..at + 32];
        if h.iter().all(|&b| b == 0xff) {
            break;
        }
        let status = u32::from_le_bytes(h[0..4].try_into().unwrap());
        let text = ((h[19] as usize) << 16 | u16::from_le_bytes([h[20], h[21]]) as usize) << 2;
        let size = u16::from_le_bytes([h[22], h[23]]) as usize;
        v.push((at, status, text, size));
        if status & 0x80 != 0 {
            break;
        }
    }
    v
}

fn swap(d: &mut [u8], at: usize, n: usize) {
    d[at..at + n].reverse();
}

/// The corpus image in big-endian byte order: every field the file system defines swapped
/// (unit infos, extent headers, logical-unit and boot infos, directory entries and stats).
fn to_big_endian(img: &[u8]) -> Vec<u8> {
    let mut d = img.to_vec();
    for unit in 0..4 {
        let u = unit * UNIT;
        let hs = heads(img, u);
        let mut texts_done = std::collections::HashSet::new();
        for (i, &(at, status, text, size)) in hs.iter().enumerate() {
            for f in [0, 4, 8] {
                swap(&mut d, at + f, 4);
            }
            for f in [20, 22, 24, 26, 28, 30] {
                swap(&mut d, at + f, 2);
            }
            let t = u + text;
            if size == 0 || !texts_done.insert(t) {
                continue;
            }
            match (i, status & 0x300) {
                (0, _) => {
                    d[t + 2] = b'B';
                    for (f, n) in [(0, 2), (4, 2), (8, 4), (12, 2), (14, 2)] {
                        swap(&mut d, t + f, n);
                    }
                }
                (1, _) => {
                    for (f, n) in [(0, 2), (2, 2), (4, 4)] {
                        swap(&mut d, t + f, n);
                    }
                }
                (2, 0x100) => {
                    for f in [0, 12, 14, 16, 18, 20, 22] {
                        swap(&mut d, t + f, 2);
                    }
                }
                (_, 0x200) => {
                    let name_len = img[t + 3] as usize;
                    let st = t + 8 + name_len.next_multiple_of(4);
                    for (f, n) in [(0, 2), (4, 2), (6, 2)] {
                        swap(&mut d, t + f, n);
                    }
                    for (f, n) in [(0, 2), (2, 2), (4, 4), (8, 4), (12, 4), (16, 4)] {
                        swap(&mut d, st + f, n);
                    }
                }
                _ => {}
            }
        }
    }
    d
}

#[test]
fn big_endian_partitions_read_the_same() {
    let Some((img, _)) = corpus_pair() else {
        return;
    };
    let be = to_big_endian(&img);
    assert_eq!(be[2], b'B');
    assert_eq!(detect(&be), Some(ContainerKind::Efs));
    let fs = open(&be, ContainerKind::Efs, &Limits::default()).unwrap();
    assert!(fs.notes().iter().any(|n| n.detail.contains("big-endian")));
    assert_eq!(efs_tree(&be), efs_tree(&img));
}

/// The corpus image with every text moved to a 64-byte boundary and the boot info's
/// alignment power set to 6, as seen in vehicles.
fn with_alignment_64(img: &[u8]) -> Vec<u8> {
    let mut d = img.to_vec();
    for unit in 0..4 {
        let u = unit * UNIT;
        let hs = heads(img, u);
        let mut moved: BTreeMap<usize, usize> = BTreeMap::new(); // old text -> new
        let mut cursor = 0usize;
        d[u..u + UNIT - 32 * hs.len()].fill(0xff);
        for &(at, _, text, size) in &hs {
            let new = *moved.entry(text).or_insert_with(|| {
                let n = if text == 0 {
                    0
                } else {
                    cursor.next_multiple_of(64)
                };
                cursor = n + size.max(1);
                n
            });
            d[u + new..u + new + size].copy_from_slice(&img[u + text..u + text + size]);
            let raw = new >> 6;
            d[at + 19] = (raw >> 16) as u8;
            d[at + 20..at + 22].copy_from_slice(&(raw as u16).to_le_bytes());
        }
        assert!(cursor < UNIT - 32 * hs.len(), "unit {unit} overflows");
    }
    // The boot info: text of header 2 of unit 0; align_pow2 at +18.
    let b = d.windows(8).position(|w| w == efs::SIGNATURE).unwrap() - 4;
    assert_eq!(b % 64, 0);
    d[b + 18..b + 20].copy_from_slice(&6u16.to_le_bytes());
    d
}

#[test]
fn texts_aligned_to_64_bytes_read_the_same() {
    let Some((img, _)) = corpus_pair() else {
        return;
    };
    let d = with_alignment_64(&img);
    assert_ne!(d, img);
    let fs = open(&d, ContainerKind::Efs, &Limits::default()).unwrap();
    let note = fs
        .notes()
        .iter()
        .find(|n| n.kind == "efs-partition")
        .unwrap();
    assert!(note.detail.contains("text alignment 64 bytes"), "{note:?}");
    assert_eq!(efs_tree(&d), efs_tree(&img));
}

/// A NOR dump: a boot image in the first two units, the corpus partition (its four units)
/// at 0x40000, erased flash after it.
fn nor_dump(img: &[u8]) -> Vec<u8> {
    let (nodes, _) = common::ifs_writer::sample_tree();
    let boot = common::ifs_writer::build(&nodes, &common::ifs_writer::Opts::default());
    assert!(boot.len() <= 2 * UNIT);
    let (d, at) = common::dumps::nor_dump(&boot, &img[..4 * UNIT], 2 * UNIT);
    assert_eq!(at, 2 * UNIT);
    d
}

#[test]
fn probe_finds_the_partition_behind_a_boot_image_in_a_nor_dump() {
    let Some((img, _)) = corpus_pair() else {
        return;
    };
    let dump = nor_dump(&img);
    let sig = dump.windows(8).position(|w| w == efs::SIGNATURE).unwrap();
    assert_eq!(efs::partition_start(&dump, sig), Some(2 * UNIT));
    assert_eq!(efs::probe(&dump, 2 * UNIT), Some(4 * UNIT as u64));
    // Not at the boot image, not at the partition's second unit, not in erased flash.
    for off in [0, 3 * UNIT, 6 * UNIT, 7 * UNIT] {
        assert_eq!(efs::probe(&dump, off), None, "{off:#x}");
    }
    assert_ne!(detect(&dump), Some(ContainerKind::Efs));
    let part = &dump[2 * UNIT..];
    assert_eq!(detect(part), Some(ContainerKind::Efs));
    assert_eq!(efs_tree(part), efs_tree(&img));
}

/// Offset of the extent header `index` of physical unit `unit`.
fn head_at(unit: usize, index: usize) -> usize {
    unit * UNIT + UNIT - 32 * (index + 1)
}

#[test]
fn chains_that_loop_are_errors_with_their_offset() {
    let Some((img, _)) = corpus_pair() else {
        return;
    };
    // The root's first entry (unit 1, header 3: this_file_is_small) superseded by the
    // header that is superseded by it.
    let mut d = img.clone();
    let h = head_at(1, 3);
    d[h] &= !0x04; // clear "no supersede"
    d[h + 28..h + 32].copy_from_slice(&[1, 0, 4, 0]); // super = (1, 4)
    let fs = open(&d, ContainerKind::Efs, &Limits::default()).unwrap();
    let e = fs.notes().iter().find(|n| n.kind == "error").unwrap();
    assert!(e.detail.contains("loops"), "{e:?}");
    assert!(e.offset.is_some(), "{e:?}");
    assert_eq!(fs.entries().len(), 3, "only the mount point is listed");

    // The last data extent of this_file_is_large (unit 1, header 22) points back at the
    // first (header 7): the file is flagged, reading it is an error at a header.
    let mut d = img.clone();
    let h = head_at(1, 22);
    d[h] &= !0x02; // clear "no next"
    d[h + 24..h + 28].copy_from_slice(&[2, 0, 7, 0]);
    let fs = open(&d, ContainerKind::Efs, &Limits::default()).unwrap();
    let large = find(fs.as_ref(), &format!("{MOUNT}this_file_is_large")).unwrap();
    assert!(large.flags.contains(&"bad-extents".to_string()));
    let err = fs.read(large).unwrap_err();
    assert!(err.message.contains("loops"), "{err}");
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    let at = err.offset.unwrap() as usize;
    assert!((UNIT..2 * UNIT).contains(&at), "{at:#x}");
    // The other files are whole.
    let small = find(fs.as_ref(), &format!("{MOUNT}this_file_is_small")).unwrap();
    assert_eq!(fs.read(small).unwrap().len(), 16);
}

#[test]
fn broken_partitions_are_refused_with_an_offset_and_a_kind() {
    let Some((img, _)) = corpus_pair() else {
        return;
    };
    // The signature of the boot info gone: no boot info reachable.
    let mut d = img.clone();
    let b = d.windows(8).position(|w| w == efs::SIGNATURE).unwrap();
    d[b] = b'X';
    assert_eq!(detect(&d), None);
    let err = efs::Efs::open(&d, &Limits::default()).err().unwrap();
    assert_eq!((err.offset, err.kind), (0, EfsErrorKind::NoBootInfo));
    // A unit size out of range: no unit info.
    let mut d = img.clone();
    d[4] = 40;
    let err = efs::Efs::open(&d, &Limits::default()).err().unwrap();
    assert_eq!(err.kind, EfsErrorKind::NoUnitInfo);
    // Truncated to its first unit: logical unit 2 (the tree) is nowhere.
    let fs = open(&img[..UNIT], ContainerKind::Efs, &Limits::default()).unwrap();
    let notes: Vec<String> = fs
        .notes()
        .iter()
        .map(|n| format!("{}: {}", n.kind, n.detail))
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("truncated")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("logical unit 2")),
        "{notes:?}"
    );
}

#[test]
fn deflated_files_are_flagged() {
    let Some((img, _)) = corpus_pair() else {
        return;
    };
    let fs = open(&img, ContainerKind::Efs, &Limits::default()).unwrap();
    let small = find(fs.as_ref(), &format!("{MOUNT}this_file_is_small")).unwrap();
    let data = fs.read(small).unwrap();
    let at = img.windows(16).position(|w| w == data.as_ref()).unwrap();
    let mut d = img.clone();
    d[at..at + 8].copy_from_slice(b"iwlyfmbp");
    let fs = open(&d, ContainerKind::Efs, &Limits::default()).unwrap();
    let small = find(fs.as_ref(), &format!("{MOUNT}this_file_is_small")).unwrap();
    assert!(
        small.flags.contains(&"deflated".to_string()),
        "{:?}",
        small.flags
    );
}

#[test]
fn efs_mutations_never_panic_and_stay_bounded() {
    let Some((img, _)) = corpus_pair() else {
        return;
    };
    let img = &img[..4 * UNIT];
    let lim = Limits {
        max_expanded: 1 << 20,
        max_entries: 10_000,
    };
    let mut x: u64 = 20;
    for round in 0..300 {
        let mut d = img.to_vec();
        for _ in 0..16 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Mostly the headers at the end of units 0 and 1 and the texts at their start.
            let unit = (x >> 60) as usize & 1;
            let i = match x & 3 {
                0 => unit * UNIT + (x >> 33) as usize % 0x7400,
                1 | 2 => (unit + 1) * UNIT - 1 - (x >> 33) as usize % 0x1000,
                _ => (x >> 33) as usize % d.len(),
            };
            d[i] = (x >> 20) as u8;
        }
        let t = std::time::Instant::now();
        if let Ok(c) = open(&d, ContainerKind::Efs, &lim) {
            assert!(c.entries().len() <= lim.max_entries);
            for e in c.entries() {
                if let Ok(b) = c.read(e) {
                    assert!(b.len() as u64 <= lim.max_expanded);
                }
            }
        }
        assert!(
            t.elapsed().as_secs() < 5,
            "round {round} took {:?}",
            t.elapsed()
        );
    }
}

#[test]
fn built_partitions_read_back() {
    for pow2 in [12u8, 16, 17] {
        let b = common::efs_writer::sample(pow2);
        assert_eq!(detect(&b.image), Some(ContainerKind::Efs), "2^{pow2}");
        let fs = open(&b.image, ContainerKind::Efs, &Limits::default()).unwrap();
        let libc = find(fs.as_ref(), "fs/flash/lib/libc.so.3").unwrap();
        let d = fs.read(libc).unwrap();
        assert_eq!((d.len(), &d[..4]), (3004, &b"\x7fELF"[..]));
        assert!(
            libc.flags.contains(&"extents=3".to_string()),
            "{:?}",
            libc.flags
        );
        let l = find(fs.as_ref(), "fs/flash/lib/libc.so").unwrap();
        assert_eq!(l.link_target.as_deref(), Some("libc.so.3"));
        assert_eq!(find(fs.as_ref(), "fs/flash/empty").unwrap().size, 0);
        assert!(
            fs.notes().iter().all(|n| n.kind == "efs-partition"),
            "{:?}",
            fs.notes()
        );
    }
}

/// `efs::MAX_EXTENT_STEPS` bounds the extents followed while opening a partition: 2 049
/// files whose entries all start the same chain of 2 049 extents would take 4.2 million
/// steps; the listing stops at the bound with an error located at a header.
#[test]
fn extent_steps_per_partition_are_bounded() {
    use common::efs_writer::{build, Item};
    const N: usize = 2049;
    let data = vec![0x5au8; N];
    let names: Vec<String> = (0..N).map(|i| format!("f{i}")).collect();
    let mut items = vec![Item {
        parent: None,
        name: "chain",
        mode: 0o100644,
        data: &data,
    }];
    for n in &names {
        items.push(Item {
            parent: None,
            name: n,
            mode: 0o100644,
            data: b"",
        });
    }
    let b = build(20, "", &items, 1);
    let mut img = b.image;
    // Every empty file's entry starts the long chain.
    for t in &b.dirent_text[1..] {
        img[t + 6..t + 8].copy_from_slice(&b.first_data[0].to_le_bytes());
    }
    assert!(N * N > efs::MAX_EXTENT_STEPS as usize);
    let t = std::time::Instant::now();
    let fs = open(&img, ContainerKind::Efs, &Limits::default()).unwrap();
    let e = fs
        .notes()
        .iter()
        .find(|n| n.kind == "error" && n.detail.contains("EFS extents followed"))
        .unwrap_or_else(|| panic!("{:?}", &fs.notes()[..3]));
    assert!(e.offset.is_some());
    assert!(fs.entries().len() < N, "{}", fs.entries().len());
    assert!(t.elapsed().as_secs() < 60, "{:?}", t.elapsed());
    // The chain itself reads whole.
    let chain = find(fs.as_ref(), "chain").unwrap();
    assert_eq!(fs.read(chain).unwrap().as_ref(), &data[..]);
}
