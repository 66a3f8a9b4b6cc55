#![no_main]
//! The whole scan of a small tree of crafted files (tests/common/fuzz_tree.rs decodes the
//! input: raw files, gzip, tar, repeated data, IFS images of entries sharing an extent,
//! raw dumps, QNX6 images of one block repeated), written to a directory and scanned with
//! the scanner's real limits, like `badalloc-audit scan DIR`; with flag bit 0 the input is
//! also scanned as one dump. Asserts: no panic escapes; the directory is a readable target
//! with every file counted; every path is under the target; the report renders. Time per
//! input is bounded by libFuzzer's -timeout (fuzz/run.sh: 60 s for this target, the most
//! the work budget lets one scan take, docs/bounds.md).
use badalloc_audit_core::scan::{scan, scan_bytes, ScanOptions};
use badalloc_report::{Report, Verdict};
use fuzz_support::fuzz_tree;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: fuzz_support::quiet_contained_panics(), |data: &[u8]| {
    let files = fuzz_tree::decode(data);
    let root = std::env::temp_dir().join(format!("badalloc-fuzz-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("temporary directory");
    fuzz_tree::write(&files, &root).expect("tree written");
    let options = ScanOptions {
        jobs: Some(1),
        progress: None,
    };
    let report = Report::from(scan(&[root.clone()], &options));
    let t = &report.targets[0];
    assert_ne!(t.verdict, Verdict::Error, "{:?}", t.errors);
    assert_eq!(t.stats.files, files.len() as u64);
    for e in &t.errors {
        assert!(!e.path.starts_with('/'), "error outside the tree: {e:?}");
    }
    let _ = badalloc_report::json::render(&report);
    let _ = std::fs::remove_dir_all(&root);
    if fuzz_tree::scan_as_dump(data) {
        let r = scan_bytes("dump.bin", data);
        for e in &r.errors {
            assert!(e.path.starts_with("dump.bin"), "error without the file's path: {e:?}");
        }
    }
});
