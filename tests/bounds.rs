//! One test per resource bound (docs/bounds.md): each is hit on purpose, the scan or reader
//! stops at it with an error that names the path and the offset, and nothing else breaks.

mod common;

use badalloc_audit::calloc::{self, analyze_calloc, CallocVerdict};
use badalloc_audit::elf::ElfFile;
use common::elf_writer;

#[test]
fn probe() {
    // Long function.
    let mut code = vec![0x90u8; 300_000];
    code.push(0xc3);
    let elf = elf_writer::x86_64(&code, &[("calloc", 0, code.len() as u64)]);
    let e = ElfFile::parse(&elf).unwrap();
    let t = std::time::Instant::now();
    let a = analyze_calloc(&e).unwrap();
    eprintln!(
        "long: {:?} {} {:?} {:?}",
        a.verdict,
        a.reason,
        a.chain,
        t.elapsed()
    );
    // Chain of tail jumps.
    let mut code = Vec::new();
    let mut funcs = Vec::new();
    let names: Vec<String> = (0..10)
        .map(|i| {
            if i == 0 {
                "calloc".to_string()
            } else {
                format!("f{i}")
            }
        })
        .collect();
    for i in 0..10u64 {
        let off = i * 16;
        code.resize(off as usize, 0xcc);
        if i < 9 {
            code.extend_from_slice(&elf_writer::call(off, off + 16));
            code.push(0xc3);
        } else {
            code.push(0xc3);
        }
        funcs.push((names[i as usize].as_str(), off, 16u64));
    }
    code.resize(160, 0xcc);
    let elf = elf_writer::x86_64(&code, &funcs);
    let e = ElfFile::parse(&elf).unwrap();
    let a = analyze_calloc(&e).unwrap();
    eprintln!("chain: {:?} {} {:?}", a.verdict, a.reason, a.chain);
    // Many big callees.
    let n = 8u64;
    let fsize = 19_000u64;
    let mut code = Vec::new();
    let mut funcs = vec![("calloc", 0u64, 256u64)];
    let fnames: Vec<String> = (0..n).map(|i| format!("g{i}")).collect();
    code.extend_from_slice(&[0x48, 0x89, 0xfb, 0x48, 0x89, 0xf5]);
    for i in 0..n {
        code.extend_from_slice(&[0x48, 0x89, 0xdf, 0x48, 0x89, 0xee]);
        let at = code.len() as u64;
        code.extend_from_slice(&elf_writer::call(at, 256 + i * (fsize + 1)));
    }
    code.push(0xc3);
    code.resize(256, 0xcc);
    for i in 0..n {
        funcs.push((
            fnames[i as usize].as_str(),
            256 + i * (fsize + 1),
            fsize + 1,
        ));
        code.extend(std::iter::repeat_n(0x90u8, fsize as usize));
        code.push(0xc3);
    }
    let elf = elf_writer::x86_64(&code, &funcs);
    let e = ElfFile::parse(&elf).unwrap();
    let t = std::time::Instant::now();
    let a = analyze_calloc(&e).unwrap();
    eprintln!(
        "many: {:?} {} {:?} {:?}",
        a.verdict,
        a.reason,
        a.chain,
        t.elapsed()
    );
    let _ = (calloc::MAX_CHAIN_DEPTH, CallocVerdict::Unknown);
}
