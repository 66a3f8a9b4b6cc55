//! Control-flow graph of one function, built by recursive descent over lifted instructions.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use smallvec::SmallVec;

use super::ir::{Insn, Lifter, Op, Target};

/// Instructions decoded per function. calloc implementations are tens to a few hundred
/// instructions; glibc's `__libc_calloc` with inlined helpers is under 1,000. 20,000 leaves
/// room for large inlined allocators while bounding work on hostile input.
pub const MAX_INSNS_PER_FUNCTION: usize = 20_000;
/// Basic blocks per function: same reasoning, a few hundred in real code.
pub const MAX_BLOCKS: usize = 4_000;

/// (successor, the branch condition is true on this edge: Some(true/false) for the two
/// sides of a conditional branch, None for unconditional flow). A block has at most two.
pub type Succs = SmallVec<[(u64, Option<bool>); 2]>;

#[derive(Debug, Clone)]
pub struct Block {
    pub start: u64,
    /// Where the block's instruction positions lie in [`Cfg::order`].
    span: Range<usize>,
    pub succs: Succs,
}

impl Block {
    pub fn insn_count(&self) -> usize {
        self.span.len()
    }
}

#[derive(Debug, Clone)]
pub struct Cfg {
    pub entry: u64,
    /// Basic blocks in address order.
    pub blocks: Vec<Block>,
    /// Every decoded instruction once, in decoding order. Blocks refer to them by position
    /// (where decodings overlap, two blocks share the tail they reach in common), so the
    /// graph is a few vectors rather than an allocation per instruction.
    insns: Vec<Insn>,
    /// The blocks' instruction positions in `insns`, block after block.
    order: Vec<u32>,
    /// Decode failures: (address, message). Paths through them end there.
    pub errors: Vec<(u64, String)>,
    /// Set when a bound was hit: the graph is incomplete.
    pub truncated: Option<String>,
}

impl Cfg {
    /// Position in `blocks` of the block starting at `start`.
    pub fn block_index(&self, start: u64) -> Option<usize> {
        self.blocks.binary_search_by_key(&start, |b| b.start).ok()
    }

    pub fn block(&self, start: u64) -> Option<&Block> {
        self.block_index(start).and_then(|i| self.blocks.get(i))
    }

    /// The instructions of `block`, in order.
    pub fn insns<'c>(&'c self, block: &Block) -> impl Iterator<Item = &'c Insn> + 'c {
        self.order
            .get(block.span.clone())
            .unwrap_or_default()
            .iter()
            .filter_map(|&i| self.insns.get(i as usize))
    }

    /// Instructions over all blocks (an instruction two blocks share counts twice).
    pub fn block_insn_count(&self) -> usize {
        self.order.len()
    }
}

/// Instructions in a typical calloc-chain function: the decoder's buffers start this big.
const TYPICAL_INSNS: usize = 32;

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

/// Hashes code addresses for the decoder's address → instruction map: one multiply instead
/// of SipHash (the keys are addresses the analysis chose to decode, not attacker-chosen
/// strings; a hostile file can at worst slow its own bounded analysis).
#[derive(Default)]
pub(crate) struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits (which pick the bucket) as regular as the
        // addresses' own; fold the well-mixed high half down.
        self.0 ^ (self.0 >> 32)
    }
}

/// Build the CFG from `entry`. `external(target)` says whether a direct jump target is
/// another function (then the jump is rewritten into a tail call).
pub fn build(lifter: &dyn Lifter, entry: u64, external: &dyn Fn(u64) -> bool) -> Cfg {
    build_with_limit(lifter, entry, external, MAX_INSNS_PER_FUNCTION)
}

/// [`build`] with another bound than [`MAX_INSNS_PER_FUNCTION`] on the instructions decoded
/// (the search for calloc probes many functions and wants a smaller one).
pub fn build_with_limit(
    lifter: &dyn Lifter,
    entry: u64,
    external: &dyn Fn(u64) -> bool,
    max_insns: usize,
) -> Cfg {
    let max_insns = max_insns.min(MAX_INSNS_PER_FUNCTION);
    // Sized for a typical calloc (tens of instructions) so that it rarely regrows.
    let mut insns: Vec<Insn> = Vec::with_capacity(TYPICAL_INSNS);
    // Addresses that start a decoded instruction → position in `insns`.
    let mut at: HashMap<u64, u32, BuildHasherDefault<AddrHasher>> =
        HashMap::with_capacity_and_hasher(TYPICAL_INSNS, BuildHasherDefault::default());
    let mut leaders: Vec<u64> = Vec::with_capacity(TYPICAL_INSNS);
    leaders.push(entry);
    let mut errors = Vec::new();
    let mut truncated = None;
    let mut work: Vec<u64> = Vec::with_capacity(TYPICAL_INSNS);
    work.push(entry);
    'outer: while let Some(mut addr) = work.pop() {
        loop {
            if at.contains_key(&addr) {
                break;
            }
            if insns.len() >= max_insns {
                truncated = Some(format!(
                    "more than {max_insns} instructions decoded from the function"
                ));
                break 'outer;
            }
            // Below MAX_INSNS_PER_FUNCTION, so the position fits.
            at.insert(addr, insns.len() as u32);
            // Straight into the arena (an instruction is a few hundred bytes to copy).
            insns.push(match lifter.lift(addr) {
                Ok(i) => i,
                Err(e) => {
                    let text = format!("(undecodable: {e})");
                    errors.push((addr, e));
                    Insn {
                        addr,
                        len: 1,
                        text,
                        ops: smallvec::smallvec![Op::Trap],
                    }
                }
            });
            let Some(insn) = insns.last_mut() else {
                break 'outer;
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
            let f = flow(insn);
            match f {
                Flow::Next => {
                    if next <= addr {
                        break;
                    }
                    addr = next;
                }
                Flow::Cond(t) => {
                    leaders.push(t);
                    leaders.push(next);
                    work.push(t);
                    if next > addr {
                        work.push(next);
                    }
                    break;
                }
                Flow::Jump(t) => {
                    leaders.push(t);
                    work.push(t);
                    break;
                }
                Flow::End => break,
            }
        }
    }
    leaders.sort_unstable();
    leaders.dedup();
    let is_leader = |a: u64| leaders.binary_search(&a).is_ok();
    // Overlapping instructions (a jump into the middle of one) are kept as separate
    // decodings: each leader starts its own block.
    let mut blocks = Vec::with_capacity(leaders.len().min(MAX_BLOCKS));
    let mut order: Vec<u32> = Vec::with_capacity(insns.len());
    for &l in &leaders {
        if blocks.len() >= MAX_BLOCKS {
            truncated = Some(format!("more than {MAX_BLOCKS} basic blocks"));
            break;
        }
        let first = order.len();
        let mut succs = Succs::new();
        let mut a = l;
        while let Some(&pos) = at.get(&a) {
            let Some(insn) = insns.get(pos as usize) else {
                break;
            };
            order.push(pos);
            let next = insn.next();
            match flow(insn) {
                Flow::Next => {
                    if is_leader(next) {
                        succs.push((next, None));
                        break;
                    }
                    if next <= a {
                        break;
                    }
                    a = next;
                    continue;
                }
                Flow::Cond(t) => {
                    succs.push((t, Some(true)));
                    succs.push((next, Some(false)));
                }
                Flow::Jump(t) => succs.push((t, None)),
                Flow::End => {}
            }
            break;
        }
        if order.len() > first {
            blocks.push(Block {
                start: l,
                span: first..order.len(),
                succs,
            });
        }
    }
    // Edges to blocks that were never decoded (bounds hit) are dropped by the users.
    Cfg {
        entry,
        blocks,
        insns,
        order,
        errors,
        truncated,
    }
}
