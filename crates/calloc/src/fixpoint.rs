//! A forward dataflow fixpoint over a [`Cfg`]: a worklist of blocks, each run through a
//! transfer function until no block's out-value changes. It knows nothing of what the
//! values mean; the analysis supplies the transfer and the join ([`Transfer`]).
//!
//! Blocks are named by their position in `Cfg::blocks`. An in-value is recomputed from the
//! predecessors' out-values at each visit (no accumulation), so a join that looks at the
//! side of the branch an edge leaves by (the calloc analysis' "safe side") stays exact.

use std::collections::VecDeque;

use smallvec::SmallVec;

use crate::cfg::Cfg;

/// A predecessor block and the side of its final branch that leads here (`None`: an
/// unconditional edge).
pub type Pred = (usize, Option<bool>);

/// The edges of a CFG by block position; edges to blocks never decoded are dropped.
pub struct Edges {
    pub succs: Vec<SmallVec<[usize; 2]>>,
    /// With the side of the branch, in block order.
    pub preds: Vec<SmallVec<[Pred; 2]>>,
}

impl Edges {
    pub fn of(cfg: &Cfg) -> Edges {
        let succs = cfg
            .blocks
            .iter()
            .map(|blk| {
                blk.succs
                    .iter()
                    .filter_map(|(s, _)| cfg.block_index(*s))
                    .collect()
            })
            .collect();
        let mut preds: Vec<SmallVec<[Pred; 2]>> = vec![SmallVec::new(); cfg.blocks.len()];
        for (b, blk) in cfg.blocks.iter().enumerate() {
            for (s, side) in &blk.succs {
                if let Some(p) = cfg.block_index(*s).and_then(|s| preds.get_mut(s)) {
                    p.push((b, *side));
                }
            }
        }
        Edges { succs, preds }
    }
}

/// What an analysis gives the fixpoint.
pub trait Transfer {
    /// The value entering a block.
    type In: Clone;
    /// The value leaving a block; the fixpoint stops when none of them changes.
    type Out: PartialEq;
    /// `acc` (the entry value, or the join of the predecessors seen so far; `None` for the
    /// first) joined with what the edge from a predecessor with out-value `out` carries;
    /// `side` is the side of the predecessor's branch the edge leaves by.
    fn join(&self, acc: Option<Self::In>, out: &Self::Out, side: Option<bool>) -> Self::In;
    /// Run block `block` from `input`.
    fn transfer(&mut self, block: usize, input: Self::In) -> Self::Out;
}

/// The fixpoint did not settle within this many block visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitsExceeded(pub usize);

/// The problem: the graph, where it starts and with what value.
pub struct Problem<'p, I> {
    pub edges: &'p Edges,
    pub entry: usize,
    pub entry_value: &'p I,
}

impl<I: Clone> Problem<'_, I> {
    /// The in-value of block `b` given the out-values `outs` (`None`: not reached).
    pub fn in_of<T: Transfer<In = I>>(
        &self,
        t: &T,
        b: usize,
        outs: &[Option<T::Out>],
    ) -> Option<I> {
        let mut acc: Option<I> = (b == self.entry).then(|| self.entry_value.clone());
        for (p, side) in self.edges.preds.get(b).map(|v| v.as_slice()).unwrap_or(&[]) {
            let Some(o) = outs.get(*p).and_then(Option::as_ref) else {
                continue;
            };
            acc = Some(t.join(acc, o, *side));
        }
        acc
    }

    /// Out-values of every block at the fixpoint (`None`: not reached), or an error after
    /// `max_visits` block visits.
    pub fn solve<T: Transfer<In = I>>(
        &self,
        t: &mut T,
        max_visits: usize,
    ) -> Result<Vec<Option<T::Out>>, VisitsExceeded> {
        let n_blocks = self.edges.succs.len();
        let mut outs: Vec<Option<T::Out>> = (0..n_blocks).map(|_| None).collect();
        let mut work: VecDeque<usize> = VecDeque::from([self.entry]);
        // What `work` holds, to queue a block at most once.
        let mut queued = vec![false; n_blocks];
        if let Some(q) = queued.get_mut(self.entry) {
            *q = true;
        }
        let mut visits = 0usize;
        while let Some(b) = work.pop_front() {
            if let Some(q) = queued.get_mut(b) {
                *q = false;
            }
            visits += 1;
            if visits > max_visits {
                return Err(VisitsExceeded(max_visits));
            }
            if b >= n_blocks {
                continue;
            }
            let Some(input) = self.in_of(t, b, &outs) else {
                continue;
            };
            let new = Some(t.transfer(b, input));
            let Some(out) = outs.get_mut(b) else {
                continue;
            };
            if *out != new {
                *out = new;
                for &s in self.edges.succs.get(b).map(|v| v.as_slice()).unwrap_or(&[]) {
                    if let Some(q @ false) = queued.get_mut(s) {
                        *q = true;
                        work.push_back(s);
                    }
                }
            }
        }
        Ok(outs)
    }

    /// The in-values of every block given the out-values at the fixpoint.
    pub fn ins<T: Transfer<In = I>>(&self, t: &T, outs: &[Option<T::Out>]) -> Vec<Option<I>> {
        (0..self.edges.succs.len())
            .map(|b| self.in_of(t, b, outs))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0 → 1; 1 → 2 (taken) and 1 → 3 (fall-through); 2 → 1 (a loop); 4 is unreachable.
    fn looped() -> Edges {
        let succs = vec![
            SmallVec::from_slice(&[1]),
            SmallVec::from_slice(&[2, 3]),
            SmallVec::from_slice(&[1]),
            SmallVec::new(),
            SmallVec::from_slice(&[3]),
        ];
        let preds = vec![
            SmallVec::new(),
            SmallVec::from_slice(&[(0, None), (2, None)]),
            SmallVec::from_slice(&[(1, Some(true))]),
            SmallVec::from_slice(&[(1, Some(false)), (4, None)]),
            SmallVec::new(),
        ];
        Edges { succs, preds }
    }

    fn from_block_0(edges: &Edges) -> Problem<'_, u32> {
        Problem {
            edges,
            entry: 0,
            entry_value: &0,
        }
    }

    /// Path length, saturating at `top`; the join is the maximum; the side of a
    /// fall-through edge adds 100 so the test sees that sides reach the join.
    struct Longest {
        top: u32,
        transfers: usize,
    }

    impl Transfer for Longest {
        type In = u32;
        type Out = u32;
        fn join(&self, acc: Option<u32>, out: &u32, side: Option<bool>) -> u32 {
            let along = out + if side == Some(false) { 100 } else { 0 };
            acc.map_or(along, |a| a.max(along))
        }
        fn transfer(&mut self, _block: usize, input: u32) -> u32 {
            self.transfers += 1;
            (input + 1).min(self.top)
        }
    }

    #[test]
    fn loop_settles_at_the_top_and_unreached_blocks_stay_none() {
        let edges = looped();
        let problem = from_block_0(&edges);
        let mut t = Longest {
            top: 5,
            transfers: 0,
        };
        let outs = problem.solve(&mut t, 100).expect("settles");
        assert_eq!(outs, vec![Some(1), Some(5), Some(5), Some(5), None]);
        let ins = problem.ins(&t, &outs);
        assert_eq!(ins, vec![Some(0), Some(5), Some(5), Some(105), None]);
        assert!(t.transfers < 20, "{} visits", t.transfers);
    }

    #[test]
    fn a_transfer_that_never_settles_hits_the_visit_bound() {
        let edges = looped();
        let problem = from_block_0(&edges);
        let mut t = Longest {
            top: u32::MAX / 2,
            transfers: 0,
        };
        assert_eq!(problem.solve(&mut t, 50), Err(VisitsExceeded(50)));
        assert_eq!(t.transfers, 50);
    }
}
