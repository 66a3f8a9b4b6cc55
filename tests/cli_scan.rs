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
    // The plain first line of the text report says so too.
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["scan", "-q"])
        .arg(&p)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("");
    assert!(
        first.contains(
            "affected. Upgrade to QNX 6.6.0 or later, or port the fix to this build (no vendor \
             patch exists for this release)"
        ),
        "{first}"
    );
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
    // A gzip stream cut in the middle.
    let gz = common::gzip(
        &(0..200_000u32)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    fs::write(root.join("cut.gz"), &gz[..gz.len() / 2]).unwrap();
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
    // Each error says its kind: damage told apart from what the tool does not read.
    assert_eq!(err_for("truncated.so")["kind"], "truncated");
    assert_eq!(absurd_err["kind"], "truncated");
    assert_eq!(err_for("bad-sections.so")["kind"], "truncated");
    assert_eq!(err_for("pipe")["kind"], "unsupported");
    assert_eq!(err_for("cut.gz")["kind"], "truncated", "{errors:?}");
    let malformed = errors.iter().find(|e| {
        e["path"] == "bad-sections.so" && e["message"].as_str().unwrap().contains("malformed")
    });
    assert_eq!(malformed.unwrap()["kind"], "corrupt", "{errors:?}");
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
    assert_eq!(j["targets"][0]["errors"][0]["kind"], "unreadable");

    // Usage error: no PATH.
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .arg("scan")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // A directory of text files and empty files: not firmware (rule NOT-FIRMWARE).
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("readme.txt"), "not firmware").unwrap();
    fs::write(dir.path().join("empty"), "").unwrap();
    let (code, j) = scan_json(&[dir.path()]);
    assert_eq!(j["targets"][0]["verdict"], "not-qnx");
    assert!(j["targets"][0]["reasons"][0]
        .as_str()
        .unwrap()
        .starts_with("NOT-FIRMWARE"));
    assert_eq!(code, 0);
    // Bytes of an unknown format beside them: nothing to judge, maybe an encrypted image.
    let blob: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    fs::write(dir.path().join("blob.bin"), blob).unwrap();
    let (code, j) = scan_json(&[dir.path()]);
    assert_eq!(j["targets"][0]["verdict"], "inconclusive");
    assert!(j["targets"][0]["reasons"][0]
        .as_str()
        .unwrap()
        .starts_with("R0"));
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
    // Two paths: the same device only when the user says so.
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["diff", "--same-target"])
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
        .args(["diff", "--same-target"])
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

/// The real x86 C libraries: (6.4.1, unchecked calloc; 6.6.0, checked), or None (SKIP).
fn corpus_libcs() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    Some((
        common::corpus_path("qnx/openqnx-641-x86-libc.so.3")?,
        common::corpus_path("qnx/sdp660-x86-libc.so.3")?,
    ))
}

/// The binary run as a user who cannot read a file of mode 000: `nobody` when the tests
/// run as root (root reads everything), else the current user.
fn unprivileged_scan(path: &Path) -> (i32, Value) {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("badalloc-audit"));
    cmd.args(["scan", "-q", "--format", "json"]).arg(path);
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), json)
}

/// A directory any user may enter (temporary directories are private to their owner).
fn open_to_all(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
}

fn deny_all(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(0o000)).unwrap();
}

#[test]
fn an_unreadable_path_exits_4_and_an_unreadable_file_in_a_tree_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    open_to_all(dir.path());
    let tree = dir.path().join("fw");
    fs::create_dir_all(tree.join("bin")).unwrap();
    open_to_all(&tree);
    open_to_all(&tree.join("bin"));
    fs::copy(common::fixture("qnx/i686/ls"), tree.join("bin/ls")).unwrap();
    let secret = tree.join("bin/secret");
    fs::copy(common::fixture("qnx/i686/qconn"), &secret).unwrap();
    deny_all(&secret);
    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    fs::write(locked.join("x"), "x").unwrap();
    deny_all(&locked);
    for (path, what) in [(&secret, "file"), (&locked, "directory")] {
        let (code, j) = unprivileged_scan(path);
        let t = &j["targets"][0];
        assert_eq!(code, 4, "unreadable {what}: {t}");
        assert_eq!(t["kind"], "unreadable", "{t}");
        assert_eq!(t["verdict"], "error");
        let message = t["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("permission denied"), "{message}");
    }
    let (_, j) = unprivileged_scan(&tree);
    let t = &j["targets"][0];
    assert_eq!(t["stats"]["files"], 1, "{t}");
    assert_eq!(t["stats"]["skipped"], 1, "{t}");
    assert_eq!(t["errors"][0]["path"], "bin/secret");
}

#[test]
fn an_unreadable_c_library_is_reported_as_such_never_as_absent() {
    let Some((vulnerable, fixed)) = corpus_libcs() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    open_to_all(dir.path());
    for d in ["bin", "lib", "proc", "proc/boot"] {
        fs::create_dir(dir.path().join(d)).unwrap();
        open_to_all(&dir.path().join(d));
    }
    fs::copy(common::fixture("qnx/i686/ls"), dir.path().join("bin/ls")).unwrap();
    let libc = dir.path().join("lib/libc.so.3");
    fs::copy(&vulnerable, &libc).unwrap();
    deny_all(&libc);
    let (code, j) = unprivileged_scan(dir.path());
    let t = &j["targets"][0];
    let reasons: Vec<&str> = t["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("lib/libc.so.3 could not be read: permission denied; run as root")),
        "{reasons:?}"
    );
    assert!(
        !reasons
            .iter()
            .any(|r| r.contains("no QNX C library was found")),
        "{reasons:?}"
    );
    assert_eq!(t["verdict"], "inconclusive", "{reasons:?}");
    assert_eq!(code, 3);
    assert_eq!(t["stats"]["skipped"], 1);
    assert_eq!(t["stats"]["files"], 1);

    // A checked C library does not vouch for a copy that could not be read.
    fs::remove_file(&libc).unwrap();
    fs::copy(&fixed, &libc).unwrap();
    let boot_libc = dir.path().join("proc/boot/libc.so.3");
    fs::copy(&fixed, &boot_libc).unwrap();
    let (code, j) = unprivileged_scan(dir.path());
    assert_eq!(
        j["targets"][0]["verdict"], "not-affected",
        "{}",
        j["targets"][0]
    );
    assert_eq!(code, 0);
    deny_all(&boot_libc);
    let (code, j) = unprivileged_scan(dir.path());
    let t = &j["targets"][0];
    assert_eq!(t["verdict"], "inconclusive", "{}", t["reasons"]);
    assert_eq!(code, 3);
    assert!(
        t["reasons"].to_string().contains(
            "proc/boot/libc.so.3 could not be read: permission denied; run as root, so not every calloc was checked"
        ),
        "{}",
        t["reasons"]
    );
}

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

fn os_name(bytes: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_os_string()
}

#[test]
fn names_that_are_not_utf8_stay_distinct_in_every_format() {
    let Some((unchecked, checked)) = corpus_libcs() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("fw");
    fs::create_dir(&tree).unwrap();
    // Two names that lossy UTF-8 decoding made one ("libc.so.3\u{fffd}"), and a newline.
    fs::copy(&unchecked, tree.join(os_name(b"libc.so.3\xff"))).unwrap();
    fs::copy(&checked, tree.join(os_name(b"libc.so.3\xfe"))).unwrap();
    fs::copy(
        common::fixture("qnx/i686/ls"),
        tree.join(os_name(b"ls\nfw: NOT AFFECTED")),
    )
    .unwrap();
    let (_, j) = scan_json(&[&tree]);
    let t = &j["targets"][0];
    let libc: Vec<(&str, &str)> = t["libc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["path"].as_str().unwrap(),
                l["calloc"]["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        libc,
        [
            ("libc.so.3\\xfe", "checked"),
            ("libc.so.3\\xff", "unchecked")
        ]
    );
    let bins: Vec<&str> = t["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["path"].as_str().unwrap())
        .collect();
    assert!(bins.contains(&"ls\\x0afw: NOT AFFECTED"), "{bins:?}");

    let text = run(&["scan".as_ref(), "-q".as_ref(), tree.as_os_str()]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("libc.so.3\\xff") && text.contains("libc.so.3\\xfe"),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("fw: NOT")), "{text}");
    // SARIF and CycloneDX name the file by its own bytes.
    for (format, name) in [("sarif", "libc.so.3%FF"), ("cyclonedx", "libc.so.3\\\\xff")] {
        let o = run(&[
            "scan".as_ref(),
            "-q".as_ref(),
            "--format".as_ref(),
            format.as_ref(),
            tree.as_os_str(),
        ]);
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(out.contains(name), "{format}: {out}");
        assert!(!out.contains('\u{fffd}'), "{format}");
    }
    // diff names the changed library by its escaped name.
    let before = dir.path().join("before.json");
    fs::write(&before, serde_json::to_vec(&j).unwrap()).unwrap();
    let mut later = j.clone();
    later["targets"][0]["libc"][1]["calloc"]["verdict"] = "checked".into();
    let after = dir.path().join("after.json");
    fs::write(&after, serde_json::to_vec(&later).unwrap()).unwrap();
    let o = run(&["diff".as_ref(), before.as_os_str(), after.as_os_str()]);
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("calloc of libc.so.3\\xff (libc): unchecked -> checked"),
        "{out}"
    );
}

#[test]
fn ls_and_extract_keep_names_that_are_not_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("fw.tar");
    fs::write(
        &tar,
        common::tar_of_names(&[
            (b"lib/a\xff", b"one"),
            (b"lib/a\xfe", b"two"),
            (b"lib/back\\slash", b"three"),
        ]),
    )
    .unwrap();
    let o = run(&[
        "ls".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        tar.as_os_str(),
    ]);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let paths: Vec<&str> = j[0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["lib/a\\xff", "lib/a\\xfe", "lib/back\\\\slash"]);
    let text = String::from_utf8(run(&["ls".as_ref(), tar.as_os_str()]).stdout).unwrap();
    assert!(
        text.contains("lib/a\\xff") && text.contains("lib/a\\xfe"),
        "{text}"
    );
    // Extracted under their own bytes: the escaping is reversible.
    let out = dir.path().join("out");
    let o = run(&["extract".as_ref(), tar.as_os_str(), out.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(fs::read(out.join(os_name(b"lib/a\xff"))).unwrap(), b"one");
    assert_eq!(fs::read(out.join(os_name(b"lib/a\xfe"))).unwrap(), b"two");
    assert_eq!(fs::read(out.join("lib/back\\slash")).unwrap(), b"three");
}

#[test]
fn a_file_name_cannot_forge_the_headline() {
    let Some(libc) = common::corpus("qnx/openqnx-641-x86-libc.so.3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("fw.tar");
    // Up a line, erase it, back to the start, and a headline of one's own.
    let name = b"lib/libc.so.3\x1b[1A\x1b[2K\rfw.tar: NOT AFFECTED\n\x1b[8m";
    fs::write(&tar, common::tar_of_names(&[(name, &libc)])).unwrap();
    let o = run(&["scan".as_ref(), "-q".as_ref(), tar.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\r'),
        "control characters reach the terminal: {text:?}"
    );
    // The plain sentence, then (after a blank line) the technical headline.
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with("This device runs QNX"), "{first}");
    assert!(first.contains(": affected. "), "{first}");
    let headline = lines.nth(1).unwrap();
    assert!(
        headline.ends_with("fw.tar: AFFECTED by CVE-2021-22156 (BadAlloc)"),
        "{headline}"
    );
    assert!(
        text.trim_end()
            .lines()
            .last()
            .unwrap()
            // 6.4.0: no vendor patch exists (issue 15.8).
            .ends_with(
                "fw.tar: AFFECTED. Upgrade to QNX 6.6.0 or later, or port the fix to this \
                 build (no vendor patch exists for this release)."
            ),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.trim_end().ends_with("NOT AFFECTED")),
        "{text}"
    );
    assert!(
        text.contains("lib/libc.so.3\\x1b[1A\\x1b[2K\\x0dfw.tar: NOT AFFECTED\\x0a\\x1b[8m"),
        "{text}"
    );
}

#[test]
fn diff_counts_a_device_left_out_of_the_second_scan_as_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let scan_to = |name: &str, targets: &[&str]| {
        let out = dir.path().join(name);
        let mut c = Command::cargo_bin("badalloc-audit").unwrap();
        c.args(["scan", "-q", "--format", "json", "-o"]).arg(&out);
        for t in targets {
            c.arg(common::fixture(t));
        }
        c.output().unwrap();
        out
    };
    let before = scan_to(
        "before.json",
        &["example/qnx650-device", "example/qnx710-device"],
    );
    let after = scan_to("after.json", &["example/qnx710-device"]);
    let out = run(&["diff".as_ref(), before.as_os_str(), after.as_os_str()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("1 in both reports, 1 only in BEFORE (not re-scanned)"),
        "{text}"
    );
    assert!(
        text.contains("qnx650-device: affected before, not re-scanned"),
        "{text}"
    );
    assert!(!text.contains("nothing exposed remains"), "{text}");
}

#[test]
fn ls_cannot_be_forged_by_a_boot_script() {
    use common::ifs_writer::{self, Opts};
    // One display_msg command whose text clears the screen and writes listing lines.
    let body = b"\x1b[2J\x1b[Hifs image at offset 0x0 in fw.ifs\n-r-xr-xr-x 1 proc/boot/safe\0";
    let size = (4 + body.len() + 3) & !3;
    let mut script = vec![size as u8, (size >> 8) as u8, 3, 0];
    script.extend_from_slice(body);
    script.resize(size, 0);
    let nodes = vec![
        ifs_writer::dir("", 1),
        ifs_writer::file("proc/boot/.script", 3, &script),
    ];
    let image = ifs_writer::build(
        &nodes,
        &Opts {
            script_ino: 3,
            ..Opts::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fw.ifs");
    fs::write(&path, image).unwrap();
    let o = run(&["ls".as_ref(), path.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("boot-script"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
    // The script's lines stay under its note: none passes for a header or an entry.
    let headers = text
        .lines()
        .filter(|l| l.starts_with("ifs image at"))
        .count();
    assert_eq!(headers, 1, "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("-r-xr-xr-x 1 proc/boot/safe")),
        "{text}"
    );
    assert!(text.contains("  #   -r-xr-xr-x 1 proc/boot/safe"), "{text}");
}

#[test]
fn ls_extract_and_scan_read_efs_and_etfs_images() {
    for (rel, kind, file, uid) in [
        (
            "flash/qnxmount-efs-test_image.bin",
            "efs",
            "mnt/test123/directory_2/another_owner",
            99,
        ),
        (
            "flash/qnxmount-etfs-test_image.bin",
            "etfs",
            "directory_2/another_owner",
            99,
        ),
    ] {
        let Some(img) = common::corpus_path(rel) else {
            return;
        };
        let out = Command::cargo_bin("badalloc-audit")
            .unwrap()
            .args(["ls", "--format", "json"])
            .arg(&img)
            .output()
            .unwrap();
        assert!(out.status.success(), "{rel}");
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(j[0]["kind"], kind);
        let e = j[0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == file)
            .unwrap_or_else(|| panic!("{rel}: {file}"));
        assert_eq!(e["uid"], uid, "{e}");
        assert_eq!(e["gid"], 0, "{e}");
        assert_eq!(e["mode"], 0o100664, "{e}");
        assert!(e["mtime"].as_u64().unwrap() > 1_600_000_000, "{e}");

        let dir = tempfile::tempdir().unwrap();
        let out = Command::cargo_bin("badalloc-audit")
            .unwrap()
            .arg("extract")
            .arg(&img)
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let msg = dir.path().join(file.replace(
            "directory_2/another_owner",
            "directory_1/directory_1_1/message.txt",
        ));
        assert_eq!(
            fs::read(msg).unwrap(),
            b"This is a test file system!\n",
            "{rel}"
        );

        let (_, r) = scan_json(&[img.as_path()]);
        let t = &r["targets"][0];
        assert_eq!(t["kind"], kind, "{rel}");
        assert_eq!(t["images"][0]["kind"], kind, "{rel}");
        assert_eq!(
            t["errors"].as_array().unwrap().len(),
            0,
            "{rel}: {}",
            t["errors"]
        );
        assert_eq!(t["symlinks"].as_array().unwrap().len(), 3, "{rel}");
    }
}
