//! `inspect` on the virtual paths `scan` prints (files inside images, carved images, nested
//! images, escaped names), and `ls`/`inspect` on a FIFO.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use badalloc_audit_core::ScanOptions;
use badalloc_report::Report;
use common::scan;
use serde_json::Value;

fn bin() -> Command {
    Command::cargo_bin("badalloc-audit").unwrap()
}

/// `inspect --format json` of `arg`, run in `dir`: (status, JSON or None, stderr).
fn inspect_in(dir: &Path, arg: &str) -> (i32, Option<Value>, String) {
    let out = bin()
        .current_dir(dir)
        .args(["inspect", "--format", "json", arg])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).ok(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scan_one(p: &Path) -> Report {
    scan(&[p.to_path_buf()], &ScanOptions::default())
}

/// Every C library and static copy of calloc that a scan of `dir/name` reports is found by
/// `inspect` under the path the report gives, with the same calloc verdict.
fn inspect_agrees_with_scan(dir: &Path, name: &str) -> usize {
    let report = scan_one(&dir.join(name));
    let t = &report.targets[0];
    let mut sites: Vec<(String, Value)> = t
        .libc
        .iter()
        .map(|l| (l.path.clone(), Value::from(l.calloc.verdict.as_str())))
        .collect();
    sites.extend(t.binaries.iter().filter_map(|b| {
        let c = b.static_calloc.as_ref()?;
        Some((b.path.clone(), Value::from(c.verdict.as_str())))
    }));
    for (path, verdict) in &sites {
        // A directory target's paths are inside it; a file target's start with its name.
        let arg = if t.kind == "directory" {
            format!("{name}/{path}")
        } else {
            path.clone()
        };
        let (status, json, err) = inspect_in(dir, &arg);
        assert_eq!(status, 0, "inspect {arg}: {err}");
        let json = json.unwrap();
        assert_eq!(json["calloc"]["verdict"], *verdict, "inspect {arg}");
        assert!(
            json["path"].as_str().unwrap().ends_with(path.as_str()),
            "{json}"
        );
    }
    sites.len()
}

#[test]
fn inspect_reads_a_file_inside_a_boot_image_as_scan_names_it() {
    let Some(ifs) = common::corpus_path("qnx/openqnx-641-x86.ifs") else {
        return;
    };
    let dir = ifs.parent().unwrap();
    let (status, inner, err) = inspect_in(dir, "openqnx-641-x86.ifs!/proc/boot/libc.so.3");
    assert_eq!(status, 0, "{err}");
    let inner = inner.unwrap();
    assert_eq!(inner["path"], "openqnx-641-x86.ifs!/proc/boot/libc.so.3");
    assert_eq!(inner["calloc"]["verdict"], "unchecked");
    // The same bytes as the loose copy (corpus/README.md): the same analysis.
    let (_, loose, _) = inspect_in(dir, "openqnx-641-x86-libc.so.3");
    let loose = loose.unwrap();
    assert_eq!(inner["calloc"], loose["calloc"]);
    // The C library and the kernel's own calloc (stripped, static: located by behaviour).
    assert_eq!(inspect_agrees_with_scan(dir, "openqnx-641-x86.ifs"), 2);
}

#[test]
fn inspect_follows_nested_images_of_the_corpus() {
    // A QNX4 file system whose .boot file is itself a boot image.
    for rel in ["qnx/openqnx-qnx4fs.img", "qnx/sdp660-armle-omap5-sd.ifs"] {
        let Some(p) = common::corpus_path(rel) else {
            continue;
        };
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            inspect_agrees_with_scan(p.parent().unwrap(), &name) > 0,
            "{rel}"
        );
    }
}

/// A raw dump (erased flash, then a QNX6 file system holding a C library and a tar.gz with
/// a tar inside whose names must be escaped), scanned: every path the report gives, carved,
/// nested and escaped, is inspected.
#[test]
fn inspect_reads_carved_nested_and_escaped_paths() {
    let libc = std::fs::read(common::fixture("example/qnx650-device/lib/libc.so.3")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inner_tar = common::tar_of_names(&[(b"lib\xff\\x/libc.so.3", &libc)]);
    let tar_gz = common::gzip(&common::tar(&[("a.tar", &inner_tar)]));
    let fs = common::qnx6_writer::build(&[("lib/libc.so.3", &libc), ("fw.tar.gz", &tar_gz)]);
    let mut dump = vec![0xffu8; 0x40000];
    dump.extend(&fs);
    dump.resize(dump.len() + 0x10000, 0xff);
    std::fs::write(dir.path().join("dump.bin"), &dump).unwrap();

    let report = scan_one(&dir.path().join("dump.bin"));
    let paths: Vec<&str> = report.targets[0]
        .libc
        .iter()
        .map(|l| l.path.as_str())
        .collect();
    assert!(
        paths.contains(&"dump.bin@0x40000!/lib/libc.so.3"),
        "{paths:?}"
    );
    // Three levels below the carved image, the last with an escaped name.
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("dump.bin@0x40000!/fw.tar.gz!/")
                && p.ends_with("!/a.tar!/lib\\xff\\\\x/libc.so.3")),
        "{paths:?}"
    );
    assert_eq!(inspect_agrees_with_scan(dir.path(), "dump.bin"), 2);

    // The same tree as a directory target: the paths are relative to it.
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("fw.tar.gz"), &tar_gz).unwrap();
    assert_eq!(inspect_agrees_with_scan(dir.path(), "tree"), 1);
}

#[test]
fn inspect_names_the_missing_part_of_a_virtual_path() {
    let libc = std::fs::read(common::fixture("example/qnx650-device/lib/libc.so.3")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fw.tar"),
        common::tar(&[("lib/libc.so.3", &libc), ("etc/motd", b"hello")]),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    let cases = [
        (
            "fw.tar!/lib/libc.so.4",
            "fw.tar: no file lib/libc.so.4 in the tar image",
        ),
        (
            "fw.tar@0x2000!/lib/libc.so.3",
            "fw.tar: no image at offset 0x2000 (images: tar at 0x0)",
        ),
        (
            "fw.tar!/lib/libc.so.3!/x",
            "fw.tar!/lib/libc.so.3: no IFS, QNX6, QNX4, tar or gzip image in it",
        ),
        ("fw.tar!/etc/motd", "fw.tar!/etc/motd: "),
        (
            "gone.tar!/lib/libc.so.3",
            "cannot read gone.tar (the file holding gone.tar!/lib/libc.so.3)",
        ),
        (
            "d!/lib/libc.so.3",
            "cannot read d (the file holding d!/lib/libc.so.3)",
        ),
    ];
    for (arg, wanted) in cases {
        let (status, json, err) = inspect_in(dir.path(), arg);
        assert_eq!(status, 4, "{arg}: {err}");
        assert!(json.is_none(), "{arg}");
        assert!(err.contains(wanted), "{arg}: {err}");
    }
}

/// `ls` and `inspect` open what they are given without waiting: a FIFO (nobody writing to
/// it) is an error at once, named, never a hang.
#[test]
fn ls_and_inspect_refuse_a_fifo_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fw.ifs");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    for args in [
        vec!["ls", "fw.ifs"],
        vec!["inspect", "fw.ifs"],
        vec!["inspect", "fw.ifs!/proc/boot/libc.so.3"],
        vec!["extract", "fw.ifs", "out"],
    ] {
        let started = Instant::now();
        let out = bin()
            .current_dir(dir.path())
            .args(&args)
            .timeout(Duration::from_secs(10))
            .output()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{args:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(out.status.code(), Some(4), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("fw.ifs") && err.contains("not a regular file (FIFO)"),
            "{args:?}: {err}"
        );
    }
    assert!(!dir.path().join("out").exists(), "extract wrote nothing");
}
