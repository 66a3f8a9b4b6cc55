//! Helpers shared by the fuzz targets (and by `tests/fuzz_regressions.rs`, which replays the
//! reproducers through the same code paths).

// The test code's generators (tests/common), for the inputs of `scan_tree`; at the crate
// root, where they find each other as they do in tests/common.
#[path = "../../tests/common/amplify.rs"]
pub mod amplify;
#[path = "../../tests/common/archive.rs"]
pub mod archive;
#[path = "../../tests/common/fuzz_tree.rs"]
pub mod fuzz_tree;
#[path = "../../tests/common/ifs_writer.rs"]
pub mod ifs_writer;

pub use archive::{gzip, tar};

use badalloc_calloc::{analyze_calloc, locate_calloc};
use badalloc_elf::ElfFile;
use badalloc_formats::{self as container, ContainerKind, Limits};

/// Limits for fuzzing: small enough that libFuzzer's 2 GiB RSS limit is never the reason a
/// run stops, large enough that every code path is reachable.
pub fn limits() -> Limits {
    Limits {
        max_expanded: 64 << 20,
        max_entries: 100_000,
    }
}

/// Open `data` as `kind` and read every entry, the way the scanner does.
pub fn open_and_read_all(data: &[u8], kind: ContainerKind) {
    let Ok(c) = container::open(data, kind, &limits()) else {
        return;
    };
    let _ = container::listing(c.as_ref());
    for e in c.entries() {
        let _ = c.read(e);
    }
}

/// Parse a copy of `fixture` whose calloc body is overwritten by `code`, and analyse it.
pub fn calloc_with_body(fixture: &[u8], code: &[u8]) {
    let Some(off) = calloc_offset(fixture) else {
        return;
    };
    let mut patched = fixture.to_vec();
    let n = code.len().min(patched.len() - off);
    patched[off..off + n].copy_from_slice(&code[..n]);
    if let Ok(elf) = ElfFile::parse(&patched) {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| analyze_calloc(&elf)));
        if r.is_err() {
            let known = LAST_PANIC.with(|p| {
                p.borrow()
                    .as_deref()
                    .is_some_and(|l| KNOWN_PANICS.iter().any(|k| l.contains(k)))
            });
            if !known {
                std::process::abort();
            }
        }
    }
}

/// Parse a copy of the stripped static program `fixture` whose code (everything after its
/// program headers: `.text` follows them in the fixtures) is overwritten by `code`, and
/// search it for calloc: every candidate, probe and analysis on hostile code. A panic
/// aborts, as in [`calloc_with_body`].
pub fn locate_with_code(fixture: &[u8], code: &[u8]) {
    let Some(off) = code_offset(fixture) else {
        return;
    };
    let mut patched = fixture.to_vec();
    let n = code.len().min(patched.len() - off);
    patched[off..off + n].copy_from_slice(&code[..n]);
    if let Ok(elf) = ElfFile::parse(&patched) {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let s = badalloc_calloc::locate::locate(&elf);
            assert!(s.insns <= badalloc_calloc::locate::MAX_SEARCH_INSNS);
        }));
        if r.is_err() {
            std::process::abort();
        }
    }
}

/// File offset of the end of an ELF file's program header table.
pub fn code_offset(fixture: &[u8]) -> Option<usize> {
    let elf = ElfFile::parse(fixture).ok()?;
    let word = |at: usize, n: usize| -> Option<u64> {
        let b = fixture.get(at..at + n)?;
        Some(b.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
    };
    let big = elf.endian == badalloc_elf::Endian::Big;
    let read = |at: usize, n: usize| -> Option<u64> {
        let v = word(at, n)?;
        Some(if big { v.swap_bytes() >> (64 - 8 * n as u32) } else { v })
    };
    let (phoff, phentsize, phnum) = if elf.is_64 {
        (read(0x20, 8)?, read(0x36, 2)?, read(0x38, 2)?)
    } else {
        (read(0x1c, 4)?, read(0x2a, 2)?, read(0x2c, 2)?)
    };
    usize::try_from(phoff + phentsize * phnum)
        .ok()
        .filter(|&o| o < fixture.len())
}

/// Panics already reported and handed over (fuzz/regressions/calloc-*): skipped so the
/// calloc targets can look for others. Each is a `file:line` of the panicking code.
/// (Empty: the yaxpeax-arm 0.5 "register number out of range" panic, armv7.rs:585, is now
/// contained in src/calloc/arm.rs.)
pub const KNOWN_PANICS: &[&str] = &[];

thread_local! {
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A panic hook that records where the panic happened (for [`KNOWN_PANICS`]).
pub fn record_panics() {
    std::panic::set_hook(Box::new(|info| {
        let loc = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(loc));
    }));
}

/// File offset of the first byte of `calloc` in an ELF file.
pub fn calloc_offset(fixture: &[u8]) -> Option<usize> {
    let elf = ElfFile::parse(fixture).ok()?;
    let sym = locate_calloc(&elf)?;
    let code = elf.bytes_at(sym.addr & !1)?;
    (code.as_ptr() as usize).checked_sub(fixture.as_ptr() as usize)
}

/// A boot image: a startup header announcing compression `comp` (0 none, 1 zlib, 2 LZO,
/// 3 UCL) and an imagefs of `imagefs_size` bytes, followed by `payload` as the stored imagefs.
pub fn wrap_ifs(comp: u8, big_endian: bool, imagefs_size: u32, payload: &[u8]) -> Vec<u8> {
    let mut b: Vec<u8> = Vec::new();
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    b.extend_from_slice(&u32b(0x00FF_7EEB));
    b.extend_from_slice(&u16b(1));
    b.push(1 | if big_endian { 2 } else { 0 } | ((comp & 7) << 2));
    b.push(0);
    b.extend_from_slice(&u16b(0x100));
    b.extend_from_slice(&u16b(if big_endian { 8 } else { 40 }));
    for _ in 0..5 {
        b.extend_from_slice(&u32b(0x8010_0000));
    }
    let startup_size: u32 = 0x200;
    b.extend_from_slice(&u32b(startup_size));
    b.extend_from_slice(&u32b(startup_size.wrapping_add(payload.len() as u32)));
    b.extend_from_slice(&u32b(0));
    b.extend_from_slice(&u32b(imagefs_size));
    b.resize(startup_size as usize - 4, 0x90);
    let sum = b
        .chunks_exact(4)
        .map(|c| {
            let a = [c[0], c[1], c[2], c[3]];
            if big_endian {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        })
        .fold(0u32, u32::wrapping_add);
    b.extend_from_slice(&u32b(0u32.wrapping_sub(sum)));
    b.extend_from_slice(payload);
    b
}

/// Replace libFuzzer's abort-on-any-panic hook by a silent one: panics that the library
/// catches itself (ElfFile::parse around goblin, the scan around the calloc analysis) are
/// handled errors; a panic that escapes the target still aborts (the harness catches it).
pub fn quiet_contained_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}
