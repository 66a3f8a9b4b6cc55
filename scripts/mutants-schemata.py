#!/usr/bin/env python3
"""Hand-written mutants (schemata) for what cargo-mutants does not change: verdicts, VEX
states, SARIF levels, exit codes, release boundaries, constants of the overflow-test
recognition. Called by scripts/mutants; each schema is a regular expression that must match
exactly once (else the schema is stale and the run fails) and its replacement.

    scripts/mutants-schemata.py GROUP...     (verdict recognition mapping checksums)

Each mutant is built and tested in a copy of the tree (target/mutants/schemata-src) with the
group's tests; results go to target/mutants/schemata/{caught,missed,unviable,stale}.txt.
"""
import os
import re
import shutil
import subprocess
import sys
import time

V = r'("R{n}: [^\n]*\n(?:[^\n]*\n)*?\s*\)\);\n\s*)Verdict::{frm}'

# group, file, pattern, replacement, what the mutant breaks
SCHEMATA = [
    # ---- the verdict rules and the release comparison
    ("verdict", "crates/audit/src/classify.rs", V.format(n=4, frm="NotAffected"), r"\1Verdict::Patched", "R4 not-affected -> patched"),
    ("verdict", "crates/audit/src/classify.rs", V.format(n=5, frm="Patched"), r"\1Verdict::NotAffected", "R5 patched -> not-affected"),
    ("verdict", "crates/audit/src/classify.rs", V.format(n=6, frm="Inconclusive"), r"\1Verdict::NotAffected", "R6 inconclusive -> not-affected"),
    ("verdict", "crates/audit/src/classify.rs", V.format(n=7, frm="Patched"), r"\1Verdict::Affected", "R7 patched -> affected"),
    ("verdict", "crates/audit/src/classify.rs", V.format(n=8, frm="Affected"), r"\1Verdict::Inconclusive", "R8 affected -> inconclusive"),
    ("verdict", "crates/audit/src/classify.rs", V.format(n=9, frm="NotAffected"), r"\1Verdict::Inconclusive", "R9 not-affected -> inconclusive"),
    ("verdict", "crates/audit/src/classify.rs", V.format(n=10, frm="Inconclusive"), r"\1Verdict::NotAffected", "R10 inconclusive -> not-affected"),
    ("verdict", "crates/audit/src/classify.rs", r"(return Classification \{\n\s*)verdict: Verdict::Inconclusive", r"\1verdict: Verdict::NotQnx", "R0 inconclusive -> not-qnx"),
    ("verdict", "crates/audit/src/classify.rs", r"(\n\s*\}\n\s*return Classification \{\n\s*)verdict: Verdict::NotQnx,", r"\1verdict: Verdict::NotAffected,", "R3 not-qnx -> not-affected"),
    ("verdict", "crates/audit/src/classify.rs", r"(return Classification \{\n\s*)verdict: Verdict::Affected", r"\1verdict: Verdict::Inconclusive", "R1/R2 affected -> inconclusive"),
    ("verdict", "crates/audit/src/classify.rs", r"if !unchecked_libc\.is_empty\(\) \|\| !unchecked_static\.is_empty\(\)", "if !unchecked_libc.is_empty()", "an unchecked static copy no longer makes the target affected"),
    ("verdict", "crates/audit/src/classify.rs", r"let status = if decisive \|\| libc_checked", "let status = if true", "a QNX_info-only release decides alone"),
    ("verdict", "crates/audit/src/classify.rs", r"f\.os\.report\.confidence == Confidence::High", "f.os.report.confidence >= Confidence::Medium", "a medium-confidence release is decisive"),
    ("verdict", "crates/audit/src/classify.rs", r"\(Some\(a\), true\)", "(Some(a), false)", "a series wholly on one side no longer decides"),
    ("verdict", "crates/audit/src/classify.rs", r"if verdict != Verdict::Affected \{\n(\s*)reasons\.extend\(stripped_caveat", r"if false {\n\1reasons.extend(stripped_caveat", "the stripped-program caveat disappears"),
    ("verdict", "crates/audit/src/classify.rs", r"if verdict != Verdict::Affected \{\n(\s*)if let Some\(caveat\)", r"if false {\n\1if let Some(caveat)", "the unknown-copy caveat disappears"),
    ("verdict", "crates/audit/src/classify.rs", r"(plain\.then\(\|\| Classification \{\n\s*)verdict: Verdict::NotQnx,", r"\1verdict: Verdict::NotAffected,", "NOT-FIRMWARE not-qnx -> not-affected"),
    ("verdict", "crates/audit/src/classify.rs", r"c\.verdict = Verdict::Inconclusive;", "c.verdict = c.verdict;", "a damaged image no longer caps the verdict"),
    ("verdict", "crates/audit/src/classify.rs", r"let libc_checked = readable_checked && unreadable\.is_none\(\);", "let libc_checked = readable_checked;", "a C library that could not be read counts as checked"),
    ("verdict", "crates/audit/src/classify.rs", r"(Some\(fl\) => \(\n\s*Some\(ReleaseStatus::Fixed\),\n\s*)true,", r"\1false,", "the programs' ABI lower bound no longer decides"),
    ("verdict", "crates/audit/src/advisory.rs", r"first_fixed_release: Release::new\(6, 6, 0\)", "first_fixed_release: Release::new(6, 5, 0)", "6.5.0 counted as fixed"),
    ("verdict", "crates/audit/src/advisory.rs", r"first_fixed_release: Release::new\(6, 6, 0\)", "first_fixed_release: Release::new(6, 6, 1)", "6.6.0 counted as affected"),
    ("verdict", "crates/audit/src/advisory.rs", r"last_patchable_release: Release::new\(6, 5, 0\)", "last_patchable_release: Release::new(6, 4, 0)", "6.4 counted as patchable, 6.5 as unpatchable"),
    # ---- exit status, SARIF, CycloneDX VEX
    ("mapping", "src/main.rs", r"(any\(Verdict::Inconclusive\) \{\n\s*)3", r"\g<1>0", "inconclusive exits 0"),
    ("mapping", "src/main.rs", r"(any\(Verdict::Affected\) \{\n\s*)1", r"\g<1>3", "affected exits 3"),
    ("mapping", "src/main.rs", r"(\} else \{\n\s*)0(\n\s*\}\n\}\n*)$", r"\g<1>3\2", "a clean scan exits 3"),
    ("mapping", "src/main.rs", r"(any\(Verdict::Error\) \{\n\s*)EXIT_UNREADABLE", r"\g<1>3", "an unreadable PATH exits 3"),
    ("mapping", "crates/report/src/cyclonedx.rs", r'analysis\["state"\] = json!\("in_triage"\)', 'analysis["state"] = json!("not_affected")', "inconclusive VEX state -> not_affected"),
    ("mapping", "crates/report/src/cyclonedx.rs", r'(Verdict::Affected => \{\n\s*)analysis\["state"\] = json!\("exploitable"\)', r'\1analysis["state"] = json!("in_triage")', "affected VEX state -> in_triage"),
    ("mapping", "crates/report/src/cyclonedx.rs", r'analysis\["state"\] = json!\("resolved"\)', 'analysis["state"] = json!("not_affected")', "patched VEX state -> not_affected"),
    ("mapping", "crates/report/src/cyclonedx.rs", r'analysis\["state"\] = json!\("not_affected"\)', 'analysis["state"] = json!("resolved")', "not-affected VEX state -> resolved"),
    ("mapping", "crates/report/src/cyclonedx.rs", r'json!\("code_not_present"\)', 'json!("protected_by_mitigating_control")', "not-affected justification"),
    ("mapping", "crates/report/src/sarif.rs", r'\(RULE_CVE, 0, "error"\)', '(RULE_CVE, 0, "warning")', "CVE results at level warning"),
    ("mapping", "crates/report/src/sarif.rs", r'\(RULE_INCONCLUSIVE, 1, "warning"\)', '(RULE_CVE, 0, "warning")', "inconclusive results under the CVE rule"),
    ("mapping", "crates/report/src/sarif.rs", r'\(RULE_INCONCLUSIVE, 1, "warning"\)', '(RULE_INCONCLUSIVE, 1, "note")', "inconclusive results at level note"),
    ("mapping", "crates/report/src/sarif.rs", r'\(RULE_FAMILY, 2, "warning"\)', '(RULE_FAMILY, 2, "note")', "family results at level note"),
    ("mapping", "crates/audit/src/report_model/findings.rs", r"Verdict::Inconclusive => push\(&mut out, FindingKind::Inconclusive, Site::Target\),", "Verdict::Inconclusive => {}", "no finding for an inconclusive target"),
    ("mapping", "crates/report/src/text.rs", r'Verdict::Inconclusive => "INCONCLUSIVE: the evidence does not decide"', 'Verdict::Inconclusive => "NOT AFFECTED"', "inconclusive headline reads as an all-clear"),
    # ---- the recognition of overflow tests
    ("recognition", "crates/calloc/src/dataflow.rs", r"v\.exactly\(NORS\)\n(\s*)\.then_some\(\(side, \"both factors", r'true\n\1.then_some((side, "both factors', "any value below a small constant is the half-word test (the issue's mutant)"),
    ("recognition", "crates/calloc/src/dataflow.rs", r"let lim = 1u64 << ctx\.half\(\);", "let lim = 2u64 << ctx.half();", "the half-word limit one bit too high"),
    ("recognition", "crates/calloc/src/dataflow.rs", r"Cond::Ult if k <= lim => true,", "Cond::Ult | Cond::Slt if k <= lim => true,", "a signed compare counts as the half-word test"),
    ("recognition", "crates/calloc/src/dataflow.rs", r"\(small \| t == N \| S\)\.then_some", "(small | t != 0).then_some", "one factor bounded counts as both"),
    ("recognition", "crates/calloc/src/dataflow.rs", r'Cond::Ovf \| Cond::Ult => Some\(\(false, "overflow flag', 'Cond::Ovf | Cond::Ult => Some((true, "overflow flag', "the overflow side of jo taken as safe"),
    ("recognition", "crates/calloc/src/dataflow.rs", r"\(q\.exactly\(QPN\) && o\.exactly\(S\)\) \|\| \(q\.exactly\(QPS\) && o\.exactly\(N\)\)", "(q.exactly(QPN) && o.exactly(S)) || (q.exactly(QPS) && o.may & (N | S) != 0)", "product/size compared with any factor"),
    ("recognition", "crates/calloc/src/dataflow.rs", r"\(q\.exactly\(QMN\) && o\.exactly\(S\)\) \|\| \(q\.exactly\(QMS\) && o\.exactly\(N\)\)", "(q.exactly(QMN) && o.may & (N | S) != 0) || (q.exactly(QMS) && o.exactly(N))", "SIZE_MAX/n compared with any factor"),
    ("recognition", "crates/calloc/src/dataflow.rs", r"Cond::Ult \| Cond::Ule \| Cond::Eq => Some\(\(true, why\)\),", "Cond::Ult | Cond::Ule | Cond::Eq | Cond::Slt => Some((true, why)),", "a signed compare with SIZE_MAX/n counts"),
    ("recognition", "crates/calloc/src/dataflow.rs", r"\.any\(\|t\| other\.exactly\(\*t\)\)", ".any(|t| other.may & *t != 0)", "a value that only may be an overflow test keeps that meaning"),
    # ---- container checksums
    ("checksums", "crates/formats/src/ifs.rs", r"sum = sum\.wrapping_add\(u32::from_le_bytes\(\[c\[0\], c\[1\], c\[2\], c\[3\]\]\)\);", "sum = sum.wrapping_add(u32::from_le_bytes([c[1], c[0], c[2], c[3]]));", "little-endian IFS words summed with two bytes swapped"),
    ("checksums", "crates/formats/src/ifs.rs", r"sum = sum\.wrapping_add\(u32::from_be_bytes\(\[c\[0\], c\[1\], c\[2\], c\[3\]\]\)\);", "sum = sum.wrapping_add(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));", "big-endian IFS words summed little-endian"),
    ("checksums", "crates/formats/src/tar.rs", r"i64::from\(b as i8\)", "i64::from(b)", "the signed-char tar checksum of old tars"),
]

# Per group: the test packages (the mutated crate and the root package, whose tests/ judge
# it), the test targets, the arguments to the test binaries. As in scripts/mutants.
GROUPS = {
    "verdict": (["-p", "badalloc-audit-core", "-p", "badalloc-audit", "--lib", "--test=verdict_rules", "--test=verdict_trees"], []),
    "mapping": (["-p", "badalloc-audit", "--test=report_formats", "--test=verdict_trees"], []),
    "recognition": (["-p", "badalloc-calloc", "-p", "badalloc-audit", "--lib", "--test=calloc_fixtures", "--test=calloc_corpus"], []),
    "checksums": (["-p", "badalloc-formats", "-p", "badalloc-audit", "--lib", "--test=container_tar", "--test=container_ifs", "--test=container_carve"], ["--skip", "ucl::tests"]),
}


def sh(cmd, cwd, timeout):
    try:
        r = subprocess.run(cmd, cwd=cwd, timeout=timeout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        return r.returncode, r.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return None, "timeout"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    groups = sys.argv[1:] or list(GROUPS)
    src = os.path.join(root, "target/mutants/schemata-src")
    out = os.path.join(root, "target/mutants/schemata")
    os.makedirs(out, exist_ok=True)
    if os.path.isdir(src):
        shutil.rmtree(src)
    top = {"target", ".git"}
    shutil.copytree(root, src, symlinks=True,
                    ignore=lambda d, names: [n for n in names if d == root and n in top])
    results = {k: [] for k in ("caught", "missed", "unviable", "stale")}
    for group in groups:
        targets, test_args = GROUPS[group]
        for g, rel, pat, rep, what in SCHEMATA:
            if g != group:
                continue
            path = os.path.join(src, rel)
            with open(os.path.join(root, rel)) as f:
                orig = f.read()
            new, n = re.subn(pat, rep, orig)
            name = f"{rel}: {what}"
            if n != 1:
                results["stale"].append(f"{name} ({n} matches)")
                print(f"STALE    {name} ({n} matches)", flush=True)
                continue
            with open(path, "w") as f:
                f.write(new)
            t0 = time.time()
            try:
                rc, log = sh(["cargo", "test", "--no-run", *targets], src, 900)
                if rc != 0:
                    kind = "unviable"
                else:
                    rc, log = sh(["cargo", "test", *targets, "--", *test_args], src, 900)
                    kind = "missed" if rc == 0 else "caught"
            finally:
                with open(path, "w") as f:
                    f.write(orig)
            results[kind].append(name)
            print(f"{kind.upper():<8} {name} ({time.time() - t0:.0f} s)", flush=True)
    for k, v in results.items():
        with open(os.path.join(out, f"{k}.txt"), "w") as f:
            f.write("".join(x + "\n" for x in v))
    print("SUMMARY schemata " + " ".join(groups) + ": "
          + ", ".join(f"{k} {len(v)}" for k, v in results.items()))
    return 1 if results["stale"] else 0


if __name__ == "__main__":
    sys.exit(main())
