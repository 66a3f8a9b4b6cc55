//! CycloneDX 1.5 JSON rendering: an inventory of what the verdict rests on (QNX release,
//! C libraries, programs with their own calloc) and a VEX statement per target.
//!
//! Deterministic: no timestamp, and the serial number is a hash of the report, so scanning
//! the same tree twice gives the same document. Mapping: `docs/formats.md`.

use serde_json::{json, Value};

use super::{BinaryReport, CallocReport, LibcReport, Report, TargetKind, TargetReport, Verdict};
use crate::findings::{self, release_of, FindingKind, Site};
use badalloc_audit_core::advisory::{
    CVE_2021_22156, KLIBC, MEDICAL_PATCH, NEWLIB, SDP_PATCH, UCLIBC,
};

pub const SPEC_VERSION: &str = "1.5";
pub const SCHEMA_URI: &str = "http://cyclonedx.org/schema/bom-1.5.schema.json";
pub const FAMILY_ID: &str = "BADALLOC-CALLOC-UNCHECKED";
/// Property names are namespaced by the tool, as the CycloneDX property taxonomy asks.
const NS: &str = "badalloc-audit";

pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(&to_value(report))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// The BOM as a JSON value (tests validate this against the official schema).
pub fn to_value(report: &Report) -> Value {
    let subject = match report.targets.as_slice() {
        [one] => one.path.clone(),
        many => format!(
            "{} targets: {}",
            many.len(),
            many.iter()
                .map(|t| t.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let components: Vec<Value> = report
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| target_component(i, t))
        .collect();
    let mut vulnerabilities: Vec<Value> = report
        .targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| cve_entry(i, t))
        .collect();
    vulnerabilities.extend(family_entries(report));
    json!({
        "$schema": SCHEMA_URI,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial_number(report),
        "version": 1,
        "metadata": {
            "tools": {"components": [{
                "type": "application",
                "name": report.tool.name,
                "version": report.tool.version,
            }]},
            "component": {
                "type": "firmware",
                "bom-ref": "scan",
                "name": subject,
            },
        },
        "components": components,
        "vulnerabilities": vulnerabilities,
    })
}

/// `urn:uuid:` from a 128-bit FNV-1a hash of the report's JSON, shaped as a UUIDv8
/// (RFC 9562 "custom"): stable for the same report, different for any change in it.
pub fn serial_number(report: &Report) -> String {
    let bytes = serde_json::to_vec(report).unwrap_or_default();
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in bytes {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000000001000000000000000000013b);
    }
    h = (h & !(0xf << 76)) | (0x8 << 76); // version 8
    h = (h & !(0x3 << 62)) | (0x2 << 62); // variant 10
    let x = format!("{h:032x}");
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

// ---------------------------------------------------------------- components

fn target_ref(i: usize) -> String {
    format!("t{i}")
}
fn os_ref(i: usize) -> String {
    format!("t{i}:os")
}
fn libc_ref(i: usize, l: &LibcReport) -> String {
    format!("t{i}:libc:{}", l.path)
}
fn binary_ref(i: usize, b: &BinaryReport) -> String {
    format!("t{i}:bin:{}", b.path)
}

fn prop(name: &str, value: impl Into<String>) -> Value {
    json!({"name": format!("{NS}:{name}"), "value": value.into()})
}

fn has_os(t: &TargetReport) -> bool {
    findings::is_qnx(t)
}

fn target_component(i: usize, t: &TargetReport) -> Value {
    let mut props = vec![
        prop("verdict", t.verdict.as_str()),
        prop("kind", t.kind.as_str()),
    ];
    if let Some(r) = release_of(t) {
        props.push(prop("release", r));
    }
    props.extend(t.reasons.iter().map(|r| prop("reason", r.as_str())));
    let mut nested = Vec::new();
    if has_os(t) {
        nested.push(os_component(i, t));
    }
    nested.extend(t.libc.iter().map(|l| libc_component(i, t, l)));
    nested.extend(
        t.binaries
            .iter()
            .filter_map(|b| b.static_calloc.as_ref().map(|c| binary_component(i, b, c))),
    );
    let mut c = json!({
        "type": "firmware",
        "bom-ref": target_ref(i),
        "name": t.path,
        "properties": props,
    });
    if !nested.is_empty() {
        c["components"] = Value::Array(nested);
    }
    // A PATH that is one ELF file is hashed as its own `binaries` entry (the scan hashes
    // ELF files only: a directory or an image has no hash here).
    if t.target_kind() == Some(TargetKind::Elf) {
        let name = super::uri::split_file(&t.path).1;
        set_hash(
            &mut c,
            t.binaries
                .iter()
                .find(|b| b.path == name)
                .and_then(|b| b.sha256.as_deref()),
        );
    }
    c
}

fn os_component(i: usize, t: &TargetReport) -> Value {
    let mut c = json!({
        "type": "operating-system",
        "bom-ref": os_ref(i),
        "supplier": {"name": "BlackBerry QNX"},
        "name": "QNX Neutrino RTOS",
        "properties": [prop("confidence", t.os.confidence.as_str())],
    });
    if let Some(v) = release_of(t) {
        c["version"] = json!(v);
    }
    // Only an exact release names a product version; a range (`6.4-6.6`) does not.
    if let Some(r) = &t.os.release {
        set_identity(&mut c, "neutrino", r, None);
    }
    c
}

/// The SDP version of a Neutrino release `X.Y.Z` as NVD names it: `6.5.0`, `6.6.0`; from 7 on
/// SDPs are named by two numbers (`7.0`, `7.1`, `8.0`). None for anything else.
fn sdp_version(release: &str) -> Option<String> {
    let parts: Vec<&str> = release.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 3 || !parts.iter().all(numeric) {
        return None;
    }
    let major: u32 = parts[0].parse().ok()?;
    Some(if major >= 7 {
        format!("{}.{}", parts[0], parts[1])
    } else {
        release.to_string()
    })
}

/// The SDP's CPE for a Neutrino release. NVD's product for CVE-2021-22156 is the SDP, an
/// application (`a`) in BlackBerry's own CPE names, not `qnx_neutrino_rtos`; OS for Medical
/// and OS for Safety (`o`) cannot be told from the kernel release, so they are not claimed. The update is ANY: the kernel of 6.5.0 SP1 says
/// 6.5.0, so `6.5.0:*` matches both of NVD's names (`6.5.0:-` and `6.5.0:sp1`).
pub fn sdp_cpe(release: &str) -> Option<String> {
    sdp_version(release).map(|v| format!("{}:{v}:*:*:*:*:*:*:*", CVE_2021_22156.sdp_cpe_prefix))
}

/// `pkg:generic/qnx/NAME@VERSION[?arch=ARCH]` (the version and arch percent-encoded).
pub fn qnx_purl(name: &str, version: &str, arch: Option<&str>) -> String {
    let mut p = format!("pkg:generic/qnx/{name}@{}", purl_encode(version));
    if let Some(a) = arch.filter(|a| !a.is_empty()) {
        p.push_str("?arch=");
        p.push_str(&purl_encode(a));
    }
    p
}

/// Percent-encoding of a purl version or qualifier value: all but unreserved characters.
fn purl_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The CPE (when the version is a Neutrino release) and the purl of a QNX component.
fn set_identity(c: &mut Value, name: &str, version: &str, arch: Option<&str>) {
    if let Some(cpe) = sdp_cpe(version) {
        c["cpe"] = json!(cpe);
    }
    c["purl"] = json!(qnx_purl(name, version, arch));
}

/// `hashes` of a component read from a file whose SHA-256 the report records.
fn set_hash(c: &mut Value, sha256: Option<&str>) {
    if let Some(h) = sha256.filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())) {
        c["hashes"] = json!([{"alg": "SHA-256", "content": h}]);
    }
}

fn calloc_props(c: &CallocReport) -> Vec<Value> {
    let mut v = vec![
        prop("calloc:verdict", c.verdict.as_str()),
        prop("calloc:reason", c.reason.as_str()),
    ];
    if !c.chain.is_empty() {
        v.push(prop("calloc:chain", c.chain.join(" -> ")));
    }
    if let Some(a) = &c.address {
        v.push(prop("calloc:address", a.as_str()));
    }
    v
}

fn libc_component(i: usize, t: &TargetReport, l: &LibcReport) -> Value {
    let mut props = vec![prop("path", l.path.as_str()), prop("arch", l.arch.as_str())];
    props.push(prop("qnx", if l.qnx { "true" } else { "false" }));
    props.extend(calloc_props(&l.calloc));
    let mut c = json!({
        "type": "library",
        "bom-ref": libc_ref(i, l),
        "name": "libc",
        "description": l.soname.as_deref().unwrap_or("C library"),
        "properties": props,
    });
    if let Some(v) = &l.version {
        c["version"] = json!(v);
    }
    set_hash(&mut c, l.sha256.as_deref());
    // QNX's C library is part of the SDP: its own `QNX_info` version, else the target's
    // exact release, names it. Another system's C library gets no QNX identity.
    if l.qnx {
        if let Some(v) = l.version.as_deref().or(t.os.release.as_deref()) {
            set_identity(&mut c, "libc", v, Some(&l.arch));
        }
    }
    c
}

fn binary_component(i: usize, b: &BinaryReport, calloc: &CallocReport) -> Value {
    let name = b.path.rsplit(['/', '!']).next().unwrap_or(&b.path);
    let mut props = vec![
        prop("path", b.path.as_str()),
        prop("arch", b.arch.as_str()),
        prop("static-calloc", "true"),
    ];
    if b.network {
        props.push(prop("network", b.network_imports.join(", ")));
    }
    props.extend(calloc_props(calloc));
    let mut c = json!({
        "type": "application",
        "bom-ref": binary_ref(i, b),
        "name": if name.is_empty() { b.path.as_str() } else { name },
        "properties": props,
    });
    set_hash(&mut c, b.sha256.as_deref());
    c
}

// ---------------------------------------------------------------- vulnerabilities

/// `CVSS:3.1/... (9.0)` in the advisory table: the vector and the score.
fn cvss() -> (&'static str, Option<f64>) {
    let s = CVE_2021_22156.cvss_cna;
    match s.split_once(" (") {
        Some((vector, rest)) => (vector, rest.trim_end_matches(')').parse().ok()),
        None => (s, None),
    }
}

fn severity(score: f64) -> &'static str {
    match score {
        s if s >= 9.0 => "critical",
        s if s >= 7.0 => "high",
        s if s >= 4.0 => "medium",
        s if s > 0.0 => "low",
        _ => "none",
    }
}

/// One CVE-2021-22156 statement per QNX target (and per unreadable PATH, in triage).
/// Not-QNX targets get none: the CVE concerns QNX's C library only.
fn cve_entry(i: usize, t: &TargetReport) -> Option<Value> {
    let adv = &CVE_2021_22156;
    let code: Vec<String> = findings::findings(std::slice::from_ref(t))
        .iter()
        .filter(|f| f.kind == FindingKind::Cve)
        .filter_map(|f| match f.site {
            Site::Libc(l) => Some(libc_ref(i, l)),
            Site::Static(b, _) => Some(binary_ref(i, b)),
            Site::Target => None,
        })
        .collect();
    let qnx_libcs: Vec<String> = t
        .libc
        .iter()
        .filter(|l| l.qnx)
        .map(|l| libc_ref(i, l))
        .collect();
    let whole = if has_os(t) { os_ref(i) } else { target_ref(i) };
    let mut analysis = json!({"detail": t.reasons.join("\n")});
    let affects: Vec<String> = match t.verdict {
        Verdict::NotQnx => return None,
        Verdict::Affected => {
            analysis["state"] = json!("exploitable");
            analysis["response"] = json!(["update", "workaround_available"]);
            if code.is_empty() {
                vec![whole]
            } else {
                code
            }
        }
        Verdict::Patched => {
            analysis["state"] = json!("resolved");
            analysis["response"] = json!(["update"]);
            [whole].into_iter().chain(qnx_libcs).collect()
        }
        Verdict::NotAffected => {
            // The C library's code tests the product, or the release ships one that does.
            analysis["state"] = json!("not_affected");
            analysis["justification"] = json!("code_not_present");
            [whole].into_iter().chain(qnx_libcs).collect()
        }
        Verdict::Inconclusive | Verdict::Error => {
            analysis["state"] = json!("in_triage");
            [whole].into_iter().chain(qnx_libcs).collect()
        }
    };
    let (vector, score) = cvss();
    let mut rating = json!({
        "source": {"name": "BlackBerry (CNA)"},
        "method": "CVSSv31",
        "vector": vector,
    });
    if let Some(s) = score {
        rating["score"] = json!(s);
        rating["severity"] = json!(severity(s));
    }
    let cwe: Option<u64> = adv.cwe.strip_prefix("CWE-").and_then(|n| n.parse().ok());
    let mut entry = json!({
        "bom-ref": format!("t{i}:{}", adv.id),
        "id": adv.id,
        "source": {"name": "NVD", "url": adv.nvd_url},
        "ratings": [rating],
        "cwes": cwe.into_iter().collect::<Vec<_>>(),
        "description": format!(
            "{}: {}",
            adv.title,
            adv.products
                .iter()
                .map(|p| format!("{} affected {}, fixed {}", p.product, p.affected, p.fixed))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        "advisories": [
            {"title": "CISA alert AA21-229A", "url": adv.cisa_alert_url},
            {"title": "NVD CVE-2021-22156", "url": adv.nvd_url},
        ],
        "published": format!("{}T00:00:00Z", adv.published),
        "analysis": analysis,
        "affects": affects.into_iter().map(|r| json!({"ref": r})).collect::<Vec<_>>(),
        "properties": [prop("verdict", t.verdict.as_str()), prop("target", t.path.as_str())],
    });
    if let Some(r) = recommendation(t.verdict) {
        entry["recommendation"] = json!(r);
    }
    Some(entry)
}

/// What to do, for the verdicts that leave something to do: none for a patched or
/// not-affected device. Undecided is treated as affected until decided.
fn recommendation(verdict: Verdict) -> Option<String> {
    match verdict {
        Verdict::Affected => Some(format!(
            "Apply patch {} ({} {}) or {} ({}), or move to SDP {} or \
             later; relink statically linked programs; until then allow only the ports and \
             protocols the device's applications use.",
            SDP_PATCH.number,
            SDP_PATCH.product,
            SDP_PATCH.releases,
            MEDICAL_PATCH.number,
            MEDICAL_PATCH.product,
            CVE_2021_22156.first_fixed_release
        )),
        Verdict::Inconclusive | Verdict::Error => Some(
            "Treat the device as affected until it is decided: extract the image or provide \
             its C library and scan again; meanwhile allow only the ports and protocols the \
             device's applications use."
                .to_string(),
        ),
        Verdict::Patched | Verdict::NotAffected | Verdict::NotQnx => None,
    }
}

/// BadAlloc-family flaws (unchecked calloc outside QNX's C library): one entry per target
/// that has any, affecting each such component.
fn family_entries(report: &Report) -> Vec<Value> {
    let found = findings::findings(&report.targets);
    report
        .targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let mine: Vec<_> = found
                .iter()
                .filter(|f| f.target_index == i && f.kind == FindingKind::Family)
                .collect();
            if mine.is_empty() {
                return None;
            }
            let refs: Vec<Value> = mine
                .iter()
                .filter_map(|f| match f.site {
                    Site::Libc(l) => Some(json!({"ref": libc_ref(i, l)})),
                    Site::Static(b, _) => Some(json!({"ref": binary_ref(i, b)})),
                    Site::Target => None,
                })
                .collect();
            let detail: Vec<String> = mine
                .iter()
                .map(|f| {
                    let lib = f.library().map(|l| format!(" [{l}]")).unwrap_or_default();
                    format!(
                        "{}{lib}: {}",
                        f.path().unwrap_or(&t.path),
                        f.calloc().map(findings::describe_calloc).unwrap_or_default()
                    )
                })
                .collect();
            Some(json!({
                "bom-ref": format!("t{i}:{FAMILY_ID}"),
                "id": FAMILY_ID,
                "source": {"name": "badalloc-audit"},
                "cwes": [190],
                "description": "calloc multiplies nmemb*size without an overflow test (BadAlloc family, CISA ICSA-21-119-04); not CVE-2021-22156, which concerns QNX only.",
                "recommendation": format!(
                    "Update the C library that provides this calloc (newlib {}, uClibc-ng {}, klibc {} and later test the product) and relink statically linked programs.",
                    NEWLIB.fixed.unwrap_or_default(),
                    UCLIBC.fixed.unwrap_or_default(),
                    KLIBC.fixed.unwrap_or_default()
                ),
                "advisories": [{"title": "CISA ICSA-21-119-04 (BadAlloc)", "url": CVE_2021_22156.cisa_family_url}],
                "analysis": {"state": "exploitable", "detail": detail.join("\n")},
                "affects": refs,
                "properties": [prop("target", t.path.as_str())],
            }))
        })
        .collect()
}
