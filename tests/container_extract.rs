//! Extracting real containers: files byte-exact, symlinks as symlinks, nothing outside.

mod common;

use badalloc_audit::container::*;

#[test]
fn extract_corpus_ifs() {
    let Some(d) = common::corpus("qnx/openqnx-641-x86.ifs") else {
        return;
    };
    let c = open(&d, ContainerKind::Ifs, &Limits::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let s = extract(c.as_ref(), tmp.path()).unwrap();
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
    let libc = std::fs::read(tmp.path().join("proc/boot/libc.so.3")).unwrap();
    assert_eq!(
        common::sha256_hex(&libc),
        "d94d70ee8be9d5098026cdabc2e1732448a83f693be6dfb2cf48cc0540d58810"
    );
    #[cfg(unix)]
    {
        let l = tmp.path().join("proc/boot/libc.so");
        assert!(std::fs::symlink_metadata(&l)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_link(&l).unwrap().to_str(), Some("libc.so.3"));
    }
    let files = c
        .entries()
        .iter()
        .filter(|e| e.entry_type == EntryType::File)
        .count();
    assert_eq!(s.files, files);
}

#[test]
fn extract_corpus_qnx6_with_escaping_symlink() {
    let Some(d) = common::corpus("qnx6/qnxmount-test_image.bin") else {
        return;
    };
    let c = open(&d, ContainerKind::Qnx6, &Limits::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let s = extract(c.as_ref(), &out).unwrap();
    // link_directory_2 -> ../directory_2 is created as a link, never followed.
    #[cfg(unix)]
    assert!(std::fs::symlink_metadata(out.join("link_directory_2"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(out.join("directory_1/directory_1_1/message.txt"))
            .unwrap()
            .len(),
        28
    );
    assert!(s.skipped.iter().any(|(p, _)| p == "this_is_a_fifo"));
    assert!(!tmp.path().join("directory_2").exists());
}

/// Every extracted file and directory has the permission bits and modification time its
/// entry gives (directories at least `rwx` for the owner; set-id bits dropped).
#[cfg(unix)]
fn assert_modes_and_times_kept(c: &dyn Container, out: &std::path::Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let mut checked = 0;
    for e in c.entries() {
        if e.path.is_empty() || !matches!(e.entry_type, EntryType::File | EntryType::Dir) {
            continue;
        }
        let m = std::fs::symlink_metadata(out.join(&e.path)).unwrap();
        let want = match e.entry_type {
            EntryType::Dir => e.mode & 0o777 | 0o700,
            _ => e.mode & 0o777,
        };
        assert_eq!(m.mode() & 0o7777, want, "{}: mode", e.path);
        let t = e.mtime.expect("the format records mtime");
        assert_eq!(m.mtime() as u64, t, "{}: mtime", e.path);
        checked += 1;
    }
    checked
}

#[cfg(unix)]
#[test]
fn extract_keeps_mode_and_mtime_for_ifs_qnx4_and_qnx6() {
    for (rel, kind, min) in [
        ("qnx/openqnx-641-x86.ifs", ContainerKind::Ifs, 20),
        ("qnx/openqnx-qnx4fs.img", ContainerKind::Qnx4, 6),
        ("qnx6/qnxmount-test_image.bin", ContainerKind::Qnx6, 25),
    ] {
        let Some(d) = common::corpus(rel) else {
            continue;
        };
        let c = open(&d, kind, &Limits::default()).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        extract(c.as_ref(), tmp.path()).unwrap();
        let n = assert_modes_and_times_kept(c.as_ref(), tmp.path());
        assert!(n >= min, "{rel}: {n} objects checked");
        // Not every file came out 0644.
        let modes: std::collections::BTreeSet<u32> = c
            .entries()
            .iter()
            .filter(|e| e.entry_type == EntryType::File)
            .map(|e| e.mode & 0o777)
            .collect();
        assert!(modes.len() > 1, "{rel}: {modes:?}");
    }
}

#[cfg(unix)]
#[test]
fn extracted_qnx6_modes_and_times_are_those_of_its_tarball() {
    use std::os::unix::fs::MetadataExt;
    let (Some(img), Some(tgz)) = (
        common::corpus("qnx6/qnxmount-test_image.bin"),
        common::corpus("qnx6/qnxmount-test_image.tar.gz"),
    ) else {
        return;
    };
    let c = open(&img, ContainerKind::Qnx6, &Limits::default()).unwrap();
    let tar = open(&tgz, ContainerKind::Gzip, &Limits::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    extract(c.as_ref(), tmp.path()).unwrap();
    let mut files = 0;
    for t in tar.entries() {
        if t.entry_type != EntryType::File {
            continue;
        }
        let m = std::fs::symlink_metadata(tmp.path().join(&t.path)).unwrap();
        assert_eq!(m.mode() & 0o777, t.mode & 0o777, "{}", t.path);
        assert_eq!(Some(m.mtime() as u64), t.mtime, "{}", t.path);
        files += 1;
    }
    assert!(files >= 20, "{files}");
}
