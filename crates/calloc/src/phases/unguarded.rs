//! The unguarded region: the blocks reachable from the entry without crossing the safe side
//! of an overflow test. An allocation of the product there is the vulnerability; a decode
//! failure or an indirect jump there leaves the answer unknown.

use std::collections::{BTreeMap, VecDeque};

use crate::cfg::Cfg;
use crate::ir::Lifter;

/// Per block position: reachable from `entry` without crossing a safe edge.
pub(crate) fn region(
    cfg: &Cfg,
    entry: usize,
    safe_edges: &BTreeMap<(u64, bool), String>,
) -> Vec<bool> {
    let mut unguarded = vec![false; cfg.blocks.len()];
    let mut q = VecDeque::from([entry]);
    while let Some(b) = q.pop_front() {
        match unguarded.get_mut(b) {
            Some(seen @ false) => *seen = true,
            _ => continue,
        }
        if let Some(block) = cfg.blocks.get(b) {
            for (s, side) in &block.succs {
                if let Some(side) = side {
                    if safe_edges.contains_key(&(block.start, *side)) {
                        continue;
                    }
                }
                if let Some(s) = cfg.block_index(*s) {
                    q.push_back(s);
                }
            }
        }
    }
    unguarded
}

/// Why the answer is unknown because of the first decode failure, else the first indirect
/// jump, in the unguarded region; `None` when there is neither.
pub(crate) fn trouble(
    cfg: &Cfg,
    unguarded: &[bool],
    indirect_jumps: &[u64],
    lifter: &dyn Lifter,
    name: &str,
) -> Option<String> {
    let reachable = |a: u64| {
        cfg.blocks.iter().enumerate().any(|(b, blk)| {
            unguarded.get(b).copied().unwrap_or(false) && cfg.insns(blk).any(|i| i.addr == a)
        })
    };
    if let Some((a, e)) = cfg.errors.iter().find(|(a, _)| reachable(*a)) {
        return Some(format!(
            "{name}: cannot decode the instruction at {a:#x} ({e})"
        ));
    }
    indirect_jumps.iter().find(|a| reachable(**a)).map(|a| {
        format!(
            "{name}: indirect jump at {:#x} (jump table or function pointer)",
            lifter.display_addr(*a)
        )
    })
}
