//! Carving containers out of raw dumps, with decoys that must not be reported.

mod common;

use badalloc_formats::*;
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

/// An uncompressed writer image without preboot stub.
fn plain_image() -> Vec<u8> {
    let (nodes, _) = w::sample_tree();
    w::build(
        &nodes,
        &Opts {
            preboot: 0,
            ..Opts::default()
        },
    )
}

#[test]
fn carve_parallel_chunks_and_boundaries() {
    // Over the parallel threshold: signatures straddling the 16 MiB chunk boundaries, and an
    // IFS whose image header lies in the next chunk (must not show up as a bare imagefs).
    let plain = plain_image();
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

#[test]
fn images_claim_their_real_extent() {
    // Boot images: preboot stub, startup part and imagefs (the whole corpus file); QNX6:
    // up to the end of its second superblock's area; QNX4: the last extent in use.
    for (rel, kind) in [
        ("qnx/openqnx-641-x86.ifs", ContainerKind::Ifs),
        ("qnx/sdp660-armle-omap5-sd.ifs", ContainerKind::Ifs),
        ("qnx6/qnxmount-test_image.bin", ContainerKind::Qnx6),
        ("qnx/openqnx-qnx4fs.img", ContainerKind::Qnx4),
    ] {
        let Some(d) = common::corpus(rel) else {
            continue;
        };
        let mut padded = d.clone();
        padded.resize(d.len() + 0x20000, 0xff);
        let c = open(&padded, kind, &Limits::default()).unwrap();
        let span = c.span().unwrap();
        // A block-compressed boot image ends a few bytes after its end marker.
        assert!(
            span <= d.len() as u64 && span + 16 >= d.len() as u64,
            "{rel}: {span}"
        );
        if kind != ContainerKind::Ifs {
            assert_eq!(span, d.len() as u64, "{rel}");
        }
    }
    // Writer images of every compression: the span ends where the image does.
    let (nodes, _) = w::sample_tree();
    for comp in [Comp::None, Comp::Zlib, Comp::Lzo, Comp::Ucl] {
        for startup in [true, false] {
            if !startup && comp != Comp::None {
                continue;
            }
            let img = w::build(
                &nodes,
                &Opts {
                    comp,
                    startup,
                    ..Opts::default()
                },
            );
            let mut padded = img.clone();
            padded.resize(img.len() + 4096, 0);
            let c = open(&padded, ContainerKind::Ifs, &Limits::default()).unwrap();
            let span = c.span().unwrap();
            // The writer's image may end in a few bytes of padding after the imagefs.
            assert!(
                span <= img.len() as u64 && span + 16 >= img.len() as u64,
                "{comp:?}"
            );
        }
    }
}

#[test]
fn images_of_offers_each_image_once_and_stops_at_the_bound() {
    // Two boot images with a gap: each offered once, at its offset; what an opened image
    // claims is not carved again.
    let plain = plain_image();
    // Past the first 4 KiB (a startup header nearer the start is taken as the file's
    // own, behind a preboot stub).
    let mut d = vec![0xffu8; 0x2000];
    d.extend_from_slice(&plain);
    let second = d.len() + 0x20000;
    d.resize(second, 0xff);
    d.extend_from_slice(&plain);
    d.resize(d.len() + 0x10000, 0xff);
    let mut offered = Vec::new();
    let layout = carve::images_of(&d, &|_| {}, &mut |at, kind| {
        offered.push((at, kind));
        carve::Taken::Opened {
            span: Some(plain.len() as u64),
        }
    });
    assert_eq!(
        offered,
        [
            (0x2000, ContainerKind::Ifs),
            (second as u64, ContainerKind::Ifs)
        ]
    );
    assert_eq!(layout.carved, 2);
    assert_eq!(layout.at_start, None);
    assert!(layout.cut.is_none());
    // A span that claims everything after the first image hides nothing it does not hold:
    // only the first is offered when it claims the rest of the file.
    let mut offered = Vec::new();
    carve::images_of(&d, &|_| {}, &mut |at, _| {
        offered.push(at);
        carve::Taken::Opened {
            span: Some(d.len() as u64),
        }
    });
    assert_eq!(offered, [0x2000]);
    // Not opened: claims nothing, the next is offered.
    let mut offered = Vec::new();
    carve::images_of(&d, &|_| {}, &mut |at, _| {
        offered.push(at);
        carve::Taken::NotOpened
    });
    assert_eq!(offered.len(), 2);
    // Past the bound: counted, the first one past it named, nothing more offered.
    let mut dense = Vec::new();
    for _ in 0..carve::MAX_CARVED_PER_FILE + 10 {
        dense.extend_from_slice(&plain);
    }
    let mut n = 0;
    let layout = carve::images_of(&dense, &|_| {}, &mut |_, _| {
        n += 1;
        carve::Taken::NotOpened
    });
    let cut = layout.cut.expect("cut");
    // The image at offset 0 is detected, then found again by the carver (not offered).
    assert_eq!(n, carve::MAX_CARVED_PER_FILE);
    assert_eq!(cut.more, 10);
    assert_eq!(cut.first, (carve::MAX_CARVED_PER_FILE * plain.len()) as u64);
    assert_eq!(cut.kind, ContainerKind::Ifs);
}

#[test]
fn a_wrong_startup_checksum_is_carved_when_the_imagefs_decodes() {
    // A compressed boot image whose startup code has a flipped bit (its checksum fails) is
    // carved when its first block decodes to an image header; the same header in front of
    // bytes that do not decode is not.
    let (nodes, _) = w::sample_tree();
    for comp in [Comp::Ucl, Comp::Lzo, Comp::Zlib] {
        let mut img = w::build(
            &nodes,
            &Opts {
                comp,
                preboot: 0,
                ..Opts::default()
            },
        );
        img[0x180] ^= 0x40;
        let mut rng = Rng(7);
        let mut d = Vec::new();
        rng.fill(&mut d, 0x3000);
        let at = d.len() as u64;
        d.extend_from_slice(&img);
        rng.fill(&mut d, 0x3000);
        // (An LZO stream starts with its literals: the image header shows through as a bare
        // imagefs inside the image's extent, where `images_of` does not offer it.)
        assert_eq!(
            carve(&d).first(),
            Some(&(at, ContainerKind::Ifs)),
            "{comp:?}"
        );
        let c = open(&d[at as usize..], ContainerKind::Ifs, &Limits::default()).unwrap();
        assert!(c
            .notes()
            .iter()
            .any(|n| n.kind == "checksum" && n.detail.contains("startup checksum INVALID")));
        // The startup part alone, then noise: the first block (or gzip stream) does not
        // decode to an image header.
        let startup = u32::from_le_bytes(img[32..36].try_into().unwrap()) as usize;
        let mut decoy = Vec::new();
        rng.fill(&mut decoy, 0x3000);
        decoy.extend_from_slice(&img[..startup + 3]);
        rng.fill(&mut decoy, 0x3000);
        assert!(carve(&decoy).is_empty(), "{comp:?}: {:?}", carve(&decoy));
    }
}
