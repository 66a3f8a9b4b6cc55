//! Where bytes come from: directory walks and single files (images: see `container`).

#[cfg(all(unix, not(target_os = "nto")))]
pub mod fault;
pub mod read;
pub mod walk;

pub use read::{read_file, read_named_file, FileBytes, Pager};
pub use walk::{walk, WalkItem};
