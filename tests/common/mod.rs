//! Shared test helpers: corpus access, and (`skip.rs`) every skip of the suite.
#![allow(dead_code)]

pub mod browser;
pub mod dumps;
pub mod efs_writer;
pub mod elf_writer;
pub mod etfs_writer;
pub mod ifs_writer;
pub mod qnx6_writer;
mod skip;
pub mod tree;

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

/// A ustar archive of regular files (name ≤ 100 bytes), ended by two zero blocks.
pub fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let named: Vec<(&[u8], &[u8])> = files.iter().map(|(n, d)| (n.as_bytes(), *d)).collect();
    tar_of_names(&named)
}

/// [`tar`] with names of any bytes (not UTF-8, control characters).
pub fn tar_of_names(files: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        out.extend_from_slice(&tar_header_of_name(name, b'0', data.len() as u64, ""));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// One ustar header block (valid checksum).
pub fn tar_header(name: &str, typeflag: u8, size: u64, link: &str) -> [u8; 512] {
    tar_header_of_name(name.as_bytes(), typeflag, size, link)
}

/// [`tar_header`] with a name of any bytes.
pub fn tar_header_of_name(name: &[u8], typeflag: u8, size: u64, link: &str) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = typeflag;
    let l = link.len().min(100);
    h[157..157 + l].copy_from_slice(&link.as_bytes()[..l]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The report of `badalloc-audit scan` (default options) on one PATH.
pub fn scan_path(path: &std::path::Path) -> badalloc_audit::report::TargetReport {
    badalloc_audit::scan(
        &[path.to_path_buf()],
        &badalloc_audit::ScanOptions::default(),
    )
    .targets
    .remove(0)
}

/// The images `scan` examined at the top level of a file: (offset, kind, state), sorted.
pub fn scanned_images(
    t: &badalloc_audit::report::TargetReport,
) -> Vec<(u64, String, badalloc_audit::report::ImageState)> {
    t.images
        .iter()
        .filter(|i| !i.path.contains("!/"))
        .map(|i| (i.offset.unwrap_or(0), i.kind.clone(), i.state))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The images `ls` lists for a file: (offset, kind, state), sorted.
pub fn listed_images(
    path: &std::path::Path,
) -> Vec<(u64, String, badalloc_audit::report::ImageState)> {
    let mut v: Vec<_> = badalloc_audit::image_cmd::list(path)
        .unwrap()
        .images
        .into_iter()
        .map(|i| (i.offset, i.kind.name().to_string(), i.state))
        .collect();
    v.sort();
    v
}
