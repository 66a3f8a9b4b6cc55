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
