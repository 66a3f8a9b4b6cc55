//! Candidate function entries of a program without symbols: the targets of its direct calls
//! and branches, read from the instruction encodings in its executable segments, and its
//! entry point. Every aligned position is read as if an instruction started there (a data
//! word or the middle of an x86 instruction may look like a call); a target is kept only
//! if it lies in an executable segment at an instruction boundary of its instruction set,
//! and the search that uses them ([`super::locate`]) judges each by what its code does.

use badalloc_elf::{Arch, ElfFile, Endian};

/// Direct call targets and direct branch targets (a branch target that is also called is
/// only in `calls`), sorted, each once. ARM Thumb targets carry bit 0.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    pub calls: Vec<u64>,
    pub branches: Vec<u64>,
}

/// SH-4 calls through a register loaded from a literal pool (`mov.l @(d,pc),rn; jsr @rn`):
/// how many instructions back the load is looked for.
const SH_LITERAL_LOOKBACK: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Call,
    Branch,
}

/// The executable segments' bytes with their addresses.
fn code_segments<'a>(elf: &ElfFile<'a>) -> Vec<(u64, &'a [u8])> {
    elf.segments
        .iter()
        .filter(|s| s.executable && s.filesz > 0)
        .filter_map(|s| {
            let bytes = elf.bytes_at(s.vaddr)?;
            let n = usize::try_from(s.filesz).ok()?.min(bytes.len());
            Some((s.vaddr, bytes.get(..n)?))
        })
        .collect()
}

fn word(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let w: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    })
}

fn half(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let h: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big {
        u16::from_be_bytes(h)
    } else {
        u16::from_le_bytes(h)
    })
}

/// Sign-extend the low `bits` bits of `v`.
fn sext(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Collect the targets of `elf`'s direct calls and branches, and its entry point.
pub(crate) fn collect(elf: &ElfFile<'_>) -> Targets {
    let mut found: Vec<(u64, Kind)> = Vec::new();
    let big = elf.endian == Endian::Big;
    for (base, bytes) in code_segments(elf) {
        let mut push = |t: u64, k: Kind| found.push((t, k));
        match elf.arch {
            Arch::X86 => x86(base, bytes, 0xffff_ffff, &mut push),
            Arch::X86_64 => x86(base, bytes, u64::MAX, &mut push),
            Arch::Arm => {
                a32(base, bytes, big, &mut push);
                thumb(base, bytes, big, &mut push);
            }
            Arch::AArch64 => a64(base, bytes, &mut push),
            Arch::Ppc => ppc(base, bytes, big, &mut push),
            Arch::Mips => mips(base, bytes, big, &mut push),
            Arch::Sh => sh(elf, base, bytes, big, &mut push),
            _ => {}
        }
    }
    found.push((elf.entry, Kind::Call));
    let align = match elf.arch {
        Arch::X86 | Arch::X86_64 => 1,
        Arch::Sh => 2,
        _ => 4,
    };
    found.retain(|&(t, _)| {
        let a = if elf.arch == Arch::Arm && t & 1 == 1 {
            t & !1
        } else {
            t
        };
        let aligned = if elf.arch == Arch::Arm && t & 1 == 1 {
            a % 2 == 0
        } else {
            a % align == 0
        };
        aligned && elf.code_at(a).is_some()
    });
    found.sort_unstable();
    found.dedup();
    let mut calls: Vec<u64> = found
        .iter()
        .filter(|(_, k)| *k == Kind::Call)
        .map(|(t, _)| *t)
        .collect();
    calls.dedup();
    let branches = found
        .iter()
        .filter(|(t, k)| *k == Kind::Branch && calls.binary_search(t).is_err())
        .map(|(t, _)| *t)
        .collect::<Vec<_>>();
    let mut branches = branches;
    branches.dedup();
    Targets { calls, branches }
}

/// `call rel32` (E8) and `jmp rel32` (E9) at every byte.
fn x86(base: u64, b: &[u8], mask: u64, push: &mut dyn FnMut(u64, Kind)) {
    for (i, &op) in b.iter().enumerate() {
        let kind = match op {
            0xe8 => Kind::Call,
            0xe9 => Kind::Branch,
            _ => continue,
        };
        let Some(rel) = word(b, i + 1, false) else {
            break;
        };
        let next = base.wrapping_add(i as u64 + 5);
        push(next.wrapping_add(i64::from(rel as i32) as u64) & mask, kind);
    }
}

/// A32 `bl`, `b` (always) and `blx imm` (to Thumb) at every word.
fn a32(base: u64, b: &[u8], big: bool, push: &mut dyn FnMut(u64, Kind)) {
    let skew = (4 - (base % 4) as usize) % 4;
    let mut i = skew;
    while let Some(w) = word(b, i, big) {
        let pc = base.wrapping_add(i as u64).wrapping_add(8);
        let off = sext(u64::from(w & 0x00ff_ffff) << 2, 26) as u64;
        match (w >> 28, (w >> 24) & 0xf) {
            (0xe, 0xb) => push(pc.wrapping_add(off) & 0xffff_ffff, Kind::Call),
            (0xe, 0xa) => push(pc.wrapping_add(off) & 0xffff_ffff, Kind::Branch),
            (0xf, 0xa | 0xb) => {
                let h = u64::from((w >> 24) & 1) << 1;
                push(
                    (pc.wrapping_add(off).wrapping_add(h) | 1) & 0xffff_ffff,
                    Kind::Call,
                );
            }
            _ => {}
        }
        i += 4;
    }
}

/// Thumb-2 `bl`, `blx` (to A32) and `b.w` at every halfword.
fn thumb(base: u64, b: &[u8], big: bool, push: &mut dyn FnMut(u64, Kind)) {
    let skew = (base % 2) as usize;
    let mut i = skew;
    while let (Some(h1), Some(h2)) = (half(b, i, big), half(b, i + 2, big)) {
        if h1 >> 11 == 0b11110 && h2 & 0x8000 != 0 {
            let s = u64::from((h1 >> 10) & 1);
            let j1 = u64::from((h2 >> 13) & 1);
            let j2 = u64::from((h2 >> 11) & 1);
            let i1 = 1 ^ (j1 ^ s);
            let i2 = 1 ^ (j2 ^ s);
            let imm = (s << 24)
                | (i1 << 23)
                | (i2 << 22)
                | (u64::from(h1 & 0x3ff) << 12)
                | (u64::from(h2 & 0x7ff) << 1);
            let off = sext(imm, 25) as u64;
            let pc = base.wrapping_add(i as u64).wrapping_add(4);
            match h2 & 0xd000 {
                0xd000 => push((pc.wrapping_add(off) | 1) & 0xffff_ffff, Kind::Call),
                0xc000 => push((pc & !3).wrapping_add(off) & 0xffff_fffc, Kind::Call),
                0x9000 => push((pc.wrapping_add(off) | 1) & 0xffff_ffff, Kind::Branch),
                _ => {}
            }
        }
        i += 2;
    }
}

/// AArch64 `bl` and `b` at every word.
fn a64(base: u64, b: &[u8], push: &mut dyn FnMut(u64, Kind)) {
    let skew = (4 - (base % 4) as usize) % 4;
    let mut i = skew;
    while let Some(w) = word(b, i, false) {
        let pc = base.wrapping_add(i as u64);
        let off = sext(u64::from(w & 0x03ff_ffff) << 2, 28) as u64;
        match w >> 26 {
            0b100101 => push(pc.wrapping_add(off), Kind::Call),
            0b000101 => push(pc.wrapping_add(off), Kind::Branch),
            _ => {}
        }
        i += 4;
    }
}

/// PowerPC `bl` and `b` (relative) at every word.
fn ppc(base: u64, b: &[u8], big: bool, push: &mut dyn FnMut(u64, Kind)) {
    let skew = (4 - (base % 4) as usize) % 4;
    let mut i = skew;
    while let Some(w) = word(b, i, big) {
        if w >> 26 == 18 && w & 2 == 0 {
            let pc = base.wrapping_add(i as u64);
            let off = sext(u64::from(w & 0x03ff_fffc), 26) as u64;
            let kind = if w & 1 == 1 { Kind::Call } else { Kind::Branch };
            push(pc.wrapping_add(off) & 0xffff_ffff, kind);
        }
        i += 4;
    }
}

/// MIPS `jal`, `bal` (calls), `j` and `b` (branches) at every word.
fn mips(base: u64, b: &[u8], big: bool, push: &mut dyn FnMut(u64, Kind)) {
    let skew = (4 - (base % 4) as usize) % 4;
    let mut i = skew;
    while let Some(w) = word(b, i, big) {
        let pc = base.wrapping_add(i as u64);
        let region = pc.wrapping_add(4) & 0xf000_0000;
        let rel = pc
            .wrapping_add(4)
            .wrapping_add(sext(u64::from(w & 0xffff) << 2, 18) as u64)
            & 0xffff_ffff;
        let (rs, rt) = ((w >> 21) & 31, (w >> 16) & 31);
        match w >> 26 {
            3 => push(region | (u64::from(w & 0x03ff_ffff) << 2), Kind::Call),
            2 => push(region | (u64::from(w & 0x03ff_ffff) << 2), Kind::Branch),
            1 if rs == 0 && rt == 0x11 => push(rel, Kind::Call),
            4 if rs == 0 && rt == 0 => push(rel, Kind::Branch),
            _ => {}
        }
        i += 4;
    }
}

/// SH-4 `bsr` and `bra`, and `jsr @rn` / `jmp @rn` whose register was loaded from a literal
/// pool a few instructions before (both taken as calls).
fn sh(elf: &ElfFile<'_>, base: u64, b: &[u8], big: bool, push: &mut dyn FnMut(u64, Kind)) {
    let skew = (base % 2) as usize;
    let mut i = skew;
    while let Some(h) = half(b, i, big) {
        let pc = base.wrapping_add(i as u64);
        let disp = sext(u64::from(h & 0xfff) << 1, 13) as u64;
        match h >> 12 {
            0xb => push(
                pc.wrapping_add(4).wrapping_add(disp) & 0xffff_ffff,
                Kind::Call,
            ),
            0xa => push(
                pc.wrapping_add(4).wrapping_add(disp) & 0xffff_ffff,
                Kind::Branch,
            ),
            _ => {}
        }
        // `jsr @rn` calls; `jmp @rn` through a literal is a tail call (branches inside a
        // function use `bra`/`bt`/`bf`): both targets start functions.
        let kind = match h & 0xf0ff {
            0x400b | 0x402b => Some(Kind::Call),
            _ => None,
        };
        if let Some(kind) = kind {
            let n = (h >> 8) & 0xf;
            if let Some(t) = sh_literal(elf, base, b, i, n, big) {
                push(t, kind);
            }
        }
        i += 2;
    }
}

/// The word a `mov.l @(d,pc),rn` shortly before position `at` loads into `rn`.
fn sh_literal(elf: &ElfFile<'_>, base: u64, b: &[u8], at: usize, n: u16, big: bool) -> Option<u64> {
    for back in 1..=SH_LITERAL_LOOKBACK {
        let j = at.checked_sub(2 * back)?;
        let h = half(b, j, big)?;
        if h >> 12 == 0xd && (h >> 8) & 0xf == n {
            let pc = base.wrapping_add(j as u64);
            let lit = (pc.wrapping_add(4) & !3).wrapping_add(u64::from(h & 0xff) * 4);
            return elf.read_word(lit);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(f: impl Fn(&mut dyn FnMut(u64, Kind))) -> Vec<(u64, bool)> {
        let mut v = Vec::new();
        f(&mut |t, k| v.push((t, k == Kind::Call)));
        v
    }

    #[test]
    fn encodings_give_their_targets() {
        // x86: call +0 at 0x1000 → 0x1005; jmp -5 → itself
        let b = [0xe8, 0, 0, 0, 0, 0xe9, 0xfb, 0xff, 0xff, 0xff];
        assert_eq!(
            hits(|p| x86(0x1000, &b, u64::MAX, p)),
            [(0x1005, true), (0x1005, false)]
        );
        // A32 `bl` at 0x114460 to 0x11440c (from the QNX corpus: ebffffe9)
        let b = 0xebff_ffe9_u32.to_le_bytes();
        assert_eq!(hits(|p| a32(0x11_4460, &b, false, p)), [(0x11_440c, true)]);
        // A32 `b` at 0x114404 to 0x114454 (ea000012)
        let b = 0xea00_0012_u32.to_le_bytes();
        assert_eq!(hits(|p| a32(0x11_4404, &b, false, p)), [(0x11_4454, false)]);
        // Thumb-2 `bl` to pc+4 (f000 f800) and `b.w` to pc+4 (f000 b800)
        let b = [0x00, 0xf0, 0x00, 0xf8, 0x00, 0xf0, 0x00, 0xb8];
        let t = hits(|p| thumb(0x8000, &b, false, p));
        assert!(t.contains(&(0x8005, true)), "{t:x?}");
        assert!(t.contains(&(0x8009, false)), "{t:x?}");
        // AArch64 `bl -4`
        let b = 0x97ff_ffff_u32.to_le_bytes();
        assert_eq!(hits(|p| a64(0x40_0010, &b, p)), [(0x40_000c, true)]);
        // PowerPC `bl +8`
        let b = 0x4800_0009_u32.to_be_bytes();
        assert_eq!(
            hits(|p| ppc(0x1000_0000, &b, true, p)),
            [(0x1000_0008, true)]
        );
        // MIPS `jal 0x400180` and `bal +0x48` (from the static fixtures)
        let b = [0x0c10_0060_u32.to_be_bytes(), 0x0411_0012_u32.to_be_bytes()].concat();
        assert_eq!(
            hits(|p| mips(0x40_0130, &b, true, p)),
            [(0x40_0180, true), (0x40_0180, true)]
        );
    }
}
