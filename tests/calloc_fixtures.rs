//! Every row of fixtures/calloc/manifest.tsv (and fixtures/.downloads/manifest.tsv, or
//! `$BADALLOC_DOWNLOADS/manifest.tsv`, when present) must get exactly its expected calloc
//! verdict, located as the row says (by symbol, by behaviour or by signature in a stripped
//! program, at the address of the function that multiplies), with the calloc-like functions
//! it names shown and never taken for calloc; every failure names its file. Run with
//! `--nocapture` for the per-architecture confusion table. `CALLOC_MANIFEST=/path/manifest.tsv`
//! adds another.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use badalloc_audit_core::ScanOptions;
use badalloc_calloc::locate::{locate, needs_search};
use badalloc_calloc::{analyze_calloc, CallocVerdict};
use badalloc_elf::ElfFile;
use common::scan;

struct Row {
    path: PathBuf,
    arch: String,
    variant: String,
    label: String,
    expected: String,
    /// `symbol`, `behaviour`, `signature`, or `-` (no calloc).
    located: String,
    /// The function that multiplies, where a search without symbols must find it.
    address: Option<u64>,
    /// A calloc-like function the search must show (and never take for calloc).
    calloc_like: Option<u64>,
}

fn hex_col(v: Option<String>) -> Option<u64> {
    v.filter(|v| v.starts_with("0x"))
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
}

fn read_manifest(manifest: &Path, default_expected: Option<&str>) -> Vec<Row> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let dir = manifest.parent().unwrap();
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        if header.is_none() && cols.first() == Some(&"path") {
            header = Some(cols.iter().map(|s| s.to_string()).collect());
            continue;
        }
        let col = |name: &str, idx: usize| -> Option<String> {
            match &header {
                Some(h) => h
                    .iter()
                    .position(|c| c == name)
                    .and_then(|i| cols.get(i))
                    .map(|s| s.to_string()),
                None => cols.get(idx).map(|s| s.to_string()),
            }
        };
        let rel = cols[0];
        let mut path = dir.join(rel);
        if !path.exists() {
            let alt = common::fixture(rel);
            if alt.exists() {
                path = alt;
            }
        }
        let expected = match default_expected {
            Some(d) => col("expected", usize::MAX).unwrap_or_else(|| d.to_string()),
            None => col("expected", 6).unwrap_or_default(),
        };
        rows.push(Row {
            path,
            arch: col("arch", 1).unwrap_or_else(|| "?".into()),
            variant: col("variant", 2).unwrap_or_default(),
            label: cols.iter().skip(1).copied().collect::<Vec<_>>().join(" "),
            expected: expected.to_lowercase(),
            located: col("located", usize::MAX).unwrap_or_else(|| "symbol".into()),
            address: hex_col(col("address", usize::MAX)),
            calloc_like: hex_col(col("calloc_like", usize::MAX)),
        });
    }
    rows
}

/// What the tool finds in one file: the verdict of its calloc (`not-found` when it has
/// none), how it was located, the function that multiplies, and the calloc-like functions.
struct Found {
    verdict: String,
    located: String,
    body: Option<u64>,
    calloc_like: Vec<(u64, CallocVerdict)>,
}

fn word(v: CallocVerdict) -> String {
    match v {
        CallocVerdict::Checked => "checked",
        CallocVerdict::Unchecked => "unchecked",
        CallocVerdict::Unknown => "unknown",
    }
    .into()
}

/// The address of the last function of a chain (given as that function's address).
fn body(last_address: Option<&str>) -> Option<u64> {
    let a = last_address?;
    u64::from_str_radix(a.trim_start_matches("0x"), 16).ok()
}

/// A file alone: its calloc by symbol, else by the search by behaviour.
fn found_in_file(path: &Path) -> Found {
    let none = |v: &str| Found {
        verdict: v.into(),
        located: "-".into(),
        body: None,
        calloc_like: Vec::new(),
    };
    let Ok(data) = std::fs::read(path) else {
        return none("unreadable");
    };
    let Ok(elf) = ElfFile::parse(&data) else {
        return none("not-elf");
    };
    if let Some(a) = analyze_calloc(&elf) {
        return Found {
            verdict: word(a.verdict),
            located: "symbol".into(),
            body: body(a.chain_links.last().map(|l| l.address.as_str())),
            calloc_like: Vec::new(),
        };
    }
    if !needs_search(&elf) {
        return none("not-found");
    }
    let s = locate(&elf);
    let mut f = none("not-found");
    f.calloc_like = s
        .calloc_like
        .iter()
        .map(|l| (l.function, l.analysis.verdict))
        .collect();
    if let Some(l) = &s.calloc {
        f.verdict = word(l.analysis.verdict);
        f.located = "behaviour".into();
        f.body = Some(l.function);
    }
    f
}

/// A file found by its code: the scan of its directory (which holds the program with
/// symbols whose calloc is the signature).
fn found_by_scan(path: &Path) -> Found {
    let dir = path.parent().unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let report = scan(&[dir.to_path_buf()], &ScanOptions::default());
    let b = report.targets[0]
        .binaries
        .iter()
        .find(|b| b.path == name)
        .unwrap_or_else(|| panic!("{}: not in the scan of its directory", path.display()));
    match &b.static_calloc {
        None => Found {
            verdict: "not-found".into(),
            located: "-".into(),
            body: None,
            calloc_like: Vec::new(),
        },
        Some(c) => Found {
            verdict: word(c.verdict),
            located: c.located_by().to_string(),
            body: body(c.chain_links.last().map(|l| l.address.as_str())),
            calloc_like: Vec::new(),
        },
    }
}

fn found(r: &Row) -> Found {
    if r.located == "signature" {
        found_by_scan(&r.path)
    } else {
        found_in_file(&r.path)
    }
}

/// What is wrong with a row, if anything (the message names the file).
fn check(r: &Row, f: &Found) -> Option<String> {
    let file = r.path.display();
    if f.verdict != r.expected {
        return Some(format!(
            "{file}: expected {}, got {} ({})",
            r.expected, f.verdict, r.label
        ));
    }
    if r.located != "-" && f.located != r.located {
        return Some(format!(
            "{file}: expected calloc located by {}, got {} ({})",
            r.located, f.located, r.label
        ));
    }
    if r.address.is_some() && f.body != r.address {
        return Some(format!(
            "{file}: expected calloc at {:#x?}, found {:#x?} ({})",
            r.address, f.body, r.label
        ));
    }
    if let Some(like) = r.calloc_like {
        if !f.calloc_like.iter().any(|(a, _)| *a == like) {
            return Some(format!(
                "{file}: expected a calloc-like function at {like:#x}, got {:#x?} ({})",
                f.calloc_like, r.label
            ));
        }
        if f.body == Some(like) {
            return Some(format!(
                "{file}: the calloc-like {like:#x} was taken for calloc"
            ));
        }
        // The decoys have no overflow test.
        if f.calloc_like
            .iter()
            .any(|(a, v)| *a == like && *v != CallocVerdict::Unchecked)
        {
            return Some(format!(
                "{file}: the calloc-like {like:#x} is not unchecked"
            ));
        }
    }
    None
}

/// Every row checked; returns the failures (each naming its file) and the rows whose
/// expected verdict is `checked` or `unchecked` and came out as the other one.
fn run(rows: &[Row], title: &str) -> (Vec<String>, Vec<String>) {
    let mut table: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut flipped = Vec::new();
    for r in rows {
        let f = found(r);
        *table
            .entry((r.arch.clone(), r.expected.clone(), f.verdict.clone()))
            .or_default() += 1;
        let opposite = matches!(
            (r.expected.as_str(), f.verdict.as_str()),
            ("checked", "unchecked") | ("unchecked", "checked")
        );
        if opposite {
            flipped.push(format!(
                "{}: expected {}, got {}",
                r.path.display(),
                r.expected,
                f.verdict
            ));
        }
        if let Some(w) = check(r, &f) {
            wrong.push(w);
        }
    }
    println!("== {title}: {} rows, {} wrong", rows.len(), wrong.len());
    println!(
        "{:<10} {:<10} {:<10} {:>5}",
        "arch", "expected", "got", "count"
    );
    for ((arch, e, g), n) in &table {
        let mark = if e == g { "" } else { "  <-- WRONG" };
        println!("{arch:<10} {e:<10} {g:<10} {n:>5}{mark}");
    }
    for w in &wrong {
        println!("WRONG {w}");
    }
    (wrong, flipped)
}

#[test]
fn fixture_manifest_verdicts_are_exact() {
    let mut wrong = Vec::new();
    let mut sets: Vec<(PathBuf, Option<&str>, &str)> = Vec::new();
    // The generated fixtures are committed: their manifests must be there.
    for (rel, title) in [
        ("calloc/manifest.tsv", "fixtures/calloc"),
        ("qnx/manifest.tsv", "fixtures/qnx"),
    ] {
        let m = common::fixture(rel);
        assert!(
            m.exists(),
            "{} is missing: run fixtures/generate.sh",
            m.display()
        );
        sets.push((m, None, title));
    }
    // The real glibc/musl libraries: an absent or empty manifest (download-debian.sh
    // offline) tests nothing.
    let d = common::downloads_dir().join("manifest.tsv");
    if d.exists() && !read_manifest(&d, Some("checked")).is_empty() {
        sets.push((d, Some("checked"), "fixtures/.downloads"));
    } else {
        common::skip_missing(
            common::Lack::Downloads,
            "fixtures/.downloads/manifest.tsv is absent or empty: run fixtures/download-debian.sh",
        );
    }
    if let Some(extra) = std::env::var_os("CALLOC_MANIFEST") {
        sets.push((PathBuf::from(extra), None, "CALLOC_MANIFEST"));
    }
    let mut flipped = Vec::new();
    for (path, default, title) in &sets {
        let rows = read_manifest(path, *default);
        let (w, f) = run(&rows, title);
        wrong.extend(w);
        flipped.extend(f);
    }
    assert!(
        flipped.is_empty(),
        "a checked calloc was reported unchecked or an unchecked one checked:\n{}",
        flipped.join("\n")
    );
    assert!(
        wrong.is_empty(),
        "{} wrong rows:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

// ---------------------------------------------------------------- guards, one by one

const ARCHES: [&str; 9] = [
    "i686", "x86_64", "arm", "thumb2", "aarch64", "powerpc", "mips", "mipsel", "sh4",
];

/// Every file of one calloc variant, on every architecture, must get `want` (stripped
/// static executables too: the search locates their calloc by behaviour; `exceptions`: path suffix → the verdict that file
/// gets instead, each with its reason in fixtures/generate.sh). The manifest must agree,
/// so that it cannot be edited into passing. A failing line names the file.
fn assert_variant(variant: &str, want: &str, exceptions: &[(&str, &str)]) {
    let manifest = common::fixture("calloc/manifest.tsv");
    let rows: Vec<Row> = read_manifest(&manifest, None)
        .into_iter()
        .filter(|r| r.variant == variant)
        .collect();
    for arch in ARCHES {
        assert!(
            rows.iter().any(|r| r.arch == arch),
            "{variant}: no fixture for {arch} in {}",
            manifest.display()
        );
    }
    let mut wrong = Vec::new();
    for r in &rows {
        let name = r.path.to_string_lossy();
        let must = exceptions
            .iter()
            .find(|(suffix, _)| name.ends_with(suffix))
            .map_or(want, |e| e.1);
        let got = found(r).verdict;
        if got != must || r.expected != must {
            wrong.push(format!(
                "{name}: must be {must}, got {got} (manifest says {})",
                r.expected
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{variant}: {} of {} files wrong:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
}

/// `if (n < 0x100)` bounds one factor; the product still wraps. (The mutant that takes any
/// value compared with a small constant for "both factors fit in half a word" fails here.)
#[test]
fn decoy_one_factor_bounded_is_unchecked() {
    assert_variant("unchecked_one_factor", "unchecked", &[]);
}

#[test]
fn decoy_bounds_on_the_wrong_variables_are_unchecked() {
    assert_variant("unchecked_wrong_var", "unchecked", &[]);
}

#[test]
fn decoy_compare_whose_result_is_unused_is_unchecked() {
    assert_variant("unchecked_unused_cmp", "unchecked", &[]);
}

#[test]
fn decoy_check_after_the_allocation_is_unchecked() {
    assert_variant("unchecked_check_after", "unchecked", &[]);
}

/// `(n | s) <= 2^(w/2)`: one too many.
#[test]
fn decoy_half_word_limit_one_too_high_is_unchecked() {
    assert_variant("unchecked_half_limit", "unchecked", &[]);
}

#[test]
fn decoy_signed_half_word_test_is_unchecked() {
    assert_variant("unchecked_signed_half", "unchecked", &[]);
}

/// The division test computed and branched on, but both sides allocate.
#[test]
fn decoy_flag_only_division_test_is_unchecked() {
    assert_variant("unchecked_decoy", "unchecked", &[]);
}

/// `n >= 2^(w/2) || s >= 2^(w/2)`: two compares at -O0 (merged into `n | s` at -O2).
#[test]
fn honest_each_factor_below_half_word_is_checked() {
    assert_variant("checked_both_half", "checked", &[]);
}

/// `(n | s) >= 2^(w/2)`: the partner of the one-too-high decoy.
#[test]
fn honest_or_below_half_word_is_checked() {
    assert_variant("checked_or_limit", "checked", &[]);
}

#[test]
fn honest_sizemax_quotient_on_the_left_is_checked() {
    assert_variant("checked_sizemax_lt", "checked", &[]);
}

#[test]
fn honest_division_by_size_is_checked() {
    assert_variant("checked_div_size", "checked", &[]);
}

#[test]
fn honest_division_by_nmemb_is_checked() {
    assert_variant("checked_div", "checked", &[]);
}

#[test]
fn honest_builtin_mul_overflow_is_checked() {
    assert_variant("checked_builtin", "checked", &[]);
}

#[test]
fn honest_sizemax_test_is_checked() {
    assert_variant("checked_sizemax", "checked", &[]);
}

/// The test in a helper that returns "would overflow". In static executables at -O2, gcc's
/// -fipa-ra keeps nmemb and size in argument registers across the call: the analysis
/// loses them and says unknown (never checked) on the architectures where gcc does that.
#[test]
fn honest_check_in_a_helper_function_is_checked() {
    let ipa_ra: Vec<(String, &str)> = [
        "i686", "x86_64", "arm", "thumb2", "aarch64", "mips", "mipsel",
    ]
    .iter()
    .map(|a| (format!("calloc/{a}/checked_helper_fn-O2.elf"), "unknown"))
    .collect();
    let exceptions: Vec<(&str, &str)> = ipa_ra.iter().map(|(p, v)| (p.as_str(), *v)).collect();
    assert_variant("checked_helper_fn", "checked", &exceptions);
}

fn analysis_of(rel: &str) -> badalloc_calloc::CallocAnalysis {
    let data = std::fs::read(common::fixture(rel)).unwrap();
    let elf = ElfFile::parse(&data).unwrap();
    analyze_calloc(&elf).unwrap_or_else(|| panic!("{rel}: no calloc"))
}

/// Issue 15.9 (a): `(wide)n * s` with a test of the high half. At -O0 on 32-bit targets gcc
/// multiplies the zero high halves of both operands and adds them into the high word; those
/// terms fold to zero, so the high word keeps the meaning of the widening multiply's high
/// half. Without the test the same product stays unchecked.
#[test]
fn wide_product_high_half_test_is_recognised_at_every_optimisation_level() {
    let arches = [
        "i686", "x86_64", "arm", "thumb2", "aarch64", "powerpc", "mips", "mipsel", "sh4",
    ];
    for arch in arches {
        for opt in ["O0", "O2", "Os"] {
            for kind in ["so", "elf"] {
                let rel = format!("calloc/{arch}/checked_widemul-{opt}.{kind}");
                let a = analysis_of(&rel);
                assert_eq!(a.verdict, CallocVerdict::Checked, "{rel}: {}", a.reason);
                let rel = format!("calloc/{arch}/unchecked_widemul-{opt}.{kind}");
                let a = analysis_of(&rel);
                assert_eq!(a.verdict, CallocVerdict::Unchecked, "{rel}: {}", a.reason);
            }
        }
    }
}

/// Issue 15.9 (b): the oldest QNX 6 C library's layout (libc.so.1, REL relocations, linked
/// at 0xb0300000) is decided; so is its copy whose PLT slots no relocation binds by address,
/// through the relocation index each lazy PLT entry pushes for the runtime linker.
#[test]
fn oldest_qnx6_libc_layout_is_decided_even_when_plt_slots_are_unbound() {
    for rel in [
        "qnx/i686/qnx600/libc.so.1",
        "qnx/i686/qnx600/plt-unbound/libc.so.1",
    ] {
        let data = std::fs::read(common::fixture(rel)).unwrap();
        let elf = ElfFile::parse(&data).unwrap();
        assert_eq!(elf.soname, Some("libc.so.1"));
        assert!(elf.segments.iter().all(|s| s.vaddr >= 0xb030_0000), "{rel}");
        let a = analyze_calloc(&elf).unwrap();
        assert_eq!(a.verdict, CallocVerdict::Unchecked, "{rel}: {}", a.reason);
        assert_eq!(a.chain, ["calloc", "__calloc"], "{rel}");
        assert!(a.reason.contains("malloc@plt"), "{rel}: {}", a.reason);
    }
    // The unbound copy really has no relocation at the slots its PLT stubs jump through.
    let data = std::fs::read(common::fixture("qnx/i686/qnx600/plt-unbound/libc.so.1")).unwrap();
    let elf = ElfFile::parse(&data).unwrap();
    assert!(elf.slot_bindings.iter().all(|b| b.slot < 0xb030_0000));
    assert!(elf.plt_reloc_symbols.contains(&Some("malloc")));
}
