//! End to end, one small tree per verdict (fixtures/verdicts/, built by generate.sh): the
//! exit status, the text headline, the JSON verdict and rule, the SARIF level and rule, and
//! the CycloneDX VEX state of each; then the exit status of scans of several trees.

mod common;

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

struct Expect {
    tree: &'static str,
    exit: i32,
    headline: &'static str,
    /// The verdict in the plain first line, and in capitals on the last.
    words: &'static str,
    word: &'static str,
    /// The rule id the first reason starts with.
    rule: &'static str,
    /// SARIF: (ruleId, level) of every result, in order.
    sarif: &'static [(&'static str, &'static str)],
    /// CycloneDX: the VEX state of the CVE-2021-22156 statement; None: no statement.
    vex: Option<&'static str>,
}

const TREES: &[Expect] = &[
    Expect {
        tree: "affected",
        exit: 1,
        headline: "AFFECTED by CVE-2021-22156 (BadAlloc)",
        words: "affected",
        word: "AFFECTED",
        rule: "R1",
        sarif: &[("CVE-2021-22156", "error")],
        vex: Some("exploitable"),
    },
    Expect {
        tree: "patched",
        exit: 0,
        headline: "PATCHED: affected release, but calloc is fixed",
        words: "patched",
        word: "PATCHED",
        rule: "R5",
        sarif: &[],
        vex: Some("resolved"),
    },
    Expect {
        tree: "not-affected",
        exit: 0,
        headline: "NOT AFFECTED",
        words: "not affected",
        word: "NOT AFFECTED",
        rule: "R4",
        sarif: &[],
        vex: Some("not_affected"),
    },
    Expect {
        tree: "not-qnx",
        exit: 0,
        headline: "NOT QNX: CVE-2021-22156 does not apply",
        words: "not QNX",
        word: "NOT QNX",
        rule: "R3",
        sarif: &[],
        vex: None,
    },
    Expect {
        tree: "inconclusive",
        exit: 3,
        headline: "INCONCLUSIVE: the evidence does not decide",
        words: "inconclusive",
        word: "INCONCLUSIVE",
        rule: "R6",
        sarif: &[("CVE-2021-22156-INCONCLUSIVE", "warning")],
        vex: Some("in_triage"),
    },
];

fn tree(name: &str) -> PathBuf {
    common::fixture(&format!("verdicts/{name}"))
}

/// Run `scan` on `paths` in `format`: (exit status, standard output).
fn scan(format: &str, paths: &[PathBuf]) -> (i32, String) {
    let out = Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["scan", "-q", "--format", format])
        .args(paths)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
}

#[test]
fn every_verdict_end_to_end_in_every_format() {
    for e in TREES {
        let path = tree(e.tree);
        assert!(
            path.is_dir(),
            "{} is missing: run fixtures/generate.sh",
            path.display()
        );
        let t = e.tree;

        let (code, text) = scan("text", std::slice::from_ref(&path));
        assert_eq!(code, e.exit, "{t}: exit status of the text scan\n{text}");
        let lines: Vec<&str> = text.lines().collect();
        // A plain sentence first, ending with the verdict in words and what to do...
        assert!(
            lines[0].contains(&format!(": {}. ", e.words)),
            "{t}: first line: {}",
            lines[0]
        );
        // ...the headline of the details, with the rule that decided under it...
        let at = lines
            .iter()
            .position(|l| *l == format!("{}: {}", path.display(), e.headline))
            .unwrap_or_else(|| panic!("{t}: no headline line in\n{text}"));
        assert!(
            lines[at + 1].starts_with(&format!("  - {}:", e.rule)),
            "{t}: the first reason is {}:\n{text}",
            e.rule
        );
        // ...and the verdict last.
        let last = lines.last().copied().unwrap_or("");
        assert!(
            last.starts_with(&format!("Verdict for {}: {}.", path.display(), e.word)),
            "{t}: last line: {last}"
        );

        let (code, out) = scan("json", std::slice::from_ref(&path));
        assert_eq!(code, e.exit, "{t}: exit status of the JSON scan");
        let j = json(&out);
        let target = &j["targets"][0];
        assert_eq!(target["verdict"], t, "{t}");
        let first_reason = target["reasons"][0].as_str().unwrap_or("");
        assert!(
            first_reason.starts_with(&format!("{}:", e.rule)),
            "{t}: {first_reason}"
        );
        // What to do: affected and inconclusive targets only; the patch fits the release.
        let todo = target["mitigations"].as_array().unwrap();
        match t {
            "affected" => assert!(
                todo[0]
                    .as_str()
                    .unwrap()
                    .starts_with("Patch: QNX 6.5.0: on SDP 6.5.0 SP1 apply patch 4844"),
                "{t}: {todo:?}"
            ),
            "inconclusive" => {
                assert!(
                    todo[0].as_str().unwrap().starts_with("Decide first"),
                    "{todo:?}"
                )
            }
            _ => assert!(todo.is_empty(), "{t}: {todo:?}"),
        }

        let (code, out) = scan("sarif", std::slice::from_ref(&path));
        assert_eq!(code, e.exit, "{t}: exit status of the SARIF scan");
        let s = json(&out);
        let run = &s["runs"][0];
        let results: Vec<(String, String)> = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap().to_string(),
                    r["level"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = e
            .sarif
            .iter()
            .map(|(r, l)| (r.to_string(), l.to_string()))
            .collect();
        assert_eq!(results, want, "{t}: SARIF results");
        assert_eq!(run["properties"]["targets"][0]["verdict"], t, "{t}");
        assert_eq!(run["invocations"][0]["executionSuccessful"], true, "{t}");

        let (code, out) = scan("cyclonedx", std::slice::from_ref(&path));
        assert_eq!(code, e.exit, "{t}: exit status of the CycloneDX scan");
        let b = json(&out);
        let cve: Vec<&Value> = b["vulnerabilities"]
            .as_array()
            .map(|v| v.iter().filter(|v| v["id"] == "CVE-2021-22156").collect())
            .unwrap_or_default();
        match e.vex {
            None => assert!(cve.is_empty(), "{t}: no CVE statement for a non-QNX target"),
            Some(state) => {
                assert_eq!(cve.len(), 1, "{t}: one CVE statement");
                assert_eq!(cve[0]["analysis"]["state"], state, "{t}");
                let verdict = cve[0]["properties"]
                    .as_array()
                    .and_then(|p| p.iter().find(|p| p["name"] == "badalloc-audit:verdict"))
                    .map(|p| p["value"].clone());
                assert_eq!(verdict, Some(Value::from(t)), "{t}: {}", cve[0]);
            }
        }
        if e.vex == Some("not_affected") {
            assert_eq!(cve[0]["analysis"]["justification"], "code_not_present");
        }
    }
}

/// Several targets: affected outranks an unreadable PATH, which outranks inconclusive; a
/// clean scan exits 0.
#[test]
fn exit_status_of_several_targets() {
    let missing = PathBuf::from("/nonexistent/badalloc-audit/firmware");
    let cases: &[(&[&str], bool, i32)] = &[
        (&["not-affected", "patched", "not-qnx"], false, 0),
        (&["not-affected", "inconclusive"], false, 3),
        (&["inconclusive", "affected", "patched"], false, 1),
        (&["patched", "not-qnx"], true, 4),
        (&["inconclusive"], true, 4),
        (&["affected"], true, 1),
    ];
    for (trees, with_missing, exit) in cases {
        let mut paths: Vec<PathBuf> = trees.iter().map(|t| tree(t)).collect();
        if *with_missing {
            paths.push(missing.clone());
        }
        let (code, out) = scan("json", &paths);
        assert_eq!(code, *exit, "{trees:?} (missing PATH: {with_missing})");
        let j = json(&out);
        let verdicts: Vec<&str> = j["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["verdict"].as_str().unwrap())
            .collect();
        let mut want: Vec<&str> = trees.to_vec();
        if *with_missing {
            want.push("error");
        }
        assert_eq!(verdicts, want);
    }
}
