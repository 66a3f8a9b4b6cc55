//! The search for calloc in statically linked programs without symbols (issue 19): the
//! real QNX programs of the corpus, decoys, the search by known code, the device verdict,
//! `inspect`, and one test per bound of the search (docs/bounds.md), on x86-64 programs
//! assembled here.

mod common;

use badalloc_audit_core::rules::Rule;
use badalloc_audit_core::ScanOptions;
use badalloc_calloc::locate::{
    self, locate, locate_with_limits, needs_search, SearchLimits, SearchOutcome,
};
use badalloc_calloc::signature::{self, SIGNATURE_MAX_LEN, SIGNATURE_MIN_FIXED};
use badalloc_calloc::CallocVerdict;
use badalloc_elf::ElfFile;
use badalloc_report::{Confidence, Verdict};
use common::elf_writer::{self, TEXT_ADDR};
use common::scan;

// --- the corpus: stripped static ARMv7 QNX 6.5.0 programs ----------------------------------

/// Both programs carry QNX's unchecked `__calloc`; `calloc` is a one-instruction `b` to it.
#[test]
fn corpus_programs_are_unchecked_at_the_known_address() {
    for (name, calloc, body) in [
        (
            "static/mib2-gzip.stripped-static",
            0x11_4404u64,
            0x11_4454u64,
        ),
        ("static/mib2-xxd.stripped-static", 0x10_54fc, 0x10_554c),
    ] {
        let Some(data) = common::corpus(name) else {
            continue;
        };
        let elf = ElfFile::parse(&data).unwrap();
        assert!(needs_search(&elf), "{name}: a stripped static program");
        let s = locate(&elf);
        assert_eq!(s.outcome, SearchOutcome::Found, "{name}: {}", s.detail);
        let c = s.calloc.as_ref().unwrap();
        assert!(c.is_calloc, "{name}");
        assert_eq!((c.entry, c.function), (calloc, body), "{name}");
        assert_eq!(
            c.analysis.verdict,
            CallocVerdict::Unchecked,
            "{name}: {}",
            c.analysis.reason
        );
        let links: Vec<(&str, &str)> = c
            .analysis
            .chain_links
            .iter()
            .map(|l| (l.name.as_str(), l.address.as_str()))
            .collect();
        assert_eq!(
            links[0],
            ("calloc", format!("{calloc:#x}").as_str()),
            "{name}"
        );
        assert_eq!(links[1].1, format!("{body:#x}"), "{name}");
        // The multiply at the body and the allocation it reaches are the evidence.
        assert!(
            c.analysis
                .evidence
                .iter()
                .any(|e| e.text.contains("mul r5, r0, r1")),
            "{name}: {:?}",
            c.analysis.evidence
        );
        assert!(
            c.shape.iter().any(|e| e.text.contains("zero-fill")),
            "{name}"
        );
    }
}

/// The scan of the corpus folder: affected, by R2, with the copy located by behaviour.
#[test]
fn corpus_programs_make_the_device_affected_with_the_located_copy() {
    let Some(dir) = common::corpus_path("static") else {
        return;
    };
    let r = scan(&[dir], &ScanOptions::default());
    let t = &r.targets[0];
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    for b in &t.binaries {
        let c = b.static_calloc.as_ref().expect("located");
        let loc = c.location.as_ref().unwrap();
        assert_eq!(loc.by, "behaviour", "{}", b.path);
        assert_eq!(loc.confidence, Confidence::Medium, "{}", b.path);
        assert_eq!(loc.identified_as, "calloc", "{}", b.path);
        assert_eq!(b.calloc_search.as_ref().unwrap().outcome, "found");
    }
    let r2: Vec<&String> = t.reasons.iter().filter(|r| r.starts_with("R2:")).collect();
    assert_eq!(r2.len(), 2, "{:?}", t.reasons);
    assert!(
        r2.iter()
            .all(|r| r.contains("no symbol: located by behaviour")
                && r.contains("confidence medium")),
        "{r2:?}"
    );
    assert!(
        !t.reasons.iter().any(|r| r.starts_with("caveat")),
        "{:?}",
        t.reasons
    );
    // The text and HTML reports name the copy the same way, with its address.
    let text = badalloc_report::text::render(&r);
    let html = badalloc_report::html::render(&r);
    for at in ["0x114404", "0x1054fc"] {
        let note = format!("no symbol: located by behaviour at {at}, confidence medium");
        assert!(text.contains(&note), "{note}\n{text}");
        assert!(html.contains(&note), "{note}");
    }
}

// --- the device verdict with fixtures --------------------------------------------------------

fn copy_into(dir: &std::path::Path, files: &[(&str, &str)]) {
    for (from, to) in files {
        let to = dir.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(common::fixture(from), to).unwrap();
    }
}

/// A QNX device whose C library is fixed (6.6.0, checked) but whose stripped static driver
/// keeps the unchecked calloc: affected, by the located copy.
#[test]
fn stripped_static_qnx_driver_makes_a_patched_device_affected() {
    let dir = tempfile::tempdir().unwrap();
    copy_into(
        dir.path(),
        &[
            ("qnx/x86_64/sdp660/libc.so.3", "lib/libc.so.3"),
            ("qnx/x86_64/devc-ser8250.stripped", "sbin/devc-ser8250"),
        ],
    );
    let r = scan(&[dir.path().to_path_buf()], &ScanOptions::default());
    let t = &r.targets[0];
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    let r2 = t.reasons.iter().find(|r| r.starts_with("R2:")).unwrap();
    assert!(r2.contains("sbin/devc-ser8250"), "{r2}");
    assert!(r2.contains("located by behaviour"), "{r2}");
    let b = t
        .binaries
        .iter()
        .find(|b| b.path == "sbin/devc-ser8250")
        .unwrap();
    assert!(b.stripped_static);
    assert_eq!(
        b.static_calloc.as_ref().unwrap().verdict,
        CallocVerdict::Unchecked
    );
}

/// A calloc-like array allocator without an overflow test, in a stripped program with no
/// calloc, next to a fixed QNX C library: shown as a guess (calloc-like, confidence low),
/// never as the C library's calloc; the device is not affected by it. With the program
/// taken for QNX, the caveat gives the search's outcome and names the guess as one.
#[test]
fn a_calloc_like_guess_never_decides_the_device() {
    use badalloc_audit_core::classify::{classify, Findings};
    use badalloc_audit_core::evidence::OsAssessment;
    let dir = tempfile::tempdir().unwrap();
    copy_into(
        dir.path(),
        &[
            ("qnx/x86_64/sdp660/libc.so.3", "lib/libc.so.3"),
            (
                "calloc/search/x86_64/array-alloc.elf.stripped",
                "bin/arrays",
            ),
        ],
    );
    let r = scan(&[dir.path().to_path_buf()], &ScanOptions::default());
    let t = &r.targets[0];
    assert_ne!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    let b = t.binaries.iter().find(|b| b.path == "bin/arrays").unwrap();
    assert!(
        b.static_calloc.is_none(),
        "a guess is not the C library's calloc"
    );
    let s = b.calloc_search.as_ref().unwrap();
    assert_eq!(s.outcome, "not-found");
    let like = &s.calloc_like[0];
    assert_eq!(like.verdict, CallocVerdict::Unchecked);
    let loc = like.location.as_ref().unwrap();
    assert_eq!(loc.identified_as, "calloc-like");
    assert_eq!(loc.confidence, Confidence::Low);
    assert!(
        !like.chain.iter().any(|n| n == "calloc"),
        "{:?}",
        like.chain
    );

    // The same program with a QNX marker, on a device of unknown release (classified
    // from the audit's own findings).
    let found = badalloc_audit_core::scan(&[dir.path().to_path_buf()], &ScanOptions::default());
    let t = &found[0];
    let mut binaries = t.binaries.clone();
    for b in &mut binaries {
        b.qnx |= b.path == "bin/arrays";
    }
    let os = OsAssessment {
        is_qnx: true,
        ..OsAssessment::default()
    };
    let c = classify(&Findings {
        os: &os,
        libc: &t.libc,
        binaries: &binaries,
        elf_files: t.stats.elf_files,
        unreadable_libc: &[],
        images: &t.images,
        files: t.stats.files,
        opaque_files: t.stats.opaque_files,
        errors: t.errors.len(),
    });
    assert_ne!(c.verdict, Verdict::Affected, "{:?}", c.reasons);
    let caveat = &c
        .reasons
        .iter()
        .find(|r| r.rule == Rule::StrippedCaveat)
        .unwrap()
        .text;
    assert!(caveat.starts_with("caveat: "), "{caveat}");
    assert!(caveat.contains("bin/arrays"), "{caveat}");
    assert!(caveat.contains("calloc not located"), "{caveat}");
    assert!(caveat.contains("a guess"), "{caveat}");
    assert!(caveat.contains("does not decide the verdict"), "{caveat}");
}

/// `inspect` on a stripped static program says so and gives the outcome of the search.
#[test]
fn inspect_says_what_the_search_found() {
    let i = badalloc_audit_core::inspect::inspect(&common::fixture(
        "calloc/search/x86_64/calloc-and-array-alloc.elf.stripped",
    ))
    .unwrap();
    let text = badalloc_audit_core::inspect::render_text(&i);
    assert!(!text.contains("no calloc defined"), "{text}");
    assert!(text.contains("statically linked, no symbols"), "{text}");
    assert!(text.contains("located by behaviour"), "{text}");
    assert!(text.contains("verdict: checked"), "{text}");
    assert!(
        text.contains("calloc-like (not taken for the C library's calloc)"),
        "{text}"
    );
    let i = badalloc_audit_core::inspect::inspect(&common::fixture(
        "calloc/search/x86_64/array-alloc.elf.stripped",
    ))
    .unwrap();
    let text = badalloc_audit_core::inspect::render_text(&i);
    assert!(!text.contains("no calloc defined"), "{text}");
    assert!(text.contains("search for calloc not-found"), "{text}");
    assert!(text.contains("no function was taken for calloc"), "{text}");
}

// --- programs assembled here -------------------------------------------------------------

/// x86-64 code with labels, assembled from byte strings and rel32 calls.
#[derive(Default)]
struct Asm {
    code: Vec<u8>,
    /// (position of a rel32, label it points to)
    fixups: Vec<(usize, String)>,
    labels: Vec<(String, usize)>,
}

impl Asm {
    fn label(&mut self, l: &str) -> &mut Self {
        self.labels.push((l.into(), self.code.len()));
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.code.extend_from_slice(b);
        self
    }
    fn call(&mut self, l: &str) -> &mut Self {
        self.code.push(0xe8);
        self.fixups.push((self.code.len(), l.into()));
        self.code.extend_from_slice(&[0; 4]);
        self
    }
    fn at(&self, l: &str) -> usize {
        self.labels.iter().find(|(n, _)| n == l).unwrap().1
    }
    /// The code, and an ELF without symbols holding it.
    fn finish(&mut self) -> Vec<u8> {
        for (pos, l) in self.fixups.clone() {
            let rel = (self.at(&l) as i64 - (pos as i64 + 4)) as i32;
            self.code[pos..pos + 4].copy_from_slice(&rel.to_le_bytes());
        }
        elf_writer::x86_64(&self.code, &[])
    }
    /// calloc's whole shape, unchecked: imul, `pad` nops, malloc(P), null test,
    /// memset(p, 0, P), return p.
    fn calloc(&mut self, name: &str, pad: usize) -> &mut Self {
        self.label(name)
            .bytes(&[0x48, 0x0f, 0xaf, 0xfe]) // imul rdi, rsi
            .bytes(&[0x57]) // push rdi
            .bytes(&vec![0x90; pad])
            .call("malloc")
            .bytes(&[0x5a]) // pop rdx
            .bytes(&[0x48, 0x85, 0xc0]) // test rax, rax
            .bytes(&[0x74, 0x0c]) // je ret
            .bytes(&[0x48, 0x89, 0xc7]) // mov rdi, rax
            .bytes(&[0x50]) // push rax
            .bytes(&[0x31, 0xf6]) // xor esi, esi
            .call("memset")
            .bytes(&[0x58]) // pop rax
            .bytes(&[0xc3]) // ret
    }
    /// An array allocator: imul, malloc(P), returns something else.
    fn decoy(&mut self, name: &str) -> &mut Self {
        self.label(name)
            .bytes(&[0x48, 0x0f, 0xaf, 0xfe]) // imul rdi, rsi
            .call("malloc")
            .bytes(&[0x31, 0xc0, 0xc3]) // xor eax, eax; ret
    }
    fn runtime(&mut self) -> &mut Self {
        self.label("malloc")
            .bytes(&[0x31, 0xc0, 0xc3])
            .label("memset")
            .bytes(&[0x48, 0x89, 0xf8, 0xc3]) // mov rax, rdi; ret
    }
}

fn search_of(elf: &[u8], limits: SearchLimits) -> locate::Search {
    let e = ElfFile::parse(elf).unwrap();
    assert!(needs_search(&e));
    locate_with_limits(&e, limits)
}

#[test]
fn an_assembled_calloc_is_found_at_its_address_and_unchecked() {
    let mut a = Asm::default();
    a.call("calloc")
        .bytes(&[0xc3])
        .calloc("calloc", 0)
        .runtime();
    let elf = a.finish();
    let s = search_of(&elf, SearchLimits::default());
    let c = s.calloc.as_ref().unwrap_or_else(|| panic!("{}", s.detail));
    assert_eq!(c.function, TEXT_ADDR + a.at("calloc") as u64);
    assert_eq!(
        c.analysis.verdict,
        CallocVerdict::Unchecked,
        "{}",
        c.analysis.reason
    );
}

// --- bounds (docs/bounds.md) ---------------------------------------------------------------

#[test]
fn search_limits_are_the_documented_constants() {
    let l = SearchLimits::default();
    assert_eq!(l.candidates, locate::MAX_SEARCH_CANDIDATES);
    assert_eq!(l.probes, locate::MAX_SEARCH_PROBES);
    assert_eq!(l.insns, locate::MAX_SEARCH_INSNS);
    assert_eq!(l.calloc_like, locate::MAX_CALLOC_LIKE);
}

/// Candidate entries per file: beyond the bound the search stops, says so, and is
/// `incomplete`, not `not-found`.
#[test]
fn search_candidates_per_file_are_bounded() {
    let mut a = Asm::default();
    for i in 0..40 {
        a.call(&format!("f{i}"));
    }
    a.bytes(&[0xc3]);
    for i in 0..40 {
        a.label(&format!("f{i}")).bytes(&[0x90, 0xc3]);
    }
    let elf = a.finish();
    let limits = SearchLimits {
        candidates: 20,
        ..SearchLimits::default()
    };
    let s = search_of(&elf, limits);
    assert_eq!(s.outcome, SearchOutcome::Incomplete, "{}", s.detail);
    assert_eq!(s.candidates, 20);
    assert!(
        s.detail.contains("more than the 20 examined"),
        "{}",
        s.detail
    );
    let s = search_of(&elf, SearchLimits::default());
    assert_eq!(s.outcome, SearchOutcome::NotFound, "{}", s.detail);
}

/// Candidates probed per file: 30 functions multiply their arguments, 10 may be probed.
#[test]
fn search_probes_per_file_are_bounded() {
    let mut a = Asm::default();
    for i in 0..30 {
        a.call(&format!("f{i}"));
    }
    a.bytes(&[0xc3]);
    for i in 0..30 {
        a.label(&format!("f{i}"))
            .bytes(&[0x48, 0x0f, 0xaf, 0xfe, 0xc3]);
    }
    let elf = a.finish();
    let limits = SearchLimits {
        probes: 10,
        ..SearchLimits::default()
    };
    let s = search_of(&elf, limits);
    assert_eq!(s.probed, 10);
    assert_eq!(s.outcome, SearchOutcome::Incomplete, "{}", s.detail);
    assert!(s.detail.contains("more than the 10 probed"), "{}", s.detail);
}

/// Instructions decoded by the whole search: a calloc the search would find is not found
/// when the budget runs out before it, and the outcome says the search is incomplete.
#[test]
fn search_instructions_per_file_are_bounded() {
    let mut a = Asm::default();
    for i in 0..20 {
        a.call(&format!("pad{i}"));
    }
    a.call("calloc").bytes(&[0xc3]);
    for i in 0..20 {
        a.label(&format!("pad{i}"))
            .bytes(&[0x90; 60])
            .bytes(&[0xc3]);
    }
    a.calloc("calloc", 0).runtime();
    let elf = a.finish();
    assert_eq!(
        search_of(&elf, SearchLimits::default()).outcome,
        SearchOutcome::Found
    );
    let limits = SearchLimits {
        insns: 300,
        ..SearchLimits::default()
    };
    let s = search_of(&elf, limits);
    assert!(s.calloc.is_none());
    assert_eq!(s.outcome, SearchOutcome::Incomplete, "{}", s.detail);
    assert!(
        s.detail.contains("more than 300 instructions decoded"),
        "{}",
        s.detail
    );
}

/// Instructions decoded from each candidate for a multiply: calloc whose multiply comes
/// after more instructions than the window holds is not probed.
#[test]
fn search_window_per_candidate_is_bounded() {
    for (pad, found) in [(10, true), (locate::SEARCH_WINDOW_INSNS + 5, false)] {
        let mut a = Asm::default();
        a.call("entry").bytes(&[0xc3]);
        a.label("entry").bytes(&vec![0x90; pad]);
        a.calloc("calloc", 0).runtime();
        let s = search_of(&a.finish(), SearchLimits::default());
        assert_eq!(s.calloc.is_some(), found, "pad {pad}: {}", s.detail);
    }
}

/// A wrapper that branches to calloc after a test reaches calloc's whole shape too: it is
/// calloc reached another way, not a second function with the shape (which would leave
/// both as calloc-like guesses).
#[test]
fn a_wrapper_that_branches_to_calloc_is_not_a_second_calloc() {
    let mut a = Asm::default();
    a.call("g").call("calloc").bytes(&[0xc3]);
    a.label("g")
        .bytes(&[0x85, 0xff, 0x74, 0x05]) // test edi, edi; je ret
        .bytes(&[0xe9]);
    let at = a.code.len();
    a.bytes(&[0; 4]).bytes(&[0xc3]);
    a.calloc("calloc", 0).runtime();
    let rel = (a.at("calloc") as i64 - (at as i64 + 4)) as i32;
    a.code[at..at + 4].copy_from_slice(&rel.to_le_bytes());
    let s = search_of(&a.finish(), SearchLimits::default());
    let c = s.calloc.as_ref().unwrap_or_else(|| panic!("{}", s.detail));
    assert_eq!(
        c.function,
        TEXT_ADDR + a.at("calloc") as u64,
        "{}",
        s.detail
    );
    assert!(c.is_calloc);
    assert_eq!(c.analysis.verdict, CallocVerdict::Unchecked);
    assert!(
        s.calloc_like.is_empty(),
        "{:x?}",
        s.calloc_like.iter().map(|l| l.function).collect::<Vec<_>>()
    );
}

/// Instructions per probed function: calloc's shape spread over more instructions than a
/// probe decodes is not taken for calloc.
#[test]
fn search_instructions_per_probed_function_are_bounded() {
    for (pad, found) in [(100, true), (locate::MAX_PROBE_INSNS + 10, false)] {
        let mut a = Asm::default();
        a.call("calloc")
            .bytes(&[0xc3])
            .calloc("calloc", pad)
            .runtime();
        let s = search_of(&a.finish(), SearchLimits::default());
        assert_eq!(s.calloc.is_some(), found, "pad {pad}: {}", s.detail);
    }
}

/// calloc-like functions reported per file.
#[test]
fn calloc_like_functions_per_file_are_bounded() {
    let mut a = Asm::default();
    a.call("calloc");
    for i in 0..12 {
        a.call(&format!("d{i}"));
    }
    a.bytes(&[0xc3]).calloc("calloc", 0);
    for i in 0..12 {
        a.decoy(&format!("d{i}"));
    }
    a.runtime();
    let elf = a.finish();
    let s = search_of(&elf, SearchLimits::default());
    assert!(s.calloc.is_some(), "{}", s.detail);
    assert_eq!(s.calloc_like.len(), locate::MAX_CALLOC_LIKE);
    assert!(s.calloc_like.iter().all(|l| !l.is_calloc));
    assert!(s
        .calloc_like
        .iter()
        .all(|l| l.analysis.verdict == CallocVerdict::Unchecked));
}

/// Windows kept for the search by known code, and their length.
#[test]
fn signature_windows_are_bounded() {
    let mut a = Asm::default();
    let n = signature::MAX_SIGNATURE_WINDOWS + 6;
    for i in 0..n {
        a.call(&format!("f{i}"));
    }
    a.bytes(&[0xc3]);
    for i in 0..n {
        a.label(&format!("f{i}"))
            .bytes(&[0x48, 0x0f, 0xaf, 0xfe])
            .bytes(&[0x90; 300])
            .bytes(&[0xc3]);
    }
    let s = search_of(&a.finish(), SearchLimits::default());
    assert_eq!(s.windows.len(), signature::MAX_SIGNATURE_WINDOWS);
    assert!(s.windows.iter().all(|w| w.bytes.len() == SIGNATURE_MAX_LEN));
}

/// A named calloc whose code leaves fewer than SIGNATURE_MIN_FIXED bytes once call targets
/// are masked is no signature (`imul; jmp zalloc` would match any such function).
#[test]
fn signatures_need_enough_fixed_bytes() {
    // calloc: imul rdi, rsi; jmp zalloc  (4 fixed bytes, 5 masked)
    let mut code = vec![0x48, 0x0f, 0xaf, 0xfe];
    code.extend_from_slice(&elf_writer::jmp(4, 16));
    code.resize(16, 0xcc);
    code.extend_from_slice(&[0x31, 0xc0, 0xc3]);
    let elf = elf_writer::x86_64(&code, &[("calloc", 0, 9), ("zalloc", 16, 3)]);
    let e = ElfFile::parse(&elf).unwrap();
    assert!(
        signature::signature_of(&e, TEXT_ADDR, "calloc", CallocVerdict::Unchecked, "", "x")
            .is_none()
    );
    // The same calloc with a longer body has one; its call is masked.
    let mut code = vec![0x48, 0x0f, 0xaf, 0xfe];
    code.extend_from_slice(&[
        0x48, 0x89, 0xf8, 0x48, 0x01, 0xc0, 0x48, 0x29, 0xc0, 0x48, 0x89, 0xc7,
    ]);
    code.extend_from_slice(&[0x48, 0x89, 0xf8, 0x48, 0x01, 0xc0]);
    let at = code.len() as u64;
    code.extend_from_slice(&elf_writer::jmp(at, 48));
    code.resize(48, 0xcc);
    code.extend_from_slice(&[0x31, 0xc0, 0xc3]);
    let size = at + 5;
    let elf = elf_writer::x86_64(&code, &[("calloc", 0, size), ("zalloc", 48, 3)]);
    let e = ElfFile::parse(&elf).unwrap();
    let s = signature::signature_of(&e, TEXT_ADDR, "calloc", CallocVerdict::Unchecked, "", "x")
        .unwrap();
    assert_eq!(s.masked(), 5);
    assert!(s.bytes.len() - s.masked() >= SIGNATURE_MIN_FIXED);
}

/// Hostile bytes: x86-64 garbage never gives a calloc and stays within the bounds (every
/// other architecture: `calloc::tests::garbage_is_never_located_as_calloc`).
#[test]
fn garbage_programs_give_no_calloc() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut code = Vec::with_capacity(64 * 1024);
    for _ in 0..64 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        code.push(x as u8);
    }
    let elf = elf_writer::x86_64(&code, &[]);
    let s = search_of(&elf, SearchLimits::default());
    assert!(s.calloc.is_none(), "{}", s.detail);
    assert!(s.insns <= locate::MAX_SEARCH_INSNS);
}
