//! badalloc-audit's core: find QNX firmware exposed to CVE-2021-22156 ("BadAlloc").
//!
//! Depends on `badalloc-formats`, `badalloc-elf` and `badalloc-calloc` (below it), serde,
//! serde_json, rayon, memchr, sha2 and memmap2 (not on QNX); never on `badalloc-report` or
//! the binary (command line, progress, output files).
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
//! - [`report_model`]: the report model (the JSON contract); stage 1 of issue 18 keeps it
//!   here, where the core builds its results; stage 2 separates it from the domain model.
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
pub mod release;
pub mod report_model;
pub mod rules;
pub mod scan;
pub mod source;
pub mod surface;
pub mod verdict;

pub use badalloc_formats::{ErrorKind, FormatError};
pub use scan::{scan, ScanOptions};

// The old in-crate paths of the modules that moved to the crates below, and of the report
// model (issue 18, stage 1), so the moved files keep theirs. Stage 2 removes these.
use badalloc_calloc as calloc;
use badalloc_elf as elf;
use badalloc_elf::guard;
use badalloc_formats as container;
use badalloc_formats::names;
use badalloc_formats::work_budget;
use report_model as report;
