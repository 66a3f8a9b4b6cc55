//! badalloc-audit's core: find QNX firmware exposed to CVE-2021-22156 ("BadAlloc").
//!
//! Depends on `badalloc-formats`, `badalloc-elf` and `badalloc-calloc` (below it), serde
//! (the `ls --format json` listing only), rayon, memchr, sha2 and memmap2 (not on QNX);
//! never on `badalloc-report` or the binary (command line, progress, output files).
//!
//! The data flows one way: **bytes → files → facts → verdict → report**. The layers below
//! are their own crates: `badalloc_formats` (containers, codecs, carving, names),
//! `badalloc_elf` (the ELF model), `badalloc_calloc` (the machine-code analysis); the
//! renderings are in `badalloc_report`.
//!
//! - [`source`]: where bytes come from (directory walks, single files).
//! - [`facts`]: what one ELF file says (QNX markers, release strings, imports, calloc).
//! - [`surface`]: attack surface.
//! - [`evidence`]: the OS release, weighed from all files, with confidence.
//! - [`advisory`]: CVE-2021-22156 as data; [`classify`]: facts + advisory → verdict.
//! - [`model`]: what a scan finds (targets, C libraries, binaries, images, errors), with
//!   enums where the audit decides; no serde: `badalloc_report` converts it into the wire
//!   types of the JSON contract.
//! - [`scan`]: the pipeline that ties them together; `examine`: one file and the images in it;
//!   [`image_cmd`]: listing, extracting and reading inside images; [`inspect`]: one file's
//!   calloc analysis.

pub mod advisory;
pub mod classify;
mod content_memo;
pub mod evidence;
mod examine;
pub mod facts;
pub mod image_cmd;
mod image_memo;
mod in_flight;
pub mod inspect;
pub mod kernel;
pub mod model;
mod outcome;
pub mod release;
pub mod rules;
pub mod scan;
pub mod source;
pub mod surface;
pub mod verdict;

pub use badalloc_formats::{ErrorKind, FormatError};
pub use scan::{scan, ScanOptions};
