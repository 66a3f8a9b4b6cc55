//! Devices named as PATH (issue 20): a block device holding a flash dump (a read-only loop
//! device, when the sandbox lets us make one) is scanned, listed and unpacked like the dump
//! in a file, and never written; a character device is read up to its end or the bound; a
//! device met inside a tree is still skipped; a FIFO named as PATH is refused at once.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use assert_cmd::Command;
use badalloc_audit_core::source::read::MAX_DEVICE_READ;
use badalloc_report::{ImageState, Verdict};
use common::{listed_images, scan_path, scanned_images};

/// A read-only loop device over a file, detached when dropped.
struct Loop {
    dev: PathBuf,
}

impl Loop {
    /// None (and why, on stderr) where loop devices cannot be made (not root, no
    /// `losetup`, a sandbox without /dev/loop-control).
    fn attach(file: &Path) -> Option<Loop> {
        let out = Process::new("losetup")
            .args(["--find", "--show", "--read-only"])
            .arg(file)
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let dev = String::from_utf8_lossy(&o.stdout).trim().to_string();
                Some(Loop {
                    dev: PathBuf::from(dev),
                })
            }
            Ok(o) => {
                let why = String::from_utf8_lossy(&o.stderr).trim().to_string();
                common::skip_environment(&format!("no loop device ({why})"));
                None
            }
            Err(e) => {
                common::skip_environment(&format!("no losetup ({e})"));
                None
            }
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Process::new("losetup")
            .arg("--detach")
            .arg(&self.dev)
            .status();
    }
}

fn cli() -> Command {
    let mut c = Command::cargo_bin("badalloc-audit").unwrap();
    c.timeout(Duration::from_secs(60));
    c
}

/// A NOR dump: a boot image, then an EFS partition holding a C library with an unchecked
/// calloc. Returns it, the partition's offset and the library.
fn vulnerable_nor_dump() -> (Vec<u8>, usize, Vec<u8>) {
    let libc = std::fs::read(common::fixture("qnx/x86_64/libc.so.3")).unwrap();
    let (nodes, _) = common::ifs_writer::sample_tree();
    let boot = common::ifs_writer::build(&nodes, &common::ifs_writer::Opts::default());
    let efs = common::efs_writer::sample_with(18, &libc).image;
    let (dump, at) = common::dumps::nor_dump(&boot, &efs, 1 << 18);
    (dump, at, libc)
}

#[test]
fn a_flash_dump_on_a_loop_device_is_scanned_listed_and_unpacked_never_written() {
    let (dump, at, libc) = vulnerable_nor_dump();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nor.bin");
    std::fs::write(&file, &dump).unwrap();
    let Some(lo) = Loop::attach(&file) else {
        return;
    };
    let name = lo.dev.file_name().unwrap().to_str().unwrap().to_string();
    // The device, as the file: the same images, the same verdict, through the carved EFS.
    let t = scan_path(&lo.dev);
    let want = [
        (0, "ifs".to_string(), ImageState::Complete),
        (at as u64, "efs".to_string(), ImageState::Complete),
    ];
    assert_eq!(scanned_images(&t), want, "{:?}", t.errors);
    assert_eq!(listed_images(&lo.dev), want);
    assert_eq!(scanned_images(&scan_path(&file)), want);
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    assert_eq!(t.kind, "raw-dump");
    let paths: Vec<&str> = t.libc.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(paths, [format!("{name}@{at:#x}!/fs/flash/lib/libc.so.3")]);
    // Named through a symbolic link: followed, the same.
    let link = dir.path().join("flash0");
    std::os::unix::fs::symlink(&lo.dev, &link).unwrap();
    assert_eq!(scan_path(&link).verdict, Verdict::Affected);
    // `ls` and `extract --offset` on the device.
    let out = cli().arg("ls").arg(&lo.dev).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("efs image at offset {at:#x}")),
        "{text}"
    );
    let into = dir.path().join("out");
    let out = cli()
        .args(["extract", "--offset", &format!("{at:#x}")])
        .arg(&lo.dev)
        .arg(&into)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        std::fs::read(into.join("fs/flash/lib/libc.so.3")).unwrap(),
        libc
    );
    // Read, never written.
    assert_eq!(std::fs::read(&file).unwrap(), dump);

    // The same device met inside a directory is not read (a tree's device nodes are not
    // its files): a node for it, made where the scan walks.
    use std::os::unix::fs::MetadataExt;
    let rdev = std::fs::metadata(&lo.dev).unwrap().rdev();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let node = tree.join("fs0p0");
    let made = Process::new("mknod")
        .arg(&node)
        .arg("b")
        .arg(libc::major(rdev).to_string())
        .arg(libc::minor(rdev).to_string())
        .status();
    if !made.is_ok_and(|s| s.success()) {
        common::skip_environment("cannot make a device node");
        return;
    }
    let t = scan_path(&tree);
    assert!(t.libc.is_empty(), "{:?}", t.libc);
    assert!(
        t.errors
            .iter()
            .any(|e| e.path == "fs0p0" && e.message.contains("not a regular file (block device)")),
        "{:?}",
        t.errors
    );
}

#[test]
fn a_character_device_is_read_to_its_end_and_a_fifo_is_refused_at_once() {
    // /dev/null: a character device with nothing in it.
    let t = scan_path(Path::new("/dev/null"));
    assert_eq!(t.verdict, Verdict::NotQnx, "{:?}", t.reasons);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    let out = cli().args(["ls", "/dev/null"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no IFS, QNX6, QNX4, EFS, ETFS"));
    // A FIFO named as PATH: an error at once (no writer ever comes).
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fs0p0");
    let made = Process::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    for args in [&["scan"][..], &["ls"], &["extract"]] {
        let mut c = cli();
        c.args(args).arg(&fifo);
        if args == ["extract"] {
            c.arg(dir.path().join("out"));
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{args:?}: {out:?}");
        let all = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(all.contains("FIFO"), "{args:?}: {all}");
    }
}

/// /dev/zero never ends: `MAX_DEVICE_READ` bytes are read and examined, the rest is
/// reported unread, so the verdict stays open. Reads (and carves) 1 GiB: run it with
/// `cargo test --release --test devices -- --ignored`.
#[test]
#[ignore]
fn a_device_without_end_is_read_up_to_the_bound() {
    let t = scan_path(Path::new("/dev/zero"));
    assert_eq!(t.verdict, Verdict::Inconclusive, "{:?}", t.reasons);
    assert_eq!(t.stats.bytes, MAX_DEVICE_READ);
    let img = &t.images[0];
    assert_eq!(
        (img.kind.as_str(), img.offset, img.state),
        ("device", Some(MAX_DEVICE_READ), ImageState::Unreadable)
    );
    let out = cli().args(["ls", "/dev/zero"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "image found within the first {MAX_DEVICE_READ} bytes"
        )),
        "{err}"
    );
}
