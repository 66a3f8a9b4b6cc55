//! Fleets: `scan --format ndjson` (one self-contained line per target, written as each
//! finishes) and `summary` (any number of JSON/NDJSON reports into one table per device),
//! checked against the individual reports, through the batch recipe of the README: a real
//! shell pipeline with `xargs -P`.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::cargo::CommandCargoExt;
use assert_cmd::Command;
use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::cargo_bin("badalloc-audit").unwrap();
    c.timeout(std::time::Duration::from_secs(120));
    c
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn examples() -> Vec<PathBuf> {
    ["qnx650-device", "qnx710-device", "linux-device"]
        .iter()
        .map(|e| common::fixture(&format!("example/{e}")))
        .collect()
}

/// The NDJSON lines of a text, parsed.
fn records(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn ndjson_is_one_self_contained_record_per_target_equal_to_the_json_report() {
    let targets = examples();
    let nd = bin()
        .args(["scan", "-q", "--format", "ndjson"])
        .args(&targets)
        .output()
        .unwrap();
    let json = bin()
        .args(["scan", "-q", "--format", "json"])
        .args(&targets)
        .output()
        .unwrap();
    assert_eq!(nd.status.code(), Some(1));
    assert_eq!(nd.status.code(), json.status.code());
    let text = String::from_utf8(nd.stdout).unwrap();
    let lines = records(&text);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(lines.len(), targets.len());
    for (i, line) in lines.iter().enumerate() {
        let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["schema_version", "target", "tool"]);
        assert_eq!(line["schema_version"], report["schema_version"]);
        assert_eq!(line["tool"], report["tool"]);
        assert_eq!(line["target"], report["targets"][i], "target {i}");
    }
}

#[test]
fn ndjson_writes_each_line_as_its_target_finishes() {
    let dir = tempfile::tempdir().unwrap();
    // A second target that takes seconds (a debug build carves ~30 MB/s of zeros).
    let slow = dir.path().join("slow.bin");
    fs::File::create(&slow).unwrap().set_len(96 << 20).unwrap();
    let mut child = std::process::Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["scan", "-q", "--format", "ndjson"])
        .arg(common::fixture("example/qnx710-device"))
        .arg(&slow)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let running = child.try_wait().unwrap().is_none();
    let rest: Vec<String> = out.lines().map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(running, "the first line came only when the scan had ended");
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["target"]["verdict"], "not-affected");
    assert_eq!(rest.len(), 1);
    assert_eq!(status.code(), Some(3), "the zeros decide nothing");
}

/// A CSV of RFC 4180 (quoted cells, doubled quotes, CRLF), as rows of cells.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

/// The release cell `summary` gives for a target of a report.
fn release_of(t: &Value) -> String {
    match (
        t["os"]["release"].as_str(),
        t["os"]["release_range"].as_str(),
    ) {
        (Some(r), _) | (None, Some(r)) => r.to_string(),
        (None, None) if t["os"]["family"].is_null() => "n/a".to_string(),
        (None, None) => "unknown".to_string(),
    }
}

/// The fleet's devices: the fixture trees (examples, verdict trees if any), corpus images
/// when present, and two made here (not firmware; an unreadable path).
fn fleet(dir: &Path) -> Vec<PathBuf> {
    let mut devices = examples();
    for parent in ["verdicts", "verdict"] {
        if let Ok(entries) = fs::read_dir(common::fixture(parent)) {
            devices.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
    }
    for c in ["qnx/openqnx-641-x86.ifs", "qnx/sdp660-armle-omap5-sd.ifs"] {
        devices.extend(common::corpus_path(c));
    }
    let notes = dir.join("notes");
    fs::create_dir(&notes).unwrap();
    fs::write(notes.join("README.txt"), "maintenance log\n").unwrap();
    devices.push(notes);
    devices.push(dir.join("no-such-device"));
    devices
}

#[test]
fn xargs_batch_then_summary_matches_the_individual_reports() {
    let dir = tempfile::tempdir().unwrap();
    let devices = fleet(dir.path());
    let out = dir.path().join("reports");
    fs::create_dir(&out).unwrap();
    let exe = std::process::Command::cargo_bin("badalloc-audit")
        .unwrap()
        .get_program()
        .to_owned();
    // The README's recipe: one job per device, two at a time, one report file per job
    // (named by a hash of the device's path); a job's verdict does not stop the batch, a
    // report it could not write (status 2 or 5) does.
    let mut list = Vec::new();
    for d in &devices {
        list.extend_from_slice(d.as_os_str().as_encoded_bytes());
        list.push(0);
    }
    let script = r#"xargs -0 -P 2 -n 1 sh -c '
        name=$(printf %s "$1" | sha256sum | cut -c1-16)
        "$BADALLOC" scan -q --format ndjson "$1" > "$OUT/$name.ndjson"
        s=$?; [ "$s" -ne 2 ] && [ "$s" -ne 5 ]' _"#;
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("BADALLOC", &exe)
        .env("OUT", &out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&list)?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(o.status.success(), "the batch failed: {}", stderr(&o));

    // Each job's own report.
    let mut reports: Vec<PathBuf> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    reports.sort();
    assert_eq!(reports.len(), devices.len());
    let mut individual: BTreeMap<String, (String, String)> = BTreeMap::new();
    for r in &reports {
        let lines = records(&fs::read_to_string(r).unwrap());
        assert_eq!(lines.len(), 1, "{}", r.display());
        let t = &lines[0]["target"];
        individual.insert(
            t["path"].as_str().unwrap().to_string(),
            (t["verdict"].as_str().unwrap().to_string(), release_of(t)),
        );
    }
    assert_eq!(individual.len(), devices.len());

    // One summary of them all, as CSV: a row per device, verdict and release as each
    // report says.
    let csv = bin()
        .args(["summary", "--format", "csv"])
        .args(&reports)
        .output()
        .unwrap();
    let rows = parse_csv(&String::from_utf8(csv.stdout).unwrap());
    assert_eq!(
        rows[0],
        [
            "device",
            "verdict",
            "release",
            "c_library",
            "static_copies",
            "worst_exposed_service",
            "rows_for_device",
            "report",
            "summary"
        ]
    );
    let summarised: BTreeMap<String, (String, String)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone())))
        .collect();
    assert_eq!(rows.len() - 1, devices.len());
    assert_eq!(summarised, individual);
    // Worst first.
    assert_eq!(rows[1][1], "affected");
    // The status of the worst verdict, as scan's.
    assert_eq!(csv.status.code(), Some(1));

    // The text form counts per verdict what the reports say.
    let text = bin().arg("summary").args(&reports).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (v, _) in individual.values() {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    let per_verdict = text
        .lines()
        .find_map(|l| l.strip_prefix("Per verdict: "))
        .unwrap();
    let mut said: BTreeMap<&str, usize> = BTreeMap::new();
    for part in per_verdict.split(", ") {
        let (v, n) = part.rsplit_once(' ').unwrap();
        said.insert(v, n.parse().unwrap());
    }
    assert_eq!(said, counts, "{text}");
    let mut releases: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, r) in individual.values() {
        *releases.entry(r.as_str()).or_default() += 1;
    }
    let per_release: Vec<String> = releases.iter().map(|(r, n)| format!("{r} {n}")).collect();
    assert!(
        text.contains(&format!("Per release: {}", per_release.join(", "))),
        "{text}"
    );
    // The first and last lines give the fleet in words.
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "{} devices from {} reports: ",
            devices.len(),
            reports.len()
        )),
        "{first}"
    );
    assert_eq!(text.lines().last(), Some(first));
}

#[test]
fn summary_keeps_every_row_of_a_device_met_twice_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before.json");
    let after = dir.path().join("after.ndjson");
    let device = common::fixture("example/qnx650-device");
    for (format, out) in [("json", &before), ("ndjson", &after)] {
        bin()
            .args(["scan", "-q", "--format", format, "-o"])
            .arg(out)
            .arg(&device)
            .output()
            .unwrap();
    }
    let o = bin()
        .args(["summary", "--format", "csv"])
        .arg(&before)
        .arg(&after)
        .output()
        .unwrap();
    let rows = parse_csv(&String::from_utf8(o.stdout).unwrap());
    assert_eq!(rows.len(), 3, "both rows kept");
    let sources: Vec<&str> = rows[1..].iter().map(|r| r[7].as_str()).collect();
    assert!(sources[0].ends_with("after.ndjson:1"), "{sources:?}");
    assert!(sources[1].ends_with("before.json"), "{sources:?}");
    assert!(rows[1..].iter().all(|r| r[6] == "2"));
    let text = bin()
        .arg("summary")
        .arg(&before)
        .arg(&after)
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("1 device path appears in more than one report"),
        "{text}"
    );
    assert!(
        text.contains("2 devices from 2 reports: 2 affected."),
        "{text}"
    );
}

#[test]
fn summary_names_what_it_cannot_read_and_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.ndjson");
    bin()
        .args(["scan", "-q", "--format", "ndjson", "-o"])
        .arg(&good)
        .arg(common::fixture("example/qnx710-device"))
        .arg(common::fixture("example/linux-device"))
        .output()
        .unwrap();
    let lines = fs::read_to_string(&good).unwrap();
    // A job killed mid-write: its last line cut short.
    let cut = dir.path().join("cut.ndjson");
    fs::write(&cut, &lines[..lines.len() - 40]).unwrap();
    let empty = dir.path().join("empty.ndjson");
    fs::write(&empty, "").unwrap();
    let other = dir.path().join("other.json");
    fs::write(&other, "{\"bomFormat\": \"CycloneDX\"}\n").unwrap();
    let missing = dir.path().join("missing.json");
    let o = bin()
        .arg("summary")
        .args([&good, &cut, &empty, &other, &missing])
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(4), "{text}");
    // The first line of the cut stream was read; its second is named with its line.
    assert!(text.starts_with("3 devices from 5 reports: "), "{text}");
    for needle in [
        "cut.ndjson:2: not a report record",
        "empty.ndjson: holds no report",
        "other.json: not a badalloc-audit report",
        "missing.json: cannot read",
        "4 reports or report lines could not be read",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn summary_exits_with_the_worst_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let report = |name: &str, target: PathBuf| {
        let p = dir.path().join(name);
        bin()
            .args(["scan", "-q", "--format", "json", "-o"])
            .arg(&p)
            .arg(target)
            .output()
            .unwrap();
        p
    };
    let fixed = report("fixed.json", common::fixture("example/qnx710-device"));
    let linux = report("linux.json", common::fixture("example/linux-device"));
    let opaque_dir = dir.path().join("opaque");
    fs::create_dir(&opaque_dir).unwrap();
    fs::write(
        opaque_dir.join("blob"),
        (0..=255u8).cycle().take(4096).collect::<Vec<_>>(),
    )
    .unwrap();
    let undecided = report("undecided.json", opaque_dir);
    let affected = report("affected.json", common::fixture("example/qnx650-device"));
    let status = |reports: &[&PathBuf]| {
        bin()
            .arg("summary")
            .args(reports)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(status(&[&fixed, &linux]), Some(0));
    assert_eq!(status(&[&fixed, &undecided]), Some(3));
    assert_eq!(status(&[&undecided, &affected, &fixed]), Some(1));
    // Usage: no report named.
    assert_eq!(
        bin().arg("summary").output().unwrap().status.code(),
        Some(2)
    );
}

#[test]
fn a_report_that_does_not_go_to_a_terminal_still_shows_its_verdict_there() {
    let dir = tempfile::tempdir().unwrap();
    let device = common::fixture("example/qnx650-device");
    let verdict = |o: &std::process::Output| -> Vec<String> {
        stderr(o)
            .lines()
            .filter(|l| l.starts_with("Verdict for "))
            .map(str::to_owned)
            .collect()
    };
    // `> file`: standard output is not a terminal.
    for format in ["text", "json", "html", "ndjson"] {
        let o = bin()
            .args(["scan", "--format", format])
            .arg(&device)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let v = verdict(&o);
        assert_eq!(v.len(), 1, "{format}: {}", stderr(&o));
        assert!(
            v[0].ends_with("qnx650-device: AFFECTED. Patch or upgrade (then relink the program with its own copy); until then restrict its network services."),
            "{}",
            v[0]
        );
    }
    // --output, and two targets: a line each, then the counts.
    let o = bin()
        .args(["scan", "-o"])
        .arg(dir.path().join("r.txt"))
        .arg(&device)
        .arg(common::fixture("example/qnx710-device"))
        .output()
        .unwrap();
    assert_eq!(verdict(&o).len(), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("2 targets: 1 affected, 1 not affected."));
    // --quiet: nothing.
    let o = bin().args(["scan", "-q"]).arg(&device).output().unwrap();
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn summary_reads_no_report_above_the_size_bound() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let bound = badalloc_audit::report::summary::MAX_REPORT_BYTES;
    // Sparse: its size says it before a byte is read.
    fs::File::create(&big).unwrap().set_len(bound + 1).unwrap();
    let o = bin().arg("summary").arg(&big).output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(4), "{text}");
    assert!(
        text.contains(&format!(
            "big.json: {} bytes, larger than {bound} bytes: not read",
            bound + 1
        )),
        "{text}"
    );
}
