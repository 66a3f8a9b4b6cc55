//! A test-only writer of minimal x86-64 ELF executables: one loadable segment holding
//! `.text` at 0x401000, and a `.symtab` of global functions.
#![allow(dead_code)]

pub const TEXT_ADDR: u64 = 0x40_1000;

/// An ELF file whose `.text` is `code`; `funcs` are (name, offset in code, size).
pub fn x86_64(code: &[u8], funcs: &[(&str, u64, u64)]) -> Vec<u8> {
    let base = 0x40_0000u64;
    let mut b = vec![0u8; 0x1000];
    b.extend_from_slice(code);
    while b.len() % 8 != 0 {
        b.push(0);
    }
    // .strtab
    let mut strtab = vec![0u8];
    let mut names = Vec::new();
    for (n, _, _) in funcs {
        names.push(strtab.len() as u32);
        strtab.extend_from_slice(n.as_bytes());
        strtab.push(0);
    }
    // .symtab
    let symtab_off = b.len() as u64;
    b.extend_from_slice(&[0u8; 24]);
    for ((_, off, size), name) in funcs.iter().zip(&names) {
        b.extend_from_slice(&name.to_le_bytes());
        b.push(0x12); // STB_GLOBAL, STT_FUNC
        b.push(0);
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&(TEXT_ADDR + off).to_le_bytes());
        b.extend_from_slice(&size.to_le_bytes());
    }
    let symtab_size = b.len() as u64 - symtab_off;
    let strtab_off = b.len() as u64;
    b.extend_from_slice(&strtab);
    let shstr = b"\0.text\0.symtab\0.strtab\0.shstrtab\0";
    let shstr_off = b.len() as u64;
    b.extend_from_slice(shstr);
    while b.len() % 8 != 0 {
        b.push(0);
    }
    let shoff = b.len() as u64;
    let mut sh = |name: u32,
                  ty: u32,
                  flags: u64,
                  addr: u64,
                  off: u64,
                  size: u64,
                  link: u32,
                  info: u32,
                  align: u64,
                  entsize: u64| {
        b.extend_from_slice(&name.to_le_bytes());
        b.extend_from_slice(&ty.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&addr.to_le_bytes());
        b.extend_from_slice(&off.to_le_bytes());
        b.extend_from_slice(&size.to_le_bytes());
        b.extend_from_slice(&link.to_le_bytes());
        b.extend_from_slice(&info.to_le_bytes());
        b.extend_from_slice(&align.to_le_bytes());
        b.extend_from_slice(&entsize.to_le_bytes());
    };
    sh(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    sh(1, 1, 6, TEXT_ADDR, 0x1000, code.len() as u64, 0, 0, 16, 0);
    sh(7, 2, 0, 0, symtab_off, symtab_size, 3, 1, 8, 24);
    sh(15, 3, 0, 0, strtab_off, strtab.len() as u64, 0, 0, 1, 0);
    sh(23, 3, 0, 0, shstr_off, shstr.len() as u64, 0, 0, 1, 0);
    let total = b.len() as u64;
    // ELF header
    let mut h = Vec::new();
    h.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    h.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&TEXT_ADDR.to_le_bytes());
    h.extend_from_slice(&0x40u64.to_le_bytes());
    h.extend_from_slice(&shoff.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 64, 5, 4] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    // Program header: PT_LOAD R+X over the whole file.
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&5u32.to_le_bytes());
    h.extend_from_slice(&0u64.to_le_bytes());
    h.extend_from_slice(&base.to_le_bytes());
    h.extend_from_slice(&base.to_le_bytes());
    h.extend_from_slice(&total.to_le_bytes());
    h.extend_from_slice(&total.to_le_bytes());
    h.extend_from_slice(&0x1000u64.to_le_bytes());
    b[..h.len()].copy_from_slice(&h);
    b
}

/// `jmp` (rel32) from `from` to `to`, both offsets in `.text`.
pub fn jmp(from: u64, to: u64) -> [u8; 5] {
    let rel = (to as i64 - (from as i64 + 5)) as i32;
    let r = rel.to_le_bytes();
    [0xe9, r[0], r[1], r[2], r[3]]
}

/// `call` (rel32) from `from` to `to`.
pub fn call(from: u64, to: u64) -> [u8; 5] {
    let mut c = jmp(from, to);
    c[0] = 0xe8;
    c
}
