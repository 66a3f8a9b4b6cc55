//! ELF files already examined in a scan, by content: a fleet holds the same C library and
//! programs in every device tree (and in every boot image of one release), so the ELF parse,
//! the facts and the calloc analysis (pure functions of the bytes) are done once per distinct
//! content and copied for the other files.
//!
//! Equal means equal SHA-256 of the whole file (computed anyway: it is reported for every ELF
//! file). A fast hash would not do: a crafted file colliding with a vulnerable libc could be
//! reported as its patched twin. What the facts take from the file's name (the kernel is
//! searched for a release string only in a file named `procnto*`; a library without SONAME is
//! a C library by its file name) is part of the key, and the path is set on each copy.
//!
//! Bounded: what is kept is charged to [`MAX_ELF_MEMO_BYTES`] (an estimate of each entry's
//! heap); past it, files are examined as if the memo were not there. No bytes of the files
//! are kept. Held by the scan of one target, dropped with it.

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
}
