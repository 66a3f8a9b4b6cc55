//! Every corpus file (../shared/corpus) and a few fixtures, damaged: random byte flips and
//! truncations from a fixed seed, each mutant scanned in memory. No panic; every error names
//! the file (its virtual path starts with the file's name); errors about a position in the
//! data carry an offset; a truncated file lists no file, C library or image that the whole
//! file does not have (nothing is invented past the damage); and damage never turns an
//! affected input into an all-clear (not-affected, patched).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use badalloc_report::{TargetReport, Verdict};
use common::scan_bytes;

/// xorshift64*: deterministic, no dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutants per input: this many with byte flips, this many truncated.
const FLIPS: usize = 30;
const TRUNCATIONS: usize = 10;

fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    let dir = common::corpus_dir();
    for sub in ["qnx", "qnx6"] {
        let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
            common::skip_missing(
                common::Lack::Corpus,
                &format!("corpus directory {}", dir.join(sub).display()),
            );
            continue;
        };
        let mut names: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
        names.sort();
        for p in names {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            v.push((name, std::fs::read(&p).unwrap()));
        }
    }
    for f in [
        "qnx/x86_64/libc.so.3",
        "qnx/arm/ls",
        "calloc/powerpc/unchecked-O2.so",
        "calloc/sh4/checked_div-O2.so",
        "calloc/mips/unchecked-O2.so",
    ] {
        v.push((
            f.replace('/', "_"),
            std::fs::read(common::fixture(f)).unwrap(),
        ));
    }
    v
}

fn mutants(data: &[u8], rng: &mut Rng) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..FLIPS {
        let mut m = data.to_vec();
        // A few flips anywhere, and a burst in the first 4 KiB where the headers are.
        let n = 1 + rng.below(16);
        for _ in 0..n {
            let at = if rng.below(2) == 0 {
                rng.below(m.len().min(4096))
            } else {
                rng.below(m.len())
            };
            if let Some(b) = m.get_mut(at) {
                *b ^= 1 + rng.below(255) as u8;
            }
        }
        out.push((format!("flip{i}x{n}"), m));
    }
    for i in 0..TRUNCATIONS {
        let len = rng.below(data.len());
        out.push((format!("trunc{i}@{len}"), data[..len].to_vec()));
    }
    out
}

/// Errors whose message says something is wrong at a place in the data must say where.
fn concerns_a_position(message: &str) -> bool {
    [
        "truncated",
        "past the end",
        "out of range",
        "beyond",
        "bad magic",
        "checksum",
        "corrupt",
    ]
    .iter()
    .any(|w| message.contains(w))
}

/// What the undamaged input gave: the paths a damaged copy may list, and its verdict.
struct Whole {
    paths: BTreeSet<String>,
    verdict: Verdict,
}

/// Every file, C library and image path of a report, without the target's name (a mutant's
/// paths start with its own name).
fn listed_paths(t: &TargetReport, name: &str) -> BTreeSet<String> {
    let strip = |p: &str| p.strip_prefix(name).unwrap_or(p).to_string();
    t.binaries
        .iter()
        .map(|b| strip(&b.path))
        .chain(t.libc.iter().map(|l| strip(&l.path)))
        .chain(t.images.iter().map(|i| strip(&i.path)))
        .collect()
}

/// The failures of one mutant, judged against the whole input.
fn judge(name: &str, m: &[u8], truncated: bool, whole: &Whole, t: &TargetReport) -> Vec<String> {
    let mut f = Vec::new();
    for e in &t.errors {
        if !e.path.starts_with(name) {
            f.push(format!("{name}: error without its path: {e:?}"));
        }
        if e.offset.is_none() && concerns_a_position(&e.message) {
            f.push(format!("{name}: positional error without offset: {e:?}"));
        }
        if e.message.trim().is_empty() {
            f.push(format!("{name}: error without a message: {e:?}"));
        }
    }
    if truncated {
        let base = name.split('~').next().unwrap_or(name);
        let invented: Vec<String> = listed_paths(t, name)
            .into_iter()
            .filter(|p| !whole.paths.contains(p))
            .collect();
        if !invented.is_empty() {
            f.push(format!(
                "{name} ({} of the bytes of {base}): lists what the whole file does not have: {invented:?}",
                m.len()
            ));
        }
    }
    if whole.verdict == Verdict::Affected
        && matches!(t.verdict, Verdict::NotAffected | Verdict::Patched)
    {
        f.push(format!(
            "{name}: damage turned an affected input into {:?}: {:?}",
            t.verdict, t.reasons
        ));
    }
    f
}

#[test]
fn damaged_corpus_scans_without_panic_and_every_error_has_a_path() {
    let started = std::time::Instant::now();
    let mut rng = Rng(0xbada_110c_2021_2215);
    let mut jobs = Vec::new();
    let mut wholes = BTreeMap::new();
    let mut affected_inputs = 0;
    for (name, data) in inputs() {
        let t = scan_bytes(&name, &data);
        affected_inputs += usize::from(t.verdict == Verdict::Affected);
        let whole = Whole {
            paths: listed_paths(&t, &name),
            verdict: t.verdict,
        };
        for (tag, m) in mutants(&data, &mut rng) {
            jobs.push((format!("{name}~{tag}"), m));
        }
        wholes.insert(name, whole);
    }
    // The damaged inputs include vulnerable ones, so the all-clear check can fail.
    assert!(affected_inputs >= 2, "{affected_inputs} affected inputs");
    let total = jobs.len();
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    let errors_seen = std::sync::atomic::AtomicUsize::new(0);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((name, m)) = jobs.get(i) else { break };
                let r = std::panic::catch_unwind(|| scan_bytes(name, m));
                let input = name.split('~').next().unwrap_or(name);
                let truncated = name.contains("~trunc");
                let judged = match (&r, wholes.get(input)) {
                    (Err(_), _) => vec![format!("{name}: panicked")],
                    (Ok(t), Some(whole)) => {
                        errors_seen.fetch_add(t.errors.len(), std::sync::atomic::Ordering::Relaxed);
                        judge(name, m, truncated, whole, t)
                    }
                    (Ok(_), None) => vec![format!("{name}: no whole input {input}")],
                };
                failures.lock().unwrap().extend(judged);
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "{total} mutants, {} errors reported, {:.1} s",
        errors_seen.into_inner(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
