//! Replay: one pass over every reached block from its fixpoint in-state, noting the events
//! the verdict is built from: products, divisions, overflow tests and the safe side of their
//! branches, calls with their arguments, indirect jumps and returned values.

use std::collections::BTreeMap;

use crate::cfg::Cfg;
use crate::dataflow::{self, edge_outcome, read, step, tag_names, Flags, Loc, State, Val, P};
use crate::ir::{Insn, Op};
use crate::{noted_in_replay, Analyzer, CallSite};

/// What the replay of one function found.
#[derive(Default)]
pub(crate) struct Events<'c, 'a> {
    /// The note shown next to an instruction in the evidence and the listing.
    pub notes_at: BTreeMap<u64, String>,
    /// Multiplies computing nmemb*size.
    pub muls: Vec<u64>,
    /// (block start, side) of each branch side that proves "no overflow", with why.
    pub safe_edges: BTreeMap<(u64, bool), String>,
    pub calls: Vec<CallSite<'c, 'a>>,
    pub indirect_jumps: Vec<u64>,
    /// The value returned at each return, with the side of the last overflow test its path
    /// crossed.
    pub rets: Vec<(Val, Option<bool>)>,
    /// Notes of heuristics that were used (an unnamed helper treated as a division).
    pub heuristic_notes: Vec<String>,
    /// The last instruction that set each flag set, to note the test a branch reads.
    last_flag_setter: BTreeMap<u8, u64>,
}

fn is_call(op: &Op) -> bool {
    matches!(op, Op::Call { .. } | Op::TailCall { .. })
}

impl<'a> Analyzer<'_, 'a> {
    /// Replay every reached block of `cfg` from its in-state in `ins`.
    pub(crate) fn replay<'c>(
        &mut self,
        cfg: &'c Cfg,
        ins: Vec<Option<State>>,
        depth: usize,
    ) -> Events<'c, 'a> {
        let mut ev = Events::default();
        for (bi, (block, st)) in cfg.blocks.iter().zip(ins).enumerate() {
            let Some(mut st) = st else {
                continue;
            };
            for insn in cfg.insns(block) {
                // Only some ops leave notes; an instruction without them is just run below.
                if insn.ops.iter().any(noted_in_replay)
                    && self.note_ops(&mut ev, block.start, insn, &mut st)
                {
                    continue;
                }
                self.replay_run(&mut ev, bi, insn, &mut st, depth);
            }
        }
        ev
    }

    /// Note what the ops of `insn` show, stepping `st` through them. True when `st` then
    /// holds the state after the instruction; false when the instruction has a call and must
    /// still be run (`st` is left as before it).
    fn note_ops(&self, ev: &mut Events, b: u64, insn: &Insn, st: &mut State) -> bool {
        let has_call = insn.ops.iter().any(is_call);
        // The state before the instruction: products and quotients are judged on
        // it, and an instruction with a call is re-run from it below (calls need
        // the analyzer). Without a call, stepping `st` through the ops here is
        // that run already, so no copy is needed for it.
        let judged_on_entry = |op: &Op| {
            matches!(
                op,
                Op::Mul { lo: Some(_), .. } | Op::Div { quot: Some(_), .. }
            )
        };
        let before = (has_call || insn.ops.iter().any(judged_on_entry)).then(|| st.clone());
        for op in &insn.ops {
            self.note_op(ev, b, insn, op, st, before.as_ref());
            if !is_call(op) {
                step(st, &self.ctx, op);
            }
        }
        match before {
            Some(b) if has_call => {
                *st = b;
                false
            }
            _ => true,
        }
    }

    /// Note what one op shows; `st` is the state before it, `before` the state before the
    /// instruction (kept when a product or quotient is judged on it).
    fn note_op(
        &self,
        ev: &mut Events,
        b: u64,
        insn: &Insn,
        op: &Op,
        st: &State,
        before: Option<&State>,
    ) {
        let side_note = |side: bool, why: &str| {
            format!(
                "{} side: {why}",
                if side { "taken" } else { "fall-through" }
            )
        };
        match op {
            Op::Mul { lo: Some(lo), .. } => {
                if let Some(mut t) = before.cloned() {
                    step(&mut t, &self.ctx, op);
                    if read(&t, &self.ctx, *lo).may & P != 0 {
                        ev.muls.push(insn.addr);
                        ev.notes_at.insert(insn.addr, "product nmemb*size".into());
                    }
                }
            }
            Op::Div { quot: Some(q), .. } => {
                if let Some(mut t) = before.cloned() {
                    step(&mut t, &self.ctx, op);
                    let v = read(&t, &self.ctx, *q);
                    if v.may != 0 {
                        ev.notes_at
                            .insert(insn.addr, format!("division: {}", tag_names(v.may)));
                    }
                }
            }
            Op::Cmp { fl, .. } | Op::CmpSigned { fl, .. } | Op::Test { fl, .. } => {
                ev.last_flag_setter.insert(*fl, insn.addr);
            }
            Op::Mul {
                flags_ovf: true, ..
            } => {
                ev.last_flag_setter.insert(0, insn.addr);
            }
            Op::Branch { fl, cond, .. } => {
                if let Some((side, why)) = edge_outcome(&self.ctx, st.small, &st.flags(*fl), *cond)
                {
                    ev.safe_edges.insert((b, side), why.to_string());
                    if let Some(&c) = ev.last_flag_setter.get(fl) {
                        ev.notes_at
                            .entry(c)
                            .or_insert_with(|| "overflow test".into());
                    }
                    ev.notes_at.insert(insn.addr, side_note(side, why));
                }
            }
            Op::BranchCmp { cond, a, b: bb, .. } => {
                let f = Flags::Cmp(read(st, &self.ctx, *a), read(st, &self.ctx, *bb));
                if let Some((side, why)) = edge_outcome(&self.ctx, st.small, &f, *cond) {
                    ev.safe_edges.insert((b, side), why.to_string());
                    ev.notes_at.insert(insn.addr, side_note(side, why));
                }
            }
            Op::SetCmp { dst, .. } | Op::SetCond { dst, .. } => {
                let mut t = st.clone();
                step(&mut t, &self.ctx, op);
                let v = read(&t, &self.ctx, *dst);
                if v.may & (dataflow::SAFE_Z | dataflow::SAFE_NZ) != 0 {
                    ev.notes_at.insert(insn.addr, "overflow test".into());
                }
            }
            Op::JumpIndirect => ev.indirect_jumps.push(insn.addr),
            Op::Ret => ev
                .rets
                .push((st.get(Loc::Reg(self.lifter.ret_reg())), st.safe)),
            _ => {}
        }
    }

    /// Run `insn` properly (calls need the analyzer) and record its call, if any.
    fn replay_run<'c>(
        &mut self,
        ev: &mut Events<'c, 'a>,
        block: usize,
        insn: &'c Insn,
        st: &mut State,
        depth: usize,
    ) {
        let mut notes = Vec::new();
        if let Some((resolved, args, tail)) = self.exec(st, insn, depth, &mut notes) {
            let q = st.get(Loc::Reg(self.lifter.ret_reg()));
            if q.may & (dataflow::QPN | dataflow::QPS | dataflow::QMN | dataflow::QMS) != 0 {
                ev.notes_at.entry(insn.addr).or_insert_with(|| {
                    format!(
                        "division by helper {}: {}",
                        resolved.display,
                        tag_names(q.may)
                    )
                });
            }
            ev.calls.push(CallSite {
                block,
                insn,
                target: resolved,
                args,
                tail,
            });
        }
        for n in notes {
            ev.notes_at.insert(insn.addr, n.clone());
            ev.heuristic_notes.push(n);
        }
    }
}
