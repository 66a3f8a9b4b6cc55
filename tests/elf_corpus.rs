//! The ELF model on real QNX files from ../shared/corpus.

mod common;

use badalloc_elf::{Arch, ElfFile, ElfType, SymbolSource};

#[test]
fn boot_image_libc_without_section_headers_yields_dynamic_symbols() {
    let Some(path) = common::corpus_path("qnx/openqnx-641-x86-libc.so.3") else {
        return;
    };
    let data = std::fs::read(path).unwrap();
    let elf = ElfFile::parse(&data).unwrap();
    assert_eq!(elf.arch, Arch::X86);
    assert_eq!(elf.elf_type, ElfType::SharedObject);
    assert_eq!(elf.soname, Some("libc.so.3"));
    // mkifs kept only QNX_info: no .symtab, and yet the dynamic symbols are there.
    assert!(elf
        .symbols
        .iter()
        .all(|s| s.source == SymbolSource::Dynamic));
    for name in ["calloc", "__calloc", "malloc"] {
        let sym = elf
            .defined_symbol(name)
            .unwrap_or_else(|| panic!("{name} not found"));
        assert!(sym.is_func && sym.addr != 0, "{name}: {sym:?}");
    }
    assert_eq!(elf.qnx_info_value("VERSION"), Some("6.4.0"));
    // calloc reaches __calloc through the PLT: a JUMP_SLOT bound to __calloc must exist.
    assert!(elf
        .slot_bindings
        .iter()
        .any(|b| b.plt && b.symbol == "__calloc"));
    assert!(elf
        .code_at(elf.defined_symbol("calloc").unwrap().addr)
        .is_some());
}

#[test]
fn sdp660_libc_is_qnx_libc_so_3_version_660() {
    let Some(path) = common::corpus_path("qnx/sdp660-x86-libc.so.3") else {
        return;
    };
    let data = std::fs::read(path).unwrap();
    let elf = ElfFile::parse(&data).unwrap();
    assert_eq!(elf.soname, Some("libc.so.3"));
    assert_eq!(elf.qnx_info_value("VERSION"), Some("6.6.0"));
    assert_eq!(elf.qnx_info_value("NAME"), Some("libc.so"));
    assert!(elf.comment.iter().any(|c| c.contains("GCC: (GNU) 4.7.3")));
}
