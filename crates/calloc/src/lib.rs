//! Does `calloc` test `nmemb * size` for overflow before allocating? (CVE-2021-22156)
//!
//! Depends on `badalloc-elf` (the ELF model) and the pure-Rust instruction decoders
//! (iced-x86, yaxpeax-arm, powerpc, rabbitizer), never on the audit or report layers: it
//! answers for one ELF file and knows nothing of releases, images or verdict rules.
//!
//! # How it works
//!
//! From the `calloc` symbol ([`locate_calloc`]; in a stripped static program the search of
//! [`locate`]), follow direct calls, tail branches and PLT stubs (resolved via the
//! relocation of the GOT slot they jump through) to the function that multiplies, passing
//! the argument values on. In each function of that chain:
//!
//! 1. a recursive-descent CFG ([`cfg`]) of the lifted instructions ([`ir`], one lifter per
//!    architecture);
//! 2. block states at the fixpoint of a forward dataflow ([`fixpoint`], generic, with the
//!    transfer of [`dataflow`]) that tags nmemb (N), size (S), their product (P) and the
//!    values overflow tests are built from (the high half, `(N|S) >> half`, `P/N`,
//!    `SIZE_MAX/S`, overflow booleans);
//! 3. the calloc-specific phases (`phases`): a replay noting products, divisions, tests
//!    and the *safe* side of every conditional branch that proves "no overflow"; the
//!    unguarded region (blocks reachable from the entry without crossing a safe side); what
//!    each call does with N, S and P; the verdict.
//!
//! An allocator receiving P in the unguarded region is `unchecked`; P reaching allocators
//! only behind a safe side is `checked`; anything that cannot be followed on the unguarded
//! path (an indirect jump, undecodable code, a callee that cannot be analysed, a bound of
//! this module) is `unknown`, never `checked`. See `docs/calloc-analysis.md`.
//!
//! # False positives (`unchecked` for a safe calloc)
//!
//! - An overflow test whose semantics are not modelled (a signed compare used as one,
//!   `umull` + `adds`/`sbcs` pairs for a 64-bit `__builtin_mul_overflow` on 32-bit targets,
//!   a test on a value spilled where the dataflow cannot name it) leaves the allocation
//!   unguarded.
//! - Machine code that really reaches the allocation untested where the source has a test
//!   (gcc 12 SH-4 `bt/s` on a T bit nothing sets): `unchecked` is what the code says.
//!
//! # False negatives (`checked` for an exposed calloc, the dangerous kind)
//!
//! Avoided by requiring exact tags on both sides of a compare, unsigned conditions for
//! ordering tests and that *every* allocation of P be behind a safe side; known holes:
//!
//! - A safe side is trusted for all later code: nmemb or size reassigned after the test and
//!   multiplied again would inherit the guard.
//! - An unnamed local function called as (P or `SIZE_MAX`, N or S) is taken for an
//!   unsigned division (libgcc's helpers are hidden in shared objects); the reason says so.
//! - Division helpers are assumed to preserve the registers other than their result.
//!
//! `unknown` instead of an answer: allocators reached only through function pointers,
//! jump tables, architectures without a lifter, the bounds below.

/// `format!` for instruction text: nothing is rendered while the analysis lifts without
/// text ([`ir::text_wanted`]), which is most of a scan's lifting.
macro_rules! insn_fmt {
    ($($arg:tt)*) => {
        if $crate::ir::text_wanted() {
            format!($($arg)*)
        } else {
            String::new()
        }
    };
}

pub mod cfg;
pub mod dataflow;
pub mod fixpoint;
pub mod ir;
pub mod locate;
pub mod signature;

mod phases;
mod probe;
mod targets;

mod aarch64;
mod arm;
mod mips;
mod ppc;
mod sh;
mod sorted_map;
mod x86;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use smallvec::SmallVec;

use badalloc_elf::{Arch, ElfFile, Symbol};
use cfg::Cfg;
use dataflow::{
    div_tag, edge_outcome, factor_bound, read, slot_of, step, tag_names, Ctx, Flags, Loc, State,
    Tags, Val, FACTORS, N, S,
};
use ir::{ArgLoc, Cond, Insn, Lifter, Op, Opnd, Target};

/// What the conditional branch ending a block proves on each side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BranchSides {
    /// The side on which nmemb*size cannot have overflowed.
    safe: Option<bool>,
    /// The side on which this factor (N or S) is below 2^(w/2).
    bound: Option<(bool, Tags)>,
}

/// How many functions deep the chain from `calloc` is followed (calloc → __calloc →
/// helper → malloc is depth 2; newlib calloc → _calloc_r → _malloc_r is 1). Real
/// implementations need 1–2; 4 leaves room for wrappers while bounding the work.
pub const MAX_CHAIN_DEPTH: usize = 4;
/// Total instructions decoded for one file's calloc analysis, all functions together.
pub const MAX_TOTAL_INSNS: usize = 100_000;
/// Dataflow block visits per function, as a multiple of the number of blocks: the lattice
/// is finite and small (converges in a few passes); the cap only guards against bugs and
/// pathological graphs.
pub const DATAFLOW_VISITS_PER_BLOCK: usize = 64;
/// Lines of annotated disassembly kept for `inspect`.
pub const MAX_LISTING_LINES: usize = 80;
/// Functions analysed per file (distinct entry/argument combinations).
pub const MAX_FUNCTIONS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallocVerdict {
    Checked,
    Unchecked,
    Unknown,
}

impl CallocVerdict {
    /// Its name in the reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CallocVerdict::Checked => "checked",
            CallocVerdict::Unchecked => "unchecked",
            CallocVerdict::Unknown => "unknown",
        }
    }

    pub fn from_name(name: &str) -> Option<CallocVerdict> {
        [
            CallocVerdict::Checked,
            CallocVerdict::Unchecked,
            CallocVerdict::Unknown,
        ]
        .into_iter()
        .find(|v| v.as_str() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceLine {
    pub address: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct CallocAnalysis {
    pub verdict: CallocVerdict,
    pub chain: Vec<String>,
    pub chain_links: Vec<ChainLink>,
    pub function: Option<String>,
    pub address: String,
    pub evidence: Vec<EvidenceLine>,
    pub reason: String,
    pub listing: Vec<EvidenceLine>,
}

fn hex(a: u64) -> String {
    format!("{a:#x}")
}

/// The `calloc` a program would bind to: the exported dynamic symbol, else `.symtab`.
pub fn locate_calloc<'a>(elf: &ElfFile<'a>) -> Option<Symbol<'a>> {
    elf.defined_symbol("calloc")
        .filter(|s| s.addr != 0 && (s.is_func || s.size > 0))
        .copied()
}

/// [`analyze_calloc`] for a scan report: the verdict, chain and evidence lines, without the
/// full listing that `inspect` shows, so instructions are rendered as text only where the
/// evidence quotes them (rendering every one was a third of the analysis' time).
pub fn analyze_calloc_brief(elf: &ElfFile) -> Option<CallocAnalysis> {
    ir::with_text(false, || analyze_calloc(elf))
}

/// Analyse the calloc of one file. `None` when the file defines no `calloc`.
pub fn analyze_calloc(elf: &ElfFile) -> Option<CallocAnalysis> {
    let sym = locate_calloc(elf)?;
    Some(analyze_calloc_at(elf, sym.addr))
}

/// Analyse the code at `addr` as a calloc (nmemb, size) — for `inspect` on files whose
/// calloc has no symbol (stripped static executables), and for tests. On ARM, bit 0 of
/// `addr` selects Thumb.
pub fn analyze_calloc_at(elf: &ElfFile, addr: u64) -> CallocAnalysis {
    analyze_calloc_with_roles(elf, addr, &Roles::default())
}

/// What the search for calloc in a stripped program ([`locate`]) learned about functions
/// that have no name: the allocators its calloc-shaped functions pass the product to (with
/// the argument that carries the size), the functions that zero-fill the allocation, and
/// the addresses known to start functions (call targets: a branch to one is a tail call).
/// Addresses are display addresses (no Thumb bit).
#[derive(Debug, Clone, Default)]
pub struct Roles {
    pub allocators: BTreeMap<u64, usize>,
    pub zero_fills: BTreeSet<u64>,
    /// Sorted.
    pub entries: Vec<u64>,
}

impl Roles {
    fn is_entry(&self, addr: u64) -> bool {
        self.entries.binary_search(&addr).is_ok()
    }

    /// The name the analysis treats an unnamed function with a role as, and the role shown.
    fn role_of(&self, addr: u64) -> Option<(&'static str, &'static str)> {
        if self.allocators.contains_key(&addr) {
            Some(("malloc", "allocator"))
        } else {
            self.zero_fills
                .contains(&addr)
                .then_some(("memset", "zero-fill"))
        }
    }
}

/// [`analyze_calloc_at`] with what the search for calloc learned about unnamed functions.
pub fn analyze_calloc_with_roles(elf: &ElfFile, addr: u64, roles: &Roles) -> CallocAnalysis {
    let address = hex(addr & !1);
    let unknown = |reason: String| CallocAnalysis {
        verdict: CallocVerdict::Unknown,
        chain: vec!["calloc".into()],
        chain_links: vec![ChainLink {
            name: "calloc".into(),
            address: address.clone(),
        }],
        function: None,
        address: address.clone(),
        evidence: Vec::new(),
        reason,
        listing: Vec::new(),
    };
    let lifter = match make_lifter(elf) {
        Ok(l) => l,
        Err(e) => return unknown(e),
    };
    let mut an = Analyzer {
        elf,
        ctx: Ctx {
            word_bits: lifter.word_bits(),
        },
        lifter: lifter.as_ref(),
        roles,
        cache: HashMap::new(),
        in_progress: BTreeSet::new(),
        insns_used: 0,
        functions: 0,
    };
    let params = vec![Val::tagged(N), Val::tagged(S)];
    let r = an.analyze(addr, &params, 0);
    let (verdict, reason) = match &r.outcome {
        Outcome::Unchecked => (CallocVerdict::Unchecked, r.reason.clone()),
        Outcome::Checked => (CallocVerdict::Checked, r.reason.clone()),
        Outcome::Unknown(why) => (CallocVerdict::Unknown, why.clone()),
        Outcome::NoUse => (
            CallocVerdict::Unknown,
            if r.reason.is_empty() {
                "no multiply of nmemb by size reaching an allocator was found".to_string()
            } else {
                r.reason.clone()
            },
        ),
    };
    let mut chain_links: Vec<ChainLink> = r
        .chain
        .iter()
        .map(|(n, a)| ChainLink {
            name: n.clone(),
            address: hex(*a),
        })
        .collect();
    if let Some(first) = chain_links.first_mut() {
        first.name = "calloc".into();
    }
    CallocAnalysis {
        verdict,
        chain: chain_links.iter().map(|l| l.name.clone()).collect(),
        function: chain_links.last().map(|l| l.name.clone()),
        chain_links,
        address,
        evidence: r.evidence,
        reason,
        listing: r.listing,
    }
}

pub(crate) fn make_lifter<'e>(elf: &'e ElfFile<'e>) -> Result<Box<dyn Lifter + 'e>, String> {
    match elf.arch {
        Arch::X86 | Arch::X86_64 => Ok(Box::new(x86::X86::new(elf))),
        Arch::Arm => Ok(Box::new(arm::Arm::new(elf))),
        Arch::AArch64 => Ok(Box::new(aarch64::A64::new(elf))),
        Arch::Ppc => Ok(Box::new(ppc::Ppc::new(elf))),
        Arch::Mips => Ok(Box::new(mips::Mips::new(elf))),
        Arch::Sh => Ok(Box::new(sh::Sh::new(elf))),
        other => Err(format!(
            "unsupported architecture for the calloc analysis: {}",
            badalloc_elf::qnx_arch_name(other, elf.endian)
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Unchecked,
    Checked,
    Unknown(String),
    /// This function does not allocate nmemb*size (it may return it: see `ret`).
    NoUse,
}

#[derive(Debug, Clone)]
struct FnResult {
    outcome: Outcome,
    reason: String,
    chain: Vec<(String, u64)>,
    evidence: Vec<EvidenceLine>,
    listing: Vec<EvidenceLine>,
    /// Value returned (a helper that returns nmemb*size).
    ret: Val,
}

impl FnResult {
    fn simple(outcome: Outcome, name: String, addr: u64) -> FnResult {
        FnResult {
            outcome,
            reason: String::new(),
            chain: vec![(name, addr)],
            evidence: Vec::new(),
            listing: Vec::new(),
            ret: Val::default(),
        }
    }
}

/// What a resolved call or tail-branch target is. Borrowed from the file and formatted
/// only when a message names it: calls are resolved at every visit of their block.
#[derive(Debug, Clone, Copy)]
struct Resolved<'a> {
    name: Option<&'a str>,
    /// Code address of the definition in this file.
    def: Option<u64>,
    /// For messages: `malloc@plt`, `sub_1234`, `an indirect target`.
    display: TargetName<'a>,
}

/// How messages name a call target.
#[derive(Debug, Clone, Copy)]
enum TargetName<'a> {
    /// A symbol, then `@plt`, `@got` or nothing.
    Symbol(&'a str, &'static str),
    /// An unnamed function at this (display) address.
    Sub(u64),
    /// A GOT slot with no symbol and no code address in it.
    UnresolvedSlot(u64),
    /// An unnamed function whose role the search for calloc found (`allocator`, `zero-fill`).
    Role(&'static str, u64),
    Indirect,
}

impl std::fmt::Display for TargetName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetName::Symbol(name, via) => write!(f, "{name}{via}"),
            TargetName::Sub(a) => write!(f, "sub_{a:x}"),
            TargetName::UnresolvedSlot(slot) => write!(f, "unresolved slot {slot:#x}"),
            TargetName::Role(role, a) => write!(f, "sub_{a:x} ({role})"),
            TargetName::Indirect => f.write_str("an indirect target"),
        }
    }
}

fn base_name(name: &str) -> &str {
    let n = name.split('@').next().unwrap_or(name);
    n.trim_start_matches('_')
}

/// Size-argument index for allocator names.
fn allocator_size_arg(name: &str) -> Option<usize> {
    match base_name(name) {
        "malloc" | "libc_malloc" | "malloc_internal" | "malloc_impl" | "sys_malloc" => Some(0),
        "malloc_r" | "int_malloc" => Some(1),
        _ => None,
    }
}

/// Division helpers: (numerator arg, denominator arg) on 32-bit words.
fn division_helper(name: &str, big_endian: bool) -> Option<(usize, usize)> {
    let b = base_name(name);
    let wide = matches!(b, "udivdi3" | "aeabi_uldivmod" | "qdivrem" | "udivmoddi4");
    let narrow = matches!(
        b,
        "udivsi3" | "aeabi_uidiv" | "aeabi_uidivmod" | "udivsi3_i4i" | "udivsi3_i4" | "udivmodsi4"
    );
    if narrow {
        Some((0, 1))
    } else if wide {
        // 64-bit operands in register/stack pairs; the low word comes second on big-endian.
        Some(if big_endian { (1, 3) } else { (0, 2) })
    } else {
        None
    }
}

/// Functions that may receive the product without allocating with it.
fn harmless(name: &str) -> bool {
    let b = base_name(name);
    b.contains("errno")
        || b.starts_with("mem")
        || b.starts_with("bzero")
        || b.starts_with("pthread_mutex")
        || b.starts_with("stack_chk")
        || b.starts_with("assert")
        || matches!(b, "abort" | "free" | "libc_fatal")
}

/// `CALLOC_DEBUG` set: print the dataflow's block states (read once, not per function).
static CALLOC_DEBUG: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var_os("CALLOC_DEBUG").is_some());

/// Ops the replay notes something about (products, divisions, tests, branches, returns):
/// the ones the `match` of the replay acts on.
fn noted_in_replay(op: &Op) -> bool {
    matches!(
        op,
        Op::Mul { lo: Some(_), .. }
            | Op::Mul {
                flags_ovf: true,
                ..
            }
            | Op::Div { quot: Some(_), .. }
            | Op::Cmp { .. }
            | Op::CmpSigned { .. }
            | Op::Test { .. }
            | Op::Branch { .. }
            | Op::BranchCmp { .. }
            | Op::SetCmp { .. }
            | Op::SetCond { .. }
            | Op::JumpIndirect
            | Op::Ret
    )
}

/// A function analysed with given argument tags: (entry, per argument (may, must, constant)).
type CacheKey = (u64, SmallVec<[(Tags, Tags, Option<u64>); 8]>);

fn cache_key(addr: u64, params: &[Val]) -> CacheKey {
    (
        addr,
        params.iter().map(|v| (v.may, v.must, v.konst())).collect(),
    )
}

struct Analyzer<'e, 'a> {
    elf: &'e ElfFile<'a>,
    lifter: &'e dyn Lifter,
    roles: &'e Roles,
    ctx: Ctx,
    cache: HashMap<CacheKey, FnResult>,
    in_progress: BTreeSet<u64>,
    insns_used: usize,
    functions: usize,
}

/// One call or tail branch seen while replaying the dataflow.
struct CallSite<'c, 'a> {
    /// Position of the block in `Cfg::blocks`.
    block: usize,
    insn: &'c Insn,
    target: Resolved<'a>,
    args: Args,
    tail: bool,
}

const NUM_ARGS: usize = 4;

/// Argument values at a call: the ABI's `NUM_ARGS` and the lifter's few extra registers,
/// inline (a call is analysed at every visit of its block).
type Args = SmallVec<[Val; 8]>;

/// Where argument `i` is at a call (`tail`: a tail jump, where the caller's own return
/// address is still on the stack, so stack arguments sit one return-address further).
fn arg_loc(lifter: &dyn Lifter, st: &State, i: usize, tail: bool) -> Option<Loc> {
    match lifter.arg(i) {
        ArgLoc::Reg(r) => Some(Loc::Reg(r)),
        ArgLoc::Stack(off) => slot_of(
            st,
            Opnd::Mem {
                base: lifter.sp(),
                disp: off + if tail { lifter.call_push() } else { 0 },
            },
        ),
    }
}

/// Argument values at a call: the ABI's first `NUM_ARGS`, then the lifter's extra
/// registers (i386 local functions may take arguments in eax/edx/ecx).
fn args_at(lifter: &dyn Lifter, st: &State, tail: bool) -> Args {
    let mut v: Args = (0..NUM_ARGS)
        .map(|i| {
            arg_loc(lifter, st, i, tail)
                .map(|l| st.get(l))
                .unwrap_or_default()
        })
        .collect();
    v.extend(lifter.extra_arg_regs().iter().map(|&r| st.get(Loc::Reg(r))));
    v
}

/// The state at the entry of a function called with `params`.
fn entry_state(lifter: &dyn Lifter, addr: u64, params: &[Val]) -> State {
    let mut st = State::default();
    st.set(Loc::Reg(lifter.sp()), Val::stack(0));
    for (r, k) in lifter.entry_consts(addr) {
        st.set(Loc::Reg(r), Val::constant(k));
    }
    for (i, v) in params.iter().enumerate() {
        if i >= NUM_ARGS {
            if let Some(&r) = lifter.extra_arg_regs().get(i - NUM_ARGS) {
                st.set(Loc::Reg(r), *v);
            }
            continue;
        }
        match lifter.arg(i) {
            ArgLoc::Reg(r) => st.set(Loc::Reg(r), *v),
            ArgLoc::Stack(off) => st.set(Loc::Slot(off.wrapping_add(lifter.call_push())), *v),
        }
    }
    st
}

impl<'a> Analyzer<'_, 'a> {
    /// Where an allocator named `name` (or found by the search for calloc) takes its size.
    fn alloc_arg(&self, r: &Resolved, name: &str) -> Option<usize> {
        match r.display {
            TargetName::Role("allocator", a) => self.roles.allocators.get(&a).copied(),
            _ => allocator_size_arg(name),
        }
    }

    fn name_of(&self, addr: u64) -> String {
        let a = self.lifter.display_addr(addr);
        self.elf
            .function_at(a)
            .map(|s| s.name.to_string())
            .unwrap_or_else(|| format!("sub_{a:x}"))
    }

    fn resolve_in(&self, t: Target, st: Option<&State>) -> Resolved<'a> {
        // `lazy`: the symbol the PLT entry's own relocation index names, for a slot that no
        // relocation binds by address.
        let by_slot = |slot: u64, via: &'static str, lazy: Option<&'a str>| {
            let b = self.elf.slot_symbol(slot).map(|b| b.symbol).or(lazy);
            match b {
                Some(symbol) => {
                    let def = self
                        .elf
                        .defined_symbol(symbol)
                        .filter(|s| s.addr != 0 && s.is_func)
                        .map(|s| s.addr);
                    Resolved {
                        name: Some(symbol),
                        def,
                        display: TargetName::Symbol(symbol, via),
                    }
                }
                None => {
                    // A local GOT entry (RELATIVE relocation, or filled at link time): the
                    // word in the file is the target, e.g. a hidden libgcc helper.
                    match self
                        .elf
                        .read_word(slot)
                        .filter(|&a| a != 0 && self.elf.code_at(a & !1).is_some())
                    {
                        Some(a) => {
                            let name = self
                                .elf
                                .function_at(self.lifter.display_addr(a))
                                .map(|s| s.name);
                            Resolved {
                                display: match name {
                                    Some(n) => TargetName::Symbol(n, ""),
                                    None => TargetName::Sub(self.lifter.display_addr(a)),
                                },
                                name,
                                def: Some(a),
                            }
                        }
                        None => Resolved {
                            name: None,
                            def: None,
                            display: TargetName::UnresolvedSlot(slot),
                        },
                    }
                }
            }
        };
        match t {
            Target::Direct(a) => {
                // A role the search for calloc found outranks what a stub says: glibc's
                // static memset is an IFUNC called through a PLT stub no symbol names.
                let da = self.lifter.display_addr(a);
                if self.elf.function_at(da).is_none() {
                    if let Some((name, role)) = self.roles.role_of(da) {
                        return Resolved {
                            name: Some(name),
                            def: Some(a),
                            display: TargetName::Role(role, da),
                        };
                    }
                }
                let reg = |r: ir::Reg| st.and_then(|s| s.get(Loc::Reg(r)).konst());
                if let Some(slot) = self.lifter.plt_slot_in(a, &reg) {
                    let lazy = || {
                        let index = self.lifter.plt_reloc_index(a)?;
                        self.elf.plt_reloc_symbol(index)
                    };
                    let lazy = self.elf.slot_symbol(slot).is_none().then(lazy).flatten();
                    return by_slot(slot, "@plt", lazy);
                }
                match self.elf.function_at(da) {
                    Some(s) => Resolved {
                        name: Some(s.name),
                        def: Some(a),
                        display: TargetName::Symbol(s.name, ""),
                    },
                    None => Resolved {
                        name: None,
                        def: Some(a),
                        display: TargetName::Sub(da),
                    },
                }
            }
            Target::Slot(s) => by_slot(s, "@got", None),
            Target::RegOffset(r, base) => match st.and_then(|s| s.get(Loc::Reg(r)).konst()) {
                Some(k) => {
                    self.resolve_in(Target::Direct(k.wrapping_add(base) & self.ctx.mask()), st)
                }
                None => Resolved {
                    name: None,
                    def: None,
                    display: TargetName::Indirect,
                },
            },
            Target::Reg(r) => {
                let v = st.map(|s| s.get(Loc::Reg(r))).unwrap_or_default();
                match (v.loaded_from(), v.konst()) {
                    (Some(s), _) => by_slot(s, "@got", None),
                    (None, Some(a)) => self.resolve_in(Target::Direct(a), st),
                    _ => Resolved {
                        name: None,
                        def: None,
                        display: TargetName::Indirect,
                    },
                }
            }
            Target::Indirect => Resolved {
                name: None,
                def: None,
                display: TargetName::Indirect,
            },
        }
    }

    /// The value a call returns, for the dataflow (division helpers, helpers returning P).
    fn call_ret(
        &mut self,
        r: &Resolved,
        args: &[Val],
        tail: bool,
        depth: usize,
    ) -> (Val, Option<String>) {
        let big = self.elf.endian == badalloc_elf::Endian::Big;
        let arg = |i: usize| args.get(i).copied().unwrap_or_default();
        if let Some(n) = &r.name {
            if let Some((ni, di)) = division_helper(n, big) {
                let q = div_tag(&self.ctx, &arg(ni), None, &arg(di));
                return (q.map(Val::tagged).unwrap_or_default(), None);
            }
            if allocator_size_arg(n).is_some() || harmless(n) {
                return (Val::default(), None);
            }
        }
        let Some(def) = r.def else {
            return (Val::default(), None);
        };
        if r.name.is_none() && !tail {
            // Unnamed local function called as (product or SIZE_MAX, factor): a stripped
            // division helper (libgcc's __aeabi_uidiv, __udivsi3 are hidden in shared objects).
            if let Some(q) = div_tag(&self.ctx, &arg(0), None, &arg(1)) {
                return (
                    Val::tagged(q),
                    Some(format!(
                        "unnamed helper {} called as ({}, {}): treated as unsigned division",
                        r.display,
                        tag_names(arg(0).may).if_empty("SIZE_MAX"),
                        tag_names(arg(1).may)
                    )),
                );
            }
        }
        if args.iter().any(|a| a.may & FACTORS != 0) && depth < MAX_CHAIN_DEPTH {
            // Only the returned value is wanted: read it from the cache (the fixpoint asks at
            // every visit of the block) instead of copying the whole result.
            if let Some(r) = self.cache.get(&cache_key(def, args)) {
                return (r.ret, None);
            }
            let res = self.analyze(def, args, depth + 1);
            return (res.ret, None);
        }
        (Val::default(), None)
    }

    fn analyze(&mut self, addr: u64, params: &[Val], depth: usize) -> FnResult {
        let key = cache_key(addr, params);
        if let Some(r) = self.cache.get(&key) {
            return r.clone();
        }
        let name = self.name_of(addr);
        if self.in_progress.contains(&addr) {
            return FnResult::simple(
                Outcome::Unknown(format!("{name} calls itself recursively")),
                name,
                addr,
            );
        }
        if self.functions >= MAX_FUNCTIONS || self.insns_used >= MAX_TOTAL_INSNS {
            return FnResult::simple(
                Outcome::Unknown(format!(
                    "analysis budget exhausted before {name} (more than {MAX_FUNCTIONS} functions or {MAX_TOTAL_INSNS} instructions)"
                )),
                name,
                addr,
            );
        }
        self.functions += 1;
        self.in_progress.insert(addr);
        let r = self.analyze_inner(addr, &name, params, depth);
        self.in_progress.remove(&addr);
        self.cache.insert(key, r.clone());
        r
    }

    /// Run one instruction's ops; calls go through `call_ret`. Returns notes.
    fn exec(
        &mut self,
        st: &mut State,
        insn: &Insn,
        depth: usize,
        notes: &mut Vec<String>,
    ) -> Option<(Resolved<'a>, Args, bool)> {
        let mut call = None;
        for op in &insn.ops {
            match op {
                Op::Call { target } | Op::TailCall { target } => {
                    let tail = matches!(op, Op::TailCall { .. });
                    let args = args_at(self.lifter, st, tail);
                    let r = self.resolve_in(*target, Some(st));
                    let (ret, note) = self.call_ret(&r, &args, tail, depth);
                    if let Some(n) = note {
                        notes.push(n);
                    }
                    // Division helpers have private ABIs that preserve most registers (SH
                    // __udivsi3_i4i, ARM __aeabi_uidiv keep r2/r3...): compilers keep values
                    // there across the call, so only the result register changes.
                    let is_div = ret.may
                        & (dataflow::QPN | dataflow::QPS | dataflow::QMN | dataflow::QMS)
                        != 0;
                    if !is_div {
                        st.forget_regs(self.lifter.caller_saved());
                    }
                    st.set(Loc::Reg(self.lifter.ret_reg()), ret);
                    st.flags.clear();
                    call = Some((r, args, matches!(op, Op::TailCall { .. })));
                }
                _ => step(st, &self.ctx, op),
            }
        }
        call
    }

    /// The sides of the conditional branch ending `insn`, evaluated on the state before it.
    fn branch_sides(&self, before: &State, insn: &Insn) -> BranchSides {
        let branches = |op: &Op| matches!(op, Op::Branch { .. } | Op::BranchCmp { .. });
        if !insn.ops.iter().any(branches) {
            return BranchSides::default();
        }
        let sides = |st: &State, f: &Flags, cond: Cond| BranchSides {
            safe: edge_outcome(&self.ctx, st.small, f, cond).map(|x| x.0),
            bound: factor_bound(&self.ctx, f, cond),
        };
        // Copied only if an op before the branch changes it (usually the branch is alone).
        let mut stepped: Option<State> = None;
        for op in &insn.ops {
            let st = stepped.as_ref().unwrap_or(before);
            match op {
                Op::Branch { fl, cond, .. } => return sides(st, &st.flags(*fl), *cond),
                Op::BranchCmp { cond, a, b, .. } => {
                    let f = Flags::Cmp(read(st, &self.ctx, *a), read(st, &self.ctx, *b));
                    return sides(st, &f, *cond);
                }
                Op::Call { .. } | Op::TailCall { .. } => {}
                _ => step(stepped.get_or_insert_with(|| before.clone()), &self.ctx, op),
            }
        }
        BranchSides::default()
    }

    /// Analyse the function at `addr` (named `name`) called with `params`: build its CFG,
    /// then run the phases of [`phases`] in turn.
    fn analyze_inner(&mut self, addr: u64, name: &str, params: &[Val], depth: usize) -> FnResult {
        let disp_entry = self.lifter.display_addr(addr);
        let cfg = self.function_cfg(addr);
        self.insns_used = self.insns_used.saturating_add(cfg.block_insn_count());
        let fail = |why: String| FnResult::simple(Outcome::Unknown(why), name.to_string(), addr);
        if let Some(t) = &cfg.truncated {
            return fail(format!("{name}: {t}"));
        }
        let Some(entry_block) = cfg.block_index(addr) else {
            return fail(format!(
                "{name} at {:#x} is not in an executable segment of the file",
                disp_entry
            ));
        };
        let ins = match self.block_states(&cfg, entry_block, addr, params, depth) {
            Ok(ins) => ins,
            Err(cap) => {
                return fail(format!(
                    "{name}: dataflow did not settle within {cap} block visits"
                ))
            }
        };
        let mut events = self.replay(&cfg, ins, depth);
        let unguarded = phases::unguarded::region(&cfg, entry_block, &events.safe_edges);
        let caller = phases::calls::Caller {
            name,
            addr: disp_entry,
            depth,
        };
        let mut found = self.judge_calls(&events.calls, &unguarded, &mut events.notes_at, &caller);
        if found.unknown.is_none() {
            found.unknown = phases::unguarded::trouble(
                &cfg,
                &unguarded,
                &events.indirect_jumps,
                self.lifter,
                name,
            );
        }
        self.verdict(&cfg, &events, found, &caller)
    }

    /// The CFG of the function at `addr`: a branch to another function (a symbol, a PLT
    /// stub, a known entry, or outside this function's symbol extent) is a tail call.
    fn function_cfg(&self, addr: u64) -> Cfg {
        let (elf, lifter, roles) = (self.elf, self.lifter, self.roles);
        let own_size = elf
            .function_at(lifter.display_addr(addr))
            .map(|s| s.size)
            .unwrap_or(0);
        let disp_entry = lifter.display_addr(addr);
        let external = |t: u64| {
            let d = lifter.display_addr(t);
            if elf.function_at(d).is_some() || lifter.plt_slot(t).is_some() || roles.is_entry(d) {
                return true;
            }
            own_size > 0 && (d < disp_entry || d >= disp_entry.saturating_add(own_size))
        };
        cfg::build(lifter, addr, &external)
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

fn sink_name(calls: &[CallSite], sink: Option<&EvidenceLine>) -> String {
    let Some(s) = sink else {
        return "an allocator".into();
    };
    calls
        .iter()
        .find(|c| hex(c.insn.addr) == s.address || hex(c.insn.addr & !1) == s.address)
        .map(|c| c.target.display.to_string())
        .unwrap_or_else(|| "an allocator".into())
}

fn line(l: &dyn Lifter, i: &Insn, note: &str) -> EvidenceLine {
    EvidenceLine {
        address: hex(l.display_addr(i.addr)),
        text: format!("{}  ; {note}", ir::insn_text(l, i)),
    }
}

fn make_listing(cfg: &Cfg, notes: &BTreeMap<u64, String>, l: &dyn Lifter) -> Vec<EvidenceLine> {
    let mut all: BTreeMap<u64, &Insn> = BTreeMap::new();
    for b in &cfg.blocks {
        for i in cfg.insns(b) {
            all.entry(i.addr).or_insert(i);
        }
    }
    all.values()
        .take(MAX_LISTING_LINES)
        .map(|i| EvidenceLine {
            address: hex(l.display_addr(i.addr)),
            text: match notes.get(&i.addr) {
                Some(n) => format!("{}  ; {n}", i.text),
                None => i.text.clone(),
            },
        })
        .collect()
}

trait IfEmpty {
    fn if_empty(self, alt: &str) -> String;
}
impl IfEmpty for String {
    fn if_empty(self, alt: &str) -> String {
        if self.is_empty() {
            alt.to_string()
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use badalloc_elf::ElfFile;

    const BASE: u64 = 0x40_0000;

    /// A minimal ELF (no sections, no symbols) with one R+X PT_LOAD holding `code`.
    fn tiny_elf(machine: u16, is_64: bool, big: bool, code: &[u8]) -> (Vec<u8>, u64) {
        let (eh, ph) = if is_64 { (64usize, 56usize) } else { (52, 32) };
        let code_off = eh + ph;
        let total = code_off + code.len();
        let mut f = Vec::new();
        let put = |f: &mut Vec<u8>, v: u64, n: usize| {
            let b = v.to_le_bytes();
            if big {
                f.extend(b[..n].iter().rev());
            } else {
                f.extend(&b[..n]);
            }
        };
        f.extend(b"\x7fELF");
        f.push(if is_64 { 2 } else { 1 });
        f.push(if big { 2 } else { 1 });
        f.push(1);
        f.extend([0u8; 9]);
        put(&mut f, 2, 2); // ET_EXEC
        put(&mut f, u64::from(machine), 2);
        put(&mut f, 1, 4);
        let w = if is_64 { 8 } else { 4 };
        put(&mut f, BASE + code_off as u64, w); // entry
        put(&mut f, eh as u64, w); // phoff
        put(&mut f, 0, w); // shoff
        put(&mut f, 0, 4); // flags
        put(&mut f, eh as u64, 2);
        put(&mut f, ph as u64, 2);
        put(&mut f, 1, 2);
        put(&mut f, 0, 2);
        put(&mut f, 0, 2);
        put(&mut f, 0, 2);
        // program header
        put(&mut f, 1, 4); // PT_LOAD
        if is_64 {
            put(&mut f, 5, 4); // R+X
            put(&mut f, 0, 8);
            put(&mut f, BASE, 8);
            put(&mut f, BASE, 8);
            put(&mut f, total as u64, 8);
            put(&mut f, total as u64, 8);
            put(&mut f, 0x1000, 8);
        } else {
            put(&mut f, 0, 4);
            put(&mut f, BASE, 4);
            put(&mut f, BASE, 4);
            put(&mut f, total as u64, 4);
            put(&mut f, total as u64, 4);
            put(&mut f, 5, 4);
            put(&mut f, 0x1000, 4);
        }
        assert_eq!(f.len(), code_off);
        f.extend(code);
        (f, BASE + code_off as u64)
    }

    const MACHINES: [(u16, bool, bool); 9] = [
        (3, false, false),  // i386
        (62, true, false),  // x86_64
        (40, false, false), // ARM
        (183, true, false), // AArch64
        (20, false, true),  // PPC
        (8, false, true),   // MIPS BE
        (8, false, false),  // MIPS LE
        (42, false, false), // SH
        (43, true, true),   // SPARCV9: unsupported
    ];

    fn run(machine: u16, is_64: bool, big: bool, code: &[u8], thumb: bool) -> CallocAnalysis {
        let (bytes, entry) = tiny_elf(machine, is_64, big, code);
        let elf = ElfFile::parse(&bytes).expect("tiny ELF parses");
        analyze_calloc_at(&elf, entry | u64::from(thumb))
    }

    #[test]
    fn self_loop_terminates_unknown() {
        // x86 `jmp $`, ARM `b .`, AArch64 `b .`
        let a = run(62, true, false, &[0xeb, 0xfe], false);
        assert_eq!(a.verdict, CallocVerdict::Unknown, "{}", a.reason);
        let a = run(40, false, false, &0xeaff_fffe_u32.to_le_bytes(), false);
        assert_eq!(a.verdict, CallocVerdict::Unknown, "{}", a.reason);
        let a = run(183, true, false, &0x1400_0000_u32.to_le_bytes(), false);
        assert_eq!(a.verdict, CallocVerdict::Unknown, "{}", a.reason);
    }

    #[test]
    fn truncated_code_is_unknown_not_a_panic() {
        // x86_64: imul rdi, rsi, then the segment ends mid-instruction
        let a = run(
            62,
            true,
            false,
            &[0x48, 0x0f, 0xaf, 0xfe, 0x48, 0x89],
            false,
        );
        assert_eq!(a.verdict, CallocVerdict::Unknown);
        assert!(!a.reason.is_empty());
    }

    #[test]
    fn product_to_unknown_indirect_call_is_unknown() {
        // imul rdi, rsi ; call rax ; ret
        let a = run(
            62,
            true,
            false,
            &[0x48, 0x0f, 0xaf, 0xfe, 0xff, 0xd0, 0xc3],
            false,
        );
        assert_eq!(a.verdict, CallocVerdict::Unknown, "{}", a.reason);
        assert!(a.reason.contains("product"), "{}", a.reason);
    }

    #[test]
    fn unsupported_architecture_is_unknown() {
        let a = run(43, true, true, &[0; 8], false);
        assert_eq!(a.verdict, CallocVerdict::Unknown);
        assert!(a.reason.contains("unsupported"), "{}", a.reason);
    }

    #[test]
    fn garbage_bytes_never_panic_or_hang() {
        // deterministic xorshift garbage, every architecture, ARM in both modes
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..40 {
            let mut code = Vec::new();
            for _ in 0..512 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                code.push(x as u8);
            }
            for &(m, is_64, big) in &MACHINES {
                let a = run(m, is_64, big, &code, false);
                assert_ne!(
                    a.verdict,
                    CallocVerdict::Checked,
                    "garbage is never checked"
                );
                if m == 40 {
                    let a = run(m, is_64, big, &code, true);
                    assert_ne!(a.verdict, CallocVerdict::Checked, "round {round}");
                }
            }
        }
    }

    /// The search for calloc in a program without symbols, on garbage of every
    /// architecture (ARM read as A32 and Thumb at once): never a calloc, never a panic.
    #[test]
    fn garbage_is_never_located_as_calloc() {
        let mut x: u64 = 0x853c_49e6_748f_ea9b;
        for round in 0..8 {
            let mut code = Vec::new();
            for _ in 0..16 * 1024 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                code.push(x as u8);
            }
            for &(m, is_64, big) in &MACHINES {
                let (bytes, _) = tiny_elf(m, is_64, big, &code);
                let elf = ElfFile::parse(&bytes).expect("tiny ELF parses");
                assert!(locate::needs_search(&elf));
                let s = locate::locate(&elf);
                assert!(
                    s.calloc.is_none(),
                    "machine {m} round {round}: {}",
                    s.detail
                );
                assert!(s.insns <= locate::MAX_SEARCH_INSNS);
            }
        }
    }

    #[test]
    fn entry_outside_the_file_is_unknown() {
        let (bytes, _) = tiny_elf(62, true, false, &[0xc3]);
        let elf = ElfFile::parse(&bytes).unwrap();
        let a = analyze_calloc_at(&elf, 0xdead_0000);
        assert_eq!(a.verdict, CallocVerdict::Unknown);
    }
}
