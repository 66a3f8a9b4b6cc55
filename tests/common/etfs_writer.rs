//! Builds ETFS images for tests: a file table (with extension entries for long names) and
//! the clusters of each file, as pages of a chosen layout; stale versions, missing clusters
//! and bad data are made by editing the page list before writing it out.

/// Spare-area format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spare {
    /// `struct etfs_trans`, 16 bytes (etfsctl/mketfs images).
    Trans,
    /// QNX NAND driver spare area of `size` bytes (64 for 2 KiB pages).
    Nand(usize),
}

#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub cluster: usize,
    pub spare: Spare,
}

/// One page: the transaction and the cluster's bytes.
#[derive(Debug, Clone)]
pub struct Page {
    pub fid: u32,
    pub cluster: u32,
    pub sequence: u32,
    pub data: Vec<u8>,
    /// The data check failed (`dacode` 5).
    pub bad_data: bool,
    /// An erased page.
    pub erased: bool,
}

impl Page {
    pub fn erased() -> Page {
        Page {
            fid: 0,
            cluster: 0,
            sequence: 0,
            data: Vec::new(),
            bad_data: false,
            erased: true,
        }
    }
}

/// A file table under construction and the files' bytes.
pub struct Fs {
    pub layout: Layout,
    pub table: Vec<[u8; 64]>,
    pub data: Vec<(u32, Vec<u8>)>,
}

pub const DIR: u32 = 0o040755;
pub const FILE: u32 = 0o100644;
pub const LINK: u32 = 0o120777;

/// A file entry.
pub fn file_entry(efid: u16, pfid: u16, mode: u32, size: u32, name: &[u8]) -> [u8; 64] {
    let mut e = [0u8; 64];
    e[0..2].copy_from_slice(&efid.to_le_bytes());
    e[2..4].copy_from_slice(&pfid.to_le_bytes());
    for (i, v) in [
        mode,
        1000,
        100,
        1_700_000_000,
        1_700_000_001,
        1_700_000_002,
        size,
    ]
    .iter()
    .enumerate()
    {
        e[4 + 4 * i..8 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    let n = name.len().min(32);
    e[32..32 + n].copy_from_slice(&name[..n]);
    e
}

impl Fs {
    /// The root and the file system's own entries (ids 0 to 5).
    pub fn new(layout: Layout) -> Fs {
        let mut fs = Fs {
            layout,
            table: Vec::new(),
            data: Vec::new(),
        };
        fs.table.push(file_entry(0, 0, DIR, 0, b""));
        fs.table.push(file_entry(0, 0, 0o100444, 0, b".filetable"));
        for (name, mode) in [
            (&b".badblks"[..], 0o100444),
            (b".counts", 0o100444),
            (b".lost+found", DIR),
            (b".reserved", 0o100444),
        ] {
            fs.table.push(file_entry(0, 0, mode, 0, name));
        }
        fs
    }

    /// Add a file (or directory, or symlink: `data` is the target) under `parent`; names
    /// over 32 bytes get an extension entry. Returns its file id.
    pub fn add(&mut self, parent: u16, name: &str, mode: u32, data: &[u8]) -> u16 {
        let fid = self.table.len() as u16;
        let size = if mode & 0o170000 == 0o040000 {
            0
        } else {
            data.len() as u32
        };
        let n = name.as_bytes();
        let efid = if n.len() > 32 { fid + 1 } else { 0 };
        self.table.push(file_entry(efid, parent, mode, size, n));
        if efid != 0 {
            let mut x = [0u8; 64];
            x[0..2].copy_from_slice(&0x8000u16.to_le_bytes());
            x[2..4].copy_from_slice(&fid.to_le_bytes());
            let rest = &n[32..n.len().min(32 + 59)];
            x[4..4 + rest.len()].copy_from_slice(rest);
            x[63] = 0;
            self.table.push(x);
        }
        if size > 0 {
            self.data.push((u32::from(fid), data.to_vec()));
        }
        fid
    }

    /// Set the size recorded for file id `fid` (to make it disagree with its clusters).
    pub fn set_size(&mut self, fid: u16, size: u32) {
        self.table[fid as usize][28..32].copy_from_slice(&size.to_le_bytes());
    }

    /// The pages of the file table and of every file, written with `sequence`.
    pub fn pages(&mut self, sequence: u32) -> Vec<Page> {
        let cs = self.layout.cluster;
        let mut table: Vec<u8> = self.table.iter().flatten().copied().collect();
        let size = table.len() as u32;
        self.table[1][28..32].copy_from_slice(&size.to_le_bytes());
        table[64 + 28..64 + 32].copy_from_slice(&size.to_le_bytes());
        let mut pages = Vec::new();
        let mut put = |fid: u32, bytes: &[u8]| {
            for (c, chunk) in bytes.chunks(cs).enumerate() {
                pages.push(Page {
                    fid,
                    cluster: c as u32,
                    sequence,
                    data: chunk.to_vec(),
                    bad_data: false,
                    erased: false,
                });
            }
        };
        put(1, &table);
        for (fid, d) in &self.data {
            put(*fid, d);
        }
        pages
    }
}

/// The bytes of `pages` in `layout`.
pub fn write(layout: Layout, pages: &[Page]) -> Vec<u8> {
    let cs = layout.cluster;
    let mut out = Vec::new();
    for p in pages {
        let mut data = p.data.clone();
        data.resize(cs, 0xff);
        out.extend_from_slice(&data);
        match layout.spare {
            Spare::Trans => {
                let mut t = [0u8; 16];
                if p.erased {
                    t = [0x5a; 16]; // whatever the driver left: only the code counts
                    t[10] = 3; // ETFS_TRANS_FOXES
                } else {
                    t[0..4].copy_from_slice(&p.fid.to_le_bytes());
                    t[4..8].copy_from_slice(&p.cluster.to_le_bytes());
                    t[8..10].copy_from_slice(&1u16.to_le_bytes());
                    t[10] = 0;
                    t[11] = if p.bad_data { 5 } else { 0 };
                    t[12..16].copy_from_slice(&p.sequence.to_le_bytes());
                }
                out.extend_from_slice(&t);
            }
            Spare::Nand(size) => {
                let mut s = vec![0xffu8; size];
                if !p.erased {
                    s[22] = 1;
                    s[23] = (p.cluster >> 16) as u8;
                    s[24..28].copy_from_slice(&p.sequence.to_le_bytes());
                    s[28..30].copy_from_slice(&(p.fid as u16).to_le_bytes());
                    s[30..32].copy_from_slice(&(p.cluster as u16).to_le_bytes());
                    // ECC and CRCs: not checked by the reader.
                    for b in &mut s[32..64] {
                        *b = 0x11;
                    }
                }
                out.extend_from_slice(&s);
            }
        }
    }
    out
}

/// A small tree: a file of three and a half clusters, a directory with a file whose name
/// needs an extension entry, a symlink, an empty file. Returns the builder (pages not yet
/// written).
pub fn sample(layout: Layout) -> Fs {
    let mut fs = Fs::new(layout);
    let big: Vec<u8> = (0..layout.cluster * 7 / 2)
        .map(|i| (i * 13 % 251) as u8)
        .collect();
    fs.add(0, "libc.so.3", FILE, &big);
    let dir = fs.add(0, "lib", DIR, b"");
    fs.add(
        dir,
        "a_library_with_a_name_longer_than_thirty_two_bytes.so.1",
        FILE,
        b"hello, flash\n",
    );
    fs.add(0, "libc.so", LINK, b"libc.so.3");
    fs.add(0, "empty", FILE, b"");
    fs
}
