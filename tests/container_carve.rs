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

#[test]
fn carve_many_fake_headers_stays_fast() {
    // Thousands of well-formed startup headers claiming 4 MiB startup parts with wrong
    // checksums: the checksum work is budgeted, so this stays linear.
    let (nodes, _) = w::sample_tree();
    let real = w::build(
        &nodes,
        &Opts {
            comp: Comp::Ucl,
            preboot: 0,
            ..Opts::default()
        },
    );
    let mut hdr = real[..0x100].to_vec();
    hdr[32..36].copy_from_slice(&(4u32 << 20).to_le_bytes());
    let mut d = vec![0xffu8; 8 << 20];
    for at in (0..d.len() - 0x100).step_by(512) {
        d[at..at + 0x100].copy_from_slice(&hdr);
    }
    let t = std::time::Instant::now();
    let found = carve(&d);
    assert!(t.elapsed().as_secs() < 20, "{:?}", t.elapsed());
    // Headers with wrong checksums and no image behind them are not images.
    assert!(found.is_empty(), "{} fake headers carved", found.len());
}
