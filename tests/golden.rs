//! Golden outputs: the JSON, SARIF and CycloneDX reports of every corpus image and of the
//! bundled fixture trees, compared byte for byte with the files committed in `tests/golden/`.
//! They hold behaviour still while the code moves (issue 18) and while it gets faster
//! (issue 21): any change in what a report says shows up here as a diff.
//!
//! After a change that alters a report on purpose, regenerate and review the diff:
//! `UPDATE_GOLDEN=1 cargo test --test golden`, then `git diff tests/golden`.
//!
//! Each target is scanned from its own directory under a relative name, so the paths in
//! the reports do not depend on where the checkout or the corpus lives.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const FORMATS: [(&str, &str); 3] = [
    ("json", "json"),
    ("sarif", "sarif.json"),
    ("cyclonedx", "cdx.json"),
];

/// Corpus files (relative to `../shared/corpus`).
const CORPUS: [&str; 12] = [
    "qnx/openqnx-641-x86.ifs",
    "qnx/openqnx-641-x86-libc.so.3",
    "qnx/openqnx-qnx4fs.img",
    "qnx/sdp660-armle-omap5-sd.ifs",
    "qnx/sdp660-x86-libc.so.3",
    "qnx/sdp660-x86-procnto",
    "qnx6/qnxmount-test_image.bin",
    "flash/qnxmount-efs-test_image.bin",
    "flash/qnxmount-etfs-test_image.bin",
    "static/mib2-gzip.stripped-static",
    "static/mib2-xxd.stripped-static",
    "qnx6/qnxmount-test_image.tar.gz",
];

/// Fixture trees and files (relative to `fixtures/`).
const FIXTURES: [&str; 5] = [
    "example/qnx650-device",
    "example/qnx710-device",
    "example/linux-device",
    "qnx",
    "calloc",
];

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// `scan --format FORMAT NAME` run in `dir`; the report on stdout.
fn report(dir: &Path, name: &str, format: &str) -> Vec<u8> {
    let out = Command::new(assert_cmd::cargo::cargo_bin("badalloc-audit"))
        .current_dir(dir)
        .args(["scan", "-q", "--jobs", "2", "--format", format, name])
        .output()
        .expect("run badalloc-audit");
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1 | 3)),
        "{name} --format {format}: status {code:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The golden file's name: the target's path with `/` as `__`, then the format's suffix.
fn golden_name(group: &str, rel: &str, suffix: &str) -> String {
    format!("{group}__{}.{suffix}", rel.replace('/', "__"))
}

/// Compares (or, with UPDATE_GOLDEN=1, writes) every format of one target; returns the
/// mismatches as human-readable lines.
fn check(group: &str, rel: &str, base: &Path) -> Vec<String> {
    let path = base.join(rel);
    let dir = path.parent().expect("a parent");
    let name = path.file_name().expect("a name").to_string_lossy();
    let mut mismatches = Vec::new();
    for (format, suffix) in FORMATS {
        let got = report(dir, &name, format);
        let file = golden_dir().join(golden_name(group, rel, suffix));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(golden_dir()).expect("create tests/golden");
            std::fs::write(&file, &got).expect("write golden file");
            continue;
        }
        match std::fs::read(&file) {
            Ok(want) if want == got => {}
            Ok(want) => mismatches.push(format!(
                "{rel} --format {format}: differs from {} ({} bytes now, {} committed); first \
                 difference at byte {}",
                file.display(),
                got.len(),
                want.len(),
                got.iter()
                    .zip(&want)
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.len().min(want.len()))
            )),
            Err(e) => mismatches.push(format!("{}: {e}", file.display())),
        }
    }
    mismatches
}

#[test]
fn corpus_reports_match_the_committed_outputs() {
    let mut mismatches = Vec::new();
    for rel in CORPUS {
        if common::corpus_path(rel).is_none() {
            continue;
        }
        mismatches.extend(check("corpus", rel, &common::corpus_dir()));
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn fixture_reports_match_the_committed_outputs() {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut mismatches = Vec::new();
    for rel in FIXTURES {
        mismatches.extend(check("fixtures", rel, &base));
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Every committed golden file belongs to a target listed above (a renamed target would
/// otherwise leave a stale file that checks nothing).
#[test]
fn every_golden_file_is_checked() {
    let mut expected: Vec<String> = Vec::new();
    for (group, list) in [("corpus", &CORPUS[..]), ("fixtures", &FIXTURES[..])] {
        for rel in list {
            for (_, suffix) in FORMATS {
                expected.push(golden_name(group, rel, suffix));
            }
        }
    }
    let Ok(entries) = std::fs::read_dir(golden_dir()) else {
        panic!("tests/golden is missing: run UPDATE_GOLDEN=1 cargo test --test golden");
    };
    for e in entries {
        let name = e.expect("read tests/golden").file_name();
        let name = name.to_string_lossy();
        assert!(
            expected.iter().any(|x| *x == name),
            "stale golden file {name}"
        );
    }
}
