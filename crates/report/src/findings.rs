//! The findings that the machine-readable formats (SARIF, CycloneDX) report, drawn from a
//! [`Report`](crate::Report) in one place so that both formats count the same things.
//!
//! A finding is one unchecked calloc (a C library's or a static copy), or one target whose
//! verdict the code alone does not explain (affected by release only, or inconclusive).

use crate::{BinaryReport, CallocReport, CallocVerdict, LibcReport, TargetReport, Verdict};
use badalloc_audit_core::advisory::{recognise_library, FamilyLibrary};
use badalloc_audit_core::model::Family;
use badalloc_audit_core::rules::Rule;

impl TargetReport {
    /// The rules that fired, in the order of the reasons: each reason opens with its
    /// rule's id (the JSON contract), read back through the rule table.
    pub fn fired_rules(&self) -> impl Iterator<Item = Rule> + '_ {
        self.reasons.iter().filter_map(|r| Rule::of_reason(r))
    }

    /// Whether the rule fired for this target.
    pub fn fired(&self, rule: Rule) -> bool {
        self.fired_rules().any(|r| r == rule)
    }
}

/// Which rule a finding falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// CVE-2021-22156: unchecked calloc in a QNX target (classification rules R1, R2).
    Cve,
    /// CVE-2021-22156 decided by the release alone (R8): no unchecked code was seen.
    /// (An affected verdict without an unchecked copy of QNX's, whatever rule gave it.)
    CveByRelease,
    /// The target cannot be decided (R0, R6, R10): never to be read as safe.
    Inconclusive,
    /// Unchecked calloc outside QNX's C library: a BadAlloc-family flaw, not the QNX CVE.
    Family,
}

/// Where the unchecked calloc lives.
#[derive(Debug, Clone, Copy)]
pub enum Site<'a> {
    Libc(&'a LibcReport),
    Static(&'a BinaryReport, &'a CallocReport),
    /// The target as a whole (no single file carries the finding).
    Target,
}

#[derive(Debug, Clone)]
pub struct Finding<'a> {
    pub kind: FindingKind,
    pub target_index: usize,
    pub target: &'a TargetReport,
    pub site: Site<'a>,
}

impl<'a> Finding<'a> {
    /// Path inside the target of the file that carries the finding, if one does.
    pub fn path(&self) -> Option<&'a str> {
        match self.site {
            Site::Libc(l) => Some(&l.path),
            Site::Static(b, _) => Some(&b.path),
            Site::Target => None,
        }
    }

    pub fn calloc(&self) -> Option<&'a CallocReport> {
        match self.site {
            Site::Libc(l) => Some(&l.calloc),
            Site::Static(_, c) => Some(c),
            Site::Target => None,
        }
    }

    pub fn arch(&self) -> Option<&'a str> {
        match self.site {
            Site::Libc(l) => Some(&l.arch),
            Site::Static(b, _) => Some(&b.arch),
            Site::Target => self.target.libc.first().map(|l| l.arch.as_str()),
        }
    }

    /// A C library that the family rule can name, when the file says which one it is.
    pub fn library(&self) -> Option<&'static FamilyLibrary> {
        match self.site {
            Site::Libc(l) => recognise_library(&l.path, l.soname.as_deref(), &l.calloc.chain),
            Site::Static(b, c) => recognise_library(&b.path, None, &c.chain),
            Site::Target => None,
        }
    }
}

/// The release as the report knows it: exact, else the range, else none.
pub fn release_of(t: &TargetReport) -> Option<&str> {
    t.os.release.as_deref().or(t.os.release_range.as_deref())
}

pub fn is_qnx(t: &TargetReport) -> bool {
    t.os.family.as_deref().and_then(Family::from_name) == Some(Family::Qnx)
}

/// Every finding of every target, in report order (targets, then C libraries, then binaries).
pub fn findings<'a>(targets: &'a [TargetReport]) -> Vec<Finding<'a>> {
    let mut out = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let before = out.len();
        let qnx = is_qnx(t) && t.verdict != Verdict::NotQnx;
        let push = |out: &mut Vec<Finding<'a>>, kind, site: Site<'a>| {
            out.push(Finding {
                kind,
                target_index: i,
                target: t,
                site,
            })
        };
        for l in &t.libc {
            if l.calloc.verdict == CallocVerdict::Unchecked {
                // R1 counts only QNX's own C library; another libc in a QNX tree is family.
                let kind = if qnx && l.qnx {
                    FindingKind::Cve
                } else {
                    FindingKind::Family
                };
                push(&mut out, kind, Site::Libc(l));
            }
        }
        for b in &t.binaries {
            if let Some(c) = b
                .static_calloc
                .as_ref()
                .filter(|c| c.verdict == CallocVerdict::Unchecked)
            {
                // R2 counts every static copy in a QNX target.
                let kind = if qnx {
                    FindingKind::Cve
                } else {
                    FindingKind::Family
                };
                push(&mut out, kind, Site::Static(b, c));
            }
        }
        let has_cve = out[before..].iter().any(|f| f.kind == FindingKind::Cve);
        match t.verdict {
            Verdict::Affected if !has_cve => {
                push(&mut out, FindingKind::CveByRelease, Site::Target);
            }
            Verdict::Inconclusive => push(&mut out, FindingKind::Inconclusive, Site::Target),
            _ => {}
        }
    }
    out
}

/// One line that names the evidence of a calloc: the reason, the chain, the address.
pub fn describe_calloc(c: &CallocReport) -> String {
    let mut s = c.reason.clone();
    if !c.chain.is_empty() {
        s.push_str(&format!(" (chain: {})", c.chain.join(" -> ")));
    }
    if let Some(a) = &c.address {
        s.push_str(&format!(" [calloc at {a}]"));
    }
    s
}
