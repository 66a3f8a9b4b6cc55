//! CVE-2021-22156 as data: products, affected and fixed ranges, patches, the releases that
//! fix it, the services it names, its URLs and sources. Classification, the attack surface
//! and every renderer read these from here; none restates a patch number, a release or a URL.
//!
//! Kept apart from the code that applies it (`classify`), as cargo-audit keeps advisories
//! apart from its scanner. The ranges are the vendor's, not NVD's: NVD's CPE configuration
//! lists `qnx_os_for_medical <= 1.1.1` and `qnx_os_for_safety <= 1.0.2`, versions BlackBerry
//! names as fixed.

use crate::release::Release;

pub struct Advisory {
    pub id: &'static str,
    pub aliases: &'static [&'static str],
    pub title: &'static str,
    pub cwe: &'static str,
    pub cvss_cna: &'static str,
    pub published: &'static str,
    pub products: &'static [ProductRange],
    /// Neutrino kernel releases from which every stock C library is fixed (SDP 6.6.0 on).
    pub first_fixed_release: Release,
    /// The last release for which a patch exists (6.5.0 SP1, patch 4844); older releases
    /// have no patch, so a stock build of them is affected whatever else is known.
    pub last_patchable_release: Release,
    /// The vendor's patches for releases before the fix, SDP's first.
    pub patches: &'static [Patch],
    /// Products fixed by a release of their own rather than by a patch, for the remedy.
    pub fixed_products: &'static str,
    /// Services the vendor's advisory names as ways in (the exposure score counts them).
    pub named_services: &'static [&'static str],
    /// Where a reader goes for the record (NVD), the alert (CISA) and the family (CISA ICSA).
    pub nvd_url: &'static str,
    pub cisa_alert_url: &'static str,
    pub cisa_family_url: &'static str,
    /// NVD's CPE name of the affected product (the SDP), without its version.
    pub sdp_cpe_prefix: &'static str,
    pub sources: &'static [&'static str],
    /// Version of this table; bump when a range or source changes.
    pub data_version: u32,
}

pub struct ProductRange {
    pub product: &'static str,
    pub affected: &'static str,
    pub fixed: &'static str,
    pub patch: Option<&'static Patch>,
}

/// A vendor patch: its number, the product and the releases it applies to.
pub struct Patch {
    pub number: &'static str,
    /// The product as the remedy names it ("SDP", "OS for Medical").
    pub product: &'static str,
    /// The product in a few words ("SDP", "Medical").
    pub product_short: &'static str,
    /// The releases of the product it applies to ("6.5.0 SP1", "1.0/1.1").
    pub releases: &'static str,
}

pub const SDP_PATCH: Patch = Patch {
    number: "4844",
    product: "SDP",
    product_short: "SDP",
    releases: "6.5.0 SP1",
};

pub const MEDICAL_PATCH: Patch = Patch {
    number: "4846",
    product: "OS for Medical",
    product_short: "Medical",
    releases: "1.0/1.1",
};

pub const CVE_2021_22156: Advisory = Advisory {
    id: "CVE-2021-22156",
    aliases: &[
        "QNX-2021-001",
        "BadAlloc",
        "ICSA-21-119-04 (family)",
        "AA21-229A",
    ],
    title: "Integer overflow in calloc() of the QNX C runtime library",
    cwe: "CWE-190",
    cvss_cna: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:H/A:H (9.0)",
    published: "2021-08-17",
    products: &[
        ProductRange {
            product: "QNX Software Development Platform (SDP)",
            affected: "6.5.0 SP1 and earlier",
            fixed: "6.5.0 SP1 with patch 4844; 6.6.0 and later (all 7.x, 8.x)",
            patch: Some(&SDP_PATCH),
        },
        ProductRange {
            product: "QNX OS for Medical",
            affected: "1.1 and earlier",
            fixed: "1.0/1.1 with patch 4846; 1.1.1",
            patch: Some(&MEDICAL_PATCH),
        },
        ProductRange {
            product: "QNX OS for Safety",
            affected: "1.0.1 and earlier",
            fixed: "1.0.2",
            patch: None,
        },
    ],
    first_fixed_release: Release::new(6, 6, 0),
    last_patchable_release: Release::new(6, 5, 0),
    patches: &[SDP_PATCH, MEDICAL_PATCH],
    fixed_products: "Medical 1.1.1, Safety 1.0.2",
    named_services: &["telnetd", "ftpd", "qconn", "tftpd", "inetd"],
    nvd_url: "https://nvd.nist.gov/vuln/detail/CVE-2021-22156",
    cisa_alert_url: "https://www.cisa.gov/news-events/cybersecurity-advisories/aa21-229a",
    cisa_family_url: "https://www.cisa.gov/news-events/ics-advisories/icsa-21-119-04",
    sdp_cpe_prefix: "cpe:2.3:a:blackberry:qnx_software_development_platform",
    sources: &[
        "BlackBerry QNX advisory QNX-2021-001 (2021-08-17)",
        "CVE record CVE-2021-22156 (CVEProject/cvelistV5)",
        "CISA alert AA21-229A",
        "MHLW notice of 2021-08-23",
    ],
    data_version: 1,
};

impl Advisory {
    /// The patch numbers as a reason names them: "4844 or 4846".
    pub fn patch_numbers(&self) -> String {
        self.patches
            .iter()
            .map(|p| p.number)
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// The services the advisory names, as a list in prose: "telnetd, ftpd, ...".
    pub fn named_services_list(&self) -> String {
        self.named_services.join(", ")
    }

    /// Whether a program name is one of the services the advisory names.
    pub fn names_service(&self, program: &str) -> bool {
        self.named_services.contains(&program)
    }
}

/// A C library that the BadAlloc-family rule can name, with what is known of its calloc
/// (BlackBerry's and CISA's family advisory, the libraries' own records).
#[derive(Debug, PartialEq, Eq)]
pub struct FamilyLibrary {
    pub name: &'static str,
    /// The last release whose calloc has no overflow test, where the record names one.
    pub last_unchecked: Option<&'static str>,
    pub cve: Option<&'static str>,
    /// The first release with the test.
    pub fixed: Option<&'static str>,
}

pub const NEWLIB: FamilyLibrary = FamilyLibrary {
    name: "newlib",
    last_unchecked: Some("3.3.0"),
    cve: None,
    fixed: Some("4.0.0"),
};

pub const UCLIBC: FamilyLibrary = FamilyLibrary {
    name: "uClibc / uClibc-ng",
    last_unchecked: None,
    cve: Some("CVE-2021-27419"),
    fixed: Some("1.0.37"),
};

pub const KLIBC: FamilyLibrary = FamilyLibrary {
    name: "klibc",
    last_unchecked: None,
    cve: Some("CVE-2021-31870"),
    fixed: Some("2.0.9"),
};

/// Checked C libraries, named so a reader knows which one it is.
pub const MUSL: FamilyLibrary = FamilyLibrary {
    name: "musl",
    last_unchecked: None,
    cve: None,
    fixed: None,
};

pub const GLIBC: FamilyLibrary = FamilyLibrary {
    name: "glibc",
    last_unchecked: None,
    cve: None,
    fixed: None,
};

/// "newlib (calloc unchecked up to 3.3.0, fixed in 4.0.0)", "musl".
impl std::fmt::Display for FamilyLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            self.last_unchecked
                .map(|v| format!("calloc unchecked up to {v}")),
            self.cve.map(str::to_string),
            self.fixed.map(|v| format!("fixed in {v}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{} ({})", self.name, parts.join(", "))
        }
    }
}

/// Where a Neutrino release stands against the advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseStatus {
    /// 6.6.0 and later: the stock C library is fixed.
    Fixed,
    /// 6.5.0 (SP1): affected unless patch 4844/4846 is applied; only the code tells.
    Patchable,
    /// Before 6.5.0: affected, and no vendor patch exists.
    AffectedNoPatch,
}

pub fn release_status(release: Release) -> ReleaseStatus {
    let adv = &CVE_2021_22156;
    if release >= adv.first_fixed_release {
        ReleaseStatus::Fixed
    } else if release.major == adv.last_patchable_release.major
        && release.minor == adv.last_patchable_release.minor
    {
        ReleaseStatus::Patchable
    } else {
        ReleaseStatus::AffectedNoPatch
    }
}

/// Names the C library a calloc comes from, from file names and the call chain. Only the
/// libraries with a BadAlloc history (docs/shared facts) and the common checked ones.
pub fn recognise_library(
    path: &str,
    soname: Option<&str>,
    chain: &[String],
) -> Option<&'static FamilyLibrary> {
    let name = path.rsplit(['/', '!']).next().unwrap_or(path);
    let soname = soname.unwrap_or("");
    let has = |s: &str| name.contains(s) || soname.contains(s);
    if chain.iter().any(|f| f == "_calloc_r" || f == "_malloc_r") {
        Some(&NEWLIB)
    } else if has("uClibc") || soname == "libc.so.0" || name == "libc.so.0" {
        Some(&UCLIBC)
    } else if has("klibc") {
        Some(&KLIBC)
    } else if has("musl") {
        Some(&MUSL)
    } else if soname == "libc.so.6" || name.starts_with("libc-2.") {
        Some(&GLIBC)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_libraries() {
        let chain = vec!["calloc".to_string(), "_calloc_r".to_string()];
        assert!(recognise_library("bin/fw", None, &chain).is_some_and(|l| l.name == "newlib"));
        assert!(recognise_library("lib/libuClibc-1.0.30.so", None, &[])
            .is_some_and(|l| l.name.starts_with("uClibc")));
        assert_eq!(recognise_library("lib/libfoo.so", None, &[]), None);
    }

    #[test]
    fn vendor_ranges() {
        assert_eq!(
            release_status(Release::new(6, 4, 1)),
            ReleaseStatus::AffectedNoPatch
        );
        assert_eq!(
            release_status(Release::new(6, 5, 0)),
            ReleaseStatus::Patchable
        );
        assert_eq!(release_status(Release::new(6, 6, 0)), ReleaseStatus::Fixed);
        assert_eq!(release_status(Release::new(7, 1, 0)), ReleaseStatus::Fixed);
        assert_eq!(release_status(Release::new(8, 0, 0)), ReleaseStatus::Fixed);
    }

    #[test]
    fn family_libraries_named_with_their_fixes() {
        assert_eq!(
            NEWLIB.to_string(),
            "newlib (calloc unchecked up to 3.3.0, fixed in 4.0.0)"
        );
        assert_eq!(
            UCLIBC.to_string(),
            "uClibc / uClibc-ng (CVE-2021-27419, fixed in 1.0.37)"
        );
        assert_eq!(KLIBC.to_string(), "klibc (CVE-2021-31870, fixed in 2.0.9)");
        assert_eq!(MUSL.to_string(), "musl");
    }

    #[test]
    fn patches_and_services_as_the_vendor_gives_them() {
        let adv = &CVE_2021_22156;
        assert_eq!(adv.patch_numbers(), "4844 or 4846");
        assert_eq!(adv.first_fixed_release.to_string(), "6.6.0");
        assert!(adv.names_service("qconn"));
        assert!(!adv.names_service("sshd"));
        assert_eq!(
            adv.named_services_list(),
            "telnetd, ftpd, qconn, tftpd, inetd"
        );
        // Every product range with a patch names one of the patches.
        for p in adv
            .products
            .iter()
            .filter_map(|p| p.patch.map(|p| p.number))
        {
            assert!(adv.patches.iter().any(|q| q.number == p), "{p}");
        }
    }
}
