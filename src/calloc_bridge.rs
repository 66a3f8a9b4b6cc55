//! Placeholder until the machine-code analysis lands: files that define calloc get an
//! `unknown` verdict that says why.

use crate::elf::ElfFile;
use crate::report::CallocReport;

pub fn analyze(elf: &ElfFile<'_>) -> Option<CallocReport> {
    let sym = elf.defined_symbol("calloc").filter(|s| s.is_func)?;
    let mut r =
        CallocReport::not_found("machine-code analysis of calloc is not available in this build");
    r.function = Some("calloc".into());
    r.address = Some(format!("{:#x}", sym.addr));
    Some(r)
}
