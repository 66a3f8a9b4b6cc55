//! What examining one file produced: the facts of its ELF files, its images, errors and
//! symbolic links. Its own module, below `examine` and the memos that store it
//! (`image_memo` keeps an image's share of it to report the next copy from).

use crate::facts::FileFacts;
use crate::model::{Image, ScanError, Symlink, TargetKind};

/// What examining one file (and everything inside it) produced.
#[derive(Default)]
pub(crate) struct FileOutcome {
    pub(crate) facts: Vec<FileFacts>,
    pub(crate) errors: Vec<ScanError>,
    pub(crate) symlinks: Vec<Symlink>,
    pub(crate) images: Vec<Image>,
    /// Bytes read from disk.
    pub(crate) bytes: u64,
    /// Files examined inside images.
    pub(crate) image_files: u64,
    /// Images reported from the memo.
    pub(crate) reused_images: u64,
    /// Programs started at boot: (program base name, the script that starts it).
    pub(crate) started: Vec<(String, String)>,
    /// What the file at the top is: ELF, an image, a raw dump or another file.
    pub(crate) kind: TargetKind,
    /// The file itself could not be read (its error is in `errors`).
    pub(crate) unread: bool,
    /// The file is none of these and not text either (nor empty): bytes of an unknown or
    /// encrypted format, which may be firmware.
    pub(crate) opaque: bool,
    /// Images not opened and files not examined for want of work budget.
    pub(crate) work_cut: u64,
    /// Not examined yet: what the file starts with was being examined by another worker
    /// (see `in_flight`); the file is examined again once the queue is empty.
    pub(crate) deferred: bool,
}
