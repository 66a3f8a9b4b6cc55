//! A second ELF reader (`object`) against the goblin-based model of badalloc-elf, on every
//! ELF file of `fixtures/` and of the corpus (loose, and inside the images both hold, opened
//! with badalloc-formats).
//!
//! Compared: the PT_LOAD segments (offset, vaddr, filesz, memsz, executable); the other
//! program headers badalloc-elf reads by address (PT_DYNAMIC, PT_INTERP, PT_NOTE: type,
//! recorded offset, vaddr); the named dynamic symbols (name, value) where the file has a
//! `.dynsym` section; DT_NEEDED and DT_SONAME; the interpreter.
//!
//! Expected disagreements, asserted rather than hidden:
//! - **The mkifs PT_DYNAMIC offset quirk (issue 15.2).** In files mkifs placed in a boot
//!   image the recorded `p_offset` of PT_DYNAMIC (PT_INTERP, PT_NOTE) can be stale while
//!   `p_vaddr` is right. badalloc-elf reads such a segment where its address maps, as the
//!   loader does, and lists the difference in `offset_mismatches`. `object` reads the raw
//!   `p_offset`. So DT_NEEDED/DT_SONAME read by `object` at the recorded offset may differ
//!   from badalloc-elf's; the test then requires that badalloc-elf recorded that very
//!   mismatch, and that `object` read at the address-mapped offset agrees.
//! - **Dynamic symbols without section headers.** goblin finds `.dynsym` through
//!   PT_DYNAMIC (DT_SYMTAB, counted by DT_HASH); `object` needs a SHT_DYNSYM section. QNX
//!   boot-image files often have none, so symbols are compared only where it exists.
//! - **Files goblin rejects.** Damaged fixtures that badalloc-elf refuses are not compared
//!   (their errors are tested elsewhere); they are counted and must be a minority.

mod common;

use std::path::Path;

use badalloc_elf::{is_elf, ElfFile, SymbolSource};
use badalloc_formats::{Container, EntryType, Limits};
use object::elf::{self as e, FileHeader32, FileHeader64};
use object::read::elf::{Dyn, FileHeader, ProgramHeader, Sym};
use object::Endianness;

/// How deep containers inside containers are opened (a QNX4 file system holding a boot
/// image is two levels).
const MAX_NESTING: usize = 3;

/// A program header as `object` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Phdr {
    p_type: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    executable: bool,
}

/// What `object` reads of one ELF file.
#[derive(Debug, Default)]
struct ObjectView {
    phdrs: Vec<Phdr>,
    /// Named dynamic symbols (name, value); `None` without a SHT_DYNSYM section.
    dynsyms: Option<Vec<(String, u64)>>,
    /// DT_NEEDED and DT_SONAME read at PT_DYNAMIC's recorded offset.
    needed_raw: Vec<String>,
    soname_raw: Option<String>,
    /// The same read where PT_DYNAMIC's address maps through PT_LOAD (as the loader does).
    needed_mapped: Vec<String>,
    soname_mapped: Option<String>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The file offset of `vaddr`, through the PT_LOAD segments.
fn offset_of(phdrs: &[Phdr], vaddr: u64) -> Option<u64> {
    phdrs
        .iter()
        .filter(|p| p.p_type == e::PT_LOAD.0)
        .find(|p| vaddr >= p.vaddr && vaddr - p.vaddr < p.filesz)
        .map(|p| p.offset + (vaddr - p.vaddr))
}

/// DT_NEEDED and DT_SONAME of the dynamic table at `table` (file bytes), strings through
/// DT_STRTAB mapped by address.
fn needed_soname<H: FileHeader<Endian = Endianness>>(
    endian: Endianness,
    data: &[u8],
    phdrs: &[Phdr],
    table: &[u8],
) -> (Vec<String>, Option<String>) {
    let size = std::mem::size_of::<H::Dyn>();
    let dyns: Vec<&H::Dyn> = table
        .chunks_exact(size)
        .filter_map(|c| object::pod::from_bytes::<H::Dyn>(c).ok().map(|(d, _)| d))
        .take_while(|d| d.d_tag(endian) != e::DT_NULL)
        .collect();
    let value = |tag: e::DynamicTag| {
        dyns.iter()
            .find(|d| d.d_tag(endian) == tag)
            .map(|d| d.d_val(endian).into())
    };
    let strings = value(e::DT_STRTAB)
        .and_then(|a| offset_of(phdrs, a))
        .and_then(|off| {
            let len = value(e::DT_STRSZ).unwrap_or(0);
            data.get(usize::try_from(off).ok()?..)
                .map(|s| &s[..s.len().min(usize::try_from(len).unwrap_or(usize::MAX))])
        })
        .unwrap_or(&[]);
    let string = |off: u64| {
        let s = strings.get(usize::try_from(off).ok()?..)?;
        Some(text(&s[..s.iter().position(|&b| b == 0)?]))
    };
    let needed = dyns
        .iter()
        .filter(|d| d.d_tag(endian) == e::DT_NEEDED)
        .filter_map(|d| string(d.d_val(endian).into()))
        .collect();
    let soname = value(e::DT_SONAME).and_then(string);
    (needed, soname)
}

fn object_view<H: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<ObjectView, String> {
    let header = H::parse(data).map_err(|e| e.to_string())?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    let raw = header
        .program_headers(endian, data)
        .map_err(|e| e.to_string())?;
    let mut view = ObjectView {
        phdrs: raw
            .iter()
            .map(|p| Phdr {
                p_type: p.p_type(endian).0,
                offset: p.p_offset(endian).into(),
                vaddr: p.p_vaddr(endian).into(),
                filesz: p.p_filesz(endian).into(),
                memsz: p.p_memsz(endian).into(),
                executable: p.p_flags(endian).0 & e::PF_X.0 != 0,
            })
            .collect(),
        ..ObjectView::default()
    };
    if let Some(dynamic) = view
        .phdrs
        .iter()
        .find(|p| p.p_type == e::PT_DYNAMIC.0)
        .copied()
    {
        let at = |off: Option<u64>| {
            let start = usize::try_from(off?).ok()?;
            let len = usize::try_from(dynamic.filesz).ok()?;
            data.get(start..start.checked_add(len)?)
        };
        if let Some(t) = at(Some(dynamic.offset)) {
            (view.needed_raw, view.soname_raw) = needed_soname::<H>(endian, data, &view.phdrs, t);
        }
        if let Some(t) = at(offset_of(&view.phdrs, dynamic.vaddr)) {
            (view.needed_mapped, view.soname_mapped) =
                needed_soname::<H>(endian, data, &view.phdrs, t);
        }
    }
    if let Ok(sections) = header.sections(endian, data) {
        if let Ok(symbols) = sections.symbols(endian, data, e::SHT_DYNSYM) {
            if !symbols.is_empty() {
                let named = symbols
                    .iter()
                    .filter_map(|s| {
                        let name = s.name(endian, symbols.strings()).ok()?;
                        (!name.is_empty()).then(|| (text(name), s.st_value(endian).into()))
                    })
                    .collect();
                view.dynsyms = Some(named);
            }
        }
    }
    Ok(view)
}

/// `object`'s view of an ELF file, by class.
fn read_with_object(data: &[u8]) -> Result<ObjectView, String> {
    // e_ident[EI_CLASS]: 1 for 32-bit, 2 for 64-bit files.
    match data.get(4) {
        Some(1) => object_view::<FileHeader32<Endianness>>(data),
        Some(2) => object_view::<FileHeader64<Endianness>>(data),
        other => Err(format!("ELF class {other:?}")),
    }
}

#[derive(Default)]
struct Tally {
    compared: usize,
    rejected_by_goblin: usize,
    with_dynsym_section: usize,
    offset_quirks: Vec<String>,
    /// Files where `object` reading PT_DYNAMIC at its recorded offset found other
    /// DT_NEEDED/DT_SONAME than at its address: the quirk matters there.
    quirk_changes_names: usize,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, name: &str, data: &[u8]) {
        let Ok(elf) = ElfFile::parse(data) else {
            self.rejected_by_goblin += 1;
            return;
        };
        let view = match read_with_object(data) {
            Ok(v) => v,
            Err(err) => {
                self.failures.push(format!(
                    "{name}: object cannot read what goblin read: {err}"
                ));
                return;
            }
        };
        self.compared += 1;
        let mut fail = |what: String| self.failures.push(format!("{name}: {what}"));

        let loads: Vec<_> = view
            .phdrs
            .iter()
            .filter(|p| p.p_type == e::PT_LOAD.0)
            .map(|p| (p.offset, p.vaddr, p.filesz, p.memsz, p.executable))
            .collect();
        let ours: Vec<_> = elf
            .segments
            .iter()
            .map(|s| (s.offset, s.vaddr, s.filesz, s.memsz, s.executable))
            .collect();
        if loads != ours {
            fail(format!(
                "PT_LOAD: object {loads:x?}, badalloc-elf {ours:x?}"
            ));
        }
        for m in &elf.offset_mismatches {
            let p_type = match m.segment {
                "PT_DYNAMIC" => e::PT_DYNAMIC.0,
                "PT_INTERP" => e::PT_INTERP.0,
                _ => e::PT_NOTE.0,
            };
            let raw = view
                .phdrs
                .iter()
                .any(|p| p.p_type == p_type && p.vaddr == m.vaddr && p.offset == m.recorded_offset);
            if !raw || offset_of(&view.phdrs, m.vaddr) != Some(m.offset_used) {
                fail(format!("offset mismatch {m:x?} not what object reads"));
            }
        }

        let needed: Vec<String> = elf.needed.iter().map(|s| s.to_string()).collect();
        let soname = elf.soname.map(str::to_string);
        if view.needed_mapped != needed || view.soname_mapped != soname {
            fail(format!(
                "DT_NEEDED/DT_SONAME: object {:?} {:?}, badalloc-elf {needed:?} {soname:?}",
                view.needed_mapped, view.soname_mapped
            ));
        }
        let dynamic_moved = elf
            .offset_mismatches
            .iter()
            .any(|m| m.segment == "PT_DYNAMIC");
        if (view.needed_raw != needed || view.soname_raw != soname) && !dynamic_moved {
            fail(format!(
                "DT_NEEDED/DT_SONAME at the recorded offset differ with no offset mismatch: {:?} {:?}",
                view.needed_raw, view.soname_raw
            ));
        }
        if dynamic_moved {
            self.offset_quirks.push(name.to_string());
            if view.needed_raw != needed || view.soname_raw != soname {
                self.quirk_changes_names += 1;
            }
        }

        if let Some(object_syms) = &view.dynsyms {
            self.with_dynsym_section += 1;
            let ours: Vec<(String, u64)> = elf
                .symbols
                .iter()
                .filter(|s| s.source == SymbolSource::Dynamic)
                .map(|s| (s.name.to_string(), s.addr))
                .collect();
            if *object_syms != ours {
                let first = object_syms.iter().zip(&ours).position(|(a, b)| a != b);
                fail(format!(
                    "dynamic symbols: object {} named, badalloc-elf {}, first difference at {first:?}",
                    object_syms.len(),
                    ours.len()
                ));
            }
        }
    }

    /// Every ELF file in `data` if it is one, else in the container it is.
    fn visit(&mut self, name: &str, data: &[u8], depth: usize) {
        if is_elf(data) {
            self.check(name, data);
            return;
        }
        if depth >= MAX_NESTING {
            return;
        }
        let Some(kind) = badalloc_formats::detect(data) else {
            return;
        };
        let Ok(c) = badalloc_formats::open(data, kind, &Limits::default()) else {
            return;
        };
        self.visit_container(name, c.as_ref(), depth + 1);
    }

    fn visit_container(&mut self, name: &str, c: &dyn Container, depth: usize) {
        for entry in c.entries() {
            if entry.entry_type != EntryType::File {
                continue;
            }
            if let Ok(bytes) = c.read(entry) {
                self.visit(&format!("{name}!/{}", entry.path), &bytes, depth);
            }
        }
    }

    fn visit_tree(&mut self, root: &Path, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                self.visit_tree(root, &p);
            } else if meta.is_file() {
                if let Ok(bytes) = std::fs::read(&p) {
                    let name = p.strip_prefix(root).unwrap_or(&p).display().to_string();
                    self.visit(&name, &bytes, 0);
                }
            }
        }
    }

    fn assert_agrees(&self, what: &str) {
        assert!(
            self.failures.is_empty(),
            "{what}: {} disagreement(s) of {} files compared:\n{}",
            self.failures.len(),
            self.compared,
            self.failures.join("\n")
        );
    }
}

#[test]
fn object_agrees_with_goblin_on_the_fixtures() {
    let root = common::fixture("");
    let mut t = Tally::default();
    t.visit_tree(&root, &root);
    t.assert_agrees("fixtures");
    eprintln!(
        "fixtures: {} ELF files compared ({} with .dynsym), {} rejected by goblin, PT_DYNAMIC moved in {:?}",
        t.compared, t.with_dynsym_section, t.rejected_by_goblin, t.offset_quirks
    );
    assert!(t.compared >= 100, "only {} ELF files compared", t.compared);
    assert!(t.with_dynsym_section >= 20, "{}", t.with_dynsym_section);
    assert!(
        t.rejected_by_goblin < t.compared,
        "{}",
        t.rejected_by_goblin
    );
}

#[test]
fn object_agrees_with_goblin_on_the_corpus() {
    let root = common::corpus_dir();
    if !root.is_dir() {
        eprintln!("SKIP: corpus not found at {}", root.display());
        return;
    }
    let mut t = Tally::default();
    t.visit_tree(&root, &root);
    t.assert_agrees("corpus");
    eprintln!(
        "corpus: {} ELF files compared ({} with .dynsym), {} rejected by goblin, PT_DYNAMIC moved in {:?}",
        t.compared, t.with_dynsym_section, t.rejected_by_goblin, t.offset_quirks
    );
    // The two boot images hold dozens of ELF files; the loose ones add five.
    assert!(t.compared >= 30, "only {} ELF files compared", t.compared);
    let in_images = |n: &String| n.contains("!/");
    assert!(
        t.offset_quirks.iter().all(in_images),
        "{:?}",
        t.offset_quirks
    );
}
