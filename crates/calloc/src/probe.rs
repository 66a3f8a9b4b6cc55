//! The behaviour probe of the search for calloc in stripped programs ([`super::locate`]).
//!
//! One candidate function is run through the dataflow of the overflow analysis with nmemb
//! and size as its first two arguments, every callee left opaque. A call that receives
//! their product returns an *allocation* (tag `RET`, with the callee it came from); the
//! probe records what the function does with it: whether it is zero-filled (a memset of
//! the product's length or of the chunk's, or stores of zero through it in a loop), behind
//! a test that it is not null, and whether the function returns it.

use std::collections::{BTreeMap, VecDeque};

use smallvec::SmallVec;

use super::cfg::{self, Cfg};
use super::dataflow::{
    read, step, write, Ctx, Flags, Loc, State, Val, N, NONNULL_B, NULL_B, P, RET, S,
};
use super::ir::{Cond, Insn, Lifter, Op, Opnd, Reg, Target};
use super::{args_at, entry_state, Args, DATAFLOW_VISITS_PER_BLOCK};
use badalloc_elf::ElfFile;

/// Instructions decoded for one probed function. A calloc is tens to a few hundred
/// instructions (glibc's, with its inlined arena code, under 1,000); a candidate that is
/// larger is not probed to its end and cannot match.
pub const MAX_PROBE_INSNS: usize = 4_000;

/// The zero-fill of an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FillKind {
    /// `memset(p, 0, len)`.
    Call,
    /// Stores of zero through the pointer inside a loop.
    Stores,
}

#[derive(Debug, Clone)]
pub(crate) struct Fill {
    pub kind: FillKind,
    /// The length cleared is the product (else a length computed otherwise).
    pub product_length: bool,
    /// The call, or the first store (display address).
    pub site: u64,
    /// The zero-fill function (lifter address), for calls.
    pub target: Option<u64>,
    /// The function whose result is filled (lifter address), where it is called, and the
    /// argument that carries the product.
    pub allocator: u64,
    pub alloc_site: u64,
    pub size_arg: usize,
}

/// What one probed function does with the product of its first two arguments.
#[derive(Debug, Clone, Default)]
pub(crate) struct Probe {
    pub entry: u64,
    /// Instructions decoded (charged to the search's budget).
    pub insns: usize,
    /// Multiplies of nmemb by size (display addresses).
    pub muls: Vec<u64>,
    /// Calls that receive the product, the zero-fill excluded: (site, target, argument).
    pub product_calls: Vec<(u64, Option<u64>, usize)>,
    pub fill: Option<Fill>,
    /// A test that the allocation is not null which every path to the fill crosses.
    pub null_test: Option<u64>,
    /// Every return after the zero-fill gives back the allocation.
    pub returns_allocation: bool,
    /// A path from the null side of that test returns without calling anything.
    pub quiet_null_return: bool,
    /// Where its blocks start (lifter addresses, sorted): the code it reaches by jumps.
    pub blocks: Vec<u64>,
}

/// Successor blocks (positions) with the side of the branch that leads to each.
type Succs = SmallVec<[(usize, Option<bool>); 2]>;

/// Runs one block (by position) on a state, recording what the replay needs.
type RunBlock<'r> = dyn Fn(&mut State, usize, Option<&mut Events>) + 'r;

#[derive(Debug, Clone)]
struct CallEvent {
    site: u64,
    block: usize,
    target: Option<u64>,
    args: Args,
    tail: bool,
}

/// What the replay of the function saw.
#[derive(Default)]
struct Events {
    muls: Vec<u64>,
    calls: Vec<CallEvent>,
    /// Stores of zero through an allocation: (site, block, the pointer).
    zero_stores: Vec<(u64, usize, Val)>,
    /// Tests of an allocation against null: (block, outcome of the branch condition that
    /// means "not null", branch address, the value tested).
    null_tests: Vec<(usize, bool, u64, Val)>,
    rets: Vec<Val>,
    ret_blocks: Vec<usize>,
    /// Returns taken when an allocation is null (ARM conditional returns): (block, address,
    /// the value tested).
    null_returns: Vec<(usize, u64, Val)>,
}

/// Probe the function at `entry` (lifter address). `external(t)` says whether a direct jump
/// target starts another function.
pub(crate) fn probe(
    elf: &ElfFile<'_>,
    lifter: &dyn Lifter,
    entry: u64,
    external: &dyn Fn(u64) -> bool,
) -> Probe {
    let ctx = Ctx {
        word_bits: lifter.word_bits(),
    };
    let cfg = cfg::build_with_limit(lifter, entry, external, MAX_PROBE_INSNS);
    let mut pr = Probe {
        entry,
        insns: cfg.block_insn_count(),
        ..Probe::default()
    };
    if cfg.truncated.is_some() {
        return pr;
    }
    let Some(entry_block) = cfg.block_index(entry) else {
        return pr;
    };
    pr.blocks = cfg.blocks.iter().map(|b| b.start).collect();
    pr.blocks.sort_unstable();
    let start = entry_state(lifter, entry, &[Val::tagged(N), Val::tagged(S)]);
    let run = |st: &mut State, b: usize, rec: Option<&mut Events>| {
        if let Some(block) = cfg.blocks.get(b) {
            run_block(elf, lifter, &ctx, st, cfg.insns(block), b, rec);
        }
    };
    let Some(ins) = fixpoint(&cfg, &ctx, entry_block, &start, &run) else {
        return pr;
    };
    let mut ev = Events::default();
    for (bi, st) in ins.into_iter().enumerate() {
        let Some(mut st) = st else { continue };
        run(&mut st, bi, Some(&mut ev));
    }
    decide(&cfg, entry_block, ev, &mut pr);
    pr
}

/// In-states of every block (None: unreachable), or None if the dataflow did not settle.
fn fixpoint(
    cfg: &Cfg,
    ctx: &Ctx,
    entry_block: usize,
    start: &State,
    run: &RunBlock,
) -> Option<Vec<Option<State>>> {
    let n = cfg.blocks.len();
    let ctx = *ctx;
    let succs = successors(cfg);
    let mut preds: Vec<SmallVec<[usize; 2]>> = vec![SmallVec::new(); n];
    for (b, ss) in succs.iter().enumerate() {
        for &(s, _) in ss {
            if let Some(p) = preds.get_mut(s).filter(|p| !p.contains(&b)) {
                p.push(b);
            }
        }
    }
    let mut outs: Vec<Option<State>> = vec![None; n];
    let in_of = |b: usize, outs: &[Option<State>]| -> Option<State> {
        let mut acc = (b == entry_block).then(|| start.clone());
        for &p in preds.get(b).map(|v| v.as_slice()).unwrap_or(&[]) {
            let Some(o) = outs.get(p).and_then(Option::as_ref) else {
                continue;
            };
            // Each edge from p to b (both sides of a branch may lead here).
            for &(_, side) in succs.get(p).into_iter().flatten().filter(|(s, _)| *s == b) {
                let o = refined(cfg, &ctx, p, o, side);
                acc = Some(match acc {
                    None => o.into_owned(),
                    Some(a) => a.join_edges(&o, None),
                });
            }
        }
        acc
    };
    let cap = n
        .saturating_mul(DATAFLOW_VISITS_PER_BLOCK)
        .saturating_add(64);
    let mut work = VecDeque::from([entry_block]);
    let mut queued = vec![false; n];
    let mut visits = 0usize;
    while let Some(b) = work.pop_front() {
        if let Some(q) = queued.get_mut(b) {
            *q = false;
        }
        visits += 1;
        if visits > cap {
            return None;
        }
        let Some(mut st) = in_of(b, &outs) else {
            continue;
        };
        run(&mut st, b, None);
        let Some(out) = outs.get_mut(b) else { continue };
        if out.as_ref() != Some(&st) {
            *out = Some(st);
            for &(s, _) in succs.get(b).map(|v| v.as_slice()).unwrap_or(&[]) {
                if let Some(q @ false) = queued.get_mut(s) {
                    *q = true;
                    work.push_back(s);
                }
            }
        }
    }
    Some((0..n).map(|b| in_of(b, &outs)).collect())
}

/// The out-state of block `b` on its edge `side`: where the block ends with a test of a
/// value against zero, every location holding that value is zero on the side where the
/// test says so (`umull r6, r5, ...; cmp r5, #0; bne fail` leaves r5 = 0 for a later
/// `memset(p, r5, r6)`). Only values with a known meaning are followed: two unknown
/// values look alike without being the same.
fn refined<'s>(
    cfg: &Cfg,
    ctx: &Ctx,
    b: usize,
    out: &'s State,
    side: Option<bool>,
) -> std::borrow::Cow<'s, State> {
    use std::borrow::Cow;
    let Some(side) = side else {
        return Cow::Borrowed(out);
    };
    let Some(last) = cfg.blocks.get(b).and_then(|blk| cfg.insns(blk).last()) else {
        return Cow::Borrowed(out);
    };
    let test = last.ops.iter().rev().find_map(|op| match op {
        Op::Branch { fl, cond, .. } => Some((out.flags(*fl), *cond)),
        Op::BranchCmp { cond, a, b, .. } => {
            Some((Flags::Cmp(read(out, ctx, *a), read(out, ctx, *b)), *cond))
        }
        _ => None,
    });
    let Some((f, cond)) = test else {
        return Cow::Borrowed(out);
    };
    let (x, cond) = match f {
        Flags::Cmp(a, b) | Flags::CmpSigned(a, b) if b.konst() == Some(0) => (a, cond),
        Flags::Cmp(a, b) | Flags::CmpSigned(a, b) if a.konst() == Some(0) => (b, cond.swap()),
        Flags::Test(a, b) if a == b => (a, cond),
        _ => return Cow::Borrowed(out),
    };
    let zero_when = match cond {
        Cond::Eq | Cond::Ule => true,
        Cond::Ne | Cond::Ugt => false,
        _ => return Cow::Borrowed(out),
    };
    if side != zero_when || x.must == 0 || x.konst().is_some() {
        return Cow::Borrowed(out);
    }
    let mut st = out.clone();
    let locs: Vec<Loc> = st
        .vals
        .keys()
        .copied()
        .filter(|l| st.get(*l) == x)
        .collect();
    for l in locs {
        st.set(l, Val::constant(0));
    }
    Cow::Owned(st)
}

/// Successor positions with the side of the branch (edges to undecoded blocks dropped).
fn successors(cfg: &Cfg) -> Vec<Succs> {
    cfg.blocks
        .iter()
        .map(|blk| {
            blk.succs
                .iter()
                .filter_map(|(s, side)| cfg.block_index(*s).map(|i| (i, *side)))
                .collect()
        })
        .collect()
}

/// The code address a call goes to, where the state or the file tells.
fn target_of(elf: &ElfFile<'_>, ctx: &Ctx, t: Target, st: &State) -> Option<u64> {
    match t {
        Target::Direct(a) => Some(a),
        Target::Slot(s) => elf.read_word(s),
        Target::Reg(r) => {
            let v = st.get(Loc::Reg(r));
            v.konst()
                .or_else(|| v.loaded_from().and_then(|s| elf.read_word(s)))
        }
        Target::RegOffset(r, base) => st
            .get(Loc::Reg(r))
            .konst()
            .map(|k| k.wrapping_add(base) & ctx.mask()),
        Target::Indirect => None,
    }
    .filter(|&a| a != 0)
}

/// Which outcome of `cond` on `flags` means "the allocation is not null", and the value
/// tested.
fn nonnull_outcome(f: &Flags, cond: Cond) -> Option<(bool, Val)> {
    let (x, cond) = match *f {
        Flags::Cmp(a, b) | Flags::CmpSigned(a, b) if b.konst() == Some(0) => (a, cond),
        Flags::Cmp(a, b) | Flags::CmpSigned(a, b) if a.konst() == Some(0) => (b, cond.swap()),
        Flags::Test(a, b) if a == b => (a, cond),
        _ => return None,
    };
    // "x == 0" is the outcome `is_zero` of the condition.
    let is_zero = match cond {
        Cond::Eq | Cond::Ule => true,
        Cond::Ne | Cond::Ugt => false,
        _ => return None,
    };
    if x.may & RET != 0 && x.konst().is_none() {
        Some((!is_zero, x))
    } else if x.exactly(NULL_B) {
        Some((is_zero, x))
    } else if x.exactly(NONNULL_B) {
        Some((!is_zero, x))
    } else {
        None
    }
}

/// The boolean a set-on-condition leaves when it tests an allocation against null.
fn null_bool(f: &Flags, cond: Cond) -> Option<Val> {
    nonnull_outcome(f, cond).map(|(nonnull_when_true, _)| {
        Val::tagged(if nonnull_when_true { NONNULL_B } else { NULL_B })
    })
}

/// The ops of an instruction executed under one condition (ARM conditional execution).
fn predicated(insn: &Insn) -> Option<(u8, Cond, &[Op])> {
    match insn.ops.as_slice() {
        [Op::Predicated { fl, cond, ops }] => Some((*fl, *cond, ops.as_slice())),
        _ => None,
    }
}

/// Run a block's instructions. ARM code clears a path with conditional execution
/// (`cmp r0, #0; movne r3, r0; movne r2, #0; popeq {r4, pc}`): the instructions under
/// one condition are joined with what they overwrite, but once a return under the opposite
/// condition has been passed they ran for sure, and are run again unconditionally from the
/// state before them.
fn run_block<'i>(
    elf: &ElfFile<'_>,
    lifter: &dyn Lifter,
    ctx: &Ctx,
    st: &mut State,
    insns: impl Iterator<Item = &'i Insn>,
    block: usize,
    mut rec: Option<&mut Events>,
) {
    // (flags, condition, state before the first of them, the instructions)
    let mut pending: Option<(u8, Cond, State, Vec<&Insn>)> = None;
    for insn in insns {
        match predicated(insn) {
            Some((fl, cond, [Op::Ret])) => {
                if let Some((pfl, pc, before, list)) = pending.take() {
                    if pfl == fl && pc == cond.negate() {
                        *st = before;
                        for i in list {
                            let plain = Insn {
                                addr: i.addr,
                                len: i.len,
                                text: String::new(),
                                ops: predicated(i)
                                    .map(|p| p.2.iter().cloned().collect())
                                    .unwrap_or_default(),
                            };
                            run_insn(
                                elf,
                                lifter,
                                ctx,
                                st,
                                &plain,
                                rec.as_deref_mut().map(|e| (e, block)),
                            );
                        }
                    }
                }
            }
            Some((fl, cond, _)) => match pending.as_mut() {
                Some(p) if p.0 == fl && p.1 == cond => p.3.push(insn),
                _ => pending = Some((fl, cond, st.clone(), vec![insn])),
            },
            // Instructions without ops (Thumb `it`) do not end the run.
            None if insn.ops.is_empty() => {}
            None => pending = None,
        }
        run_insn(
            elf,
            lifter,
            ctx,
            st,
            insn,
            rec.as_deref_mut().map(|e| (e, block)),
        );
    }
}

fn run_insn(
    elf: &ElfFile<'_>,
    lifter: &dyn Lifter,
    ctx: &Ctx,
    st: &mut State,
    insn: &Insn,
    mut rec: Option<(&mut Events, usize)>,
) {
    let site = lifter.display_addr(insn.addr);
    for op in &insn.ops {
        match op {
            Op::Call { target } | Op::TailCall { target } => {
                let tail = matches!(op, Op::TailCall { .. });
                let args = args_at(lifter, st, tail);
                let target = target_of(elf, ctx, *target, st);
                let gets_p = args.iter().any(|a| a.may & P != 0);
                if let Some((ev, block)) = rec.as_mut() {
                    ev.calls.push(CallEvent {
                        site,
                        block: *block,
                        target,
                        args,
                        tail,
                    });
                }
                // A call changes the registers the ABI lets it change, except that an
                // allocation stays where it was: compilers that see the callee (same unit,
                // LTO) keep values in such registers across it.
                let kept: Vec<Reg> = lifter
                    .caller_saved()
                    .iter()
                    .copied()
                    .filter(|&r| st.get(Loc::Reg(r)).may & RET != 0)
                    .collect();
                let clobbered: Vec<Reg> = lifter
                    .caller_saved()
                    .iter()
                    .copied()
                    .filter(|r| !kept.contains(r))
                    .collect();
                st.forget_regs(&clobbered);
                let ret = if gets_p {
                    let mut v = Val::returned(target.unwrap_or(0));
                    v.may = RET;
                    v.must = RET;
                    v
                } else {
                    Val::default()
                };
                st.set(Loc::Reg(lifter.ret_reg()), ret);
                st.flags.clear();
                continue;
            }
            Op::Move {
                dst: Opnd::Mem { base, .. },
                src,
            } => {
                let ptr = st.get(Loc::Reg(*base));
                if let Some((ev, block)) = rec.as_mut() {
                    if ptr.may & RET != 0 && read(st, ctx, *src).konst() == Some(0) {
                        ev.zero_stores.push((site, *block, ptr));
                    }
                }
            }
            Op::Branch { fl, cond, .. } => {
                if let Some((ev, block)) = rec.as_mut() {
                    if let Some((o, v)) = nonnull_outcome(&st.flags(*fl), *cond) {
                        ev.null_tests.push((*block, o, site, v));
                    }
                }
            }
            Op::BranchCmp { cond, a, b, .. } => {
                if let Some((ev, block)) = rec.as_mut() {
                    let f = Flags::Cmp(read(st, ctx, *a), read(st, ctx, *b));
                    if let Some((o, v)) = nonnull_outcome(&f, *cond) {
                        ev.null_tests.push((*block, o, site, v));
                    }
                }
            }
            Op::SetCmp { dst, cond, a, b } => {
                let f = Flags::Cmp(read(st, ctx, *a), read(st, ctx, *b));
                if let Some(v) = null_bool(&f, *cond) {
                    write(st, *dst, v);
                    continue;
                }
            }
            Op::SetCond { dst, fl, cond } => {
                if let Some(v) = null_bool(&st.flags(*fl), *cond) {
                    write(st, *dst, v);
                    continue;
                }
            }
            Op::Predicated { fl, cond, ops } if matches!(ops.as_slice(), [Op::Ret]) => {
                if let Some((ev, block)) = rec.as_mut() {
                    if let Some((false, v)) = nonnull_outcome(&st.flags(*fl), *cond) {
                        ev.null_returns.push((*block, site, v));
                    }
                    ev.rets.push(st.get(Loc::Reg(lifter.ret_reg())));
                    ev.ret_blocks.push(*block);
                }
            }
            Op::Ret => {
                if let Some((ev, block)) = rec.as_mut() {
                    ev.rets.push(st.get(Loc::Reg(lifter.ret_reg())));
                    ev.ret_blocks.push(*block);
                }
            }
            _ => {}
        }
        step(st, ctx, op);
        if let (Op::Mul { lo: Some(lo), .. }, Some((ev, _))) = (op, rec.as_mut()) {
            if read(st, ctx, *lo).may & P != 0 && !ev.muls.contains(&site) {
                ev.muls.push(site);
            }
        }
    }
}

/// The allocator whose result `ptr` is: the callee it was returned by; else, among the
/// callees that received the product (other than `except`), those whose result is not
/// handed to another of them (glibc's `arena_get2` returns the arena `_int_malloc` takes),
/// the one called most often with it, if one is.
fn allocator_of(
    ptr: &Val,
    product: &[&CallEvent],
    except: Option<u64>,
) -> Option<(u64, u64, usize)> {
    let arg_of = |c: &CallEvent| c.args.iter().position(|a| a.may & P != 0).unwrap_or(0);
    let from = |t: u64| {
        product
            .iter()
            .find(|c| c.target == Some(t))
            .map(|c| (t, c.site, arg_of(c)))
    };
    if let Some(t) = ptr.returned_by().filter(|&t| t != 0) {
        return from(t);
    }
    let providers: Vec<u64> = product
        .iter()
        .flat_map(|c| c.args.iter().filter_map(Val::returned_by))
        .collect();
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for t in product.iter().filter_map(|c| c.target) {
        if Some(t) != except && !providers.contains(&t) {
            *counts.entry(t).or_default() += 1;
        }
    }
    let most = counts.values().copied().max()?;
    let mut top = counts.iter().filter(|(_, n)| **n == most);
    match (top.next(), top.next()) {
        (Some((t, _)), None) => from(*t),
        _ => None,
    }
}

/// Is this call `memset(p, 0, len)` on an allocation, and is `len` the product? A length
/// that is not the product but not a constant either is taken too (newlib clears the
/// chunk the allocator handed out, whose size it reads from the chunk); a constant one is
/// the clearing of a header, not of the allocation. (`bzero(p, n*s)` is not taken: an
/// allocator called as `(arena, n*s)` looks the same.)
fn fill_call(c: &CallEvent) -> Option<bool> {
    let arg = |i: usize| c.args.get(i).copied().unwrap_or_default();
    let (len, zero) = (arg(2), arg(1).konst() == Some(0));
    if arg(0).may & RET == 0 || !zero {
        return None;
    }
    if len.may & P != 0 {
        Some(true)
    } else {
        len.konst().is_none().then_some(false)
    }
}

fn decide(cfg: &Cfg, entry_block: usize, ev: Events, pr: &mut Probe) {
    let succs = successors(cfg);
    let (fill, product) = find_fill(&ev, &succs);
    pr.product_calls = product
        .iter()
        .map(|c| {
            let arg = c.args.iter().position(|a| a.may & P != 0);
            (c.site, c.target, arg.unwrap_or(0))
        })
        .collect();
    if let Some((fill, fill_block)) = fill {
        let (null_test, quiet) = null_guard(&ev, &succs, entry_block, &fill, fill_block);
        pr.null_test = null_test;
        pr.quiet_null_return = quiet;
        pr.returns_allocation = gives_allocation_back(&ev, &succs, &fill, fill_block);
        pr.fill = Some(fill);
    }
    pr.muls = ev.muls;
}

/// The zero-fill of an allocation whose allocator is known, and the block it is in (a
/// memset of the product's length first, then of another length, then a clearing loop),
/// with the calls that receive the product, the fill excluded.
fn find_fill<'e>(ev: &'e Events, succs: &[Succs]) -> (Option<(Fill, usize)>, Vec<&'e CallEvent>) {
    let all_product = |except: Option<u64>| -> Vec<&CallEvent> {
        ev.calls
            .iter()
            .filter(|c| c.args.iter().any(|a| a.may & P != 0))
            .filter(|c| except.is_none() || c.target != except)
            .collect()
    };
    let exact = ev.calls.iter().filter(|c| fill_call(c) == Some(true));
    let other = ev.calls.iter().filter(|c| fill_call(c) == Some(false));
    for c in exact.chain(other) {
        let ptr = c.args.first().copied().unwrap_or_default();
        let product = all_product(c.target);
        if let Some((allocator, alloc_site, size_arg)) = allocator_of(&ptr, &product, c.target) {
            let fill = Fill {
                kind: FillKind::Call,
                product_length: fill_call(c) == Some(true),
                site: c.site,
                target: c.target,
                allocator,
                alloc_site,
                size_arg,
            };
            return (Some((fill, c.block)), product);
        }
    }
    let product = all_product(None);
    for (site, block, ptr) in &ev.zero_stores {
        if !in_cycle(succs, *block) {
            continue;
        }
        if let Some((allocator, alloc_site, size_arg)) = allocator_of(ptr, &product, None) {
            let fill = Fill {
                kind: FillKind::Stores,
                product_length: false,
                site: *site,
                target: None,
                allocator,
                alloc_site,
                size_arg,
            };
            return (Some((fill, *block)), product);
        }
    }
    (None, product)
}

/// A test that the allocation is not null which every path to the fill crosses (its
/// address), and whether a path from its null side returns without calling anything.
fn null_guard(
    ev: &Events,
    succs: &[Succs],
    entry_block: usize,
    fill: &Fill,
    fill_block: usize,
) -> (Option<u64>, bool) {
    let of_this = |v: &Val| v.returned_by().is_none_or(|t| t == fill.allocator);
    let tests: Vec<&(usize, bool, u64, Val)> =
        ev.null_tests.iter().filter(|t| of_this(&t.3)).collect();
    let cut: Vec<(usize, bool)> = tests.iter().map(|(b, o, _, _)| (*b, *o)).collect();
    let mut null_test = None;
    if !tests.is_empty() && !reachable(succs, entry_block, &cut, &|_| true).contains(&fill_block) {
        null_test = tests.first().map(|t| t.2);
    }
    // ARM `cmp r0, #0; popeq {r4, pc}`: a return on the null side, which everything after
    // it in its block, and every block reached only through it, follows.
    let behind_return = ev
        .null_returns
        .iter()
        .filter(|r| of_this(&r.2))
        .find(|(b, site, _)| {
            if *b == fill_block {
                fill.site > *site
            } else {
                *b == entry_block
                    || !reachable(succs, entry_block, &[], &|x| x != *b).contains(&fill_block)
            }
        });
    let null_test = null_test.or(behind_return.map(|r| r.1));
    // A quiet null path: from the null side of a test to a return, through no call.
    let call_blocks: Vec<usize> = ev.calls.iter().map(|c| c.block).collect();
    let quiet = tests.iter().any(|(b, o, _, _)| {
        let null_side = succs
            .get(*b)
            .and_then(|ss| ss.iter().find(|(_, side)| *side == Some(!*o)))
            .map(|(s, _)| *s);
        null_side.is_some_and(|s| {
            if call_blocks.contains(&s) {
                return false;
            }
            let seen = reachable(succs, s, &[], &|x| !call_blocks.contains(&x));
            ev.ret_blocks
                .iter()
                .any(|rb| seen.contains(rb) && !call_blocks.contains(rb))
        })
    }) || behind_return.is_some();
    (null_test, quiet)
}

/// Does every exit after the fill give the allocation back (or hand it on)? What comes
/// after a call that does not return (an assertion) may run into other code, so exits the
/// fill cannot reach are not judged.
fn gives_allocation_back(ev: &Events, succs: &[Succs], fill: &Fill, fill_block: usize) -> bool {
    let after_fill = reachable(succs, fill_block, &[], &|_| true);
    let fill_is_tail = ev
        .calls
        .iter()
        .any(|c| c.tail && c.site == fill.site && fill.kind == FillKind::Call);
    let gives_back = |v: &Val| v.may & RET != 0 && v.konst().is_none();
    let tails_ok = ev
        .calls
        .iter()
        .filter(|c| c.tail && after_fill.contains(&c.block))
        .all(|c| c.args.first().is_some_and(gives_back));
    let rets_after: Vec<&Val> = ev
        .rets
        .iter()
        .zip(&ev.ret_blocks)
        .filter(|(_, b)| after_fill.contains(b))
        .map(|(v, _)| v)
        .collect();
    tails_ok && rets_after.iter().all(|v| gives_back(v)) && (fill_is_tail || !rets_after.is_empty())
}

/// Blocks reachable from `from` without crossing the edges `cut` (block, side) and without
/// entering blocks `enter` refuses (`from` itself is always entered).
fn reachable(
    succs: &[Succs],
    from: usize,
    cut: &[(usize, bool)],
    enter: &dyn Fn(usize) -> bool,
) -> Vec<usize> {
    let mut seen = vec![false; succs.len()];
    let mut work = vec![from];
    let mut out = Vec::new();
    while let Some(b) = work.pop() {
        match seen.get_mut(b) {
            Some(s @ false) => *s = true,
            _ => continue,
        }
        out.push(b);
        for &(s, side) in succs.get(b).map(|v| v.as_slice()).unwrap_or(&[]) {
            if side.is_some_and(|side| cut.contains(&(b, side))) || !enter(s) {
                continue;
            }
            work.push(s);
        }
    }
    out
}

/// Does block `b` lie on a cycle of the graph?
fn in_cycle(succs: &[Succs], b: usize) -> bool {
    succs
        .get(b)
        .into_iter()
        .flatten()
        .any(|&(s, _)| reachable(succs, s, &[], &|_| true).contains(&b))
}
