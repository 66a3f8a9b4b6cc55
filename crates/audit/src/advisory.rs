//! CVE-2021-22156 as data: products, affected and fixed ranges, patches, sources.
//!
//! Kept apart from the code that applies it (`classify`), as cargo-audit keeps advisories
//! apart from its scanner. The ranges are the vendor's, not NVD's: NVD's CPE configuration
//! lists `qnx_os_for_medical <= 1.1.1` and `qnx_os_for_safety <= 1.0.2`, versions BlackBerry
//! names as fixed.

use crate::evidence::Release;

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
    pub sources: &'static [&'static str],
    /// Version of this table; bump when a range or source changes.
    pub data_version: u32,
}

pub struct ProductRange {
    pub product: &'static str,
    pub affected: &'static str,
    pub fixed: &'static str,
    pub patch: Option<&'static str>,
}

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
            patch: Some("4844"),
        },
        ProductRange {
            product: "QNX OS for Medical",
            affected: "1.1 and earlier",
            fixed: "1.0/1.1 with patch 4846; 1.1.1",
            patch: Some("4846"),
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
    sources: &[
        "BlackBerry QNX advisory QNX-2021-001 (2021-08-17)",
        "CVE record CVE-2021-22156 (CVEProject/cvelistV5)",
        "CISA alert AA21-229A",
        "MHLW notice of 2021-08-23",
    ],
    data_version: 1,
};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
