//! Carving containers out of raw dumps, with decoys that must not be reported.

mod common;

use badalloc_audit::container::*;
use common::ifs_writer::{self as w, Comp, Opts};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 24) as u8
    }
    fn fill(&mut self, v: &mut Vec<u8>, n: usize) {
        for _ in 0..n {
            let b = self.next();
            v.push(b);
        }
    }
}

#[test]
fn carve_finds_embedded_containers_and_ignores_decoys() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut dump = Vec::new();
    let mut want = Vec::new();
    rng.fill(&mut dump, 10_000);

    // Decoy 1: startup signature followed by junk.
    dump.extend_from_slice(&[0xeb, 0x7e, 0xff, 0x00]);
    rng.fill(&mut dump, 600);
    // Decoy 2: a plausible startup header whose zero fields are not zero.
    let (nodes, _) = w::sample_tree();
    let mut bad = w::build(
        &nodes,
        &Opts {
            preboot: 0,
            ..Opts::default()
        },
    );
    bad[52] = 1;
    dump.extend_from_slice(&bad[..0x100]);
    rng.fill(&mut dump, 333);
    // Decoy 3: "imagefs" with junk, QNX6 boot block magic without superblock, a QNX4-like
    // root name without a directory behind it, big-endian signature bytes.
    dump.extend_from_slice(b"imagefs\x04\xff\xff\xff\xff");
    rng.fill(&mut dump, 100);
    dump.extend_from_slice(&[0xeb, 0x10, 0x90, 0x00]);
    rng.fill(&mut dump, 100);
    dump.extend_from_slice(b"/\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    rng.fill(&mut dump, 100);
    dump.extend_from_slice(&[0x00, 0xff, 0x7e, 0xeb, 1, 0]);
    dump.extend(std::iter::repeat_n(0xffu8, 5000));

    // Real 1: writer IFS (UCL, little-endian, 0x3f8 preboot), unaligned.
    let ifs1 = w::build(
        &nodes,
        &Opts {
            comp: Comp::Ucl,
            preboot: 0x3f8,
            ..Opts::default()
        },
    );
    want.push((dump.len() as u64, ContainerKind::Ifs));
    dump.extend_from_slice(&ifs1);
    dump.extend(std::iter::repeat_n(0xffu8, 777));
    // Real 2: big-endian uncompressed IFS, no preboot.
    let ifs2 = w::build(
        &nodes,
        &Opts {
            big_endian: true,
            preboot: 0,
            ..Opts::default()
        },
    );
    want.push((dump.len() as u64, ContainerKind::Ifs));
    dump.extend_from_slice(&ifs2);
    rng.fill(&mut dump, 4096);
    // Real 3: a bare imagefs.
    let bare = w::build(
        &nodes,
        &Opts {
            startup: false,
            ..Opts::default()
        },
    );
    want.push((dump.len() as u64, ContainerKind::Ifs));
    dump.extend_from_slice(&bare);
    rng.fill(&mut dump, 1234);
    // Real 4/5: corpus images if present.
    if let Some(q6) = common::corpus("qnx6/qnxmount-test_image.bin") {
        while dump.len() % 512 != 0 {
            dump.push(0xff);
        }
        want.push((dump.len() as u64, ContainerKind::Qnx6));
        dump.extend_from_slice(&q6);
        dump.extend(std::iter::repeat_n(0xffu8, 4096));
    }
    if let Some(ifs) = common::corpus("qnx/sdp660-armle-omap5-sd.ifs") {
        want.push((dump.len() as u64 + 3, ContainerKind::Ifs));
        dump.extend_from_slice(&[0xff, 0xff, 0xff]);
        dump.extend_from_slice(&ifs);
        dump.extend(std::iter::repeat_n(0xffu8, 100));
    }
    rng.fill(&mut dump, 10_000);

    let got = carve(&dump);
    assert_eq!(got, want);
    // Every carved offset opens.
    for (off, kind) in got {
        let d = &dump[off as usize..];
        assert_eq!(detect(d), Some(kind), "at {off:#x}");
        assert!(open(d, kind, &Limits::default()).is_ok(), "at {off:#x}");
    }
}

#[test]
fn carve_qnx4_image_finds_the_boot_ifs() {
    let Some(d) = common::corpus("qnx/openqnx-qnx4fs.img") else {
        return;
    };
    let mut dump = vec![0xffu8; 0x10000];
    dump.extend_from_slice(&d);
    let got = carve(&dump);
    assert_eq!(
        got,
        [
            (0x10000, ContainerKind::Qnx4),
            (0x10000 + 22016, ContainerKind::Ifs)
        ]
    );
}

#[test]
fn carve_nothing_in_noise() {
    let mut rng = Rng(1);
    let mut d = Vec::new();
    rng.fill(&mut d, 1 << 20);
    assert!(carve(&d).is_empty());
    assert!(carve(&[]).is_empty());
    assert!(carve(&[0xeb, 0x7e, 0xff, 0x00]).is_empty());
}

#[test]
fn carve_parallel_chunks_and_boundaries() {
    // Over the parallel threshold: signatures straddling the 16 MiB chunk boundaries, and an
    // IFS whose image header lies in the next chunk (must not show up as a bare imagefs).
    let (nodes, _) = w::sample_tree();
    let plain = w::build(
        &nodes,
        &Opts {
            preboot: 0,
            ..Opts::default()
        },
    );
    let mut d = vec![0xffu8; 48 << 20];
    let a = (16 << 20) - 2;
    let b = (32 << 20) - 200;
    d[a..a + plain.len()].copy_from_slice(&plain);
    d[b..b + plain.len()].copy_from_slice(&plain);
    assert_eq!(
        carve(&d),
        [
            (a as u64, ContainerKind::Ifs),
            (b as u64, ContainerKind::Ifs)
        ]
    );
}

/// An uncompressed image whose startup code is damaged (startup checksum INVALID) is still
/// carved: its image header lies where the startup size puts it. A startup header with a
/// bad checksum and nothing behind it is not.
#[test]
fn carve_damaged_startup_with_image_behind_it_but_not_without() {
    let (nodes, _) = w::sample_tree();
    let plain = w::build(
        &nodes,
        &Opts {
            preboot: 0,
            ..Opts::default()
        },
    );
    let mut d = vec![0x5au8; 0x20000];
    let at = 0x4000;
    d[at..at + plain.len()].copy_from_slice(&plain);
    d[at + 0x110] ^= 0xff;
    // The same startup header alone, its image replaced by noise.
    let lone = 0x18000;
    let startup = u32::from_le_bytes(plain[32..36].try_into().unwrap()) as usize;
    d[lone..lone + startup].copy_from_slice(&plain[..startup]);
    d[lone + 0x110] ^= 0xff;
    assert_eq!(carve(&d), [(at as u64, ContainerKind::Ifs)]);
}

#[test]
fn carve_many_fake_headers_stays_fast() {
    // Thousands of well-formed startup headers claiming 4 MiB startup parts with wrong
    // checksums: the checksum work is budgeted, so this stays linear. Past the budget only
    // the structure is checked: the fakes (no compressed block inside their stored size,
    // or a block of length 0) are refused, while real images after them, with or without
    // a valid startup checksum, are still found.
    let (nodes, _) = w::sample_tree();
    let build = |comp| {
        let o = Opts {
            comp,
            preboot: 0,
            ..Opts::default()
        };
        w::build(&nodes, &o)
    };
    let (ucl, zlib, plain) = (build(Comp::Ucl), build(Comp::Zlib), build(Comp::None));
    let mut hdr = ucl[..0x100].to_vec();
    hdr[32..36].copy_from_slice(&(4u32 << 20).to_le_bytes()); // startup_size
    hdr[36..40].copy_from_slice(&(4u32 << 20).to_le_bytes()); // stored_size: nothing stored
    let mut d = vec![0xffu8; 8 << 20];
    for at in (0..4 << 20).step_by(512) {
        d[at..at + 0x100].copy_from_slice(&hdr);
    }
    // A fake whose stored image is there but starts with a block of length 0.
    let zero_block = 0x50_0000;
    let mut z = hdr.clone();
    z[32..36].copy_from_slice(&0x100u32.to_le_bytes());
    z[36..40].copy_from_slice(&0x1100u32.to_le_bytes());
    d[zero_block..zero_block + 0x100].copy_from_slice(&z);
    d[zero_block + 0x100..zero_block + 0x1100].fill(0);
    // Real images; the uncompressed one with a damaged startup (checksum INVALID).
    let (at_ucl, at_zlib, at_plain) = (0x58_0000, 0x60_0000, 0x68_0000);
    d[at_ucl..at_ucl + ucl.len()].copy_from_slice(&ucl);
    d[at_zlib..at_zlib + zlib.len()].copy_from_slice(&zlib);
    d[at_plain..at_plain + plain.len()].copy_from_slice(&plain);
    d[at_plain + 0x110] ^= 0xff;
    let t = std::time::Instant::now();
    let found = carve(&d);
    assert!(t.elapsed().as_secs() < 20, "{:?}", t.elapsed());
    assert_eq!(
        found,
        [
            (at_ucl as u64, ContainerKind::Ifs),
            (at_zlib as u64, ContainerKind::Ifs),
            (at_plain as u64, ContainerKind::Ifs)
        ]
    );
}
