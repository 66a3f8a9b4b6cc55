//! Forward dataflow over registers and stack slots with calloc-specific tags.
//!
//! A value carries *may* tags (some path gives it this meaning: used to find a product that
//! may reach an allocator) and *must* tags (every path agrees: the only tags trusted when a
//! branch is taken as an overflow test), plus a known constant and a known stack address
//! (offset from the stack pointer at function entry, so `[ebp+8]` after `push ebp; mov ebp,
//! esp` and `[esp+4]` at entry name the same slot).

use super::sorted_map::SortedMap;

use super::ir::{Cond, Op, Opnd, Reg};

pub type Tags = u16;
/// nmemb
pub const N: Tags = 1;
/// size
pub const S: Tags = 1 << 1;
/// nmemb * size (low half, the value an allocator receives)
pub const P: Tags = 1 << 2;
/// High half of the unsigned widening product: zero ⇔ no overflow.
pub const HI: Tags = 1 << 3;
/// nmemb | size
pub const NORS: Tags = 1 << 4;
/// (nmemb | size) >> half-word, or masked with the high-half mask: zero ⇒ no overflow.
pub const FAST: Tags = 1 << 5;
/// product / nmemb (equal to size ⇔ no overflow)
pub const QPN: Tags = 1 << 6;
/// product / size (equal to nmemb ⇔ no overflow)
pub const QPS: Tags = 1 << 7;
/// SIZE_MAX / nmemb (size <= it ⇔ no overflow)
pub const QMN: Tags = 1 << 8;
/// SIZE_MAX / size (nmemb <= it ⇔ no overflow)
pub const QMS: Tags = 1 << 9;
/// A boolean that is 0 exactly when there is no overflow (x86 `seto`, AArch64 `cset ne`).
pub const SAFE_Z: Tags = 1 << 10;
/// A boolean that is non-zero exactly when there is no overflow.
pub const SAFE_NZ: Tags = 1 << 11;
/// Returned by a call that received the product, or that pointer plus a constant: what a
/// calloc zero-fills. Only the search for calloc in stripped programs ([`super::probe`])
/// creates it; the overflow analysis never does.
pub const RET: Tags = 1 << 12;
/// A 0/1 value that is 1 exactly when such an allocation is null (SH `tst r0,r0` into T,
/// x86 `sete`); probe only.
pub const NULL_B: Tags = 1 << 13;
/// A 0/1 value that is 1 exactly when such an allocation is not null; probe only.
pub const NONNULL_B: Tags = 1 << 14;

/// Tags whose presence makes a value interesting to the analysis (passed to calls).
pub const FACTORS: Tags = N | S | P;

pub fn tag_names(t: Tags) -> String {
    let names = [
        (N, "nmemb"),
        (S, "size"),
        (P, "product"),
        (HI, "high-half"),
        (NORS, "nmemb|size"),
        (FAST, "fast-path"),
        (QPN, "product/nmemb"),
        (QPS, "product/size"),
        (QMN, "SIZE_MAX/nmemb"),
        (QMS, "SIZE_MAX/size"),
        (SAFE_Z, "overflow-bool"),
        (SAFE_NZ, "no-overflow-bool"),
        (RET, "allocation"),
        (NULL_B, "allocation-is-null"),
        (NONNULL_B, "allocation-is-not-null"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| t & b != 0)
        .map(|(_, n)| *n)
        .collect();
    v.join("+")
}

/// A value: its tags, and at most one known word (a constant, a stack address or the address
/// it was loaded from). No transfer function gives a value two of them (each builds its
/// result from one source, and a join keeps a word only where both sides agree), so one
/// word holds it: 16 bytes a value, which keeps the states that are copied at every block
/// edge small enough for the allocator's fast path.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Val {
    pub may: Tags,
    pub must: Tags,
    known: Known,
    /// The known word; 0 when `known` is `Nothing`, so that equal values compare equal.
    word: u64,
}

const _: () = assert!(std::mem::size_of::<Val>() == 16);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Known {
    #[default]
    Nothing,
    Konst,
    /// Stack address: offset from the stack pointer at entry (as an i64 in `word`).
    Sp,
    /// Loaded from this known absolute address (a GOT slot): resolves calls through registers.
    LoadedFrom,
    /// Returned by a call to the function at this address (the search for calloc).
    Returned,
    /// A 0/1 boolean of one factor's half-word bound (MIPS `sltu`, SH `cmp/hi` into T): the
    /// word holds the factor's tag, plus [`SMALL_WHEN_NONZERO`] when non-zero means below.
    Bound,
}

/// In a [`Known::Bound`] word: the boolean is non-zero exactly when the factor is small.
const SMALL_WHEN_NONZERO: u64 = 1 << 32;

impl Val {
    pub fn tagged(t: Tags) -> Val {
        Val {
            may: t,
            must: t,
            ..Val::default()
        }
    }
    pub fn constant(k: u64) -> Val {
        Val::with_word(Known::Konst, k)
    }
    /// The stack address `off` bytes from the stack pointer at entry.
    pub fn stack(off: i64) -> Val {
        Val::with_word(Known::Sp, off as u64)
    }
    /// A word loaded from the absolute address `a`.
    pub fn loaded(a: u64) -> Val {
        Val::with_word(Known::LoadedFrom, a)
    }
    /// What a call to the function at `entry` returned (`RET` added by the caller).
    pub fn returned(entry: u64) -> Val {
        Val::with_word(Known::Returned, entry)
    }
    /// A 0/1 boolean that is non-zero (`nonzero_small`) or zero exactly when factor `t`
    /// is below 2^(w/2).
    fn bound_bool(t: Tags, nonzero_small: bool) -> Val {
        let polarity = if nonzero_small { SMALL_WHEN_NONZERO } else { 0 };
        Val::with_word(Known::Bound, u64::from(t) | polarity)
    }
    /// For a bound boolean: the factor, and whether non-zero means "below 2^(w/2)".
    fn bound_of(&self) -> Option<(Tags, bool)> {
        (self.known == Known::Bound).then_some((
            (self.word & 0xffff) as Tags,
            self.word & SMALL_WHEN_NONZERO != 0,
        ))
    }
    fn with_word(known: Known, word: u64) -> Val {
        Val {
            known,
            word,
            ..Val::default()
        }
    }
    pub fn konst(&self) -> Option<u64> {
        (self.known == Known::Konst).then_some(self.word)
    }
    /// Known stack address: offset from the stack pointer at entry.
    pub fn sp(&self) -> Option<i64> {
        (self.known == Known::Sp).then_some(self.word as i64)
    }
    /// Loaded from this known absolute address (a GOT slot): resolves calls through registers.
    pub fn loaded_from(&self) -> Option<u64> {
        (self.known == Known::LoadedFrom).then_some(self.word)
    }
    /// Returned by a call to the function at this address.
    pub fn returned_by(&self) -> Option<u64> {
        (self.known == Known::Returned).then_some(self.word)
    }
    /// The same tags without the stack address (a returned value: the callee's stack is gone).
    pub fn without_sp(self) -> Val {
        if self.known == Known::Sp {
            Val {
                known: Known::Nothing,
                word: 0,
                ..self
            }
        } else {
            self
        }
    }
    fn is_default(&self) -> bool {
        *self == Val::default()
    }
    /// Every path agrees that this value is exactly `t` (and nothing else interesting).
    pub fn exactly(&self, t: Tags) -> bool {
        self.must == t && self.may == t
    }
    pub fn join(&self, o: &Val) -> Val {
        let agreed = self.known == o.known && self.word == o.word;
        Val {
            may: self.may | o.may,
            must: self.must & o.must,
            known: if agreed { self.known } else { Known::Nothing },
            word: if agreed { self.word } else { 0 },
        }
    }
}

/// As the fields were printed before they shared a word (`CALLOC_DEBUG` output).
impl std::fmt::Debug for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Val")
            .field("may", &self.may)
            .field("must", &self.must)
            .field("konst", &self.konst())
            .field("sp", &self.sp())
            .field("loaded_from", &self.loaded_from())
            .field("returned_by", &self.returned_by())
            .field("bound", &self.bound_of())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Loc {
    Reg(Reg),
    Slot(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flags {
    #[default]
    Unknown,
    Cmp(Val, Val),
    CmpSigned(Val, Val),
    Test(Val, Val),
    /// After an unsigned widening multiply that sets CF/OF on overflow (x86 `mul`).
    MulOvf,
    /// After `ccmp a, b, #nzcv, c`: `pre_safe_false` = the condition `c` being false proved
    /// no overflow on the earlier flags.
    Ccmp {
        a: Val,
        b: Val,
        alt: Alt,
        pre_safe_false: bool,
    },
}

/// The flags on the paths where a conditional compare did not compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alt {
    /// AArch64 `ccmp`: the constant NZCV operand.
    Nzcv(u8),
    /// ARM `cmp<c>`: the earlier flags, on which `c` is known to be false.
    NotCond(Cond),
}

fn eval_alt(c: Cond, alt: Alt) -> Option<bool> {
    match alt {
        Alt::Nzcv(n) => eval_nzcv(c, n),
        Alt::NotCond(pc) if c == pc => Some(false),
        Alt::NotCond(pc) if c == pc.negate() => Some(true),
        Alt::NotCond(_) => None,
    }
}

/// Evaluate a condition on constant NZCV flags.
fn eval_nzcv(c: Cond, nzcv: u8) -> Option<bool> {
    let (n, z, cf, v) = (nzcv & 8 != 0, nzcv & 4 != 0, nzcv & 2 != 0, nzcv & 1 != 0);
    Some(match c {
        Cond::Eq => z,
        Cond::Ne => !z,
        Cond::Uge => cf,
        Cond::Ult => !cf,
        Cond::Ugt => cf && !z,
        Cond::Ule => !cf || z,
        Cond::Sge => n == v,
        Cond::Slt => n != v,
        Cond::Sgt => !z && n == v,
        Cond::Sle => z || n != v,
        Cond::Ovf => v,
        Cond::NoOvf => !v,
        Cond::Other => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub vals: SortedMap<Loc, Val>,
    pub flags: SortedMap<u8, Flags>,
    /// Some(true): the last overflow test this path crossed was passed on its safe side;
    /// Some(false): on its other side. Lets a join turn "0 on the safe path, 1 on the
    /// other" (gcc -O0: `mov ecx,0; mul; jno L; mov ecx,1; L:`) into an overflow boolean.
    pub safe: Option<bool>,
    /// Factors (N, S) that every path to here has shown to be below 2^(w/2), each by its
    /// own compare: both together prove the product fits (`n < 0x10000 && s < 0x10000`
    /// compiled as two branches). One alone proves nothing.
    pub small: Tags,
}

/// Upper bound on tracked locations per state: a hostile function with thousands of
/// distinct stack slots must not make every join quadratic.
pub const MAX_LOCS: usize = 4096;

impl State {
    pub fn get(&self, l: Loc) -> Val {
        self.vals.get(&l).copied().unwrap_or_default()
    }
    pub fn set(&mut self, l: Loc, v: Val) {
        if v.is_default() {
            self.vals.remove(&l);
        } else {
            self.vals.insert_within(l, v, MAX_LOCS);
        }
    }
    /// Forget the registers `regs` (a call's clobbers): as `set` to the default of each,
    /// in one pass over the state.
    pub fn forget_regs(&mut self, regs: &[Reg]) {
        self.vals
            .retain(|l| !matches!(l, Loc::Reg(r) if regs.contains(r)));
    }
    pub fn flags(&self, fl: u8) -> Flags {
        self.flags.get(&fl).copied().unwrap_or_default()
    }
    /// Join of the states on two incoming edges, `o` taken as having crossed its last
    /// overflow test on the side `o_safe` (the edge's own side, without copying `o` to say
    /// so; see [`State::safe`]).
    pub fn join_edges(&self, o: &State, o_safe: Option<bool>) -> State {
        let mut r = self.joined(o);
        if let (Some(a), Some(b)) = (self.safe, o_safe) {
            if a == b {
                r.safe = Some(a);
                return r;
            }
            let (safe_st, other_st) = if a { (self, o) } else { (o, self) };
            let keys: Vec<Loc> = self.vals.keys().chain(o.vals.keys()).copied().collect();
            for k in keys {
                let (x, y) = (safe_st.get(k), other_st.get(k));
                if let Some(v) = join_across_test(x, y) {
                    r.set(k, v);
                }
            }
        }
        r
    }

    /// The plain join of the values and flags (`safe` unset).
    fn joined(&self, o: &State) -> State {
        let vals = if self.vals.len() + o.vals.len() <= MAX_LOCS {
            // Below the bound no insertion can be refused: one merge of the sorted maps.
            joined_maps(&self.vals, &o.vals, Val::join)
        } else {
            // Near the bound, key by key: what is kept depends on the insertion order.
            let mut r = State {
                vals: self.vals.clone(),
                ..State::default()
            };
            let keys: Vec<Loc> = self.vals.keys().chain(o.vals.keys()).copied().collect();
            for k in keys {
                let a = r.get(k);
                let j = a.join(&o.get(k));
                if j != a {
                    r.set(k, j);
                }
            }
            r.vals
        };
        State {
            vals,
            // Flags survive a join where both sides agree.
            flags: joined_maps(&self.flags, &o.flags, |x, y| {
                if x == y {
                    *x
                } else {
                    Flags::Unknown
                }
            }),
            safe: None,
            small: self.small & o.small,
        }
    }
}

/// The join of `safe` (from a path that passed an overflow test on its safe side) and
/// `other` (from its other side), where it means more than the plain join:
/// - 0 on the safe path and 1 on the other (gcc -O0 booleans) is an overflow boolean
///   (booleans only, so that `and r, 1` keeps the meaning);
/// - a value whose zero (or non-zero) proves no overflow keeps that meaning whatever the
///   safe path holds: there, no overflow is already proven (a helper's
///   `return n && s > SIZE_MAX / n;` returns 0, or nmemb itself, where n == 0).
pub fn join_across_test(safe: Val, other: Val) -> Option<Val> {
    match (safe.konst(), other.konst()) {
        (Some(0), Some(1)) => Some(Val::tagged(SAFE_Z)),
        (Some(1), Some(0)) => Some(Val::tagged(SAFE_NZ)),
        _ if [HI, FAST, SAFE_Z, SAFE_NZ]
            .iter()
            .any(|t| other.exactly(*t)) =>
        {
            Some(other)
        }
        _ => None,
    }
}

/// The join of two values each marked with the side of the last overflow test its path
/// crossed ([`State::safe`]): [`join_across_test`] where the paths crossed it on different
/// sides, else the plain join (a function's returned values, joined over its returns).
pub fn join_marked(a: (Val, Option<bool>), b: (Val, Option<bool>)) -> (Val, Option<bool>) {
    match (a.1, b.1) {
        (Some(x), Some(y)) if x == y => (a.0.join(&b.0), a.1),
        (Some(x), Some(_)) => {
            let (safe, other) = if x { (a.0, b.0) } else { (b.0, a.0) };
            (
                join_across_test(safe, other).unwrap_or_else(|| a.0.join(&b.0)),
                None,
            )
        }
        _ => (a.0.join(&b.0), None),
    }
}

/// The join of two maps, key by key, as [`State::set`] and the flag updates would leave it:
/// a missing key reads as the default, and a key that joins to the default is dropped.
fn joined_maps<K: Ord + Copy, V: Copy + Default + PartialEq>(
    a: &SortedMap<K, V>,
    b: &SortedMap<K, V>,
    join: impl Fn(&V, &V) -> V,
) -> SortedMap<K, V> {
    a.merge(b, |x, y| {
        let here = x.copied().unwrap_or_default();
        let j = join(&here, &y.copied().unwrap_or_default());
        if j == here {
            x.copied()
        } else {
            (j != V::default()).then_some(j)
        }
    })
}

/// Architecture facts the transfer functions need.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub word_bits: u32,
}

impl Ctx {
    pub fn mask(&self) -> u64 {
        if self.word_bits >= 64 {
            u64::MAX
        } else {
            (1u64 << self.word_bits) - 1
        }
    }
    pub fn half(&self) -> u32 {
        self.word_bits / 2
    }
    /// The mask of the high half of a word (0xffff0000 on 32-bit).
    pub fn high_mask(&self) -> u64 {
        self.mask() & !((1u64 << self.half()) - 1)
    }
}

pub fn read(st: &State, ctx: &Ctx, o: Opnd) -> Val {
    match o {
        Opnd::Reg(r) => st.get(Loc::Reg(r)),
        Opnd::Mem { base, disp } => {
            let b = st.get(Loc::Reg(base));
            match (b.sp(), b.konst()) {
                (Some(k), _) => st.get(Loc::Slot(k.wrapping_add(disp))),
                (None, Some(a)) => Val::loaded(a.wrapping_add(disp as u64) & ctx.mask()),
                _ => Val::default(),
            }
        }
        Opnd::Imm(v) => Val::constant(v & ctx.mask()),
        Opnd::Abs(a) => Val::loaded(a),
        Opnd::Unknown => Val::default(),
    }
}

/// The stack slot an operand names, if any.
pub fn slot_of(st: &State, o: Opnd) -> Option<Loc> {
    match o {
        Opnd::Reg(r) => Some(Loc::Reg(r)),
        Opnd::Mem { base, disp } => st
            .get(Loc::Reg(base))
            .sp()
            .map(|k| Loc::Slot(k.wrapping_add(disp))),
        _ => None,
    }
}

pub fn write(st: &mut State, o: Opnd, v: Val) {
    if let Some(l) = slot_of(st, o) {
        st.set(l, v);
    }
}

/// Which single factor a value is, exactly.
fn factor(v: &Val) -> Option<Tags> {
    if v.exactly(N) {
        Some(N)
    } else if v.exactly(S) {
        Some(S)
    } else {
        None
    }
}

/// Apply one op (calls are handled by the caller of this function). One function per kind
/// of op below; this only dispatches.
pub fn step(st: &mut State, ctx: &Ctx, op: &Op) {
    match op {
        Op::Move { dst, src } => {
            let v = read(st, ctx, *src);
            write(st, *dst, v);
        }
        Op::Add { dst, a, b, sub } => step_add(st, ctx, *dst, *a, *b, *sub),
        Op::Or { dst, a, b } => step_or(st, ctx, *dst, *a, *b),
        Op::And { dst, a, b } => step_and(st, ctx, *dst, *a, *b),
        Op::Shr { dst, a, amount } => step_shr(st, ctx, *dst, *a, *amount),
        Op::Mul {
            lo,
            hi,
            a,
            b,
            hi_unsigned,
            flags_ovf,
        } => step_mul(st, ctx, (*lo, *hi), (*a, *b), *hi_unsigned, *flags_ovf),
        Op::Div {
            quot,
            rem,
            num,
            num_hi,
            den,
        } => step_div(st, ctx, (*quot, *rem), (*num, *num_hi), *den),
        Op::Cmp { .. }
        | Op::Ccmp { .. }
        | Op::CmpSigned { .. }
        | Op::Test { .. }
        | Op::SetCmp { .. }
        | Op::SetCond { .. } => step_compare(st, ctx, op),
        Op::Clobber { dst } => write(st, *dst, Val::default()),
        Op::NegcBool { dst, src, rm } => step_negc_bool(st, ctx, *dst, *src, *rm),
        Op::Predicated { fl, cond, ops } => step_predicated(st, ctx, *fl, *cond, ops),
        Op::FlagsClobber => st.flags.clear(),
        Op::Branch { .. }
        | Op::BranchCmp { .. }
        | Op::Jump { .. }
        | Op::JumpIndirect
        | Op::Call { .. }
        | Op::TailCall { .. }
        | Op::Ret
        | Op::Trap => {}
    }
}

/// `dst = a + b` or `a - b`: stack addresses and constants are followed, and "product plus
/// a small header" stays the product.
fn step_add(st: &mut State, ctx: &Ctx, dst: Opnd, a: Opnd, b: Opnd, sub: bool) {
    let all = ctx.mask();
    let va = read(st, ctx, a);
    let vb = read(st, ctx, b);
    let mut r = Val::default();
    let (base, k, k_is_b) = match (vb.konst(), va.konst()) {
        (Some(k), _) => (va, Some(k), true),
        (None, Some(k)) if !sub => (vb, Some(k), false),
        _ => (va, None, true),
    };
    if k == Some(0) {
        // x + 0, x - 0 (`subs r0, r0, #0`): the same value
        write(st, dst, base);
        return;
    }
    if let Some(k) = k {
        let sk = if sub {
            (k as i64).wrapping_neg()
        } else {
            k as i64
        };
        let sk = if ctx.word_bits == 32 {
            i64::from((sk as u64 & 0xffff_ffff) as u32 as i32)
        } else {
            sk
        };
        if let Some(s) = base.sp() {
            r = Val::stack(s.wrapping_add(sk));
        } else if let Some(c) = base.konst() {
            r = Val::constant(c.wrapping_add(sk as u64) & all);
        }
        // product + a small header is still "the product" for the allocator; an
        // allocation plus an offset still points into it.
        if sk.unsigned_abs() < 0x1_0000 && k_is_b | !sub {
            r.may = base.may & (P | RET);
            r.must = base.must & (P | RET);
        }
    } else if !sub {
        // pointer + index: still inside the allocation (`q = p + i`)
        r.may = (va.may | vb.may) & RET;
    }
    write(st, dst, r);
}

/// `dst = a | b`: constants fold; `nmemb | size` is the fast-path test's operand (NORS).
fn step_or(st: &mut State, ctx: &Ctx, dst: Opnd, a: Opnd, b: Opnd) {
    let all = ctx.mask();
    let va = read(st, ctx, a);
    let vb = read(st, ctx, b);
    let r = if va.konst() == Some(all) || vb.konst() == Some(all) {
        Val::constant(all)
    } else if va.konst() == Some(0) {
        vb
    } else if vb.konst() == Some(0) {
        va
    } else if let (Some(x), Some(y)) = (va.konst(), vb.konst()) {
        Val::constant(x | y)
    } else {
        match (factor(&va), factor(&vb)) {
            (Some(x), Some(y)) if x != y => Val::tagged(NORS),
            _ => Val::default(),
        }
    };
    write(st, dst, r);
}

/// `dst = a & b`: constants fold; `(nmemb | size) & high half` is the fast-path test (FAST).
fn step_and(st: &mut State, ctx: &Ctx, dst: Opnd, a: Opnd, b: Opnd) {
    let all = ctx.mask();
    let va = read(st, ctx, a);
    let vb = read(st, ctx, b);
    let hm = ctx.high_mask();
    let r = match (va.konst(), vb.konst()) {
        (Some(x), Some(y)) => Val::constant(x & y),
        (_, Some(m)) if m == all => va,
        (Some(m), _) if m == all => vb,
        (_, Some(m)) if va.exactly(NORS) && m & hm == hm => Val::tagged(FAST),
        // 0/1 booleans survive `and r, 1`
        (_, Some(m)) if m & 1 == 1 && (va.exactly(SAFE_Z) || va.exactly(SAFE_NZ)) => va,
        (Some(m), _) if m & 1 == 1 && (vb.exactly(SAFE_Z) || vb.exactly(SAFE_NZ)) => vb,
        (Some(m), _) if vb.exactly(NORS) && m & hm == hm => Val::tagged(FAST),
        _ => Val::default(),
    };
    write(st, dst, r);
}

/// `dst = a >> amount` (logical): `(nmemb | size) >> half` is the fast-path test (FAST).
fn step_shr(st: &mut State, ctx: &Ctx, dst: Opnd, a: Opnd, amount: u32) {
    let va = read(st, ctx, a);
    let r = if amount == 0 {
        va
    } else if let Some(k) = va.konst() {
        Val::constant(k.checked_shr(amount).unwrap_or(0))
    } else if va.exactly(NORS) && amount >= ctx.half() && amount < ctx.word_bits {
        Val::tagged(FAST)
    } else {
        Val::default()
    };
    write(st, dst, r);
}

/// `(lo, hi) = a * b`: nmemb times size is the product (P), its unsigned high half HI, and
/// the flags of a multiply that sets them say whether it overflowed.
fn step_mul(
    st: &mut State,
    ctx: &Ctx,
    (lo, hi): (Option<Opnd>, Option<Opnd>),
    (a, b): (Opnd, Opnd),
    hi_unsigned: bool,
    flags_ovf: bool,
) {
    let va = read(st, ctx, a);
    let vb = read(st, ctx, b);
    if va.konst() == Some(0) || vb.konst() == Some(0) {
        // A known-zero factor: both halves are 0. gcc -O0 forms a double-width
        // product through the generic wide multiply, whose cross terms multiply
        // the zero high halves of the operands; folding them lets the high word
        // keep the HI of the one real widening multiply.
        for dst in [lo, hi].into_iter().flatten() {
            write(st, dst, Val::constant(0));
        }
        if flags_ovf {
            st.flags.clear();
        }
        return;
    }
    let may = (va.may & N != 0 && vb.may & S != 0) || (va.may & S != 0 && vb.may & N != 0);
    let must = matches!((factor(&va), factor(&vb)), (Some(x), Some(y)) if x != y);
    let tag = |t: Tags| Val {
        may: if may { t } else { 0 },
        must: if must { t } else { 0 },
        ..Val::default()
    };
    if let Some(h) = hi {
        write(st, h, if hi_unsigned { tag(HI) } else { Val::default() });
    }
    if let Some(l) = lo {
        write(st, l, tag(P));
    }
    if flags_ovf {
        st.flags.clear();
        if must {
            st.flags.insert(0, Flags::MulOvf);
        }
    }
}

/// `quot = num / den` (unsigned): the quotients an overflow test compares (see [`div_tag`]).
fn step_div(
    st: &mut State,
    ctx: &Ctx,
    (quot, rem): (Option<Opnd>, Option<Opnd>),
    (num, num_hi): (Opnd, Option<Opnd>),
    den: Opnd,
) {
    let vn = read(st, ctx, num);
    let vh = num_hi.map(|h| read(st, ctx, h));
    let vd = read(st, ctx, den);
    let q = div_tag(ctx, &vn, vh.as_ref(), &vd);
    if let Some(r) = rem {
        write(st, r, Val::default());
    }
    if let Some(qd) = quot {
        write(st, qd, q.map(Val::tagged).unwrap_or_default());
    }
}

/// Comparisons: into a flag set (`Cmp`, `Ccmp`, `CmpSigned`, `Test`) or into a 0/1
/// register (`SetCmp`, `SetCond`).
fn step_compare(st: &mut State, ctx: &Ctx, op: &Op) {
    match op {
        Op::Cmp { fl, a, b } => {
            let f = Flags::Cmp(read(st, ctx, *a), read(st, ctx, *b));
            st.flags.insert(*fl, f);
        }
        Op::Ccmp { a, b, nzcv, cond } => {
            let pre = safe_outcome(ctx, &st.flags(0), *cond).map(|x| x.0);
            let f = Flags::Ccmp {
                a: read(st, ctx, *a),
                b: read(st, ctx, *b),
                alt: Alt::Nzcv(*nzcv),
                pre_safe_false: pre == Some(false),
            };
            st.flags.insert(0, f);
        }
        Op::CmpSigned { fl, a, b } => {
            let f = Flags::CmpSigned(read(st, ctx, *a), read(st, ctx, *b));
            st.flags.insert(*fl, f);
        }
        Op::Test { fl, a, b } => {
            let f = Flags::Test(read(st, ctx, *a), read(st, ctx, *b));
            st.flags.insert(*fl, f);
        }
        Op::SetCmp { dst, cond, a, b } => {
            let f = Flags::Cmp(read(st, ctx, *a), read(st, ctx, *b));
            write(st, *dst, bool_val(ctx, &f, *cond));
        }
        Op::SetCond { dst, fl, cond } => {
            let f = st.flags(*fl);
            write(st, *dst, bool_val(ctx, &f, *cond));
        }
        _ => {}
    }
}

/// SH `negc rm, rn` with `rm` = -1: negates a 0/1 boolean (the T bit).
fn step_negc_bool(st: &mut State, ctx: &Ctx, dst: Opnd, src: Opnd, rm: Opnd) {
    let (v, m) = (read(st, ctx, src), read(st, ctx, rm));
    let r = if m.konst() != Some(ctx.mask()) {
        Val::default()
    } else if v.exactly(SAFE_NZ) {
        Val::tagged(SAFE_Z)
    } else if v.exactly(SAFE_Z) {
        Val::tagged(SAFE_NZ)
    } else if let Some(k @ 0..=1) = v.konst() {
        Val::constant(1 - k)
    } else {
        Val::default()
    };
    write(st, dst, r);
}

/// Ops executed only where `cond` holds on flag set `fl` (ARM conditional execution, IT
/// blocks): every location written gets the join of old and new value, save the booleans.
fn step_predicated(st: &mut State, ctx: &Ctx, fl: u8, cond: Cond, ops: &[Op]) {
    if let [Op::Cmp { fl: f2, a, b }] = ops {
        if *f2 == fl {
            // ARM `cmp<c> a, b`: compares only where `c` holds
            let pre = safe_outcome(ctx, &st.flags(fl), cond).map(|x| x.0);
            let f = Flags::Ccmp {
                a: read(st, ctx, *a),
                b: read(st, ctx, *b),
                alt: Alt::NotCond(cond),
                pre_safe_false: pre == Some(false),
            };
            st.flags.insert(fl, f);
            return;
        }
    }
    let flags_before = st.flags(fl);
    let mut t = st.clone();
    for o in ops {
        step(&mut t, ctx, o);
    }
    let keys: Vec<Loc> = st.vals.keys().chain(t.vals.keys()).copied().collect();
    for k in keys {
        let (old, new) = (st.get(k), t.get(k));
        if old == new {
            continue;
        }
        let cond_safe = safe_outcome(ctx, &flags_before, cond).map(|x| x.0) == Some(true);
        let v = match (old.konst(), new.konst()) {
            (Some(0), Some(1)) => bool_val(ctx, &flags_before, cond),
            (Some(1), Some(0)) => bool_val(ctx, &flags_before, cond.negate()),
            // An "overflow" boolean stays one when the write cannot create a false
            // "safe" reading: a non-zero into SAFE_Z, or a zero written only when the
            // condition itself proves no overflow.
            (_, Some(k)) if old.exactly(SAFE_Z) && (k != 0 || cond_safe) => old,
            // `cmp x, #0; it ne; movne x, #1`: x keeps its zero / non-zero meaning
            (_, Some(k)) if k != 0 && is_nonzero_test_of(&flags_before, cond, &old) => old,
            (_, Some(k)) if old.exactly(SAFE_NZ) && (k == 0 || cond_safe) => old,
            _ => old.join(&new),
        };
        st.set(k, v);
    }
    if t.flags != st.flags {
        st.flags.clear();
    }
}

/// The quotient tag of an unsigned division, if it is one of the overflow-test quotients.
pub fn div_tag(ctx: &Ctx, num: &Val, num_hi: Option<&Val>, den: &Val) -> Option<Tags> {
    if let Some(h) = num_hi {
        if h.konst() != Some(0) {
            return None;
        }
    }
    let f = factor(den)?;
    if num.konst() == Some(ctx.mask()) {
        Some(if f == N { QMN } else { QMS })
    } else if num.exactly(P) {
        Some(if f == N { QPN } else { QPS })
    } else {
        None
    }
}

fn bool_val(ctx: &Ctx, f: &Flags, cond: Cond) -> Val {
    match safe_outcome(ctx, f, cond) {
        Some((true, _)) => Val::tagged(SAFE_NZ),
        Some((false, _)) => Val::tagged(SAFE_Z),
        None => match factor_bound(ctx, f, cond) {
            Some((side, t)) => Val::bound_bool(t, side),
            None => Val::default(),
        },
    }
}

/// Does this value being zero prove there is no overflow?
fn zero_safe(v: &Val) -> Option<&'static str> {
    for (t, why) in [
        (HI, "high half of the product is zero"),
        (FAST, "both factors fit in half a word"),
        (N, "nmemb is zero"),
        (S, "size is zero"),
        (SAFE_Z, "overflow flag is clear"),
    ] {
        if v.exactly(t) {
            return Some(why);
        }
    }
    None
}

/// Given the flags and a condition, which outcome of the condition proves that nmemb*size
/// did not overflow: `Some((true, why))` = the condition being true, `Some((false, why))` =
/// the condition being false, `None` = neither (or unknown).
pub fn safe_outcome(ctx: &Ctx, f: &Flags, cond: Cond) -> Option<(bool, &'static str)> {
    match *f {
        Flags::Unknown => None,
        Flags::CmpSigned(a, b) => match cond {
            Cond::Eq | Cond::Ne => safe_outcome(ctx, &Flags::Cmp(a, b), cond),
            _ => None,
        },
        Flags::Ccmp {
            a,
            b,
            alt,
            pre_safe_false,
        } => {
            let (side, why) = safe_outcome(ctx, &Flags::Cmp(a, b), cond)?;
            let r = eval_alt(cond, alt)?;
            // paths where the ccmp condition failed see `r`; they must either not take the
            // `side` outcome or be safe already.
            if r != side || pre_safe_false {
                Some((side, why))
            } else {
                None
            }
        }
        Flags::MulOvf => match cond {
            Cond::Ovf | Cond::Ult => Some((false, "overflow flag of the multiply is clear")),
            Cond::NoOvf | Cond::Uge => Some((true, "overflow flag of the multiply is clear")),
            _ => None,
        },
        Flags::Test(a, b) => {
            let all = ctx.mask();
            let x = if a == b || b.konst() == Some(all) {
                a
            } else if a.konst() == Some(all) {
                b
            } else {
                // test (n|s), high-mask
                let hm = ctx.high_mask();
                let (v, m) = match (a.konst(), b.konst()) {
                    (_, Some(m)) => (a, m),
                    (Some(m), _) => (b, m),
                    _ => return None,
                };
                if v.exactly(NORS) && m & hm == hm {
                    Val::tagged(FAST)
                } else {
                    return None;
                }
            };
            zero_test(&x, cond)
        }
        Flags::Cmp(a, b) => {
            if b.konst() == Some(0) {
                return zero_test(&a, cond);
            }
            if a.konst() == Some(0) {
                return zero_test(&b, cond.swap());
            }
            // quotient of the product compared with the other factor: equal ⇔ no overflow
            let qeq = |q: &Val, o: &Val| {
                (q.exactly(QPN) && o.exactly(S)) || (q.exactly(QPS) && o.exactly(N))
            };
            if qeq(&a, &b) || qeq(&b, &a) {
                return match cond {
                    Cond::Eq => Some((true, "product / factor equals the other factor")),
                    Cond::Ne => Some((false, "product / factor equals the other factor")),
                    _ => None,
                };
            }
            // other factor <= SIZE_MAX / factor
            let qm = |q: &Val, o: &Val| {
                (q.exactly(QMN) && o.exactly(S)) || (q.exactly(QMS) && o.exactly(N))
            };
            let rel = if qm(&b, &a) {
                Some(cond)
            } else if qm(&a, &b) {
                Some(cond.swap())
            } else {
                None
            };
            if let Some(c) = rel {
                // c is "factor c quotient"; safe ⇔ factor <= quotient
                let why = "factor is at most SIZE_MAX / other factor";
                return match c {
                    Cond::Ult | Cond::Ule | Cond::Eq => Some((true, why)),
                    Cond::Ugt | Cond::Uge | Cond::Ne => Some((false, why)),
                    _ => None,
                };
            }
            // (n | s) compared with a constant below 2^(w/2)
            let (v, side) = half_word_side(ctx, a, b, cond)?;
            v.exactly(NORS)
                .then_some((side, "both factors fit in half a word"))
        }
    }
}

/// For `a cond b` with one operand a constant: the value compared, and the side of the
/// condition on which that value is below 2^(w/2).
fn half_word_side(ctx: &Ctx, a: Val, b: Val, cond: Cond) -> Option<(Val, bool)> {
    let (v, k, c) = match (a.konst(), b.konst()) {
        (None, Some(k)) => (a, k, cond),
        (Some(k), None) => (b, k, cond.swap()),
        _ => return None,
    };
    let lim = 1u64 << ctx.half();
    let side = match c {
        Cond::Ult if k <= lim => true,
        Cond::Ule | Cond::Eq if k < lim => true,
        Cond::Ugt | Cond::Ne if k < lim => false,
        Cond::Uge if k <= lim => false,
        _ => return None,
    };
    Some((v, side))
}

/// Which side of the condition shows one factor (exactly N or S) below 2^(w/2), unsigned.
pub fn factor_bound(ctx: &Ctx, f: &Flags, cond: Cond) -> Option<(bool, Tags)> {
    let (a, b) = match *f {
        Flags::Cmp(a, b) => (a, b),
        Flags::Test(a, b) if a == b => (a, Val::constant(0)),
        _ => return None,
    };
    // A bound boolean tested against zero.
    let zero_tested = match (a.konst(), b.konst()) {
        (None, Some(0)) => Some((a, cond)),
        (Some(0), None) => Some((b, cond.swap())),
        _ => None,
    };
    if let Some((v, c)) = zero_tested {
        if let Some((t, nonzero_small)) = v.bound_of() {
            let is_zero_when = match c {
                Cond::Eq | Cond::Ule => true,
                Cond::Ne | Cond::Ugt => false,
                _ => return None,
            };
            return Some((is_zero_when != nonzero_small, t));
        }
    }
    let (v, side) = half_word_side(ctx, a, b, cond)?;
    factor(&v).map(|t| (side, t))
}

/// [`safe_outcome`], plus the second of two per-factor bounds: a branch that shows one
/// factor below 2^(w/2) where every path has already shown it for the other (`small`).
pub fn edge_outcome(ctx: &Ctx, small: Tags, f: &Flags, cond: Cond) -> Option<(bool, &'static str)> {
    safe_outcome(ctx, f, cond).or_else(|| {
        let (side, t) = factor_bound(ctx, f, cond)?;
        (small | t == N | S).then_some((side, "each factor fits in half a word"))
    })
}

/// Do the flags and condition say exactly "`x` is non-zero"?
fn is_nonzero_test_of(f: &Flags, cond: Cond, x: &Val) -> bool {
    let same = match *f {
        Flags::Cmp(a, b) => b.konst() == Some(0) && a == *x,
        Flags::Test(a, b) => a == b && a == *x,
        _ => false,
    };
    same && matches!(cond, Cond::Ne | Cond::Ugt) && x.konst().is_none() && x.may != 0
}

fn zero_test(x: &Val, cond: Cond) -> Option<(bool, &'static str)> {
    // Signed "<= 0"/"> 0" are not zero tests; unsigned "<= 0" is "== 0".
    let is_zero_when = match cond {
        Cond::Eq | Cond::Ule => true,
        Cond::Ne | Cond::Ugt => false,
        _ => return None,
    };
    if let Some(why) = zero_safe(x) {
        return Some((is_zero_when, why));
    }
    if x.exactly(SAFE_NZ) {
        return Some((!is_zero_when, "no-overflow condition holds"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const C32: Ctx = Ctx { word_bits: 32 };

    #[test]
    fn mul_of_factors_is_product() {
        let mut st = State::default();
        st.set(Loc::Reg(0), Val::tagged(N));
        st.set(Loc::Reg(1), Val::tagged(S));
        step(
            &mut st,
            &C32,
            &Op::Mul {
                lo: Some(Opnd::Reg(2)),
                hi: Some(Opnd::Reg(3)),
                a: Opnd::Reg(0),
                b: Opnd::Reg(1),
                hi_unsigned: true,
                flags_ovf: false,
            },
        );
        assert!(st.get(Loc::Reg(2)).exactly(P));
        assert!(st.get(Loc::Reg(3)).exactly(HI));
        let f = Flags::Cmp(st.get(Loc::Reg(3)), Val::constant(0));
        assert_eq!(safe_outcome(&C32, &f, Cond::Ne).map(|x| x.0), Some(false));
        assert_eq!(safe_outcome(&C32, &f, Cond::Eq).map(|x| x.0), Some(true));
    }

    /// gcc -O0's wide multiply: hi(n)*s + n*hi(s) + high half of n*s, with hi(n) = hi(s) = 0.
    #[test]
    fn known_zero_cross_terms_fold_into_the_high_half() {
        let mul = |lo, hi, a, b| Op::Mul {
            lo,
            hi,
            a,
            b,
            hi_unsigned: true,
            flags_ovf: false,
        };
        let r = Opnd::Reg;
        // dst = a + b
        let add = |st: &mut State, dst: u16, a: u16, b: u16| {
            let (dst, a, b) = (r(dst), r(a), r(b));
            step(
                st,
                &C32,
                &Op::Add {
                    dst,
                    a,
                    b,
                    sub: false,
                },
            );
        };
        let mut st = State::default();
        st.set(Loc::Reg(0), Val::tagged(N));
        st.set(Loc::Reg(1), Val::tagged(S));
        st.set(Loc::Reg(2), Val::constant(0)); // high half of n
        st.set(Loc::Reg(3), Val::constant(0)); // high half of s
        step(&mut st, &C32, &mul(Some(r(4)), None, r(2), r(1)));
        step(&mut st, &C32, &mul(Some(r(5)), None, r(0), r(3)));
        assert_eq!(st.get(Loc::Reg(4)).konst(), Some(0));
        add(&mut st, 4, 4, 5);
        step(&mut st, &C32, &mul(Some(r(6)), Some(r(7)), r(0), r(1)));
        add(&mut st, 7, 4, 7);
        assert!(st.get(Loc::Reg(7)).exactly(HI));
        assert!(st.get(Loc::Reg(6)).exactly(P));
        // A high half that is not known to be zero proves nothing.
        st.set(Loc::Reg(2), Val::default());
        step(&mut st, &C32, &mul(Some(r(4)), None, r(2), r(1)));
        add(&mut st, 7, 4, 7);
        assert_eq!(st.get(Loc::Reg(7)), Val::default());
    }

    #[test]
    fn sizemax_division_compare_sides() {
        let q = Val::tagged(QMN);
        let s = Val::tagged(S);
        // cmp s, q ; ja overflow  → the not-taken side is safe
        let f = Flags::Cmp(s, q);
        assert_eq!(safe_outcome(&C32, &f, Cond::Ugt).map(|x| x.0), Some(false));
        // cmp q, s ; jb overflow  (q < s) → not-taken safe
        let f = Flags::Cmp(q, s);
        assert_eq!(safe_outcome(&C32, &f, Cond::Ult).map(|x| x.0), Some(false));
        // signed compare: no claim, in either operand order
        assert_eq!(safe_outcome(&C32, &f, Cond::Slt), None);
        assert_eq!(safe_outcome(&C32, &Flags::Cmp(s, q), Cond::Slt), None);
        assert_eq!(safe_outcome(&C32, &Flags::Cmp(s, q), Cond::Sle), None);
        // SIZE_MAX / n bounds s, not n: `n > SIZE_MAX / n` (or a value that only may be
        // a factor) proves nothing about n * s
        for wrong in [Val::tagged(N), Val::tagged(N).join(&Val::tagged(S))] {
            assert_eq!(safe_outcome(&C32, &Flags::Cmp(wrong, q), Cond::Ugt), None);
            assert_eq!(safe_outcome(&C32, &Flags::Cmp(q, wrong), Cond::Ult), None);
        }
    }

    #[test]
    fn one_factor_below_half_word_proves_nothing_both_do() {
        let lim = 1u64 << 16;
        // n < 0x100: a bound on nmemb, no safe side by itself
        let f = Flags::Cmp(Val::tagged(N), Val::constant(0x100));
        assert_eq!(safe_outcome(&C32, &f, Cond::Ult), None);
        assert_eq!(edge_outcome(&C32, 0, &f, Cond::Ult), None);
        assert_eq!(factor_bound(&C32, &f, Cond::Ult), Some((true, N)));
        // s <= 0xffff where every path has shown n small: that side is safe
        let f = Flags::Cmp(Val::tagged(S), Val::constant(lim - 1));
        assert_eq!(
            edge_outcome(&C32, N, &f, Cond::Ule).map(|x| x.0),
            Some(true)
        );
        assert_eq!(edge_outcome(&C32, S, &f, Cond::Ule), None);
        // 0xffff < s (operands swapped): the false side is the small one
        let f = Flags::Cmp(Val::constant(lim - 1), Val::tagged(S));
        assert_eq!(
            edge_outcome(&C32, N, &f, Cond::Ult).map(|x| x.0),
            Some(false)
        );
        // one too high, signed, or a value that is not exactly a factor: nothing
        let f = Flags::Cmp(Val::tagged(S), Val::constant(lim));
        assert_eq!(edge_outcome(&C32, N, &f, Cond::Ule), None);
        assert_eq!(factor_bound(&C32, &f, Cond::Ult), Some((true, S)));
        assert_eq!(factor_bound(&C32, &f, Cond::Slt), None);
        let f = Flags::Cmp(Val::tagged(S | P), Val::constant(0x100));
        assert_eq!(factor_bound(&C32, &f, Cond::Ult), None);
    }

    #[test]
    fn bound_booleans_carry_the_side() {
        let mut st = State::default();
        st.set(Loc::Reg(0), Val::tagged(N));
        // sltu r1, r0, 0x10000: r1 != 0 exactly when n is small
        let op = Op::SetCmp {
            dst: Opnd::Reg(1),
            cond: Cond::Ult,
            a: Opnd::Reg(0),
            b: Opnd::Imm(0x1_0000),
        };
        step(&mut st, &C32, &op);
        let b = st.get(Loc::Reg(1));
        assert_eq!(b.bound_of(), Some((N, true)));
        let f = Flags::Cmp(b, Val::constant(0));
        assert_eq!(factor_bound(&C32, &f, Cond::Eq), Some((false, N)));
        assert_eq!(factor_bound(&C32, &f, Cond::Ne), Some((true, N)));
        assert_eq!(
            factor_bound(&C32, &Flags::Test(b, b), Cond::Eq),
            Some((false, N))
        );
        // the boolean itself is no overflow test
        assert_eq!(safe_outcome(&C32, &f, Cond::Ne), None);
    }

    #[test]
    fn joins_across_a_test_keep_only_sound_meanings() {
        let z = Val::tagged(SAFE_Z);
        // any value on the safe path joined with an overflow boolean from the other
        assert_eq!(join_across_test(Val::constant(0), z), Some(z));
        assert_eq!(
            join_across_test(Val::tagged(N), Val::tagged(HI)),
            Some(Val::tagged(HI))
        );
        assert_eq!(
            join_across_test(Val::constant(0), Val::constant(1)),
            Some(Val::tagged(SAFE_Z))
        );
        assert_eq!(
            join_across_test(Val::constant(1), Val::constant(0)),
            Some(Val::tagged(SAFE_NZ))
        );
        assert_eq!(join_across_test(Val::constant(1), Val::constant(1)), None);
        assert_eq!(join_across_test(Val::constant(2), Val::constant(0)), None);
        // never the other way round: a 0 from the unchecked path would read as "safe"
        assert_eq!(join_across_test(z, Val::constant(0)), None);
        assert_eq!(join_across_test(Val::constant(0), Val::tagged(N)), None);
        // a value that only may be a high half (the high half on one path, nmemb on
        // another) proves nothing on the other side of the test
        let maybe_hi = Val::tagged(HI).join(&Val::tagged(N));
        assert_eq!(join_across_test(Val::constant(0), maybe_hi), None);
        assert_eq!(
            join_marked((Val::constant(0), Some(true)), (z, Some(false))).0,
            z
        );
        assert_eq!(
            join_marked((z, Some(true)), (Val::constant(0), Some(false)))
                .0
                .may,
            SAFE_Z
        );
        assert!(
            !join_marked((z, Some(true)), (Val::constant(0), Some(false)))
                .0
                .exactly(SAFE_Z)
        );
        assert!(!join_marked((Val::constant(0), None), (z, Some(false)))
            .0
            .exactly(SAFE_Z));
    }

    /// The ARM condition codes on constant flags, as the Architecture Reference Manual
    /// defines them, one row per NZCV value that tells the conditions apart.
    #[test]
    fn conditions_on_constant_flags() {
        use Cond::*;
        let conds = [Eq, Ne, Uge, Ult, Ugt, Ule, Sge, Slt, Sgt, Sle, Ovf, NoOvf];
        // eq ne hs lo hi ls ge lt gt le vs vc
        let rows: [(u8, [u8; 12]); 8] = [
            (0b0000, [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1]),
            (0b0100, [1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1]), // Z
            (0b0010, [0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1]), // C
            (0b0110, [1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1]), // Z C
            (0b1000, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]), // N
            (0b0001, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0]), // V
            (0b1001, [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0]), // N V
            (0b1101, [1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0]), // N Z V
        ];
        for (nzcv, want) in rows {
            for (c, w) in conds.iter().zip(want) {
                assert_eq!(eval_nzcv(*c, nzcv), Some(w == 1), "{c:?} on {nzcv:04b}");
            }
        }
        assert_eq!(eval_nzcv(Cond::Other, 0), None);
        // `cmp<c>`: where it did not compare, `c` is known false and its negation true.
        assert_eq!(eval_alt(Cond::Ne, Alt::NotCond(Cond::Ne)), Some(false));
        assert_eq!(eval_alt(Cond::Eq, Alt::NotCond(Cond::Ne)), Some(true));
        assert_eq!(eval_alt(Cond::Ult, Alt::NotCond(Cond::Ne)), None);
        assert_eq!(eval_alt(Cond::Ne, Alt::Nzcv(0b0100)), Some(false));
    }

    /// `ccmp hi, #0, #nzcv, c; b.eq safe`: the paths that skipped the compare see the
    /// constant flags; the edge is safe only if those paths cannot take it, or were
    /// already safe.
    #[test]
    fn conditional_compare_is_safe_only_where_skipped_paths_are() {
        let ccmp = |nzcv: u8, pre_safe_false: bool| Flags::Ccmp {
            a: Val::tagged(HI),
            b: Val::constant(0),
            alt: Alt::Nzcv(nzcv),
            pre_safe_false,
        };
        // Z clear where skipped: b.eq is not taken there, so its taken side is safe.
        assert_eq!(
            safe_outcome(&C32, &ccmp(0b0000, false), Cond::Eq).map(|x| x.0),
            Some(true)
        );
        // Z set where skipped: those paths take b.eq without any test.
        assert_eq!(safe_outcome(&C32, &ccmp(0b0100, false), Cond::Eq), None);
        // ...unless they skipped it because an earlier test already proved no overflow.
        assert_eq!(
            safe_outcome(&C32, &ccmp(0b0100, true), Cond::Eq).map(|x| x.0),
            Some(true)
        );
        // b.ne: its fall-through side is the safe one. Skipped paths with Z clear take the
        // branch (they never reach the safe side); with Z set they fall through untested.
        assert_eq!(
            safe_outcome(&C32, &ccmp(0b0000, false), Cond::Ne).map(|x| x.0),
            Some(false)
        );
        assert_eq!(safe_outcome(&C32, &ccmp(0b0100, false), Cond::Ne), None);
    }

    #[test]
    fn a_returned_value_keeps_its_tags_but_not_the_callees_stack_address() {
        let mut v = Val::stack(-8);
        v.may = P;
        v.must = P;
        let r = v.without_sp();
        assert_eq!(r.sp(), None);
        assert_eq!(r.konst(), None);
        assert!(r.exactly(P));
        assert_eq!(Val::stack(-8).without_sp(), Val::default());
        assert_eq!(Val::constant(5).without_sp(), Val::constant(5));
    }

    /// Near MAX_LOCS the join goes key by key: what both sides agree on survives.
    #[test]
    fn join_near_the_location_bound_keeps_what_both_sides_agree_on() {
        let mut a = State::default();
        let mut b = State::default();
        a.set(Loc::Reg(0), Val::tagged(N));
        b.set(Loc::Reg(0), Val::tagged(N));
        for i in 0..4000 {
            a.set(Loc::Slot(8 * i), Val::constant(1));
        }
        for i in 0..200 {
            b.set(Loc::Slot(-8 - 8 * i), Val::constant(2));
        }
        assert!(a.vals.len() + b.vals.len() > MAX_LOCS);
        let j = a.join_edges(&b, None);
        assert!(j.get(Loc::Reg(0)).exactly(N));
        assert!(j.vals.len() <= MAX_LOCS);
        // a slot one side does not have is no longer known
        assert_eq!(j.get(Loc::Slot(8)).konst(), None);
    }

    /// `test (n|s), mask` against zero: a fast-path test only when the mask covers the
    /// whole high half, whichever operand the mask is.
    #[test]
    fn test_with_a_high_half_mask() {
        let nors = Val::tagged(NORS);
        for m in [0xffff_0000u64, 0xffff_ff00] {
            for f in [
                Flags::Test(nors, Val::constant(m)),
                Flags::Test(Val::constant(m), nors),
            ] {
                assert_eq!(
                    safe_outcome(&C32, &f, Cond::Eq).map(|x| x.0),
                    Some(true),
                    "{m:x}"
                );
                assert_eq!(safe_outcome(&C32, &f, Cond::Ne).map(|x| x.0), Some(false));
            }
        }
        // a mask that leaves part of the high half out, or a value that is not n|s
        for f in [
            Flags::Test(nors, Val::constant(0x7fff_0000)),
            Flags::Test(nors, Val::constant(0xff)),
            Flags::Test(Val::tagged(N), Val::constant(0xffff_0000)),
            Flags::Test(Val::constant(0xffff_0000), Val::tagged(S)),
        ] {
            assert_eq!(safe_outcome(&C32, &f, Cond::Eq), None, "{f:?}");
        }
        // test x, x and test x, all-ones: x against zero
        let hi = Val::tagged(HI);
        for f in [
            Flags::Test(hi, hi),
            Flags::Test(hi, Val::constant(0xffff_ffff)),
            Flags::Test(Val::constant(0xffff_ffff), hi),
        ] {
            assert_eq!(safe_outcome(&C32, &f, Cond::Eq).map(|x| x.0), Some(true));
        }
    }

    /// Two paths that crossed their last test on the same side join plainly, and keep
    /// that side.
    #[test]
    fn joins_on_the_same_side_are_plain() {
        let (zero, one) = (Val::constant(0), Val::constant(1));
        let j = join_marked((zero, Some(true)), (one, Some(true)));
        assert_eq!(j, (zero.join(&one), Some(true)));
        let j = join_marked((zero, Some(false)), (one, Some(false)));
        assert_eq!(j, (zero.join(&one), Some(false)));
        let j = join_marked((zero, Some(true)), (one, Some(false)));
        assert_eq!(j, (Val::tagged(SAFE_Z), None));
    }

    /// `cmp y, #0; it ne; movne x, #1`: x keeps its meaning only if the compare was of x.
    #[test]
    fn conditional_move_of_one_keeps_a_value_only_when_it_tested_that_value() {
        let movne = |st: &mut State| {
            step(
                st,
                &C32,
                &Op::Predicated {
                    fl: 0,
                    cond: Cond::Ne,
                    ops: vec![Op::Move {
                        dst: Opnd::Reg(0),
                        src: Opnd::Imm(1),
                    }],
                },
            )
        };
        let mut st = State::default();
        st.set(Loc::Reg(0), Val::tagged(HI));
        st.flags
            .insert(0, Flags::Cmp(Val::tagged(HI), Val::constant(0)));
        movne(&mut st);
        assert!(st.get(Loc::Reg(0)).exactly(HI));
        let mut st = State::default();
        st.set(Loc::Reg(0), Val::tagged(HI));
        st.flags
            .insert(0, Flags::Cmp(Val::tagged(N), Val::constant(0)));
        movne(&mut st);
        assert!(!st.get(Loc::Reg(0)).exactly(HI));
    }

    /// Each unsigned condition at the 2^(w/2) boundary, both operand orders.
    #[test]
    fn half_word_boundary_per_condition() {
        let lim = 1u64 << 16;
        let nors = Val::tagged(NORS);
        let side = |c: Cond, k: u64| safe_outcome(&C32, &Flags::Cmp(nors, Val::constant(k)), c);
        let swapped =
            |c: Cond, k: u64| safe_outcome(&C32, &Flags::Cmp(Val::constant(k), nors), c.swap());
        for (c, ok_k, bad_k, ok_side) in [
            (Cond::Ult, lim, lim + 1, true),
            (Cond::Ule, lim - 1, lim, true),
            (Cond::Eq, lim - 1, lim, true),
            (Cond::Ugt, lim - 1, lim, false),
            (Cond::Ne, lim - 1, lim, false),
            (Cond::Uge, lim, lim + 1, false),
        ] {
            assert_eq!(side(c, ok_k).map(|x| x.0), Some(ok_side), "{c:?} {ok_k:#x}");
            assert_eq!(side(c, bad_k), None, "{c:?} {bad_k:#x}");
            assert_eq!(
                swapped(c, ok_k).map(|x| x.0),
                Some(ok_side),
                "{c:?} swapped"
            );
            assert_eq!(swapped(c, bad_k), None, "{c:?} {bad_k:#x} swapped");
        }
        for c in [Cond::Slt, Cond::Sle, Cond::Sgt, Cond::Sge, Cond::Other] {
            assert_eq!(side(c, 0x100), None, "{c:?}");
        }
    }

    /// A bound boolean tested against zero, either operand order; never against anything
    /// else.
    #[test]
    fn bound_booleans_are_read_only_against_zero() {
        let b = Val::bound_bool(S, false); // non-zero when s is not small
        let zero = Val::constant(0);
        assert_eq!(
            factor_bound(&C32, &Flags::Cmp(b, zero), Cond::Eq),
            Some((true, S))
        );
        assert_eq!(
            factor_bound(&C32, &Flags::Cmp(zero, b), Cond::Eq),
            Some((true, S))
        );
        assert_eq!(
            factor_bound(&C32, &Flags::Cmp(zero, b), Cond::Ult),
            Some((false, S))
        );
        assert_eq!(factor_bound(&C32, &Flags::Cmp(b, zero), Cond::Slt), None);
        assert_eq!(
            factor_bound(&C32, &Flags::Test(b, Val::constant(1)), Cond::Eq),
            None
        );
        assert_eq!(
            factor_bound(&C32, &Flags::Cmp(b, Val::constant(1)), Cond::Eq),
            None
        );
    }

    /// `is_nonzero_test_of`: exactly "x != 0" (or unsigned "x > 0") on a compare or test of
    /// that very value, which is neither a constant nor a value without meaning.
    #[test]
    fn nonzero_test_of_a_value() {
        let hi = Val::tagged(HI);
        let zero = Val::constant(0);
        let yes = [
            (Flags::Cmp(hi, zero), Cond::Ne),
            (Flags::Cmp(hi, zero), Cond::Ugt),
            (Flags::Test(hi, hi), Cond::Ne),
        ];
        for (f, c) in yes {
            assert!(is_nonzero_test_of(&f, c, &hi), "{f:?} {c:?}");
        }
        let no = [
            (Flags::Cmp(hi, zero), Cond::Eq, hi),
            (Flags::Cmp(hi, zero), Cond::Sgt, hi),
            (Flags::Cmp(hi, Val::constant(1)), Cond::Ne, hi),
            (Flags::Cmp(Val::tagged(N), zero), Cond::Ne, hi),
            (Flags::Test(hi, Val::tagged(N)), Cond::Ne, hi),
            (Flags::Test(Val::tagged(N), Val::tagged(N)), Cond::Ne, hi),
            (
                Flags::Cmp(Val::constant(3), zero),
                Cond::Ne,
                Val::constant(3),
            ),
            (Flags::Cmp(Val::default(), zero), Cond::Ne, Val::default()),
            (Flags::MulOvf, Cond::Ne, hi),
        ];
        for (f, c, x) in no {
            assert!(!is_nonzero_test_of(&f, c, &x), "{f:?} {c:?} {x:?}");
        }
    }

    #[test]
    fn ambiguous_values_prove_nothing() {
        let v = Val::tagged(HI).join(&Val::default());
        let f = Flags::Cmp(v, Val::constant(0));
        assert_eq!(safe_outcome(&C32, &f, Cond::Eq), None);
    }
}
