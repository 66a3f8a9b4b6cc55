//! Finding calloc in a program that has no symbol for it (statically linked and stripped):
//! by behaviour here, by known code in [`super::signature`].
//!
//! Candidate entries are the targets of the program's direct calls and branches and its
//! entry point ([`super::targets`]). A short linear window of each is decoded; those with a
//! multiply are probed ([`super::probe`]): run with nmemb and size as their first two
//! arguments, do they multiply them, pass the product to a callee, zero-fill what that
//! callee returns for the product's length once it is not null, and return it? The one
//! function that does all of it is calloc (a one-instruction jump to it, `calloc` →
//! `__calloc`, is its entry); functions that do part of it, or several that do all of it,
//! are *calloc-like*: shown, never taken for the C library's calloc. Each is then decided by
//! the overflow analysis, told which unnamed callees allocate and which zero-fill.
//! Every step is bounded by the named constants below (see `docs/bounds.md`); candidates
//! are taken in a fixed order, so the result does not depend on timing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::dataflow::{read, step, Ctx, Val, HI, N, P, S};
use super::ir::{self, Lifter, Op, Opnd, Target};
use super::probe::{probe, FillKind, Probe};
use super::signature::{Window, MAX_SIGNATURE_WINDOWS, SIGNATURE_MAX_LEN};
use super::{
    analyze_calloc_with_roles, entry_state, make_lifter, CallocAnalysis, EvidenceLine, Roles,
};
use crate::elf::{ElfFile, ElfType, SymbolSource};

/// Candidate entries considered per file (call targets first, then branch targets, each in
/// address order). A large program has a few thousand functions; the rest of the bound is
/// for branch targets inside functions and for look-alike encodings in data.
pub const MAX_SEARCH_CANDIDATES: usize = 100_000;
/// Instructions decoded from each candidate's entry, in address order, looking for a
/// multiply. calloc multiplies within its first few dozen instructions at every
/// optimisation level (after the prologue and argument spills at -O0; after a division
/// test in some fixed versions).
pub const SEARCH_WINDOW_INSNS: usize = 48;
/// Candidates with a multiply in their window that are probed per file.
pub const MAX_SEARCH_PROBES: usize = 2_000;
/// Instructions decoded by the whole search in one file (windows and probes together).
pub const MAX_SEARCH_INSNS: usize = 2_000_000;
/// calloc-like functions analysed and reported per file.
pub const MAX_CALLOC_LIKE: usize = 8;

/// `CALLOC_SEARCH_DEBUG` set: print what each probe saw (read once).
static SEARCH_DEBUG: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var_os("CALLOC_SEARCH_DEBUG").is_some());

/// How the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOutcome {
    /// calloc was located.
    Found,
    /// Several functions have calloc's shape; none is taken for calloc.
    Ambiguous,
    /// No function has calloc's shape (calloc-like ones may have been found).
    NotFound,
    /// A bound was hit before every candidate was examined, and calloc was not located.
    Incomplete,
    /// The architecture has no lifter.
    Unsupported,
}

impl SearchOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchOutcome::Found => "found",
            SearchOutcome::Ambiguous => "ambiguous",
            SearchOutcome::NotFound => "not-found",
            SearchOutcome::Incomplete => "incomplete",
            SearchOutcome::Unsupported => "unsupported",
        }
    }
}

/// A function the search located.
#[derive(Debug, Clone)]
pub struct Located {
    /// Its entry: the one-instruction jump to the body when there is one (display address).
    pub entry: u64,
    /// The function that multiplies (display address).
    pub function: u64,
    /// Taken for calloc; otherwise calloc-like.
    pub is_calloc: bool,
    /// Why it is, or is not, taken for calloc.
    pub why: String,
    /// How its shape was seen: the multiply, the allocation, the null test, the zero-fill.
    pub shape: Vec<EvidenceLine>,
    /// The overflow analysis of it.
    pub analysis: CallocAnalysis,
}

/// What the search found in one file.
#[derive(Debug, Clone)]
pub struct Search {
    pub outcome: SearchOutcome,
    /// One sentence: what was found or why not.
    pub detail: String,
    pub calloc: Option<Located>,
    pub calloc_like: Vec<Located>,
    /// Candidate entries considered and probed, instructions decoded.
    pub candidates: usize,
    pub probed: usize,
    pub insns: usize,
    /// The code at the entries of functions that multiply their first two arguments, for
    /// the search by known code ([`super::signature`]).
    pub windows: Vec<Window>,
}

/// Does `elf` need the search: a statically linked executable without a symbol table and
/// without a `calloc` symbol?
pub fn needs_search(elf: &ElfFile<'_>) -> bool {
    elf.is_static()
        && elf.elf_type == ElfType::Executable
        && !elf.symbols.iter().any(|s| s.source == SymbolSource::SymTab)
        && super::locate_calloc(elf).is_none()
}

/// One decoded instruction of a window: where the next starts, whether it multiplies, and
/// the target of a direct unconditional jump.
#[derive(Clone, Copy)]
struct Decoded {
    next: Option<u64>,
    mul: bool,
    jump: Option<u64>,
}

/// What the windows said about one candidate.
struct Window0 {
    has_mul: bool,
    first_jump: Option<u64>,
}

struct Searcher<'e> {
    lifter: &'e dyn Lifter,
    decoded: HashMap<u64, Decoded>,
    insns: usize,
}

impl Searcher<'_> {
    fn decode(&mut self, addr: u64) -> Option<Decoded> {
        if let Some(d) = self.decoded.get(&addr) {
            return Some(*d);
        }
        if self.insns >= MAX_SEARCH_INSNS {
            return None;
        }
        self.insns += 1;
        let d = match self.lifter.lift(addr) {
            Ok(i) => Decoded {
                next: Some(i.next()).filter(|&n| n > addr),
                mul: i.ops.iter().any(|op| matches!(op, Op::Mul { .. })),
                jump: i.ops.iter().find_map(|op| match op {
                    Op::Jump { target }
                    | Op::TailCall {
                        target: Target::Direct(target),
                    } => Some(*target),
                    _ => None,
                }),
            },
            Err(_) => Decoded {
                next: None,
                mul: false,
                jump: None,
            },
        };
        self.decoded.insert(addr, d);
        Some(d)
    }

    /// Decode the window at `entry`, in address order (from the target of the first
    /// instruction when that is a jump: `calloc: jmp __calloc`); None when the budget ran
    /// out.
    fn window(&mut self, entry: u64) -> Option<Window0> {
        let first = self.decode(entry)?;
        let mut w = Window0 {
            has_mul: first.mul,
            first_jump: first.jump,
        };
        let mut next = first.jump.or(first.next);
        for _ in 1..SEARCH_WINDOW_INSNS {
            let Some(a) = next else { break };
            let d = self.decode(a)?;
            w.has_mul |= d.mul;
            next = d.next;
        }
        Some(w)
    }
}

impl Searcher<'_> {
    /// Run the window at `entry` in address order (calls clobbering what they may; after a
    /// return or jump, the code that follows is taken as reached from the last conditional
    /// branch) with nmemb and size as the first two arguments: does a multiply of them come
    /// out? A cheap test that spares most candidates the probe.
    fn multiplies_arguments(&mut self, entry: u64) -> bool {
        let lifter = self.lifter;
        let ctx = Ctx {
            word_bits: lifter.word_bits(),
        };
        let mut st = entry_state(lifter, entry, &[Val::tagged(N), Val::tagged(S)]);
        let mut at_branch = st.clone();
        let mut a = Some(entry);
        for i in 0..SEARCH_WINDOW_INSNS {
            let Some(addr) = a else { break };
            if self.insns >= MAX_SEARCH_INSNS {
                return false;
            }
            self.insns += 1;
            let Ok(insn) = lifter.lift(addr) else { break };
            for op in &insn.ops {
                match op {
                    Op::Call { .. } | Op::TailCall { .. } => {
                        st.forget_regs(lifter.caller_saved());
                        st.flags.clear();
                    }
                    Op::Mul { lo, hi, .. } => {
                        step(&mut st, &ctx, op);
                        let product = |o: &Option<Opnd>| {
                            o.is_some_and(|o| read(&st, &ctx, o).may & (P | HI) != 0)
                        };
                        if product(lo) || product(hi) {
                            return true;
                        }
                    }
                    Op::Branch { .. } | Op::BranchCmp { .. } => at_branch = st.clone(),
                    _ => step(&mut st, &ctx, op),
                }
            }
            let ends = matches!(
                insn.ops.last(),
                Some(Op::Ret | Op::Jump { .. } | Op::TailCall { .. } | Op::JumpIndirect)
            );
            a = match (i, insn.ops.last()) {
                (0, Some(Op::Jump { target })) => Some(*target),
                _ => Some(insn.next()).filter(|&n| n > addr),
            };
            if ends && i > 0 {
                st = at_branch.clone();
            }
        }
        false
    }
}

/// Search `elf` for calloc by behaviour. Callers check [`needs_search`] first (the search
/// is meant for programs without a calloc symbol, but runs on any file).
pub fn locate(elf: &ElfFile<'_>) -> Search {
    let mut search = Search {
        outcome: SearchOutcome::NotFound,
        detail: String::new(),
        calloc: None,
        calloc_like: Vec::new(),
        candidates: 0,
        probed: 0,
        insns: 0,
        windows: Vec::new(),
    };
    let lifter = match make_lifter(elf) {
        Ok(l) => l,
        Err(e) => {
            search.outcome = SearchOutcome::Unsupported;
            search.detail = e;
            return search;
        }
    };
    let lifter = lifter.as_ref();
    let scan = ir::with_text(false, || scan_candidates(elf, lifter, &mut search));
    decide(elf, lifter, scan, &mut search);
    search
}

/// What the probing phase found.
struct Scan {
    probes: Vec<Probe>,
    /// First-instruction jump target of every candidate (lifter addresses).
    first_jumps: BTreeMap<u64, u64>,
    /// Call targets (lifter addresses), sorted.
    calls: Vec<u64>,
    /// Why the candidates were not all examined.
    incomplete: Option<String>,
}

fn scan_candidates(elf: &ElfFile<'_>, lifter: &dyn Lifter, search: &mut Search) -> Scan {
    let targets = super::targets::collect(elf);
    let mut candidates: Vec<u64> = targets.calls.clone();
    candidates.extend(&targets.branches);
    let mut incomplete = None;
    if candidates.len() > MAX_SEARCH_CANDIDATES {
        incomplete = Some(format!(
            "{} candidate entries, more than the {MAX_SEARCH_CANDIDATES} examined",
            candidates.len()
        ));
        candidates.truncate(MAX_SEARCH_CANDIDATES);
    }
    search.candidates = candidates.len();
    let mut s = Searcher {
        lifter,
        decoded: HashMap::new(),
        insns: 0,
    };
    let mut first_jumps = BTreeMap::new();
    let mut to_probe = Vec::new();
    for &c in &candidates {
        let Some(w) = s.window(c) else {
            incomplete.get_or_insert_with(|| {
                format!("more than {MAX_SEARCH_INSNS} instructions decoded")
            });
            break;
        };
        if let Some(j) = w.first_jump {
            first_jumps.insert(c, j);
        }
        if w.has_mul {
            to_probe.push(c);
        }
    }
    // Of those, the ones whose multiply takes the first two arguments along the window.
    to_probe.retain(|&c| s.multiplies_arguments(c));
    let calls = targets.calls;
    let external = |t: u64| calls.binary_search(&t).is_ok();
    let mut probes = Vec::new();
    for &c in &to_probe {
        if probes.len() >= MAX_SEARCH_PROBES || s.insns >= MAX_SEARCH_INSNS {
            incomplete.get_or_insert_with(|| {
                format!(
                    "{} candidates with a multiply, more than the {MAX_SEARCH_PROBES} probed \
                     or {MAX_SEARCH_INSNS} instructions decoded",
                    to_probe.len()
                )
            });
            break;
        }
        let p = probe(elf, lifter, c, &external);
        s.insns = s.insns.saturating_add(p.insns);
        if *SEARCH_DEBUG {
            eprintln!(
                "probe {:#x}: muls {:x?} product calls {:x?} fill {:x?} null test {:x?} returns {} quiet {}",
                p.entry, p.muls, p.product_calls, p.fill, p.null_test, p.returns_allocation, p.quiet_null_return
            );
        }
        probes.push(p);
    }
    search.probed = probes.len();
    search.insns = s.insns;
    Scan {
        probes,
        first_jumps,
        calls,
        incomplete,
    }
}

/// Does the probe show calloc's whole shape?
fn is_full(p: &Probe) -> bool {
    !p.muls.is_empty()
        && p.fill.is_some()
        && p.null_test.is_some()
        && p.returns_allocation
        && p.quiet_null_return
}

/// Why a probe with part of calloc's shape is not calloc.
fn shortfall(p: &Probe) -> String {
    let mut why = Vec::new();
    match &p.fill {
        None => why.push("it does not zero-fill the allocation".to_string()),
        Some(_) => {
            if p.null_test.is_none() {
                why.push(
                    "the zero-fill is not behind a test that the allocation is not null".into(),
                );
            }
            if !p.returns_allocation {
                why.push("it returns something other than the allocation".into());
            }
            if p.null_test.is_some() && !p.quiet_null_return {
                why.push("when the allocation fails it calls another function".into());
            }
        }
    }
    why.join("; ")
}

fn hex(a: u64) -> String {
    format!("{a:#x}")
}

/// The evidence of how a probe's shape was seen.
fn shape_lines(p: &Probe, l: &dyn Lifter, thunk: Option<(u64, u64)>) -> Vec<EvidenceLine> {
    let line = |a: u64, text: String| EvidenceLine {
        address: hex(a),
        text,
    };
    let mut v = Vec::new();
    if let Some((t, body)) = thunk {
        v.push(line(t, format!("entry: a jump to sub_{body:x}")));
    }
    if let Some(&m) = p.muls.first() {
        v.push(line(
            m,
            "multiply of the first two arguments (nmemb * size)".into(),
        ));
    }
    match &p.fill {
        Some(f) => {
            v.push(line(
                f.alloc_site,
                format!(
                    "the product goes to sub_{:x} (argument {}), which returns the allocation",
                    l.display_addr(f.allocator),
                    f.size_arg + 1
                ),
            ));
            if let Some(t) = p.null_test {
                v.push(line(t, "test that the allocation is not null".into()));
            }
            v.push(line(
                f.site,
                match (f.kind, f.target) {
                    (FillKind::Call, Some(z)) => format!(
                        "zero-fill: sub_{:x}(allocation, 0, product)",
                        l.display_addr(z)
                    ),
                    _ => "zero-fill: stores of zero through the allocation in a loop".into(),
                },
            ));
        }
        None => {
            if let Some((site, t, arg)) = p.product_calls.first() {
                v.push(line(
                    *site,
                    format!(
                        "the product goes to {} (argument {})",
                        t.map(|t| format!("sub_{:x}", l.display_addr(t)))
                            .unwrap_or_else(|| "an indirect target".into()),
                        arg + 1
                    ),
                ));
            }
        }
    }
    v
}

fn decide(elf: &ElfFile<'_>, lifter: &dyn Lifter, scan: Scan, search: &mut Search) {
    let d = |a: u64| lifter.display_addr(a);
    // Allocators and zero-fills learned from every probe with a fill.
    let mut roles = Roles::default();
    for p in &scan.probes {
        if let Some(f) = &p.fill {
            roles.allocators.entry(d(f.allocator)).or_insert(f.size_arg);
            if let Some(z) = f.target {
                roles.zero_fills.insert(d(z));
            }
        }
    }
    let full_entries: BTreeSet<u64> = scan
        .probes
        .iter()
        .filter(|p| is_full(p))
        .map(|p| p.entry)
        .collect();
    // A full match whose first instruction jumps to another is that one's entry.
    let is_thunk_of_full = |p: &Probe| {
        scan.first_jumps
            .get(&p.entry)
            .is_some_and(|j| full_entries.contains(j))
    };
    let full: Vec<&Probe> = scan
        .probes
        .iter()
        .filter(|p| is_full(p) && !is_thunk_of_full(p))
        .collect();
    let partial: Vec<&Probe> = scan
        .probes
        .iter()
        .filter(|p| !p.muls.is_empty() && !is_full(p))
        .filter(|p| {
            p.fill.is_some()
                || p.product_calls
                    .iter()
                    .any(|(_, t, _)| t.is_some_and(|t| roles.allocators.contains_key(&d(t))))
        })
        .collect();
    let thunk_of = |entry: u64| {
        scan.calls
            .iter()
            .copied()
            .find(|c| *c != entry && scan.first_jumps.get(c) == Some(&entry))
    };
    // (entry, body): a candidate that is a jump holds its body in its own graph.
    let ends = |p: &Probe| match scan.first_jumps.get(&p.entry) {
        Some(&body) => (p.entry, body, true),
        None => {
            let t = thunk_of(p.entry);
            (t.unwrap_or(p.entry), p.entry, t.is_some())
        }
    };
    let mut entries: Vec<u64> = scan.calls.iter().map(|&c| d(c)).collect();
    for p in full.iter().chain(&partial) {
        let (entry, body, _) = ends(p);
        entries.extend([d(entry), d(body)]);
    }
    entries.sort_unstable();
    entries.dedup();
    roles.entries = entries;

    let located = |p: &Probe, is_calloc: bool, why: String| {
        let (start, body, is_thunk) = ends(p);
        let mut analysis = analyze_calloc_with_roles(elf, start, &roles);
        if !is_calloc {
            let name = format!("sub_{:x}", d(start));
            if let Some(first) = analysis.chain_links.first_mut() {
                first.name = name.clone();
            }
            if let Some(first) = analysis.chain.first_mut() {
                *first = name;
            }
            if analysis.chain.len() == 1 {
                analysis.function = analysis.chain.first().cloned();
            }
        }
        Located {
            entry: d(start),
            function: d(body),
            is_calloc,
            why,
            shape: shape_lines(p, lifter, is_thunk.then(|| (d(start), d(body)))),
            analysis,
        }
    };
    match full.as_slice() {
        [one] => {
            search.calloc = Some(located(
                one,
                true,
                "the only function that multiplies its first two arguments, passes the product \
                 to an allocator, zero-fills the allocation for that length once it is not \
                 null, and returns it"
                    .into(),
            ));
        }
        many => {
            for p in many.iter().take(MAX_CALLOC_LIKE) {
                let why = format!(
                    "one of {} functions with calloc's whole shape: none can be told apart as \
                     the C library's calloc",
                    many.len()
                );
                search.calloc_like.push(located(p, false, why));
            }
        }
    }
    for p in &partial {
        if search.calloc_like.len() >= MAX_CALLOC_LIKE {
            break;
        }
        search.calloc_like.push(located(p, false, shortfall(p)));
    }
    search.windows = windows(elf, &scan, lifter);
    let (outcome, detail) = summary(search, full.len(), scan.incomplete.as_deref());
    search.outcome = outcome;
    search.detail = detail;
}

fn summary(search: &Search, full: usize, incomplete: Option<&str>) -> (SearchOutcome, String) {
    let counts = format!(
        "{} candidate entries, {} probed",
        search.candidates, search.probed
    );
    let like = if search.calloc_like.is_empty() {
        String::new()
    } else {
        format!(
            "; {} calloc-like function(s) shown",
            search.calloc_like.len()
        )
    };
    if let Some(c) = &search.calloc {
        return (
            SearchOutcome::Found,
            format!(
                "calloc located by behaviour at {:#x} ({counts}){like}",
                c.entry
            ),
        );
    }
    if full > 1 {
        return (
            SearchOutcome::Ambiguous,
            format!("{full} functions have calloc's shape, none is taken for calloc ({counts})"),
        );
    }
    if let Some(why) = incomplete {
        return (
            SearchOutcome::Incomplete,
            format!("search stopped before every candidate was examined: {why} ({counts}){like}"),
        );
    }
    (
        SearchOutcome::NotFound,
        format!("no function has calloc's shape ({counts}){like}"),
    )
}

/// Code at the entries of probed functions that multiply their first two arguments.
fn windows(elf: &ElfFile<'_>, scan: &Scan, lifter: &dyn Lifter) -> Vec<Window> {
    scan.probes
        .iter()
        .filter(|p| !p.muls.is_empty())
        .take(MAX_SIGNATURE_WINDOWS)
        .filter_map(|p| {
            let a = lifter.display_addr(p.entry);
            let bytes = elf.code_at(a)?;
            Some(Window {
                entry: a,
                thumb: p.entry & 1 == 1 && elf.arch == crate::elf::Arch::Arm,
                bytes: bytes.get(..bytes.len().min(SIGNATURE_MAX_LEN))?.to_vec(),
            })
        })
        .collect()
}
