//! The scan: targets → files → facts → verdict. Files are examined in parallel; each file's
//! bytes are dropped as soon as its facts are taken, so memory stays flat as trees grow.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::classify::{classify, Findings, UnreadableFile};
use crate::content_memo::ScanMemo;
use crate::evidence;
use crate::examine::{examine_bytes, examine_path, report_unread};
pub use crate::examine::{
    MAX_ENTRY_ERRORS_LISTED, MAX_EXPANDED_PER_FILE, MAX_NESTING, MAX_SAME_CONTENT_LISTED,
};
use crate::facts::{is_libc_name, FileFacts};
use crate::model::{
    Binary, CallocFinding, Image, ImageKind, Libc, LocatedByAddress, ScanError, ScanStats, Symlink,
    Target, TargetKind, Verdict,
};
use crate::outcome::FileOutcome;
use crate::source::read::describe_read_error;
use crate::source::walk::{walk_streaming, FoundFile};
use crate::source::WalkItem;
use crate::source::{read_named_file, FileBytes};
use crate::surface;
use crate::ErrorKind;
use badalloc_elf::ElfType;
use badalloc_formats::block_memo::with_memo;
use badalloc_formats::names::{escape_os, escape_path};
use badalloc_formats::work_budget::ScanWork;
pub use badalloc_formats::work_budget::{
    MAX_EXTRA_WORK_PER_FILE, MAX_EXTRA_WORK_PER_SCAN, WORK_PER_INPUT_BYTE,
};

/// The most worker threads a scan uses (`--jobs`, and the default of one per core). The
/// workers share one queue: past a few dozen they only wait on each other (`--jobs 256` on
/// a tree of ten files took 0.36 s, `--jobs 1024` 14 s).
pub const MAX_JOBS: usize = 64;

/// Worker threads for `jobs` (`None`: one per core), within 1..=[`MAX_JOBS`].
pub fn worker_threads(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, MAX_JOBS)
}

#[derive(Clone, Default)]
pub struct ScanOptions {
    /// Worker threads; `None` = one per core (at most [`MAX_JOBS`] either way).
    pub jobs: Option<usize>,
    /// Told about progress (the CLI draws a bar from it); `None` = silent.
    pub progress: Option<Arc<dyn Progress>>,
}

/// Receives progress as files are examined, from worker threads.
pub trait Progress: Send + Sync {
    /// A target is being scanned (its files are still being found).
    fn target_started(&self, path: &str);
    /// The walk found `files` more files to examine.
    fn files_found(&self, files: u64);
    /// ...holding `bytes` (their sizes on disk). Asked only of a receiver that wants it:
    /// the walk otherwise takes no file's size.
    fn bytes_found(&self, _bytes: u64) {}
    /// Whether [`Progress::bytes_found`] is wanted (it costs one `lstat` per file).
    fn wants_bytes(&self) -> bool {
        false
    }
    /// One file (of the current target) has been examined.
    fn file_done(&self, bytes: u64);
    fn target_done(&self);
}

/// Scan every target; one entry per target, in the order given.
pub fn scan(targets: &[PathBuf], options: &ScanOptions) -> Vec<Target> {
    let mut done = Vec::with_capacity(targets.len());
    scan_each(targets, options, |t| done.push(t));
    done
}

/// Scan every target in the order given, handing each report to `finished` as soon as its
/// target is done (`--format ndjson` writes it out then).
pub fn scan_each(targets: &[PathBuf], options: &ScanOptions, mut finished: impl FnMut(Target)) {
    // No pool (the system would not start its threads): the files are examined on this
    // thread, after the walk.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(worker_threads(options.jobs))
        .build()
        .ok();
    let progress = options.progress.as_deref();
    for t in targets {
        finished(scan_target(t, pool.as_ref(), progress));
    }
}

fn scan_target(
    path: &Path,
    pool: Option<&rayon::ThreadPool>,
    progress: Option<&dyn Progress>,
) -> Target {
    let shown = escape_path(path);
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return unreadable(&shown, format!("cannot read {shown}: {e}")),
    };
    let mut symlinks = Vec::new();
    let mut errors = Vec::new();
    let mut stats = ScanStats::default();
    let (kind, outcomes): (TargetKind, InPathOrder) = if meta.is_dir() {
        // A directory that cannot be listed is an unreadable PATH, not an empty tree.
        if let Err(e) = std::fs::read_dir(path) {
            let why = describe_read_error(&e);
            return unreadable(&shown, format!("cannot read directory {shown}: {why}"));
        }
        if let Some(p) = progress {
            p.target_started(&shown);
        }
        let (items, outcomes) = walk_and_examine(path, pool, progress);
        for item in items {
            match item {
                WalkItem::Symlink { rel, target } => symlinks.push(Symlink { path: rel, target }),
                WalkItem::Skipped { rel, kind, reason } => {
                    stats.skipped += 1;
                    errors.push(ScanError {
                        path: rel,
                        offset: None,
                        kind,
                        message: reason,
                    });
                }
                WalkItem::File { .. } => {}
            }
        }
        if let Some(p) = progress {
            p.target_done();
        }
        (TargetKind::Directory, outcomes)
    } else if meta.is_file() {
        let name = path
            .file_name()
            .map(escape_os)
            .unwrap_or_else(|| shown.clone());
        // In the pool: a large dump is carved in parallel, on `--jobs` threads.
        let (memo, work) = (ScanMemo::default(), ScanWork::default());
        let examine = || {
            with_memo(&memo.blocks, || {
                examine_path(&name, path, &memo, &work, false)
            })
        };
        let outcome = match pool {
            Some(pool) => pool.install(examine),
            None => examine(),
        };
        (outcome.kind, InPathOrder::from_one(outcome))
    } else if is_device(&meta) {
        // A flash partition or disk named as PATH: a raw dump, read up to a bound.
        let bytes = match read_named_file(path) {
            Ok(b) => b,
            Err(e) => {
                let why = describe_read_error(&e);
                return unreadable(&shown, format!("cannot read {shown}: {why}"));
            }
        };
        let name = path
            .file_name()
            .map(escape_os)
            .unwrap_or_else(|| shown.clone());
        let outcome = examine_device(&name, &bytes, pool);
        (outcome.kind, InPathOrder::from_one(outcome))
    } else if meta.file_type().is_symlink() {
        // A symlink given on the command line is the user's explicit choice: follow it once.
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() || m.is_dir() || is_device(&m) => {
                let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
                let mut r = scan_target(&target, pool, progress);
                r.path = shown;
                return r;
            }
            _ => {
                return unreadable(
                    &shown,
                    format!("{shown} is a symbolic link to nothing readable"),
                )
            }
        }
    } else {
        // A FIFO or socket: never opened (reading one could wait forever).
        let kind = crate::source::walk::special_kind(&meta.file_type());
        return unreadable(
            &shown,
            format!("{shown} is not a regular file, directory or device ({kind}): not read"),
        );
    };

    finish_target(shown, kind, outcomes, symlinks, errors, stats)
}

/// A block or character device (only a PATH the user names is read as one: a device met in
/// a directory walk is skipped).
fn is_device(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    t.is_block_device() || t.is_char_device()
}

/// Examine what was read of a device as a raw dump (carved in the pool, like a large file).
/// Bytes not read (past `MAX_DEVICE_READ`, after a read error) are reported as an image
/// that could not be read, at the offset where reading stopped: they may hold what decides
/// the verdict, which therefore stays open (rule DAMAGED-IMAGE).
fn examine_device(name: &str, bytes: &FileBytes, pool: Option<&rayon::ThreadPool>) -> FileOutcome {
    let examine = || examine_bytes(name, bytes, MAX_EXPANDED_PER_FILE, MAX_EXTRA_WORK_PER_FILE);
    let mut out = match pool {
        Some(pool) => pool.install(examine),
        None => examine(),
    };
    if let Some(u) = bytes.unread() {
        let error = (u.kind, u.reason.clone(), None);
        report_unread(name, u.offset, ImageKind::Device, error, &mut out);
    }
    out
}

/// Walk a directory and examine its files meanwhile: the walk (on this thread) hands each
/// directory's files to a queue as it reads it, and each of the pool's workers takes the
/// next file as soon as it is free, so no worker waits for the walk to end or for another
/// worker's share. Returns the walk's other items (sorted) and the outcomes in path order,
/// so the report does not depend on timing.
fn walk_and_examine(
    root: &Path,
    pool: Option<&rayon::ThreadPool>,
    progress: Option<&dyn Progress>,
) -> (Vec<WalkItem>, InPathOrder) {
    let queue = WorkQueue::default();
    let (memo, work) = (ScanMemo::default(), ScanWork::default());
    let done: Mutex<Vec<Run>> = Mutex::default();
    let walk_into_queue = || {
        // Closed however the walk ends (a panic included), or the workers would wait on.
        let _close = CloseOnDrop(&queue);
        walk_streaming(root, &mut |files| {
            if let Some(p) = progress {
                p.files_found(files.len() as u64);
                if p.wants_bytes() {
                    let sizes = files.iter().filter_map(|f| f.full.symlink_metadata().ok());
                    p.bytes_found(sizes.map(|m| m.len()).sum());
                }
            }
            queue.push(files);
        })
    };
    let work = || {
        let mut mine = Vec::new();
        // Files whose content another worker was examining when this one met them: taken
        // again once the queue is empty, when that content is in the memo (`in_flight`).
        let mut set_aside = Vec::new();
        let examine = |f: &FoundFile, defer: bool| {
            with_memo(&memo.blocks, || {
                examine_path(&f.rel, &f.full, &memo, &work, defer)
            })
        };
        let mut finished = |f: FoundFile, o: FileOutcome| {
            if let Some(p) = progress {
                p.file_done(o.bytes);
            }
            mine.push((f.rel, o));
        };
        while let Some(f) = queue.pop() {
            let o = examine(&f, true);
            if o.deferred {
                set_aside.push(f);
            } else {
                finished(f, o);
            }
        }
        for f in set_aside {
            let o = examine(&f, false);
            finished(f, o);
        }
        // Each worker orders its own share (in parallel), by index: the outcomes stay put.
        let mut order: Vec<usize> = (0..mine.len()).collect();
        order.sort_unstable_by(|&a, &b| mine[a].0.cmp(&mine[b].0));
        lock(&done).push(Run { files: mine, order });
    };
    let items = match pool {
        Some(pool) => pool.in_place_scope(|s| {
            for _ in 0..pool.current_num_threads() {
                s.spawn(|_| work());
            }
            walk_into_queue()
        }),
        None => {
            let items = walk_into_queue();
            work();
            items
        }
    };
    let runs = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    (items, InPathOrder::new(runs))
}

/// One worker's share of a target's files: (path, outcome) as examined, and their order by
/// path.
struct Run {
    files: Vec<(String, FileOutcome)>,
    order: Vec<usize>,
}

/// The outcomes of a target's files in path order, left where the workers put them: only
/// an index of (run, position) is merged. Sorting the outcomes themselves moved megabytes
/// on the one thread left at the end of a scan.
struct InPathOrder {
    runs: Vec<Run>,
    order: Vec<(usize, usize)>,
}

impl InPathOrder {
    fn new(runs: Vec<Run>) -> InPathOrder {
        let mut order: Vec<(usize, usize)> = runs
            .iter()
            .enumerate()
            .flat_map(|(r, run)| run.order.iter().map(move |&i| (r, i)))
            .collect();
        // Sorted runs laid end to end: the stable sort finds them and merges them.
        let key = |&(r, i): &(usize, usize)| {
            runs.get(r)
                .and_then(|run| run.files.get(i))
                .map(|(path, _)| path)
        };
        order.sort_by(|a, b| key(a).cmp(&key(b)));
        InPathOrder { runs, order }
    }

    fn from_one(outcome: FileOutcome) -> InPathOrder {
        InPathOrder::new(vec![Run {
            files: vec![(String::new(), outcome)],
            order: vec![0],
        }])
    }

    fn facts(&self) -> usize {
        self.runs
            .iter()
            .flat_map(|run| &run.files)
            .map(|(_, o)| o.facts.len())
            .sum()
    }

    fn into_outcomes(self) -> impl Iterator<Item = FileOutcome> {
        let mut runs = self.runs;
        self.order.into_iter().map(move |(r, i)| {
            runs.get_mut(r)
                .and_then(|run| run.files.get_mut(i))
                .map(|(_, o)| std::mem::take(o))
                .unwrap_or_default()
        })
    }
}

/// Files found and not yet examined, in the order found.
#[derive(Default)]
struct WorkQueue {
    state: Mutex<QueueState>,
    more: Condvar,
}

#[derive(Default)]
struct QueueState {
    waiting: VecDeque<FoundFile>,
    walk_done: bool,
}

impl WorkQueue {
    fn push(&self, files: Vec<FoundFile>) {
        lock(&self.state).waiting.extend(files);
        self.more.notify_all();
    }

    /// No more files will come.
    fn close(&self) {
        lock(&self.state).walk_done = true;
        self.more.notify_all();
    }

    /// The next file to examine; None once the walk is done and every file was taken.
    fn pop(&self) -> Option<FoundFile> {
        let mut state = lock(&self.state);
        loop {
            if let Some(file) = state.waiting.pop_front() {
                return Some(file);
            }
            if state.walk_done {
                return None;
            }
            state = self
                .more
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

struct CloseOnDrop<'q>(&'q WorkQueue);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A worker that panicked cannot leave the queue half-updated (every update is one push or
/// pop), so a poisoned lock is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Scan one file already in memory, named `name` (the path shown in the report and the
/// prefix of every virtual path inside it): the same examination as [`scan`] gives a file on
/// disk, without touching the file system. For fuzzing and for tests that mutate images.
pub fn scan_bytes(name: &str, data: &[u8]) -> Target {
    scan_bytes_with_budget(name, data, MAX_EXPANDED_PER_FILE)
}

/// [`scan_bytes`] with another memory budget than [`MAX_EXPANDED_PER_FILE`] (for tests of
/// the bound).
#[doc(hidden)]
pub fn scan_bytes_with_budget(name: &str, data: &[u8], budget: u64) -> Target {
    report_of_one(
        name,
        examine_bytes(name, data, budget, MAX_EXTRA_WORK_PER_FILE),
    )
}

/// [`scan_bytes`] with `extra_work` bytes of work beyond the file's own share instead of
/// [`MAX_EXTRA_WORK_PER_FILE`] (for tests of the bound).
#[doc(hidden)]
pub fn scan_bytes_with_work(name: &str, data: &[u8], extra_work: u64) -> Target {
    report_of_one(
        name,
        examine_bytes(name, data, MAX_EXPANDED_PER_FILE, extra_work),
    )
}

/// The report of a target that is one file examined in memory.
fn report_of_one(name: &str, outcome: FileOutcome) -> Target {
    let kind = outcome.kind;
    finish_target(
        name.to_string(),
        kind,
        InPathOrder::from_one(outcome),
        Vec::new(),
        Vec::new(),
        ScanStats::default(),
    )
}

/// Merge the outcomes of a target's files into its report.
fn finish_target(
    shown: String,
    kind: TargetKind,
    outcomes: InPathOrder,
    mut symlinks: Vec<Symlink>,
    mut errors: Vec<ScanError>,
    mut stats: ScanStats,
) -> Target {
    let mut facts = Vec::with_capacity(outcomes.facts());
    let mut images = Vec::new();
    let mut started = BTreeMap::new();
    let mut unread = 0u64;
    for o in outcomes.into_outcomes() {
        // A file that could not be read was skipped, not examined.
        if o.unread {
            unread += 1;
            stats.skipped += 1;
        } else {
            stats.files += 1;
        }
        stats.bytes += o.bytes;
        stats.image_files += o.image_files;
        stats.reused_images += o.reused_images;
        stats.opaque_files += u64::from(o.opaque);
        stats.elf_files += o.facts.len() as u64;
        errors.extend(o.errors);
        symlinks.extend(o.symlinks);
        images.extend(o.images);
        facts.extend(o.facts);
        for (prog, script) in o.started {
            started.entry(prog).or_insert(script);
        }
    }
    // A single file that could not be read at all is an unreadable PATH.
    if kind != TargetKind::Directory && unread > 0 {
        let mut r = unreadable(&shown, String::new());
        r.errors = errors;
        r.stats = stats;
        return r;
    }
    let mut t = build_target(shown, kind, facts, symlinks, images, errors, stats);
    if matches!(t.verdict, Verdict::Affected | Verdict::Inconclusive) {
        let exposure = surface::rank(&t, &started);
        t.mitigations = surface::mitigations(&t, &exposure);
        t.exposure = exposure;
    }
    t
}

fn unreadable(shown: &str, message: String) -> Target {
    Target {
        path: shown.to_string(),
        kind: TargetKind::Unreadable,
        verdict: Verdict::Error,
        reasons: vec!["the path could not be read at all".into()],
        os: Default::default(),
        libc: vec![],
        binaries: vec![],
        symlinks: vec![],
        images: vec![],
        exposure: vec![],
        mitigations: vec![],
        errors: if message.is_empty() {
            vec![]
        } else {
            vec![ScanError {
                path: shown.to_string(),
                offset: None,
                kind: ErrorKind::Unreadable,
                message,
            }]
        },
        stats: ScanStats::default(),
    }
}

fn build_target(
    path: String,
    kind: TargetKind,
    mut facts: Vec<FileFacts>,
    symlinks: Vec<Symlink>,
    images: Vec<Image>,
    errors: Vec<ScanError>,
    stats: ScanStats,
) -> Target {
    crate::facts::apply_calloc_signatures(&mut facts);
    let os = evidence::assess(&facts, &images);
    let qnx_libcs = evidence::qnx_libcs(&facts);
    let libc: Vec<Libc> = facts
        .iter()
        .filter(|f| f.is_libc)
        .map(|f| {
            let qnx = qnx_libcs.contains(f.path.as_str());
            Libc {
                path: f.path.clone(),
                soname: f.soname.clone(),
                arch: f.arch.clone(),
                version: f
                    .qnx_info
                    .iter()
                    .find(|(k, _)| k == "VERSION")
                    .map(|(_, v)| v.clone()),
                qnx,
                calloc: f
                    .calloc
                    .clone()
                    .unwrap_or_else(|| CallocFinding::unknown("this C library exports no calloc")),
                sha256: f.sha256.clone(),
            }
        })
        .collect();
    let unreadable_libc = unreadable_libcs(&errors, &facts);
    let binaries: Vec<Binary> = facts.into_iter().map(binary_report).collect();
    let class = classify(&Findings {
        os: &os,
        libc: &libc,
        binaries: &binaries,
        elf_files: stats.elf_files,
        unreadable_libc: &unreadable_libc,
        images: &images,
        files: stats.files,
        opaque_files: stats.opaque_files,
        errors: errors.len(),
    });
    Target {
        path,
        kind,
        verdict: class.verdict,
        reasons: class.reasons.into_iter().map(|r| r.text).collect(),
        os: os.report,
        libc,
        binaries,
        symlinks,
        images,
        errors,
        stats,
        exposure: vec![],
        mitigations: vec![],
    }
}

/// Files named like a C library (`libc.so.N`) that gave no facts and have an error: a C
/// library that could not be read or decoded, which is not the same as no C library. One
/// per path, with its first error.
fn unreadable_libcs(errors: &[ScanError], facts: &[FileFacts]) -> Vec<UnreadableFile> {
    let mut out: Vec<UnreadableFile> = Vec::new();
    for e in errors {
        if is_libc_name(&e.path)
            && !facts.iter().any(|f| f.path == e.path)
            && !out.iter().any(|u| u.path == e.path)
        {
            out.push(UnreadableFile {
                path: e.path.clone(),
                reason: e
                    .message
                    .strip_prefix("could not be read: ")
                    .unwrap_or(&e.message)
                    .to_string(),
            });
        }
    }
    out
}

/// A file's facts become its report entry (moved, not copied: a scan has thousands).
fn binary_report(f: FileFacts) -> Binary {
    let libc = f.linked_libc();
    let qnx = f.is_qnx();
    Binary {
        arch: f.arch,
        elf_type: elf_type_name(f.elf_type).to_string(),
        interpreter: f.interpreter,
        needed: f.needed,
        libc,
        qnx,
        imports_calloc: f.imports_calloc,
        imports_malloc: f.imports_malloc,
        imports_realloc: f.imports_realloc,
        // A libc's own calloc is reported under `libc`; every other definition is a static copy.
        static_calloc: if f.is_libc { None } else { f.calloc },
        network: !f.network_imports.is_empty(),
        network_imports: f.network_imports,
        stripped_static: f.is_static && !f.has_symtab && f.elf_type == ElfType::Executable,
        calloc_search: f.calloc_search.map(|s| s.report),
        located_by_address: f
            .offset_mismatches
            .iter()
            .map(|m| LocatedByAddress {
                segment: m.segment.to_string(),
                address: format!("{:#x}", m.vaddr),
                recorded_offset: m.recorded_offset,
                offset_used: m.offset_used,
            })
            .collect(),
        sha256: f.sha256,
        path: f.path,
    }
}

fn elf_type_name(t: ElfType) -> &'static str {
    match t {
        ElfType::Relocatable => "relocatable",
        ElfType::Executable => "executable",
        ElfType::SharedObject => "shared-object",
        ElfType::Core => "core",
        ElfType::Other(_) => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ImageState;
    use crate::source::read::Unread;

    #[test]
    fn bytes_of_a_device_left_unread_keep_the_verdict_open() {
        // A device whose first bytes are a fixed C library (6.6.0): not affected, were it
        // all read; a read error stopped the rest, which may hold anything.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/qnx/x86_64/sdp660/libc.so.3"
        );
        let libc = std::fs::read(path).unwrap();
        let whole = FileBytes::Device {
            bytes: libc.clone(),
            unread: None,
        };
        let report = |bytes: &FileBytes| {
            let out = examine_device("fs0p0", bytes, None);
            let kind = out.kind;
            let stats = ScanStats::default();
            finish_target(
                "/dev/fs0p0".into(),
                kind,
                InPathOrder::from_one(out),
                Vec::new(),
                Vec::new(),
                stats,
            )
        };
        assert_eq!(report(&whole).verdict, Verdict::NotAffected);
        let at = libc.len() as u64;
        let reason = "read error (Input/output error): the rest of the device was not read";
        let cut = FileBytes::Device {
            bytes: libc,
            unread: Some(Unread {
                offset: at,
                kind: crate::ErrorKind::Unreadable,
                reason: reason.into(),
            }),
        };
        let t = report(&cut);
        assert_eq!(t.verdict, Verdict::Inconclusive, "{:?}", t.reasons);
        assert!(
            t.reasons[0].starts_with("DAMAGED-IMAGE: fs0p0@"),
            "{:?}",
            t.reasons
        );
        assert!(t.reasons[0].contains(reason), "{:?}", t.reasons);
        let img = &t.images[0];
        assert_eq!(
            (img.kind, img.offset, img.state),
            (ImageKind::Device, Some(at), ImageState::Unreadable)
        );
        assert!(t.errors.iter().any(|e| e.path == "fs0p0"
            && e.offset == Some(at)
            && e.kind == crate::ErrorKind::Unreadable));
    }
}
