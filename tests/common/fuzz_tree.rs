//! The input of the `scan_tree` fuzz target, decoded into a small tree of files (shared by
//! fuzz/src/lib.rs, which includes this file, and by tests/fuzz_seeds.rs and
//! tests/fuzz_regressions.rs, so seeds and reproducers go through the same decoding).
//!
//! Layout: byte 0 holds flags (bit 0: also scan the whole input as one dump); then records
//! `[op][len: u16 LE][body: len bytes]` until the input ends (a short last body is taken as
//! it is). `op` bits 0–2 say how the file is made from the body, bits 3–4 its directory,
//! bits 5–7 a parameter `p`:
//!
//! | op & 7 | file |
//! |---|---|
//! | 0 | the body |
//! | 1 | the body, gzipped |
//! | 2 | a tar of the files before and the body |
//! | 3 | the body repeated to (p + 1) × 64 KiB |
//! | 4 | a zlib IFS: the body as file `blob` and 16 << (p & 3) entries on its extent (p & 4: each one byte further in) |
//! | 5 | the file before, gzipped (nesting), or the body |
//! | 6 | a raw dump: 4 KiB of erased flash, the files before (each at a 4 KiB boundary), the body, erased flash up to 64 KiB |
//! | 7 | a QNX6 image of 1 + body[0] % 64 entries of (1 + body[1]) << (12 + (p & 3)) bytes of one block repeated (p & 4: an inode each) |
//!
//! Directories: `""`, `proc/boot/`, `etc/rc.d/` (startup scripts), `lib/` (files named
//! `libc.so.N`). At most [`MAX_FILES`] files and [`MAX_TREE_BYTES`] bytes: the scan of the
//! tree, with the scanner's real limits, is what is fuzzed, not the generators.
#![allow(dead_code)]

use std::path::Path;

use super::amplify;
use super::ifs_writer::Comp;

/// Files in one tree.
pub const MAX_FILES: usize = 16;
/// Bytes of all the files of one tree.
pub const MAX_TREE_BYTES: usize = 48 << 20;

/// One file of the tree: its path under the tree's root and its bytes.
pub struct TreeFile {
    pub path: String,
    pub data: Vec<u8>,
}

/// Whether the whole input is also to be scanned as one dump.
pub fn scan_as_dump(input: &[u8]) -> bool {
    input.first().is_some_and(|f| f & 1 != 0)
}

/// The tree an input stands for.
pub fn decode(input: &[u8]) -> Vec<TreeFile> {
    let mut files: Vec<TreeFile> = Vec::new();
    let mut total = 0usize;
    let mut rest = input.get(1..).unwrap_or(&[]);
    while let [op, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (body, after) = tail.split_at(len);
        rest = after;
        if files.len() >= MAX_FILES {
            break;
        }
        let data = make(*op, body, &files);
        total += data.len();
        if total > MAX_TREE_BYTES {
            break;
        }
        let i = files.len();
        let path = match (op >> 3) & 3 {
            0 => format!("f{i}"),
            1 => format!("proc/boot/f{i}"),
            2 => format!("etc/rc.d/rc{i}"),
            _ => format!("lib/libc.so.{i}"),
        };
        files.push(TreeFile { path, data });
    }
    files
}

/// The bytes of one file (see the module docs).
fn make(op: u8, body: &[u8], before: &[TreeFile]) -> Vec<u8> {
    let p = usize::from(op >> 5);
    match op & 7 {
        0 => body.to_vec(),
        1 => super::gzip(body),
        2 => {
            let mut entries: Vec<(&str, &[u8])> = before
                .iter()
                .map(|f| (f.path.as_str(), f.data.as_slice()))
                .collect();
            entries.push(("payload", body));
            super::tar(&entries)
        }
        3 => {
            let want = (p + 1) << 16;
            if body.is_empty() {
                return vec![0; want];
            }
            body.iter().copied().cycle().take(want).collect()
        }
        4 => amplify::shared_extent_ifs(16 << (p & 3), body, usize::from(p & 4 != 0), Comp::Zlib),
        5 => super::gzip(before.last().map_or(body, |f| &f.data)),
        6 => {
            let mut dump = vec![0xff; 4096];
            for f in before {
                dump.extend_from_slice(&f.data);
                dump.resize(dump.len().div_ceil(4096) * 4096, 0xff);
            }
            dump.extend_from_slice(body);
            dump.resize(dump.len().max(64 << 10), 0xff);
            dump
        }
        _ => {
            let entries = 1 + usize::from(body.first().copied().unwrap_or(0) % 64);
            let blocks = 1 + u64::from(body.get(1).copied().unwrap_or(0));
            amplify::repeated_block_qnx6(entries, blocks << (12 + (p & 3)), p & 4 != 0)
        }
    }
}

/// Write the tree under `root` (which must exist and be empty).
pub fn write(files: &[TreeFile], root: &Path) -> std::io::Result<()> {
    for f in files {
        let p = root.join(&f.path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, &f.data)?;
    }
    Ok(())
}

/// An input for [`decode`]: `flags`, then one record per `(op, body)` (for seeds).
pub fn encode(flags: u8, records: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = vec![flags];
    for (op, body) in records {
        let body = &body[..body.len().min(usize::from(u16::MAX))];
        out.push(*op);
        out.extend_from_slice(&(body.len() as u16).to_le_bytes());
        out.extend_from_slice(body);
    }
    out
}
