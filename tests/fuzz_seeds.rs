//! Writes the seed corpora of the fuzz targets (`fuzz/run.sh` calls this): small images of
//! every format built from the fixtures, so the fuzzer starts from valid structure.
//!
//! `FUZZ_SEEDS_DIR=fuzz/corpus cargo test --test fuzz_seeds -- --ignored`

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use badalloc_calloc::locate_calloc;
use badalloc_elf::ElfFile;
use badalloc_formats::{self as container, carve, lzo, ucl, ContainerKind, Limits};
use common::etfs_writer;
use common::fuzz_tree;
use common::ifs_writer::{self, Comp, Opts};

fn put(dir: &Path, target: &str, name: &str, data: &[u8]) {
    let d = dir.join(target);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join(name), data).unwrap();
}

fn fixture(rel: &str) -> Vec<u8> {
    fs::read(common::fixture(rel)).unwrap()
}

/// The first `n` bytes of a fixture's calloc.
fn calloc_body(elf: &[u8], n: usize) -> Vec<u8> {
    let e = ElfFile::parse(elf).unwrap();
    let s = locate_calloc(&e).unwrap();
    let b = e.bytes_at(s.addr & !1).unwrap();
    b[..b.len().min(n)].to_vec()
}

#[test]
#[ignore = "writes the fuzz seed corpora; run by fuzz/run.sh"]
fn write_fuzz_seeds() {
    let dir = PathBuf::from(std::env::var("FUZZ_SEEDS_DIR").expect("FUZZ_SEEDS_DIR"));
    // ELF: the small QNX fixtures.
    for arch in ["x86_64", "i686", "arm", "aarch64", "powerpc", "mips", "sh4"] {
        for f in ["libc.so.3", "ls", "procnto-smp-instr"] {
            let p = format!("qnx/{arch}/{f}");
            if common::fixture(&p).exists() {
                let d = fixture(&p);
                put(&dir, "elf_parse", &format!("{arch}-{f}"), &d);
                put(&dir, "scan_image", &format!("{arch}-{f}"), &d);
            }
        }
    }
    // calloc: selector byte + the fixtures' own calloc bodies (checked and unchecked).
    let sets: &[(&str, &[&str])] = &[
        ("calloc_x86", &["x86_64", "i686"]),
        ("calloc_arm", &["arm", "thumb2"]),
        ("calloc_aarch64", &["aarch64"]),
        ("calloc_ppc", &["powerpc"]),
        ("calloc_mips", &["mips", "mipsel"]),
        ("calloc_sh", &["sh4"]),
    ];
    for (target, arches) in sets {
        for (i, arch) in arches.iter().enumerate() {
            for v in [
                "unchecked-O2.so",
                "checked_div-O2.so",
                "checked_builtin-O0.so",
            ] {
                let elf = fixture(&format!("calloc/{arch}/{v}"));
                let mut seed = vec![i as u8];
                seed.extend(calloc_body(&elf, 512));
                put(&dir, target, &format!("{arch}-{v}"), &seed);
            }
        }
    }
    // The search for calloc without symbols: selector byte + the stripped programs' code
    // (what follows their program headers).
    let arches = [
        "x86_64", "i686", "arm", "thumb2", "aarch64", "powerpc", "mips", "mipsel", "sh4",
    ];
    for (i, arch) in arches.iter().enumerate() {
        for v in ["unchecked-O2", "checked_div-O0", "unchecked_storeloop-Os"] {
            let data = fixture(&format!("calloc/{arch}/{v}.elf.stripped"));
            let e = ElfFile::parse(&data).unwrap();
            // e_phoff is right after the header in these programs; e_phnum from the header
            let (phoff, phsize, at) = if e.is_64 {
                (64, 56, 0x38)
            } else {
                (52, 32, 0x2c)
            };
            let n = [data[at], data[at + 1]];
            let phnum = if e.endian == badalloc_elf::Endian::Big {
                u16::from_be_bytes(n)
            } else {
                u16::from_le_bytes(n)
            };
            let start = phoff + phsize * usize::from(phnum);
            let mut seed = vec![i as u8];
            seed.extend_from_slice(&data[start.min(data.len())..data.len().min(start + 2048)]);
            put(&dir, "calloc_locate", &format!("{arch}-{v}"), &seed);
        }
    }
    // Raw decompressors.
    for f in ["one", "zeros", "text", "elf"] {
        put(&dir, "ucl", f, &fixture(&format!("compressors/{f}.ucl")));
        put(&dir, "lzo", f, &fixture(&format!("compressors/{f}.lzo")));
    }
    // IFS: a small tree, every compression, both byte orders.
    let elf = fixture("qnx/x86_64/libc.so.3");
    let nodes = vec![
        ifs_writer::dir("proc", 2),
        ifs_writer::dir("proc/boot", 3),
        ifs_writer::file("proc/boot/libc.so.3", 4, &elf),
        ifs_writer::symlink("usr/lib/libc.so", 5, "/proc/boot/libc.so.3"),
        ifs_writer::device("dev/null", 6, 1, 2),
        ifs_writer::file("proc/boot/.script", 7, &ifs_writer::script_bytes()),
    ];
    for (ci, comp) in [
        Comp::None,
        Comp::Zlib,
        Comp::LzoReal,
        Comp::Ucl,
        Comp::UclRuns,
    ]
    .into_iter()
    .enumerate()
    {
        for be in [false, true] {
            let o = Opts {
                comp,
                big_endian: be,
                script_ino: 7,
                block: 0x800,
                ..Opts::default()
            };
            let img = ifs_writer::build(&nodes, &o);
            // A seed is only worth its bytes if it is valid structure.
            let opened = container::open(&img, ContainerKind::Ifs, &Limits::default());
            assert!(
                opened.is_ok_and(|c| c.entries().len() >= nodes.len()),
                "{comp:?} seed does not open"
            );
            let name = format!("{comp:?}-{}", if be { "be" } else { "le" });
            put(&dir, "ifs", &name, &img);
            put(&dir, "scan_image", &format!("ifs-{name}"), &img);
            if comp != Comp::None {
                // ifs_compressed: selector, imagefs_size, stored imagefs.
                let fs = ifs_writer::build_imagefs(&nodes, &o);
                let stored = ifs_writer::compress(&fs, comp, 0x800);
                let sel = [0u8, 0, 1, 2, 2][ci] | if be { 0x80 } else { 0 };
                let mut seed = vec![sel];
                seed.extend((fs.len() as u32).to_le_bytes());
                seed.extend(stored);
                put(&dir, "ifs_compressed", &name, &seed);
            }
        }
    }
    let bare = ifs_writer::build(
        &nodes,
        &Opts {
            startup: false,
            ..Opts::default()
        },
    );
    put(&dir, "ifs", "bare", &bare);
    // tar, gzip, tar.gz.
    let t = common::tar(&[("bin/ls", &fixture("qnx/arm/ls")), ("etc/motd", b"hi\n")]);
    let listed =
        container::open(&t, ContainerKind::Tar, &Limits::default()).map(|c| c.entries().len());
    assert_eq!(listed.ok(), Some(2));
    put(&dir, "tar", "small.tar", &t);
    put(&dir, "gzip", "small.tar.gz", &common::gzip(&t));
    put(&dir, "gzip", "plain.gz", &common::gzip(b"hello"));
    put(&dir, "scan_image", "small.tar.gz", &common::gzip(&t));
    // carve: a boot image inside noise.
    let mut blob: Vec<u8> = (0..70_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    blob.splice(4096..4096, ifs_writer::build(&nodes, &Opts::default()));
    put(&dir, "carve", "ifs-in-noise", &blob);
    // carve: flash dumps. NOR: a boot image, then an EFS partition of 4 KiB units; NAND: a
    // loader block, erased blocks, then an ETFS (512 + 16 and 2048 + 64 byte pages).
    let boot = ifs_writer::build(&nodes, &Opts::default());
    let (nor, at) = common::dumps::nor_dump(&boot, &common::efs_writer::sample(12).image, 0x1000);
    assert_eq!(
        carve(&nor),
        [(0, ContainerKind::Ifs), (at as u64, ContainerKind::Efs)]
    );
    put(&dir, "carve", "nor-ifs-efs", &nor);
    for (cluster, spare, page) in [
        (512, etfs_writer::Spare::Trans, 528),
        (2048, etfs_writer::Spare::Nand(64), 2112),
    ] {
        let layout = etfs_writer::Layout { cluster, spare };
        let img = etfs_writer::write(layout, &etfs_writer::sample(layout).pages(1));
        let (nand, at) = common::dumps::nand_dump(&img, page, 4, None);
        assert_eq!(carve(&nand), [(at as u64, ContainerKind::Etfs)]);
        put(&dir, "carve", &format!("nand-etfs-{cluster}"), &nand);
    }
    // Raw decompressor output streams as built by our encoders.
    put(&dir, "ucl", "runs", &ucl::nrv2b_encode_runs(&[7u8; 3000]));
    put(
        &dir,
        "lzo",
        "lits",
        &lzo::lzo1x_encode_literals(b"literal run"),
    );
    // scan_tree: small trees of every kind of file it makes (tests/common/fuzz_tree.rs).
    let libc = fixture("qnx/x86_64/libc.so.3");
    let procnto = fixture("qnx/x86_64/procnto-smp-instr");
    let script = b"#!/bin/sh\ntelnetd &\nqconn\n";
    let trees: [(&str, Vec<u8>); 4] = [
        (
            "libc-ifs-tar-gz-dump",
            fuzz_tree::encode(
                0,
                &[
                    (3 << 3, &libc),
                    (4 | 1 << 5, &libc),
                    (2, b"tar payload"),
                    (5, b""),
                    (6, b"tail of the dump"),
                ],
            ),
        ),
        (
            "qnx6-links-and-inodes",
            fuzz_tree::encode(0, &[(7, &[16, 3]), (7 | 4 << 5, &[8, 1])]),
        ),
        (
            "script-kernel-repeat",
            fuzz_tree::encode(
                0,
                &[(2 << 3, script), (1 << 3, &procnto), (3 | 2 << 5, b"QNX")],
            ),
        ),
        (
            "dump-flag",
            fuzz_tree::encode(1, &[(1, &libc), (4 | 6 << 5, b"shared bytes")]),
        ),
    ];
    for (name, seed) in trees {
        assert!(!fuzz_tree::decode(&seed).is_empty());
        put(&dir, "scan_tree", name, &seed);
    }
    // Flash file systems built by the test writers: EFS (4 KiB and 64 KiB units), ETFS in
    // every page layout.
    for pow2 in [12u8, 16] {
        let b = common::efs_writer::sample(pow2);
        put(&dir, "efs", &format!("sample-2^{pow2}"), &b.image);
        put(&dir, "scan_image", &format!("efs-2^{pow2}"), &b.image);
    }
    for (cluster, spare) in [
        (512, etfs_writer::Spare::Trans),
        (1024, etfs_writer::Spare::Trans),
        (2048, etfs_writer::Spare::Nand(64)),
    ] {
        let layout = etfs_writer::Layout { cluster, spare };
        let mut fs = etfs_writer::sample(layout);
        let img = etfs_writer::write(layout, &fs.pages(1));
        put(&dir, "etfs", &format!("sample-{cluster}-{spare:?}"), &img);
        put(
            &dir,
            "scan_image",
            &format!("etfs-{cluster}-{spare:?}"),
            &img,
        );
    }
    // File system images from the shared corpus, when present (not committed: too big).
    for (target, rel) in [
        ("qnx6", "qnx6/qnxmount-test_image.bin"),
        ("qnx4", "qnx/openqnx-qnx4fs.img"),
        ("efs", "flash/qnxmount-efs-test_image.bin"),
        ("etfs", "flash/qnxmount-etfs-test_image.bin"),
        ("gzip", "qnx6/qnxmount-test_image.tar.gz"),
    ] {
        if let Some(d) = common::corpus(rel) {
            // The EFS image's partition is its first 512 KiB; the rest is erased flash.
            let d = if target == "efs" {
                d[..d.len().min(0x80000)].to_vec()
            } else {
                d
            };
            put(
                &dir,
                target,
                &format!("shared-{}", rel.replace('/', "-")),
                &d,
            );
        }
    }
}
