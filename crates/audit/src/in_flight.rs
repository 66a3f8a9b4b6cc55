//! Contents being examined right now, so that two workers meeting the same content at the
//! same time examine it once: the second waits for the first and then finds its result in
//! the memo, instead of doing the same work beside it.
//!
//! Why it matters: the workers take neighbouring files of one queue, and a fleet's device
//! trees follow one another, so the second worker reaches the next device's copy of a slow
//! content (a stripped static program searched for its calloc, a boot image to decode)
//! while the first is still on it. With two threads on the fleet benchmark that doubled
//! the calloc search's share of the CPU time.
//!
//! A worker that meets such a content at the top of a file of a directory walk does not
//! wait: it sets the file aside and takes the next one ([`InFlight::busy`]), and comes back
//! to it once the queue is empty (waiting then, if it must).
//!
//! Never a deadlock: a worker holds at most one content of each kind at a time, and what
//! it does while holding one only waits for contents of a kind below it (an image's
//! examination may wait for an ELF file; an ELF file's examination waits for nothing). A
//! wait is also bounded ([`MAX_WAIT`]): past it the worker examines the content itself,
//! as it would without this.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// The longest a worker waits for another to finish the same content.
pub const MAX_WAIT: Duration = Duration::from_secs(5);

/// The contents (by key) that workers are examining.
pub(crate) struct InFlight<K> {
    held: Mutex<HashMap<K, ThreadId>>,
    released: Condvar,
}

impl<K> Default for InFlight<K> {
    fn default() -> Self {
        InFlight {
            held: Mutex::new(HashMap::new()),
            released: Condvar::new(),
        }
    }
}

/// A content this thread is examining (or waited for in vain): released when dropped, a
/// panic included, and the waiting workers woken.
pub(crate) struct Claim<'a, K: Eq + Hash> {
    owner: &'a InFlight<K>,
    key: Option<K>,
}

impl<K: Eq + Hash + Clone> InFlight<K> {
    /// Wait while another thread examines `key` (at most [`MAX_WAIT`]), then hold it. The
    /// caller then looks in its memo: what the other thread found is there.
    pub(crate) fn enter(&self, key: &K) -> Claim<'_, K> {
        let me = std::thread::current().id();
        let deadline = Instant::now() + MAX_WAIT;
        let mut held = self.lock();
        loop {
            match held.get(key) {
                None => {
                    held.insert(key.clone(), me);
                    return Claim {
                        owner: self,
                        key: Some(key.clone()),
                    };
                }
                // Held by this thread already (not expected): nothing to wait for.
                Some(&owner) if owner == me => break,
                Some(_) => {}
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            held = self
                .released
                .wait_timeout(held, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Claim {
            owner: self,
            key: None,
        }
    }

    /// Whether another thread is examining `key` now (a worker can then take another file
    /// first and come back to this one: see `scan::walk_and_examine`).
    pub(crate) fn busy(&self, key: &K) -> bool {
        let me = std::thread::current().id();
        self.lock().get(key).is_some_and(|&owner| owner != me)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, ThreadId>> {
        // Every update is one insert or one remove: a panic cannot leave it half done.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Eq + Hash> Drop for Claim<'_, K> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.owner
                .held
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
            self.owner.released.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Two threads entering one key: the second enters only once the first has left, so
    /// the work done under the claim never overlaps; other keys do not wait.
    #[test]
    fn a_second_thread_waits_for_the_first_and_other_keys_do_not() {
        let flight = Arc::new(InFlight::<u32>::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let overlaps = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (flight, inside, overlaps) = (flight.clone(), inside.clone(), overlaps.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _claim = flight.enter(&7);
                        if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                            overlaps.fetch_add(1, Ordering::SeqCst);
                        }
                        std::thread::sleep(Duration::from_micros(200));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no panic");
        }
        assert_eq!(overlaps.load(Ordering::SeqCst), 0);
        // Another key is entered at once while 7 is held.
        let _seven = flight.enter(&7);
        let started = Instant::now();
        let _eight = flight.enter(&8);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    /// A claim is released when its holder panics, and the waiter goes on.
    #[test]
    fn a_panic_releases_the_claim() {
        let flight = Arc::new(InFlight::<u32>::default());
        let f = flight.clone();
        let panicked = std::thread::spawn(move || {
            let _claim = f.enter(&1);
            panic!("a decoder bug");
        })
        .join();
        assert!(panicked.is_err());
        let started = Instant::now();
        let claim = flight.enter(&1);
        assert!(claim.key.is_some(), "held, not timed out");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    /// `busy` is true only while another thread holds the key.
    #[test]
    fn busy_while_another_thread_holds_the_key() {
        let flight = Arc::new(InFlight::<u32>::default());
        assert!(!flight.busy(&3));
        let mine = flight.enter(&3);
        assert!(!flight.busy(&3), "held by this thread");
        let f = flight.clone();
        let seen_busy = std::thread::spawn(move || f.busy(&3))
            .join()
            .expect("no panic");
        assert!(seen_busy);
        drop(mine);
        let f = flight.clone();
        assert!(!std::thread::spawn(move || f.busy(&3))
            .join()
            .expect("no panic"));
    }
}
