//! One test per resource bound (docs/bounds.md): each bound is hit on purpose; the reader or
//! the scan stops there with an error that names the path (and the offset where there is
//! one) and the rest goes on.

mod common;

use badalloc_audit_core::scan::{self, scan_bytes, scan_bytes_with_budget};
use badalloc_audit_core::source::{read_file, walk, WalkItem};
use badalloc_calloc::{self as calloc, analyze_calloc, CallocVerdict};
use badalloc_elf::ElfFile;
use badalloc_formats::{self as container, ContainerKind, ErrorKind, Limits};
use common::elf_writer;
use common::ifs_writer::{self, Comp, Opts};

fn small(max_expanded: u64, max_entries: usize) -> Limits {
    Limits {
        max_expanded,
        max_entries,
    }
}

fn elf() -> Vec<u8> {
    std::fs::read(common::fixture("qnx/x86_64/libc.so.3")).unwrap()
}

// --- decompressed size -------------------------------------------------------------------

#[test]
fn decompressed_size_the_headers_figure_is_checked_against_the_cap_and_the_output() {
    let nodes = vec![ifs_writer::file("proc/boot/libc.so.3", 2, &elf())];
    for comp in [Comp::Zlib, Comp::Lzo, Comp::Ucl] {
        let o = Opts {
            comp,
            preboot: 0,
            ..Opts::default()
        };
        let img = ifs_writer::build(&nodes, &o);
        assert!(container::open(&img, ContainerKind::Ifs, &Limits::default()).is_ok());
        // The header announces more than the cap: refused before anything is decompressed.
        let mut big = img.clone();
        big[44..48].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = container::open(&big, ContainerKind::Ifs, &small(1 << 20, 1000))
            .err()
            .unwrap();
        assert!(e.message.contains("exceed the limit"), "{comp:?}: {e}");
        assert_eq!(e.kind, ErrorKind::BoundHit, "{e}");
        assert!(e.offset.is_some());
        // The header announces less than the data expands to: stopped at the header's
        // figure plus one block (64 KiB of a zlib stream). Within that, a figure that is
        // short still gives the whole image, and the reader says so.
        let mut short = img.clone();
        short[44..48].copy_from_slice(&1000u32.to_le_bytes());
        let c = container::open(&short, ContainerKind::Ifs, &Limits::default()).unwrap();
        assert!(c.resident_bytes() <= 1000 + container::ifs::MAX_BLOCK_OUT as u64);
        assert!(
            c.notes()
                .iter()
                .any(|n| n.detail.contains("startup header says 1000")),
            "{comp:?}: {:?}",
            c.notes()
        );
        // Past that: a zlib stream is refused, blocks stop (below).
        if comp == Comp::Zlib {
            // A stream of 200 KB under a figure of 1000 bytes.
            let big = vec![ifs_writer::file("big", 3, &vec![7u8; 200_000])];
            let mut bomb = ifs_writer::build(&big, &o);
            bomb[44..48].copy_from_slice(&1000u32.to_le_bytes());
            let e = container::open(&bomb, ContainerKind::Ifs, &Limits::default())
                .err()
                .unwrap();
            assert!(e.message.contains("imagefs"), "{e}");
            assert!(e.offset.is_some(), "{e}");
            continue;
        }
        // With blocks of 512 bytes, decoding stops at the first block past the figure:
        // damage, with what came before kept.
        let o = Opts { block: 0x200, ..o };
        let mut short = ifs_writer::build(&nodes, &o);
        short[44..48].copy_from_slice(&1000u32.to_le_bytes());
        let c = container::open(&short, ContainerKind::Ifs, &Limits::default()).unwrap();
        assert!(c.resident_bytes() <= 1000 + container::ifs::MAX_BLOCK_OUT as u64);
        let damage = c.notes().iter().find(|n| n.kind == "damage").cloned();
        let damage = damage.unwrap_or_else(|| panic!("{comp:?}: {:?}", c.notes()));
        assert!(damage.detail.contains("imagefs_size"), "{damage:?}");
        assert!(damage.offset.is_some());
    }
}

#[test]
fn decompressed_size_hard_cap_stops_a_gzip_bomb() {
    let bomb = common::gzip(&vec![0u8; 8 << 20]);
    assert!(bomb.len() < 64 << 10);
    let e = container::open(&bomb, ContainerKind::Gzip, &small(1 << 20, 1000))
        .err()
        .unwrap();
    assert!(e.message.contains("exceed the limit of 1048576"), "{e}");
    assert_eq!(e.kind, ErrorKind::BoundHit, "{e}");
    assert_eq!(container::DEFAULT_MAX_EXPANDED, 512 << 20);
    assert_eq!(
        Limits::default().max_expanded,
        container::DEFAULT_MAX_EXPANDED
    );
}

// --- memory per file ---------------------------------------------------------------------

#[test]
fn memory_per_file_is_a_budget_shared_by_all_nesting_levels() {
    // fw.tar.gz holding inner.gz holding 2 MiB: the outer payload is small, the inner 2 MiB.
    let inner = common::gzip(&vec![7u8; 2 << 20]);
    let outer = common::gzip(&common::tar(&[("inner.gz", &inner)]));
    let t = scan_bytes_with_budget("fw.tar.gz", &outer, 8 << 20);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    let t = scan_bytes_with_budget("fw.tar.gz", &outer, 1 << 20);
    let e = t
        .errors
        .iter()
        .find(|e| e.message.contains("memory budget"))
        .unwrap_or_else(|| panic!("{:?}", t.errors));
    assert_eq!(e.path, "fw.tar.gz!/inner.gz");
    assert_eq!(e.kind, ErrorKind::BoundHit, "{}", e.message);
    assert!(e.offset.is_some());
    assert_eq!(scan::MAX_EXPANDED_PER_FILE, 1 << 30);
    const _: () = assert!(scan::MAX_EXPANDED_PER_FILE >= container::DEFAULT_MAX_EXPANDED);
}

#[test]
fn memory_per_file_input_size_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.bin");
    let f = std::fs::File::create(&p).unwrap();
    if f.set_len(badalloc_audit_core::source::read::MAX_FILE_SIZE + 1)
        .is_err()
    {
        common::skip_environment("this file system has no sparse files of 1 TiB");
        return;
    }
    let err = read_file(&p)
        .err()
        .expect("a file above the cap is refused");
    assert!(err.to_string().contains("limit"), "{err}");
}

/// `scan --format json PATH` with the address space limited to `limit` bytes (as
/// `prlimit --as` does): status, and the JSON report. None (with a SKIP) if the limit
/// cannot be set.
fn scan_with_address_space(limit: u64, path: &std::path::Path) -> Option<(i32, serde_json::Value)> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("badalloc-audit"));
    cmd.args(["scan", "-q", "--format", "json"]).arg(path);
    // SAFETY: setrlimit is async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let l = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &l) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => {
            common::skip_environment(&format!("cannot limit the address space here ({e})"));
            return None;
        }
    };
    Some(status_and_json(&out))
}

/// A scan's exit status (a panic if a signal ended it) and its JSON report.
fn status_and_json(out: &std::process::Output) -> (i32, serde_json::Value) {
    let code = out.status.code().unwrap_or_else(|| {
        panic!(
            "killed by {:?}: {}",
            std::os::unix::process::ExitStatusExt::signal(&out.status),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (code, json)
}

/// A sparse file `fw/flash.bin` of `len` bytes holding real boot images from the corpus
/// (6.6.0 ARM, checked calloc; 6.4.1 x86, unchecked), the first across the end of the
/// ninth window, the second inside the window past `MAX_READ_IN_MEMORY`; (path, [(offset,
/// corpus file)]). None (with a SKIP) without the corpus or sparse files.
fn sparse_dump_with_images(
    tree: &std::path::Path,
    len: u64,
) -> Option<(std::path::PathBuf, Vec<(u64, &'static str)>)> {
    use badalloc_audit_core::source::read::{MAX_READ_IN_MEMORY, WINDOW, WINDOW_OVERLAP};
    use std::os::unix::fs::FileExt;
    let window = WINDOW as u64;
    // Half a MiB before the window's end: 1.5 MiB of it in the window, not all of it.
    let straddling = 9 * window - (512 << 10);
    let inside = MAX_READ_IN_MEMORY + window / 2;
    let placed = vec![
        (straddling, "qnx/sdp660-armle-omap5-sd.ifs"),
        (inside, "qnx/openqnx-641-x86.ifs"),
    ];
    let path = tree.join("flash.bin");
    let file = std::fs::File::create(&path).ok()?;
    if file.set_len(len).is_err() {
        common::skip_environment("this file system has no large sparse files");
        return None;
    }
    for &(at, name) in &placed {
        let image = common::corpus(name)?;
        // The first runs past its window (and its overlap); the second fits in one.
        let room = window + WINDOW_OVERLAP as u64 - (at % window);
        assert_eq!(image.len() as u64 > room, at == straddling, "{name}");
        file.write_all_at(&image, at).unwrap();
    }
    Some((path, placed))
}

/// Each image placed in `file` is reported at its offset in the file, and its C library
/// read (the 6.6.0 one checked, the 6.4.1 one not).
fn assert_found_at_their_offsets(t: &serde_json::Value, file: &str, placed: &[(u64, &str)]) {
    for &(at, name) in placed {
        let image = t["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["offset"] == at);
        let image = image.unwrap_or_else(|| panic!("{name} not found at {at:#x}: {t}"));
        assert_eq!(
            (&image["path"], &image["kind"], &image["state"]),
            (
                &format!("{file}@{at:#x}").into(),
                &"ifs".into(),
                &"complete".into()
            ),
            "{t}"
        );
        let libc = format!("{file}@{at:#x}!/proc/boot/libc.so.3");
        let found = t["libc"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["path"] == libc);
        let verdict = &found.unwrap_or_else(|| panic!("no {libc}: {t}"))["calloc"]["verdict"];
        let expected = if name.contains("641") {
            "unchecked"
        } else {
            "checked"
        };
        assert_eq!(verdict, expected, "{libc}");
    }
}

#[test]
fn memory_a_file_that_cannot_be_mapped_is_read_within_a_bound_never_aborting() {
    use badalloc_audit_core::source::read::MAX_READ_IN_MEMORY;
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("fw");
    std::fs::create_dir_all(tree.join("lib")).unwrap();
    std::fs::write(tree.join("lib/libc.so.3"), elf()).unwrap();
    // 1.25 GiB of holes under a 1 GiB address space: no map, and above the bound for a read
    // whole; real boot images in it, one across the end of a window, one past the bound.
    let Some((sparse, placed)) = sparse_dump_with_images(&tree, MAX_READ_IN_MEMORY + (256 << 20))
    else {
        return;
    };
    let Some((code, j)) = scan_with_address_space(1 << 30, &sparse) else {
        return;
    };
    assert_eq!(code, 1, "the 6.4.1 boot image is affected: {j}");
    let t = &j["targets"][0];
    assert_found_at_their_offsets(t, "flash.bin", &placed);
    assert_eq!(t["kind"], "raw-dump", "{t}");
    assert_eq!(t["errors"], serde_json::json!([]), "{t}");
    // In a tree: that file is examined the same way, and the rest too.
    let (_, j) = scan_with_address_space(1 << 30, &tree).unwrap();
    let t = &j["targets"][0];
    assert_eq!(
        (&t["stats"]["skipped"], &t["stats"]["files"]),
        (&0.into(), &2.into()),
        "{t}"
    );
    assert!(t["libc"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["path"] == "lib/libc.so.3"));
    assert_found_at_their_offsets(t, "flash.bin", &placed);
    // Below the bound but more than can be allocated: an error too, not an abort.
    let big = dir.path().join("big.bin");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(MAX_READ_IN_MEMORY - 4096))
        .unwrap();
    let (code, j) = scan_with_address_space(512 << 20, &big).unwrap();
    assert_eq!(code, 4, "{j}");
    let message = j["targets"][0]["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("cannot allocate"), "{message}");
}

// --- nesting -----------------------------------------------------------------------------

#[test]
fn nesting_depth_of_images_in_images_is_bounded() {
    let mut data = elf();
    for _ in 0..(scan::MAX_NESTING + 2) {
        data = common::gzip(&data);
    }
    let t = scan_bytes("deep.gz", &data);
    let e = t
        .errors
        .iter()
        .find(|e| e.message.contains("nested deeper than"))
        .unwrap_or_else(|| panic!("{:?}", t.errors));
    assert_eq!(e.path.matches("!/").count(), scan::MAX_NESTING);
    assert!(e.path.starts_with("deep.gz!/"));
    assert_eq!(e.kind, ErrorKind::BoundHit);
    assert!(t.binaries.is_empty());
    // One level less reaches the ELF file.
    let mut data = elf();
    for _ in 0..scan::MAX_NESTING {
        data = common::gzip(&data);
    }
    assert_eq!(scan_bytes("ok.gz", &data).binaries.len(), 1);
}

// --- entry and inode counts --------------------------------------------------------------

#[test]
fn directory_entry_count_is_bounded_in_tar_and_ifs() {
    let names: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let t = common::tar(&files);
    assert!(container::open(&t, ContainerKind::Tar, &small(1 << 20, 20)).is_ok());
    let e = container::open(&t, ContainerKind::Tar, &small(1 << 20, 10))
        .err()
        .unwrap();
    assert!(e.message.contains("more than 10 entries"), "{e}");
    assert_eq!(e.kind, ErrorKind::BoundHit, "{e}");
    assert!(e.offset.is_some());

    let nodes: Vec<_> = (0..20)
        .map(|i| ifs_writer::file(&format!("f{i}"), i + 2, b"x"))
        .collect();
    let img = ifs_writer::build(&nodes, &Opts::default());
    let e = container::open(&img, ContainerKind::Ifs, &small(1 << 20, 10))
        .err()
        .unwrap();
    assert!(e.message.contains("more than 10 entries"), "{e}");
    assert_eq!(e.kind, ErrorKind::BoundHit, "{e}");
    assert_eq!(container::DEFAULT_MAX_ENTRIES, 1_000_000);
}

#[test]
fn qnx6_and_qnx4_inode_and_entry_counts_are_bounded() {
    for (rel, kind) in [
        ("qnx6/qnxmount-test_image.bin", ContainerKind::Qnx6),
        ("qnx/openqnx-qnx4fs.img", ContainerKind::Qnx4),
    ] {
        let Some(d) = common::corpus(rel) else {
            continue;
        };
        let full = container::open(&d, kind, &Limits::default()).unwrap();
        let n = full.entries().len();
        assert!(n > 3);
        let e = container::open(&d, kind, &small(1 << 30, 3)).err();
        let e = e.unwrap_or_else(|| panic!("{rel}: {n} entries read under a limit of 3"));
        assert!(e.message.contains('3'), "{rel}: {e}");
        assert_eq!(e.kind, ErrorKind::BoundHit, "{rel}: {e}");
    }
}

#[test]
fn efs_and_etfs_entry_counts_and_file_sizes_are_bounded() {
    for (rel, kind, large) in [
        (
            "flash/qnxmount-efs-test_image.bin",
            ContainerKind::Efs,
            "mnt/test123/this_file_is_large",
        ),
        (
            "flash/qnxmount-etfs-test_image.bin",
            ContainerKind::Etfs,
            "this_file_is_large",
        ),
    ] {
        let Some(d) = common::corpus(rel) else {
            continue;
        };
        let e = container::open(&d, kind, &small(1 << 30, 3)).err();
        let e = e.unwrap_or_else(|| panic!("{rel}: read under a limit of 3 entries"));
        assert!(e.message.contains("more than 3 entries"), "{rel}: {e}");
        assert_eq!(e.kind, ErrorKind::BoundHit, "{rel}: {e}");
        assert!(e.offset.is_some(), "{rel}: {e}");
        // A file above max_expanded is an error at its extents or file-table entry; the
        // small files still read.
        let c = container::open(&d, kind, &small(1000, 100)).unwrap();
        let big = container::find(c.as_ref(), large).unwrap();
        let e = c.read(big).unwrap_err();
        assert!(
            e.message.contains("exceeds the limit of 1000 bytes"),
            "{rel}: {e}"
        );
        assert!(e.offset.is_some(), "{rel}: {e}");
        assert!(c
            .entries()
            .iter()
            .filter(|e| e.entry_type == container::EntryType::File && e.size <= 1000)
            .all(|e| c.read(e).is_ok()));
    }
}

#[test]
fn efs_partitions_per_image_are_bounded() {
    // MAX_PARTITIONS + 6 small partitions one after the other: the first 64 are listed (each
    // under its own name, the clashing mount points told apart by offset), a note says so.
    let one = common::efs_writer::sample(12).image;
    let n = container::efs::MAX_PARTITIONS + 6;
    let img: Vec<u8> = one.iter().copied().cycle().take(one.len() * n).collect();
    let c = container::open(&img, ContainerKind::Efs, &Limits::default()).unwrap();
    let parts = c
        .notes()
        .iter()
        .filter(|n| n.kind == "efs-partition")
        .count();
    assert_eq!(parts, container::efs::MAX_PARTITIONS);
    assert!(container::find(c.as_ref(), "fs/flash/lib/libc.so.3").is_some());
    let second = format!("fs/flash@{:#x}/lib/libc.so.3", one.len());
    assert!(container::find(c.as_ref(), &second).is_some(), "{second}");
    assert!(
        c.notes().iter().any(|n| n.detail.contains("partitions")),
        "{:?}",
        c.notes().last()
    );
}

#[test]
fn etfs_file_table_is_bounded_by_the_file_id_space() {
    use common::etfs_writer as w;
    // A file table whose own entry claims 4 GiB: only the clusters the 32 768 file ids can
    // fill are looked for, and the image reads as before.
    let layout = w::Layout {
        cluster: 512,
        spare: w::Spare::Trans,
    };
    let mut fs = w::sample(layout);
    let mut pages = fs.pages(1);
    pages[0].data[64 + 28..64 + 32].copy_from_slice(&u32::MAX.to_le_bytes());
    let img = w::write(layout, &pages);
    let t = std::time::Instant::now();
    let c = container::open(&img, ContainerKind::Etfs, &Limits::default()).unwrap();
    assert!(t.elapsed().as_secs() < 5);
    assert!(container::find(c.as_ref(), "libc.so.3").is_some());
    // The clusters the file id space allows past those written are reported, in one note.
    let clusters = container::etfs::MAX_FID as usize * 64 / 512;
    let errors: Vec<_> = c.notes().iter().filter(|n| n.kind == "error").collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let want = format!("{} of its {clusters} clusters missing", clusters - 2);
    assert!(errors[0].detail.contains(&want), "{:?}", errors[0]);
    assert_eq!(errors[0].offset, Some(64), "at the file table's own entry");
}

#[test]
fn directory_walk_depth_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = dir.path().to_path_buf();
    for _ in 0..(badalloc_audit_core::source::walk::MAX_WALK_DEPTH + 5) {
        p.push("d");
    }
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("deep.txt"), "x").unwrap();
    let items = walk(dir.path());
    assert!(
        items
            .iter()
            .any(|i| matches!(i, WalkItem::Skipped { reason, kind, .. } if reason.contains("deep") && *kind == ErrorKind::BoundHit)),
        "{} items",
        items.len()
    );
    assert!(!items
        .iter()
        .any(|i| matches!(i, WalkItem::File { rel, .. } if rel.ends_with("deep.txt"))));
}

// --- calloc analysis ---------------------------------------------------------------------

#[test]
fn instructions_decoded_per_function_are_bounded() {
    let mut code = vec![0x90u8; 300_000];
    code.push(0xc3);
    let elf = elf_writer::x86_64(&code, &[("calloc", 0, code.len() as u64)]);
    let e = ElfFile::parse(&elf).unwrap();
    let a = analyze_calloc(&e).unwrap();
    assert_eq!(a.verdict, CallocVerdict::Unknown);
    assert!(
        a.reason.contains(&format!(
            "more than {}",
            calloc::cfg::MAX_INSNS_PER_FUNCTION
        )),
        "{}",
        a.reason
    );
}

#[test]
fn call_chain_depth_is_bounded() {
    let names: Vec<String> = (0..10)
        .map(|i| {
            if i == 0 {
                "calloc".into()
            } else {
                format!("f{i}")
            }
        })
        .collect();
    let mut code = Vec::new();
    let mut funcs = Vec::new();
    for i in 0..10u64 {
        let off = i * 16;
        code.resize(off as usize, 0xcc);
        if i < 9 {
            code.extend_from_slice(&elf_writer::call(off, off + 16));
        }
        code.push(0xc3);
        funcs.push((names[i as usize].as_str(), off, 16u64));
    }
    code.resize(160, 0xcc);
    let elf = elf_writer::x86_64(&code, &funcs);
    let a = analyze_calloc(&ElfFile::parse(&elf).unwrap()).unwrap();
    assert_eq!(a.verdict, CallocVerdict::Unknown);
    assert!(
        a.reason
            .contains(&format!("chain deeper than {}", calloc::MAX_CHAIN_DEPTH)),
        "{}",
        a.reason
    );
}

#[test]
fn total_instructions_per_file_are_bounded() {
    // calloc keeps nmemb and size in callee-saved registers and passes them to 8 functions
    // of 19,000 instructions each: 152,000 in all, above MAX_TOTAL_INSNS.
    let n = 8u64;
    let fsize = 19_000u64;
    let names: Vec<String> = (0..n).map(|i| format!("g{i}")).collect();
    let mut code = vec![0x48, 0x89, 0xfb, 0x48, 0x89, 0xf5]; // mov rbx,rdi; mov rbp,rsi
    for i in 0..n {
        code.extend_from_slice(&[0x48, 0x89, 0xdf, 0x48, 0x89, 0xee]); // mov rdi,rbx; mov rsi,rbp
        let at = code.len() as u64;
        code.extend_from_slice(&elf_writer::call(at, 256 + i * (fsize + 1)));
    }
    code.push(0xc3);
    code.resize(256, 0xcc);
    let mut funcs = vec![("calloc", 0u64, 256u64)];
    for i in 0..n {
        funcs.push((names[i as usize].as_str(), 256 + i * (fsize + 1), fsize + 1));
        code.extend(std::iter::repeat_n(0x90u8, fsize as usize));
        code.push(0xc3);
    }
    assert!(n * fsize > calloc::MAX_TOTAL_INSNS as u64);
    let elf = elf_writer::x86_64(&code, &funcs);
    let a = analyze_calloc(&ElfFile::parse(&elf).unwrap()).unwrap();
    assert_eq!(a.verdict, CallocVerdict::Unknown);
    assert!(
        a.reason.contains("analysis budget exhausted"),
        "{}",
        a.reason
    );
}

// --- a mapped file that shrinks ------------------------------------------------------------

/// `scan --format json --jobs 1 PATHS` with `env` set: status and the JSON report.
fn scan_json_with(env: &[(&str, String)], paths: &[&std::path::Path]) -> (i32, serde_json::Value) {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("badalloc-audit"));
    cmd.args(["scan", "-q", "--format", "json", "--jobs", "1"])
        .args(paths);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    status_and_json(&cmd.output().unwrap())
}

#[test]
fn a_mapped_file_that_shrinks_during_the_scan_is_an_error_not_a_crash() {
    // A 64 MiB dump holding a real boot image (QNX 6.6.0, a checked calloc) at 40 MiB,
    // beside a device tree with an affected C library (another target of the same scan).
    let Some(ifs) = common::corpus("qnx/sdp660-armle-omap5-sd.ifs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fw = dir.path().join("fw");
    std::fs::create_dir_all(&fw).unwrap();
    let image_at = 40usize << 20;
    let mut dump = vec![0u8; 64 << 20];
    dump[image_at..image_at + ifs.len()].copy_from_slice(&ifs);
    let flash = fw.join("flash.bin");
    std::fs::write(&flash, &dump).unwrap();
    let other = common::fixture("example/qnx650-device");

    // Unchanged, the image is found and decides the target.
    let (_, j) = scan_json_with(&[], &[&fw, &other]);
    let t = &j["targets"][0];
    assert_ne!(t["verdict"], "inconclusive", "{t}");
    let found = t["images"].as_array().unwrap();
    assert!(found.iter().any(|i| i["offset"] == image_at), "{t}");
    let (before, other_verdict) = (t["verdict"].clone(), j["targets"][1]["verdict"].clone());
    assert_eq!(other_verdict, "affected");

    // Truncated to 16 MiB + 100 bytes right after it is mapped (a test hook of the
    // binary): the pages past the new end read as zeros instead of raising SIGBUS, the
    // image is gone, and the file is an error, never an all-clear from zeros.
    let new_len = (16u64 << 20) + 100;
    let hook = [(
        "BADALLOC_TEST_SHRINK_MAPPED",
        format!("flash.bin:{new_len}"),
    )];
    let (code, j) = scan_json_with(&hook, &[&fw, &other]);
    assert_eq!(
        std::fs::metadata(&flash).unwrap().len(),
        new_len,
        "the hook ran"
    );
    let t = &j["targets"][0];
    let zeros_from = (16u64 << 20) + 4096;
    let e = &t["errors"][0];
    assert_eq!(
        (&e["path"], &e["kind"], &e["offset"]),
        (&"flash.bin".into(), &"truncated".into(), &zeros_from.into()),
        "{t}"
    );
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "could not be read: file changed during the scan (shrank to {new_len} bytes; \
             bytes from offset {zeros_from:#x} read as zeros)"
        )),
        "{message}"
    );
    let marker = &t["images"][0];
    assert_eq!(
        (&marker["path"], &marker["state"], &marker["offset"]),
        (
            &format!("flash.bin@{zeros_from:#x}").into(),
            &"unreadable".into(),
            &zeros_from.into()
        ),
        "{t}"
    );
    assert_eq!(t["verdict"], "inconclusive", "was {before}: {t}");
    assert_eq!(
        (&t["stats"]["skipped"], &t["stats"]["files"]),
        (&1.into(), &0.into())
    );
    // The other target of the scan is reported as before, and decides the status.
    assert_eq!(j["targets"][1]["verdict"], other_verdict);
    assert_eq!(code, 1, "affected");

    // Named alone, the file is a PATH that could not be read: exit 4.
    std::fs::write(&flash, &dump).unwrap();
    let (code, j) = scan_json_with(&hook, &[&flash]);
    let t = &j["targets"][0];
    assert_eq!((code, &t["verdict"]), (4, &"error".into()), "{t}");
    assert_eq!(t["errors"][0]["offset"], zeros_from, "{t}");
}
