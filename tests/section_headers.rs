//! Section headers decide nothing (issue 15.13): the loader never reads them, so a damaged
//! section table costs section names, never the QNX verdict. The real 6.4.1 libc from the
//! corpus, mutated three ways, must stay an affected QNX C library, with the damage reported
//! as an error naming the section table.

mod common;

use badalloc_report::{CallocVerdict, TargetReport, Verdict};
use common::scan_bytes;

const LIBC: &str = "qnx/openqnx-641-x86-libc.so.3";
const NAME: &str = "libc.so.3";

fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
}

/// The mutants: (what, bytes). ELF32 header: e_shoff at 0x20, e_shnum at 0x30,
/// e_shstrndx at 0x32.
fn mutants(libc: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut strndx = libc.to_vec();
    strndx[0x32..0x34].copy_from_slice(&0x7fffu16.to_le_bytes());
    let mut shoff = libc.to_vec();
    shoff[0x20..0x24].copy_from_slice(&(libc.len() as u32 + 0x1000).to_le_bytes());
    let mut shnum = libc.to_vec();
    shnum[0x30..0x32].copy_from_slice(&0xfff0u16.to_le_bytes());
    vec![
        ("e_shstrndx = 0x7fff", strndx),
        ("e_shoff past the end", shoff),
        ("e_shnum huge", shnum),
    ]
}

fn assert_affected_qnx_code(what: &str, t: &TargetReport) {
    assert_eq!(t.verdict, Verdict::Affected, "{what}: {:?}", t.reasons);
    assert_eq!(t.os.family.as_deref(), Some("qnx"), "{what}");
    assert!(t.reasons[0].starts_with("R1:"), "{what}: {:?}", t.reasons);
    let libc = &t.libc[0];
    assert!(libc.qnx, "{what}");
    assert_eq!(libc.soname.as_deref(), Some("libc.so.3"), "{what}");
    assert_eq!(libc.calloc.verdict, CallocVerdict::Unchecked, "{what}");
    assert_eq!(libc.calloc.chain, ["calloc", "__calloc"], "{what}");
}

fn assert_affected_qnx_libc(what: &str, t: &TargetReport) {
    assert_affected_qnx_code(what, t);
    let libc = &t.libc[0];
    // QNX_info read without section names: the release evidence survives.
    assert_eq!(libc.version.as_deref(), Some("6.4.0"), "{what}");
    assert!(
        t.os.evidence
            .iter()
            .any(|e| e.kind == "qnx-info" && e.detail.contains("section table names no sections")),
        "{what}: {:?}",
        t.os.evidence
    );
}

#[test]
fn a_damaged_section_table_leaves_the_641_libc_affected_and_is_reported() {
    let Some(libc) = common::corpus(LIBC) else {
        return;
    };
    let shoff = u64::from(u32_at(&libc, 0x20));
    let t = scan_bytes(NAME, &libc);
    assert_eq!(t.verdict, Verdict::Affected);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    for (what, bytes) in mutants(&libc) {
        let t = scan_bytes(NAME, &bytes);
        assert_affected_qnx_libc(what, &t);
        // The damage is an error entry: the file, the section table's offset, what is wrong.
        let err = t
            .errors
            .iter()
            .find(|e| e.message.contains("section header table"))
            .unwrap_or_else(|| panic!("{what}: no section table error in {:?}", t.errors));
        assert_eq!(err.path, NAME, "{what}");
        let table_at = u64::from(u32_at(&bytes, 0x20));
        assert_eq!(err.offset, Some(table_at), "{what}: {err:?}");
        let expect = match what {
            "e_shstrndx = 0x7fff" => "0x7fff",
            _ => "runs past the end",
        };
        assert!(err.message.contains(expect), "{what}: {}", err.message);
        if what == "e_shstrndx = 0x7fff" {
            assert_eq!(table_at, shoff);
        }
    }
}

/// The same with no section table at all (`e_shnum = 0`, as `sstrip` leaves files): no
/// error, and still QNX through the loader-visible data and the bytes past the segments.
#[test]
fn no_section_table_at_all_is_still_qnx() {
    let Some(mut libc) = common::corpus(LIBC) else {
        return;
    };
    libc[0x30..0x32].copy_from_slice(&0u16.to_le_bytes());
    let t = scan_bytes(NAME, &libc);
    assert_affected_qnx_libc("e_shnum = 0", &t);
}

/// Without QNX_info either (its bytes wiped), the dynamic symbols the loader reads still
/// say QNX: the C library defines Neutrino kernel calls.
#[test]
fn kernel_calls_in_the_dynamic_symbols_mark_the_libc_as_qnx() {
    let Some(mut libc) = common::corpus(LIBC) else {
        return;
    };
    libc[0x32..0x34].copy_from_slice(&0x7fffu16.to_le_bytes());
    let at = memchr_name(&libc);
    libc[at..at + 5].copy_from_slice(b"XXXX=");
    let t = scan_bytes(NAME, &libc);
    assert_affected_qnx_code("QNX_info wiped", &t);
    assert_eq!(t.libc[0].version, None);
    assert!(
        t.os.evidence.iter().any(|e| e.kind == "kernel-calls"),
        "{:?}",
        t.os.evidence
    );
}

/// Offset of the `NAME=` that starts the libc's QNX_info block.
fn memchr_name(d: &[u8]) -> usize {
    d.windows(13)
        .position(|w| w == b"NAME=libc.so\n")
        .expect("QNX_info in the corpus libc")
}
