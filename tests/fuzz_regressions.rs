//! Every crash and hang the fuzz targets (fuzz/, `fuzz/run.sh`) found, replayed through the
//! same code path. Reproducers are in tests/data/fuzz/ (and, for the calloc analysis, which
//! is handed over to its owner, fuzz/regressions/calloc-*).

mod common;

use std::path::PathBuf;

use badalloc_calloc::CallocVerdict;
use badalloc_elf::ElfFile;
use badalloc_report::Verdict;
use common::scan_bytes;

fn repro(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Scan a reproducer in memory: no panic escapes, every error names the file.
fn scan_ok(name: &str) -> badalloc_report::TargetReport {
    let data = repro(name);
    let t = scan_bytes(name, &data);
    for e in &t.errors {
        assert!(e.path.starts_with(name), "{e:?}");
    }
    t
}

/// What the `scan_tree` fuzz target does with an input: the tree it decodes to
/// (tests/common/fuzz_tree.rs) written to a directory and scanned with the real limits, and
/// the same checks: a readable target with every file counted, no path outside it.
fn scan_tree_ok(input: &[u8]) -> badalloc_report::TargetReport {
    let files = common::fuzz_tree::decode(input);
    let dir = tempfile::tempdir().unwrap();
    common::fuzz_tree::write(&files, dir.path()).unwrap();
    let options = badalloc_audit_core::ScanOptions {
        jobs: Some(1),
        progress: None,
    };
    let mut report = common::scan(&[dir.path().to_path_buf()], &options);
    let t = report.targets.remove(0);
    assert_ne!(t.verdict, badalloc_report::Verdict::Error, "{:?}", t.errors);
    assert_eq!(t.stats.files, files.len() as u64);
    for e in &t.errors {
        assert!(!e.path.starts_with('/'), "{e:?}");
    }
    t
}

/// scan_tree's seed shapes (tests/fuzz_seeds.rs) go through the target's path: a C library
/// in lib/, an IFS of 32 entries on its extent, a tar and a gzip of what came before, a raw
/// dump of it all; QNX6 images of one block repeated, as links and as inodes.
#[test]
fn scan_tree_inputs_scan_cleanly() {
    use common::fuzz_tree::encode;
    let libc = std::fs::read(common::fixture("qnx/x86_64/libc.so.3")).unwrap();
    let t = scan_tree_ok(&encode(
        0,
        &[
            (3 << 3, &libc),
            (4 | 1 << 5, &libc),
            (2, b"payload"),
            (5, b""),
            (6, b"end"),
        ],
    ));
    assert!(
        t.libc.iter().any(|l| l.path == "lib/libc.so.0"),
        "{:?}",
        t.libc
    );
    let ifs = t.images.iter().find(|i| i.path == "f1").expect("the IFS");
    assert_eq!(ifs.same_content.len(), 32);
    // The dump: the IFS carved out of it, after the library.
    assert!(
        t.images
            .iter()
            .any(|i| i.path == "f4@0x2000" && i.kind == "ifs"),
        "{:?}",
        t.images.iter().map(|i| &i.path).collect::<Vec<_>>()
    );
    let t = scan_tree_ok(&encode(0, &[(7, &[15, 3]), (7 | 4 << 5, &[7, 1])]));
    let links = t.images.iter().find(|i| i.path == "f0").expect("qnx6");
    assert_eq!(links.same_content.len(), 15);
    assert_eq!(t.stats.image_files, 1 + 8);
}

/// scan_image: an ARM ELF whose calloc chain reaches an encoding on which yaxpeax-arm 0.5
/// panics ("register number out of range", armv7.rs:585). The ARM lifter contains the panic
/// (`guard::contain` around the decode): that instruction is undecodable, the analysis
/// decides what it can (the unguarded product reaches malloc before it), and the scan goes
/// on. The damaged section table is an error with its offset, and nothing reads as safe.
#[test]
fn scan_image_arm_decoder_panic_is_contained() {
    let t = scan_ok("scan_image-arm-decoder-panic.bin");
    let calloc = t
        .binaries
        .iter()
        .find_map(|b| b.static_calloc.clone())
        .or_else(|| t.libc.first().map(|l| l.calloc.clone()))
        .expect("the file's calloc is still reported");
    assert!(!calloc.reason.is_empty());
    assert_ne!(calloc.verdict, CallocVerdict::Checked, "{}", calloc.reason);
    assert!(
        matches!(t.verdict, Verdict::Affected | Verdict::Inconclusive),
        "{:?}: {:?}",
        t.verdict,
        t.reasons
    );
    let table = t
        .errors
        .iter()
        .find(|e| e.message.contains("section header table"))
        .unwrap_or_else(|| panic!("{:?}", t.errors));
    assert_eq!(table.offset, Some(0x8a8), "{table:?}");
    assert!(
        t.errors.iter().all(|e| e.offset.is_some()),
        "{:?}",
        t.errors
    );
}

/// The same input through the calloc analysis itself: no panic escapes it either, and the
/// undecodable code is never taken for a test.
#[test]
fn calloc_arm_decoder_panic_does_not_escape_the_analysis() {
    let data = repro("scan_image-arm-decoder-panic.bin");
    let elf = ElfFile::parse(&data).unwrap();
    let r = std::panic::catch_unwind(|| badalloc_calloc::analyze_calloc(&elf));
    let a = r
        .expect("calloc analysis panicked")
        .expect("the file defines calloc");
    assert_ne!(a.verdict, CallocVerdict::Checked, "{}", a.reason);
    assert!(!a.reason.is_empty());
}
