//! A test-only IFS writer: builds boot images from small trees, with every compression and
//! both byte orders, laid out the way mkifs does (startup header + startup code + trailer,
//! then the imagefs: header, directory, files, trailer; checksums that sum to zero).
#![allow(dead_code)]

use std::io::Write;

use badalloc_formats::{lzo, ucl};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    None,
    Zlib,
    Lzo,
    /// LZO blocks made by lzokay-native's compressor.
    LzoReal,
    Ucl,
    /// UCL blocks with runs coded as matches (see `ucl::nrv2b_encode_runs`).
    UclRuns,
}

#[derive(Clone, Debug)]
pub enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Device(u32, u32),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub path: String,
    pub mode: u32,
    pub ino: u32,
    pub kind: Kind,
}

pub fn file(path: &str, ino: u32, data: &[u8]) -> Node {
    Node {
        path: path.into(),
        mode: 0o100755,
        ino,
        kind: Kind::File(data.to_vec()),
    }
}

pub fn dir(path: &str, ino: u32) -> Node {
    Node {
        path: path.into(),
        mode: 0o040755,
        ino,
        kind: Kind::Dir,
    }
}

pub fn symlink(path: &str, ino: u32, target: &str) -> Node {
    Node {
        path: path.into(),
        mode: 0o120777,
        ino,
        kind: Kind::Symlink(target.into()),
    }
}

pub fn device(path: &str, ino: u32, dev: u32, rdev: u32) -> Node {
    Node {
        path: path.into(),
        mode: 0o020666,
        ino,
        kind: Kind::Device(dev, rdev),
    }
}

pub struct Opts {
    pub comp: Comp,
    pub big_endian: bool,
    pub startup: bool,
    pub preboot: usize,
    pub script_ino: u32,
    pub boot_ino: u32,
    /// Input bytes per compressed block (mkifs: up to 64 KiB).
    pub block: usize,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            comp: Comp::None,
            big_endian: false,
            startup: true,
            preboot: 8,
            script_ino: 0,
            boot_ino: 0,
            block: 0x10000,
        }
    }
}

struct W {
    b: Vec<u8>,
    be: bool,
}

impl W {
    fn u16(&mut self, v: u16) {
        self.b.extend_from_slice(&if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    fn u32(&mut self, v: u32) {
        self.b.extend_from_slice(&if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    fn put32(&mut self, at: usize, v: u32) {
        let bytes = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.b[at..at + 4].copy_from_slice(&bytes);
    }
    fn put16(&mut self, at: usize, v: u16) {
        let bytes = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.b[at..at + 2].copy_from_slice(&bytes);
    }
    fn pad4(&mut self) {
        while self.b.len() % 4 != 0 {
            self.b.push(0);
        }
    }
    fn sum(&self) -> u32 {
        self.b
            .chunks_exact(4)
            .map(|c| {
                let a = [c[0], c[1], c[2], c[3]];
                if self.be {
                    u32::from_be_bytes(a)
                } else {
                    u32::from_le_bytes(a)
                }
            })
            .fold(0u32, u32::wrapping_add)
    }
}

/// The uncompressed imagefs for `nodes`.
pub fn build_imagefs(nodes: &[Node], o: &Opts) -> Vec<u8> {
    let be = o.big_endian;
    let mut w = W { b: Vec::new(), be };
    w.b.extend_from_slice(b"imagefs");
    w.b.push(if be { 1 | 4 } else { 4 });
    w.u32(0); // image_size, patched
    w.u32(0); // hdr_dir_size, patched
    w.u32(0x5c); // dir_offset
    w.u32(o.boot_ino);
    w.u32(0);
    w.u32(0);
    w.u32(0);
    w.u32(o.script_ino);
    w.u32(0); // chain_paddr
    for _ in 0..10 {
        w.u32(0);
    }
    w.u32(0); // mountflags
    w.b.extend_from_slice(b"/\0");
    w.pad4();
    assert_eq!(w.b.len(), 0x5c);
    // Directory; remember where file offsets go.
    let mut fixups = Vec::new();
    for n in nodes {
        let start = w.b.len();
        w.u16(0); // size, patched
        w.u16(0); // extattr_offset
        w.u32(n.ino);
        w.u32(n.mode);
        w.u32(0); // gid
        w.u32(0); // uid
        w.u32(0x5000_0000); // mtime
        match &n.kind {
            Kind::File(d) => {
                fixups.push((w.b.len(), d.clone()));
                w.u32(0);
                w.u32(d.len() as u32);
                w.b.extend_from_slice(n.path.as_bytes());
                w.b.push(0);
            }
            Kind::Dir => {
                w.b.extend_from_slice(n.path.as_bytes());
                w.b.push(0);
            }
            Kind::Symlink(t) => {
                w.u16(n.path.len() as u16 + 1);
                w.u16(t.len() as u16);
                w.b.extend_from_slice(n.path.as_bytes());
                w.b.push(0);
                w.b.extend_from_slice(t.as_bytes());
                w.b.push(0);
            }
            Kind::Device(dev, rdev) => {
                w.u32(*dev);
                w.u32(*rdev);
                w.b.extend_from_slice(n.path.as_bytes());
                w.b.push(0);
            }
        }
        w.pad4();
        let size = (w.b.len() - start) as u16;
        w.put16(start, size);
    }
    w.u32(0); // end of directory
    let hdr_dir_size = w.b.len() as u32;
    w.put32(12, hdr_dir_size);
    for (at, d) in fixups {
        let off = w.b.len() as u32;
        w.put32(at, off);
        w.b.extend_from_slice(&d);
        w.pad4();
    }
    let image_size = w.b.len() as u32 + 4;
    w.put32(8, image_size);
    let s = w.sum();
    w.u32(0u32.wrapping_sub(s));
    w.b
}

/// Compress an imagefs as mkifs would for `comp`.
pub fn compress(img: &[u8], comp: Comp, block: usize) -> Vec<u8> {
    match comp {
        Comp::None => img.to_vec(),
        Comp::Zlib => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(img).unwrap();
            e.finish().unwrap()
        }
        Comp::Lzo | Comp::LzoReal | Comp::Ucl | Comp::UclRuns => {
            let mut out = Vec::new();
            for chunk in img.chunks(block) {
                let c = match comp {
                    Comp::Lzo => lzo::lzo1x_encode_literals(chunk),
                    Comp::LzoReal => lzokay_native::compress(chunk).unwrap(),
                    Comp::UclRuns => ucl::nrv2b_encode_runs(chunk),
                    _ => ucl::nrv2b_encode_literals(chunk),
                };
                assert!(c.len() < 0x10000);
                out.extend_from_slice(&(c.len() as u16).to_be_bytes());
                out.extend_from_slice(&c);
            }
            out.extend_from_slice(&[0, 0]);
            out
        }
    }
}

/// A whole boot image.
pub fn build(nodes: &[Node], o: &Opts) -> Vec<u8> {
    wrap_imagefs(&build_imagefs(nodes, o), o)
}

/// A whole boot image around the uncompressed imagefs `img` (compressed and put behind a
/// startup header as `o` says).
pub fn wrap_imagefs(img: &[u8], o: &Opts) -> Vec<u8> {
    if !o.startup {
        return img.to_vec();
    }
    let stored = compress(img, o.comp, o.block);
    let be = o.big_endian;
    let mut w = W { b: Vec::new(), be };
    w.u32(0x00FF_7EEB);
    w.u16(1);
    let c = match o.comp {
        Comp::None => 0,
        Comp::Zlib => 1,
        Comp::Lzo | Comp::LzoReal => 2,
        Comp::Ucl | Comp::UclRuns => 3,
    };
    w.b.push(1 | if be { 2 } else { 0 } | (c << 2)); // flags1
    w.b.push(0); // flags2
    w.u16(0x100);
    w.u16(if be { 8 } else { 40 }); // machine
    for _ in 0..5 {
        w.u32(0x8010_0000);
    }
    w.u32(0); // startup_size
    w.u32(0); // stored_size
    w.u32(0); // imagefs_paddr
    w.u32(img.len() as u32);
    w.u16(o.preboot as u16);
    w.u16(0);
    for _ in 0..3 {
        w.u32(0);
    }
    while w.b.len() < 0x100 {
        w.b.push(0);
    }
    // Some "startup code", containing the decoy string imagefs.
    w.b.extend_from_slice(b"startup code here; not the imagefs\0\0");
    w.b.extend(std::iter::repeat_n(0x90u8, 300));
    w.pad4();
    let startup_size = w.b.len() as u32 + 4;
    w.put32(32, startup_size);
    w.put32(36, startup_size + stored.len() as u32);
    let s = w.sum();
    w.u32(0u32.wrapping_sub(s));
    let mut out = vec![0xeau8; o.preboot];
    out.extend_from_slice(&w.b);
    out.extend_from_slice(&stored);
    out
}

/// A small tree with every entry type and a boot script.
pub fn sample_tree() -> (Vec<Node>, Vec<u8>) {
    let elf: Vec<u8> = b"\x7fELF"
        .iter()
        .copied()
        .chain((0..5000u32).map(|i| (i * 31 % 251) as u8))
        .collect();
    let text: Vec<u8> = (0..3000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let script = script_bytes();
    let nodes = vec![
        dir("", 1),
        file("proc/boot/.script", 3, &script),
        file("proc/boot/procnto", 4 | 0xE000_0000, &elf),
        file("proc/boot/libc.so.3", 5 | 0xC000_0000, &elf[..4000]),
        symlink("proc/boot/libc.so", 6, "libc.so.3"),
        dir("etc", 7),
        file("etc/passwd", 8, b"root::0:0::/:/bin/sh\n"),
        file("etc/big.txt", 9, &text),
        file("etc/empty", 10, b""),
        device("dev/null", 11, 1, 2),
        symlink("usr/lib/ldqnx.so.2", 12, "/proc/boot/libc.so.3"),
    ];
    (nodes, script)
}

/// A compiled boot script: display_msg, an external command with args, waitfor, symlink.
pub fn script_bytes() -> Vec<u8> {
    let mut s = Vec::new();
    let mut cmd = |ty: u8, body: &[u8]| {
        let size = (4 + body.len() + 3) & !3;
        s.push((size & 0xff) as u8);
        s.push((size >> 8) as u8);
        s.push(ty);
        s.push(0);
        s.extend_from_slice(body);
        while s.len() % 4 != 0 {
            s.push(0);
        }
    };
    cmd(3, b"Hello\n\0");
    let mut ext = vec![0, 0x20, 0, 0, 0, 0, 2, 1];
    ext.extend_from_slice(b"/proc/boot/devc-ser8250\0devc-ser8250\0-e\0TERM=qansi\0");
    cmd(0, &ext);
    cmd(
        1,
        &[
            50, 0, b'/', b'd', b'e', b'v', b'/', b's', b'e', b'r', b'1', 0,
        ],
    );
    cmd(4, b"../../proc/boot/libc.so.3\0/usr/lib/ldqnx.so.2\0");
    s.extend_from_slice(&[0, 0, 0, 0]);
    s
}
