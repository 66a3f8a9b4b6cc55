//! The architecture-neutral form every decoder lifts into.
//!
//! Each machine instruction becomes a few [`Op`]s over registers (architecture numbering,
//! opaque here), memory operands `[base + disp]` and immediates. Only what the calloc
//! analysis needs is modelled: multiplies, divides, moves (incl. stack slots), the
//! or/shift/and that build the "both factors fit in half a word" fast path, compares and
//! branches, calls, tail branches and returns. Everything else is `Clobber` (the written
//! register loses what we knew) or `Other`.

use smallvec::SmallVec;

/// A register number in the lifter's own numbering.
pub type Reg = u16;

/// Pseudo register numbers shared by lifters that need them.
pub const REG_NONE: Reg = u16::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opnd {
    Reg(Reg),
    /// `[base + disp]`: a stack slot when `base` holds a known stack address.
    Mem {
        base: Reg,
        disp: i64,
    },
    /// An absolute memory address (a GOT slot, a global).
    Abs(u64),
    Imm(u64),
    /// Something we do not model (indexed memory, ...). Reads give an unknown value,
    /// writes are ignored.
    Unknown,
}

/// Condition of a branch or set-on-condition, on the flags of the last compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    Eq,
    Ne,
    /// Unsigned a < b (x86 `b`/`c`, ARM `lo`/`cc`).
    Ult,
    Ule,
    Ugt,
    Uge,
    Slt,
    Sle,
    Sgt,
    Sge,
    /// Overflow flag set (x86 `o`, ARM `vs`).
    Ovf,
    NoOvf,
    /// Anything else (sign, parity, ...).
    Other,
}

impl Cond {
    pub fn negate(self) -> Cond {
        match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::Ult => Cond::Uge,
            Cond::Uge => Cond::Ult,
            Cond::Ule => Cond::Ugt,
            Cond::Ugt => Cond::Ule,
            Cond::Slt => Cond::Sge,
            Cond::Sge => Cond::Slt,
            Cond::Sle => Cond::Sgt,
            Cond::Sgt => Cond::Sle,
            Cond::Ovf => Cond::NoOvf,
            Cond::NoOvf => Cond::Ovf,
            Cond::Other => Cond::Other,
        }
    }

    /// The same relation with the operands swapped (a < b  ⇔  b > a).
    pub fn swap(self) -> Cond {
        match self {
            Cond::Ult => Cond::Ugt,
            Cond::Ugt => Cond::Ult,
            Cond::Ule => Cond::Uge,
            Cond::Uge => Cond::Ule,
            Cond::Slt => Cond::Sgt,
            Cond::Sgt => Cond::Slt,
            Cond::Sle => Cond::Sge,
            Cond::Sge => Cond::Sle,
            other => other,
        }
    }
}

/// Where a call or tail branch goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A code address (ARM: bit 0 set = Thumb).
    Direct(u64),
    /// Through a memory word (GOT slot) at this address.
    Slot(u64),
    /// Through a register: resolved from its value (a constant code address, or a word loaded
    /// from a known GOT slot, as MIPS `lw t9, off(gp); jalr t9`).
    Reg(Reg),
    /// PC-relative through a register: register value + this base (SH `bsrf`/`braf`).
    RegOffset(Reg, u64),
    /// Through a register or computed memory: unknown.
    Indirect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `dst = src` (register moves, loads, stores, zero/sign extension).
    Move {
        dst: Opnd,
        src: Opnd,
    },
    /// `dst = a + b` (or `a - b` when `sub`): keeps stack addresses and "product + constant".
    Add {
        dst: Opnd,
        a: Opnd,
        b: Opnd,
        sub: bool,
    },
    Or {
        dst: Opnd,
        a: Opnd,
        b: Opnd,
    },
    And {
        dst: Opnd,
        a: Opnd,
        b: Opnd,
    },
    /// Logical shift right by a constant.
    Shr {
        dst: Opnd,
        a: Opnd,
        amount: u32,
    },
    /// `lo = a * b` (low half), `hi` = high half of the unsigned widening product when
    /// `hi_unsigned`, and `flags_ovf`: the flags say "unsigned product overflowed" afterwards.
    Mul {
        lo: Option<Opnd>,
        hi: Option<Opnd>,
        a: Opnd,
        b: Opnd,
        hi_unsigned: bool,
        flags_ovf: bool,
    },
    /// Unsigned division `quot = num / den` (x86: `num_hi` is the high half of the dividend).
    Div {
        quot: Option<Opnd>,
        rem: Option<Opnd>,
        num: Opnd,
        num_hi: Option<Opnd>,
        den: Opnd,
    },
    /// Compare `a` with `b` (a - b) into flag set `fl`.
    Cmp {
        fl: u8,
        a: Opnd,
        b: Opnd,
    },
    /// AArch64 `ccmp a, b, #nzcv, cond`: flags of `cmp a, b` when `cond` holds on the current
    /// flags, else the constant `nzcv`.
    Ccmp {
        a: Opnd,
        b: Opnd,
        nzcv: u8,
        cond: Cond,
    },
    /// Signed compare (PowerPC `cmpw`): only its equality outcomes are trusted.
    CmpSigned {
        fl: u8,
        a: Opnd,
        b: Opnd,
    },
    /// Test `a & b` against zero into flag set `fl`.
    Test {
        fl: u8,
        a: Opnd,
        b: Opnd,
    },
    /// `dst = cond(a, b) ? 1 : 0` computed directly (MIPS `sltu`, ...).
    SetCmp {
        dst: Opnd,
        cond: Cond,
        a: Opnd,
        b: Opnd,
    },
    /// `dst = cond(flags fl) ? 1 : 0` (x86 `setcc`, AArch64 `cset`).
    SetCond {
        dst: Opnd,
        fl: u8,
        cond: Cond,
    },
    /// Conditional branch on flag set `fl`.
    Branch {
        fl: u8,
        cond: Cond,
        target: u64,
    },
    /// Compare-and-branch without flags (`cbz`, MIPS `beq`).
    BranchCmp {
        cond: Cond,
        a: Opnd,
        b: Opnd,
        target: u64,
    },
    Jump {
        target: u64,
    },
    /// Indirect jump inside the function (jump table) or to somewhere unknown.
    JumpIndirect,
    Call {
        target: Target,
    },
    /// Tail branch to another function.
    TailCall {
        target: Target,
    },
    Ret,
    /// SH `negc rm, rn` with `rm` = -1: `dst = 1 - src` for a 0/1 `src` (the T bit); any
    /// other `rm` gives an unknown value.
    NegcBool {
        dst: Opnd,
        src: Opnd,
        rm: Opnd,
    },
    /// `dst` gets an unknown value.
    Clobber {
        dst: Opnd,
    },
    /// Flags become unknown.
    FlagsClobber,
    /// `ops` execute only when `cond` holds on flag set `fl` (ARM conditional execution,
    /// Thumb IT blocks): every location they write gets the join of old and new value, except
    /// that `mov<c> r, #1` over a known 0 (or `#0` over 1) becomes a boolean of the condition.
    Predicated {
        fl: u8,
        cond: Cond,
        ops: Vec<Op>,
    },
    /// Undefined or trapping instruction: the path ends here.
    Trap,
}

/// The ops of one instruction: rarely more than two, kept inline so that lifting an
/// instruction does not allocate.
pub type Ops = SmallVec<[Op; 2]>;

/// One decoded machine instruction (for delay-slot architectures: branch + delay slot).
#[derive(Debug, Clone)]
pub struct Insn {
    pub addr: u64,
    pub len: u32,
    pub text: String,
    pub ops: Ops,
}

thread_local! {
    static TEXT_WANTED: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Whether lifters render instruction text. Rendering (the decoders' formatters) is a large
/// part of lifting, and a scan shows only the few lines its evidence names: the analysis
/// lifts without text and [`insn_text`] renders those lines afterwards.
pub fn text_wanted() -> bool {
    TEXT_WANTED.with(std::cell::Cell::get)
}

/// Run `f` with instruction text rendered (`on`) or not, on this thread.
pub fn with_text<T>(on: bool, f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            TEXT_WANTED.with(|t| t.set(self.0));
        }
    }
    let _restore = Restore(TEXT_WANTED.with(|t| t.replace(on)));
    f()
}

/// The text of `insn`: as lifted when text was being rendered, else lifted again with text.
pub fn insn_text(lifter: &dyn Lifter, insn: &Insn) -> String {
    if text_wanted() {
        return insn.text.clone();
    }
    with_text(true, || lifter.lift(insn.addr))
        .map(|i| i.text)
        .unwrap_or_else(|_| insn.text.clone())
}

impl Insn {
    pub fn next(&self) -> u64 {
        self.addr.wrapping_add(u64::from(self.len))
    }
}

/// Where argument `i` lives at a call (and, shifted by `entry_stack_bias`, at entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgLoc {
    Reg(Reg),
    /// Offset from the stack pointer at the call instruction.
    Stack(i64),
}

/// What an architecture provides to the analysis.
pub trait Lifter {
    /// Decode and lift the instruction at `addr` (ARM: bit 0 = Thumb).
    fn lift(&self, addr: u64) -> Result<Insn, String>;
    fn sp(&self) -> Reg;
    fn word_bits(&self) -> u32;
    fn arg(&self, i: usize) -> ArgLoc;
    /// Bytes the call itself pushes (x86 return address); 0 elsewhere.
    fn call_push(&self) -> i64;
    fn ret_reg(&self) -> Reg;
    /// Registers a call may change (the return register included).
    fn caller_saved(&self) -> &[Reg];
    /// If `addr` is a PLT stub (or a call stub), the GOT slot it jumps through.
    fn plt_slot(&self, addr: u64) -> Option<u64>;
    /// If `addr` is a lazy-binding PLT entry, the index in DT_JMPREL of the relocation it
    /// hands to the runtime linker's lazy binder (i386/x86_64 `push $n` after the jump).
    fn plt_reloc_index(&self, _addr: u64) -> Option<usize> {
        None
    }
    /// Registers that may carry arguments to local functions besides the ABI ones.
    fn extra_arg_regs(&self) -> &[Reg] {
        &[]
    }
    /// Like [`plt_slot`](Self::plt_slot), with the caller's known register constants
    /// (PowerPC PIC call stubs address the GOT through the caller's r30).
    fn plt_slot_in(&self, addr: u64, _reg: &dyn Fn(Reg) -> Option<u64>) -> Option<u64> {
        self.plt_slot(addr)
    }
    /// Normalise a code address for display and symbol lookup.
    fn display_addr(&self, addr: u64) -> u64 {
        addr
    }
    /// Entry register values implied by the ABI (PPC/MIPS: none by default).
    fn entry_consts(&self, _entry: u64) -> Vec<(Reg, u64)> {
        Vec::new()
    }
}
