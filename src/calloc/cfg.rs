//! Control-flow graph of one function, built by recursive descent over lifted instructions.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::ir::{Insn, Lifter, Op, Target};

/// Instructions decoded per function. calloc implementations are tens to a few hundred
/// instructions; glibc's `__libc_calloc` with inlined helpers is under 1,000. 20,000 leaves
/// room for large inlined allocators while bounding work on hostile input.
pub const MAX_INSNS_PER_FUNCTION: usize = 20_000;
/// Basic blocks per function: same reasoning, a few hundred in real code.
pub const MAX_BLOCKS: usize = 4_000;

#[derive(Debug, Clone)]
pub struct Block {
    pub start: u64,
    /// Shared with the decoding pass (and, where decodings overlap, with another block):
    /// blocks are cut from the decoded instructions without copying them.
    pub insns: Vec<Rc<Insn>>,
    /// (successor, the branch condition is true on this edge: Some(true/false) for the two
    /// sides of a conditional branch, None for unconditional flow).
    pub succs: Vec<(u64, Option<bool>)>,
}

#[derive(Debug, Clone)]
pub struct Cfg {
    pub entry: u64,
    pub blocks: BTreeMap<u64, Block>,
    /// Decode failures: (address, message). Paths through them end there.
    pub errors: Vec<(u64, String)>,
    /// Set when a bound was hit: the graph is incomplete.
    pub truncated: Option<String>,
}

enum Flow {
    /// Falls through to the next instruction.
    Next,
    /// Conditional: taken target and fall-through.
    Cond(u64),
    Jump(u64),
    End,
}

fn flow(insn: &Insn) -> Flow {
    for op in insn.ops.iter().rev() {
        match op {
            Op::Branch { target, .. } | Op::BranchCmp { target, .. } => return Flow::Cond(*target),
            Op::Jump { target } => return Flow::Jump(*target),
            Op::JumpIndirect | Op::Ret | Op::TailCall { .. } | Op::Trap => return Flow::End,
            _ => {}
        }
    }
    Flow::Next
}

/// Build the CFG from `entry`. `external(target)` says whether a direct jump target is
/// another function (then the jump is rewritten into a tail call).
pub fn build(lifter: &dyn Lifter, entry: u64, external: &dyn Fn(u64) -> bool) -> Cfg {
    let mut insns: BTreeMap<u64, Rc<Insn>> = BTreeMap::new();
    let mut leaders: BTreeSet<u64> = BTreeSet::new();
    let mut errors = Vec::new();
    let mut truncated = None;
    let mut work = vec![entry];
    leaders.insert(entry);
    // Addresses that start an instruction: used to detect jumps into the middle of one.
    'outer: while let Some(mut addr) = work.pop() {
        loop {
            if insns.contains_key(&addr) {
                break;
            }
            if insns.len() >= MAX_INSNS_PER_FUNCTION {
                truncated = Some(format!(
                    "more than {MAX_INSNS_PER_FUNCTION} instructions decoded from the function"
                ));
                break 'outer;
            }
            let mut insn = match lifter.lift(addr) {
                Ok(i) => i,
                Err(e) => {
                    errors.push((addr, e.clone()));
                    Insn {
                        addr,
                        len: 1,
                        text: format!("(undecodable: {e})"),
                        ops: vec![Op::Trap],
                    }
                }
            };
            // Direct jumps to other functions are tail calls.
            if let Some(last) = insn.ops.last_mut() {
                if let Op::Jump { target } = *last {
                    if target != entry && external(target) {
                        *last = Op::TailCall {
                            target: Target::Direct(target),
                        };
                    }
                }
            }
            let next = insn.next();
            let f = flow(&insn);
            insns.insert(addr, Rc::new(insn));
            match f {
                Flow::Next => {
                    if next <= addr {
                        break;
                    }
                    addr = next;
                }
                Flow::Cond(t) => {
                    leaders.insert(t);
                    leaders.insert(next);
                    work.push(t);
                    if next > addr {
                        work.push(next);
                    }
                    break;
                }
                Flow::Jump(t) => {
                    leaders.insert(t);
                    work.push(t);
                    break;
                }
                Flow::End => break,
            }
        }
    }
    // Overlapping instructions (a jump into the middle of one) are kept as separate
    // decodings: each leader starts its own block.
    let mut blocks = BTreeMap::new();
    for &l in &leaders {
        if blocks.len() >= MAX_BLOCKS {
            truncated = Some(format!("more than {MAX_BLOCKS} basic blocks"));
            break;
        }
        let mut b = Block {
            start: l,
            insns: Vec::new(),
            succs: Vec::new(),
        };
        let mut a = l;
        while let Some(insn) = insns.get(&a) {
            b.insns.push(Rc::clone(insn));
            let next = insn.next();
            match flow(insn) {
                Flow::Next => {
                    if leaders.contains(&next) {
                        b.succs.push((next, None));
                        break;
                    }
                    if next <= a {
                        break;
                    }
                    a = next;
                    continue;
                }
                Flow::Cond(t) => {
                    b.succs.push((t, Some(true)));
                    b.succs.push((next, Some(false)));
                }
                Flow::Jump(t) => b.succs.push((t, None)),
                Flow::End => {}
            }
            break;
        }
        if !b.insns.is_empty() {
            blocks.insert(l, b);
        }
    }
    // Edges to blocks that were never decoded (bounds hit) are dropped by the users.
    Cfg {
        entry,
        blocks,
        errors,
        truncated,
    }
}
