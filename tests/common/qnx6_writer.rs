//! A minimal QNX6 file-system writer for tests: little-endian, 4 KiB blocks, a boot block,
//! two CRC-valid superblocks (the second after the last data block, as mkqnx6fs puts it),
//! an inode table, directories made for every path, files of up to 16 × 1024 blocks (one
//! level of pointer blocks). Layout as `src/container/qnx6.rs` documents it.

use badalloc_audit::container::qnx6::crc32_qnx6;

const BS: usize = 4096;
/// Boot block, then superblock 0 at 0x2000 in its 0x1000 area; blocks start at 0x3000.
const SB0: usize = 0x2000;
const DATA: usize = 0x3000;
const NONE: u32 = u32::MAX;

/// An object laid out in blocks: size, root pointers and levels, as a superblock root node
/// or an inode stores them.
struct Tree {
    size: u64,
    ptrs: [u32; 16],
    levels: u8,
}

struct Fs {
    blocks: Vec<[u8; BS]>,
}

impl Fs {
    fn alloc(&mut self, data: &[u8]) -> u32 {
        let mut b = [0u8; BS];
        b[..data.len()].copy_from_slice(data);
        self.blocks.push(b);
        (self.blocks.len() - 1) as u32
    }

    /// Store `data` and return its tree: direct pointers up to 16 blocks, else one level
    /// of pointer blocks.
    fn store(&mut self, data: &[u8]) -> Tree {
        let blocks: Vec<u32> = data.chunks(BS).map(|c| self.alloc(c)).collect();
        let mut ptrs = [NONE; 16];
        let levels = if blocks.len() <= 16 {
            ptrs[..blocks.len()].copy_from_slice(&blocks);
            0
        } else {
            assert!(
                blocks.len() <= 16 * (BS / 4),
                "file too large for the test writer"
            );
            for (i, chunk) in blocks.chunks(BS / 4).enumerate() {
                let mut p = vec![0xffu8; BS];
                for (k, b) in chunk.iter().enumerate() {
                    p[4 * k..4 * k + 4].copy_from_slice(&b.to_le_bytes());
                }
                ptrs[i] = self.alloc(&p);
            }
            1
        };
        Tree {
            size: data.len() as u64,
            ptrs,
            levels,
        }
    }
}

fn put_tree(at: &mut [u8], t: &Tree, levels_at: usize) {
    at[..8].copy_from_slice(&t.size.to_le_bytes());
    for (i, p) in t.ptrs.iter().enumerate() {
        at[8 + 4 * i..12 + 4 * i].copy_from_slice(&p.to_le_bytes());
    }
    at[levels_at] = t.levels;
}

/// 128-byte inode: size, mode at 32, pointers at 36, levels at 100.
fn inode(t: &Tree, mode: u16) -> [u8; 128] {
    let mut i = [0u8; 128];
    i[..8].copy_from_slice(&t.size.to_le_bytes());
    i[32..34].copy_from_slice(&mode.to_le_bytes());
    for (k, p) in t.ptrs.iter().enumerate() {
        i[36 + 4 * k..40 + 4 * k].copy_from_slice(&p.to_le_bytes());
    }
    i[100] = t.levels;
    i
}

fn dirent(ino: u32, name: &str) -> [u8; 32] {
    assert!(name.len() <= 27);
    let mut d = [0u8; 32];
    d[..4].copy_from_slice(&ino.to_le_bytes());
    d[4] = name.len() as u8;
    d[5..5 + name.len()].copy_from_slice(name.as_bytes());
    d
}

/// A QNX6 file system holding `files` (paths with `/`, directories made as needed).
pub fn build(files: &[(&str, &[u8])]) -> Vec<u8> {
    // Inode numbers: 1 is the root; directories and files in order of appearance.
    let mut dirs: Vec<(String, Vec<(u32, String)>)> = vec![(String::new(), Vec::new())];
    let mut nodes: Vec<(u16, Option<usize>)> = vec![(0o40755, Some(0))]; // (mode, dir index)
    let mut contents: Vec<Option<&[u8]>> = vec![None];
    for (path, data) in files {
        let mut parent = 0usize;
        let parts: Vec<&str> = path.split('/').collect();
        for (k, part) in parts.iter().enumerate() {
            let full = parts[..=k].join("/");
            if k + 1 == parts.len() {
                nodes.push((0o100755, None));
                contents.push(Some(data));
                let ino = nodes.len() as u32;
                dirs[parent].1.push((ino, part.to_string()));
            } else if let Some(d) = dirs.iter().position(|(p, _)| *p == full) {
                parent = d;
            } else {
                dirs.push((full, Vec::new()));
                nodes.push((0o40755, Some(dirs.len() - 1)));
                contents.push(None);
                let ino = nodes.len() as u32;
                dirs[parent].1.push((ino, part.to_string()));
                parent = dirs.len() - 1;
            }
        }
    }
    let mut fs = Fs { blocks: Vec::new() };
    let mut table = Vec::new();
    for (n, (mode, dir)) in nodes.iter().enumerate() {
        let ino = n as u32 + 1;
        let bytes: Vec<u8> = match dir {
            Some(d) => {
                let mut b = Vec::new();
                b.extend_from_slice(&dirent(ino, "."));
                b.extend_from_slice(&dirent(1, ".."));
                for (child, name) in &dirs[*d].1 {
                    b.extend_from_slice(&dirent(*child, name));
                }
                b
            }
            None => contents[n].unwrap_or_default().to_vec(),
        };
        let tree = fs.store(&bytes);
        table.extend_from_slice(&inode(&tree, *mode));
    }
    let inodes = fs.store(&table);
    let num_blocks = fs.blocks.len();
    let sb1 = DATA + num_blocks * BS;
    let mut out = vec![0u8; sb1 + 0x1000];
    out[..4].copy_from_slice(&[0xeb, 0x10, 0x90, 0x00]);
    out[8..12].copy_from_slice(&((SB0 / 512) as u32).to_le_bytes());
    out[12..16].copy_from_slice(&((sb1 / 512) as u32).to_le_bytes());
    for (n, b) in fs.blocks.iter().enumerate() {
        out[DATA + n * BS..DATA + (n + 1) * BS].copy_from_slice(b);
    }
    for (at, serial) in [(SB0, 1u64), (sb1, 2)] {
        let sb = &mut out[at..at + 512];
        sb[..4].copy_from_slice(&0x6819_1122u32.to_le_bytes());
        sb[8..16].copy_from_slice(&serial.to_le_bytes());
        sb[48..52].copy_from_slice(&(BS as u32).to_le_bytes());
        sb[52..56].copy_from_slice(&(nodes.len() as u32).to_le_bytes());
        sb[60..64].copy_from_slice(&(num_blocks as u32).to_le_bytes());
        put_tree(&mut sb[72..152], &inodes, 72);
        put_tree(
            &mut sb[232..312],
            &Tree {
                size: 0,
                ptrs: [NONE; 16],
                levels: 0,
            },
            72,
        );
        let crc = crc32_qnx6(&sb[8..512]);
        sb[4..8].copy_from_slice(&crc.to_le_bytes());
    }
    out
}
