//! Carving the flash file systems, which have no magic number at a fixed offset:
//! - EFS (NOR): its boot info (`QSSL_F3S`, [`efs::SIGNATURE`]) lies in one of the first
//!   units of a partition; the unit info before it and the boot info's unit index give the
//!   partition's start ([`efs::boot_claim`]), which [`efs::probe`] checks.
//! - ETFS (NAND): every version of the file table's first cluster names `.filetable`
//!   ([`etfs::TABLE_SIGNATURE`]), and its spare area says file id 1, cluster 0. The file
//!   system starts at the first page holding a transaction of the run of ETFS pages (valid
//!   or erased) around it: a loader before it is not ETFS, and erased blocks before a used
//!   block are not claimed (a used block is written from its first page, so the first page
//!   found is on a block boundary).
//!
//! Hits are gathered per chunk (in parallel, with the other signatures), then resolved once
//! for the whole buffer in offset order ([`resolve`]): a signature inside a file system
//! already found is that file system's (an ETFS holds many versions of its file table),
//! and each start is probed once. The work (bytes walked and probed) is bounded by
//! [`FLASH_WORK_PER_BYTE`] × the buffer + [`FLASH_WORK_BASE`]: past it, the signatures
//! left are reported as not examined, like those past `MAX_CARVED_PER_FILE`.

use std::collections::{HashMap, HashSet};

use super::carve_cut::{Cut, CutBound, MAX_CARVED_PER_FILE};
use super::{efs, etfs, ContainerKind};

/// Bytes of flash-carving work allowed per byte carved: walking ETFS pages, looking for
/// the unit an EFS boot info is in, and probing the file systems found. A real dump costs
/// about one pass for each file system in it (its pages are walked back once and probed
/// once); a crafted one with file-table or boot-info signatures at every alignment would
/// otherwise cost a pass per signature.
pub const FLASH_WORK_PER_BYTE: u64 = 4;
/// Work allowed on top of [`FLASH_WORK_PER_BYTE`], so small buffers with a few signatures
/// (each EFS one costs [`efs::BOOT_INFO_REACH`]) are always examined.
pub const FLASH_WORK_BASE: u64 = 64 << 20;

/// A flash signature found, not yet resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Candidate {
    /// An EFS boot info signature, at this offset.
    Efs(usize),
    /// A version of the ETFS file table's first cluster: where its data starts, and the
    /// page layout (an index for `etfs::page_at`).
    Etfs(usize, usize),
}

impl Candidate {
    fn at(self) -> usize {
        match self {
            Candidate::Efs(p) | Candidate::Etfs(p, _) => p,
        }
    }
    fn kind(self) -> ContainerKind {
        match self {
            Candidate::Efs(_) => ContainerKind::Efs,
            Candidate::Etfs(..) => ContainerKind::Etfs,
        }
    }
}

/// The flash signatures of one chunk, at most [`MAX_CARVED_PER_FILE`] (the first by
/// offset); those past it are counted in `cut`.
#[derive(Default)]
pub(super) struct Candidates {
    list: Vec<Candidate>,
    pub(super) cut: Option<Cut>,
}

/// Page-walking memory of the ETFS candidates of one layout and page alignment: the last
/// candidate's cluster offset and the start of its file system, once known.
#[derive(Default)]
struct Runs {
    last: HashMap<(usize, usize), (usize, Option<usize>)>,
}

impl Runs {
    /// Whether the last candidate of `at`'s layout and alignment lies in the same file
    /// system as `at` (every page between them decodes as ETFS), and that candidate's start
    /// when known; `at` becomes the last of its class.
    fn joins_last(
        &mut self,
        data: &[u8],
        at: usize,
        layout: usize,
        work: &mut u64,
    ) -> Option<Option<usize>> {
        let page = etfs::page_size(layout);
        let key = (layout, at % page);
        let last = self.last.insert(key, (at, None))?;
        let mut p = at;
        while p > last.0 {
            p -= page;
            if !charge(work, page as u64) || etfs::page_at(data, p, layout).is_none() {
                return None;
            }
        }
        (p == last.0).then_some(last.1)
    }

    fn set_start(&mut self, at: usize, layout: usize, start: usize) {
        let key = (layout, at % etfs::page_size(layout));
        self.last.insert(key, (at, Some(start)));
    }
}

/// Take `cost` from `work`; false (and nothing taken) when there is not that much left.
fn charge(work: &mut u64, cost: u64) -> bool {
    match work.checked_sub(cost) {
        Some(left) => {
            *work = left;
            true
        }
        None => false,
    }
}

/// The flash signatures of a chunk: `efs_sigs`, positions of [`efs::SIGNATURE`];
/// `table_sigs`, of [`etfs::TABLE_SIGNATURE`] (both sorted). ETFS candidates are those
/// whose page holds the file table's first cluster in some layout; of candidates of one
/// layout whose pages between decode as ETFS, only the first is kept (the work of
/// checking that is bounded like [`resolve`]'s, for the chunk).
pub(super) fn candidates(data: &[u8], efs_sigs: Vec<usize>, table_sigs: Vec<usize>) -> Candidates {
    let span = efs_sigs
        .iter()
        .chain(&table_sigs)
        .fold((usize::MAX, 0), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    let mut work = work_for(span.1.saturating_sub(span.0));
    let mut runs = Runs::default();
    let mut list: Vec<Candidate> = efs_sigs.into_iter().map(Candidate::Efs).collect();
    for sig in table_sigs {
        let Some(at) = sig.checked_sub(etfs::TABLE_SIGNATURE_AT) else {
            continue;
        };
        for layout in 0..etfs::LAYOUT_COUNT {
            if etfs::is_table_start(data, at, layout)
                && runs.joins_last(data, at, layout, &mut work).is_none()
            {
                list.push(Candidate::Etfs(at, layout));
            }
        }
    }
    list.sort_unstable();
    let cut = list.get(MAX_CARVED_PER_FILE).map(|&c| Cut {
        more: (list.len() - MAX_CARVED_PER_FILE) as u64,
        first: c.at() as u64,
        kind: c.kind(),
        bound: CutBound::Count,
    });
    list.truncate(MAX_CARVED_PER_FILE);
    Candidates { list, cut }
}

/// The work allowed for carving `len` bytes.
fn work_for(len: usize) -> u64 {
    (len as u64)
        .saturating_mul(FLASH_WORK_PER_BYTE)
        .saturating_add(FLASH_WORK_BASE)
}

/// The flash file systems of `data` that start at `from` or later, from the candidates of
/// all its chunks: (offset, kind) of each, and the candidates left when the work bound was
/// reached.
pub(super) fn resolve(
    data: &[u8],
    from: usize,
    chunks: Vec<Candidates>,
) -> (Vec<(u64, ContainerKind)>, Option<Cut>) {
    let work = work_for(data.len().saturating_sub(from));
    resolve_within(data, from, chunks, work)
}

/// [`resolve`] with `work` bytes of work allowed.
fn resolve_within(
    data: &[u8],
    from: usize,
    chunks: Vec<Candidates>,
    mut work: u64,
) -> (Vec<(u64, ContainerKind)>, Option<Cut>) {
    let mut all: Vec<Candidate> = chunks.into_iter().flat_map(|c| c.list).collect();
    all.sort_unstable();
    let mut found = Vec::new();
    let mut r = Resolver {
        from,
        ..Resolver::default()
    };
    for (i, &c) in all.iter().enumerate() {
        let done = match c {
            Candidate::Efs(sig) => r.efs(data, sig, &mut work),
            Candidate::Etfs(at, layout) => r.etfs(data, at, layout, &mut work),
        };
        match done {
            Some(Some((start, kind))) => found.push((start as u64, kind)),
            Some(None) => {}
            None => {
                let cut = Cut {
                    more: (all.len() - i) as u64,
                    first: c.at() as u64,
                    kind: c.kind(),
                    bound: CutBound::FlashWork,
                };
                return (found, Some(cut));
            }
        }
    }
    (found, None)
}

/// What [`resolve`] has found so far.
#[derive(Default)]
struct Resolver {
    /// Where the bytes to carve start: nothing before is looked at.
    from: usize,
    /// End of the last EFS partition and of the last ETFS found: signatures before them
    /// are theirs.
    efs_end: usize,
    etfs_end: usize,
    /// Starts probed (found or not).
    probed: HashSet<(usize, ContainerKind)>,
    runs: Runs,
}

/// One candidate resolved: `Some(Some(..))` a file system found (its start and kind),
/// `Some(None)` none (or one already found), `None` the work bound was reached.
type Resolved = Option<Option<(usize, ContainerKind)>>;

impl Resolver {
    fn efs(&mut self, data: &[u8], sig: usize, work: &mut u64) -> Resolved {
        if sig < self.efs_end {
            return Some(None);
        }
        if !charge(work, efs::BOOT_INFO_REACH as u64) {
            return None;
        }
        let Some((start, len)) = efs::boot_claim(data, sig).filter(|&(s, _)| s >= self.from) else {
            return Some(None);
        };
        if !self.probed.insert((start, ContainerKind::Efs)) {
            return Some(None);
        }
        let end = start
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(data.len());
        self.take(data, start, end, ContainerKind::Efs, work)
    }

    fn etfs(&mut self, data: &[u8], at: usize, layout: usize, work: &mut u64) -> Resolved {
        if at < self.etfs_end {
            return Some(None);
        }
        let page = etfs::page_size(layout);
        let start = match self.runs.joins_last(data, at, layout, work) {
            Some(Some(start)) => start,
            _ => first_used_page(data, self.from, at, layout, work)?,
        };
        self.runs.set_start(at, layout, start);
        if !self.probed.insert((start, ContainerKind::Etfs)) {
            return Some(None);
        }
        // The file system ends at the first page that does not decode: the probe reads no
        // further.
        let mut end = at;
        while etfs::page_at(data, end, layout).is_some() {
            if !charge(work, page as u64) {
                return None;
            }
            end += page;
        }
        self.take(data, start, end, ContainerKind::Etfs, work)
    }

    /// Probe the file system of `kind` (EFS or ETFS) at `start`, reading no further than
    /// `end` (the work: those bytes), and remember where what it claims ends.
    fn take(
        &mut self,
        data: &[u8],
        start: usize,
        end: usize,
        kind: ContainerKind,
        work: &mut u64,
    ) -> Resolved {
        if !charge(work, end.saturating_sub(start) as u64) {
            return None;
        }
        let probe = match kind {
            ContainerKind::Efs => efs::probe,
            _ => etfs::probe,
        };
        let span = data.get(..end).and_then(|d| probe(d, start));
        Some(span.map(|span| {
            let claimed = start.saturating_add(usize::try_from(span).unwrap_or(usize::MAX));
            let last = match kind {
                ContainerKind::Efs => &mut self.efs_end,
                _ => &mut self.etfs_end,
            };
            *last = (*last).max(claimed);
            (start, kind)
        }))
    }
}

/// Transactions of clusters past this are not taken for the first page of a file system:
/// no file the reader would read has more (`DEFAULT_MAX_EXPANDED` in the smallest
/// clusters, 512 bytes).
const MAX_PLAUSIBLE_CLUSTER: u32 = (super::DEFAULT_MAX_EXPANDED / 512) as u32;

/// The first page of the file system whose file table's first cluster is at `at`: the run
/// of ETFS pages (valid or erased) that holds it is walked back to a page that does not
/// decode (or to `from`), and the earliest page of the run holding a transaction of one of
/// the table's file ids is taken. (On NAND with driver spare areas, a loader's pages often decode
/// too: a good-block mark and ECC bytes; their "file ids" and "clusters" are noise, mostly
/// past the table's.) None when the work bound is reached.
fn first_used_page(
    data: &[u8],
    from: usize,
    at: usize,
    layout: usize,
    work: &mut u64,
) -> Option<usize> {
    let page = etfs::page_size(layout);
    let fids = etfs::table_fids(data, at);
    let mut first = at;
    let mut p = at;
    while let Some(prev) = p.checked_sub(page).filter(|&q| q >= from) {
        if !charge(work, page as u64) {
            return None;
        }
        match etfs::page_at(data, prev, layout) {
            Some(Some((fid, cluster))) if fid < fids && cluster < MAX_PLAUSIBLE_CLUSTER => {
                first = prev
            }
            Some(_) => {}
            None => break,
        }
        p = prev;
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of 1 KiB + 16 (transaction record): the first cluster of a file table
    /// (entries 0 and 1: the root and `.filetable`), version `sequence`.
    fn table_page(sequence: u32) -> Vec<u8> {
        let mut p = vec![0u8; 1040];
        p[64 + 4..64 + 8].copy_from_slice(&0o100444u32.to_le_bytes());
        p[64 + 28..64 + 32].copy_from_slice(&128u32.to_le_bytes());
        p[96..96 + 11].copy_from_slice(etfs::TABLE_SIGNATURE);
        p[1024..1028].copy_from_slice(&1u32.to_le_bytes()); // file id
        p[1032..1034].copy_from_slice(&1u16.to_le_bytes()); // clusters written together
        p[1036..1040].copy_from_slice(&sequence.to_le_bytes());
        p
    }

    fn signatures(data: &[u8]) -> Vec<usize> {
        memchr::memmem::find_iter(data, etfs::TABLE_SIGNATURE).collect()
    }

    #[test]
    fn versions_of_one_file_table_are_one_file_system_probed_once() {
        // [not ETFS][table v1][table v2][not ETFS][table v3]: the first two are one file
        // system (found at the first), the third another.
        let mut data = vec![0u8; 1040];
        data.extend(table_page(1));
        data.extend(table_page(2));
        data.extend(vec![0u8; 1040]);
        data.extend(table_page(3));
        let chunk = candidates(&data, Vec::new(), signatures(&data));
        // The second version joins the first already in its chunk.
        let kept: Vec<usize> = chunk.list.iter().map(|c| c.at()).collect();
        assert_eq!(kept, [1040, 4160]);
        let (found, cut) = resolve(&data, 0, vec![chunk]);
        assert_eq!(
            found,
            [(1040, ContainerKind::Etfs), (4160, ContainerKind::Etfs)]
        );
        assert_eq!(cut, None);
        // Not before `from`: the first file system is taken from its first page after it.
        let after: Vec<usize> = signatures(&data[2000..]).iter().map(|p| p + 2000).collect();
        let (found, _) = resolve(&data, 2000, vec![candidates(&data, Vec::new(), after)]);
        assert_eq!(
            found,
            [(2080, ContainerKind::Etfs), (4160, ContainerKind::Etfs)]
        );
    }

    #[test]
    fn past_the_work_bound_the_signatures_left_are_reported_not_examined() {
        let mut data = vec![0u8; 1040];
        data.extend(table_page(1));
        data.extend(vec![0u8; 1040]);
        data.extend(table_page(2));
        let all = || candidates(&data, Vec::new(), signatures(&data));
        // Enough for the first (a page walked back, one forward, one probed), not both.
        let (found, cut) = resolve_within(&data, 0, vec![all()], 3 * 1040 + 1040);
        assert_eq!(found, [(1040, ContainerKind::Etfs)]);
        let cut = cut.expect("cut");
        assert_eq!(
            (cut.more, cut.first, cut.kind),
            (1, 3120, ContainerKind::Etfs)
        );
        let (found, cut) = resolve_within(&data, 0, vec![all()], 100);
        assert!(found.is_empty());
        assert_eq!(cut.map(|c| (c.more, c.first)), Some((2, 1040)));
        // EFS boot infos cost the reach looked back for their unit.
        let mut efs = vec![0xffu8; 0x20000];
        efs[0x10004..0x1000c].copy_from_slice(efs::SIGNATURE);
        let chunk = candidates(&efs, vec![0x10004], Vec::new());
        let (_, cut) = resolve_within(&efs, 0, vec![chunk], efs::BOOT_INFO_REACH as u64 - 1);
        assert_eq!(
            cut.map(|c| (c.first, c.kind)),
            Some((0x10004, ContainerKind::Efs))
        );
    }
}
