//! Compressed blocks of boot images already decoded in a scan: the UCL and LZO blocks of an
//! IFS (each one decoded on its own, with no reference to the blocks before it) recur across
//! the images of one product line (releases that changed a few files, the boot image kept
//! inside a file system image of every device), so each distinct block is decoded once.
//!
//! A block is reused only when its compressed bytes equal, byte for byte, those of a block
//! decoded before with the same decoder (a cheap hash only picks the bucket), and its output
//! fits the room the decoder would have had: the result is then exactly what decoding gives.
//! Blocks that fail to decode are not kept, so errors come from the decoder as before.
//!
//! A block's bytes are kept only when its bucket comes a second time: a set of distinct
//! blocks (most of a tree of distinct images) costs a hash per block, no copies.
//!
//! Bounded: the copies of input and output kept, and the buckets seen, are charged to
//! [`MAX_BLOCK_MEMO_BYTES`]; the oldest blocks are dropped first (a scan meets the copies of an image close together,
//! as the walk goes device by device). Held by the scan of one target: the scan hands it to
//! each worker thread with [`with_memo`]; decoding elsewhere (`image extract`, carving on
//! other threads) runs without it.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

/// Bytes of compressed input and decoded output kept, across the scan of one target.
pub const MAX_BLOCK_MEMO_BYTES: usize = 32 << 20;

/// What is charged per block besides its bytes.
const BLOCK_COST: usize = 128;

/// What is charged per bucket seen once.
const SEEN_COST: usize = 32;

/// Which decoder made a block.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Codec {
    Ucl,
    Lzo,
}

type Key = (Codec, u64);

/// A block's compressed bytes and what they decode to.
pub(crate) struct Block {
    input: Box<[u8]>,
    output: Box<[u8]>,
}

impl Block {
    pub(crate) fn output(&self) -> &[u8] {
        &self.output
    }
}

/// The blocks of one scan target already decoded.
#[derive(Default)]
pub struct BlockMemo {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    by_key: HashMap<Key, Vec<Arc<Block>>>,
    /// Keys in the order their blocks came, for dropping the oldest.
    order: VecDeque<Key>,
    /// Buckets met once (their blocks are kept from the second time on).
    seen: std::collections::HashSet<Key>,
    bytes: usize,
}

/// The bucket of a block: its length and a few of its bytes (equality is decided on all of
/// them).
fn key(codec: Codec, input: &[u8]) -> Key {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    input.len().hash(&mut h);
    input.get(..32).unwrap_or(input).hash(&mut h);
    input
        .get(input.len().saturating_sub(32)..)
        .unwrap_or(input)
        .hash(&mut h);
    input
        .get(input.len() / 2..)
        .map(|m| m.get(..32))
        .hash(&mut h);
    (codec, h.finish())
}

impl BlockMemo {
    /// The output of a block decoded before whose input is `input`, if it is at most `max`
    /// bytes long.
    pub(crate) fn find(&self, codec: Codec, input: &[u8], max: usize) -> Option<Arc<Block>> {
        let found = {
            let state = self.lock();
            state
                .by_key
                .get(&key(codec, input))?
                .iter()
                .find(|b| *b.input == *input)
                .cloned()?
        };
        (found.output.len() <= max).then_some(found)
    }

    /// Keep a block and its output, dropping the oldest blocks to stay within the bound.
    pub(crate) fn insert(&self, codec: Codec, input: &[u8], output: &[u8]) {
        let cost = BLOCK_COST + input.len() + output.len();
        if cost > MAX_BLOCK_MEMO_BYTES {
            return;
        }
        let k = key(codec, input);
        let mut state = self.lock();
        if !state.seen.contains(&k) {
            // A quarter of the bound at most (a million buckets: gigabytes of images).
            if (state.seen.len() + 1) * SEEN_COST <= MAX_BLOCK_MEMO_BYTES / 4 {
                state.seen.insert(k);
                state.bytes += SEEN_COST;
            }
            return;
        }
        if state
            .by_key
            .get(&k)
            .is_some_and(|v| v.iter().any(|b| *b.input == *input))
        {
            return;
        }
        while state.bytes + cost > MAX_BLOCK_MEMO_BYTES {
            let Some(old) = state.order.pop_front() else {
                break;
            };
            let freed = match state.by_key.get_mut(&old) {
                Some(v) if !v.is_empty() => {
                    let b = v.remove(0);
                    BLOCK_COST + b.input.len() + b.output.len()
                }
                _ => 0,
            };
            if state.by_key.get(&old).is_some_and(Vec::is_empty) {
                state.by_key.remove(&old);
            }
            state.bytes -= freed;
        }
        if state.bytes + cost > MAX_BLOCK_MEMO_BYTES {
            return;
        }
        state.by_key.entry(k).or_default().push(Arc::new(Block {
            input: input.into(),
            output: output.into(),
        }));
        state.order.push_back(k);
        state.bytes += cost;
    }

    #[cfg(test)]
    fn kept(&self) -> (usize, usize) {
        let s = self.lock();
        (s.by_key.values().map(Vec::len).sum(), s.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update completes under the lock without panicking paths.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

thread_local! {
    /// The memo of the scan this thread works for, while it does.
    static CURRENT: RefCell<Option<Arc<BlockMemo>>> = const { RefCell::new(None) };
}

/// Run `f` with `memo` as this thread's block memo (restoring the previous one after).
pub fn with_memo<R>(memo: &Arc<BlockMemo>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<BlockMemo>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = prev);
        }
    }
    let prev = CURRENT.with(|c| c.borrow_mut().replace(Arc::clone(memo)));
    let _restore = Restore(prev);
    f()
}

/// This thread's block memo, if a scan set one.
pub(crate) fn current() -> Option<Arc<BlockMemo>> {
    CURRENT.with(|c| c.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_only_for_equal_bytes_of_the_same_codec_within_the_room() {
        let memo = BlockMemo::default();
        let input: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        memo.insert(Codec::Ucl, &input, b"decoded bytes");
        // Kept from the second time a block comes.
        assert!(memo.find(Codec::Ucl, &input, 64).is_none());
        memo.insert(Codec::Ucl, &input, b"decoded bytes");
        assert_eq!(
            memo.find(Codec::Ucl, &input, 64)
                .as_deref()
                .map(Block::output),
            Some(&b"decoded bytes"[..])
        );
        assert!(memo.find(Codec::Lzo, &input, 64).is_none());
        // One byte changed where the bucket hash does not look: compared in full.
        let mut near = input.clone();
        near[100] ^= 1;
        assert_eq!(key(Codec::Ucl, &near), key(Codec::Ucl, &input));
        assert!(memo.find(Codec::Ucl, &near, 64).is_none());
        // Output longer than the room left: decoded again (and fails as decoding does).
        assert!(memo.find(Codec::Ucl, &input, 12).is_none());
        assert!(memo.find(Codec::Ucl, &input, 13).is_some());
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_blocks_go_first() {
        let memo = BlockMemo::default();
        let out = vec![0u8; 60 << 10];
        let block = |i: u32| -> Vec<u8> {
            (0..4096u32)
                .map(|j| (i + j) as u8 ^ (i >> 8) as u8)
                .collect()
        };
        let n = MAX_BLOCK_MEMO_BYTES / (60 << 10) + 50;
        for i in 0..n as u32 {
            memo.insert(Codec::Lzo, &block(i), &out);
            memo.insert(Codec::Lzo, &block(i), &out);
        }
        let (blocks, bytes) = memo.kept();
        assert!(bytes <= MAX_BLOCK_MEMO_BYTES);
        assert!(blocks < n && blocks > 0);
        assert!(memo.find(Codec::Lzo, &block(0), 1 << 16).is_none());
        assert!(memo
            .find(Codec::Lzo, &block(n as u32 - 1), 1 << 16)
            .is_some());
    }

    #[test]
    fn the_memo_is_the_scans_only_while_it_runs() {
        let memo = Arc::new(BlockMemo::default());
        assert!(current().is_none());
        with_memo(&memo, || assert!(current().is_some()));
        assert!(current().is_none());
    }
}
