//! Release from what programs need (issue 15.5): QNX programs that need `libc.so.4` (`.5`,
//! `.6`) or the runtime linker `ldqnx-64.so.2` run only on QNX 7.0 or later, and every such
//! release ships the fixed calloc. A tree of such programs without its C library is
//! "not-affected" by that lower bound; 6.x labels and glibc's `libc.so.6` never make one.

mod common;

use std::path::Path;

use badalloc_audit_core::ScanOptions;
use badalloc_report::{Confidence, TargetReport, Verdict};
use common::scan;

/// A tree holding copies of these fixtures, each at its own path in the tree.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (fixture, at) in files {
        let dst = dir.path().join(at);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(common::fixture(fixture), dst).unwrap();
    }
    dir
}

fn scan_dir(dir: &Path) -> TargetReport {
    scan(&[dir.to_path_buf()], &ScanOptions::default())
        .targets
        .remove(0)
}

fn has_floor_evidence(t: &TargetReport) -> bool {
    t.os.evidence.iter().any(|e| e.kind == "abi-floor")
}

#[test]
fn qnx700_programs_without_their_c_library_are_not_affected_by_the_abi_bound() {
    let dir = tree(&[
        ("qnx/i686/qnx700/ls", "bin/ls"),
        ("qnx/i686/qnx700/qconn", "usr/sbin/qconn"),
        ("qnx/i686/libsocket.so.3", "lib/libsocket.so.3"),
    ]);
    let t = scan_dir(dir.path());
    assert!(t.libc.is_empty(), "no C library in this tree");
    assert_eq!(t.verdict, Verdict::NotAffected, "{:?}", t.reasons);
    assert_eq!(t.os.release_range.as_deref(), Some("7.0 or later"));
    assert_eq!(t.os.confidence, Confidence::Medium);
    let r4 = &t.reasons[0];
    assert!(
        r4.starts_with("R4: QNX release 7.0 or later (a lower bound: "),
        "{r4}"
    );
    assert!(r4.contains("need libc.so.4"), "{r4}");
    assert!(r4.contains("no QNX C library was found"), "{r4}");
    // The labels support it: QNX_info VERSION=7.0.0 of qconn and libsocket, ls's
    // nto-qnx7.0.0 compiler target.
    assert!(r4.contains("3 version labels"), "{r4}");
    let e =
        t.os.evidence
            .iter()
            .find(|e| e.kind == "abi-floor")
            .unwrap();
    assert!(
        e.detail
            .starts_with("QNX 7.0 or later: 3 QNX files need libc.so.4"),
        "{e:?}"
    );
}

#[test]
fn sixty_four_bit_and_7_1_programs_give_their_bound() {
    // aarch64 7.0 programs: interpreter ldqnx-64.so.2 and NEEDED libc.so.4.
    let dir = tree(&[("qnx/aarch64/qnx700/ls", "bin/ls")]);
    let t = scan_dir(dir.path());
    assert_eq!(t.verdict, Verdict::NotAffected, "{:?}", t.reasons);
    assert_eq!(t.os.release_range.as_deref(), Some("7.0 or later"));
    // The 7.1 example's programs (libc.so.5) without the rest of the tree: 7.1 or later.
    let dir = tree(&[
        ("example/qnx710-device/bin/ls", "bin/ls"),
        ("example/qnx710-device/usr/sbin/qconn", "usr/sbin/qconn"),
    ]);
    let t = scan_dir(dir.path());
    assert_eq!(t.verdict, Verdict::NotAffected, "{:?}", t.reasons);
    assert_eq!(t.os.release_range.as_deref(), Some("7.1 or later"));
}

#[test]
fn programs_of_older_releases_or_glibc_make_no_bound() {
    // glibc's libc.so.6 next to a QNX 6.5 program: the glibc need is not QNX's.
    let dir = tree(&[
        ("example/linux-device/bin/hello", "bin/hello"),
        ("qnx/i686/ls", "bin/ls"),
    ]);
    let t = scan_dir(dir.path());
    assert!(!has_floor_evidence(&t), "{:?}", t.os.evidence);
    assert_eq!(t.os.release_range, None);
    assert_eq!(t.verdict, Verdict::Inconclusive, "{:?}", t.reasons);
    // Only Linux programs: not QNX, and no bound.
    let dir = tree(&[("example/linux-device/bin/hello", "bin/hello")]);
    let t = scan_dir(dir.path());
    assert_eq!(t.verdict, Verdict::NotQnx);
    assert!(!has_floor_evidence(&t));
    // 6.5 and 7.0 programs together: the needs disagree, so no bound, and that is said.
    let dir = tree(&[
        ("qnx/i686/qnx700/ls", "bin/ls"),
        ("qnx/i686/ls", "old/bin/ls"),
    ]);
    let t = scan_dir(dir.path());
    assert!(!has_floor_evidence(&t));
    assert_eq!(t.verdict, Verdict::Inconclusive, "{:?}", t.reasons);
    assert!(
        t.os.conflicts
            .iter()
            .any(|c| c.contains("needs libc.so.3") && c.contains("no lower bound")),
        "{:?}",
        t.os.conflicts
    );
}

#[test]
fn a_kernel_release_outranks_the_bound_and_a_vulnerable_libc_still_decides() {
    // The 6.5 device tree plus a 7.0 program: its kernel says 6.5.0, its libc.so.3 is
    // unchecked, and the 7.0 program's need contradicts that libc: no bound, affected (R1).
    let dir = tree(&[
        ("example/qnx650-device/lib/libc.so.3", "lib/libc.so.3"),
        (
            "example/qnx650-device/proc/boot/procnto-smp-instr",
            "proc/boot/procnto-smp-instr",
        ),
        ("qnx/i686/qnx700/ls", "opt/bin/ls"),
    ]);
    let t = scan_dir(dir.path());
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    assert!(t.reasons[0].starts_with("R1:"));
    assert!(!has_floor_evidence(&t));
    assert_eq!(t.os.release.as_deref(), Some("6.5.0"));
}
