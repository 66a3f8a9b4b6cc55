//! Attack surface: which binaries of an exposed (or undecided) target matter most, and what
//! to do until the patch ships.
//!
//! Exploitation needs control of calloc's arguments, reached through an exposed service
//! (BlackBerry, CISA). So a binary ranks higher the more of these hold: it reaches an
//! unchecked calloc (imports it from the affected C library, or carries its own copy); it is
//! network-facing (imports the socket API); it is started at boot (named in the IFS boot
//! script or an rc/sysinit script); it is one of the services BlackBerry's advisory names.
//!
//! False positives: a program named in a startup script but started only on a condition;
//! a socket import used only for local IPC. False negatives: programs started by other
//! programs (not by a script), services started from scripts we do not recognise.

use std::collections::{BTreeMap, HashMap};

use crate::advisory::{release_status, ReleaseStatus, CVE_2021_22156, MEDICAL_PATCH, SDP_PATCH};
pub use crate::model::{CallocReach, Exposure};
use crate::model::{CallocVerdict, Os, Target, Verdict};
use crate::release::Release;

/// Text files read as startup scripts (path suffixes, case-sensitive, as on QNX).
pub fn is_startup_script(path: &str) -> bool {
    let p = path.rsplit("!/").next().unwrap_or(path);
    let p = p.trim_start_matches('/');
    p.starts_with("etc/rc.d/")
        || p == "etc/rc.local"
        || p.starts_with("etc/system/sysinit")
        || p == "etc/inetd.conf"
        || p.starts_with("etc/system/config/") && p.ends_with(".sh")
        || p.starts_with("etc/init.d/")
}

/// Largest script read: startup scripts are a few KiB.
pub const MAX_SCRIPT_BYTES: usize = 256 * 1024;

/// Program names a startup script starts, with the line they appear on.
pub fn programs_started(script_path: &str, text: &str) -> Vec<String> {
    let inetd = script_path.ends_with("inetd.conf");
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // IFS scripts prefix options: "[ priority=25r ] /proc/boot/ksh ...".
        let line = match line.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or("", |(_, cmd)| cmd.trim()),
            None => line,
        };
        let mut words = line.split_whitespace();
        let prog = if inetd {
            // service socket-type protocol wait user server [args]
            words.nth(5)
        } else {
            words.find(|w| {
                !w.contains('=')
                    && !matches!(
                        *w,
                        "exec" | "nice" | "nohup" | "on" | "-d" | "sudo" | "if" | "then"
                    )
            })
        };
        if let Some(p) = prog {
            let base = p
                .rsplit('/')
                .next()
                .unwrap_or(p)
                .trim_end_matches(['&', ';']);
            if !base.is_empty()
                && base
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
            {
                out.push(base.to_string());
            }
        }
    }
    out
}

/// Rank the binaries of a target. `started`: program base name → script that starts it.
pub fn rank<'a>(t: &'a Target, started: &BTreeMap<String, String>) -> Vec<Exposure> {
    // The calloc of each QNX C library by SONAME: unchecked if any copy is, else the first
    // copy's verdict. Built once (a fleet has hundreds of C libraries and thousands of
    // programs that import calloc).
    let mut libc_states: HashMap<&str, CallocVerdict> = HashMap::new();
    for l in t.libc.iter().filter(|l| l.qnx) {
        let name = l.soname.as_deref().unwrap_or("");
        let state = libc_states.entry(name).or_insert(l.calloc.verdict);
        if l.calloc.verdict == CallocVerdict::Unchecked {
            *state = CallocVerdict::Unchecked;
        }
    }
    let libc_state = |name: &str| libc_states.get(name).copied();
    // Files with the same bytes as a binary (`same_content`) are that binary under other
    // names: started or named under any of them counts.
    let mut other_names: BTreeMap<&'a str, Vec<&'a str>> = BTreeMap::new();
    for s in t.images.iter().flat_map(|i| &i.same_content) {
        other_names.entry(&s.same_as).or_default().push(&s.path);
    }
    let base_name = |p: &'a str| p.rsplit(['/', '!']).next().unwrap_or(p);
    let mut out: Vec<Exposure> = t
        .binaries
        .iter()
        .filter_map(|b| {
            let base = base_name(&b.path);
            let names: Vec<&str> = std::iter::once(base)
                .chain(
                    other_names
                        .get(b.path.as_str())
                        .into_iter()
                        .flatten()
                        .map(|p| base_name(p)),
                )
                .collect();
            let reach = match (&b.static_calloc, b.imports_calloc) {
                (Some(c), _) if c.verdict == CallocVerdict::Unchecked => {
                    Some(CallocReach::StaticCopyUnchecked)
                }
                (_, true) => match b.libc.as_deref().and_then(libc_state) {
                    Some(CallocVerdict::Unchecked) => Some(CallocReach::ImportsUnchecked),
                    Some(CallocVerdict::Checked) => None,
                    _ if b.qnx => Some(CallocReach::ImportsUnverified),
                    _ => None,
                },
                _ => None,
            };
            let started_by = names.iter().find_map(|&n| started.get(n)).cloned();
            let named_service = names.iter().any(|n| CVE_2021_22156.names_service(n));
            let score = u8::from(reach.is_some())
                + u8::from(b.network)
                + u8::from(started_by.is_some())
                + u8::from(named_service);
            (reach.is_some() || (b.network && b.qnx)).then(|| Exposure {
                path: b.path.clone(),
                score,
                reach,
                network: b.network,
                started_by,
                named_service,
            })
        })
        .collect();
    out.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.path.cmp(&b.path)));
    out
}

/// Concrete steps for an affected or inconclusive target.
pub fn mitigations(t: &Target, exposure: &[Exposure]) -> Vec<String> {
    let mut m = Vec::new();
    match t.verdict {
        Verdict::Affected => m.push(patch_advice(&t.os)),
        Verdict::Inconclusive => m.push(
            "Decide first: obtain the kernel (procnto) and the C library of this device, or its boot image, and scan them; \
             until then treat the device as affected."
                .to_string(),
        ),
        _ => return m,
    }
    let services: Vec<String> = exposure
        .iter()
        .filter(|e| e.network && (e.started_by.is_some() || e.named_service))
        .map(|e| match &e.started_by {
            Some(s) => format!("{} (started by {s})", e.path),
            None => e.path.clone(),
        })
        .collect();
    if !services.is_empty() {
        m.push(format!(
            "Until patched, stop or firewall these network services, allowing only the ports and protocols the device's \
             applications need: {}.",
            name_some(&services)
        ));
    }
    let relink: Vec<String> = exposure
        .iter()
        .filter(|e| e.reach == Some(CallocReach::StaticCopyUnchecked))
        .map(|e| e.path.clone())
        .collect();
    if !relink.is_empty() {
        m.push(format!(
            "After patching the C library, relink these statically linked programs (they keep their own calloc): {}.",
            name_some(&relink)
        ));
    }
    // Only when there is an exposed service to watch.
    if !services.is_empty() {
        m.push(
            "Watch the exposed services more closely until the fix is deployed (CISA AA21-229A)."
                .to_string(),
        );
    }
    m
}

/// The release, or the bounds of its series ("6.1-6.3", "7.0 or later"), as known.
fn release_bounds(release: Option<&str>, range: Option<&str>) -> Option<(Release, Release)> {
    if let Some(r) = release.and_then(Release::parse) {
        return Some((r, r));
    }
    let range = range?;
    let series = |s: &str| -> Option<(u16, u16)> {
        let (major, minor) = s.trim().split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    };
    let first = range.split_whitespace().next()?;
    let (lo, hi) = first.split_once('-').unwrap_or((first, first));
    let (lo, hi) = (series(lo)?, series(hi)?);
    let hi = if range.contains("or later") {
        Release::new(u16::MAX, u16::MAX, u16::MAX)
    } else {
        Release::new(hi.0, hi.1, u16::MAX)
    };
    Some((Release::new(lo.0, lo.1, 0), hi))
}

/// Where the release (or every release of its series) stands against the advisory; None
/// when it is unknown or the series spans the fix.
pub fn patch_status(os: &Os) -> Option<ReleaseStatus> {
    patch_status_of(os.release.as_deref(), os.release_range.as_deref())
}

/// [`patch_status`] of an exact release or a release series (as a report gives them).
pub fn patch_status_of(release: Option<&str>, range: Option<&str>) -> Option<ReleaseStatus> {
    release_bounds(release, range).and_then(|(lo, hi)| {
        let (a, b) = (release_status(lo), release_status(hi));
        (a == b).then_some(a)
    })
}

/// What to patch, for the release the evidence gives: no vendor patch exists before 6.5.0;
/// 6.5.0 SP1 has patch 4844, OS for Medical 1.0/1.1 patch 4846; from 6.6.0 on the stock C
/// library is fixed, so unchecked code there is a custom or downgraded build.
pub fn patch_advice(os: &Os) -> String {
    let status = patch_status(os);
    let release = os
        .release
        .clone()
        .or_else(|| os.release_range.clone())
        .unwrap_or_default();
    let (sdp, medical, adv) = (&SDP_PATCH, &MEDICAL_PATCH, &CVE_2021_22156);
    let fixed = adv.first_fixed_release;
    match status {
        Some(ReleaseStatus::AffectedNoPatch) => format!(
            "Patch: no vendor patch exists for QNX {release} (patches {} and {} exist only for {} {} and \
             {} {}): move to SDP {fixed} or later, or port the fix (test nmemb*size for overflow \
             before allocating) to this build's C library and rebuild.",
            sdp.number, medical.number, sdp.product, sdp.releases, medical.product, medical.releases
        ),
        Some(ReleaseStatus::Patchable) => format!(
            "Patch: QNX {release}: on {} {} apply patch {}, on QNX {} {} patch {}; \
             or move to SDP {fixed} or later ({}); for a custom build, port the fix to its \
             C library and rebuild.",
            sdp.product, sdp.releases, sdp.number, medical.product, medical.releases, medical.number,
            adv.fixed_products
        ),
        Some(ReleaseStatus::Fixed) => format!(
            "Patch: QNX {release} ships a fixed calloc, yet this device's code has none: a custom or downgraded \
             C library. Replace it with the vendor's, or port the fix to it and rebuild."
        ),
        None => format!(
            "Patch, by release (find it first: scan the kernel, procnto): before 6.5.0 no vendor patch \
             exists (move to SDP {fixed} or later, or port the fix to a custom build); {} {}: patch {}; \
             QNX {} {}: patch {}; SDP {fixed} and later, {} \
             ship the fix.",
            sdp.product, sdp.releases, sdp.number, medical.product, medical.releases, medical.number,
            adv.fixed_products.replace(", ", " and ")
        ),
    }
}

/// Programs a mitigation names before "and N more": a tree of many copies would make one
/// step thousands of names long (the exposure list has every one).
pub const MAX_NAMED_IN_MITIGATION: usize = 12;

/// "a, b, c", or the first [`MAX_NAMED_IN_MITIGATION`] and how many more.
fn name_some(names: &[String]) -> String {
    let shown = names[..names.len().min(MAX_NAMED_IN_MITIGATION)].join(", ");
    if names.len() > MAX_NAMED_IN_MITIGATION {
        format!(
            "{shown} and {} more (all listed under exposure)",
            names.len() - MAX_NAMED_IN_MITIGATION
        )
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{calloc, directory, static_program};
    use crate::model::Binary;

    fn os(release: Option<&str>, range: Option<&str>) -> Os {
        Os {
            family: Some(crate::model::Family::Qnx),
            release: release.map(String::from),
            release_range: range.map(String::from),
            ..Os::default()
        }
    }

    #[test]
    fn patch_advice_fits_the_release() {
        for (release, range, says, never) in [
            (
                Some("6.4.1"),
                None,
                "no vendor patch exists for QNX 6.4.1",
                "apply patch",
            ),
            (
                Some("6.3.2"),
                None,
                "move to SDP 6.6.0 or later, or port the fix",
                "apply patch",
            ),
            (
                None,
                Some("6.1-6.3"),
                "no vendor patch exists for QNX 6.1-6.3",
                "apply patch",
            ),
            (
                None,
                Some("6.0"),
                "no vendor patch exists for QNX 6.0",
                "apply patch",
            ),
            (
                Some("6.5.0"),
                None,
                "on SDP 6.5.0 SP1 apply patch 4844",
                "no vendor patch",
            ),
            (
                Some("6.5.0"),
                None,
                "on QNX OS for Medical 1.0/1.1 patch 4846",
                "no vendor patch",
            ),
            (Some("6.6.0"), None, "a custom or downgraded", "apply patch"),
            (
                Some("7.1.0"),
                None,
                "QNX 7.1.0 ships a fixed calloc",
                "apply patch",
            ),
            (
                None,
                Some("7.0 or later"),
                "QNX 7.0 or later ships a fixed calloc",
                "apply patch",
            ),
            (
                None,
                Some("6.4-6.6"),
                "Patch, by release",
                "ships a fixed calloc, yet",
            ),
            (
                None,
                None,
                "before 6.5.0 no vendor patch exists",
                "this build's",
            ),
        ] {
            let a = patch_advice(&os(release, range));
            assert!(a.contains(says), "{release:?} {range:?}: {a}");
            assert!(!a.contains(never), "{release:?} {range:?}: {a}");
        }
    }

    #[test]
    fn programs_from_rc_ifs_and_inetd_scripts() {
        let rc = "#!/bin/sh\n# comment\ndevc-ser8250 -e &\n/usr/sbin/telnetd -p 23 &\nPATH=/bin exec /usr/sbin/qconn port=8000\n";
        assert_eq!(
            programs_started("etc/rc.d/rc.local", rc),
            ["devc-ser8250", "telnetd", "qconn"]
        );
        let ifs = "[ priority=25r ] /proc/boot/ksh /proc/boot/.early &\nio-net -dne2000 -ptcpip\ndisplay_msg 'hi'\n";
        assert_eq!(
            programs_started("boot", ifs),
            ["ksh", "io-net", "display_msg"]
        );
        let inetd = "ftp stream tcp nowait root /usr/sbin/ftpd in.ftpd -l\n";
        assert_eq!(programs_started("etc/inetd.conf", inetd), ["ftpd"]);
    }

    #[test]
    fn startup_script_paths() {
        assert!(is_startup_script("etc/rc.d/rc.local"));
        assert!(is_startup_script("fw.tar!/etc/system/sysinit"));
        assert!(!is_startup_script("usr/share/doc/rc.local"));
    }

    /// A started network service with its own unchecked calloc: every point, the advisory's
    /// name, a relink step decided on the reach (not on its wire name), and the report's names.
    #[test]
    fn rank_and_mitigations_on_an_exposed_static_service() {
        let mut t = directory("fw", Verdict::Affected);
        t.os = Os {
            family: Some(crate::model::Family::Qnx),
            release: Some("6.5.0".into()),
            confidence: crate::model::Confidence::High,
            ..Os::default()
        };
        t.binaries = vec![Binary {
            static_calloc: Some(calloc("unchecked", "0x10", "r")),
            network: true,
            network_imports: vec!["socket".into()],
            ..static_program("usr/sbin/qconn", true)
        }];
        t.stats.files = 1;
        t.stats.elf_files = 1;
        let started = BTreeMap::from([("qconn".to_string(), "etc/rc.d/rc.local".to_string())]);
        let ranked = rank(&t, &started);
        assert_eq!(ranked.len(), 1);
        let e = &ranked[0];
        assert_eq!(e.score, 4);
        assert_eq!(e.reach, Some(CallocReach::StaticCopyUnchecked));
        assert!(e.named_service);
        let m = mitigations(&t, &ranked);
        assert!(m[0].contains("patch 4844"), "{m:?}");
        assert!(
            m.iter()
                .any(|s| s.contains("relink") && s.contains("usr/sbin/qconn")),
            "{m:?}"
        );
        assert_eq!(
            e.reach.map(CallocReach::as_str),
            Some("static-copy-unchecked")
        );
        assert_eq!(e.started_by.as_deref(), Some("etc/rc.d/rc.local"));
    }
}
