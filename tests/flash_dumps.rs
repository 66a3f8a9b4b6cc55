//! Flash file systems in raw dumps (issue 20): an EFS partition behind a boot image in a
//! NOR dump and an ETFS behind a loader and erased blocks in a NAND dump are carved, listed
//! by `ls`, unpacked by `extract --offset` and examined by `scan` (QNX by their format, the
//! C library inside them analysed); what follows a flash file system is carved too; a dump
//! full of flash signatures is carved within its bound.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use badalloc_audit_core::image_cmd;
use badalloc_formats::carve::CutBound;
use badalloc_formats::*;
use badalloc_report::{ImageState, TargetReport, Verdict};
use common::dumps::{nand_dump, noise, nor_dump};
use common::efs_writer;
use common::etfs_writer::{self as etfs_w, Layout, Spare};
use common::ifs_writer;
use common::{listed_images, scan_path, scanned_images};

const EFS_IMAGE: &str = "flash/qnxmount-efs-test_image.bin";
const EFS_TARBALL: &str = "flash/qnxmount-efs-test_image.tar.gz";
const ETFS_IMAGE: &str = "flash/qnxmount-etfs-test_image.bin";
const ETFS_TARBALL: &str = "flash/qnxmount-etfs-test_image.tar.gz";
/// The corpus EFS partition: four units of 128 KiB (the rest of the file is erased).
const EFS_UNIT: usize = 0x20000;
const EFS_UNITS: usize = 4;
/// The corpus ETFS: 1 KiB clusters, 16-byte transactions.
const ETFS_PAGE: usize = 1040;
/// Pages per NAND block in the dumps built here.
const BLOCK_PAGES: usize = 64;

/// A QNX C library with an unchecked calloc (QNX 6.5.0, x86-64).
fn vulnerable_libc() -> Vec<u8> {
    std::fs::read(common::fixture("qnx/x86_64/libc.so.3")).unwrap()
}

/// Our writer's boot image (no C library in it).
fn boot_image() -> Vec<u8> {
    let (nodes, _) = ifs_writer::sample_tree();
    ifs_writer::build(&nodes, &ifs_writer::Opts::default())
}

/// Write `bytes` to `dir/name`; scan it and list it, check that both take `want`
/// (offset, kind, all complete), and that the carver finds them at those offsets.
fn scan_and_list(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    want: &[(u64, &str)],
) -> (PathBuf, TargetReport) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let want: Vec<(u64, String, ImageState)> = want
        .iter()
        .map(|&(o, k)| (o, k.to_string(), ImageState::Complete))
        .collect();
    let t = scan_path(&path);
    assert_eq!(scanned_images(&t), want, "scan of {name}: {:?}", t.errors);
    assert_eq!(listed_images(&path), want, "ls of {name}");
    (path, t)
}

/// `badalloc-audit extract --offset OFFSET PATH DIR`: its exit status.
fn extract_cli(path: &Path, offset: u64, dir: &Path) -> i32 {
    Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["extract", "--offset", &format!("{offset:#x}")])
        .arg(path)
        .arg(dir)
        .output()
        .unwrap()
        .status
        .code()
        .unwrap()
}

/// The target is QNX by the format of an image of `kind` (evidence `image-format`).
fn assert_qnx_by_format(t: &TargetReport, detail_start: &str) {
    assert_eq!(t.os.family.as_deref(), Some("qnx"), "{:?}", t.os);
    assert!(
        t.os.evidence
            .iter()
            .any(|e| e.kind == "image-format" && e.detail.starts_with(detail_start)),
        "{:?}",
        t.os.evidence
    );
}

#[cfg(unix)]
#[test]
fn a_nor_dump_boot_image_then_the_corpus_efs_partition() {
    let (Some(img), Some(tgz)) = (common::corpus(EFS_IMAGE), common::corpus(EFS_TARBALL)) else {
        return;
    };
    let partition = &img[..EFS_UNITS * EFS_UNIT];
    let (dump, at) = nor_dump(&boot_image(), partition, EFS_UNIT);
    assert!(at > 0);
    assert_eq!(
        carve(&dump),
        [(0, ContainerKind::Ifs), (at as u64, ContainerKind::Efs)]
    );
    let dir = tempfile::tempdir().unwrap();
    let (path, t) = scan_and_list(
        dir.path(),
        "nor.bin",
        &dump,
        &[(0, "ifs"), (at as u64, "efs")],
    );
    assert_eq!(t.kind, "raw-dump");
    assert_qnx_by_format(&t, "QNX EFS flash file system");
    // (The writer's boot image holds stand-ins for ELF files: errors there.)
    let prefix = format!("nor.bin@{at:#x}");
    assert!(
        !t.errors.iter().any(|e| e.path.starts_with(&prefix)),
        "{:?}",
        t.errors
    );
    // `ls` lists the partition's every entry, under its mount point, as the reader does.
    let listed = image_cmd::list(&path).unwrap().images;
    let efs = listed
        .iter()
        .find(|i| i.kind == ContainerKind::Efs)
        .unwrap();
    let alone = open(partition, ContainerKind::Efs, &Limits::default()).unwrap();
    assert_eq!(efs.entries, alone.entries());
    assert!(efs.entries.iter().any(|e| e.path == "mnt/test123"));
    // `extract --offset` unpacks the files of the tarball written into it.
    let out = dir.path().join("out");
    assert_eq!(extract_cli(&path, at as u64, &out), 0);
    let tar = open(&tgz, ContainerKind::Gzip, &Limits::default()).unwrap();
    let files = common::tree::assert_extracted_like(tar.as_ref(), &out.join("mnt/test123"));
    assert_eq!(files, 22);
}

#[cfg(unix)]
#[test]
fn a_nand_dump_loader_erased_blocks_then_the_corpus_etfs() {
    let (Some(img), Some(tgz)) = (common::corpus(ETFS_IMAGE), common::corpus(ETFS_TARBALL)) else {
        return;
    };
    let (dump, at) = nand_dump(&img, ETFS_PAGE, BLOCK_PAGES, None);
    assert_eq!(at, 4 * BLOCK_PAGES * ETFS_PAGE);
    assert_eq!(carve(&dump), [(at as u64, ContainerKind::Etfs)]);
    let dir = tempfile::tempdir().unwrap();
    let (path, t) = scan_and_list(dir.path(), "nand.bin", &dump, &[(at as u64, "etfs")]);
    assert_eq!(t.kind, "raw-dump");
    assert_qnx_by_format(&t, "QNX ETFS flash file system");
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    let listed = image_cmd::list(&path).unwrap().images;
    let alone = open(&img, ContainerKind::Etfs, &Limits::default()).unwrap();
    assert_eq!(listed[0].entries, alone.entries());
    let out = dir.path().join("out");
    assert_eq!(extract_cli(&path, at as u64, &out), 0);
    let tar = open(&tgz, ContainerKind::Gzip, &Limits::default()).unwrap();
    assert_eq!(common::tree::assert_extracted_like(tar.as_ref(), &out), 23);
    // Not at the loader, nor in the erased blocks: nothing there to unpack.
    assert_ne!(extract_cli(&path, 0, &dir.path().join("none")), 0);
}

/// An EFS partition (one unit of 256 KiB and a spare) holding `libc` as
/// /fs/flash/lib/libc.so.3.
fn efs_with(libc: &[u8]) -> Vec<u8> {
    efs_writer::sample_with(18, libc).image
}

/// An ETFS in `layout` holding `libc` as lib/libc.so.3, erased pages to a block boundary.
fn etfs_with(layout: Layout, libc: &[u8]) -> Vec<u8> {
    let mut fs = etfs_w::Fs::new(layout);
    let lib = fs.add(0, "lib", etfs_w::DIR, b"");
    fs.add(lib, "libc.so.3", etfs_w::FILE, libc);
    let mut pages = fs.pages(7);
    let n = pages.len().next_multiple_of(BLOCK_PAGES);
    pages.resize_with(n, etfs_w::Page::erased);
    etfs_w::write(layout, &pages)
}

/// A loader block as a NAND driver writes it: code in the data area; in each spare area
/// the good-block mark (0xff 0xff) and ECC bytes, which decode as a "transaction" of some
/// file id and cluster in the driver's spare layout.
fn loader_block(cluster: usize, spare: usize) -> Vec<u8> {
    let mut b = Vec::new();
    for k in 0..BLOCK_PAGES {
        b.extend(noise(cluster, k as u32));
        let mut s = vec![0xffu8; spare];
        s[2..].copy_from_slice(&noise(spare - 2, 1000 + k as u32));
        b.extend(s);
    }
    b
}

#[test]
fn flash_file_systems_holding_a_vulnerable_libc_make_a_dump_affected() {
    let libc = vulnerable_libc();
    let dir = tempfile::tempdir().unwrap();
    // NOR: [boot image][EFS partition with the libc].
    let (dump, at) = nor_dump(&boot_image(), &efs_with(&libc), 1 << 18);
    let (_, t) = scan_and_list(
        dir.path(),
        "nor.bin",
        &dump,
        &[(0, "ifs"), (at as u64, "efs")],
    );
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    let paths: Vec<&str> = t.libc.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(paths, [format!("nor.bin@{at:#x}!/fs/flash/lib/libc.so.3")]);

    // NAND with the driver's spare areas (2 KiB + 64): [loader][erased][ETFS with the libc].
    // The loader's pages decode as transactions in that layout: the file system still
    // starts at its own first block.
    let layout = Layout {
        cluster: 2048,
        spare: Spare::Nand(64),
    };
    let part = etfs_with(layout, &libc);
    let page = 2048 + 64;
    let loader = loader_block(2048, 64);
    let (dump, at) = nand_dump(&part, page, BLOCK_PAGES, Some(&loader));
    let (_, t) = scan_and_list(dir.path(), "nand.bin", &dump, &[(at as u64, "etfs")]);
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    let paths: Vec<&str> = t.libc.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(paths, [format!("nand.bin@{at:#x}!/lib/libc.so.3")]);
    assert!(t.errors.is_empty(), "{:?}", t.errors);

    // The same partitions, each a file of its own, are the same verdict.
    for (name, bytes) in [("efs.img", efs_with(&libc)), ("etfs.img", part)] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(scan_path(&path).verdict, Verdict::Affected, "{name}");
    }
}

#[test]
fn what_follows_a_flash_file_system_is_carved() {
    let libc = vulnerable_libc();
    let boot = boot_image();
    let dir = tempfile::tempdir().unwrap();
    // [EFS][erased][boot image]: the partition claims its units only.
    let efs = efs_with(&libc);
    let mut dump = efs.clone();
    dump.resize(efs.len() + (1 << 18), 0xff);
    let boot_at = dump.len() as u64;
    dump.extend_from_slice(&boot);
    dump.resize(dump.len() + (64 << 10), 0xff);
    let (_, t) = scan_and_list(
        dir.path(),
        "efs-ifs.bin",
        &dump,
        &[(0, "efs"), (boot_at, "ifs")],
    );
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    // [loader][erased][ETFS][erased][boot image][erased][ETFS], on block boundaries: each
    // found, in order.
    let layout = Layout {
        cluster: 1024,
        spare: Spare::Trans,
    };
    let block = 1040 * BLOCK_PAGES;
    let part = etfs_with(layout, &libc);
    let (mut dump, first) = nand_dump(&part, 1040, BLOCK_PAGES, None);
    dump.resize(dump.len() + block, 0xff);
    let boot_at = dump.len() as u64;
    dump.extend_from_slice(&boot);
    dump.resize(dump.len().next_multiple_of(block) + block, 0xff);
    let second = dump.len() as u64;
    dump.extend_from_slice(&part);
    let (_, t) = scan_and_list(
        dir.path(),
        "etfs-ifs-etfs.bin",
        &dump,
        &[(first as u64, "etfs"), (boot_at, "ifs"), (second, "etfs")],
    );
    assert_eq!(t.libc.len(), 2, "{:?}", t.libc);
}

/// The first cluster of an empty file system's file table, as one page of `layout`.
fn table_page(layout: Layout) -> Vec<u8> {
    let fs = etfs_w::Fs::new(layout);
    let table: Vec<u8> = fs.table.iter().flatten().copied().collect();
    let page = etfs_w::Page {
        fid: 1,
        cluster: 0,
        sequence: 1,
        data: table,
        bad_data: false,
        erased: false,
    };
    etfs_w::write(layout, &[page])
}

#[test]
fn flash_signatures_everywhere_are_carved_in_bounded_time() {
    // 16 MiB of bytes 0x03, which decode as erased pages (transaction code 3) at every
    // alignment, with a file table's first cluster (padded with 0x03) every eight pages,
    // each one byte further from a page boundary: each one a file system of its own
    // alignment. Each is walked back and probed as far as its own pages go, once.
    let layout = Layout {
        cluster: 1024,
        spare: Spare::Trans,
    };
    let mut page = table_page(layout);
    page[6 * 64..1024].fill(3);
    let mut dump = vec![3u8; 16 << 20];
    let mut planted = 0;
    for k in 0.. {
        let at = 1 + k * 8 * page.len() + k;
        if at + page.len() > dump.len() {
            break;
        }
        dump[at..at + page.len()].copy_from_slice(&page);
        planted += 1;
    }
    let t = std::time::Instant::now();
    let carved = carve::carve_paged(&dump, &|_| {});
    let took = t.elapsed();
    assert!(took.as_secs() < 10, "{took:?}");
    assert!(carved.cut.is_none());
    assert!(!carved.found.is_empty() && carved.found.len() <= planted);
    assert!(carved.found.iter().all(|&(_, k)| k == ContainerKind::Etfs));

    // An EFS boot info in every 4 KiB, behind a unit info whose unit header is not there:
    // each one is looked for back 64 KiB.
    let unit = efs_with(b"x");
    let mut dump = Vec::new();
    while dump.len() < 16 << 20 {
        dump.extend_from_slice(&unit[..0x400]);
        dump.resize(dump.len() + 0xc00, 0xff);
    }
    let t = std::time::Instant::now();
    let carved = carve::carve_paged(&dump, &|_| {});
    let took = t.elapsed();
    assert!(carved.found.is_empty(), "{:?}", carved.found.len());
    let cut = carved.cut.expect("the work bound is reached");
    assert_eq!(
        (cut.kind, cut.bound),
        (ContainerKind::Efs, CutBound::FlashWork)
    );
    assert!(cut.more > 0 && cut.first > 0, "{cut:?}");
    assert!(took.as_secs() < 10, "{took:?}");
    // The scan says so, and the signatures left keep the verdict open.
    let t = common::scan_bytes("sigs.bin", &dump);
    assert_eq!(t.verdict, Verdict::Inconclusive, "{:?}", t.reasons);
    assert!(
        t.errors.iter().any(|e| e.offset == Some(cut.first)
            && e.message
                .contains("the work of finding flash file systems would pass")),
        "{:?}",
        t.errors
    );
}
