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

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use super::cfg::AddrHasher;
use super::dataflow::{read, step, Ctx, Val, HI, N, P, S};
use super::ir::{self, Lifter, Op, Opnd, Target};
pub use super::probe::MAX_PROBE_INSNS;
use super::probe::{probe, FillKind, Probe};
use super::signature::{Window, MAX_SIGNATURE_WINDOWS, SIGNATURE_MAX_LEN};
use super::{
    analyze_calloc_with_roles, entry_state, make_lifter, CallocAnalysis, EvidenceLine, Roles,
};
use badalloc_elf::{ElfFile, ElfType, SymbolSource};

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

/// The bounds of one search: the constants above. Other values are for the tests of the
/// bounds, which would otherwise have to build programs of millions of instructions.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    pub candidates: usize,
    pub probes: usize,
    pub insns: usize,
    pub calloc_like: usize,
}

impl Default for SearchLimits {
    fn default() -> SearchLimits {
        SearchLimits {
            candidates: MAX_SEARCH_CANDIDATES,
            probes: MAX_SEARCH_PROBES,
            insns: MAX_SEARCH_INSNS,
            calloc_like: MAX_CALLOC_LIKE,
        }
    }
}

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

/// One decoded instruction of a window: where the next starts, whether it multiplies,
/// the target of a direct unconditional jump, and whether it has no control flow at all.
#[derive(Clone, Copy)]
struct Decoded {
    next: Option<u64>,
    mul: bool,
    jump: Option<u64>,
    plain: bool,
}

impl Decoded {
    /// What an address that does not decode gives.
    const UNDECODABLE: Decoded = Decoded {
        next: None,
        mul: false,
        jump: None,
        plain: false,
    };

    fn of(i: &ir::Insn) -> Decoded {
        Decoded {
            next: Some(i.next()).filter(|&n| n > i.addr),
            mul: i.ops.iter().any(|op| matches!(op, Op::Mul { .. })),
            jump: match i.ops.last() {
                Some(
                    Op::Jump { target }
                    | Op::TailCall {
                        target: Target::Direct(target),
                    },
                ) => Some(*target),
                _ => None,
            },
            plain: !i.ops.iter().any(|op| {
                matches!(
                    op,
                    Op::Branch { .. }
                        | Op::BranchCmp { .. }
                        | Op::Jump { .. }
                        | Op::JumpIndirect
                        | Op::Call { .. }
                        | Op::TailCall { .. }
                        | Op::Ret
                        | Op::Trap
                )
            }),
        }
    }
}

/// Where a window goes after an instruction: a jump that ends the straight-line start of a
/// candidate is followed (`calloc: jmp __calloc`, newlib's `calloc`: shuffle the arguments,
/// `b.w _calloc_r`); after that, the next instruction in address order.
struct WindowWalk {
    straight: bool,
    /// The jump followed, if one was.
    body: Option<u64>,
}

impl WindowWalk {
    fn next(&mut self, d: &Decoded) -> Option<u64> {
        match d.jump {
            Some(t) if self.straight => {
                self.straight = false;
                self.body = Some(t);
                Some(t)
            }
            _ => {
                self.straight &= d.plain;
                d.next
            }
        }
    }
}

/// What the windows said about one candidate.
struct Window0 {
    has_mul: bool,
    /// The target of the jump that ends its straight-line start.
    body: Option<u64>,
}

struct Searcher<'e> {
    lifter: &'e dyn Lifter,
    decoded: HashMap<u64, Decoded, BuildHasherDefault<AddrHasher>>,
    insns: usize,
    /// [`SearchLimits::insns`].
    max_insns: usize,
}

impl Searcher<'_> {
    fn decode(&mut self, addr: u64) -> Option<Decoded> {
        if let Some(d) = self.decoded.get(&addr) {
            return Some(*d);
        }
        if self.insns >= self.max_insns {
            return None;
        }
        self.insns += 1;
        let d = match self.lifter.lift(addr) {
            Ok(i) => Decoded::of(&i),
            Err(_) => Decoded::UNDECODABLE,
        };
        self.decoded.insert(addr, d);
        Some(d)
    }

    /// Decode the window at `entry` (see [`WindowWalk`]); None when the budget ran out.
    fn window(&mut self, entry: u64) -> Option<Window0> {
        let mut walk = WindowWalk {
            straight: true,
            body: None,
        };
        let mut has_mul = false;
        let mut next = Some(entry);
        for _ in 0..SEARCH_WINDOW_INSNS {
            let Some(a) = next else { break };
            let d = self.decode(a)?;
            has_mul |= d.mul;
            next = walk.next(&d);
        }
        Some(Window0 {
            has_mul,
            body: walk.body,
        })
    }

    /// Run the window at `entry` (see [`WindowWalk`]; calls clobber what they may; after a
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
        let mut walk = WindowWalk {
            straight: true,
            body: None,
        };
        let mut a = Some(entry);
        for _ in 0..SEARCH_WINDOW_INSNS {
            let Some(addr) = a else { break };
            if self.insns >= self.max_insns {
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
            let was_straight = walk.straight;
            let d = Decoded::of(&insn);
            a = walk.next(&d);
            let ends = matches!(
                insn.ops.last(),
                Some(Op::Ret | Op::Jump { .. } | Op::TailCall { .. } | Op::JumpIndirect)
            );
            // A jump followed at the start keeps the arguments it set up.
            if ends && !(was_straight && d.jump.is_some()) {
                st = at_branch.clone();
            }
        }
        false
    }
}

/// Search `elf` for calloc by behaviour. Callers check [`needs_search`] first (the search
/// is meant for programs without a calloc symbol, but runs on any file).
pub fn locate(elf: &ElfFile<'_>) -> Search {
    locate_with_limits(elf, SearchLimits::default())
}

/// [`locate`] within other bounds than the constants (for tests of the bounds).
#[doc(hidden)]
pub fn locate_with_limits(elf: &ElfFile<'_>, limits: SearchLimits) -> Search {
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
    let scan = ir::with_text(false, || scan_candidates(elf, lifter, &limits, &mut search));
    decide(elf, lifter, scan, limits.calloc_like, &mut search);
    search
}

/// What the probing phase found.
struct Scan {
    probes: Vec<Probe>,
    /// Where the straight-line start of a candidate jumps to, by candidate (lifter
    /// addresses): the body of a thunk.
    bodies: BTreeMap<u64, u64>,
    /// Call targets (lifter addresses), sorted.
    calls: Vec<u64>,
    /// Why the candidates were not all examined.
    incomplete: Option<String>,
}

fn scan_candidates(
    elf: &ElfFile<'_>,
    lifter: &dyn Lifter,
    limits: &SearchLimits,
    search: &mut Search,
) -> Scan {
    let targets = super::targets::collect(elf);
    let mut candidates: Vec<u64> = targets.calls.clone();
    candidates.extend(&targets.branches);
    let mut incomplete = None;
    if candidates.len() > limits.candidates {
        incomplete = Some(format!(
            "{} candidate entries, more than the {} examined",
            candidates.len(),
            limits.candidates
        ));
        candidates.truncate(limits.candidates);
    }
    search.candidates = candidates.len();
    let mut s = Searcher {
        lifter,
        // Sized for a typical program's windows (grows past it).
        decoded: HashMap::with_capacity_and_hasher(
            candidates.len().min(1 << 13) * 16,
            BuildHasherDefault::default(),
        ),
        insns: 0,
        max_insns: limits.insns,
    };
    let out_of_insns = || format!("more than {} instructions decoded", limits.insns);
    let mut bodies = BTreeMap::new();
    let mut to_probe = Vec::new();
    for &c in &candidates {
        let Some(w) = s.window(c) else {
            incomplete.get_or_insert_with(out_of_insns);
            break;
        };
        if let Some(j) = w.body {
            bodies.insert(c, j);
        }
        if w.has_mul {
            to_probe.push(c);
        }
    }
    // Of those, the ones whose multiply takes the first two arguments along the window.
    to_probe.retain(|&c| s.multiplies_arguments(c));
    if s.insns >= limits.insns {
        incomplete.get_or_insert_with(out_of_insns);
    }
    let calls = targets.calls;
    let external = |t: u64| calls.binary_search(&t).is_ok();
    let mut probes = Vec::new();
    for &c in &to_probe {
        if probes.len() >= limits.probes {
            incomplete.get_or_insert_with(|| {
                format!(
                    "{} candidates multiply their arguments, more than the {} probed",
                    to_probe.len(),
                    limits.probes
                )
            });
            break;
        }
        if s.insns >= limits.insns {
            incomplete.get_or_insert_with(out_of_insns);
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
        bodies,
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
        v.push(line(t, format!("entry: goes on to sub_{body:x} by a jump")));
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
                        "zero-fill: sub_{:x}(allocation, 0, {})",
                        l.display_addr(z),
                        if f.product_length {
                            "product"
                        } else {
                            "length of the allocated chunk"
                        }
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

fn decide(
    elf: &ElfFile<'_>,
    lifter: &dyn Lifter,
    scan: Scan,
    max_like: usize,
    search: &mut Search,
) {
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
    let full_entries: Vec<&Probe> = scan.probes.iter().filter(|p| is_full(p)).collect();
    // A full match whose code jumps into another full match (a thunk, `calloc: b
    // __calloc`, or a wrapper that branches to it) is that one reached another way.
    let reaches =
        |a: &Probe, b: &Probe| a.entry != b.entry && a.blocks.binary_search(&b.entry).is_ok();
    let full: Vec<&Probe> = full_entries
        .iter()
        .copied()
        .filter(|p| !full_entries.iter().any(|q| reaches(p, q) && !reaches(q, p)))
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
            .find(|c| *c != entry && scan.bodies.get(c) == Some(&entry))
    };
    // (entry, body): a candidate that is a jump holds its body in its own graph.
    let ends = |p: &Probe| match scan.bodies.get(&p.entry) {
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
            for p in many.iter().take(max_like) {
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
        if search.calloc_like.len() >= max_like {
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
                thumb: p.entry & 1 == 1 && elf.arch == badalloc_elf::Arch::Arm,
                bytes: bytes.get(..bytes.len().min(SIGNATURE_MAX_LEN))?.to_vec(),
            })
        })
        .collect()
}
