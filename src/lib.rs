//! badalloc-audit: find QNX firmware exposed to CVE-2021-22156 ("BadAlloc").
//!
//! The data flows one way: **bytes → files → facts → verdict → report**.
//!
//! - [`source`]: where bytes come from (directory walks, single files, images).
//! - [`elf`]: one parsed model per ELF file (with or without section headers).
//! - [`evidence`]: facts about the OS release, each with its source and confidence.
//! - [`classify`]: facts → verdict, following `docs/classification.md`.
//! - [`report`]: the report model and its renderings (text, JSON).

pub mod calloc;
pub mod elf;
pub mod error;

pub use error::FormatError;
