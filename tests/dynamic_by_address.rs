//! The dynamic segment is read where its address maps, as the loader reads it (issue 15.2):
//! mkifs-packed boot-image programs record PT_DYNAMIC at a file offset a few bytes off.

mod common;

use std::path::{Path, PathBuf};

use badalloc_audit_core::ScanOptions;
use badalloc_report::{BinaryReport, TargetReport};
use common::scan;

fn scan_one(path: &Path) -> TargetReport {
    scan(&[path.to_path_buf()], &ScanOptions::default())
        .targets
        .remove(0)
}

/// Every regular file under the corpus directory, in a stable order.
fn corpus_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![common::corpus_dir()];
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => dirs.push(p),
                Ok(t) if t.is_file() && p.extension().is_none_or(|x| x != "md") => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

fn binary<'t>(t: &'t TargetReport, suffix: &str) -> &'t BinaryReport {
    t.binaries
        .iter()
        .find(|b| b.path.ends_with(suffix))
        .unwrap_or_else(|| panic!("{suffix} not in {}", t.path))
}

/// The invariant of the issue: a program that names a runtime linker has dynamic
/// dependencies. Checked on every real image and loose file of the corpus.
#[test]
fn every_program_with_an_interpreter_has_needed_libraries() {
    let files = corpus_files();
    if files.is_empty() {
        common::skip_missing(
            common::Lack::Corpus,
            &format!("no corpus at {}", common::corpus_dir().display()),
        );
        return;
    }
    let mut programs = 0;
    let mut empty = Vec::new();
    for f in &files {
        let t = scan_one(f);
        for b in t.binaries.iter().filter(|b| b.interpreter.is_some()) {
            programs += 1;
            if b.needed.is_empty() {
                empty.push(b.path.clone());
            }
        }
    }
    // 20 in the 6.4.1 image (twice: alone and inside the QNX4 image), 17 in the 6.6 ARM one.
    assert!(programs >= 57, "only {programs} programs with PT_INTERP");
    assert!(empty.is_empty(), "programs with empty `needed`: {empty:?}");
}

#[test]
fn qconn_and_tftpd_of_the_641_image_import_the_network_and_are_advised_on() {
    let Some(path) = common::corpus_path("qnx/openqnx-641-x86.ifs") else {
        return;
    };
    let t = scan_one(&path);
    let qconn = binary(&t, "proc/boot/qconn");
    assert_eq!(qconn.needed, ["libsocket.so.2", "libc.so.3"]);
    assert!(qconn.imports_calloc);
    assert!(qconn.network, "{:?}", qconn.network_imports);
    // The evidence names the disagreement and where the table was read.
    assert_eq!(qconn.located_by_address.len(), 1);
    let m = &qconn.located_by_address[0];
    assert_eq!(m.segment, "PT_DYNAMIC");
    assert_eq!(m.address, "0x8065670");
    assert_eq!((m.recorded_offset, m.offset_used), (0x1c670, 0x1c66d));
    let tftpd = binary(&t, "proc/boot/tftpd");
    assert!(tftpd.network_imports.iter().any(|i| i == "recvfrom"));
    for service in ["proc/boot/qconn", "proc/boot/tftpd"] {
        let e = t
            .exposure
            .iter()
            .find(|e| e.path.ends_with(service))
            .unwrap_or_else(|| panic!("{service} not ranked: {:?}", t.exposure));
        assert!(e.network && e.named_service, "{e:?}");
        assert!(
            t.mitigations.iter().any(|m| m.contains(service)),
            "{service} missing from the advice: {:?}",
            t.mitigations
        );
    }
    // ping too was read without imports before.
    assert!(binary(&t, "proc/boot/ping").network);
    // Files whose offsets agree are not flagged.
    assert!(binary(&t, "proc/boot/ls").located_by_address.is_empty());
}

#[test]
fn sdp660_arm_image_programs_are_read_through_their_addresses() {
    let Some(path) = common::corpus_path("qnx/sdp660-armle-omap5-sd.ifs") else {
        return;
    };
    let t = scan_one(&path);
    let moved: Vec<&BinaryReport> = t
        .binaries
        .iter()
        .filter(|b| !b.located_by_address.is_empty())
        .collect();
    assert_eq!(
        moved.len(),
        17,
        "{:?}",
        moved.iter().map(|b| &b.path).collect::<Vec<_>>()
    );
    let ksh = binary(&t, "proc/boot/ksh");
    assert_eq!(ksh.located_by_address[0].recorded_offset, 0x1cf30);
    assert_eq!(ksh.located_by_address[0].offset_used, 0x1c664);
    assert!(
        ksh.needed.iter().any(|n| n == "libc.so.3"),
        "{:?}",
        ksh.needed
    );
    assert!(t.errors.is_empty(), "{:?}", t.errors);
}
