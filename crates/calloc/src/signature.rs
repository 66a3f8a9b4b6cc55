//! Finding calloc by known code: where a scan target holds a calloc with a name (a C
//! library, a static program with symbols), the bytes of the function that multiplies are
//! a signature to look for in the stripped programs of the same architecture.
//!
//! A signature is the function's first bytes (up to [`SIGNATURE_MAX_LEN`]) with the bytes
//! that differ from one link to the next masked: instructions that call or jump out of the
//! function, instructions whose operand is an address inside the file's image (a literal
//! load, an absolute or PC-relative data reference the lifter resolves), and aligned words
//! holding such an address (literal pools). The stripped programs keep the code at the
//! entries of their functions that multiply their first two arguments ([`Window`]), so the
//! signatures, known only once every file of the target has been read, are compared with
//! them after the parallel pass, in path order: the result does not depend on timing.

use super::dataflow::{step, Ctx, Loc, State};
use super::ir::{self, Lifter, Op, Opnd, Reg};
use super::{make_lifter, CallocVerdict};
use badalloc_elf::ElfFile;

/// Bytes of a signature and of a window.
pub const SIGNATURE_MAX_LEN: usize = 256;
/// Bytes of a signature that must be left unmasked: fewer say too little to identify code.
pub const SIGNATURE_MIN_FIXED: usize = 16;
/// Windows kept per stripped program (functions that multiply their first two arguments).
pub const MAX_SIGNATURE_WINDOWS: usize = 64;

/// The code at a function entry of a stripped program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Display address (no Thumb bit).
    pub entry: u64,
    /// ARM: the function is Thumb code.
    pub thumb: bool,
    pub bytes: Vec<u8>,
}

/// The masked code of a named calloc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// QNX architecture name (`armle`, `x86`...).
    pub arch: String,
    pub thumb: bool,
    pub bytes: Vec<u8>,
    /// false where the byte may differ between links.
    pub keep: Vec<bool>,
    /// The file it comes from (path inside the target), the function and its address.
    pub source: String,
    pub function: String,
    pub address: u64,
    /// The analysis of the named calloc.
    pub verdict: CallocVerdict,
    pub reason: String,
}

impl Signature {
    pub fn masked(&self) -> usize {
        self.keep.iter().filter(|k| !**k).count()
    }

    /// Does the code at the window's entry match?
    pub fn matches(&self, w: &Window) -> bool {
        w.thumb == self.thumb
            && w.bytes.len() >= self.bytes.len()
            && self
                .bytes
                .iter()
                .zip(&self.keep)
                .zip(&w.bytes)
                .all(|((s, keep), b)| !keep || s == b)
    }
}

/// Operands of an op that may carry an address.
fn operands(op: &Op) -> Vec<Opnd> {
    match op {
        Op::Move { dst, src } => vec![*dst, *src],
        Op::Add { dst, a, b, .. } | Op::Or { dst, a, b } | Op::And { dst, a, b } => {
            vec![*dst, *a, *b]
        }
        Op::Shr { dst, a, .. } => vec![*dst, *a],
        Op::Cmp { a, b, .. }
        | Op::CmpSigned { a, b, .. }
        | Op::Test { a, b, .. }
        | Op::Ccmp { a, b, .. }
        | Op::BranchCmp { a, b, .. } => vec![*a, *b],
        Op::SetCmp { dst, a, b, .. } => vec![*dst, *a, *b],
        Op::Predicated { ops, .. } => ops.iter().flat_map(operands).collect(),
        _ => Vec::new(),
    }
}

/// Is the instruction different from one link to the next: a call or jump out of
/// `[start, end)`, or an operand that is an address in the image?
fn link_dependent(op: &Op, start: u64, end: u64, in_image: &dyn Fn(u64) -> bool) -> bool {
    match op {
        Op::Call { .. } | Op::TailCall { .. } => true,
        Op::Jump { target } | Op::Branch { target, .. } | Op::BranchCmp { target, .. }
            if !(start..end).contains(&(target & !1)) =>
        {
            true
        }
        Op::Predicated { ops, .. } => ops.iter().any(|o| link_dependent(o, start, end, in_image)),
        _ => operands(op).iter().any(|o| match o {
            Opnd::Abs(a) | Opnd::Imm(a) => in_image(*a),
            _ => false,
        }),
    }
}

/// The signature of a named calloc of `elf` whose chain ends in the function `name` at
/// `addr` (the one that multiplies), decided `verdict`, when it is long enough.
pub fn signature_of(
    elf: &ElfFile<'_>,
    addr: u64,
    name: &str,
    verdict: CallocVerdict,
    reason: &str,
    source: &str,
) -> Option<Signature> {
    if verdict == CallocVerdict::Unknown {
        return None;
    }
    let lifter = make_lifter(elf).ok()?;
    let sym = elf.function_at(addr)?;
    let thumb = elf.arch == badalloc_elf::Arch::Arm && sym.addr & 1 == 1;
    let size = usize::try_from(sym.size).ok()?.min(SIGNATURE_MAX_LEN);
    let bytes = elf.code_at(addr & !1)?.get(..size)?.to_vec();
    let keep = ir::with_text(false, || {
        mask(elf, lifter.as_ref(), (addr & !1) | u64::from(thumb), &bytes)
    });
    let fixed = keep.iter().filter(|k| **k).count();
    (fixed >= SIGNATURE_MIN_FIXED).then(|| Signature {
        arch: elf.arch_name(),
        thumb,
        bytes,
        keep,
        source: source.to_string(),
        function: name.to_string(),
        address: addr & !1,
        verdict,
        reason: reason.to_string(),
    })
}

/// Which bytes of the code at `start` (lifter address) stay the same from link to link.
fn mask(elf: &ElfFile<'_>, lifter: &dyn Lifter, start: u64, bytes: &[u8]) -> Vec<bool> {
    let base = start & !1;
    let end = base + bytes.len() as u64;
    // MIPS programs address their data through gp, which points 0x7ff0 past the start of
    // the GOT: possibly past the end of the image.
    let gp_bias = if elf.arch == badalloc_elf::Arch::Mips {
        0x8000
    } else {
        0
    };
    let in_image = |v: u64| {
        elf.segments
            .iter()
            .any(|s| v >= s.vaddr && v - s.vaddr < s.memsz.max(s.filesz).saturating_add(gp_bias))
    };
    let mut keep = vec![true; bytes.len()];
    // Words holding an address (literal pools), at word alignment.
    let w = if elf.is_64 { 8 } else { 4 };
    let mut off = (w - (base % w as u64) as usize) % w;
    while off + w <= bytes.len() {
        if elf.read_word(base + off as u64).is_some_and(&in_image) {
            keep.iter_mut().skip(off).take(w).for_each(|k| *k = false);
        }
        off += w;
    }
    // Instructions, decoded in order from the entry, with the constants they build: an
    // address made of two halves (`lui`/`addiu`, `lis`/`addi`, `adrp`/`add`) is masked in
    // both instructions once it is whole.
    let ctx = Ctx {
        word_bits: lifter.word_bits(),
    };
    let mut st = State::default();
    // Register → the instruction (offset, length) that last put a constant in it.
    let mut made_by: Vec<(Reg, (usize, usize))> = Vec::new();
    let mask_at = |keep: &mut [bool], (at, len): (usize, usize)| {
        keep.iter_mut().skip(at).take(len).for_each(|k| *k = false);
    };
    let mut a = start;
    while (a & !1) < end {
        let Ok(insn) = lifter.lift(a) else { break };
        let here = (((a & !1) - base) as usize, insn.len as usize);
        if insn
            .ops
            .iter()
            .any(|op| link_dependent(op, base, end, &in_image))
        {
            mask_at(&mut keep, here);
        }
        for op in &insn.ops {
            if matches!(op, Op::Call { .. } | Op::TailCall { .. }) {
                st.forget_regs(lifter.caller_saved());
                continue;
            }
            step(&mut st, &ctx, op);
            let (dst, from) = match op {
                Op::Move {
                    dst: Opnd::Reg(d), ..
                } => (*d, None),
                Op::Add {
                    dst: Opnd::Reg(d),
                    a: Opnd::Reg(x),
                    ..
                }
                | Op::Or {
                    dst: Opnd::Reg(d),
                    a: Opnd::Reg(x),
                    ..
                } => (*d, Some(*x)),
                _ => continue,
            };
            made_by.retain(|(r, _)| *r != dst || from == Some(dst));
            let Some(v) = st.get(Loc::Reg(dst)).konst() else {
                continue;
            };
            if in_image(v) {
                mask_at(&mut keep, here);
                if let Some(&(_, src)) = made_by.iter().find(|(r, _)| Some(*r) == from) {
                    mask_at(&mut keep, src);
                }
            }
            made_by.retain(|(r, _)| *r != dst);
            made_by.push((dst, here));
        }
        let next = insn.next();
        if next <= a {
            break;
        }
        a = next;
    }
    keep
}

/// The first (signature, window) pair that matches, signatures taken in their order, the
/// windows of a signature in address order.
pub fn find<'s>(
    windows: &[Window],
    sigs: &'s [Signature],
    arch: &str,
) -> Option<(&'s Signature, usize)> {
    sigs.iter()
        .filter(|s| s.arch == arch)
        .find_map(|s| windows.iter().position(|w| s.matches(w)).map(|i| (s, i)))
}
