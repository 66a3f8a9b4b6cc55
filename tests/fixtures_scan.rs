//! Triage on the generated QNX-like fixtures (fixtures/generate.sh), every architecture.

mod common;

use std::path::PathBuf;

use badalloc_audit_core::ScanOptions;
use badalloc_elf::{ElfFile, SymbolSource};
use badalloc_report::{TargetReport, Verdict};
use common::scan;

const ARCHES: &[(&str, &str)] = &[
    ("i686", "x86"),
    ("x86_64", "x86_64"),
    ("arm", "armle"),
    ("aarch64", "aarch64le"),
    ("powerpc", "ppcbe"),
    ("mips", "mipsbe"),
    ("sh4", "shle"),
];

fn scan_one(path: PathBuf) -> TargetReport {
    let mut r = scan(&[path], &ScanOptions::default());
    r.targets.remove(0)
}

fn qnx_dir(arch: &str) -> PathBuf {
    common::fixture(&format!("qnx/{arch}"))
}

#[test]
fn qnx_like_libraries_carry_soname_note_and_qnx_info_on_every_arch() {
    for (arch, name) in ARCHES {
        for (lib, version) in [
            ("libc.so.3", "6.5.0"),
            ("libc.so.4", "7.0.0"),
            ("libc.so.5", "7.1.0"),
        ] {
            let path = qnx_dir(arch).join(lib);
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let elf = ElfFile::parse(&data).unwrap();
            assert_eq!(elf.arch_name(), *name, "{}", path.display());
            assert_eq!(elf.soname, Some(lib), "{}", path.display());
            assert!(elf.qnx_note.is_some(), "{}: no QNX note", path.display());
            assert_eq!(
                elf.qnx_info_value("VERSION"),
                Some(version),
                "{}",
                path.display()
            );
            assert!(elf.defined_symbol("calloc").is_some(), "{}", path.display());
        }
    }
}

#[test]
fn boot_image_style_libc_without_section_headers_still_yields_symbols() {
    for (arch, _) in ARCHES {
        let path = qnx_dir(arch).join("ifs/libc.so.3");
        let data = std::fs::read(&path).unwrap();
        let elf = ElfFile::parse(&data).unwrap();
        assert!(
            elf.symbols
                .iter()
                .all(|s| s.source == SymbolSource::Dynamic),
            "{}: .symtab should be gone",
            path.display()
        );
        for sym in ["calloc", "__calloc", "malloc"] {
            assert!(
                elf.defined_symbol(sym).is_some() || elf.imports_symbol(sym),
                "{}: {sym}",
                path.display()
            );
        }
        assert_eq!(
            elf.qnx_info_value("VERSION"),
            Some("6.5.0"),
            "{}",
            path.display()
        );
    }
}

#[test]
fn per_arch_tree_inventory() {
    for (arch, name) in ARCHES {
        let t = scan_one(qnx_dir(arch));
        let ctx = format!("{arch}: {:#?}", t.reasons);
        assert_eq!(t.os.family.as_deref(), Some("qnx"), "{ctx}");
        assert_eq!(
            t.os.release.as_deref(),
            Some("6.5.0"),
            "kernel release must win: {ctx}"
        );
        let bin = |n: &str| {
            t.binaries
                .iter()
                .find(|b| b.path == n)
                .unwrap_or_else(|| panic!("{arch}: no {n}"))
        };
        let telnetd = bin("telnetd");
        assert!(
            telnetd.network && telnetd.imports_calloc,
            "{arch}: {telnetd:?}"
        );
        assert!(
            telnetd
                .interpreter
                .as_deref()
                .is_some_and(|i| i.contains("ldqnx")),
            "{arch}"
        );
        assert_eq!(telnetd.libc.as_deref(), Some("libc.so.3"));
        assert_eq!(telnetd.arch, *name);
        let ls = bin("ls");
        assert!(!ls.network, "{arch}: ls is not network-facing");
        let ser = bin("devc-ser8250");
        assert_eq!(ser.libc.as_deref(), Some("static"));
        assert!(
            ser.static_calloc.is_some(),
            "{arch}: the static copy of calloc must be found"
        );
    }
}

#[test]
fn example_qnx650_device() {
    let t = scan_one(common::fixture("example/qnx650-device"));
    assert_eq!(t.kind, "directory");
    assert_eq!(t.os.release.as_deref(), Some("6.5.0"));
    assert_eq!(format!("{:?}", t.os.confidence), "High");
    let kinds: Vec<&str> = t.os.evidence.iter().map(|e| e.kind.as_str()).collect();
    for k in [
        "procnto-release",
        "qnx-info",
        "interpreter",
        "compiler",
        "qnx-note",
        "libc-soname",
    ] {
        assert!(kinds.contains(&k), "missing {k}: {kinds:?}");
    }
    assert_eq!(t.symlinks.len(), 1);
    assert_eq!(t.symlinks[0].path, "usr/lib/ldqnx.so.2");
    assert_eq!(t.libc.len(), 1);
    assert!(t.libc[0].qnx);
    let net: Vec<&str> = t
        .binaries
        .iter()
        .filter(|b| b.network)
        .map(|b| b.path.as_str())
        .collect();
    assert_eq!(net, ["usr/sbin/qconn", "usr/sbin/telnetd"]);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
}

#[test]
fn example_qnx710_device_is_decided_by_its_release() {
    let t = scan_one(common::fixture("example/qnx710-device"));
    assert_eq!(t.os.release.as_deref(), Some("7.1.0"));
    assert_eq!(t.libc[0].soname.as_deref(), Some("libc.so.5"));
    assert_eq!(t.verdict, Verdict::NotAffected, "{:?}", t.reasons);
}

#[test]
fn glibc_libc_so_6_is_not_taken_for_qnx_8() {
    let t = scan_one(common::fixture("example/linux-device"));
    assert_eq!(t.verdict, Verdict::NotQnx, "{:?}", t.reasons);
    assert_eq!(t.os.family, None);
    assert_eq!(t.libc.len(), 1);
    assert_eq!(t.libc[0].soname.as_deref(), Some("libc.so.6"));
    assert!(!t.libc[0].qnx);
    assert!(t
        .os
        .evidence
        .iter()
        .any(|e| e.kind == "libc-soname" && e.detail.contains("not counted")));
    assert!(t.binaries.iter().all(|b| !b.qnx));
}

#[test]
fn newlib_static_program_gets_the_badalloc_family_finding_not_the_qnx_cve() {
    let t = scan_one(common::fixture("calloc/newlib/calloc-newlib-arm.elf"));
    assert_eq!(t.verdict, Verdict::NotQnx);
    let finding = t
        .reasons
        .iter()
        .find(|r| r.starts_with("BADALLOC-CALLOC-UNCHECKED"))
        .expect("finding");
    assert!(finding.contains("newlib"), "{finding}");
    let c = t.binaries[0].static_calloc.as_ref().unwrap();
    assert_eq!(c.chain, ["calloc", "_calloc_r"]);
}

#[test]
fn example_qnx650_device_is_affected_with_ranked_exposure() {
    let t = scan_one(common::fixture("example/qnx650-device"));
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    assert!(
        t.reasons[0].starts_with("R1:"),
        "the code decides first: {:?}",
        t.reasons
    );
    assert!(
        t.reasons
            .iter()
            .any(|r| r.starts_with("R2:") && r.contains("sbin/devc-ser8250")),
        "{:?}",
        t.reasons
    );
    let top: Vec<&str> = t.exposure.iter().take(2).map(|e| e.path.as_str()).collect();
    assert_eq!(top, ["usr/sbin/qconn", "usr/sbin/telnetd"]);
    assert_eq!(
        t.exposure[0].started_by.as_deref(),
        Some("etc/rc.d/rc.local")
    );
    assert!(
        t.mitigations
            .iter()
            .any(|m| m.contains("relink") && m.contains("sbin/devc-ser8250")),
        "{:?}",
        t.mitigations
    );
    assert!(t
        .mitigations
        .iter()
        .any(|m| m.contains("firewall") && m.contains("usr/sbin/telnetd")));
}

/// Files are examined while the walk goes on, by whichever worker is free: the report must
/// not depend on that timing. One thread, four threads and the default give the same JSON,
/// and every regular file the walk lists is counted once.
#[test]
fn report_does_not_depend_on_thread_count_or_walk_timing() {
    let root = common::fixture("");
    let render = |jobs: Option<usize>| {
        let r = scan(
            std::slice::from_ref(&root),
            &ScanOptions {
                jobs,
                ..Default::default()
            },
        );
        (badalloc_report::json::render(&r), r.targets[0].stats.files)
    };
    let (one, files) = render(Some(1));
    let walked = badalloc_audit_core::source::walk(&root)
        .iter()
        .filter(|i| matches!(i, badalloc_audit_core::source::WalkItem::File { .. }))
        .count() as u64;
    assert!(walked > 100, "{walked} files in fixtures/");
    assert_eq!(files, walked);
    for jobs in [Some(4), None] {
        assert_eq!(render(jobs).0, one, "jobs {jobs:?}");
    }
}
