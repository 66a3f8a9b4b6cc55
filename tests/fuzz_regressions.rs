//! Every crash and hang the fuzz targets (fuzz/, `fuzz/run.sh`) found, replayed through the
//! same code path. Reproducers are in tests/data/fuzz/ (and, for the calloc analysis, which
//! is handed over to its owner, fuzz/regressions/calloc-*).

mod common;

use std::path::PathBuf;

use badalloc_audit::calloc::CallocVerdict;
use badalloc_audit::elf::ElfFile;
use badalloc_audit::report::Verdict;
use badalloc_audit::scan::scan_bytes;

fn repro(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Scan a reproducer in memory: no panic escapes, every error names the file.
fn scan_ok(name: &str) -> badalloc_audit::report::TargetReport {
    let data = repro(name);
    let t = scan_bytes(name, &data);
    for e in &t.errors {
        assert!(e.path.starts_with(name), "{e:?}");
    }
    t
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
    let r = std::panic::catch_unwind(|| badalloc_audit::calloc::analyze_calloc(&elf));
    let a = r
        .expect("calloc analysis panicked")
        .expect("the file defines calloc");
    assert_ne!(a.verdict, CallocVerdict::Checked, "{}", a.reason);
    assert!(!a.reason.is_empty());
}
