//! The calloc analysis on the two QNX x86 libc files of ../shared/corpus.

mod common;

use badalloc_calloc::{analyze_calloc, CallocVerdict};
use badalloc_elf::ElfFile;

#[test]
fn openqnx_641_x86_calloc_is_unchecked_through_the_plt() {
    let Some(path) = common::corpus_path("qnx/openqnx-641-x86-libc.so.3") else {
        return;
    };
    let data = std::fs::read(path).unwrap();
    let elf = ElfFile::parse(&data).unwrap();
    let a = analyze_calloc(&elf).expect("calloc is exported");
    assert_eq!(a.verdict, CallocVerdict::Unchecked, "{}", a.reason);
    assert_eq!(a.chain, vec!["calloc", "__calloc"]);
    assert_eq!(a.chain_links.len(), 2);
    assert_eq!(a.function.as_deref(), Some("__calloc"));
    let ev: Vec<&str> = a.evidence.iter().map(|e| e.text.as_str()).collect();
    assert!(ev.iter().any(|t| t.starts_with("imul")), "{ev:?}");
    assert!(
        ev.iter()
            .any(|t| t.starts_with("call") && t.contains("malloc")),
        "{ev:?}"
    );
    assert!(a.reason.contains("malloc"), "{}", a.reason);
    assert!(!a.listing.is_empty() && a.listing.len() <= 80);
    assert_eq!(a.verdict.as_str(), "unchecked");
}

#[test]
fn sdp660_x86_calloc_is_checked_by_division() {
    let Some(path) = common::corpus_path("qnx/sdp660-x86-libc.so.3") else {
        return;
    };
    let data = std::fs::read(path).unwrap();
    let elf = ElfFile::parse(&data).unwrap();
    let a = analyze_calloc(&elf).expect("calloc is exported");
    assert_eq!(a.verdict, CallocVerdict::Checked, "{}", a.reason);
    assert_eq!(a.chain, vec!["calloc", "__calloc"]);
    assert!(
        a.evidence.iter().any(|e| e.text.starts_with("div")),
        "{:?}",
        a.evidence
    );
    assert!(a.reason.contains("division") || a.reason.contains("product / factor"));
}
