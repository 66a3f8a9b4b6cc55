//! The read-only guarantee: `scan` (every format), `ls` and `inspect` change nothing under the
//! scanned paths — no file's content, size or mtime, no new file, no changed link — and
//! `extract` writes only under its DIR.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use assert_cmd::Command;
use common::ifs_writer::{self, Comp, Opts};

#[derive(Debug, PartialEq, Eq)]
enum Obj {
    File {
        sha256: String,
        size: u64,
        mtime: SystemTime,
    },
    Dir {
        mtime: SystemTime,
    },
    Link {
        target: String,
        mtime: SystemTime,
    },
}

/// Every object under `root`, recursively, without following links.
fn snapshot(root: &Path) -> BTreeMap<String, Obj> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let mtime = m.modified().unwrap();
            let obj = if m.file_type().is_symlink() {
                Obj::Link {
                    target: fs::read_link(&p).unwrap().to_string_lossy().into_owned(),
                    mtime,
                }
            } else if m.is_dir() {
                stack.push(p.clone());
                Obj::Dir { mtime }
            } else {
                Obj::File {
                    sha256: common::sha256_hex(&fs::read(&p).unwrap()),
                    size: m.len(),
                    mtime,
                }
            };
            out.insert(rel, obj);
        }
    }
    out
}

/// A firmware-like tree: ELF files, a compressed boot image, a tar.gz holding an ELF, a raw
/// dump with an embedded image, file and directory symlinks (one dangling, one leaving the
/// tree), a startup script; plus a file outside the tree that a link points at.
fn build_tree(root: &Path, outside: &Path) {
    let t = root.join("fw");
    fs::create_dir_all(t.join("proc/boot")).unwrap();
    fs::create_dir_all(t.join("lib")).unwrap();
    fs::create_dir_all(t.join("etc")).unwrap();
    let libc = fs::read(common::fixture("qnx/x86_64/libc.so.3")).unwrap();
    fs::write(t.join("lib/libc.so.3"), &libc).unwrap();
    fs::write(
        t.join("proc/boot/ls"),
        fs::read(common::fixture("qnx/arm/ls")).unwrap(),
    )
    .unwrap();
    let nodes = vec![
        ifs_writer::dir("proc", 2),
        ifs_writer::file("proc/boot/libc.so.3", 3, &libc),
        ifs_writer::symlink("usr/lib/libc.so", 4, "/proc/boot/libc.so.3"),
    ];
    let ifs = ifs_writer::build(
        &nodes,
        &Opts {
            comp: Comp::Ucl,
            ..Opts::default()
        },
    );
    fs::write(t.join("boot.ifs"), &ifs).unwrap();
    let tgz = common::gzip(&common::tar(&[("lib/libc.so.3", &libc)]));
    fs::write(t.join("update.tar.gz"), tgz).unwrap();
    let mut dump = vec![0xffu8; 80_000];
    dump.splice(8192..8192, ifs.iter().copied());
    fs::write(t.join("flash.bin"), dump).unwrap();
    fs::write(t.join("etc/rc.local"), "slogger2\nio-pkt-v6-hc\n").unwrap();
    fs::write(outside, "outside the tree").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("libc.so.3", t.join("lib/libc.so")).unwrap();
        symlink("../lib", t.join("proc/lib")).unwrap();
        symlink("nowhere", t.join("dangling")).unwrap();
        symlink(outside, t.join("etc/outside")).unwrap();
        symlink(".", t.join("loop")).unwrap();
    }
}

#[test]
fn scan_in_every_format_changes_nothing_under_the_scanned_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside.txt");
    build_tree(tmp.path(), &outside);
    let tree = tmp.path().join("fw");
    let before = snapshot(tmp.path());
    assert!(before.len() > 12, "{before:?}");
    for format in ["text", "json", "sarif", "cyclonedx"] {
        for target in [
            tree.clone(),
            tree.join("boot.ifs"),
            tree.join("lib/libc.so"),
        ] {
            let out = Command::cargo_bin("badalloc-audit")
                .unwrap()
                .args(["scan", "--quiet", "--format", format])
                .arg(&target)
                .timeout(std::time::Duration::from_secs(120))
                .output()
                .unwrap();
            assert!(
                out.status.code().is_some_and(|c| c != 2),
                "{format} {}: {:?}",
                target.display(),
                out
            );
            assert_eq!(
                before,
                snapshot(tmp.path()),
                "scan --format {format} {} changed the tree",
                target.display()
            );
        }
    }
    // The per-file commands are read-only too.
    for args in [
        vec!["ls", "boot.ifs"],
        vec!["ls", "update.tar.gz"],
        vec!["ls", "flash.bin"],
        vec!["inspect", "lib/libc.so.3"],
    ] {
        let _ = Command::cargo_bin("badalloc-audit")
            .unwrap()
            .current_dir(&tree)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(before, snapshot(tmp.path()), "{args:?} changed the tree");
    }
}

/// Every regular file under `root` with its access time.
fn access_times(root: &Path) -> BTreeMap<String, SystemTime> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, m.accessed().unwrap());
            }
        }
    }
    out
}

/// A forensic copy keeps its access times: files are opened with O_NOATIME (the tests run
/// as root or as the files' owner, who may). Each file's access time is first set far in
/// the past, so that a read would update it even under `relatime`; a control file read
/// normally shows that this file system records reads.
#[cfg(target_os = "linux")]
#[test]
fn scan_ls_and_inspect_leave_access_times_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside.txt");
    build_tree(tmp.path(), &outside);
    let tree = tmp.path().join("fw");
    let past = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    let set_past = |p: &Path| {
        fs::File::open(p)
            .unwrap()
            .set_times(fs::FileTimes::new().set_accessed(past))
            .unwrap()
    };
    let control = tmp.path().join("control");
    fs::write(&control, "read me").unwrap();
    set_past(&control);
    let _ = fs::read(&control).unwrap();
    if fs::metadata(&control).unwrap().accessed().unwrap() == past {
        common::skip_environment("this file system does not record access times (noatime)");
        return;
    }
    for f in access_times(&tree).keys() {
        set_past(&tree.join(f));
    }
    let before = access_times(&tree);
    assert!(
        before.len() >= 6 && before.values().all(|t| *t == past),
        "{before:?}"
    );
    for args in [
        vec!["scan", "--quiet", "--format", "json", "."],
        vec!["scan", "--quiet", "lib/libc.so"],
        vec!["ls", "boot.ifs"],
        vec!["ls", "flash.bin"],
        vec!["inspect", "lib/libc.so.3"],
    ] {
        let out = Command::cargo_bin("badalloc-audit")
            .unwrap()
            .current_dir(&tree)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.code().is_some_and(|c| c != 2),
            "{args:?}: {out:?}"
        );
        assert_eq!(before, access_times(&tree), "{args:?} changed access times");
    }
}

#[test]
fn scan_opens_read_only_files_in_read_only_directories() {
    // Mode bits do not stop root, so this proves the open mode only for other users; the
    // snapshot test above is the proof that nothing is written.
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside.txt");
    build_tree(tmp.path(), &outside);
    let tree = tmp.path().join("fw");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for d in ["", "lib", "etc", "proc", "proc/boot"] {
            for e in fs::read_dir(tree.join(d)).unwrap() {
                let p = e.unwrap().path();
                if fs::symlink_metadata(&p).unwrap().is_file() {
                    fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).unwrap();
                }
            }
        }
        for d in ["lib", "etc", "proc/boot", "proc", ""] {
            fs::set_permissions(tree.join(d), fs::Permissions::from_mode(0o555)).unwrap();
        }
    }
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["scan", "--quiet", "--format", "json"])
        .arg(&tree)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for e in j["targets"][0]["errors"].as_array().unwrap() {
        let message = e["message"].as_str().unwrap();
        assert!(
            !message.contains("cannot read") && !message.contains("could not be read"),
            "{e}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for d in ["", "proc", "proc/boot", "etc", "lib"] {
            fs::set_permissions(tree.join(d), fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

#[cfg(unix)]
#[test]
fn extract_writes_only_under_its_dir() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // The archive: a normal file, `..` escapes, absolute paths, a symlink to outside and a
    // file written "through" it, a symlink parent.
    let mut t = Vec::new();
    let mut push = |h: [u8; 512], data: &[u8]| {
        t.extend_from_slice(&h);
        t.extend_from_slice(data);
        t.resize(t.len().div_ceil(512) * 512, 0);
    };
    let victim = root.join("victim");
    fs::create_dir(&victim).unwrap();
    push(common::tar_header("ok/file.txt", b'0', 2, ""), b"ok");
    push(common::tar_header("../escape.txt", b'0', 3, ""), b"bad");
    push(
        common::tar_header("ok/../../escape2.txt", b'0', 3, ""),
        b"bad",
    );
    let abs = format!("{}/abs.txt", victim.display());
    push(common::tar_header(&abs, b'0', 3, ""), b"abs");
    push(
        common::tar_header("link", b'2', 0, victim.to_str().unwrap()),
        b"",
    );
    push(common::tar_header("link/through.txt", b'0', 3, ""), b"bad");
    push(common::tar_header("up", b'2', 0, ".."), b"");
    push(common::tar_header("up/up.txt", b'0', 3, ""), b"bad");
    t.resize(t.len() + 1024, 0);
    let image = root.join("evil.tar");
    fs::write(&image, &t).unwrap();

    // DIR's parent is reached through a symlink: still fine, writes land under DIR.
    let real_parent = root.join("real");
    fs::create_dir(&real_parent).unwrap();
    symlink(&real_parent, root.join("parent-link")).unwrap();
    let dir = root.join("parent-link/out");

    let before = snapshot(root);
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("extract")
        .arg(&image)
        .arg(&dir)
        .output()
        .unwrap();
    let after = snapshot(root);
    // Everything new is under real/out; nothing before changed.
    for (path, obj) in &before {
        if path == "real" {
            continue; // DIR was created in it: its mtime moves, nothing else may.
        }
        assert_eq!(Some(obj), after.get(path), "{path} changed: {out:?}");
    }
    let new: Vec<&String> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    assert!(!new.is_empty());
    for p in &new {
        assert!(p.starts_with("real/out"), "extract wrote {p} outside DIR");
    }
    assert_eq!(
        fs::read(real_parent.join("out/ok/file.txt")).unwrap(),
        b"ok"
    );
    assert!(!root.join("escape.txt").exists());
    assert!(!root.join("real/escape2.txt").exists());
    assert!(!victim.join("through.txt").exists());
    assert!(!victim.join("abs.txt").exists());
    assert!(!root.join("real/up.txt").exists());
}
