//! The `inspect` command: the calloc analysis of one ELF file, for a reviewer to check by eye.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::calloc::{analyze_calloc, CallocAnalysis};
use crate::elf::ElfFile;
use crate::facts::facts_of;
use crate::names::{escape_path, escape_text as esc};
use crate::source::read_named_file;

#[derive(Serialize)]
pub struct Inspection {
    pub path: String,
    pub arch: String,
    pub qnx: bool,
    /// Null when the file defines no calloc.
    pub calloc: Option<CallocAnalysis>,
}

/// Read and analyse one file. Errors name the file and, where it applies, the offset.
///
/// `path` is a file on disk, or a file inside images named by the virtual path `scan`
/// prints (`fw.ifs!/proc/boot/libc.so.3`, `dump.bin@0x40000!/...`), read through the same
/// image readers.
pub fn inspect(path: &Path) -> Result<Inspection, String> {
    match read_named_file(path) {
        Ok(bytes) => analyse(escape_path(path), &bytes),
        // `image!/inside` is no path on disk.
        Err(e) => match crate::image_cmd::read_virtual(path) {
            Some(file) => {
                let file = file?;
                analyse(file.shown, &file.bytes)
            }
            None => Err(format!("cannot read {}: {e}", path.display())),
        },
    }
}

fn analyse(shown: String, bytes: &[u8]) -> Result<Inspection, String> {
    let elf = ElfFile::parse(bytes).map_err(|e| format!("{}: {e}", esc(&shown)))?;
    let facts = facts_of(&shown, &elf, None);
    Ok(Inspection {
        path: shown,
        arch: elf.arch_name(),
        qnx: facts.is_qnx(),
        calloc: analyze_calloc(&elf),
    })
}

pub fn render_text(i: &Inspection) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}{})",
        esc(&i.path),
        esc(&i.arch),
        if i.qnx { ", QNX" } else { "" }
    );
    let Some(c) = &i.calloc else {
        let _ = writeln!(s, "no calloc defined in this file");
        return s;
    };
    let chain: Vec<String> = c
        .chain_links
        .iter()
        .map(|l| format!("{} @ {}", l.name, l.address))
        .collect();
    let _ = writeln!(s, "chain:   {}", esc(&chain.join(" -> ")));
    let _ = writeln!(
        s,
        "verdict: {}",
        serde_json::to_value(c.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "reason:  {}", esc(&c.reason));
    if !c.evidence.is_empty() {
        let _ = writeln!(s, "\ndecisive instructions:");
        for e in &c.evidence {
            let _ = writeln!(s, "  {:>10}  {}", esc(&e.address), esc(&e.text));
        }
    }
    if !c.listing.is_empty() {
        let _ = writeln!(
            s,
            "\n{} (annotated):",
            esc(c.function.as_deref().unwrap_or("function"))
        );
        for e in &c.listing {
            let _ = writeln!(s, "  {:>10}  {}", esc(&e.address), esc(&e.text));
        }
    }
    s
}
