//! Shared data must not amplify work (issue 16.1): entries on one extent are examined once
//! and listed as the same content, the work budget stops entries on distinct extents with
//! one error naming the first, the report stays small, `extract` links what it wrote and
//! stops at its budget. The inputs come from tests/common/amplify.rs, scaled down so the
//! debug build runs them in seconds; `full_size_inputs_finish_within_60_s_and_2_gib`
//! (ignored: release build) runs the full-size ones under `prlimit`.

mod common;

use badalloc_audit_core::scan::{
    self, MAX_EXTRA_WORK_PER_FILE, MAX_SAME_CONTENT_LISTED, WORK_PER_INPUT_BYTE,
};
use badalloc_formats::{self as container, ContainerKind, Limits};
use badalloc_report::{ImageState, TargetReport, Verdict};
use common::ifs_writer::{self, Comp};
use common::{amplify, scan_bytes};

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(common::fixture(rel)).unwrap()
}

fn work_errors(t: &TargetReport) -> Vec<&badalloc_report::ErrorReport> {
    t.errors
        .iter()
        .filter(|e| e.message.contains("work budget"))
        .collect()
}

/// `scan::scan_bytes_with_work` as the report gives it.
fn scan_bytes_with_work(name: &str, bytes: &[u8], extra_work: u64) -> TargetReport {
    TargetReport::from(scan::scan_bytes_with_work(name, bytes, extra_work))
}

#[test]
fn entries_on_one_extent_are_examined_once_and_listed_as_the_same_content() {
    let libc = fixture("qnx/x86_64/libc.so.3");
    let alone = scan_bytes("libc.so.3", &libc);
    let img = amplify::shared_extent_ifs(3000, &libc, 0, Comp::Zlib);
    let t = scan_bytes("one.ifs", &img);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    assert_eq!(t.stats.elf_files, 1, "examined once");
    assert_eq!(t.stats.image_files, 1);
    assert_eq!(t.binaries.len(), 1);
    assert_eq!(t.binaries[0].path, "one.ifs!/blob");
    assert_eq!(
        t.verdict, alone.verdict,
        "the same verdict as the library alone"
    );
    let same = &t.images[0].same_content;
    assert_eq!(same.len(), 3000);
    assert!(same.iter().all(|s| s.same_as == "one.ifs!/blob"));
    assert_eq!(same[0].path, "one.ifs!/d0/f0");
    assert_eq!(same[2999].path, "one.ifs!/d2/f2999");
}

#[test]
fn a_name_that_is_examined_differently_is_examined_again() {
    // The same bytes as `blob`, but named as a C library: the name may decide what the
    // file is (libc without a SONAME), so it is examined under that name too, once.
    let libc = fixture("qnx/x86_64/libc.so.3");
    let aliases = [
        ("proc/boot/libc.so.3".to_string(), "blob".to_string(), 0),
        ("lib/libc.so.3".to_string(), "blob".to_string(), 0),
    ];
    let img =
        amplify::ifs_with_aliases(&[ifs_writer::file("blob", 2, &libc)], &aliases, Comp::None);
    let t = scan_bytes("n.ifs", &img);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    assert_eq!(t.stats.elf_files, 2, "blob, and once more as libc.so.3");
    let same = &t.images[0].same_content;
    assert_eq!(same.len(), 1);
    assert_eq!(same[0].path, "n.ifs!/lib/libc.so.3");
    assert_eq!(same[0].same_as, "n.ifs!/proc/boot/libc.so.3");
}

#[test]
fn the_listing_of_the_same_content_is_bounded() {
    let n = MAX_SAME_CONTENT_LISTED + 2500;
    let img = amplify::shared_extent_ifs(n, b"not an ELF file, shared by many", 0, Comp::None);
    let t = scan_bytes("many.ifs", &img);
    let i = &t.images[0];
    assert_eq!(i.entries, n as u64 + 1);
    assert_eq!(i.same_content.len(), MAX_SAME_CONTENT_LISTED);
    let note = i
        .notes
        .iter()
        .find(|n| n.kind == "same-content")
        .expect("a note counts the rest");
    assert!(
        note.detail.starts_with("2500 more files"),
        "{}",
        note.detail
    );
    // What the listing leaves out is an error too (the scan's `errors` say what a bound
    // cut): at the image, the first file left out and where its data lies.
    let cut = listing_errors(&t);
    assert_eq!(cut.len(), 1, "{:?}", t.errors);
    assert_eq!(cut[0].path, "many.ifs");
    assert!(
        cut[0].offset.is_some(),
        "an uncompressed image locates the data"
    );
    assert!(
        cut[0].message.starts_with("2500 more files")
            && cut[0].message.contains("at most 10000 per image")
            && cut[0].message.contains("(the first of them: many.ifs!/d"),
        "{}",
        cut[0].message
    );
    assert_eq!(
        t.images[0].state,
        ImageState::Complete,
        "nothing left unexamined"
    );
    let json = serde_json::to_string(&t).unwrap();
    assert!(json.len() < 2 << 20, "{} bytes of JSON", json.len());

    // Compressed: the data lies in the decoded imagefs, whose offset the message names.
    let img = amplify::shared_extent_ifs(n, b"not an ELF file, shared by many", 0, Comp::Zlib);
    let t = scan_bytes("many.ifs", &img);
    let cut = listing_errors(&t);
    assert_eq!(cut.len(), 1, "{:?}", t.errors);
    assert_eq!(cut[0].offset, None);
    assert!(
        cut[0].message.contains(" of the decoded image)"),
        "{}",
        cut[0].message
    );
}

fn listing_errors(t: &TargetReport) -> Vec<&badalloc_report::ErrorReport> {
    t.errors
        .iter()
        .filter(|e| e.message.contains("not listed in same_content"))
        .collect()
}

#[test]
fn distinct_extents_stop_at_the_work_budget_with_one_error_and_a_count() {
    // 100 entries, each 1 KiB further into 1 MiB of zeros: distinct extents of ~1 MiB.
    let zeros = vec![0u8; 1 << 20];
    let img = amplify::shared_extent_ifs(100, &zeros, 1024, Comp::None);
    let extra = 4 << 20;
    let t = scan_bytes_with_work("shift.ifs", &img, extra);
    let own = img.len() as u64 * WORK_PER_INPUT_BYTE;
    let errs = work_errors(&t);
    assert_eq!(errs.len(), 2, "{:?}", t.errors);
    let first = errs[0];
    assert!(first.path.starts_with("shift.ifs!/d0/f"), "{first:?}");
    assert!(
        first.offset.is_some(),
        "an uncompressed image locates the data"
    );
    assert!(first.message.contains("not examined"), "{}", first.message);
    let examined = t.stats.image_files;
    assert!(examined >= 2 && examined * (1 << 20) <= own + extra + (1 << 20));
    // What was not examined may decide the verdict: the image is read only in part.
    assert_eq!(t.images[0].state, ImageState::Partial);
    assert!(t.images[0]
        .damage()
        .is_some_and(|d| d.detail.contains("work budget")));
    let last = errs[1];
    assert_eq!(last.path, "shift.ifs");
    assert!(last.offset.is_some() && last.offset > first.offset);
    assert!(
        last.message.contains("(the first of them: shift.ifs!/d0/f"),
        "{}",
        last.message
    );
    // 101 files (the blob and 100 entries; the first entry has the blob's extent): those
    // examined, one the same content, the first cut named, the others counted.
    assert!(
        last.message
            .starts_with(&format!("{} more files", 101 - examined - 1 - 1)),
        "{} examined: {}",
        examined,
        last.message
    );
    // With the whole budget, every entry is examined.
    let t = scan_bytes("shift.ifs", &img);
    assert!(work_errors(&t).is_empty());
    assert_eq!(t.stats.image_files, 100);

    // Compressed, the data of the first file cut lies in the decoded imagefs: its offset
    // there is in the message.
    let img = amplify::shared_extent_ifs(100, &zeros, 1024, Comp::Zlib);
    let t = scan_bytes_with_work("shift.ifs", &img, extra);
    let errs = work_errors(&t);
    assert_eq!(errs.len(), 2, "{:?}", t.errors);
    assert_eq!(errs[0].offset, None);
    assert!(
        errs[0].message.contains(" bytes at 0x")
            && errs[0]
                .message
                .contains(" of the decoded image not examined"),
        "{}",
        errs[0].message
    );
}

#[test]
fn qnx6_hard_links_read_once_and_separate_inodes_stop_at_the_budget() {
    let size = 8 << 20;
    let links = amplify::repeated_block_qnx6(512, size, false);
    let t = scan_bytes("links.img", &links);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    assert_eq!(t.stats.image_files, 1);
    assert_eq!(t.images[0].same_content.len(), 511);
    assert_eq!(t.images[0].same_content[0].same_as, "links.img!/f0");

    let inodes = amplify::repeated_block_qnx6(512, size, true);
    let t = scan_bytes_with_work("inodes.img", &inodes, 64 << 20);
    let errs = work_errors(&t);
    assert_eq!(errs.len(), 2, "{:?}", t.errors);
    assert!(errs[0].path.starts_with("inodes.img!/f"));
    assert!(errs[0].offset.is_some(), "the first data block");
    assert!(
        errs[1].offset.is_some(),
        "the data of the first file counted"
    );
    assert!(t.stats.image_files < 10);
    assert_eq!(t.images[0].state, ImageState::Partial);
    assert_eq!(t.verdict, Verdict::Inconclusive, "{:?}", t.reasons);
}

#[test]
fn qnx4_links_to_the_boot_image_examine_it_once() {
    let Some(img) = common::corpus("qnx/openqnx-qnx4fs.img") else {
        return;
    };
    let plain = scan_bytes("fs.img", &img);
    let linked = amplify::qnx4_extra_links(&img, ".boot", 2000);
    let t = scan_bytes("fs.img", &linked);
    assert_eq!(t.verdict, plain.verdict);
    assert_eq!(t.stats.elf_files, plain.stats.elf_files);
    assert_eq!(t.stats.image_files, plain.stats.image_files);
    let fs = t.images.iter().find(|i| i.path == "fs.img").unwrap();
    let links = fs
        .same_content
        .iter()
        .filter(|s| s.path.starts_with("fs.img!/link"));
    assert!(links.clone().all(|s| s.same_as == "fs.img!/.boot"));
    assert_eq!(links.count(), 2000);
    assert_eq!(t.errors.len(), plain.errors.len(), "{:?}", t.errors);
}

#[test]
fn a_service_under_another_name_keeps_its_exposure() {
    // telnetd's bytes first as `usr/bin/netd`, then as `usr/sbin/telnetd`: examined once,
    // and the exposure ranking knows the second name (a service BlackBerry names).
    let tel = fixture("qnx/x86_64/telnetd");
    let libc = fixture("qnx/x86_64/libc.so.3");
    let nodes = [
        ifs_writer::file("proc/boot/libc.so.3", 2, &libc),
        ifs_writer::file("usr/bin/netd", 3, &tel),
    ];
    let alias = [("usr/sbin/telnetd".into(), "usr/bin/netd".into(), 0)];
    let t = scan_bytes(
        "s.ifs",
        &amplify::ifs_with_aliases(&nodes, &alias, Comp::None),
    );
    assert_eq!(t.images[0].same_content.len(), 1, "{:?}", t.images[0]);
    assert_eq!(t.binaries.len(), 2);
    let e = t
        .exposure
        .iter()
        .find(|e| e.path == "s.ifs!/usr/bin/netd")
        .unwrap_or_else(|| panic!("{:?} {:?}", t.verdict, t.exposure));
    assert!(e.named_service, "{e:?}");
}

#[test]
fn extract_links_files_with_the_same_bytes_and_stops_at_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let blob: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let img = amplify::shared_extent_ifs(50, &blob, 0, Comp::Zlib);
    let c = container::open(&img, ContainerKind::Ifs, &Limits::default()).unwrap();
    let s = container::extract_within(c.as_ref(), &dir.path().join("a"), 200_000).unwrap();
    assert_eq!((s.files, s.hard_links, s.bytes), (51, 50, 100_000));
    assert!(s.stopped.is_none());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let ino = |p: &str| {
            std::fs::metadata(dir.path().join("a").join(p))
                .unwrap()
                .ino()
        };
        assert_eq!(ino("blob"), ino("d0/f49"));
    }
    assert_eq!(std::fs::read(dir.path().join("a/d0/f7")).unwrap(), blob);

    // Distinct extents: written until the next would pass the budget, then stopped.
    let img = amplify::shared_extent_ifs(50, &blob, 1000, Comp::None);
    let c = container::open(&img, ContainerKind::Ifs, &Limits::default()).unwrap();
    let s = container::extract_within(c.as_ref(), &dir.path().join("b"), 450_000).unwrap();
    assert!(s.bytes <= 450_000 && s.bytes > 300_000, "{s:?}");
    let why = s.stopped.expect("stopped at the budget");
    assert!(why.starts_with("d0/f"), "{why}");
    assert!(why.contains("budget of 450000 bytes"), "{why}");
    assert!(why.contains("offset 0x"), "{why}");
    assert!(
        why.contains(&format!(
            "and the {} after it are not extracted",
            51 - 5 - 1
        )),
        "{why}"
    );
    assert_eq!(s.files, 5);
}

#[test]
fn the_extract_command_links_files_with_the_same_bytes() {
    // The command's budget: four bytes per byte of the image and 2 GiB more (stopping at
    // it, with exit status 4, is shown full size by the ignored test below).
    assert_eq!(
        badalloc_audit_core::image_cmd::extract_budget(1000),
        4000 + MAX_EXTRA_WORK_PER_FILE
    );
    let dir = tempfile::tempdir().unwrap();
    let img = amplify::shared_extent_ifs(3, &[7u8; 4096], 0, Comp::None);
    let p = dir.path().join("x.ifs");
    std::fs::write(&p, &img).unwrap();
    let out = assert_cmd::Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("extract")
        .arg(&p)
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("extracted 4 files (4096 bytes, 3 of them hard links)"),
        "{text}"
    );
}

#[test]
fn work_budget_constants() {
    assert_eq!(WORK_PER_INPUT_BYTE, 4);
    assert_eq!(MAX_EXTRA_WORK_PER_FILE, 2 << 30);
    assert_eq!(scan::MAX_EXTRA_WORK_PER_SCAN, 8 << 30);
    assert_eq!(MAX_SAME_CONTENT_LISTED, 10_000);
}

/// Run the scanner (this build's) under `prlimit --as=LIMIT` and `timeout SECS` on `file`:
/// exit status (None when killed by a signal), wall time, the report. None when `prlimit`
/// or `timeout` is missing.
fn scan_limited(
    file: &std::path::Path,
    as_limit: u64,
    secs: u64,
) -> Option<(Option<i32>, std::time::Duration, String)> {
    let bin = assert_cmd::cargo::cargo_bin("badalloc-audit");
    let started = std::time::Instant::now();
    let out = std::process::Command::new("prlimit")
        .arg(format!("--as={as_limit}"))
        .arg("timeout")
        .arg(secs.to_string())
        .arg(bin)
        .args(["scan", "--format", "json"])
        .arg(file)
        .output();
    let Ok(out) = out else {
        eprintln!("SKIP: prlimit is not available");
        return None;
    };
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    Some((out.status.code(), started.elapsed(), report))
}

#[test]
fn nested_gzip_bombs_under_an_address_space_limit_end_in_errors_not_an_abort() {
    // Three levels of .tar.gz, each with a 600 MiB bomb padded to 1 MiB (the size whose
    // first guess doubled onto the 512 MiB bound and then reserved 1 GiB). Under a limit of
    // 400 MB no output buffer of 256 MiB can be had: each bomb is an error, the scan ends.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nested.tar.gz");
    let bomb = amplify::gzip_bomb_padded(600 << 20, 1 << 20);
    std::fs::write(&p, amplify::nested_tar_gz_bombs(3, &bomb)).unwrap();
    let Some((code, _, report)) = scan_limited(&p, 400_000_000, 120) else {
        return;
    };
    assert_eq!(code, Some(3), "killed, or aborted: {report}");
    let r: badalloc_report::Report = serde_json::from_str(&report).unwrap();
    let errors = &r.targets[0].errors;
    for path in [
        "nested.tar.gz!/bomb.gz",
        "nested.tar.gz!/inner.tar.gz!/bomb.gz",
        "nested.tar.gz!/inner.tar.gz!/inner.tar.gz!/bomb.gz",
    ] {
        let e = errors
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("no error for {path}: {errors:?}"));
        assert!(
            e.message.contains("out of memory") || e.message.contains("exceed the limit"),
            "{e:?}"
        );
        assert!(e.offset.is_some());
    }
}

/// The full-size inputs of issue 16 (examples/make_amplifiers.rs writes the same files):
/// each scan ends within 60 s under a 2 GiB address-space limit, with a report of a few MB
/// at most; `extract` of an image of 1,024 inodes of 256 MiB stops at its budget.
/// A release build: `cargo test --release --test amplification -- --ignored`.
#[test]
#[ignore = "full size, release build: cargo test --release --test amplification -- --ignored"]
fn full_size_inputs_finish_within_60_s_and_2_gib() {
    if cfg!(debug_assertions) {
        eprintln!("SKIP: the timings hold for a release build (cargo test --release)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 256 << 20];
    let libc = common::corpus("qnx/openqnx-641-x86-libc.so.3")
        .unwrap_or_else(|| fixture("qnx/x86_64/libc.so.3"));
    let mut inputs: Vec<(&str, Vec<u8>)> = vec![
        (
            "ifs-zero-20000.ifs",
            amplify::shared_extent_ifs(20_000, &zeros, 0, Comp::Zlib),
        ),
        (
            "ifs-zero-shifted-20000.ifs",
            amplify::shared_extent_ifs(20_000, &zeros, 4, Comp::Zlib),
        ),
        (
            "ifs-libc-400000.ifs",
            amplify::shared_extent_ifs(400_000, &libc, 0, Comp::Zlib),
        ),
        (
            "qnx6-hardlinks-1024.img",
            amplify::repeated_block_qnx6(1024, 256 << 20, false),
        ),
        (
            "qnx6-inodes-1024.img",
            amplify::repeated_block_qnx6(1024, 256 << 20, true),
        ),
    ];
    drop(zeros);
    if let Some(img) = common::corpus("qnx/openqnx-qnx4fs.img") {
        inputs.push((
            "qnx4-links-16384.img",
            amplify::qnx4_extra_links(&img, ".boot", 16_384),
        ));
    }
    for (name, data) in &inputs {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        let Some((code, took, report)) = scan_limited(&p, 2 << 30, 60) else {
            return;
        };
        eprintln!(
            "{name}: {} bytes, {took:.2?}, exit {code:?}, {} bytes of JSON",
            data.len(),
            report.len()
        );
        assert!(matches!(code, Some(0..=3)), "{name}: exit {code:?}");
        assert!(took.as_secs() < 60, "{name}: {took:?}");
        assert!(
            report.len() < 4 << 20,
            "{name}: {} bytes of JSON",
            report.len()
        );
        // What a bound cut is an error naming the file, where its data lies and the bound;
        // entries that only share one extent cut nothing (examined once, all listed).
        let r: badalloc_report::Report = serde_json::from_str(&report).unwrap();
        let t = &r.targets[0];
        let cut_by = |what: &str| t.errors.iter().find(|e| e.message.contains(what));
        match *name {
            "qnx6-hardlinks-1024.img" => {
                assert!(t.errors.is_empty(), "{:?}", t.errors);
                assert_eq!(t.images[0].same_content.len(), 1023);
            }
            "ifs-zero-shifted-20000.ifs" | "qnx6-inodes-1024.img" => {
                let e = cut_by("work budget").unwrap_or_else(|| panic!("{name}: {t:?}"));
                assert!(e.path.starts_with(&format!("{name}!/")), "{e:?}");
                assert!(
                    e.offset.is_some() || e.message.contains("of the decoded image"),
                    "{e:?}"
                );
                assert!(e.message.contains("2147483648 more"), "{e:?}");
                assert!(cut_by("more files of this image not examined").is_some());
            }
            _ => {
                let e = cut_by("not listed in same_content")
                    .unwrap_or_else(|| panic!("{name}: {:?}", t.errors));
                assert_eq!(e.path, *name);
                assert!(
                    e.offset.is_some() || e.message.contains("of the decoded image"),
                    "{e:?}"
                );
                assert!(e.message.contains("at most 10000 per image"), "{e:?}");
            }
        }
    }
    // Issue 16.3: decoders grow their output to the bound exactly. Each bomb (a 1 MiB
    // stream, so the first guess doubles onto the 512 MiB bound; each .tar.gz level's guess
    // too) decodes to the bound under a 1 GiB address space, where reserving twice the bound
    // aborted the process: an error at each bomb, the scan ends.
    let p = dir.path().join("nested-bombs.tar.gz");
    let bomb = amplify::gzip_bomb_padded(600 << 20, 1 << 20);
    std::fs::write(&p, amplify::nested_tar_gz_bombs(3, &bomb)).unwrap();
    let (code, took, report) = scan_limited(&p, 1 << 30, 60).expect("prlimit ran above");
    eprintln!("nested-bombs.tar.gz under 1 GiB: {took:.2?}, exit {code:?}");
    assert_eq!(code, Some(3), "killed, or aborted: {report}");
    let r: badalloc_report::Report = serde_json::from_str(&report).unwrap();
    let bound = format!("exceed the limit of {}", Limits::default().max_expanded);
    let bombs = r.targets[0]
        .errors
        .iter()
        .filter(|e| e.path.ends_with("/bomb.gz") && e.message.contains(&bound));
    assert_eq!(bombs.count(), 3, "{:?}", r.targets[0].errors);

    // extract: 1,024 inodes of 256 MiB (256 GiB) from a 74 KB image stop at the budget.
    let img = dir.path().join("qnx6-inodes-1024.img");
    let out_dir = dir.path().join("out");
    let out = std::process::Command::new("prlimit")
        .arg(format!("--as={}", 2u64 << 30))
        .arg("timeout")
        .arg("120")
        .arg(assert_cmd::cargo::cargo_bin("badalloc-audit"))
        .arg("extract")
        .arg(&img)
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("would pass the budget"), "{stderr}");
    assert!(
        stderr.contains("(offset 0x") && stderr.contains("after it are not extracted"),
        "{stderr}"
    );
    let written: u64 = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let budget =
        badalloc_audit_core::image_cmd::extract_budget(std::fs::metadata(&img).unwrap().len());
    assert!(
        written <= budget && written > budget / 2,
        "{written} of {budget}"
    );
}
