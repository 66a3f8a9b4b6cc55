//! A scan analyses each distinct ELF content once (issue 21): copies of one file under other
//! names must be reported exactly as if each had been scanned alone, including what the
//! report takes from the file's name (a kernel is searched for its release only in a file
//! named `procnto*`; a library without SONAME is a C library by its name).

mod common;

use std::path::Path;

/// The entries of a scan of `dir` that name one file: its `binaries` and `libc` entries,
/// as JSON.
fn binaries(dir: &Path) -> Vec<serde_json::Value> {
    let report = common::scan_path(dir);
    let json = serde_json::to_value(&report).expect("report serialises");
    let list = |key: &str| json[key].as_array().cloned().unwrap_or_default();
    [list("binaries"), list("libc")].concat()
}

#[test]
fn copies_under_other_names_are_reported_as_if_scanned_alone() {
    let Some(kernel) = common::corpus("qnx/sdp660-x86-procnto") else {
        return;
    };
    let libc = std::fs::read(common::fixture("qnx/aarch64/ifs/libc.so.3")).expect("fixture");
    let ls = std::fs::read(common::fixture("qnx/i686/ls")).expect("fixture");
    let copies: [(&str, &[u8]); 8] = [
        ("a/boot/procnto-smp", &kernel),
        ("b/boot/kernel.bin", &kernel),
        ("c/boot/procnto", &kernel),
        ("a/lib/libc.so.3", &libc),
        ("b/lib/libfoo.so", &libc),
        ("c/lib/libc.so.3", &libc),
        ("a/bin/ls", &ls),
        ("b/bin/ls.old", &ls),
    ];
    let tree = tempfile::tempdir().expect("tempdir");
    for (rel, bytes) in copies {
        let p = tree.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write");
    }
    let together = binaries(tree.path());
    // Every file is a binary; the three copies of the C library are libc entries too.
    assert_eq!(together.len(), copies.len() + 3);
    for (rel, bytes) in copies {
        let alone = tempfile::tempdir().expect("tempdir");
        let p = alone.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write");
        let single = binaries(alone.path());
        let mine: Vec<&serde_json::Value> = together.iter().filter(|b| b["path"] == rel).collect();
        let single: Vec<&serde_json::Value> = single.iter().collect();
        assert!(!single.is_empty(), "{rel} not reported alone");
        assert_eq!(mine, single, "{rel}: differs from a scan of the file alone");
    }
}
