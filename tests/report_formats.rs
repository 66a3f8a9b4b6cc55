//! The machine-readable formats (SARIF, CycloneDX) validated against the official schemas
//! vendored in tests/data/schemas (no network: a retriever serves the referenced files),
//! and the diff of two reports.

mod common;

use std::collections::HashMap;

use badalloc_audit_core::ScanOptions;
use badalloc_report::diff::{self, TargetStatus};
use badalloc_report::{
    cyclonedx, sarif, BinaryReport, CallocReport, CallocVerdict, Confidence, EvidenceItem,
    EvidenceLine, LibcReport, OsReport, Report, ScanStats, TargetReport, Tool, Verdict,
    SCHEMA_VERSION,
};
use common::scan;
use jsonschema::{Retrieve, Uri, Validator};
use serde_json::{json, Value};

// ---------------------------------------------------------------- validators

/// Serves the vendored schemas by URI; anything else is an error (never the network).
struct Vendored(HashMap<String, Value>);

impl Retrieve for Vendored {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        self.0
            .get(uri.as_str())
            .cloned()
            .ok_or_else(|| format!("schema {uri} is not vendored").into())
    }
}

fn load(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/schemas")
        .join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn sarif_validator() -> Validator {
    let schema = load("sarif-schema-2.1.0.json");
    assert_eq!(
        schema["id"],
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    );
    assert!(schema["title"]
        .as_str()
        .is_some_and(|t| t.contains("2.1.0")));
    jsonschema::options()
        .should_validate_formats(true)
        // SARIF's schema is draft-04, which predates `uri-reference` (draft-06): checked
        // here with the validator's own draft-07 implementation, or it would pass anything.
        .with_format("uri-reference", is_uri_reference)
        .with_retriever(Vendored(HashMap::new()))
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn is_uri_reference(s: &str) -> bool {
    static CHECK: std::sync::OnceLock<Validator> = std::sync::OnceLock::new();
    CHECK
        .get_or_init(|| {
            jsonschema::draft7::options()
                .should_validate_formats(true)
                .build(&json!({"format": "uri-reference"}))
                .expect("a one-keyword schema compiles")
        })
        .is_valid(&json!(s))
}

fn cyclonedx_validator() -> Validator {
    let schema = load("bom-1.5.SNAPSHOT.schema.json");
    assert_eq!(
        schema["$id"],
        "http://cyclonedx.org/schema/bom-1.5.schema.json"
    );
    let mut map = HashMap::new();
    map.insert(
        "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json".to_string(),
        load("spdx.SNAPSHOT.schema.json"),
    );
    map.insert(
        "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json".to_string(),
        load("jsf-0.82.SNAPSHOT.schema.json"),
    );
    jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(Vendored(map))
        .build(&schema)
        .expect("the CycloneDX schema compiles with its references")
}

fn assert_valid(v: &Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} is invalid:\n{}\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(doc).unwrap_or_default()
    );
}

// ---------------------------------------------------------------- hand-made reports

fn calloc(verdict: CallocVerdict, reason: &str) -> CallocReport {
    CallocReport {
        verdict,
        function: Some("__calloc".into()),
        address: Some("0x3f0".into()),
        reason: reason.into(),
        chain: vec!["calloc".into(), "__calloc".into()],
        chain_links: vec![],
        evidence: vec![EvidenceLine {
            address: "0x412".into(),
            text: "imul esi, [ebp+8]".into(),
        }],
        location: None,
    }
}

fn libc(path: &str, verdict: CallocVerdict) -> LibcReport {
    LibcReport {
        path: path.into(),
        soname: Some("libc.so.3".into()),
        arch: "x86".into(),
        version: Some("6.5.0".into()),
        qnx: true,
        calloc: calloc(
            verdict,
            match verdict {
                CallocVerdict::Checked => {
                    "the product is divided by size and compared before malloc"
                }
                CallocVerdict::Unchecked => "imul then malloc with no test of the product",
                CallocVerdict::Unknown => "could not follow calloc",
            },
        ),
        sha256: Some(common::sha256_hex(path.as_bytes())),
    }
}

fn binary(path: &str, static_calloc: Option<CallocReport>) -> BinaryReport {
    BinaryReport {
        path: path.into(),
        arch: "x86".into(),
        elf_type: "executable".into(),
        interpreter: None,
        needed: vec![],
        libc: Some("static".into()),
        qnx: true,
        imports_calloc: false,
        imports_malloc: false,
        imports_realloc: false,
        static_calloc,
        network: true,
        network_imports: vec!["socket".into()],
        stripped_static: false,
        calloc_search: None,
        located_by_address: vec![],
        sha256: Some(common::sha256_hex(path.as_bytes())),
    }
}

fn target(
    path: &str,
    verdict: Verdict,
    release: Option<&str>,
    libc: Vec<LibcReport>,
    binaries: Vec<BinaryReport>,
) -> TargetReport {
    let qnx = verdict != Verdict::NotQnx;
    TargetReport {
        path: path.into(),
        kind: "directory".into(),
        verdict,
        reasons: vec![format!("R?: hand-made {} target", verdict.as_str())],
        os: OsReport {
            family: qnx.then(|| "qnx".to_string()),
            release: release.map(String::from),
            release_range: None,
            confidence: Confidence::High,
            evidence: vec![EvidenceItem {
                source: "proc/boot/procnto".into(),
                kind: "procnto-release".into(),
                detail: "kernel release".into(),
            }],
            conflicts: vec![],
        },
        libc,
        binaries,
        symlinks: vec![],
        images: vec![],
        exposure: vec![],
        mitigations: vec![],
        errors: vec![],
        stats: ScanStats::default(),
    }
}

fn report(targets: Vec<TargetReport>) -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool::default(),
        targets,
    }
}

/// Affected: unchecked libc inside an image (virtual path), plus an unchecked static copy.
fn affected() -> Report {
    let mut t = target(
        "/mnt/fw dump",
        Verdict::Affected,
        Some("6.5.0"),
        vec![libc(
            "fw.tar.gz!/boot/qnx.ifs!/proc/boot/libc.so.3",
            CallocVerdict::Unchecked,
        )],
        vec![binary(
            "sbin/devc-ser8250",
            Some(calloc(CallocVerdict::Unchecked, "mul then malloc")),
        )],
    );
    t.kind = "directory".into();
    report(vec![t])
}

fn patched() -> Report {
    report(vec![target(
        "dev",
        Verdict::Patched,
        Some("6.5.0"),
        vec![libc("lib/libc.so.3", CallocVerdict::Checked)],
        vec![],
    )])
}

fn affected_by_release() -> Report {
    report(vec![target(
        "old",
        Verdict::Affected,
        Some("6.4.1"),
        vec![libc("lib/libc.so.3", CallocVerdict::Unknown)],
        vec![],
    )])
}

fn inconclusive() -> Report {
    report(vec![target(
        "dump",
        Verdict::Inconclusive,
        Some("6.5.0"),
        vec![libc("lib/libc.so.3", CallocVerdict::Unknown)],
        vec![],
    )])
}

/// Not QNX, with a statically linked newlib calloc (the BadAlloc family rule).
fn not_qnx_newlib() -> Report {
    let mut c = calloc(CallocVerdict::Unchecked, "mul.w then _malloc_r");
    c.chain = vec!["calloc".into(), "_calloc_r".into()];
    let mut b = binary("firmware.elf", Some(c));
    b.qnx = false;
    b.arch = "armle".into();
    let mut t = target("mcu.elf", Verdict::NotQnx, None, vec![], vec![b]);
    t.kind = "elf".into();
    t.os.evidence.clear();
    report(vec![t])
}

fn fixture_reports() -> Vec<(&'static str, Report)> {
    ["qnx650-device", "qnx710-device", "linux-device"]
        .into_iter()
        .map(|n| {
            let p = common::fixture(&format!("example/{n}"));
            (n, scan(&[p], &ScanOptions::default()))
        })
        .collect()
}

/// Scans of the real QNX images and programs of the corpus (skipped where it is absent).
fn corpus_reports() -> Vec<(String, Report)> {
    [
        "qnx/openqnx-641-x86.ifs",
        "qnx/sdp660-armle-omap5-sd.ifs",
        "qnx/openqnx-qnx4fs.img",
        "static/mib2-gzip.stripped-static",
    ]
    .into_iter()
    .filter_map(|rel| {
        let p = common::corpus_path(rel)?;
        Some((rel.to_string(), scan(&[p], &ScanOptions::default())))
    })
    .collect()
}

fn all_reports() -> Vec<(String, Report)> {
    let mut v: Vec<(String, Report)> = vec![
        ("affected".into(), affected()),
        ("patched".into(), patched()),
        ("affected-by-release".into(), affected_by_release()),
        ("not-qnx-newlib".into(), not_qnx_newlib()),
        ("inconclusive".into(), inconclusive()),
        (
            "several".into(),
            report(
                affected()
                    .targets
                    .into_iter()
                    .chain(patched().targets)
                    .chain(not_qnx_newlib().targets)
                    .collect(),
            ),
        ),
    ];
    v.extend(
        fixture_reports()
            .into_iter()
            .map(|(n, r)| (n.to_string(), r)),
    );
    v
}

// ---------------------------------------------------------------- SARIF

fn sarif_of(r: &Report) -> Value {
    serde_json::from_str(&sarif::render(r)).expect("SARIF output is JSON")
}

#[test]
fn sarif_is_valid_for_every_kind_of_report() {
    let v = sarif_validator();
    for (name, r) in all_reports().into_iter().chain(corpus_reports()) {
        assert_valid(&v, &sarif_of(&r), &format!("SARIF of {name}"));
    }
}

#[test]
fn sarif_validator_rejects_a_broken_log() {
    let v = sarif_validator();
    let mut doc = sarif_of(&affected());
    assert!(v.is_valid(&doc));
    // A level SARIF does not define, and a URI that is not a URI reference.
    doc["runs"][0]["results"][0]["level"] = json!("critical");
    assert!(!v.is_valid(&doc));
    let mut doc = sarif_of(&affected());
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        json!("a b\\c");
    assert!(!v.is_valid(&doc));
    let mut doc = sarif_of(&affected());
    doc["version"] = json!("2.0.0");
    assert!(!v.is_valid(&doc));
}

#[test]
fn sarif_affected_results() {
    let doc = sarif_of(&affected());
    let run = &doc["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "CVE-2021-22156",
            "CVE-2021-22156-INCONCLUSIVE",
            "BADALLOC-CALLOC-UNCHECKED"
        ]
    );
    let cve_rule = &run["tool"]["driver"]["rules"][0];
    assert_eq!(cve_rule["properties"]["security-severity"], "9.0");
    assert_eq!(cve_rule["defaultConfiguration"]["level"], "error");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "one per unchecked libc and static copy");
    assert!(results.iter().all(|r| r["ruleId"] == "CVE-2021-22156"));
    let loc = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(
        loc["artifactLocation"]["uri"],
        "fw.tar.gz!/boot/qnx.ifs!/proc/boot/libc.so.3"
    );
    assert_eq!(loc["artifactLocation"]["uriBaseId"], "TARGET");
    assert_eq!(loc["address"]["absoluteAddress"], 0x3f0);
    assert_eq!(
        run["originalUriBaseIds"]["TARGET"]["uri"],
        "file:///mnt/fw%20dump/"
    );
    let text = results[0]["message"]["text"].as_str().unwrap();
    assert!(text.contains("imul then malloc"), "{text}");
    assert!(text.contains("calloc -> __calloc"), "{text}");
    assert!(text.contains("6.5.0"), "{text}");
    assert_eq!(results[0]["properties"]["verdict"], "affected");
    assert_eq!(results[0]["properties"]["arch"], "x86");
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "sbin/devc-ser8250"
    );
}

#[test]
fn sarif_clean_reports_have_no_results_but_record_targets() {
    let doc = sarif_of(&patched());
    assert_eq!(doc["runs"][0]["results"], json!([]));
    assert_eq!(
        doc["runs"][0]["properties"]["targets"][0]["verdict"],
        "patched"
    );
}

#[test]
fn sarif_release_only_and_inconclusive_and_family() {
    let doc = sarif_of(&affected_by_release());
    let r = &doc["runs"][0]["results"];
    assert_eq!(r.as_array().unwrap().len(), 1);
    assert_eq!(r[0]["ruleId"], "CVE-2021-22156");
    assert!(r[0]["message"]["text"].as_str().unwrap().contains("6.4.1"));

    // Inconclusive is a warning (treat it as affected), by default and on each result.
    let doc = sarif_of(&inconclusive());
    assert_eq!(
        doc["runs"][0]["tool"]["driver"]["rules"][1]["defaultConfiguration"]["level"],
        "warning"
    );
    let r = &doc["runs"][0]["results"];
    assert_eq!(r.as_array().unwrap().len(), 1);
    assert_eq!(r[0]["ruleId"], "CVE-2021-22156-INCONCLUSIVE");
    assert_eq!(r[0]["level"], "warning");
    assert!(r[0]["message"]["text"]
        .as_str()
        .unwrap()
        .contains("could not be decided"));

    let doc = sarif_of(&not_qnx_newlib());
    let r = &doc["runs"][0]["results"];
    assert_eq!(r.as_array().unwrap().len(), 1);
    assert_eq!(r[0]["ruleId"], "BADALLOC-CALLOC-UNCHECKED");
    assert_eq!(r[0]["level"], "warning");
    assert!(r[0]["message"]["text"].as_str().unwrap().contains("newlib"));
    // A single-file target: based at its directory, the file is the first segment.
    assert_eq!(doc["runs"][0]["originalUriBaseIds"]["TARGET"]["uri"], "./");
    assert_eq!(
        r[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "mcu.elf!/firmware.elf"
    );
}

/// The SARIF results (rule, level) and the CycloneDX VEX state of every verdict.
#[test]
fn sarif_level_and_vex_state_for_every_verdict() {
    let not_affected = report(vec![target(
        "new",
        Verdict::NotAffected,
        Some("7.1.0"),
        vec![libc("lib/libc.so.5", CallocVerdict::Checked)],
        vec![],
    )]);
    let mut error = target("gone", Verdict::Error, None, vec![], vec![]);
    error.os.family = None;
    error.kind = "unreadable".into();
    let error = report(vec![error]);
    let cve = "CVE-2021-22156";
    /// (name, report, SARIF (rule, level) of each result, VEX state of the CVE statement)
    type Case = (
        &'static str,
        Report,
        Vec<(&'static str, &'static str)>,
        Option<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "affected",
            affected(),
            vec![(cve, "error"), (cve, "error")],
            Some("exploitable"),
        ),
        (
            "affected by release",
            affected_by_release(),
            vec![(cve, "error")],
            Some("exploitable"),
        ),
        ("patched", patched(), vec![], Some("resolved")),
        ("not-affected", not_affected, vec![], Some("not_affected")),
        (
            "not-qnx",
            not_qnx_newlib(),
            vec![("BADALLOC-CALLOC-UNCHECKED", "warning")],
            None,
        ),
        (
            "inconclusive",
            inconclusive(),
            vec![("CVE-2021-22156-INCONCLUSIVE", "warning")],
            Some("in_triage"),
        ),
        ("error", error, vec![], Some("in_triage")),
    ];
    for (name, r, results, vex) in cases {
        let doc = sarif_of(&r);
        let got: Vec<(String, String)> = doc["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["ruleId"].as_str().unwrap().into(),
                    x["level"].as_str().unwrap().into(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = results
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want, "{name}: SARIF results");
        let success = doc["runs"][0]["invocations"][0]["executionSuccessful"].clone();
        assert_eq!(success, json!(name != "error"), "{name}");
        let bom = bom_of(&r);
        let state = bom["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == cve)
            .map(|v| v["analysis"]["state"].as_str().unwrap().to_string());
        assert_eq!(state.as_deref(), vex, "{name}: VEX state");
    }
}

// ---------------------------------------------------------------- CycloneDX

fn bom_of(r: &Report) -> Value {
    serde_json::from_str(&cyclonedx::render(r)).expect("CycloneDX output is JSON")
}

fn cve_vuln(bom: &Value) -> &Value {
    bom["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "CVE-2021-22156")
        .expect("a CVE-2021-22156 entry")
}

fn collect_bom_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("bom-ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| collect_bom_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_bom_refs(x, out)),
        _ => {}
    }
}

#[test]
fn cyclonedx_is_valid_for_every_kind_of_report() {
    let v = cyclonedx_validator();
    for (name, r) in all_reports().into_iter().chain(corpus_reports()) {
        let bom = bom_of(&r);
        assert_valid(&v, &bom, &format!("CycloneDX of {name}"));
        // The vendored schema drops these two constraints (see tests/data/schemas/README.md).
        assert_eq!(
            bom["$schema"],
            "http://cyclonedx.org/schema/bom-1.5.schema.json"
        );
        assert_eq!(bom["version"], 1);
        // bom-refs are unique, and every `affects` names a component of this BOM.
        let mut refs = Vec::new();
        collect_bom_refs(&bom, &mut refs);
        let mut seen = std::collections::HashSet::new();
        for r in &refs {
            assert!(seen.insert(r.clone()), "{name}: duplicate bom-ref {r}");
        }
        for vuln in bom["vulnerabilities"].as_array().unwrap() {
            for a in vuln["affects"].as_array().unwrap() {
                let r = a["ref"].as_str().unwrap();
                assert!(seen.contains(r), "{name}: dangling ref {r}");
            }
        }
    }
}

#[test]
fn cyclonedx_validator_rejects_a_broken_bom() {
    let v = cyclonedx_validator();
    let good = bom_of(&affected());
    assert!(v.is_valid(&good));
    let mut bad = good.clone();
    bad["vulnerabilities"][0]["analysis"]["state"] = json!("vulnerable");
    assert!(!v.is_valid(&bad));
    let mut bad = good.clone();
    bad["serialNumber"] = json!("urn:uuid:not-a-uuid");
    assert!(!v.is_valid(&bad));
    let mut bad = good.clone();
    bad["components"][0]["type"] = json!("rtos");
    assert!(!v.is_valid(&bad));
    // The new fields are checked too: a hash that is not 64 hex digits, an unknown algorithm.
    let libc = &good["components"][0]["components"][1];
    assert_eq!(libc["type"], "library");
    let mut bad = good.clone();
    bad["components"][0]["components"][1]["hashes"][0]["content"] = json!("abc");
    assert!(!v.is_valid(&bad));
    let mut bad = good;
    bad["components"][0]["components"][1]["hashes"][0]["alg"] = json!("SHA256");
    assert!(!v.is_valid(&bad));
}

#[test]
fn cyclonedx_vex_states_per_verdict() {
    let bom = bom_of(&affected());
    let cve = cve_vuln(&bom);
    assert_eq!(cve["analysis"]["state"], "exploitable");
    assert_eq!(cve["ratings"][0]["score"], 9.0);
    assert_eq!(cve["ratings"][0]["severity"], "critical");
    assert_eq!(
        cve["ratings"][0]["vector"],
        "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:H/A:H"
    );
    assert_eq!(cve["cwes"], json!([190]));
    let refs: Vec<&str> = cve["affects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        [
            "t0:libc:fw.tar.gz!/boot/qnx.ifs!/proc/boot/libc.so.3",
            "t0:bin:sbin/devc-ser8250"
        ]
    );
    let os = &bom["components"][0]["components"][0];
    assert_eq!(os["type"], "operating-system");
    assert_eq!(os["name"], "QNX Neutrino RTOS");
    assert_eq!(
        os["cpe"],
        "cpe:2.3:a:blackberry:qnx_software_development_platform:6.5.0:*:*:*:*:*:*:*"
    );
    assert_eq!(os["purl"], "pkg:generic/qnx/neutrino@6.5.0");

    let cve_state = |r: &Report| cve_vuln(&bom_of(r))["analysis"].clone();
    assert_eq!(cve_state(&patched())["state"], "resolved");
    assert_eq!(cve_state(&affected_by_release())["state"], "exploitable");
    assert_eq!(
        cve_vuln(&bom_of(&affected_by_release()))["affects"],
        json!([{"ref": "t0:os"}])
    );
    for (name, r) in fixture_reports() {
        let bom = bom_of(&r);
        match r.targets[0].verdict {
            Verdict::NotQnx => {
                assert!(
                    bom["vulnerabilities"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|v| v["id"] != "CVE-2021-22156"),
                    "{name}: no CVE entry for a non-QNX target"
                );
            }
            Verdict::NotAffected => {
                let a = cve_state(&r);
                assert_eq!(a["state"], "not_affected", "{name}");
                assert_eq!(a["justification"], "code_not_present", "{name}");
            }
            Verdict::Inconclusive => assert_eq!(cve_state(&r)["state"], "in_triage", "{name}"),
            Verdict::Affected => assert_eq!(cve_state(&r)["state"], "exploitable", "{name}"),
            v => panic!("{name}: unexpected verdict {v:?}"),
        }
    }
}

#[test]
fn cyclonedx_family_entry_for_non_qnx() {
    let bom = bom_of(&not_qnx_newlib());
    let vulns = bom["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 1);
    assert_eq!(vulns[0]["id"], "BADALLOC-CALLOC-UNCHECKED");
    assert_eq!(vulns[0]["source"]["name"], "badalloc-audit");
    assert!(vulns[0]["analysis"]["detail"]
        .as_str()
        .unwrap()
        .contains("newlib"));
}

#[test]
fn cyclonedx_is_deterministic() {
    assert_eq!(
        cyclonedx::render(&affected()),
        cyclonedx::render(&affected())
    );
    let (a, b) = (bom_of(&affected()), bom_of(&patched()));
    assert_ne!(a["serialNumber"], b["serialNumber"]);
    // Two scans of the same tree give the same document.
    let p = common::fixture("example/qnx710-device");
    let once = cyclonedx::render(&scan(std::slice::from_ref(&p), &ScanOptions::default()));
    let twice = cyclonedx::render(&scan(&[p], &ScanOptions::default()));
    assert_eq!(once, twice);
}

/// Every component of a BOM, nested ones included, in document order.
fn all_components(bom: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for c in list.as_array().into_iter().flatten() {
            out.push(c);
            walk(&c["components"], out);
        }
    }
    let mut out = Vec::new();
    walk(&bom["components"], &mut out);
    out
}

fn property<'a>(c: &'a Value, name: &str) -> Option<&'a str> {
    c["properties"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == format!("badalloc-audit:{name}"))?["value"]
        .as_str()
}

fn sha256_of(c: &Value) -> Option<&str> {
    let h = c["hashes"].as_array()?;
    assert_eq!(h.len(), 1, "{c}");
    assert_eq!(h[0]["alg"], "SHA-256", "{c}");
    h[0]["content"].as_str()
}

/// Each component read from a file (C libraries, programs with their own calloc) carries the
/// SHA-256 of that file's bytes: checked against the file itself for loose files, and
/// against the corpus's published checksums for a C library inside a boot image and for a
/// program given as the PATH.
#[test]
fn cyclonedx_hashes_are_the_sha256_of_the_files() {
    let mut checked = 0;
    for (name, r) in fixture_reports() {
        let root = common::fixture(&format!("example/{name}"));
        let bom = bom_of(&r);
        for c in all_components(&bom) {
            let Some(path) = property(c, "path") else {
                continue;
            };
            let hash = sha256_of(c).unwrap_or_else(|| panic!("{name}: {path} has no hash"));
            if !path.contains('!') && !path.contains('@') {
                let bytes = std::fs::read(root.join(path)).unwrap();
                assert_eq!(hash, common::sha256_hex(&bytes), "{name}: {path}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 3, "only {checked} files checked");

    if let Some(p) = common::corpus_path("qnx/openqnx-641-x86.ifs") {
        let bom = bom_of(&scan(&[p], &ScanOptions::default()));
        let libc = all_components(&bom)
            .into_iter()
            .find(|c| property(c, "path") == Some("openqnx-641-x86.ifs!/proc/boot/libc.so.3"))
            .expect("the image's C library");
        // corpus/README.md: the same bytes as qnx/openqnx-641-x86-libc.so.3.
        assert_eq!(
            sha256_of(libc),
            Some("d94d70ee8be9d5098026cdabc2e1732448a83f693be6dfb2cf48cc0540d58810")
        );
    }
    if let Some(p) = common::corpus_path("static/mib2-gzip.stripped-static") {
        let bom = bom_of(&scan(&[p], &ScanOptions::default()));
        assert_eq!(bom["components"][0]["type"], "firmware");
        assert_eq!(
            sha256_of(&bom["components"][0]),
            Some("62f0da1e9aefae7a9ae6ec0beb524ef127ba9952cb1c2b06c7c37982144d3172")
        );
    }
    // A directory target is not a file: no hash is made up for it.
    let (_, r) = fixture_reports().remove(0);
    assert!(bom_of(&r)["components"][0].get("hashes").is_none());
}

/// The OS and the QNX C library carry NVD's CPE for the SDP and a purl; the VEX statement
/// affects that C library by its bom-ref, so an importer links the two.
#[test]
fn cyclonedx_os_and_libc_carry_cpe_and_purl() {
    let Some(p) = common::corpus_path("qnx/openqnx-641-x86.ifs") else {
        return;
    };
    let r = scan(&[p], &ScanOptions::default());
    assert_eq!(r.targets[0].verdict, Verdict::Affected);
    let bom = bom_of(&r);
    let comps = all_components(&bom);
    let os = comps
        .iter()
        .find(|c| c["type"] == "operating-system")
        .expect("an OS component");
    assert_eq!(
        os["cpe"],
        "cpe:2.3:a:blackberry:qnx_software_development_platform:6.4.1:*:*:*:*:*:*:*"
    );
    assert_eq!(os["purl"], "pkg:generic/qnx/neutrino@6.4.1");
    let libc = comps
        .iter()
        .find(|c| c["type"] == "library")
        .expect("a C library component");
    // Its own QNX_info VERSION (6.4.0), not the kernel's release.
    assert_eq!(
        libc["cpe"],
        "cpe:2.3:a:blackberry:qnx_software_development_platform:6.4.0:*:*:*:*:*:*:*"
    );
    assert_eq!(libc["purl"], "pkg:generic/qnx/libc@6.4.0?arch=x86");
    let cve = cve_vuln(&bom);
    // The C library, and the kernel's own copy of calloc (stripped, static: located by
    // behaviour, unchecked).
    assert_eq!(
        cve["affects"],
        json!([
            {"ref": libc["bom-ref"]},
            {"ref": "t0:bin:openqnx-641-x86.ifs!/proc/boot/procnto-instr"}
        ])
    );

    // SDP 6.6.0 on ARM; and from 7 on NVD names the SDP by two numbers.
    if let Some(p) = common::corpus_path("qnx/sdp660-armle-omap5-sd.ifs") {
        let bom = bom_of(&scan(&[p], &ScanOptions::default()));
        let os = all_components(&bom)
            .into_iter()
            .find(|c| c["type"] == "operating-system")
            .cloned()
            .expect("an OS component");
        assert_eq!(
            os["cpe"],
            "cpe:2.3:a:blackberry:qnx_software_development_platform:6.6.0:*:*:*:*:*:*:*"
        );
    }
    assert_eq!(
        cyclonedx::sdp_cpe("7.1.0").as_deref(),
        Some("cpe:2.3:a:blackberry:qnx_software_development_platform:7.1:*:*:*:*:*:*:*")
    );
    assert_eq!(
        cyclonedx::sdp_cpe("6.4-6.6"),
        None,
        "a range names no version"
    );
    assert_eq!(cyclonedx::sdp_cpe("6.5.0 x"), None);
    assert_eq!(
        cyclonedx::qnx_purl("libc", "6.5.0 SP1", Some("armle-v7")),
        "pkg:generic/qnx/libc@6.5.0%20SP1?arch=armle-v7"
    );

    // A release range: version, but no CPE or purl. Another system's C library: no QNX name.
    let mut ranged = patched();
    ranged.targets[0].os.release = None;
    ranged.targets[0].os.release_range = Some("6.4-6.6".into());
    let bom = bom_of(&ranged);
    let os = &bom["components"][0]["components"][0];
    assert_eq!(os["version"], "6.4-6.6");
    assert!(os.get("cpe").is_none() && os.get("purl").is_none(), "{os}");
    for (name, r) in fixture_reports() {
        let bom = bom_of(&r);
        for c in all_components(&bom) {
            if c["type"] == "library" && property(c, "qnx") == Some("false") {
                assert!(
                    c.get("cpe").is_none() && c.get("purl").is_none(),
                    "{name}: {c}"
                );
            }
        }
    }
}

/// `recommendation` says what to do where something is to be done: affected, and undecided
/// (treated as affected); a patched or not-affected device gets none.
#[test]
fn cyclonedx_recommendation_only_where_something_is_to_be_done() {
    let rec = |r: &Report| cve_vuln(&bom_of(r)).get("recommendation").cloned();
    let affected_rec = rec(&affected()).expect("affected: a recommendation");
    assert!(affected_rec.as_str().unwrap().contains("patch 4844"));
    assert_eq!(rec(&patched()), None);
    let mut clean = patched();
    clean.targets[0].verdict = Verdict::NotAffected;
    assert_eq!(rec(&clean), None);
    let mut unsure = patched();
    unsure.targets[0].verdict = Verdict::Inconclusive;
    let unsure_rec = rec(&unsure).expect("inconclusive: a recommendation");
    assert!(
        unsure_rec.as_str().unwrap().contains("as affected"),
        "{unsure_rec}"
    );
    // The family entry is always about something to fix.
    let bom = bom_of(&not_qnx_newlib());
    assert!(bom["vulnerabilities"][0]["recommendation"].is_string());
}

// ---------------------------------------------------------------- diff and round trip

#[test]
fn report_round_trips_through_json() {
    for (name, r) in all_reports() {
        let text = badalloc_report::json::render(&r);
        let back: Report = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            badalloc_report::json::render(&back),
            text,
            "{name} changes on a round trip"
        );
    }
}

/// The JSON renderer lays out the targets' frames itself and renders `binaries` in parallel
/// pieces: the text must be serde_json's pretty layout of the whole report, byte for byte
/// (a field added to the model and not to the renderer's frame fails here).
#[test]
fn json_is_the_pretty_layout_of_the_whole_report() {
    let fixtures = common::fixture("");
    let mut reports = all_reports();
    reports.push(("no targets".into(), report(Vec::new())));
    // Hundreds of binaries (several pieces), and an unreadable target without any.
    reports.push((
        "fixtures/".into(),
        scan(
            &[
                fixtures.clone(),
                fixtures.join("compressors"),
                fixtures.join("no such path"),
            ],
            &ScanOptions::default(),
        ),
    ));
    let binaries = reports
        .last()
        .map_or(0, |(_, r)| r.targets[0].binaries.len());
    assert!(binaries > 200, "{binaries} binaries in fixtures/");
    for (name, r) in &reports {
        let pretty = serde_json::to_string_pretty(r).expect("serialisable") + "\n";
        let text = badalloc_report::json::render(r);
        assert!(
            text == pretty,
            "{name}: the JSON differs from serde_json's layout"
        );
    }
}

#[test]
fn diff_patched_libc() {
    let before = affected_by_release();
    let mut after = patched();
    after.targets[0].path = "old-remounted".into(); // the same device, mounted elsewhere
    let d = diff::diff_with(&before, &after, diff::Matching::SameTarget).unwrap();
    assert_eq!(d.matched_by, "same-target");
    assert!(!d.still_exposed, "{:?}", d.exposures);
    assert_eq!(d.targets.len(), 1);
    let t = &d.targets[0];
    assert_eq!(t.status, TargetStatus::Changed);
    assert_eq!(t.verdict_before, Some(Verdict::Affected));
    assert_eq!(t.verdict_after, Some(Verdict::Patched));
    assert_eq!(t.release_before.as_deref(), Some("6.4.1"));
    assert_eq!(t.release_after.as_deref(), Some("6.5.0"));
    assert_eq!(t.calloc_changes.len(), 1);
    assert_eq!(t.calloc_changes[0].path, "lib/libc.so.3");
    assert_eq!(t.calloc_changes[0].before, Some(CallocVerdict::Unknown));
    assert_eq!(t.calloc_changes[0].after, Some(CallocVerdict::Checked));
    let text = diff::render_text(&d);
    assert!(text.contains("verdict: affected -> patched"), "{text}");
    assert!(text.contains("nothing exposed remains"), "{text}");
    // The JSON form reads back to the same diff.
    let back: diff::Diff = serde_json::from_str(&diff::render_json(&d)).unwrap();
    assert_eq!(back, d);
}

#[test]
fn diff_still_exposed() {
    // The libc is patched, but the static copy in devc-ser8250 keeps its unchecked calloc.
    let before = affected();
    let mut after = affected();
    after.targets[0].libc[0].calloc.verdict = CallocVerdict::Checked;
    after.targets[0].binaries.push(binary("bin/new", None));
    let d = diff::diff(&before, &after);
    assert!(d.still_exposed);
    assert!(d.exposures.iter().any(|e| e.contains("sbin/devc-ser8250")));
    let t = &d.targets[0];
    assert_eq!(t.calloc_changes.len(), 1);
    assert_eq!(t.calloc_changes[0].kind, "libc");
    assert_eq!(t.binaries_added, ["bin/new"]);
    assert!(diff::render_text(&d).contains("still exposed"));

    // Not-QNX firmware with an unchecked newlib calloc is exposed too (family flaw).
    let d = diff::diff(&not_qnx_newlib(), &not_qnx_newlib());
    assert!(d.still_exposed);
    assert_eq!(d.targets[0].status, TargetStatus::Unchanged);
}

#[test]
fn diff_matches_several_targets_by_path() {
    let before = report(
        affected()
            .targets
            .into_iter()
            .chain(patched().targets)
            .collect(),
    );
    let after = report(
        patched()
            .targets
            .into_iter()
            .chain(not_qnx_newlib().targets)
            .collect(),
    );
    let d = diff::diff(&before, &after);
    let statuses: Vec<TargetStatus> = d.targets.iter().map(|t| t.status).collect();
    assert_eq!(
        statuses,
        [
            TargetStatus::NotRescanned,
            TargetStatus::Unchanged,
            TargetStatus::Added
        ]
    );
    assert_eq!(d.matched_by, "path");
    assert_eq!(d.shared_targets, 1);
}

#[test]
fn diff_a_target_not_rescanned_is_never_an_all_clear() {
    // BEFORE: an affected device and an inconclusive one; AFTER scanned only the second,
    // now patched.
    let mut unsure = patched();
    unsure.targets[0].verdict = Verdict::Inconclusive;
    let before = report(
        affected()
            .targets
            .into_iter()
            .chain(unsure.targets)
            .collect(),
    );
    let d = diff::diff(&before, &patched());
    assert_eq!(d.targets[0].status, TargetStatus::NotRescanned);
    assert!(d.still_exposed, "{d:?}");
    assert_eq!(d.exit_status(), 1);
    assert_eq!(
        d.exposures,
        ["/mnt/fw dump: affected before, not re-scanned"]
    );
    let text = diff::render_text(&d);
    assert!(!text.contains("nothing exposed remains"), "{text}");
    assert!(
        text.contains("Targets matched by path: 1 in both reports, 1 only in BEFORE (not re-scanned), 0 only in AFTER.")
            && text.contains("/mnt/fw dump: not re-scanned"),
        "{text}"
    );
    // A target that was not exposed before may go unscanned without alarm.
    let before = report(
        patched()
            .targets
            .into_iter()
            .chain(not_qnx_newlib().targets)
            .collect(),
    );
    let mut clean = not_qnx_newlib();
    clean.targets[0].binaries.clear();
    clean.targets[0].verdict = Verdict::NotQnx;
    let before = report(
        before
            .targets
            .into_iter()
            .take(1)
            .chain(clean.targets)
            .collect(),
    );
    let d = diff::diff(&before, &patched());
    assert!(!d.still_exposed, "{d:?}");
    assert_eq!(d.exit_status(), 0);
}

#[test]
fn diff_of_reports_sharing_no_target_says_so() {
    let d = diff::diff(&affected_by_release(), &patched());
    assert_eq!(d.shared_targets, 0);
    let statuses: Vec<TargetStatus> = d.targets.iter().map(|t| t.status).collect();
    assert_eq!(statuses, [TargetStatus::NotRescanned, TargetStatus::Added]);
    assert!(d.still_exposed);
    let text = diff::render_text(&d);
    assert!(
        text.starts_with("The two reports share no target (targets are matched by path)"),
        "{text}"
    );
    assert!(!text.contains("changed"), "no change is reported: {text}");
    // Said to be one device: compared.
    let d = diff::diff_with(
        &affected_by_release(),
        &patched(),
        diff::Matching::SameTarget,
    )
    .unwrap();
    assert_eq!(d.shared_targets, 1);
    assert_eq!(d.targets[0].status, TargetStatus::Changed);
    assert_eq!(d.exit_status(), 0);
    // ...only when each report holds one target.
    let two = report(
        affected()
            .targets
            .into_iter()
            .chain(patched().targets)
            .collect(),
    );
    assert!(diff::diff_with(&two, &patched(), diff::Matching::SameTarget).is_err());
    // An undecided target after: not "nothing exposed remains".
    let mut unsure = patched();
    unsure.targets[0].verdict = Verdict::Inconclusive;
    let d = diff::diff(&patched(), &unsure);
    assert!(!d.still_exposed);
    assert_eq!(d.exit_status(), 3);
    assert!(diff::render_text(&d).contains("undecided"));
}

/// Every string leaf of `value` that the model `T` still accepts so, prefixed with `hostile`
/// (enumerations keep their values; strings equal before are equal after, so the rendering
/// takes the same branches).
fn poison<T: serde::de::DeserializeOwned>(value: &Value, hostile: &str) -> T {
    fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::String(_) => out.push(at),
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    leaves(x, format!("{at}/{i}"), out);
                }
            }
            Value::Object(o) => {
                for (k, x) in o {
                    leaves(
                        x,
                        format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            _ => {}
        }
    }
    let mut paths = Vec::new();
    leaves(value, String::new(), &mut paths);
    let mut v = value.clone();
    for p in paths {
        let old = v.pointer(&p).cloned().unwrap();
        *v.pointer_mut(&p).unwrap() =
            Value::String(format!("{hostile}{}", old.as_str().unwrap_or_default()));
        if serde_json::from_value::<T>(v.clone()).is_err() {
            *v.pointer_mut(&p).unwrap() = old;
        }
    }
    serde_json::from_value(v).unwrap()
}

/// Characters that must never reach a terminal from a text rendering.
fn unsafe_chars(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| (c.is_control() && c != '\n') || ('\u{2028}'..='\u{2069}').contains(&c))
        .collect()
}

const HOSTILE: &str = "x\u{1b}[1A\u{1b}[2K\rfw: NOT AFFECTED\n\u{9b}31m\u{202e}\t\u{7f}";

/// Markup and controls in every string of a report, for the HTML and fleet renderings.
const HOSTILE_MARKUP: &str = "<b id=x>\"'&amp;</td></table><script>\u{1b}[2J\r\n\u{202e}";

#[test]
fn html_and_summary_renderings_escape_every_string_from_the_bytes() {
    use badalloc_report::{html, ndjson, summary};
    let mut r = scan(
        &[common::fixture("example/qnx650-device")],
        &ScanOptions::default(),
    );
    r.targets[0].errors.push(badalloc_report::ErrorReport {
        path: "lib/x".into(),
        offset: Some(4),
        kind: badalloc_report::ErrorKind::Corrupt,
        message: "damaged".into(),
    });
    let hostile: Report = poison(&serde_json::to_value(&r).unwrap(), HOSTILE_MARKUP);
    assert!(hostile.targets[0].path.starts_with("<b id=x>"));
    let page = html::render(&hostile);
    let clean = html::render(&r);
    for bad in ["<b id", "<script", "</table><", "\"'&amp;"] {
        assert!(!page.contains(bad), "{bad:?} reached the page");
    }
    assert!(unsafe_chars(&page).is_empty(), "{:?}", unsafe_chars(&page));
    assert!(page.contains("&lt;b id=x&gt;&quot;&#39;&amp;amp;&lt;/td&gt;&lt;/table&gt;&lt;script&gt;\\x1b[2J\\x0d\\x0a\\xe2\\x80\\xae"));
    // The same elements as the clean page: no string opened or closed one.
    let tags = |p: &str| p.matches('<').count();
    assert_eq!(tags(&page), tags(&clean));

    // The fleet forms, from the same report read back as NDJSON.
    let line = ndjson::line(1, &hostile.tool, &hostile.targets[0]);
    let (targets, errors) = ndjson::read("r.ndjson", &line);
    assert!(errors.is_empty(), "{errors:?}");
    let mut s = summary::Summary::default();
    s.add(targets, errors);
    s.finish();
    let text = summary::render_text(&s);
    assert!(unsafe_chars(&text).is_empty(), "{:?}", unsafe_chars(&text));
    let csv = summary::render_csv(&s);
    assert!(unsafe_chars(&csv.replace("\r\n", "\n")).is_empty());
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let page = summary::render_html(&s);
    for bad in ["<b id", "<script"] {
        assert!(!page.contains(bad), "{bad:?} reached the summary page");
    }
}

#[test]
fn text_renderings_escape_every_string_from_the_bytes() {
    let mut r = scan(
        &[common::fixture("example/qnx650-device")],
        &ScanOptions::default(),
    );
    r.targets[0].errors.push(badalloc_report::ErrorReport {
        path: "lib/x".into(),
        offset: Some(4),
        kind: badalloc_report::ErrorKind::Corrupt,
        message: "damaged".into(),
    });
    let plain = badalloc_report::text::render(&r);
    let hostile: Report = poison(&serde_json::to_value(&r).unwrap(), HOSTILE);
    assert_ne!(
        hostile.targets[0].path, r.targets[0].path,
        "nothing was poisoned"
    );
    let text = badalloc_report::text::render(&hostile);
    assert!(unsafe_chars(&text).is_empty(), "{:?}", unsafe_chars(&text));
    assert_eq!(text.lines().count(), plain.lines().count(), "{text}");
    assert!(text.contains("x\\x1b[1A\\x1b[2K\\x0dfw: NOT AFFECTED\\x0a\\xc2\\x9b31m"));

    // The diff of two hand-made reports, every string of it hostile.
    let mut after = r.clone();
    after.targets[0].libc[0].calloc.verdict = CallocVerdict::Checked;
    after.targets[0].binaries.pop();
    after.targets[0].os.release = Some("6.5.0 SP1".into());
    after.targets.push(patched().targets.remove(0));
    let d = diff::diff(
        &report(
            r.targets
                .iter()
                .cloned()
                .chain(affected().targets)
                .collect(),
        ),
        &after,
    );
    let plain = diff::render_text(&d);
    let hostile: diff::Diff = poison(&serde_json::to_value(&d).unwrap(), HOSTILE);
    let text = diff::render_text(&hostile);
    assert!(unsafe_chars(&text).is_empty(), "{:?}", unsafe_chars(&text));
    assert_eq!(
        text.lines().count(),
        plain.lines().count(),
        "{plain}\n---\n{text}"
    );
}
