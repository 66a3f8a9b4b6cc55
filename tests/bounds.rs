//! One test per resource bound (docs/bounds.md): each bound is hit on purpose; the reader or
//! the scan stops there with an error that names the path (and the offset where there is
//! one) and the rest goes on.

mod common;

use badalloc_audit::calloc::{self, analyze_calloc, CallocVerdict};
use badalloc_audit::container::{self, ContainerKind, Limits};
use badalloc_audit::elf::ElfFile;
use badalloc_audit::scan::{self, scan_bytes, scan_bytes_with_budget};
use badalloc_audit::source::{read_file, walk, WalkItem};
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
        assert!(e.offset.is_some());
        // The header announces less than the data expands to: stopped at the header's figure.
        let mut short = img.clone();
        short[44..48].copy_from_slice(&1000u32.to_le_bytes());
        let e = container::open(&short, ContainerKind::Ifs, &Limits::default())
            .err()
            .unwrap();
        assert!(e.message.contains("imagefs"), "{comp:?}: {e}");
        assert!(e.offset.is_some(), "{comp:?}: {e}");
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
    assert!(e.offset.is_some());
    assert_eq!(scan::MAX_EXPANDED_PER_FILE, 1 << 30);
    const _: () = assert!(scan::MAX_EXPANDED_PER_FILE >= container::DEFAULT_MAX_EXPANDED);
}

#[test]
fn memory_per_file_input_size_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.bin");
    let f = std::fs::File::create(&p).unwrap();
    if f.set_len(badalloc_audit::source::read::MAX_FILE_SIZE + 1)
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
    assert!(e.offset.is_some());

    let nodes: Vec<_> = (0..20)
        .map(|i| ifs_writer::file(&format!("f{i}"), i + 2, b"x"))
        .collect();
    let img = ifs_writer::build(&nodes, &Opts::default());
    let e = container::open(&img, ContainerKind::Ifs, &small(1 << 20, 10))
        .err()
        .unwrap();
    assert!(e.message.contains("more than 10 entries"), "{e}");
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
    }
}

#[test]
fn directory_walk_depth_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = dir.path().to_path_buf();
    for _ in 0..(badalloc_audit::source::walk::MAX_WALK_DEPTH + 5) {
        p.push("d");
    }
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("deep.txt"), "x").unwrap();
    let items = walk(dir.path());
    assert!(
        items
            .iter()
            .any(|i| matches!(i, WalkItem::Skipped { reason, .. } if reason.contains("deep"))),
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
