//! tar and gzip writers for tests (and for the fuzz targets' inputs, fuzz/src/lib.rs).
#![allow(dead_code)]

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
