//! The calloc analysis' block states: [`crate::fixpoint`] run with the dataflow of
//! [`crate::dataflow`], calls resolved (and callees analysed) by the analyzer.

use crate::cfg::Cfg;
use crate::dataflow::State;
use crate::fixpoint::{Edges, Problem, Transfer};
use crate::ir::Lifter;
use crate::{entry_state, Analyzer, BranchSides, CALLOC_DEBUG, DATAFLOW_VISITS_PER_BLOCK};

/// A block's out-state and what its final branch proves on each side.
type BlockOut = (State, BranchSides);

struct CallocTransfer<'x, 'e, 'a> {
    an: &'x mut Analyzer<'e, 'a>,
    cfg: &'x Cfg,
    depth: usize,
    /// Notes of the calls, unused by the fixpoint (the replay keeps them).
    scratch: Vec<String>,
}

impl Transfer for CallocTransfer<'_, '_, '_> {
    type In = State;
    type Out = BlockOut;

    /// The edge leaving a branch on its safe side carries "safe"; on the other side "not
    /// safe"; an unconditional edge keeps what the predecessor had. A factor the edge shows
    /// below 2^(w/2) is small on it; a factor is small after a join only if small on every
    /// edge.
    fn join(&self, acc: Option<State>, (o, sides): &BlockOut, side: Option<bool>) -> State {
        let edge_safe = match (side, sides.safe) {
            (Some(side), Some(ss)) => Some(side == ss),
            _ => o.safe,
        };
        let edge_small = match (side, sides.bound) {
            (Some(side), Some((bs, t))) if side == bs => t,
            _ => 0,
        };
        match acc {
            None => {
                let mut e = o.clone();
                e.safe = edge_safe;
                e.small |= edge_small;
                e
            }
            Some(a) => {
                let mut j = a.join_edges(o, edge_safe);
                j.small = a.small & (o.small | edge_small);
                j
            }
        }
    }

    fn transfer(&mut self, b: usize, mut st: State) -> BlockOut {
        let Some(block) = self.cfg.blocks.get(b) else {
            return (st, BranchSides::default());
        };
        // Only the block's last instruction can branch: its safe side is judged on the
        // state just before it.
        let mut sides = BranchSides::default();
        let last = block.insn_count().saturating_sub(1);
        for (i, insn) in self.cfg.insns(block).enumerate() {
            if i == last {
                sides = self.an.branch_sides(&st, insn);
            }
            self.an.exec(&mut st, insn, self.depth, &mut self.scratch);
        }
        (st, sides)
    }
}

impl Analyzer<'_, '_> {
    /// The state entering each block of `cfg` (by position; `None`: not reached) when the
    /// function at `addr` is called with `params`; an error when the fixpoint does not
    /// settle within its bound.
    pub(crate) fn block_states(
        &mut self,
        cfg: &Cfg,
        entry_block: usize,
        addr: u64,
        params: &[crate::dataflow::Val],
        depth: usize,
    ) -> Result<Vec<Option<State>>, usize> {
        let lifter: &dyn Lifter = self.lifter;
        let entry_value = entry_state(lifter, addr, params);
        let edges = Edges::of(cfg);
        let problem = Problem {
            edges: &edges,
            entry: entry_block,
            entry_value: &entry_value,
        };
        let max_visits = cfg
            .blocks
            .len()
            .saturating_mul(DATAFLOW_VISITS_PER_BLOCK)
            .saturating_add(64);
        let mut t = CallocTransfer {
            an: self,
            cfg,
            depth,
            scratch: Vec::new(),
        };
        let outs = problem.solve(&mut t, max_visits).map_err(|e| e.0)?;
        let ins = problem.ins(&t, &outs);
        if *CALLOC_DEBUG {
            for ((blk, st), out) in cfg.blocks.iter().zip(&ins).zip(&outs) {
                let Some(st) = st else { continue };
                eprintln!(
                    "block {:#x} safe={:?} in: {:?}",
                    blk.start, st.safe, st.vals
                );
                if let Some((_, ss)) = out {
                    eprintln!("   safe side of final branch: {ss:?}");
                }
            }
        }
        Ok(ins)
    }
}
