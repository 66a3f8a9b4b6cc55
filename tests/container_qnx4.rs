//! QNX4: the openqnx file system image.

mod common;

use badalloc_formats::*;

#[test]
fn openqnx_qnx4fs_tree_and_boot_image() {
    let Some(d) = common::corpus("qnx/openqnx-qnx4fs.img") else {
        return;
    };
    assert_eq!(detect(&d), Some(ContainerKind::Qnx4));
    let c = open(&d, ContainerKind::Qnx4, &Limits::default()).unwrap();
    let names: Vec<&str> = c.entries().iter().map(|e| e.path.as_str()).collect();
    for n in [
        "",
        ".bitmap",
        ".inodes",
        ".boot",
        ".altboot",
        "lost+found",
        ".diskroot",
        ".longfilenames",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let root = find(c.as_ref(), "").unwrap();
    assert_eq!(root.entry_type, EntryType::Dir);
    assert_eq!(
        find(c.as_ref(), "lost+found").unwrap().entry_type,
        EntryType::Dir
    );
    let bitmap = find(c.as_ref(), ".bitmap").unwrap();
    assert_eq!(bitmap.size, 256);
    assert_eq!(c.read(bitmap).unwrap().len(), 256);
    assert_eq!(
        c.read(find(c.as_ref(), ".inodes").unwrap()).unwrap().len(),
        8192
    );
    assert_eq!(
        c.read(find(c.as_ref(), ".altboot").unwrap()).unwrap().len(),
        0
    );
    // .boot is itself an IFS: the same openqnx boot image.
    let boot = c.read(find(c.as_ref(), ".boot").unwrap()).unwrap();
    assert_eq!(boot.len(), 1354012);
    assert_eq!(detect(&boot), Some(ContainerKind::Ifs));
    let ifs = open(&boot, ContainerKind::Ifs, &Limits::default()).unwrap();
    let libc = find(ifs.as_ref(), "proc/boot/libc.so.3").unwrap();
    assert_eq!(
        common::sha256_hex(&ifs.read(libc).unwrap()),
        "d94d70ee8be9d5098026cdabc2e1732448a83f693be6dfb2cf48cc0540d58810"
    );
    let lst = listing(c.as_ref());
    assert!(lst
        .iter()
        .any(|l| l.starts_with('d') && l.contains("lost+found [extents=1,extent=0x3600+0x2000]")));
    let boot_e = find(c.as_ref(), ".boot").unwrap();
    assert!(boot_e.flags.contains(&"extent=0x5600+0x14aa00".to_string()));
}

#[test]
fn qnx4_mutations_never_panic() {
    let Some(img) = common::corpus("qnx/openqnx-qnx4fs.img") else {
        return;
    };
    let lim = Limits {
        max_expanded: 4 << 20,
        ..Limits::default()
    };
    let mut x: u64 = 3;
    let mut tally = common::mutants::MutantTally::default();
    for _ in 0..300 {
        let mut d = img.clone();
        for _ in 0..12 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = if x & 1 == 0 {
                0x200 + (x >> 33) as usize % 0x1000
            } else {
                (x >> 33) as usize % 0x8000
            };
            d[i] = (x >> 20) as u8;
        }
        tally.check(&d, ContainerKind::Qnx4, &lim);
    }
    tally.assert_both_seen();
}

/// The corpus image with a link entry in the root's free slot at 0x880, pointing at the
/// `.diskroot` inode (block 5, index 0), named `name` (the first 48 bytes), its long-name
/// record in the unused block at 0x1800 (block 13) holding `record`.
fn with_long_name_link(d: &[u8], name: &str, record: &[u8]) -> Vec<u8> {
    let mut d = d.to_vec();
    let slot = 0x880;
    assert!(d[slot..slot + 64].iter().all(|&b| b == 0), "slot in use");
    assert!(d[0x1800..0x1a00].iter().all(|&b| b == 0), "block in use");
    let short = &name.as_bytes()[..name.len().min(48)];
    d[slot..slot + short.len()].copy_from_slice(short);
    d[slot + 48..slot + 52].copy_from_slice(&5u32.to_le_bytes());
    d[slot + 52] = 0;
    d[slot + 53..slot + 57].copy_from_slice(&13u32.to_le_bytes());
    d[slot + 63] = 0x08; // QNX4FS_FILE_LINK
    d[0x1800 + 6..0x1800 + 6 + record.len()].copy_from_slice(record);
    d
}

#[test]
fn names_over_48_bytes_come_from_longfilenames() {
    let Some(orig) = common::corpus("qnx/openqnx-qnx4fs.img") else {
        return;
    };
    let long = "a_file_name_well_past_the_forty_eight_bytes_of_a_qnx4_link_entry.txt";
    assert!(long.len() > 48);
    let d = with_long_name_link(&orig, long, long.as_bytes());
    let c = open(&d, ContainerKind::Qnx4, &Limits::default()).unwrap();
    let e = find(c.as_ref(), long).expect("long name");
    assert_eq!((e.entry_type, e.size), (EntryType::File, 0));
    assert!(find(c.as_ref(), &long[..48]).is_none());
    assert!(c.notes().iter().all(|n| n.kind != "warning"));

    // A record that is not this entry's (another name): the 48-byte name, and a warning
    // located at the record.
    let d = with_long_name_link(
        &orig,
        long,
        b"someone_elses_name_that_is_also_longer_than_48_bytes!",
    );
    let c = open(&d, ContainerKind::Qnx4, &Limits::default()).unwrap();
    assert!(find(c.as_ref(), &long[..48]).is_some());
    let w = c.notes().iter().find(|n| n.kind == "warning").unwrap();
    assert_eq!(w.offset, Some(0x1800), "{w:?}");
    assert!(w.detail.contains("long-name block 13"), "{w:?}");

    // A 48-byte name without a long-name block is just that name.
    let exact = &long[..48];
    let mut d = with_long_name_link(&orig, exact, b"");
    d[0x880 + 53..0x880 + 57].fill(0);
    let c = open(&d, ContainerKind::Qnx4, &Limits::default()).unwrap();
    assert!(find(c.as_ref(), exact).is_some());
}
