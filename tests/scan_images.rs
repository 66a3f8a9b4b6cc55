//! `scan` on images: real boot images, images nested in archives and file systems, images
//! carved from raw dumps, and images built from the fixtures with every compression.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use badalloc_audit_core::ScanOptions;
use badalloc_report::{CallocVerdict, TargetReport, Verdict};
use common::ifs_writer::{self, Comp, Opts};
use common::scan;

fn scan_one(path: &Path) -> TargetReport {
    scan(&[path.to_path_buf()], &ScanOptions::default())
        .targets
        .remove(0)
}

fn libc_paths(t: &TargetReport) -> Vec<&str> {
    t.libc.iter().map(|l| l.path.as_str()).collect()
}

/// A minimal ustar archive (test-only writer): regular files only.
fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn openqnx_641_boot_image_kernel_release_wins_over_libc_label() {
    let Some(path) = common::corpus_path("qnx/openqnx-641-x86.ifs") else {
        return;
    };
    let t = scan_one(&path);
    assert_eq!(t.kind, "ifs");
    assert_eq!(t.os.release.as_deref(), Some("6.4.1"));
    assert!(t
        .os
        .conflicts
        .iter()
        .any(|c| c.contains("kernel says 6.4.1, C library QNX_info says 6.4.0")));
    assert_eq!(libc_paths(&t), ["openqnx-641-x86.ifs!/proc/boot/libc.so.3"]);
    assert_eq!(t.libc[0].calloc.verdict, CallocVerdict::Unchecked);
    assert!(
        t.reasons[0].starts_with("R1:"),
        "the code decides: {:?}",
        t.reasons
    );
    let img = &t.images[0];
    assert_eq!(img.kind, "ifs");
    assert!(
        img.notes
            .iter()
            .any(|n| n.kind == "checksum" && n.detail.contains("valid")),
        "{:?}",
        img.notes
    );
    assert!(!img.boot_script.is_empty());
    // Network-facing services of the boot image are seen through the image.
    assert!(t
        .binaries
        .iter()
        .any(|b| b.path.ends_with("proc/boot/qconn")));
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
}

#[test]
fn sdp660_arm_boot_image_is_660_from_its_kernel() {
    let Some(path) = common::corpus_path("qnx/sdp660-armle-omap5-sd.ifs") else {
        return;
    };
    let t = scan_one(&path);
    assert_eq!(t.os.release.as_deref(), Some("6.6.0"));
    assert_eq!(format!("{:?}", t.os.confidence), "High");
    assert_eq!(t.libc[0].arch, "armle");
    // The ARM C library inside the image: calloc -> __calloc@plt -> __calloc, checked by the
    // fast path and the division (__aeabi_uidiv) compare.
    assert_eq!(
        t.libc[0].calloc.verdict,
        CallocVerdict::Checked,
        "{}",
        t.libc[0].calloc.reason
    );
    assert_eq!(t.libc[0].calloc.chain, ["calloc", "__calloc"]);
    assert_eq!(t.verdict, Verdict::NotAffected, "{:?}", t.reasons);
}

#[test]
fn ifs_inside_qnx4_inside_tar_gz_is_reached_with_virtual_paths() {
    let Some(qnx4) = common::corpus("qnx/openqnx-qnx4fs.img") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fw = dir.path().join("fw.tar.gz");
    std::fs::write(
        &fw,
        gzip(&tar(&[
            ("images/qnxfs.img", &qnx4),
            ("README", b"firmware 1.0\n"),
        ])),
    )
    .unwrap();
    let t = scan_one(&fw);
    assert_eq!(t.kind, "gzip");
    assert_eq!(
        libc_paths(&t),
        ["fw.tar.gz!/images/qnxfs.img!/.boot!/proc/boot/libc.so.3"]
    );
    assert_eq!(t.os.release.as_deref(), Some("6.4.1"));
    let kinds: Vec<&str> = t.images.iter().map(|i| i.kind.as_str()).collect();
    for k in ["gzip", "qnx4", "ifs"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
}

#[test]
fn boot_image_carved_from_a_raw_flash_dump() {
    let Some(ifs) = common::corpus("qnx/openqnx-641-x86.ifs") else {
        return;
    };
    // Erased flash (0xFF) with a decoy signature, the image at 0x40000, then more padding.
    let mut dump = vec![0xFFu8; 0x40000];
    dump[0x100..0x104].copy_from_slice(&[0xeb, 0x7e, 0xff, 0x00]);
    dump.extend_from_slice(&ifs);
    dump.resize(dump.len() + 0x20000, 0xFF);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flash.bin");
    std::fs::write(&path, &dump).unwrap();
    let t = scan_one(&path);
    assert_eq!(t.kind, "raw-dump");
    assert_eq!(libc_paths(&t), ["flash.bin@0x40000!/proc/boot/libc.so.3"]);
    assert_eq!(
        t.images.len(),
        1,
        "the decoy at 0x100 must not be taken: {:?}",
        t.images
    );
    assert_eq!(t.images[0].offset, Some(0x40000));
}

fn fixture_tree_nodes(arch: &str) -> Vec<ifs_writer::Node> {
    let dir: PathBuf = common::fixture(&format!("qnx/{arch}"));
    let mut nodes = vec![ifs_writer::dir("proc", 2), ifs_writer::dir("proc/boot", 3)];
    for (i, name) in ["procnto-smp-instr", "libc.so.3", "telnetd", "devc-ser8250"]
        .iter()
        .enumerate()
    {
        let data = std::fs::read(dir.join(name)).unwrap();
        nodes.push(ifs_writer::file(
            &format!("proc/boot/{name}"),
            10 + i as u32,
            &data,
        ));
    }
    nodes.push(ifs_writer::symlink(
        "usr/lib/ldqnx.so.2",
        20,
        "/proc/boot/libc.so.3",
    ));
    nodes
}

#[test]
fn fixture_boot_images_with_every_compression_and_byte_order() {
    for (arch, big_endian) in [
        ("i686", false),
        ("arm", false),
        ("powerpc", true),
        ("mips", true),
    ] {
        for comp in [Comp::None, Comp::Zlib, Comp::LzoReal, Comp::Ucl] {
            let img = ifs_writer::build(
                &fixture_tree_nodes(arch),
                &Opts {
                    comp,
                    big_endian,
                    ..Opts::default()
                },
            );
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("boot.ifs");
            std::fs::write(&path, &img).unwrap();
            let t = scan_one(&path);
            let ctx = format!("{arch} {comp:?}: {:?} {:?}", t.errors, t.reasons);
            assert_eq!(t.kind, "ifs", "{ctx}");
            assert_eq!(t.os.release.as_deref(), Some("6.5.0"), "{ctx}");
            assert_eq!(libc_paths(&t), ["boot.ifs!/proc/boot/libc.so.3"], "{ctx}");
            let telnetd = t
                .binaries
                .iter()
                .find(|b| b.path == "boot.ifs!/proc/boot/telnetd")
                .expect(&ctx);
            assert!(telnetd.network && telnetd.imports_calloc, "{ctx}");
            assert!(
                t.symlinks
                    .iter()
                    .any(|s| s.path == "boot.ifs!/usr/lib/ldqnx.so.2"),
                "{ctx}"
            );
        }
    }
}

#[test]
fn nesting_is_bounded() {
    // A boot image wrapped in gzip ten times: opened down to the bound, then an error names
    // the level, and nothing panics or loops.
    let mut data = ifs_writer::build(&fixture_tree_nodes("i686"), &Opts::default());
    for _ in 0..10 {
        data = gzip(&data);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.gz");
    std::fs::write(&path, &data).unwrap();
    let t = scan_one(&path);
    assert!(t.libc.is_empty());
    assert!(
        t.errors
            .iter()
            .any(|e| e.message.contains("nested deeper than")),
        "{:?}",
        t.errors
    );
    assert!(t.errors.iter().all(|e| e.path.starts_with("deep.gz")));
}

fn binaries_json(t: &TargetReport) -> Vec<String> {
    let mut v: Vec<String> = t
        .binaries
        .iter()
        .map(|b| serde_json::to_string(b).unwrap())
        .collect();
    v.sort();
    v
}

/// A compressed boot image (LZO, UCL, zlib) met twice (as a file, and inside a flash dump) is decoded
/// once: the second copy is reported from the first, exactly as decoding it gives (the
/// same findings as scanning each file alone). A copy that differs in one byte is decoded
/// on its own.
#[test]
fn a_boot_image_met_twice_is_decoded_once_and_reported_for_both_copies() {
    let one_job = ScanOptions {
        jobs: Some(1),
        ..Default::default()
    };
    for comp in [Comp::LzoReal, Comp::Ucl, Comp::Zlib] {
        let img = ifs_writer::build(
            &fixture_tree_nodes("arm"),
            &Opts {
                comp,
                ..Opts::default()
            },
        );
        let mut dump = vec![0xFFu8; 0x20000];
        dump.extend_from_slice(&img);
        dump.resize(dump.len() + 0x10000, 0xFF);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("boot.ifs"), &img).unwrap();
        std::fs::write(dir.path().join("flash.bin"), &dump).unwrap();
        let both = scan(&[dir.path().to_path_buf()], &one_job)
            .targets
            .remove(0);
        assert_eq!(both.stats.reused_images, 1, "{comp:?}");
        let alone_file = scan_one(&dir.path().join("boot.ifs"));
        let alone_dump = scan_one(&dir.path().join("flash.bin"));
        assert_eq!(
            alone_file.stats.reused_images + alone_dump.stats.reused_images,
            0
        );
        let mut separately = binaries_json(&alone_file);
        separately.extend(binaries_json(&alone_dump));
        separately.sort();
        assert_eq!(binaries_json(&both), separately, "{comp:?}");
        assert_eq!(
            libc_paths(&both),
            [
                "boot.ifs!/proc/boot/libc.so.3",
                "flash.bin@0x20000!/proc/boot/libc.so.3"
            ]
        );
        let images: Vec<(&str, Option<u64>, u64)> = both
            .images
            .iter()
            .map(|i| (i.path.as_str(), i.offset, i.entries))
            .collect();
        let entries = alone_file.images[0].entries;
        assert_eq!(
            images,
            [
                ("boot.ifs", None, entries),
                ("flash.bin@0x20000", Some(0x20000), entries)
            ]
        );
        assert_eq!(
            serde_json::to_string(&both.images[0].notes).unwrap(),
            serde_json::to_string(&both.images[1].notes).unwrap()
        );

        // One byte changed in the dump's copy (inside the compressed imagefs): not reused.
        let at = 0x20000 + img.len() - 300;
        dump[at] ^= 0x40;
        std::fs::write(dir.path().join("flash.bin"), &dump).unwrap();
        let changed = scan(&[dir.path().to_path_buf()], &one_job)
            .targets
            .remove(0);
        assert_eq!(changed.stats.reused_images, 0, "{comp:?}");
    }
}

/// A fleet's copies examined on several threads: a worker that meets a content another is
/// examining sets the file aside and takes it again at the end (`in_flight`). Every file is
/// reported once, and the report is the same as with one thread, byte for byte.
#[test]
fn copies_met_by_several_workers_at_once_are_reported_once_and_as_with_one_thread() {
    let Some(static_prog) = common::corpus("static/mib2-gzip.stripped-static") else {
        return;
    };
    let img = ifs_writer::build(
        &fixture_tree_nodes("arm"),
        &Opts {
            comp: Comp::Ucl,
            ..Opts::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    for device in 0..12 {
        let d = dir.path().join(format!("device{device:02}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("boot.ifs"), &img).unwrap();
        std::fs::write(d.join("gzip"), &static_prog).unwrap();
        std::fs::write(d.join("gzip-copy"), &static_prog).unwrap();
    }
    let render = |jobs| {
        let options = ScanOptions {
            jobs: Some(jobs),
            ..Default::default()
        };
        badalloc_report::json::render(&scan(&[dir.path().to_path_buf()], &options))
    };
    let one = render(1);
    let report: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(report["targets"][0]["stats"]["files"], 36);
    assert_eq!(report["targets"][0]["images"].as_array().unwrap().len(), 12);
    for _ in 0..3 {
        assert_eq!(render(4), one);
    }
}
