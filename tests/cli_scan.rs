//! `badalloc-audit scan` end to end: real corpus files, hostile inputs, exit statuses.

mod common;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn scan_json(args: &[&Path]) -> (i32, Value) {
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("scan")
        .arg("--format")
        .arg("json")
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), json)
}

fn evidence_kinds(target: &Value) -> Vec<String> {
    target["os"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sdp660_kernel_gives_release_660_with_high_confidence() {
    let Some(p) = common::corpus_path("qnx/sdp660-x86-procnto") else {
        return;
    };
    let (_, j) = scan_json(&[&p]);
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["tool"]["name"], "badalloc-audit");
    let t = &j["targets"][0];
    assert_eq!(t["kind"], "elf");
    assert_eq!(t["os"]["family"], "qnx");
    assert_eq!(t["os"]["release"], "6.6.0");
    assert_eq!(t["os"]["confidence"], "high");
    assert!(evidence_kinds(t).contains(&"procnto-release".to_string()));
    // A fixed release decides alone.
    assert_eq!(t["verdict"], "not-affected");
}

/// Issue 15.7: the 6.6.0 kernel's own calloc lies outside its executable segments, so its
/// analysis ends unknown: a caveat in the JSON reasons and the text, never hidden behind
/// "not affected".
#[test]
fn unknown_static_copy_of_the_660_kernel_is_a_caveat() {
    let Some(p) = common::corpus_path("qnx/sdp660-x86-procnto") else {
        return;
    };
    let (code, j) = scan_json(&[&p]);
    let t = &j["targets"][0];
    assert_eq!(t["verdict"], "not-affected");
    assert_eq!(code, 0);
    let copy = t["binaries"][0]["static_calloc"].clone();
    assert_eq!(copy["verdict"], "unknown", "{copy}");
    let reasons: Vec<&str> = t["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(reasons[0].starts_with("R4:"), "{reasons:?}");
    let caveat = reasons
        .iter()
        .find(|r| r.starts_with("caveat: 1 statically linked copy of calloc could not be analysed"))
        .unwrap_or_else(|| panic!("no caveat for the unknown copy: {reasons:?}"));
    assert!(caveat.contains("sdp660-x86-procnto: calloc"), "{caveat}");
    assert!(
        caveat.contains("outside the executable segments"),
        "{caveat}"
    );
    let text = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["scan", "-q"])
        .arg(&p)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.lines().any(|l| l == format!("  - {caveat}")),
        "the caveat is in the text report:\n{text}"
    );
}

/// Issue 15.8: the 6.4.1 boot image has no vendor patch; the advice says so and offers
/// none of the 6.5.0 patches.
#[test]
fn patch_advice_for_641_says_no_vendor_patch_exists() {
    let Some(p) = common::corpus_path("qnx/openqnx-641-x86.ifs") else {
        return;
    };
    let (code, j) = scan_json(&[&p]);
    let t = &j["targets"][0];
    assert_eq!((code, t["verdict"].as_str()), (1, Some("affected")));
    assert_eq!(t["os"]["release"], "6.4.1");
    let patch = t["mitigations"][0].as_str().unwrap();
    assert!(
        patch.starts_with("Patch: no vendor patch exists for QNX 6.4.1"),
        "{patch}"
    );
    assert!(
        patch.contains("move to SDP 6.6.0 or later, or port the fix"),
        "{patch}"
    );
    assert!(!patch.contains("apply patch"), "{patch}");
}

#[test]
fn sdp660_libc_is_qnx_libc_so_3_with_qnx_info_660() {
    let Some(p) = common::corpus_path("qnx/sdp660-x86-libc.so.3") else {
        return;
    };
    let (_, j) = scan_json(&[&p]);
    let t = &j["targets"][0];
    assert_eq!(t["os"]["family"], "qnx");
    assert_eq!(t["os"]["release"], "6.6.0");
    assert_eq!(t["os"]["confidence"], "medium");
    let libc = &t["libc"][0];
    assert_eq!(libc["soname"], "libc.so.3");
    assert_eq!(libc["version"], "6.6.0");
    assert_eq!(libc["arch"], "x86");
    assert_eq!(libc["qnx"], true);
    let kinds = evidence_kinds(t);
    assert!(
        kinds.contains(&"qnx-info".to_string()) && kinds.contains(&"libc-soname".to_string()),
        "{kinds:?}"
    );
}

#[test]
fn corpus_directory_reports_disagreeing_kernels_and_labels() {
    let Some(dir) = common::corpus_path("qnx") else {
        return;
    };
    let (_, j) = scan_json(&[&dir]);
    let t = &j["targets"][0];
    assert_eq!(t["kind"], "directory");
    // Two boot images (6.4.1) and a loose 6.6.0 kernel: the lowest release is reported, and
    // every disagreement is named.
    assert_eq!(t["os"]["release"], "6.4.1");
    let conflicts: Vec<&str> = t["os"]["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        conflicts
            .iter()
            .any(|c| c.contains("several kernels") && c.contains("6.4.1, 6.6.0")),
        "{conflicts:?}"
    );
    assert!(
        conflicts
            .iter()
            .any(|c| c.contains("kernel says 6.4.1, C library QNX_info says 6.4.0")),
        "{conflicts:?}"
    );
}

#[test]
fn hostile_tree_errors_are_listed_and_the_scan_goes_on() {
    let Some(good) = common::corpus_path("qnx/sdp660-x86-libc.so.3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let libc = fs::read(&good).unwrap();
    // Truncated ELF: header intact, program headers cut off.
    fs::write(root.join("truncated.so"), &libc[..40]).unwrap();
    // Absurd counts: 65535 program headers at a far offset.
    let mut absurd = libc[..52].to_vec();
    absurd[0x1c..0x20].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    absurd[0x2c..0x2e].copy_from_slice(&0xffffu16.to_le_bytes());
    fs::write(root.join("absurd.so"), &absurd).unwrap();
    // Section headers pointing past the end: still readable through program headers.
    let mut bad_sections = libc.clone();
    bad_sections[0x20..0x24].copy_from_slice(&0xffff_0000u32.to_le_bytes());
    fs::write(root.join("bad-sections.so"), &bad_sections).unwrap();
    fs::create_dir(root.join("lib")).unwrap();
    fs::write(root.join("lib/libc.so.3"), &libc).unwrap();
    // Symlink loops and a link to the tree's own root.
    std::os::unix::fs::symlink("loop-b", root.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", root.join("loop-b")).unwrap();
    std::os::unix::fs::symlink("..", root.join("lib/up")).unwrap();
    // A FIFO: opening it would block forever.
    let fifo = root.join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());

    let (code, j) = scan_json(&[root]);
    let t = &j["targets"][0];
    let errors = t["errors"].as_array().unwrap();
    let err_for = |p: &str| {
        errors
            .iter()
            .find(|e| e["path"] == p)
            .unwrap_or_else(|| panic!("no error for {p}: {errors:?}"))
    };
    assert!(err_for("truncated.so")["message"]
        .as_str()
        .unwrap()
        .contains("truncated"));
    let absurd_err = err_for("absurd.so");
    assert_eq!(absurd_err["offset"], 0x7fff_fff0u64);
    assert_eq!(err_for("bad-sections.so")["offset"], 0xffff_0000u64);
    assert!(err_for("pipe")["message"]
        .as_str()
        .unwrap()
        .contains("FIFO"));
    let links: Vec<&str> = t["symlinks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert_eq!(links, ["lib/up", "loop-a", "loop-b"]);
    // The good library was still analysed, as was the one with broken section headers.
    let libcs: Vec<&str> = t["libc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert!(
        libcs.contains(&"lib/libc.so.3") && libcs.contains(&"bad-sections.so"),
        "{libcs:?}"
    );
    assert_eq!(t["os"]["release"], "6.6.0");
    assert_ne!(
        code, 4,
        "a tree with some bad files is not an unreadable PATH"
    );
}

#[test]
fn scanning_writes_nothing_into_the_tree() {
    let Some(good) = common::corpus_path("qnx/sdp660-x86-libc.so.3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    fs::copy(&good, dir.path().join("libc.so.3")).unwrap();
    fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let snapshot = |p: &Path| -> Vec<(String, u64, std::time::SystemTime)> {
        let mut v: Vec<_> = fs::read_dir(p)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    m.len(),
                    m.modified().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = snapshot(dir.path());
    let (code, j) = scan_json(&[dir.path()]);
    // The scan did run and read the library.
    assert_eq!(
        (code, &j["targets"][0]["verdict"]),
        (0, &"not-affected".into())
    );
    assert_eq!(j["targets"][0]["libc"][0]["calloc"]["verdict"], "checked");
    assert_eq!(before, snapshot(dir.path()));
}

#[test]
fn exit_statuses() {
    let missing = Path::new("/nonexistent/badalloc-audit-test");
    let (code, j) = scan_json(&[missing]);
    assert_eq!(code, 4);
    assert_eq!(j["targets"][0]["verdict"], "error");
    assert!(j["targets"][0]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("cannot read"));

    // Usage error: no PATH.
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("scan")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // A directory without ELF files: nothing to judge.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("readme.txt"), "not firmware").unwrap();
    let (code, j) = scan_json(&[dir.path()]);
    assert_eq!(j["targets"][0]["verdict"], "inconclusive");
    assert_eq!(code, 3);
}

#[test]
fn help_documents_exit_statuses() {
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["scan", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Exit status",
        "1  at least one target is affected",
        "4  a PATH could not be read",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from --help:\n{text}"
        );
    }
}

#[test]
fn output_file_is_written_and_refused_inside_the_scanned_tree() {
    let example = common::fixture("example/qnx710-device");
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("report.json");
    let st = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["scan", "--format", "json", "--output"])
        .arg(&out)
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        st.stdout.is_empty(),
        "the report goes to the file, not stdout"
    );
    let j: Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert_eq!(j["targets"][0]["os"]["release"], "7.1.0");

    // Inside the tree: refused as a usage error, nothing written.
    let tree = tempfile::tempdir().unwrap();
    fs::write(tree.path().join("x.txt"), "x").unwrap();
    let inside = tree.path().join("report.json");
    let st = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["scan", "--output"])
        .arg(&inside)
        .arg(tree.path())
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("refusing"));
    assert!(!inside.exists());
}

#[test]
fn completions_and_man_page_come_from_the_clap_definition() {
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("scan"));
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("man")
        .output()
        .unwrap();
    let man = String::from_utf8_lossy(&out.stdout);
    assert!(man.contains(".TH") && man.contains("badalloc"), "{man}");
}

#[test]
fn inspect_shows_chain_evidence_and_verdict() {
    let Some(p) = common::corpus_path("qnx/openqnx-641-x86-libc.so.3") else {
        return;
    };
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["inspect", "--format", "json"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["arch"], "x86");
    assert_eq!(j["qnx"], true);
    let c = &j["calloc"];
    assert_eq!(c["verdict"], "unchecked");
    assert_eq!(c["chain"], serde_json::json!(["calloc", "__calloc"]));
    assert!(c["address"].as_str().unwrap().starts_with("0x"));
    let texts: Vec<&str> = c["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert!(texts.iter().any(|t| t.starts_with("imul")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("malloc")), "{texts:?}");

    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("inspect")
        .arg(&p)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("verdict: unchecked") && text.contains("__calloc (annotated):"),
        "{text}"
    );

    // A file without calloc: null, not an error.
    let Some(k) = common::corpus_path("qnx/sdp660-x86-procnto") else {
        return;
    };
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["inspect", "--format", "json"])
        .arg(&k)
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(j["calloc"].is_null() || j["calloc"]["verdict"].is_string());
}

#[test]
fn diff_of_two_scans_exits_1_while_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let run = |target: &str, name: &str| {
        let out = dir.path().join(name);
        Command::cargo_bin("badalloc-audit")
            .unwrap()
            .args(["scan", "--format", "json", "--output"])
            .arg(&out)
            .arg(common::fixture(target))
            .output()
            .unwrap();
        out
    };
    let before = run("example/qnx650-device", "before.json");
    let after = run("example/qnx710-device", "after.json");
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("diff")
        .arg(&before)
        .arg(&after)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("diff")
        .arg(&after)
        .arg(&before)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("diff")
        .arg(&before)
        .arg("/nonexistent.json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sarif_and_cyclonedx_from_the_cli() {
    for (fmt, key) in [("sarif", "runs"), ("cyclonedx", "bomFormat")] {
        let out = Command::cargo_bin("badalloc-audit")
            .unwrap()
            .args(["scan", "--format", fmt])
            .arg(common::fixture("example/qnx650-device"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "the example is affected");
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!j[key].is_null(), "{fmt}");
    }
}

#[test]
fn ls_and_extract_a_boot_image_byte_exact() {
    let Some(ifs) = common::corpus_path("qnx/openqnx-641-x86.ifs") else {
        return;
    };
    let Some(loose) = common::corpus("qnx/openqnx-641-x86-libc.so.3") else {
        return;
    };
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["ls", "--format", "json"])
        .arg(&ifs)
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j[0]["kind"], "ifs");
    let paths: Vec<&str> = j[0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for p in [
        "proc/boot/libc.so.3",
        "proc/boot/procnto-instr",
        "proc/boot/qconn",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    let text = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("ls")
        .arg(&ifs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("proc/boot/libc.so.3") && text.contains("checksum"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("extract")
        .arg(&ifs)
        .arg(&dest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let extracted = fs::read(dest.join("proc/boot/libc.so.3")).unwrap();
    assert_eq!(common::sha256_hex(&extracted), common::sha256_hex(&loose));

    // Not an image: a clear error and exit 4.
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("ls")
        .arg(common::fixture("README.md"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no IFS"));
}
