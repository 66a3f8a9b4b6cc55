//! badalloc-audit: find QNX firmware exposed to CVE-2021-22156 ("BadAlloc").
//!
//! The data flows one way: **bytes → files → facts → verdict → report**.
//!
//! - [`source`]: where bytes come from (directory walks, single files).
//! - [`elf`]: one parsed model per ELF file (with or without section headers).
//! - [`facts`]: what one ELF file says (QNX markers, release strings, imports, calloc).
//! - [`calloc`]: does this calloc test nmemb*size for overflow? (machine-code analysis)
//! - [`container`]: boot images, file systems, archives; [`surface`]: attack surface.
//! - [`evidence`]: the OS release, weighed from all files, with confidence.
//! - [`advisory`]: CVE-2021-22156 as data; [`classify`]: facts + advisory → verdict.
//! - [`report`]: the report model and its renderings (text, JSON); [`names`]: file names as
//!   report text (a reversible escaping).
//! - [`scan`]: the pipeline that ties them together; `examine`: one file and the images in it.

pub mod advisory;
pub mod calloc;
pub mod classify;
pub mod cli;
pub mod container;
mod content_memo;
pub mod diff;
pub mod elf;
pub mod error;
pub mod evidence;
mod examine;
pub mod facts;
pub mod guard;
pub mod image_cmd;
mod image_memo;
pub mod inspect;
pub mod manual;
pub mod names;
pub mod output;
pub mod progress;
pub mod report;
pub mod scan;
pub mod source;
pub mod surface;

pub use error::FormatError;
pub use scan::{scan, ScanOptions};
