//! The work budget: how many bytes the examination of one file on disk may decode out of
//! its images and examine, across every nesting level, and what the files of one scan target
//! may spend beyond their own share together.
//!
//! Entries of an image can share bytes: thousands of IFS entries on one 256 MiB extent, a
//! QNX6 inode built of one block repeated, QNX4 links to one boot image. Each entry read is
//! as costly as the bytes it hands over, borrowed or copied, so a few hundred KiB of image
//! can ask for terabytes of examination. Identical extents are examined once (see
//! `examine`); everything else is paid for here: the bytes an image decodes when opened
//! (a decompressed imagefs or gzip payload) and the bytes of every entry handed over to be
//! examined.
//!
//! A file may use [`WORK_PER_INPUT_BYTE`] times its own size (a real image holds about its
//! own size in files; nesting reads some bytes again at each level), and up to
//! [`MAX_EXTRA_WORK_PER_FILE`] more, drawn from the [`MAX_EXTRA_WORK_PER_SCAN`] shared by all
//! the files of a scan target (compressed images expand far more than 4 times; a tree of
//! many small crafted files may not multiply the extra). Past the budget, an image is not
//! opened and an entry is not examined, with an error that names it and the bound.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of work one byte of a file on disk buys: decoded out of its images or examined in
/// their entries, at any depth.
pub const WORK_PER_INPUT_BYTE: u64 = 4;

/// Work one file may do beyond [`WORK_PER_INPUT_BYTE`] times its size: 2 GiB, a few seconds
/// of decoding and examination (a 512 MiB imagefs decoded and read through is 1 GiB).
pub const MAX_EXTRA_WORK_PER_FILE: u64 = 2 << 30;

/// The extra work of all the files of one scan target together: 8 GiB, four files' worth
/// (some 10 s of decoding and examination). Real trees hold a handful of compressed boot
/// images, each needing some tens of MiB of it.
pub const MAX_EXTRA_WORK_PER_SCAN: u64 = 8 << 30;

/// The extra work left to the files of one scan target (shared by the workers).
pub struct ScanWork {
    extra: AtomicU64,
}

impl Default for ScanWork {
    fn default() -> Self {
        ScanWork {
            extra: AtomicU64::new(MAX_EXTRA_WORK_PER_SCAN),
        }
    }
}

/// The work budget of one file on disk (one thread examines a file's images).
pub struct FileWork<'s> {
    /// Left of the file's own share.
    own: Cell<u64>,
    /// Left of what it may draw from the scan's extra.
    extra: Cell<u64>,
    scan: &'s ScanWork,
}

impl<'s> FileWork<'s> {
    /// The budget of a file of `input_len` bytes, with `extra` bytes more at most (drawn
    /// from the scan's): [`MAX_EXTRA_WORK_PER_FILE`] but in tests of the bound.
    pub fn new(input_len: u64, extra: u64, scan: &'s ScanWork) -> Self {
        FileWork {
            own: Cell::new(input_len.saturating_mul(WORK_PER_INPUT_BYTE)),
            extra: Cell::new(extra),
            scan,
        }
    }

    /// Bytes of work left (the scan's extra may shrink meanwhile: a charge can still fail).
    pub fn left(&self) -> u64 {
        let extra = self
            .extra
            .get()
            .min(self.scan.extra.load(Ordering::Relaxed));
        self.own.get().saturating_add(extra)
    }

    /// Charge `n` bytes of work; false, with nothing charged, when they are not left.
    pub fn charge(&self, n: u64) -> bool {
        let own = self.own.get();
        if n <= own {
            self.own.set(own - n);
            return true;
        }
        let need = n - own;
        let extra = self.extra.get();
        if need > extra {
            return false;
        }
        let drawn = self
            .scan
            .extra
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(need)
            })
            .is_ok();
        if drawn {
            self.own.set(0);
            self.extra.set(extra - need);
        }
        drawn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_spends_its_share_then_its_extra_from_the_scan() {
        let scan = ScanWork::default();
        let a = FileWork::new(1000, MAX_EXTRA_WORK_PER_FILE, &scan);
        assert_eq!(a.left(), 4000 + MAX_EXTRA_WORK_PER_FILE);
        assert!(a.charge(3000));
        assert!(a.charge(1000));
        assert_eq!(scan.extra.load(Ordering::Relaxed), MAX_EXTRA_WORK_PER_SCAN);
        assert!(a.charge(10));
        assert_eq!(
            scan.extra.load(Ordering::Relaxed),
            MAX_EXTRA_WORK_PER_SCAN - 10
        );
        assert!(
            !a.charge(MAX_EXTRA_WORK_PER_FILE),
            "10 bytes of it are spent"
        );
        assert!(a.charge(MAX_EXTRA_WORK_PER_FILE - 10));
        assert_eq!(a.left(), 0);
        assert!(!a.charge(1));
        // The scan's extra is shared: once the files before have drawn it, a file has its
        // own share only.
        let files = MAX_EXTRA_WORK_PER_SCAN / MAX_EXTRA_WORK_PER_FILE;
        for _ in 1..files {
            assert!(
                FileWork::new(0, MAX_EXTRA_WORK_PER_FILE, &scan).charge(MAX_EXTRA_WORK_PER_FILE)
            );
        }
        assert_eq!(scan.extra.load(Ordering::Relaxed), 0);
        let last = FileWork::new(100, MAX_EXTRA_WORK_PER_FILE, &scan);
        assert_eq!(last.left(), 400);
        assert!(!last.charge(401));
        assert!(last.charge(400));
    }
}
