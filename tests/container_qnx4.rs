//! QNX4: the openqnx file system image.

mod common;

use badalloc_audit::container::*;

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
    let (mut failed, mut listed, mut unreadable) = (0, 0, 0);
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
        let opened = open(&d, ContainerKind::Qnx4, &lim);
        match opened {
            Err(e) => {
                assert!(!e.message.is_empty());
                assert!(e.offset.is_none_or(|o| o <= d.len() as u64), "{e}");
                failed += 1;
            }
            Ok(c) => {
                listed += c.entries().len();
                for e in c.entries() {
                    assert!(!e.path.is_empty() || e.entry_type == EntryType::Dir);
                    match c.read(e) {
                        // A file reads as its size, and never more than the limit.
                        Ok(b) if e.entry_type == EntryType::File => {
                            assert!(b.len() as u64 <= lim.max_expanded);
                            assert_eq!(b.len() as u64, e.size, "{}", e.path);
                        }
                        Ok(_) => {}
                        Err(err) => {
                            assert!(!err.message.is_empty());
                            unreadable += 1;
                        }
                    }
                }
            }
        };
    }
    // Most mutants still open and list entries, so the checks above ran; some fail.
    eprintln!("{failed} mutants refused, {listed} entries listed, {unreadable} unreadable");
    assert!(listed > 1000, "{listed} entries listed");
    assert!(
        failed + unreadable > 0,
        "no mutant was refused or unreadable"
    );
}
