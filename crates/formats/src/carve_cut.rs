//! Image signatures past a bound of the carver, not examined ([`Cut`]), and the bound on
//! how many one file may give. Its own module, below `carve` and `carve_flash`, which
//! both cut what they find at [`MAX_CARVED_PER_FILE`].

use super::ContainerKind;

/// Most validated image signatures taken from one file. A real flash or disk dump holds a
/// few partitions and boot images (tens at most); a crafted one can hold a file-system
/// signature every few hundred bytes (a 64 MiB dump: half a million), and each one
/// opened costs an image open and a report entry. Signatures past the bound are counted
/// and reported as one error (`Layout::cut`), never examined.
pub const MAX_CARVED_PER_FILE: usize = 4096;

/// Signatures past a bound, not examined: how many, the first of them, and which bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    pub more: u64,
    pub first: u64,
    pub kind: ContainerKind,
    pub bound: CutBound,
}

/// The bound that left signatures unexamined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutBound {
    /// More than [`MAX_CARVED_PER_FILE`] signatures.
    Count,
    /// The flash-carving work bound ([`crate::carve_flash::FLASH_WORK_PER_BYTE`]).
    FlashWork,
}

impl Cut {
    /// The two cuts as one: the first signature left out, and how many in all.
    pub(crate) fn merge(a: Option<Cut>, b: Cut) -> Cut {
        match a {
            None => b,
            Some(a) => {
                let first = if b.first < a.first { b } else { a };
                Cut {
                    more: a.more + b.more,
                    ..first
                }
            }
        }
    }
}
