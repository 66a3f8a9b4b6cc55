//! Shared test helpers: corpus access, and (`skip.rs`) every skip of the suite.
#![allow(dead_code)]

pub mod amplify;
pub mod archive;
pub mod browser;
pub mod dense_qnx4;
pub mod dumps;
pub mod efs_writer;
pub mod elf_writer;
pub mod etfs_writer;
pub mod fuzz_tree;
pub mod ifs_writer;
pub mod mutants;
pub mod qnx6_writer;
mod skip;
pub mod tree;

#[allow(unused_imports)]
pub use archive::{gzip, tar, tar_header, tar_header_of_name, tar_of_names};
pub use skip::*;

use std::path::PathBuf;

/// Read a corpus file, or skip (see [`skip_missing`]) and return None.
pub fn corpus(rel: &str) -> Option<Vec<u8>> {
    let p = corpus_dir().join(rel);
    match std::fs::read(&p) {
        Ok(d) => Some(d),
        Err(e) => {
            skip_missing(Lack::Corpus, &format!("corpus file {} ({e})", p.display()));
            None
        }
    }
}

pub fn sha256_hex(d: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(d);
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Path of a corpus file (see [`corpus_dir`]; CI has it beside the checkout), or None
/// after [`skip_missing`].
pub fn corpus_path(rel: &str) -> Option<PathBuf> {
    let p = corpus_dir().join(rel);
    if p.exists() {
        Some(p)
    } else {
        skip_missing(
            Lack::Corpus,
            &format!("corpus file {} is absent", p.display()),
        );
        None
    }
}

/// The real C libraries of `fixtures/download-debian.sh`: `$BADALLOC_DOWNLOADS`, else
/// `fixtures/.downloads`.
pub fn downloads_dir() -> PathBuf {
    match std::env::var_os("BADALLOC_DOWNLOADS") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => fixture(".downloads"),
    }
}

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// The report of `badalloc-audit scan` (default options) on one PATH.
pub fn scan_path(path: &std::path::Path) -> badalloc_report::TargetReport {
    scan(
        &[path.to_path_buf()],
        &badalloc_audit_core::ScanOptions::default(),
    )
    .targets
    .remove(0)
}

/// The report of `badalloc-audit scan` on the PATHs: the audit's findings as the report
/// gives them (the wire types of the JSON contract).
pub fn scan(
    paths: &[PathBuf],
    options: &badalloc_audit_core::ScanOptions,
) -> badalloc_report::Report {
    badalloc_report::Report::from(badalloc_audit_core::scan(paths, options))
}

/// The report of one file's bytes examined in memory (`scan::scan_bytes`).
pub fn scan_bytes(name: &str, bytes: &[u8]) -> badalloc_report::TargetReport {
    badalloc_report::TargetReport::from(badalloc_audit_core::scan::scan_bytes(name, bytes))
}

/// The images `scan` examined at the top level of a file: (offset, kind, state), sorted.
pub fn scanned_images(
    t: &badalloc_report::TargetReport,
) -> Vec<(u64, String, badalloc_report::ImageState)> {
    t.images
        .iter()
        .filter(|i| !i.path.contains("!/"))
        .map(|i| (i.offset.unwrap_or(0), i.kind.clone(), i.state))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The images `ls` lists for a file: (offset, kind, state), sorted.
pub fn listed_images(path: &std::path::Path) -> Vec<(u64, String, badalloc_report::ImageState)> {
    let mut v: Vec<_> = badalloc_audit_core::image_cmd::list(path)
        .unwrap()
        .images
        .into_iter()
        .map(|i| (i.offset, i.kind.name().to_string(), i.state))
        .collect();
    v.sort();
    v
}
