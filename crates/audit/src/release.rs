//! A Neutrino release: the one number the advisory and the evidence compare. A module of its
//! own, at the bottom, so the advisory can name it without reaching into the evidence.

use std::fmt;

/// A Neutrino release `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl Release {
    pub const fn new(major: u16, minor: u16, patch: u16) -> Release {
        Release {
            major,
            minor,
            patch,
        }
    }

    /// Parse `X.Y.Z` (exactly), as the kernel and `QNX_info` write it.
    pub fn parse(s: &str) -> Option<Release> {
        let mut it = s.trim().split('.').map(|p| p.parse::<u16>().ok());
        let r = Release::new(it.next()??, it.next()??, it.next()??);
        it.next().is_none().then_some(r)
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}
