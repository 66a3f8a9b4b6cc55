//! A map kept as one sorted vector: the dataflow's states hold a few dozen registers and
//! stack slots and are cloned at every block edge, where a `BTreeMap` clone allocates a
//! node per few entries and this is a single allocation and copy. Lookups are binary
//! searches; the iteration order is the key order, as with `BTreeMap`, so the analysis
//! visits locations in the same order and its reports do not change.

#[derive(PartialEq, Eq)]
pub struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

/// Free slots a copy starts with: a state is copied at a block's entry and then gains a few
/// locations in the block, which would otherwise reallocate on the first new one.
const HEADROOM: usize = 4;

impl<K: Copy, V: Copy> Clone for SortedMap<K, V> {
    fn clone(&self) -> Self {
        let mut entries = Vec::with_capacity(self.entries.len() + HEADROOM);
        entries.extend_from_slice(&self.entries);
        SortedMap { entries }
    }
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord + Copy, V> SortedMap<K, V> {
    #[inline]
    fn find(&self, k: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(e, _)| e.cmp(k))
    }

    #[inline]
    pub fn get(&self, k: &K) -> Option<&V> {
        self.find(k)
            .ok()
            .and_then(|i| self.entries.get(i))
            .map(|(_, v)| v)
    }

    #[inline]
    pub fn contains_key(&self, k: &K) -> bool {
        self.find(k).is_ok()
    }

    #[inline]
    pub fn insert(&mut self, k: K, v: V) {
        match self.find(&k) {
            Ok(i) => {
                if let Some(e) = self.entries.get_mut(i) {
                    e.1 = v;
                }
            }
            Err(i) => self.entries.insert(i, (k, v)),
        }
    }

    /// Set the value of `k` if it is present, or add it if the map holds fewer than
    /// `max_len` entries (one search either way).
    #[inline]
    pub fn insert_within(&mut self, k: K, v: V, max_len: usize) {
        match self.find(&k) {
            Ok(i) => {
                if let Some(e) = self.entries.get_mut(i) {
                    e.1 = v;
                }
            }
            Err(i) if self.entries.len() < max_len => self.entries.insert(i, (k, v)),
            Err(_) => {}
        }
    }

    #[inline]
    pub fn remove(&mut self, k: &K) {
        if let Ok(i) = self.find(k) {
            self.entries.remove(i);
        }
    }

    /// Keep the entries whose key passes `keep`.
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.entries.retain(|(k, _)| keep(k));
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.entries.iter().map(|(k, _)| k)
    }

    /// A new map over the keys of both, in order: each key gets `f(value here, value
    /// there)`, and is left out where that is None. One pass and one allocation (joins of
    /// dataflow states are the analysis' most frequent operation).
    pub fn merge(
        &self,
        other: &Self,
        mut f: impl FnMut(Option<&V>, Option<&V>) -> Option<V>,
    ) -> Self {
        let (a, b) = (&self.entries, &other.entries);
        let mut out = Vec::with_capacity(a.len().max(b.len()) + HEADROOM);
        let (mut i, mut j) = (0, 0);
        loop {
            let (k, v) = match (a.get(i), b.get(j)) {
                (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                    std::cmp::Ordering::Less => {
                        i += 1;
                        (*ka, f(Some(va), None))
                    }
                    std::cmp::Ordering::Greater => {
                        j += 1;
                        (*kb, f(None, Some(vb)))
                    }
                    std::cmp::Ordering::Equal => {
                        i += 1;
                        j += 1;
                        (*ka, f(Some(va), Some(vb)))
                    }
                },
                (Some((ka, va)), None) => {
                    i += 1;
                    (*ka, f(Some(va), None))
                }
                (None, Some((kb, vb))) => {
                    j += 1;
                    (*kb, f(None, Some(vb)))
                }
                (None, None) => break,
            };
            if let Some(v) = v {
                out.push((k, v));
            }
        }
        SortedMap { entries: out }
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_a_btreemap() {
        // The same pseudo-random inserts and removes on both; contents and order agree.
        let mut ours: SortedMap<i64, u32> = SortedMap::default();
        let mut reference = BTreeMap::new();
        let mut x: u32 = 7;
        for step in 0..5000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let k = i64::from((x >> 16) % 97) - 48;
            if x % 3 == 0 {
                ours.remove(&k);
                reference.remove(&k);
            } else {
                ours.insert(k, step);
                reference.insert(k, step);
            }
            assert_eq!(ours.get(&k), reference.get(&k));
            assert_eq!(ours.contains_key(&k), reference.contains_key(&k));
        }
        assert_eq!(ours.len(), reference.len());
        assert!(ours.keys().eq(reference.keys()));
        assert!(ours.keys().all(|k| ours.get(k) == reference.get(k)));
        ours.clear();
        assert_eq!(ours.len(), 0);
    }

    #[test]
    fn merge_visits_the_union_of_keys_in_order() {
        // Two pseudo-random maps; the merge sees every key once, with both sides' values,
        // and keeps exactly what `f` keeps.
        let mut x: u32 = 11;
        for _ in 0..200 {
            let mut a: SortedMap<i64, u32> = SortedMap::default();
            let mut b: SortedMap<i64, u32> = SortedMap::default();
            for _ in 0..40 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let k = i64::from((x >> 16) % 61) - 30;
                if x % 2 == 0 {
                    a.insert(k, x >> 8);
                } else {
                    b.insert(k, x >> 8);
                }
            }
            let mut seen = Vec::new();
            let m = a.merge(&b, |p, q| {
                seen.push((p.copied(), q.copied()));
                let s = p
                    .copied()
                    .unwrap_or(0)
                    .wrapping_add(q.copied().unwrap_or(0));
                (s % 3 != 0).then_some(s)
            });
            let union: std::collections::BTreeSet<i64> =
                a.keys().chain(b.keys()).copied().collect();
            assert_eq!(seen.len(), union.len());
            for (k, (p, q)) in union.iter().zip(&seen) {
                assert_eq!((a.get(k).copied(), b.get(k).copied()), (*p, *q));
                let s = p.unwrap_or(0).wrapping_add(q.unwrap_or(0));
                assert_eq!(m.get(k).copied(), (s % 3 != 0).then_some(s));
            }
            assert!(m.keys().all(|k| union.contains(k)));
            assert!(m.keys().zip(m.keys().skip(1)).all(|(p, q)| p < q));
        }
    }
}
