//! ETFS (NAND flash): the qnxmount test image holds exactly the tree of its tar.gz; page
//! layouts found from the data; the newest version of a cluster wins; missing clusters,
//! bad data and orphans; offsets in a NAND dump; hostile input.

mod common;

use std::collections::BTreeMap;

use badalloc_formats::etfs::{self, EtfsErrorKind};
use badalloc_formats::*;
use common::etfs_writer::{self as w, Layout, Spare};
use common::tree::{tree, Obj};

const IMAGE: &str = "flash/qnxmount-etfs-test_image.bin";
const TARBALL: &str = "flash/qnxmount-etfs-test_image.tar.gz";

fn corpus_pair() -> Option<(Vec<u8>, Vec<u8>)> {
    Some((common::corpus(IMAGE)?, common::corpus(TARBALL)?))
}

/// The file system's own entries, listed but not in the tarball.
const OWN: [&str; 5] = [
    ".filetable",
    ".badblks",
    ".counts",
    ".lost+found",
    ".reserved",
];

fn etfs_tree(img: &[u8]) -> BTreeMap<String, Obj> {
    let fs = open(img, ContainerKind::Etfs, &Limits::default()).unwrap();
    tree(fs.as_ref(), "", |e| OWN.contains(&e.path.as_str()))
}

#[test]
fn corpus_image_holds_exactly_its_tarball() {
    let Some((img, tgz)) = corpus_pair() else {
        return;
    };
    assert_eq!(detect(&img), Some(ContainerKind::Etfs));
    let tar = open(&tgz, ContainerKind::Gzip, &Limits::default()).unwrap();
    let want = tree(tar.as_ref(), "", |_| false);
    let got = etfs_tree(&img);
    assert_eq!(want.len(), 32, "{:?}", want.keys());
    for (p, w) in &want {
        assert_eq!(got.get(p), Some(w), "{p}");
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    let fs = open(&img, ContainerKind::Etfs, &Limits::default()).unwrap();
    let layout = fs.notes().iter().find(|n| n.kind == "etfs-layout").unwrap();
    assert!(
        layout.detail.contains("960 pages of 1024 + 16 bytes"),
        "{layout:?}"
    );
    // The file system's own files are listed, flagged (all but the directory), readable.
    for name in OWN {
        let e = find(fs.as_ref(), name).unwrap_or_else(|| panic!("{name}"));
        let flagged = e.flags.iter().any(|f| f == FS_METADATA_FLAG);
        assert_eq!(flagged, name != ".lost+found", "{name}");
    }
    assert_eq!(
        fs.read(find(fs.as_ref(), ".counts").unwrap())
            .unwrap()
            .len(),
        40
    );
    assert_eq!(
        fs.read(find(fs.as_ref(), ".filetable").unwrap())
            .unwrap()
            .len(),
        3072
    );
    // Names of exactly 32 bytes fill the short field without a terminator.
    assert!(find(fs.as_ref(), "this_file_is_32_characters_long_").is_some());
    // Renamed and moved files appear under their final names only; the removed file's
    // entry was reused by the copy.
    for gone in [
        "this_file_is_removed",
        "this_file_is_not_renamed",
        "directory_1/this_file_is_moved",
    ] {
        assert!(find(fs.as_ref(), gone).is_none(), "{gone}");
    }
}

#[cfg(unix)]
#[test]
fn extracted_corpus_files_have_the_bytes_modes_and_times_of_the_tarball() {
    let Some((img, tgz)) = corpus_pair() else {
        return;
    };
    let fs = open(&img, ContainerKind::Etfs, &Limits::default()).unwrap();
    let tar = open(&tgz, ContainerKind::Gzip, &Limits::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let s = extract(fs.as_ref(), tmp.path()).unwrap();
    assert_eq!(s.skipped.len(), 1, "{:?}", s.skipped); // the fifo
    let files = common::tree::assert_extracted_like(tar.as_ref(), tmp.path());
    assert_eq!(files, 23);
}

/// Every layout the reader knows, built by the test writer.
const LAYOUTS: [Layout; 6] = [
    Layout {
        cluster: 512,
        spare: Spare::Trans,
    },
    Layout {
        cluster: 1024,
        spare: Spare::Trans,
    },
    Layout {
        cluster: 2048,
        spare: Spare::Trans,
    },
    Layout {
        cluster: 4096,
        spare: Spare::Trans,
    },
    Layout {
        cluster: 2048,
        spare: Spare::Nand(64),
    },
    Layout {
        cluster: 4096,
        spare: Spare::Nand(128),
    },
];

#[test]
fn cluster_and_spare_sizes_are_found_from_the_data() {
    let long = "a_library_with_a_name_longer_than_thirty_two_bytes.so.1";
    for layout in LAYOUTS {
        let mut fs = w::sample(layout);
        let mut pages = fs.pages(1);
        // Erased pages after the data, as on a real partition.
        pages.extend((0..40).map(|_| w::Page::erased()));
        let img = w::write(layout, &pages);
        assert_eq!(detect(&img), Some(ContainerKind::Etfs), "{layout:?}");
        let c = open(&img, ContainerKind::Etfs, &Limits::default()).unwrap();
        let note = &c.notes()[0].detail;
        let spare = match layout.spare {
            Spare::Trans => 16,
            Spare::Nand(n) => n,
        };
        assert!(
            note.contains(&format!("of {} + {spare} bytes", layout.cluster)),
            "{layout:?}: {note}"
        );
        let libc = find(c.as_ref(), "libc.so.3").unwrap();
        assert_eq!(libc.size as usize, layout.cluster * 7 / 2);
        assert_eq!(
            c.read(libc).unwrap().as_ref(),
            &fs.data[0].1[..],
            "{layout:?}"
        );
        let l = find(c.as_ref(), &format!("lib/{long}")).expect("extension entry name");
        assert_eq!(c.read(l).unwrap().as_ref(), b"hello, flash\n");
        assert_eq!(
            find(c.as_ref(), "libc.so").unwrap().link_target.as_deref(),
            Some("libc.so.3")
        );
        assert_eq!(
            (libc.uid, libc.gid, libc.mtime),
            (Some(1000), Some(100), Some(1_700_000_001))
        );
        assert!(
            c.notes()
                .iter()
                .all(|n| n.kind != "error" && n.kind != "warning"),
            "{:?}",
            c.notes()
        );
    }
}

#[test]
fn the_newest_version_of_a_cluster_wins() {
    let layout = LAYOUTS[1];
    let mut fs = w::sample(layout);
    let mut pages = fs.pages(7);
    let libc = pages
        .iter()
        .position(|p| p.fid == 6 && p.cluster == 1)
        .unwrap();
    // An older version (lower sequence) written after the newer one, physically.
    let mut old = pages[libc].clone();
    old.sequence = 6;
    old.data = vec![0xAA; layout.cluster];
    pages.push(old);
    // An equal sequence later in the block is the newer write.
    let mut newer = pages[libc].clone();
    newer.data = vec![0xBB; layout.cluster];
    pages.push(newer);
    // A newer file table listing a new name for libc.so.3 (a rename).
    let mut renamed = fs.table.clone();
    renamed[6] = w::file_entry(
        0,
        0,
        w::FILE,
        (layout.cluster * 7 / 2) as u32,
        b"libc.so.3.renamed",
    );
    let table: Vec<u8> = renamed.iter().flatten().copied().collect();
    pages.push(w::Page {
        fid: 1,
        cluster: 0,
        sequence: 8,
        data: table[..table.len().min(layout.cluster)].to_vec(),
        bad_data: false,
        erased: false,
    });
    let img = w::write(layout, &pages);
    let c = open(&img, ContainerKind::Etfs, &Limits::default()).unwrap();
    assert!(find(c.as_ref(), "libc.so.3").is_none());
    let e = find(c.as_ref(), "libc.so.3.renamed").unwrap();
    let d = c.read(e).unwrap();
    assert_eq!(&d[..layout.cluster], &fs.data[0].1[..layout.cluster]);
    assert!(d[layout.cluster..2 * layout.cluster]
        .iter()
        .all(|&b| b == 0xBB));
    assert_eq!(
        &d[2 * layout.cluster..],
        &fs.data[0].1[2 * layout.cluster..]
    );
}

#[test]
fn missing_clusters_and_bad_data_are_errors_with_their_offset() {
    let layout = LAYOUTS[2];
    let mut fs = w::sample(layout);
    let mut pages = fs.pages(1);
    pages.retain(|p| !(p.fid == 6 && p.cluster == 2));
    let img = w::write(layout, &pages);
    let c = open(&img, ContainerKind::Etfs, &Limits::default()).unwrap();
    let libc = find(c.as_ref(), "libc.so.3").unwrap();
    assert!(
        libc.flags.contains(&"missing-clusters=1".to_string()),
        "{:?}",
        libc.flags
    );
    let err = c.read(libc).unwrap_err();
    assert!(
        err.message.contains("cluster 2 of file id 6 is missing"),
        "{err}"
    );
    // Located at the file's entry in the file table (page 0, entry 6).
    assert_eq!(err.offset, Some(6 * 64));
    let typed = etfs::Etfs::open(&img, &Limits::default()).unwrap();
    let e = typed
        .entries()
        .iter()
        .find(|e| e.path == "libc.so.3")
        .unwrap();
    assert!(typed.read(e).is_err());

    // The newest version failed its data check: an error at that page, even though an
    // older good version exists.
    let mut pages = fs.pages(1);
    let mut bad = pages
        .iter()
        .find(|p| p.fid == 6 && p.cluster == 0)
        .unwrap()
        .clone();
    bad.sequence = 2;
    bad.bad_data = true;
    pages.push(bad);
    let page_at = (pages.len() - 1) * (layout.cluster + 16);
    let img = w::write(layout, &pages);
    let c = open(&img, ContainerKind::Etfs, &Limits::default()).unwrap();
    let err = c.read(find(c.as_ref(), "libc.so.3").unwrap()).unwrap_err();
    assert!(err.message.contains("failed its data check"), "{err}");
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    assert_eq!(err.offset, Some(page_at as u64));
}

#[test]
fn entries_whose_parent_does_not_lead_to_the_root_are_recovered() {
    let layout = LAYOUTS[0];
    let mut fs = w::sample(layout);
    let lost = fs.add(
        300,
        "lost.bin",
        w::FILE,
        b"data of a file whose parent is gone",
    );
    let img = w::write(layout, &fs.pages(1));
    let c = open(&img, ContainerKind::Etfs, &Limits::default()).unwrap();
    let e = find(c.as_ref(), &format!("recovered_files/{lost}-lost.bin")).unwrap();
    assert!(e.flags.contains(&"orphan".to_string()));
    assert_eq!(
        c.read(e).unwrap().as_ref(),
        b"data of a file whose parent is gone"
    );
    assert!(c
        .notes()
        .iter()
        .any(|n| n.kind == "warning" && n.detail.contains("parent 300")));
}

/// A NAND dump: a loader block (not ETFS: random data and spare), erased blocks, then the
/// ETFS image, each block `block` pages.
fn nand_dump(etfs: &[u8], page: usize, block: usize) -> (Vec<u8>, usize) {
    common::dumps::nand_dump(etfs, page, block, None)
}

#[test]
fn probe_finds_etfs_behind_a_loader_and_erased_blocks() {
    let Some((img, _)) = corpus_pair() else {
        return;
    };
    let (dump, at) = nand_dump(&img, 1040, 64);
    // It claims its pages up to the last holding a transaction (page 431; erased after).
    assert_eq!(etfs::probe(&dump, at), Some(432 * 1040));
    for off in [0, 64 * 1040, 2 * 64 * 1040] {
        assert_eq!(etfs::probe(&dump, off), None, "{off:#x}");
    }
    assert_eq!(detect(&dump), None);
    assert_eq!(etfs_tree(&dump[at..]), etfs_tree(&img));
    // A raw NAND dump with driver spare areas (2 KiB + 64): the same.
    let layout = LAYOUTS[4];
    let mut fs = w::sample(layout);
    let mut pages = fs.pages(1);
    pages.extend((0..20).map(|_| w::Page::erased()));
    let used = pages.len() - 20;
    let part = w::write(layout, &pages);
    let (dump, at) = nand_dump(&part, 2112, 64);
    assert_eq!(etfs::probe(&dump, at), Some((used * 2112) as u64));
    assert_eq!(etfs::probe(&dump, 0), None);
    assert_eq!(etfs::probe(&dump, 64 * 2112), None);
}

#[test]
fn plain_data_is_not_etfs() {
    let mut x: u32 = 7;
    let noise: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    for d in [vec![0u8; 1 << 20], vec![0xff; 1 << 20], noise] {
        assert_eq!(detect(&d), None);
        let err = etfs::Etfs::open(&d, &Limits::default()).err().unwrap();
        assert_eq!((err.offset, err.kind), (0, EtfsErrorKind::NoLayout));
    }
}

#[test]
fn the_scan_does_not_examine_the_file_systems_own_files() {
    let elf = std::fs::read(common::fixture("qnx/x86_64/libc.so.3")).unwrap();
    let layout = LAYOUTS[2];
    let mut fs = w::sample(layout);
    // The same ELF as .counts (bookkeeping) and as a regular file.
    fs.data.push((3, elf.clone()));
    fs.set_size(3, elf.len() as u32);
    fs.add(0, "libc.so.3.copy", w::FILE, &elf);
    let img = w::write(layout, &fs.pages(1));
    let r = common::scan_bytes("nand.img", &img);
    assert_eq!(r.kind, "etfs");
    let paths: Vec<&str> = r.libc.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(paths, ["nand.img!/libc.so.3.copy"], "{:?}", r.libc);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
}

#[test]
fn etfs_mutations_never_panic_and_stay_bounded() {
    let Some((img, _)) = corpus_pair() else {
        return;
    };
    let lim = Limits {
        max_expanded: 1 << 20,
        max_entries: 10_000,
    };
    // Pages holding transactions: 0 and 320..432.
    let mut x: u64 = 21;
    for round in 0..200 {
        let mut d = img.clone();
        for _ in 0..16 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let page = match x & 3 {
                0 => 0,
                _ => 320 + (x >> 40) as usize % 112,
            };
            let i = page * 1040 + (x >> 20) as usize % 1040;
            d[i] = (x >> 12) as u8;
        }
        let t = std::time::Instant::now();
        if let Ok(c) = open(&d, ContainerKind::Etfs, &lim) {
            for e in c.entries() {
                if let Ok(b) = c.read(e) {
                    assert!(b.len() as u64 <= lim.max_expanded);
                }
            }
        }
        assert!(t.elapsed().as_secs() < 5, "round {round}");
    }
}
