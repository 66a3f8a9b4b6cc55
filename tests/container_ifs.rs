//! IFS boot images: the corpus images, and images built by the test writer with every
//! compression and both byte orders; corrupt and hostile variants.

mod common;

use badalloc_formats::ifs::{Compression, Ifs};
use badalloc_formats::*;
use common::ifs_writer::{self as w, Comp, Opts};

const LIBC_SHA256: &str = "d94d70ee8be9d5098026cdabc2e1732448a83f693be6dfb2cf48cc0540d58810";

fn note<'a>(c: &'a dyn Container, kind: &str) -> Vec<&'a Note> {
    c.notes().iter().filter(|n| n.kind == kind).collect()
}

#[test]
fn corpus_openqnx_641_x86() {
    let Some(d) = common::corpus("qnx/openqnx-641-x86.ifs") else {
        return;
    };
    assert_eq!(detect(&d), Some(ContainerKind::Ifs));
    let ifs = Ifs::open(&d, &Limits::default()).unwrap();
    let info = ifs.info();
    let sh = info.startup.as_ref().unwrap();
    assert_eq!(sh.offset, 0x3f8);
    assert_eq!(sh.preboot_size, 0x3f8);
    assert!(!sh.big_endian);
    assert_eq!(sh.flags1, 0x0d);
    assert_eq!(sh.machine, 3);
    assert_eq!(sh.startup_size, 0x134f0);
    assert_eq!(sh.stored_size, 0x14a524);
    assert_eq!(sh.imagefs_size, 0x2c4f10);
    assert_eq!(info.compression, Compression::Ucl);
    assert_eq!(info.startup_checksum_ok, Some(true));
    assert!(info.image_checksum_ok);
    assert_eq!(info.image.image_size, 0x2c4f10);
    assert_eq!(info.image.dir_offset, 0x5c);
    assert_eq!(info.image.script_ino, 3);
    assert_eq!(info.image.mountpoint, "/");
    // The whole stored image was consumed: stored_size covers startup + compressed blocks.
    // (a few bytes may follow the terminator up to stored_size)
    let used = info.compressed_size.unwrap() + u64::from(sh.startup_size);
    assert!(used <= u64::from(sh.stored_size) && used + 8 > u64::from(sh.stored_size));

    let c: &dyn Container = &ifs;
    let libc = find(c, "proc/boot/libc.so.3").expect("libc listed");
    assert_eq!(libc.entry_type, EntryType::File);
    assert_eq!(libc.size, 479232);
    assert!(libc.flags.contains(&"elf".to_string()));
    let bytes = c.read(libc).unwrap();
    assert_eq!(common::sha256_hex(&bytes), LIBC_SHA256);
    if let Some(loose) = common::corpus("qnx/openqnx-641-x86-libc.so.3") {
        assert_eq!(&bytes[..], &loose[..]);
    }
    let procnto = find(c, "proc/boot/procnto-instr").expect("kernel listed");
    assert!(procnto.flags.contains(&"bootstrap".to_string()));
    assert!(procnto.flags.contains(&"boot".to_string()));
    let k = c.read(procnto).unwrap();
    assert!(k.starts_with(b"\x7fELF"));
    assert!(memchr::memmem::find(&k, b"6.4.1\0").is_some());
    let link = find(c, "proc/boot/libc.so").unwrap();
    assert_eq!(link.entry_type, EntryType::Symlink);
    assert_eq!(link.link_target.as_deref(), Some("libc.so.3"));
    for name in [
        "proc/boot/libsocket.so.2",
        "proc/boot/qconn",
        "proc/boot/tftpd",
        "proc/boot/dhcp.client",
    ] {
        assert!(find(c, name).is_some(), "{name}");
    }
    let script = find(c, "proc/boot/startup-script").unwrap();
    assert!(script.flags.contains(&"boot-script".to_string()));
    let bs = note(c, "boot-script");
    assert_eq!(bs.len(), 1);
    assert!(bs[0]
        .detail
        .contains("display_msg 'Welcome to QNX Neutrino 6.4.0 inside QEMU!'"));
    assert!(bs[0]
        .detail
        .contains("procmgr_symlink '../../proc/boot/libc.so.3' '/usr/lib/ldqnx.so.2'"));
    assert!(bs[0].detail.contains("waitfor 5.0 /dev/pci"));
    assert!(bs[0].detail.contains("devc-con &"));
    let lines = info.boot_script.as_ref().unwrap();
    assert!(lines.iter().any(|l| l == "reopen 5.0 /dev/con1"));
    // Both checksums reported valid.
    let ck = note(c, "checksum");
    assert_eq!(ck.len(), 2);
    assert!(ck
        .iter()
        .all(|n| n.detail.contains("valid") && !n.detail.contains("INVALID")));
    // Listing text.
    let lst = listing(c);
    assert!(lst
        .iter()
        .any(|l| l.contains("479232 proc/boot/libc.so.3") && l.contains("[elf,run-once]")));
    assert!(lst
        .iter()
        .any(|l| l.starts_with('l') && l.contains("proc/boot/libc.so -> libc.so.3")));
    // JSON.
    let j = serde_json::to_value(listing_json(c)).unwrap();
    assert_eq!(j["kind"], "ifs");
    assert!(j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["path"] == "proc/boot/libc.so.3" && e["entry_type"] == "file"));
}

#[test]
fn corpus_sdp660_armle() {
    let Some(d) = common::corpus("qnx/sdp660-armle-omap5-sd.ifs") else {
        return;
    };
    assert_eq!(detect(&d), Some(ContainerKind::Ifs));
    let ifs = Ifs::open(&d, &Limits::default()).unwrap();
    let info = ifs.info();
    let sh = info.startup.as_ref().unwrap();
    assert_eq!(sh.offset, 8);
    assert_eq!(sh.flags1, 0x0d);
    assert_eq!(sh.machine, 40);
    assert_eq!(info.startup_checksum_ok, Some(true));
    assert!(info.image_checksum_ok);
    let c: &dyn Container = &ifs;
    let libc = find(c, "proc/boot/libc.so.3").unwrap();
    let bytes = c.read(libc).unwrap();
    assert_eq!(bytes.len(), 586238);
    assert!(bytes.starts_with(b"\x7fELF\x01\x01"));
    assert!(memchr::memmem::find(&bytes, b"VERSION=6.6.0").is_some());
    assert!(find(c, "proc/boot/procnto-smp-instr").is_some());
    assert!(find(c, "proc/boot/.script")
        .unwrap()
        .flags
        .contains(&"boot-script".into()));
    let s = info.boot_script.as_ref().unwrap();
    assert!(s.iter().any(|l| l.contains("devb-sdmmc-omap5evm")));
    assert!(c.entries().len() > 60);
}

fn check_sample(d: &[u8], o: &Opts) {
    let (nodes, _) = w::sample_tree();
    assert_eq!(detect(d), Some(ContainerKind::Ifs), "{:?}", o.comp);
    let ifs = Ifs::open(d, &Limits::default()).unwrap_or_else(|e| panic!("{:?}: {e}", o.comp));
    let c: &dyn Container = &ifs;
    if o.startup {
        assert_eq!(ifs.info().startup_checksum_ok, Some(true));
    }
    assert!(
        ifs.info().image_checksum_ok,
        "{:?} be={}",
        o.comp,
        o.big_endian
    );
    assert_eq!(c.entries().len(), nodes.len());
    for n in &nodes {
        let e = find(c, &n.path).unwrap_or_else(|| panic!("{} missing", n.path));
        assert_eq!(e.mode, n.mode, "{}", n.path);
        assert_eq!(e.ino, Some(u64::from(n.ino & 0x0fff_ffff)));
        match &n.kind {
            w::Kind::File(data) => {
                assert_eq!(e.entry_type, EntryType::File);
                assert_eq!(&c.read(e).unwrap()[..], &data[..], "{}", n.path);
            }
            w::Kind::Dir => assert_eq!(e.entry_type, EntryType::Dir),
            w::Kind::Symlink(t) => {
                assert_eq!(e.entry_type, EntryType::Symlink);
                assert_eq!(e.link_target.as_ref(), Some(t));
            }
            w::Kind::Device(dev, rdev) => {
                assert_eq!(e.entry_type, EntryType::Device);
                assert!(e.flags.contains(&format!("dev={dev}")));
                assert!(e.flags.contains(&format!("rdev={rdev}")));
            }
        }
    }
    let k = find(c, "proc/boot/procnto").unwrap();
    assert_eq!(k.flags[..3], ["elf", "run-once", "bootstrap"]);
    // Round trip of the whole imagefs, byte-exact.
    assert_eq!(ifs.imagefs(), &w::build_imagefs(&nodes, o)[..]);
}

#[test]
fn writer_round_trip_all_compressions_both_endians() {
    let (nodes, _) = w::sample_tree();
    for comp in [
        Comp::None,
        Comp::Zlib,
        Comp::Lzo,
        Comp::LzoReal,
        Comp::Ucl,
        Comp::UclRuns,
    ] {
        for big_endian in [false, true] {
            for block in [0x10000, 0x1000] {
                let o = Opts {
                    comp,
                    big_endian,
                    block,
                    script_ino: 3,
                    boot_ino: 4 | 0xE000_0000,
                    preboot: if big_endian { 0 } else { 0x3f8 },
                    ..Opts::default()
                };
                let d = w::build(&nodes, &o);
                check_sample(&d, &o);
                let c = open(&d, ContainerKind::Ifs, &Limits::default()).unwrap();
                // A sound image: no warning (byte orders agree, the imagefs expands to the
                // size the startup header gives), no error, both checksums valid.
                let complaints: Vec<_> = c
                    .notes()
                    .iter()
                    .filter(|n| {
                        matches!(n.kind.as_str(), "warning" | "error" | "truncated")
                            || n.detail.contains("INVALID")
                    })
                    .collect();
                assert!(
                    complaints.is_empty(),
                    "{comp:?} {big_endian}: {complaints:?}"
                );
                let cn = note(c.as_ref(), "compression");
                let expect = match comp {
                    Comp::None => "none",
                    Comp::Zlib => "zlib",
                    Comp::Lzo | Comp::LzoReal => "lzo",
                    Comp::Ucl | Comp::UclRuns => "ucl",
                };
                assert_eq!(cn[0].detail, expect);
                let bo = note(c.as_ref(), "byte-order");
                assert_eq!(
                    bo[0].detail,
                    if big_endian {
                        "big-endian"
                    } else {
                        "little-endian"
                    }
                );
            }
        }
    }
}

/// Where the image header should be and is not: the message says whether the imagefs was
/// stored plain or decompressed; a compressed imagefs that expands to another size than
/// the startup header gives is a warning.
#[test]
fn image_header_missing_or_size_disagreeing() {
    let (nodes, _) = w::sample_tree();
    let plain_o = Opts::default();
    let mut plain = w::build(&nodes, &plain_o);
    let at = plain_o.preboot + startup_size(&plain, &plain_o);
    assert_eq!(&plain[at..at + 7], b"imagefs");
    plain[at] = b'X';
    let e = Ifs::open(&plain, &Limits::default()).err().unwrap();
    assert!(
        e.message
            .contains("no valid image header (\"imagefs\") where the startup header puts it"),
        "{e}"
    );
    assert_eq!(e.offset, Some(at as u64));

    // Padding after a plain image (as in a flash partition) is no disagreement.
    let mut padded = w::build(&nodes, &plain_o);
    padded.extend_from_slice(&[0xff; 512]);
    let c = Ifs::open(&padded, &Limits::default()).unwrap();
    let c: &dyn Container = &c;
    assert!(note(c, "warning").is_empty(), "{:?}", c.notes());

    let (ucl, o) = ucl_image();
    let sh = o.preboot;
    let size = u32::from_le_bytes(ucl[sh + 44..sh + 48].try_into().unwrap());
    // The header says a little more than the imagefs expands to.
    let mut more = ucl.clone();
    more[sh + 44..sh + 48].copy_from_slice(&(size + 4).to_le_bytes());
    let opened = Ifs::open(&more, &Limits::default());
    if let Ok(c) = opened {
        let c: &dyn Container = &c;
        assert!(
            note(c, "warning")
                .iter()
                .chain(note(c, "error").iter())
                .any(|n| n.detail.contains(&size.to_string())),
            "{:?}",
            c.notes()
        );
    };
}

#[test]
fn boot_script_decoded() {
    let (nodes, _) = w::sample_tree();
    let o = Opts {
        script_ino: 3,
        ..Opts::default()
    };
    let d = w::build(&nodes, &o);
    let ifs = Ifs::open(&d, &Limits::default()).unwrap();
    assert_eq!(
        ifs.info().boot_script.as_deref().unwrap(),
        [
            "display_msg 'Hello'",
            "TERM=qansi /proc/boot/devc-ser8250 -e &",
            "waitfor 5.0 /dev/ser1",
            "procmgr_symlink '../../proc/boot/libc.so.3' '/usr/lib/ldqnx.so.2'",
        ]
    );
}

#[test]
fn bare_imagefs_without_startup() {
    let (nodes, _) = w::sample_tree();
    for big_endian in [false, true] {
        let o = Opts {
            startup: false,
            big_endian,
            ..Opts::default()
        };
        let d = w::build(&nodes, &o);
        check_sample(&d, &o);
    }
}

#[test]
fn bad_checksums_are_notes_not_errors() {
    let (nodes, _) = w::sample_tree();
    let o = Opts::default();
    let mut d = w::build(&nodes, &o);
    // Flip a byte inside the startup code and one inside a file.
    d[o.preboot + 0x110] ^= 0xff;
    let last = d.len() - 10;
    d[last] ^= 0xff;
    let ifs = Ifs::open(&d, &Limits::default()).unwrap();
    assert_eq!(ifs.info().startup_checksum_ok, Some(false));
    assert!(!ifs.info().image_checksum_ok);
    let c: &dyn Container = &ifs;
    let bad: Vec<_> = note(c, "checksum")
        .into_iter()
        .filter(|n| n.detail.contains("INVALID"))
        .collect();
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].offset, Some(o.preboot as u64));
}

fn ucl_image() -> (Vec<u8>, Opts) {
    let (nodes, _) = w::sample_tree();
    let o = Opts {
        comp: Comp::Ucl,
        block: 0x1000,
        ..Opts::default()
    };
    (w::build(&nodes, &o), o)
}

fn startup_size(d: &[u8], o: &Opts) -> usize {
    let at = o.preboot + 32;
    u32::from_le_bytes(d[at..at + 4].try_into().unwrap()) as usize
}

#[test]
fn truncated_images_keep_what_was_decoded() {
    let (d, o) = ucl_image();
    let full = Ifs::open(&d, &Limits::default()).unwrap();
    let whole = |path: &str| {
        let e = find(&full, path).unwrap();
        full.read(e).unwrap().into_owned()
    };
    // Cut in the startup part: recognised, not opened, and the error says where it ends.
    let e = Ifs::open(&d[..o.preboot + 300], &Limits::default())
        .err()
        .expect("a startup part cut short");
    assert_eq!(e.offset, Some(o.preboot as u64 + 300), "{e}");
    assert!(e.message.contains("truncated in its startup part"), "{e}");
    assert_eq!(e.kind, ErrorKind::Truncated, "{e}");
    assert!(detect(&d[..o.preboot + 300]) == Some(ContainerKind::Ifs));
    // Cut in the blocks: what was decoded before the cut is kept, a `damage` note says
    // where decoding stopped, and every entry read is the same as in the whole image.
    let cut = d.len() / 2;
    let part = Ifs::open(&d[..cut], &Limits::default()).expect("half an image");
    let damage = note(&part, "damage");
    assert_eq!(damage.len(), 1, "{:?}", part.notes());
    assert!(damage[0].offset.is_some_and(|at| at < cut as u64));
    assert!(damage[0].detail.contains("truncated"), "{damage:?}");
    assert!(part.info().damage.is_some());
    assert_eq!(part.input_extent(), None, "a damaged image is not reused");
    let mut read = 0;
    for e in part.entries() {
        if let (EntryType::File, Ok(b)) = (e.entry_type, part.read(e)) {
            assert_eq!(b.as_ref(), whole(&e.path).as_slice(), "{}", e.path);
            read += 1;
        }
    }
    assert!(read > 0, "nothing kept");
    // Only the end marker cut off: the whole imagefs decoded, a warning and no damage.
    let part = Ifs::open(&d[..d.len() - 1], &Limits::default()).unwrap();
    assert!(note(&part, "damage").is_empty(), "{:?}", part.notes());
    assert!(part.info().damage.is_none());
    // Cutting at any length: refused with an offset inside what is left, or opened with
    // what was decoded and never silently: a damage note (with its offset), another note
    // or an unreadable entry says so.
    let mut silent = Vec::new();
    for cut in (0..d.len()).step_by(7) {
        match Ifs::open(&d[..cut], &Limits::default()) {
            Err(e) => assert!(e.offset.is_some_and(|o| o <= cut as u64), "cut {cut}: {e}"),
            Ok(ifs) => {
                let c: &dyn Container = &ifs;
                assert!(note(c, "damage").iter().all(|n| n.offset.is_some()));
                let said = c.notes().iter().any(|n| {
                    matches!(
                        n.kind.as_str(),
                        "damage" | "error" | "warning" | "truncated"
                    ) || (n.kind == "checksum" && n.detail.contains("INVALID"))
                });
                if !said && c.entries().iter().all(|e| c.read(e).is_ok()) {
                    silent.push(cut);
                }
            }
        }
    }
    assert!(silent.is_empty(), "truncated without a word at {silent:?}");
}

#[test]
fn corrupt_block_length() {
    let (mut d, o) = ucl_image();
    let first = o.preboot + startup_size(&d, &o);
    d[first] = 0xff;
    d[first + 1] = 0xff;
    let e = Ifs::open(&d, &Limits::default()).err().unwrap();
    assert_eq!(e.offset, Some(first as u64));
    assert!(e.message.contains("runs past the end"), "{e}");
    assert_eq!(e.kind, ErrorKind::Truncated, "{e}");
    // A short length makes the block undecodable.
    let (mut d, o) = ucl_image();
    let first = o.preboot + startup_size(&d, &o);
    d[first] = 0;
    d[first + 1] = 10;
    let e = Ifs::open(&d, &Limits::default()).err().unwrap();
    assert!(e.offset.unwrap() >= first as u64, "{e}");
}

#[test]
fn block_expanding_past_64k_is_refused() {
    let big = vec![b'A'; 70000];
    let nodes = vec![w::dir("", 1), w::file("big", 2, &big)];
    for comp in [Comp::UclRuns, Comp::LzoReal] {
        let o = Opts {
            comp,
            block: 0x20000,
            ..Opts::default()
        };
        let d = w::build(&nodes, &o);
        let e = Ifs::open(&d, &Limits::default()).err().unwrap();
        assert!(e.message.contains("64 KiB"), "{comp:?}: {e}");
        assert_eq!(e.kind, ErrorKind::Corrupt, "{e}");
        assert!(e.offset.is_some());
    }
}

#[test]
fn dir_entry_pointing_past_image() {
    let (nodes, _) = w::sample_tree();
    let o = Opts::default();
    let mut d = w::build(&nodes, &o);
    // Find "etc/passwd"'s entry and make its offset huge.
    let pos = memchr::memmem::find(&d, b"etc/passwd\0").unwrap();
    let off_at = pos - 8;
    d[off_at..off_at + 4].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let ifs = Ifs::open(&d, &Limits::default()).unwrap();
    let c: &dyn Container = &ifs;
    let e = find(c, "etc/passwd").unwrap();
    assert!(e.flags.contains(&"truncated".to_string()));
    assert!(c
        .notes()
        .iter()
        .any(|n| n.kind == "error" && n.detail.contains("etc/passwd")));
    let err = c.read(e).unwrap_err();
    assert!(err.message.contains("runs past the image"), "{err}");
    assert_eq!(err.kind, ErrorKind::Truncated, "{err}");
    assert!(err.offset.is_some());
    // The others still read.
    assert!(c.read(find(c, "etc/big.txt").unwrap()).is_ok());
}

#[test]
fn bomb_header_small_stream_huge() {
    // The header claims a small imagefs, the stream carries 8 MiB.
    let big = vec![0u8; 8 << 20];
    let nodes = vec![w::dir("", 1), w::file("zeros", 2, &big)];
    for comp in [Comp::Zlib, Comp::UclRuns, Comp::LzoReal] {
        let o = Opts {
            comp,
            ..Opts::default()
        };
        let mut d = w::build(&nodes, &o);
        let at = o.preboot + 44;
        d[at..at + 4].copy_from_slice(&4096u32.to_le_bytes());
        let opened = Ifs::open(&d, &Limits::default());
        match opened {
            // zlib: all or nothing.
            Err(e) => assert!(
                comp == Comp::Zlib
                    && (e.message.contains("imagefs_size") || e.message.contains("limit")),
                "{comp:?}: {e}"
            ),
            // Blocks: decoding stops at the first block past the figure.
            Ok(c) => {
                assert!(c.resident_bytes() <= 4096 + 64 * 1024, "{comp:?}");
                let damage = note(&c, "damage");
                assert!(damage[0].detail.contains("imagefs_size"), "{damage:?}");
            }
        }
    }
}

#[test]
fn bomb_header_huge() {
    let (d0, o) = ucl_image();
    let mut d = d0.clone();
    let at = o.preboot + 44;
    d[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let e = Ifs::open(&d, &Limits::default()).err().unwrap();
    assert!(e.message.contains("exceed the limit"), "{e}");
    assert_eq!(e.kind, ErrorKind::BoundHit, "{e}");
    assert_eq!(e.offset, Some(at as u64));
    // With a small limit, a real image over the limit is refused too.
    let lim = Limits {
        max_expanded: 1000,
        ..Limits::default()
    };
    let e = Ifs::open(&d0, &lim).err().unwrap();
    assert!(e.message.contains("exceed the limit"), "{e}");
    assert_eq!(e.kind, ErrorKind::BoundHit, "{e}");
    // Header says huge but the stream is small: the stream decides, the header's figure
    // is a warning, and no giant allocation is made.
    let mut d = d0.clone();
    d[at..at + 4].copy_from_slice(&(400u32 << 20).to_le_bytes());
    let c = Ifs::open(&d, &Limits::default()).unwrap();
    assert!(c.resident_bytes() < 1 << 20);
    assert!(note(&c, "warning")
        .iter()
        .any(|n| n.detail.contains("expanded to")));
    assert!(note(&c, "damage").is_empty());
}

#[test]
fn too_many_entries() {
    let (nodes, _) = w::sample_tree();
    let d = w::build(&nodes, &Opts::default());
    let lim = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    assert!(Ifs::open(&d, &lim).is_err());
}

/// Random damage: no panic, and never silent. Every byte after the preboot stub is covered
/// by the startup or the image checksum, so a mutant either fails to open (with an offset
/// inside the data), or says so in a checksum or error note, or fails to read an entry;
/// every entry it does read has the size its directory entry gives.
#[test]
fn random_mutations_never_panic_and_are_never_silent() {
    let (d0, o) = ucl_image();
    let (nodes, _) = w::sample_tree();
    let plain = w::build(&nodes, &Opts::default());
    let mut x: u64 = 0x1234_5678;
    let mut silent = Vec::new();
    let mut opened = 0;
    for base in [&d0, &plain] {
        for round in 0..400 {
            let mut d = base.clone();
            for _ in 0..4 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = (x >> 33) as usize % d.len();
                d[i] = (x >> 20) as u8;
            }
            let damaged = d
                .iter()
                .zip(base.iter())
                .skip(o.preboot)
                .any(|(a, b)| a != b);
            let opened_now = open(&d, ContainerKind::Ifs, &Limits::default());
            match opened_now {
                Err(e) => {
                    assert!(!e.message.is_empty());
                    if let Some(off) = e.offset {
                        assert!(off <= d.len() as u64, "{e}");
                    }
                }
                Ok(c) => {
                    opened += 1;
                    let mut unreadable = false;
                    for e in c.entries() {
                        match c.read(e) {
                            Ok(b) if e.entry_type == EntryType::File => {
                                assert_eq!(b.len() as u64, e.size, "{}", e.path)
                            }
                            Ok(_) => {}
                            Err(_) => unreadable = true,
                        }
                    }
                    let _ = listing(c.as_ref());
                    let said = c.notes().iter().any(|n| {
                        matches!(
                            n.kind.as_str(),
                            "damage" | "error" | "warning" | "truncated"
                        ) || (n.kind == "checksum" && n.detail.contains("INVALID"))
                    });
                    if damaged && !said && !unreadable {
                        silent.push(format!("base {} round {round}", base.len()));
                    }
                }
            };
        }
    }
    assert!(
        opened > 100,
        "only {opened} mutants opened: the checks above hardly ran"
    );
    assert!(silent.is_empty(), "damage not reported: {silent:?}");
}

/// A zlib image's deciding bytes (what the scan's image memo compares) run to the end of
/// its gzip member, or to its `stored_size` when that says more (the span is taken from
/// it); bytes after both decide nothing, and an input shorter than `stored_size` is not
/// reused (its span depends on where the input ends).
#[test]
fn a_zlib_image_decides_by_its_gzip_member_and_its_stored_size() {
    let (nodes, _) = w::sample_tree();
    let o = Opts {
        comp: Comp::Zlib,
        ..Opts::default()
    };
    let d = w::build(&nodes, &o);
    let end = d.len() as u64;
    let opened = Ifs::open(&d, &Limits::default()).unwrap();
    assert_eq!(opened.input_extent(), Some(end));
    assert_eq!(opened.span(), Some(end));
    // Trailing bytes after the image: not deciding.
    let mut longer = d.clone();
    longer.extend_from_slice(&[0xA5; 64]);
    assert_eq!(
        Ifs::open(&longer, &Limits::default())
            .unwrap()
            .input_extent(),
        Some(end)
    );
    // stored_size 32 bytes past the gzip member: the extent follows it.
    let stored_at = o.preboot + 36;
    let stored = u32::from_le_bytes(longer[stored_at..stored_at + 4].try_into().unwrap());
    longer[stored_at..stored_at + 4].copy_from_slice(&(stored + 32).to_le_bytes());
    let opened = Ifs::open(&longer, &Limits::default()).unwrap();
    assert_eq!(opened.span(), Some(end + 32));
    assert_eq!(opened.input_extent(), Some(end + 32));
    // stored_size past the end of the input: the span is cut there, nothing is reused.
    let cut = &longer[..d.len() + 16];
    let opened = Ifs::open(cut, &Limits::default()).unwrap();
    assert_eq!(opened.span(), Some(end + 16));
    assert_eq!(opened.input_extent(), None);
}
