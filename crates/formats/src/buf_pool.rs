//! Output buffers of decoded boot images, kept for the next image.
//!
//! A compressed IFS decodes into megabytes of fresh memory. Fresh memory costs a page fault
//! per 4 KiB page and the kernel's zeroing of it; for well-compressed images that is a
//! large part of the time spent on them (page faults were 5–10 % of a scan's time on boot
//! images). A buffer given back here when its image is closed is handed to the next image
//! with its pages still mapped.
//!
//! Bounded: at most [`MAX_KEPT`] buffers and [`MAX_KEPT_BYTES`] of capacity are kept, for
//! the whole process (not per thread: the bound holds whatever `--jobs` is).

use std::sync::Mutex;

/// Capacity kept in all, across threads.
pub const MAX_KEPT_BYTES: usize = 32 << 20;
/// Buffers kept: one per image being decoded at a time on a few threads.
const MAX_KEPT: usize = 4;

/// The buffers kept, with the bounds above.
struct Pool {
    kept: Mutex<Vec<Vec<u8>>>,
}

static POOL: Pool = Pool {
    kept: Mutex::new(Vec::new()),
};

/// An empty buffer with room for at least `capacity` bytes and at most `bound`: the
/// smallest kept one that fits, else a new one (a kept buffer too small would be copied
/// when it grows; one larger than the caller's bound would hold room the bound does not
/// allow). When the room cannot be allocated, an empty buffer: the caller's growth then
/// fails as an error.
pub fn take(capacity: usize, bound: usize) -> Vec<u8> {
    POOL.take(capacity, bound)
}

/// Keep `buf` for a later [`take`], unless that passes the bounds (then it is freed).
pub fn give(buf: Vec<u8>) {
    POOL.give(buf);
}

impl Pool {
    fn take(&self, capacity: usize, bound: usize) -> Vec<u8> {
        let found = self.kept.lock().ok().and_then(|mut kept| {
            let i = kept
                .iter()
                .enumerate()
                .filter(|(_, b)| (capacity..=bound).contains(&b.capacity()))
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)?;
            Some(kept.swap_remove(i))
        });
        found.unwrap_or_else(|| {
            let mut buf = Vec::new();
            let _ = buf.try_reserve_exact(capacity);
            buf
        })
    }

    fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > MAX_KEPT_BYTES {
            return;
        }
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        let total: usize = kept.iter().map(Vec::capacity).sum();
        if kept.len() >= MAX_KEPT || total + buf.capacity() > MAX_KEPT_BYTES {
            // Replace a smaller one: larger buffers serve more images.
            let smallest = kept
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, b)| (i, b.capacity()));
            match smallest {
                Some((i, cap))
                    if cap < buf.capacity() && total - cap + buf.capacity() <= MAX_KEPT_BYTES =>
                {
                    kept.swap_remove(i);
                }
                _ => return,
            }
        }
        buf.clear();
        kept.push(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A pool of its own: the process-wide one is shared with the tests that open images,
    // which run on other threads at the same time.
    fn pool() -> Pool {
        Pool {
            kept: Mutex::new(Vec::new()),
        }
    }

    #[test]
    fn buffers_are_reused_and_the_pool_stays_bounded() {
        let p = pool();
        let mut a = p.take(1 << 20, usize::MAX);
        assert!(a.capacity() >= 1 << 20 && a.is_empty());
        a.extend_from_slice(b"stale");
        let ptr = a.as_ptr();
        p.give(a);
        let b = p.take(1000, usize::MAX);
        assert_eq!(b.as_ptr(), ptr, "the kept buffer is handed out again");
        assert!(b.is_empty(), "nothing of the last image is left in it");
        p.give(b);
        let c = p.take(2 << 20, usize::MAX);
        assert_ne!(c.as_ptr(), ptr, "a kept buffer too small is not handed out");
        p.give(c);
        let d = p.take(1000, 1 << 20);
        assert!(
            d.capacity() <= 1 << 20,
            "a kept buffer larger than the bound is not handed out"
        );
        // Too large to keep.
        p.give(Vec::with_capacity(MAX_KEPT_BYTES + 1));
        for _ in 0..10 {
            p.give(Vec::with_capacity(12 << 20));
        }
        {
            let kept = p.kept.lock().unwrap();
            assert!(kept.len() <= MAX_KEPT);
            assert!(kept.iter().map(Vec::capacity).sum::<usize>() <= MAX_KEPT_BYTES);
        }
        // Full (2 + 12 + 12 MiB and no room for 8 more): an 8 MiB buffer takes the place
        // of the 2 MiB one, as larger buffers serve more images.
        p.give(Vec::with_capacity(8 << 20));
        let kept = p.kept.lock().unwrap();
        assert!(kept.iter().map(Vec::capacity).sum::<usize>() <= MAX_KEPT_BYTES);
        assert!(
            kept.iter().all(|b| b.capacity() >= 8 << 20),
            "{:?}",
            kept.iter().map(Vec::capacity).collect::<Vec<_>>()
        );
    }
}
