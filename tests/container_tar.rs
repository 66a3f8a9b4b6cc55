//! tar (ustar, GNU long names, pax) and gzip containers, and extraction safety.

mod common;

use std::borrow::Cow;
use std::io::Write;

use badalloc_formats::*;

fn header(name: &str, typeflag: u8, size: u64, link: &str, prefix: &str) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len().min(100)].copy_from_slice(&name.as_bytes()[..name.len().min(100)]);
    h[100..107].copy_from_slice(b"0000755");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    let s = format!("{size:011o}");
    h[124..135].copy_from_slice(s.as_bytes());
    h[136..147].copy_from_slice(b"14000000000");
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

fn push(out: &mut Vec<u8>, h: [u8; 512], data: &[u8]) {
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    while out.len() % 512 != 0 {
        out.push(0);
    }
}

fn sample_tar() -> Vec<u8> {
    let mut t = Vec::new();
    push(&mut t, header("dir/", b'5', 0, "", ""), b"");
    push(&mut t, header("dir/hello.txt", b'0', 6, "", ""), b"hello\n");
    push(
        &mut t,
        header("hello.txt", b'0', 6, "", "prefix/path"),
        b"HELLO\n",
    );
    let long = format!(
        "{}/{}",
        "d".repeat(90),
        "very_long_file_name_beyond_100_chars.bin"
    );
    push(
        &mut t,
        header("././@LongLink", b'L', long.len() as u64 + 1, "", ""),
        format!("{long}\0").as_bytes(),
    );
    push(&mut t, header("truncated-name", b'0', 3, "", ""), b"abc");
    let pax_path = "pax/ünïcode-name.txt";
    let rec_body = format!(" path={pax_path}\n");
    let mut n = rec_body.len() + 2;
    if format!("{n}{rec_body}").len() != n {
        n += 1;
    }
    let rec = format!("{n}{rec_body}");
    push(
        &mut t,
        header("PaxHeaders/x", b'x', rec.len() as u64, "", ""),
        rec.as_bytes(),
    );
    push(&mut t, header("placeholder", b'0', 4, "", ""), b"pax!");
    push(&mut t, header("link", b'2', 0, "dir/hello.txt", ""), b"");
    push(&mut t, header("hard", b'1', 0, "dir/hello.txt", ""), b"");
    push(&mut t, header("fifo", b'6', 0, "", ""), b"");
    push(&mut t, header("../escape.txt", b'0', 4, "", ""), b"evil");
    push(&mut t, header("/abs/root.txt", b'0', 4, "", ""), b"root");
    t.extend_from_slice(&[0u8; 1024]);
    t
}

#[test]
fn tar_listing_and_reads() {
    let t = sample_tar();
    assert_eq!(detect(&t), Some(ContainerKind::Tar));
    let c = open(&t, ContainerKind::Tar, &Limits::default()).unwrap();
    let paths: Vec<&str> = c.entries().iter().map(|e| e.path.as_str()).collect();
    let long = format!(
        "{}/{}",
        "d".repeat(90),
        "very_long_file_name_beyond_100_chars.bin"
    );
    assert_eq!(
        paths,
        [
            "dir",
            "dir/hello.txt",
            "prefix/path/hello.txt",
            long.as_str(),
            "pax/ünïcode-name.txt",
            "link",
            "hard",
            "fifo",
            "../escape.txt",
            "abs/root.txt"
        ]
    );
    let rd = |p: &str| c.read(find(c.as_ref(), p).unwrap()).unwrap().into_owned();
    assert_eq!(rd("dir/hello.txt"), b"hello\n");
    assert_eq!(rd("prefix/path/hello.txt"), b"HELLO\n");
    assert_eq!(rd(&long), b"abc");
    assert_eq!(rd("pax/ünïcode-name.txt"), b"pax!");
    assert_eq!(rd("hard"), b"hello\n");
    // In-place reads are borrowed.
    assert!(matches!(
        c.read(find(c.as_ref(), "dir/hello.txt").unwrap()).unwrap(),
        Cow::Borrowed(_)
    ));
    let l = find(c.as_ref(), "link").unwrap();
    assert_eq!(l.entry_type, EntryType::Symlink);
    assert_eq!(l.link_target.as_deref(), Some("dir/hello.txt"));
    assert_eq!(
        find(c.as_ref(), "fifo").unwrap().entry_type,
        EntryType::Fifo
    );
    assert_eq!(find(c.as_ref(), "dir").unwrap().entry_type, EntryType::Dir);
}

#[test]
fn tar_gz_and_plain_gzip() {
    let t = sample_tar();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&t).unwrap();
    let tgz = e.finish().unwrap();
    assert_eq!(detect(&tgz), Some(ContainerKind::Gzip));
    let c = open(&tgz, ContainerKind::Gzip, &Limits::default()).unwrap();
    assert_eq!(c.kind(), ContainerKind::Gzip);
    assert_eq!(c.entries().len(), 10);
    assert_eq!(
        c.read(find(c.as_ref(), "dir/hello.txt").unwrap())
            .unwrap()
            .as_ref(),
        b"hello\n"
    );
    // Non-tar payload: one entry, named from the header.
    let mut e = flate2::GzBuilder::new()
        .filename("procnto.bin")
        .write(Vec::new(), flate2::Compression::default());
    e.write_all(b"not a tar at all").unwrap();
    let gz = e.finish().unwrap();
    let c = open(&gz, ContainerKind::Gzip, &Limits::default()).unwrap();
    assert_eq!(c.entries().len(), 1);
    assert_eq!(c.entries()[0].path, "procnto.bin");
    assert_eq!(
        c.read(&c.entries()[0]).unwrap().as_ref(),
        b"not a tar at all"
    );
}

#[test]
fn gzip_bomb_is_bounded() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        e.write_all(&zeros).unwrap();
    }
    let gz = e.finish().unwrap();
    assert!(gz.len() < 200_000);
    let lim = Limits {
        max_expanded: 4 << 20,
        ..Limits::default()
    };
    let err = open(&gz, ContainerKind::Gzip, &lim).err().unwrap();
    assert!(err.message.contains("exceed the limit"), "{err}");
    assert_eq!(err.kind, ErrorKind::BoundHit, "{err}");
    // Corrupt deflate data is an error, not a panic.
    let mut bad = gz.clone();
    for b in bad.iter_mut().skip(20).take(50) {
        *b ^= 0x55;
    }
    assert!(open(&bad, ContainerKind::Gzip, &lim).is_err());
}

/// End of the header block of each entry of `t` (the last one, for long-name and pax
/// pairs), in listing order: the blocks whose checksum is valid, less the `L`/`x` prefixes.
fn entry_header_ends(t: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut off = 0;
    while let Some(h) = t.get(off..off + 512) {
        let stored = std::str::from_utf8(&h[148..155])
            .ok()
            .and_then(|s| u32::from_str_radix(s.trim_matches(['\0', ' ']), 8).ok());
        let sum: u32 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        if h.iter().any(|&b| b != 0) && stored == Some(sum) && !matches!(h[156], b'L' | b'x') {
            ends.push(off + 512);
        }
        off += 512;
    }
    ends
}

/// Truncated anywhere: the listing is a prefix of the whole one and holds no entry whose
/// header lies past the cut; an entry either reads exactly as in the whole archive or fails
/// to read; an error says where.
#[test]
fn truncated_and_garbage_tar() {
    let t = sample_tar();
    let whole = open(&t, ContainerKind::Tar, &Limits::default()).unwrap();
    let ends = entry_header_ends(&t);
    assert_eq!(ends.len(), whole.entries().len());
    let mut listed_some = 0;
    for cut in (0..t.len()).step_by(97) {
        match open(&t[..cut], ContainerKind::Tar, &Limits::default()) {
            Err(e) => {
                // Only before the first complete header.
                assert!(cut < ends[0], "cut {cut}: {e}");
                assert!(e.offset.is_some_and(|o| o <= cut as u64), "cut {cut}: {e}");
            }
            Ok(c) => {
                let n = c.entries().len();
                let before_cut = ends.iter().filter(|&&end| end <= cut).count();
                assert!(
                    n <= before_cut,
                    "cut {cut}: {n} entries, {before_cut} headers before it"
                );
                listed_some += usize::from(n > 0);
                for (e, w) in c.entries().iter().zip(whole.entries()) {
                    assert_eq!(e.path, w.path, "cut {cut}");
                    if let Ok(b) = c.read(e) {
                        assert_eq!(b, whole.read(w).unwrap(), "cut {cut}: {}", e.path);
                    }
                }
            }
        }
    }
    assert!(listed_some > 10);
    let mut huge = header("big", b'0', 0, "", "");
    // size field claiming 8 GiB
    huge[124..135].copy_from_slice(b"77777777777");
    huge[148..156].copy_from_slice(b"        ");
    let sum: u32 = huge.iter().map(|&b| u32::from(b)).sum();
    huge[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut t = huge.to_vec();
    t.extend_from_slice(b"tiny");
    let c = open(&t, ContainerKind::Tar, &Limits::default()).unwrap();
    assert!(c.read(&c.entries()[0]).is_err());
    assert!(c.notes().iter().any(|n| n.kind == "truncated"));
}

/// A header inside the archive with a bad checksum ends the listing there, with a note at
/// its offset; the entries before it stay. At the first header it is an error.
#[test]
fn bad_header_checksum_inside_an_archive_stops_the_listing_there() {
    let mut t = Vec::new();
    push(&mut t, header("a.txt", b'0', 3, "", ""), b"aaa");
    let second = t.len();
    push(&mut t, header("b.txt", b'0', 3, "", ""), b"bbb");
    push(&mut t, header("c.txt", b'0', 3, "", ""), b"ccc");
    t.extend_from_slice(&[0u8; 1024]);
    let all = open(&t, ContainerKind::Tar, &Limits::default()).unwrap();
    assert_eq!(all.entries().len(), 3);
    assert!(all.notes().iter().all(|n| n.kind != "error"));

    let mut bad = t.clone();
    bad[second] = b'x'; // the name changes, the stored checksum does not
    let c = open(&bad, ContainerKind::Tar, &Limits::default()).unwrap();
    let paths: Vec<&str> = c.entries().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["a.txt"]);
    let n = c
        .notes()
        .iter()
        .find(|n| n.kind == "error")
        .expect("a note says where the listing stopped");
    assert!(n.detail.contains("checksum mismatch"), "{n:?}");
    assert_eq!(n.offset, Some(second as u64));

    let mut bad = t.clone();
    bad[0] = b'x';
    let e = open(&bad, ContainerKind::Tar, &Limits::default())
        .err()
        .unwrap();
    assert!(e.message.contains("checksum mismatch"), "{e}");
    assert_eq!(e.offset, Some(0));
    assert_eq!(detect(&bad), None, "a bad first header is not a tar");
}

/// Old tars summed the header as signed chars: with a byte above 0x7f in a name, that sum
/// differs from the unsigned one, and both are accepted.
#[test]
fn signed_and_unsigned_header_checksums_are_both_accepted() {
    let mut h = header("caf_.txt", b'0', 3, "", "");
    h[3] = 0xe9;
    h[148..156].copy_from_slice(b"        ");
    let unsigned: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let signed: i32 = h.iter().map(|&b| i32::from(b as i8)).sum();
    assert_ne!(i64::from(unsigned), i64::from(signed));
    for sum in [i64::from(unsigned), i64::from(signed)] {
        let mut h = h;
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let mut t = Vec::new();
        push(&mut t, h, b"abc");
        t.extend_from_slice(&[0u8; 1024]);
        let c = open(&t, ContainerKind::Tar, &Limits::default())
            .unwrap_or_else(|e| panic!("checksum {sum:o}: {e}"));
        assert_eq!(c.entries().len(), 1);
        assert_eq!(c.read(&c.entries()[0]).unwrap().as_ref(), b"abc");
    }
}

#[test]
fn extract_refuses_escapes_and_never_writes_through_links() {
    let t = sample_tar();
    let c = open(&t, ContainerKind::Tar, &Limits::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let s = extract(c.as_ref(), &out).unwrap();
    assert_eq!(
        std::fs::read(out.join("dir/hello.txt")).unwrap(),
        b"hello\n"
    );
    assert_eq!(std::fs::read(out.join("abs/root.txt")).unwrap(), b"root");
    assert!(!tmp.path().join("escape.txt").exists());
    assert!(s
        .skipped
        .iter()
        .any(|(p, why)| p == "../escape.txt" && why.contains("..")));
    assert!(s.skipped.iter().any(|(p, _)| p == "fifo"));
    #[cfg(unix)]
    {
        let m = std::fs::symlink_metadata(out.join("link")).unwrap();
        assert!(m.file_type().is_symlink());
    }

    // An archive that plants a symlink to outside, then writes through it.
    #[cfg(unix)]
    {
        let victim = tmp.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        let mut t = Vec::new();
        push(
            &mut t,
            header("evil", b'2', 0, victim.to_str().unwrap(), ""),
            b"",
        );
        push(&mut t, header("evil/pwned.txt", b'0', 4, "", ""), b"pwnd");
        push(
            &mut t,
            header("evil2", b'2', 0, "/etc/hostname-does-not-exist", ""),
            b"",
        );
        push(&mut t, header("evil2", b'0', 4, "", ""), b"over");
        t.extend_from_slice(&[0u8; 1024]);
        let c = open(&t, ContainerKind::Tar, &Limits::default()).unwrap();
        let out2 = tmp.path().join("out2");
        let s = extract(c.as_ref(), &out2).unwrap();
        assert!(!victim.join("pwned.txt").exists());
        assert!(s
            .skipped
            .iter()
            .any(|(p, why)| p == "evil/pwned.txt" && why.contains("symlink")));
        // The second evil2 replaced the link itself, not its target.
        assert!(!std::path::Path::new("/etc/hostname-does-not-exist").exists());
        assert_eq!(std::fs::read(out2.join("evil2")).unwrap(), b"over");
    }
}
