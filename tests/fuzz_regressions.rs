//! Every crash and hang the fuzz targets (fuzz/, `fuzz/run.sh`) found, replayed through the
//! same code path. Reproducers are in tests/data/fuzz/ (and, for the calloc analysis, which
//! is handed over to its owner, fuzz/regressions/calloc-*).

mod common;

use std::path::PathBuf;

use badalloc_audit_core::scan::scan_bytes;
use badalloc_elf::ElfFile;

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

/// scan_image: an ARM ELF whose calloc chain reaches an encoding on which yaxpeax-arm 0.5
/// panics ("register number out of range", armv7.rs:585). The ARM lifter contains the panic
/// (`guard::contain` around the decode): that instruction is undecodable, the analysis
/// decides what it can (here: unknown, with the reason), and the scan goes on.
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
}

/// The same input through the calloc analysis itself: no panic escapes it either.
#[test]
fn calloc_arm_decoder_panic_does_not_escape_the_analysis() {
    let data = repro("scan_image-arm-decoder-panic.bin");
    let elf = ElfFile::parse(&data).unwrap();
    let r = std::panic::catch_unwind(|| badalloc_calloc::analyze_calloc(&elf));
    assert!(r.is_ok(), "calloc analysis panicked");
}
