//! SARIF 2.1.0 rendering, for code-scanning dashboards (GitHub, GitLab, DefectDojo...).
//!
//! One run; three rules (see `docs/formats.md`); one result per finding of
//! [`crate::findings`]. Locations are relative to one `originalUriBaseIds` entry per target
//! (`TARGET`, then `TARGET_2`...), so a result stays meaningful wherever the tree is mounted.

use serde_json::{json, Map, Value};

use super::uri;
use super::{Report, TargetKind, TargetReport, Verdict};
use crate::findings::{self, describe_calloc, release_of, Finding, FindingKind, Site};
use badalloc_audit_core::advisory::{
    CVE_2021_22156, KLIBC, MEDICAL_PATCH, NEWLIB, SDP_PATCH, UCLIBC,
};

pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const RULE_CVE: &str = "CVE-2021-22156";
pub const RULE_INCONCLUSIVE: &str = "CVE-2021-22156-INCONCLUSIVE";
pub const RULE_FAMILY: &str = "BADALLOC-CALLOC-UNCHECKED";

pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(&to_value(report))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// The SARIF log as a JSON value (tests validate this against the official schema).
pub fn to_value(report: &Report) -> Value {
    let found = findings::findings(&report.targets);
    let results: Vec<Value> = found.iter().map(result).collect();
    let mut bases = Map::new();
    for (i, t) in report.targets.iter().enumerate() {
        bases.insert(
            base_id(i),
            json!({
                "uri": base_uri(t),
                "description": {"text": format!("the PATH {:?} as given on the command line", t.path)}
            }),
        );
    }
    let notifications: Vec<Value> = report
        .targets
        .iter()
        .filter(|t| t.verdict == Verdict::Error)
        .map(|t| {
            json!({
                "level": "error",
                "message": {"text": format!("{}: {}", t.path, t.reasons.join("; "))}
            })
        })
        .collect();
    let mut invocation = json!({
        "executionSuccessful": notifications.is_empty(),
    });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notifications);
    }
    let targets: Vec<Value> = report
        .targets
        .iter()
        .map(|t| {
            json!({
                "path": t.path,
                "verdict": t.verdict.as_str(),
                "release": release_of(t),
                "reasons": t.reasons,
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver(report)},
            "invocations": [invocation],
            "originalUriBaseIds": bases,
            "results": results,
            "columnKind": "unicodeCodePoints",
            // Targets without findings (not-affected, patched, not-qnx) are recorded here,
            // so the log shows what was scanned, not only what failed.
            "properties": {"targets": targets},
        }]
    })
}

fn driver(report: &Report) -> Value {
    let mut d = json!({
        "name": report.tool.name,
        "version": report.tool.version,
        "rules": rules(),
    });
    if is_semver(&report.tool.version) {
        d["semanticVersion"] = json!(report.tool.version);
    }
    // Cargo.toml's `repository` (or `homepage`) when the package declares one.
    let info = [env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_HOMEPAGE")]
        .into_iter()
        .find(|s| !s.is_empty());
    if let Some(u) = info {
        d["informationUri"] = json!(u);
    }
    d
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn rules() -> Value {
    let adv = &CVE_2021_22156;
    let fixes: Vec<String> = adv
        .products
        .iter()
        .map(|p| format!("{}: affected {}; fixed {}", p.product, p.affected, p.fixed))
        .collect();
    // The patches, the releases they apply to and the fixed release, from the advisory.
    let sdp = format!("{} {}", SDP_PATCH.product, SDP_PATCH.releases);
    let (sdp_no, medical, medical_no) = (
        SDP_PATCH.number,
        MEDICAL_PATCH.product,
        MEDICAL_PATCH.number,
    );
    let fixed = adv.first_fixed_release;
    let cve_help = format!(
        "Apply BlackBerry's fix: {sdp} patch {sdp_no}, {medical} patch {medical_no}, or move to SDP {fixed} or later. \
Custom QNX builds must port the patch. Statically linked programs keep their own calloc: relink them against a fixed C library. \
Until then allow only the ports and protocols the device's applications use. Ranges: {}.",
        fixes.join(" | ")
    );
    let cve_md = format!(
        "**{}** ({}, {}, CVSS 3.1 `{}`).\n\n\
- Patch: {sdp} patch **{sdp_no}**, {medical} patch **{medical_no}**, or SDP {fixed} and later.\n\
- Custom QNX builds must port the patch and test it.\n\
- Statically linked programs carry their own calloc: relink them; replacing `libc.so.3` does not fix them.\n\
- Until then: allow only the ports and protocols the device's applications use.\n\n\
Affected and fixed ranges (vendor's, not NVD's CPE ranges):\n\n{}",
        adv.title,
        adv.cwe,
        adv.published,
        adv.cvss_cna,
        adv.products
            .iter()
            .map(|p| format!("- {}: affected {}; fixed {}", p.product, p.affected, p.fixed))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let (newlib, newlib_last, uclibc, klibc) = (
        NEWLIB.fixed.unwrap_or_default(),
        NEWLIB.last_unchecked.unwrap_or_default(),
        UCLIBC.fixed.unwrap_or_default(),
        KLIBC.fixed.unwrap_or_default(),
    );
    let family_description = format!(
        "A calloc outside QNX's C library (for example newlib up to {newlib_last} linked statically, uClibc-ng before {uclibc}, klibc before {klibc}) computes nmemb*size without an overflow test. This is a flaw of the BadAlloc family (CISA ICSA-21-119-04), not CVE-2021-22156, which concerns QNX only."
    );
    let family_help = format!(
        "Update the C library that provides this calloc (newlib {newlib} and later use __builtin_mul_overflow) and relink statically linked programs."
    );
    let family_md = format!(
        "Update the C library that provides this calloc and relink statically linked programs:\n\n- newlib: fixed in **{newlib}** (`__builtin_mul_overflow`);\n- uClibc-ng: **{uclibc}** ({});\n- klibc: **{klibc}** ({}).",
        UCLIBC.cve.unwrap_or_default(),
        KLIBC.cve.unwrap_or_default()
    );
    json!([
        {
            "id": RULE_CVE,
            "name": "QnxCallocIntegerOverflow",
            "shortDescription": {"text": "QNX calloc multiplies nmemb*size without an overflow test (CVE-2021-22156, BadAlloc)"},
            "fullDescription": {"text": "The QNX C library, or a statically linked copy of its calloc, computes nmemb*size without testing the product for overflow, so a large request returns a small buffer (CWE-190). Reported per unchecked calloc found in the machine code, or per target when the release alone puts it in the affected range with no patch."},
            "help": {"text": cve_help, "markdown": cve_md},
            "helpUri": adv.nvd_url,
            "defaultConfiguration": {"level": "error"},
            "properties": {
                "tags": ["security", "external/cwe/cwe-190", "CVE-2021-22156", "BadAlloc", "QNX"],
                "security-severity": "9.0",
                "precision": "high",
                "problem.severity": "error",
                "cve": adv.id,
                "aliases": adv.aliases,
                "cvss": adv.cvss_cna,
            }
        },
        {
            "id": RULE_INCONCLUSIVE,
            "name": "QnxCallocUndecided",
            "shortDescription": {"text": "Exposure to CVE-2021-22156 could not be decided"},
            "fullDescription": {"text": "The target is (or may be) QNX, but neither the release nor the machine code of calloc decides whether it is exposed to CVE-2021-22156. This is not a statement that it is safe: treat the device as affected until it is decided."},
            "help": {
                "text": "Read the reasons in the result message. Typical causes: a 6.5.x release (patched or not, only the code tells), a calloc the analysis could not follow, or no ELF file at all (encrypted or unknown image format). Extract the image or provide the C library and scan again; until then treat the device as affected.",
                "markdown": "Read the reasons in the result message. Typical causes:\n\n- a 6.5.x release: patched or not, only the code of calloc tells;\n- a calloc the analysis could not follow;\n- no ELF file at all (an encrypted or unknown image format).\n\nExtract the image, or provide the C library, and scan again. Until then **treat the device as affected**: never read this as safe."
            },
            "helpUri": adv.nvd_url,
            // A warning, not a note: the advice is to treat an undecided device as affected.
            "defaultConfiguration": {"level": "warning"},
            "properties": {
                "tags": ["security", "CVE-2021-22156", "BadAlloc", "inconclusive"],
                "cve": adv.id,
            }
        },
        {
            "id": RULE_FAMILY,
            "name": "CallocIntegerOverflow",
            "shortDescription": {"text": "calloc multiplies nmemb*size without an overflow test (BadAlloc family)"},
            "fullDescription": {"text": family_description},
            "help": {
                "text": family_help,
                "markdown": family_md
            },
            "helpUri": adv.cisa_family_url,
            "defaultConfiguration": {"level": "warning"},
            "properties": {
                "tags": ["security", "external/cwe/cwe-190", "BadAlloc"],
                "precision": "high",
            }
        }
    ])
}

fn base_id(i: usize) -> String {
    if i == 0 {
        "TARGET".to_string()
    } else {
        format!("TARGET_{}", i + 1)
    }
}

/// A directory is its own base; a file target (ELF, image) is based at its directory.
fn base_uri(t: &TargetReport) -> String {
    if is_file_target(t) {
        uri::directory_base(uri::split_file(&t.path).0)
    } else {
        uri::directory_base(&t.path)
    }
}

fn is_file_target(t: &TargetReport) -> bool {
    !matches!(
        t.target_kind(),
        Some(TargetKind::Directory | TargetKind::Unreadable)
    )
}

/// The location of a file inside a target, relative to the target's base.
fn artifact_uri(t: &TargetReport, inner: &str) -> String {
    if is_file_target(t) {
        let name = uri::split_file(&t.path).1;
        let inner = inner.trim_start_matches('/');
        if inner == name || inner.starts_with(&format!("{name}!")) {
            uri::relative_ref(inner)
        } else {
            uri::relative_ref(&format!("{name}!/{inner}"))
        }
    } else {
        uri::relative_ref(inner)
    }
}

/// For findings about a whole target: the file that carries the decisive evidence.
fn target_anchor(t: &TargetReport) -> Option<&str> {
    t.libc
        .iter()
        .find(|l| l.qnx)
        .or(t.libc.first())
        .map(|l| l.path.as_str())
        .or_else(|| t.os.evidence.first().map(|e| e.source.as_str()))
}

fn result(f: &Finding<'_>) -> Value {
    let t = f.target;
    let (rule, index, level) = match f.kind {
        FindingKind::Cve | FindingKind::CveByRelease => (RULE_CVE, 0, "error"),
        FindingKind::Inconclusive => (RULE_INCONCLUSIVE, 1, "warning"),
        FindingKind::Family => (RULE_FAMILY, 2, "warning"),
    };
    let inner = f.path().or_else(|| target_anchor(t));
    let mut physical = json!({
        "artifactLocation": {
            "uri": match inner {
                Some(p) => artifact_uri(t, p),
                None if is_file_target(t) => uri::relative_ref(uri::split_file(&t.path).1),
                None => ".".to_string(),
            },
            "uriBaseId": base_id(f.target_index),
        }
    });
    // The report gives calloc's virtual address, not a file offset: a SARIF `address`,
    // never a `region.byteOffset`.
    if let Some(c) = f.calloc() {
        if let Some(addr) = c.address.as_deref().and_then(parse_hex) {
            physical["address"] = json!({
                "absoluteAddress": addr,
                "kind": "function",
                "name": "calloc",
                "fullyQualifiedName": if c.chain.is_empty() { "calloc".to_string() } else { c.chain.join(" -> ") },
            });
        }
    }
    let mut props = json!({
        "verdict": t.verdict.as_str(),
        "release": release_of(t),
        "arch": f.arch(),
        "target": t.path,
    });
    if let Some(c) = f.calloc() {
        props["calloc"] = json!({
            "verdict": c.verdict.as_str(),
            "function": c.function,
            "address": c.address,
            "chain": c.chain,
            "evidence": c.evidence,
        });
    }
    if let Some(lib) = f.library() {
        props["library"] = json!(lib.to_string());
    }
    json!({
        "ruleId": rule,
        "ruleIndex": index,
        "level": level,
        "message": {"text": message(f)},
        "locations": [{"physicalLocation": physical}],
        "properties": props,
    })
}

fn message(f: &Finding<'_>) -> String {
    let t = f.target;
    let release = match (&t.os.release, &t.os.release_range) {
        (Some(r), _) => format!("QNX release {r}"),
        (None, Some(r)) => format!("QNX release range {r}"),
        (None, None) => "release unknown".to_string(),
    };
    match (f.kind, f.site) {
        (FindingKind::Cve, Site::Libc(l)) => format!(
            "The QNX C library {} ({}, {}) has a calloc without an overflow test: {}. {release}; target verdict {}.",
            l.path,
            l.soname.as_deref().unwrap_or("no SONAME"),
            l.arch,
            describe_calloc(&l.calloc),
            t.verdict.as_str()
        ),
        (FindingKind::Cve, Site::Static(b, c)) => format!(
            "{} ({}) carries its own statically linked calloc{} without an overflow test; replacing the C library does not fix it: {}. {release}; target verdict {}.",
            b.path,
            b.arch,
            c.located_note(),
            describe_calloc(c),
            t.verdict.as_str()
        ),
        (FindingKind::Family, _) => {
            let lib = f
                .library()
                .map(|l| format!(" Library: {l}."))
                .unwrap_or_default();
            let what = match f.site {
                Site::Static(_, _) => "a statically linked calloc",
                _ => "a calloc",
            };
            format!(
                "{} has {what} without an overflow test (BadAlloc family; CVE-2021-22156 concerns QNX only): {}.{lib}",
                f.path().unwrap_or(&t.path),
                f.calloc().map(describe_calloc).unwrap_or_default()
            )
        }
        (FindingKind::CveByRelease, _) | (FindingKind::Cve, Site::Target) => format!(
            "{release} is in the affected range of CVE-2021-22156: {}",
            t.reasons.join(" ")
        ),
        (FindingKind::Inconclusive, _) => format!(
            "Exposure to CVE-2021-22156 could not be decided ({release}): {}",
            t.reasons.join(" ")
        ),
    }
}

fn parse_hex(s: &str) -> Option<u64> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    u64::from_str_radix(digits, 16).ok()
}
