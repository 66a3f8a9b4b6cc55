//! ELF files already examined in a scan, by content: a fleet holds the same C library and
//! programs in every device tree (and in every boot image of one release), so the ELF parse,
//! the facts and the calloc analysis (pure functions of the bytes) are done once per distinct
//! content and copied for the other files.
//!
//! Equal means equal SHA-256 of the whole file (it is reported for every ELF file; a copy of
//! a file met before takes it from [`KnownBytes`], after comparing every byte). A fast hash
//! would not do: a crafted file colliding with a vulnerable libc could be reported as its
//! patched twin. What the facts take from the file's name (the kernel is
//! searched for a release string only in a file named `procnto*`; a library without SONAME is
//! a C library by its file name) is part of the key, and the path is set on each copy.
//!
//! Bounded: what is kept is charged to [`MAX_ELF_MEMO_BYTES`] (an estimate of each entry's
//! heap); past it, files are examined as if the memo were not there. The bytes of files met
//! twice are kept up to [`MAX_KNOWN_ELF_BYTES`]. Held by the scan of one target, dropped
//! with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::facts::{is_libc_name, FileFacts};
use crate::image_memo::ImageMemo;
use crate::in_flight::{Claim, InFlight};
use crate::FormatError;
use badalloc_formats::block_memo::BlockMemo;

/// Memory kept for the facts of examined ELF files, across the scan of one target.
pub const MAX_ELF_MEMO_BYTES: usize = 16 << 20;

/// What the facts of an ELF file take from its name (see `facts::facts_of`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct NameClass {
    procnto: bool,
    libc_name: bool,
}

impl NameClass {
    pub(crate) fn of(path: &str) -> NameClass {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        NameClass {
            procnto: file_name.starts_with("procnto"),
            libc_name: is_libc_name(file_name),
        }
    }
}

/// What examining one ELF file gave: its facts (path and SHA-256 included, both replaced on
/// each copy) and the error of its calloc analysis, or the error that stopped its parse.
pub(crate) type ElfExamined = Result<(FileFacts, Option<FormatError>), FormatError>;

/// The ELF files of one scan target already examined.
#[derive(Default)]
pub(crate) struct ElfMemo {
    state: Mutex<ElfMemoState>,
    /// Files being examined by a worker (see `in_flight`).
    in_flight: InFlight<([u8; 32], NameClass)>,
    /// What spares hashing a copy again.
    pub(crate) known: KnownBytes,
}

#[derive(Default)]
struct ElfMemoState {
    by_content: HashMap<([u8; 32], NameClass), Arc<ElfExamined>>,
    bytes: usize,
}

/// What is charged per entry besides its strings (the key, the map's slot, the facts'
/// fixed fields).
const ENTRY_COST: usize = 512;

impl ElfMemo {
    /// Whether another worker is examining a file of these bytes and name class now.
    pub(crate) fn busy(&self, digest: &[u8; 32], name: NameClass) -> bool {
        self.in_flight.busy(&(*digest, name))
    }

    /// Wait while another worker examines a file of these bytes and name class, then hold
    /// it until the claim is dropped (after [`ElfMemo::insert`]). None once the memo is
    /// full: what the other worker finds would not be kept, so there is nothing to wait for.
    pub(crate) fn enter(
        &self,
        digest: &[u8; 32],
        name: NameClass,
    ) -> Option<Claim<'_, ([u8; 32], NameClass)>> {
        if self.lock().bytes >= MAX_ELF_MEMO_BYTES - ENTRY_COST {
            return None;
        }
        Some(self.in_flight.enter(&(*digest, name)))
    }

    /// What a file with this SHA-256 and name class gave before.
    pub(crate) fn find(&self, digest: &[u8; 32], name: NameClass) -> Option<Arc<ElfExamined>> {
        self.lock().by_content.get(&(*digest, name)).cloned()
    }

    /// Keep what examining a file gave, unless the memo is full.
    pub(crate) fn insert(&self, digest: [u8; 32], name: NameClass, examined: ElfExamined) {
        let cost = cost_of(&examined);
        let mut state = self.lock();
        if state.bytes.saturating_add(cost) > MAX_ELF_MEMO_BYTES {
            return;
        }
        if state
            .by_content
            .insert((digest, name), Arc::new(examined))
            .is_none()
        {
            state.bytes += cost;
        }
    }

    /// Entries kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().by_content.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ElfMemoState> {
        // Every update is one insert: a panic elsewhere cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Bytes of ELF files met more than once in a scan, kept with their SHA-256: a later copy
/// whose bytes are equal (compared in full) takes the SHA-256 from here instead of hashing
/// again. A fast hash only finds the candidates; equality is decided by the bytes, so a
/// crafted file colliding with the fast hash is merely hashed itself.
///
/// A content's bytes are kept from its second sighting on (a scan where nothing repeats
/// keeps nothing), while [`MAX_KNOWN_ELF_BYTES`] allows.
#[derive(Default)]
pub(crate) struct KnownBytes {
    state: Mutex<KnownState>,
}

/// Bytes of ELF files kept to find their copies, across the scan of one target.
pub const MAX_KNOWN_ELF_BYTES: usize = 12 << 20;

/// Files with one fast hash and size whose bytes are kept (different contents colliding).
const MAX_KNOWN_PER_KEY: usize = 2;

/// Sightings remembered (16 bytes each) before a content's second sighting.
const MAX_SIGHTINGS: usize = 1 << 16;

/// Size and 128-bit xxh3 of a file's bytes.
type FastKey = (usize, u128);

#[derive(Default)]
struct KnownState {
    kept: HashMap<FastKey, Vec<Arc<Known>>>,
    seen_once: std::collections::HashSet<FastKey>,
    bytes: usize,
}

struct Known {
    bytes: Box<[u8]>,
    digest: [u8; 32],
}

impl KnownBytes {
    /// The SHA-256 of `data`: kept from an equal file met before, else computed (and the
    /// bytes kept if this is their second sighting and there is room).
    pub(crate) fn sha256(&self, data: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let key = (data.len(), xxhash_rust::xxh3::xxh3_128(data));
        let candidates = self.lock().kept.get(&key).cloned().unwrap_or_default();
        // Compared outside the lock.
        if let Some(k) = candidates.iter().find(|k| *k.bytes == *data) {
            return k.digest;
        }
        let digest: [u8; 32] = Sha256::digest(data).into();
        let mut state = self.lock();
        let second = state.seen_once.contains(&key);
        if !second {
            if state.seen_once.len() < MAX_SIGHTINGS {
                state.seen_once.insert(key);
            }
            return digest;
        }
        let room = state.bytes.saturating_add(data.len()) <= MAX_KNOWN_ELF_BYTES;
        let copies = state.kept.entry(key).or_default();
        if room && copies.len() < MAX_KNOWN_PER_KEY && !copies.iter().any(|k| k.digest == digest) {
            copies.push(Arc::new(Known {
                bytes: data.into(),
                digest,
            }));
            state.bytes += data.len();
        }
        digest
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KnownState> {
        // Every update is one insert: a panic elsewhere cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An estimate of the heap an entry holds: its strings and lists.
fn cost_of(examined: &ElfExamined) -> usize {
    let error = |e: &FormatError| 64 + e.message.len();
    ENTRY_COST
        + match examined {
            Err(e) => error(e),
            Ok((f, calloc_error)) => {
                let strings = |v: &[String]| v.iter().map(|s| 32 + s.len()).sum::<usize>();
                let calloc = f.calloc.as_ref().map_or(0, |c| {
                    256 + c.reason.len() + strings(&c.chain) * 3 + c.evidence.len() * 128
                });
                f.path.len()
                    + strings(&f.needed)
                    + strings(&f.comment)
                    + strings(&f.network_imports)
                    + f.qnx_info
                        .iter()
                        .map(|(k, v)| 64 + k.len() + v.len())
                        .sum::<usize>()
                    + f.markers.len() * 64
                    + f.offset_mismatches.len() * 64
                    + f.warnings.iter().map(error).sum::<usize>()
                    + calloc
                    + calloc_error.as_ref().map_or(0, error)
            }
        }
}

/// What a scan of one target remembers of the contents it has examined.
#[derive(Default)]
pub(crate) struct ScanMemo {
    pub(crate) images: ImageMemo,
    pub(crate) elves: ElfMemo,
    /// Set as each worker thread's block memo ([`badalloc_formats::block_memo::with_memo`]).
    pub(crate) blocks: Arc<BlockMemo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examined(path: &str, soname: Option<&str>) -> ElfExamined {
        let elf = badalloc_elf::ElfFile::parse(include_bytes!("../../../fixtures/qnx/i686/ls"))
            .expect("fixture parses");
        let mut facts = crate::facts::facts_of(path, &elf, None);
        facts.soname = soname.map(str::to_string);
        Ok((facts, None))
    }

    #[test]
    fn found_only_with_the_same_digest_and_name_class() {
        let memo = ElfMemo::default();
        let libc = NameClass::of("lib/libc.so.3");
        let other = NameClass::of("bin/ls");
        assert_ne!(libc, other);
        assert_ne!(NameClass::of("boot/procnto-smp"), other);
        assert_eq!(NameClass::of("img!/proc/boot/ls"), other);
        memo.insert([1; 32], libc, examined("lib/libc.so.3", None));
        assert!(memo.find(&[1; 32], libc).is_some());
        // Same bytes under a name that changes the facts: not the same entry.
        assert!(memo.find(&[1; 32], other).is_none());
        // One bit of the digest off: not found.
        let mut near = [1; 32];
        near[31] ^= 1;
        assert!(memo.find(&near, libc).is_none());
    }

    #[test]
    fn memory_is_bounded() {
        let memo = ElfMemo::default();
        let one = cost_of(&examined("bin/ls", None));
        assert!(one >= ENTRY_COST);
        let fits = MAX_ELF_MEMO_BYTES / one;
        for i in 0..fits + 100 {
            let mut digest = [0u8; 32];
            digest[..8].copy_from_slice(&(i as u64).to_le_bytes());
            memo.insert(digest, NameClass::of("bin/ls"), examined("bin/ls", None));
        }
        assert_eq!(memo.len(), fits);
        assert!(memo.lock().bytes <= MAX_ELF_MEMO_BYTES);
    }

    fn sha(data: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::digest(data).into()
    }

    /// The SHA-256 is right at every sighting; the bytes are kept from the second one on
    /// and then spare the hashing.
    #[test]
    fn known_bytes_give_the_sha256_of_equal_bytes_only() {
        let known = KnownBytes::default();
        let a = include_bytes!("../../../fixtures/qnx/i686/ls");
        for _ in 0..3 {
            assert_eq!(known.sha256(a), sha(a));
        }
        assert_eq!(known.lock().bytes, a.len());
        // A crafted file with the same size and fast hash as `a` but other bytes (a
        // collision, put in place by hand): compared byte by byte, it is hashed itself.
        let mut other = a.to_vec();
        other[100] ^= 1;
        let key = (a.len(), xxhash_rust::xxh3::xxh3_128(a));
        let forged = (other.len(), xxhash_rust::xxh3::xxh3_128(&other));
        let kept = known.lock().kept.get(&key).cloned().expect("kept");
        known.lock().kept.insert(forged, kept);
        assert_eq!(known.sha256(&other), sha(&other));
        assert_ne!(sha(&other), sha(a));
    }

    /// What is kept never goes past MAX_KNOWN_ELF_BYTES, and a content seen once is not
    /// kept.
    #[test]
    fn known_bytes_are_bounded() {
        let known = KnownBytes::default();
        let big = vec![7u8; MAX_KNOWN_ELF_BYTES / 2 + 1];
        known.sha256(&big);
        assert_eq!(known.lock().bytes, 0, "seen once");
        known.sha256(&big);
        assert_eq!(known.lock().bytes, big.len());
        let mut second = big.clone();
        second[0] = 8;
        known.sha256(&second);
        assert_eq!(known.sha256(&second), sha(&second));
        assert_eq!(known.lock().bytes, big.len(), "no room for a second");
    }
}
