//! Builds small EFS partitions for tests and fuzz seeds: two units of `2^unit_pow2` bytes
//! (logical unit 1, and a spare), little-endian, text alignment 4; a tree of directories,
//! files (their bytes in extents of at most `chunk` bytes) and symlinks under a mount point.

/// One object: its parent (an index into the list, or `None` for the partition's root),
/// name, mode, bytes (a symlink's target).
pub struct Item<'a> {
    pub parent: Option<usize>,
    pub name: &'a str,
    pub mode: u32,
    pub data: &'a [u8],
}

/// The image and, per item, the offset of its directory entry's text and the header index
/// of its first data extent.
pub struct Built {
    pub image: Vec<u8>,
    pub dirent_text: Vec<usize>,
    pub first_data: Vec<u16>,
}

struct Unit {
    b: Vec<u8>,
    /// Headers: (status, text offset, text size, next index or None).
    heads: Vec<(u32, usize, usize, Option<u16>)>,
    cursor: usize,
}

const SYS: u32 = 0x100;
const DIR: u32 = 0x200;
const FILE: u32 = 0x300;

impl Unit {
    fn text(&mut self, bytes: &[u8]) -> usize {
        let at = self.cursor.next_multiple_of(4);
        self.b[at..at + bytes.len()].copy_from_slice(bytes);
        self.cursor = at + bytes.len();
        at
    }
    fn head(&mut self, kind: u32, text: usize, size: usize) -> u16 {
        self.heads.push((kind, text, size, None));
        (self.heads.len() - 1) as u16
    }
}

fn dirent(name: &str, first: u16, mode: u32) -> Vec<u8> {
    let mut d = vec![8, 0, 0, name.len() as u8 + 1];
    d.extend_from_slice(&1u16.to_le_bytes());
    d.extend_from_slice(&first.to_le_bytes());
    d.extend_from_slice(name.as_bytes());
    d.push(0);
    d.resize(8 + (name.len() + 1).next_multiple_of(4), 0);
    d.extend_from_slice(&0x14u16.to_le_bytes());
    d.extend_from_slice(&(mode as u16).to_le_bytes());
    for v in [0u32, 0, 1_660_881_399, 1_660_881_399] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d
}

/// Build the partition.
pub fn build(unit_pow2: u8, mount: &str, items: &[Item<'_>], chunk: usize) -> Built {
    let size = 1usize << unit_pow2;
    let mut u = Unit {
        b: vec![0xff; size],
        heads: Vec::new(),
        cursor: 0,
    };
    let mut info = vec![16, 0, b'L', 0xff, unit_pow2, 0, 0xff, 0xff, 0, 0, 0, 0];
    info.extend_from_slice(&[1, 0, 2, 0]);
    let t = u.text(&info);
    u.head(SYS, t, 16);
    let mut logi = vec![0x18, 0, 1, 0, 0, 0, 0, 0];
    logi.resize(24, 0);
    let t = u.text(&logi);
    u.head(SYS, t, 24);
    let mut boot = vec![0x18, 0, 3, 0];
    boot.extend_from_slice(b"QSSL_F3S");
    for v in [0u16, 2, 1, 2, 1, 3] {
        boot.extend_from_slice(&v.to_le_bytes());
    }
    let t = u.text(&boot);
    u.head(SYS, t, 24);
    // Headers are allocated first (their indices are needed in the texts): the root's
    // entry, then per item its entry and its data (or the end of its children).
    let root = u.head(DIR, 0, 0);
    let mut first_data = Vec::new();
    let mut dirent_head = Vec::new();
    for it in items {
        dirent_head.push(u.head(DIR, 0, 0));
        let is_dir = it.mode & 0o170000 == 0o040000;
        let chunks: Vec<&[u8]> = if is_dir || it.data.is_empty() {
            vec![&[]]
        } else {
            it.data.chunks(chunk).collect()
        };
        let first = u.heads.len() as u16;
        for (k, c) in chunks.iter().enumerate() {
            let t = u.text(c);
            let h = u.head(if is_dir { DIR } else { FILE }, t, c.len());
            if k > 0 {
                u.heads[h as usize - 1].3 = Some(h);
            }
        }
        first_data.push(first);
    }
    // Children of each directory: the chain of their entries, ended by the directory's
    // size-0 extent (which items that are directories own, and the root gets here).
    let root_end = u.head(DIR, 0, 0);
    let mut first_of = |parent: Option<usize>| -> u16 {
        let kids: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].parent == parent)
            .collect();
        for w in kids.windows(2) {
            u.heads[dirent_head[w[0]] as usize].3 = Some(dirent_head[w[1]]);
        }
        let end = parent.map_or(root_end, |p| first_data[p]);
        match (kids.first(), kids.last()) {
            (Some(&f), Some(&l)) => {
                u.heads[dirent_head[l] as usize].3 = Some(end);
                dirent_head[f]
            }
            _ => end,
        }
    };
    let root_first = first_of(None);
    let firsts: Vec<u16> = (0..items.len())
        .map(|i| {
            if items[i].mode & 0o170000 == 0o040000 {
                first_of(Some(i))
            } else {
                first_data[i]
            }
        })
        .collect();
    let t = u.text(&dirent(mount, root_first, 0o040755));
    let len = dirent(mount, root_first, 0o040755).len();
    u.heads[root as usize].1 = t;
    u.heads[root as usize].2 = len;
    let mut dirent_text = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let d = dirent(it.name, firsts[i], it.mode);
        let t = u.text(&d);
        u.heads[dirent_head[i] as usize].1 = t;
        u.heads[dirent_head[i] as usize].2 = d.len();
        dirent_text.push(t);
    }
    let n = u.heads.len();
    assert!(u.cursor < size - 32 * n, "unit too small");
    for (i, &(kind, text, tsize, next)) in u.heads.iter().enumerate() {
        let at = size - 32 * (i + 1);
        let mut status: u32 = 0xffff_f800 | 0x400 | kind | 0x30 | 0x08 | 0x04;
        if next.is_none() {
            status |= 0x02;
        }
        if i + 1 == n {
            status |= 0x80;
        }
        let h = &mut u.b[at..at + 32];
        for k in 0..3 {
            h[4 * k..4 * k + 4].copy_from_slice(&status.to_le_bytes());
        }
        h[12..18].fill(0xff);
        h[18] = 0xff;
        let raw = text >> 2;
        h[19] = (raw >> 16) as u8;
        h[20..22].copy_from_slice(&(raw as u16).to_le_bytes());
        h[22..24].copy_from_slice(&(tsize as u16).to_le_bytes());
        let next = next.map_or([0xff; 4], |x| {
            let mut p = [1, 0, 0, 0];
            p[2..4].copy_from_slice(&x.to_le_bytes());
            p
        });
        h[24..28].copy_from_slice(&next);
        h[28..32].fill(0xff);
    }
    // The spare unit: its unit info and header 0 only.
    let mut spare = vec![0xffu8; size];
    spare[..16].copy_from_slice(&u.b[..16]);
    spare[size - 32..].copy_from_slice(&u.b[size - 32..]);
    spare[size - 32] |= 0x80;
    let mut image = u.b;
    image.extend_from_slice(&spare);
    Built {
        image,
        dirent_text,
        first_data,
    }
}

/// A small tree: a directory with a file of several extents, a symlink, an empty file.
pub fn sample(unit_pow2: u8) -> Built {
    let elf: Vec<u8> = b"\x7fELF"
        .iter()
        .copied()
        .chain((0..3000u32).map(|i| (i * 7 % 251) as u8))
        .collect();
    sample_with(unit_pow2, &elf)
}

/// The tree of [`sample`], under `/fs/flash`, with `libc` as `lib/libc.so.3`.
pub fn sample_with(unit_pow2: u8, libc: &[u8]) -> Built {
    build(
        unit_pow2,
        "/fs/flash",
        &[
            Item {
                parent: None,
                name: "lib",
                mode: 0o040755,
                data: b"",
            },
            Item {
                parent: Some(0),
                name: "libc.so.3",
                mode: 0o100755,
                data: libc,
            },
            Item {
                parent: Some(0),
                name: "libc.so",
                mode: 0o120777,
                data: b"libc.so.3",
            },
            Item {
                parent: None,
                name: "empty",
                mode: 0o100644,
                data: b"",
            },
        ],
        1024,
    )
}
