//! One parsed model per ELF file: what triage and the calloc analysis need, read with goblin.
//!
//! Depends on `badalloc-formats` (for [`FormatError`] only), goblin and memchr; nothing
//! above it (calloc, audit, report). `tests/elf_crosscheck.rs` checks this model against a
//! second reader (`object`) on every fixture and corpus ELF file.
//!
//! QNX boot-image files have had their section headers stripped by mkifs (only `QNX_info`
//! survives), so symbols and PLT relocations are read through the dynamic segment
//! (PT_DYNAMIC: DT_SYMTAB/DT_STRTAB/DT_HASH/DT_JMPREL), which goblin does; `object`'s
//! reader finds nothing there. `.symtab`, `.comment` and `QNX_info` come from section
//! headers when present.

pub mod guard;

mod check;
mod layout;
mod qnx;

use goblin::elf::{dynamic, header, program_header, section_header, sym, Elf};

use badalloc_formats::{ErrorKind, FormatError};

pub use layout::OffsetMismatch;
pub use qnx::{find_qnx_info, parse_qnx_info, QnxNote, MAX_QNX_INFO_SCAN};

/// ELF magic: how files are recognised, whatever their name.
pub const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// Does this byte string start like an ELF file?
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(ELF_MAGIC)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endian {
    Little,
    Big,
}

/// Instruction-set family, the granularity at which the calloc analysis decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    X86,
    X86_64,
    Arm,
    AArch64,
    Ppc,
    Ppc64,
    Mips,
    Mips64,
    Sh,
    Other(u16),
}

impl Arch {
    pub fn from_machine(machine: u16, is_64: bool) -> Arch {
        match machine {
            header::EM_386 => Arch::X86,
            header::EM_X86_64 => Arch::X86_64,
            header::EM_ARM => Arch::Arm,
            header::EM_AARCH64 => Arch::AArch64,
            header::EM_PPC => Arch::Ppc,
            header::EM_PPC64 => Arch::Ppc64,
            header::EM_MIPS | header::EM_MIPS_RS3_LE if is_64 => Arch::Mips64,
            header::EM_MIPS | header::EM_MIPS_RS3_LE => Arch::Mips,
            header::EM_SH => Arch::Sh,
            other => Arch::Other(other),
        }
    }
}

/// The architecture name as QNX spells its target directories (`x86`, `armle`, `ppcbe`, ...),
/// which is what a QNX engineer expects to read.
pub fn qnx_arch_name(arch: Arch, endian: Endian) -> String {
    let suffix = match endian {
        Endian::Little => "le",
        Endian::Big => "be",
    };
    match arch {
        Arch::X86 => "x86".into(),
        Arch::X86_64 => "x86_64".into(),
        Arch::Arm => format!("arm{suffix}"),
        Arch::AArch64 => format!("aarch64{suffix}"),
        Arch::Ppc => format!("ppc{suffix}"),
        Arch::Ppc64 => format!("ppc64{suffix}"),
        Arch::Mips => format!("mips{suffix}"),
        Arch::Mips64 => format!("mips64{suffix}"),
        Arch::Sh => format!("sh{suffix}"),
        Arch::Other(m) => format!("machine-{m}{suffix}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfType {
    Relocatable,
    Executable,
    SharedObject,
    Core,
    Other(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolSource {
    /// From the dynamic symbol table (found through PT_DYNAMIC).
    Dynamic,
    /// From `.symtab` (needs section headers; gone in stripped files).
    SymTab,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub name: &'a str,
    /// Symbol value as stored (on ARM, bit 0 set marks Thumb code).
    pub addr: u64,
    pub size: u64,
    pub is_func: bool,
    /// Defined in this file (not SHN_UNDEF).
    pub defined: bool,
    /// Global or weak binding (visible to other objects).
    pub global: bool,
    pub source: SymbolSource,
}

/// A loadable segment: maps virtual addresses to file bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub executable: bool,
}

/// One dynamic relocation that binds a memory slot (GOT or PLT entry) to a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotBinding<'a> {
    /// Address of the slot the loader fills (r_offset).
    pub slot: u64,
    pub symbol: &'a str,
    /// True for PLT (DT_JMPREL) relocations, false for other dynamic relocations (GLOB_DAT...).
    pub plt: bool,
}

/// Everything the tool reads from one ELF file. Borrowed strings point into the file bytes.
#[derive(Debug, Clone)]
pub struct ElfFile<'a> {
    pub data: &'a [u8],
    pub is_64: bool,
    pub endian: Endian,
    pub machine: u16,
    pub arch: Arch,
    pub elf_type: ElfType,
    pub entry: u64,
    pub e_flags: u32,
    pub has_section_headers: bool,
    pub interpreter: Option<&'a str>,
    pub soname: Option<&'a str>,
    pub needed: Vec<&'a str>,
    pub has_dynamic: bool,
    /// DT_PLTGOT: the GOT base (i386 PIC PLT stubs address slots relative to it in ebx).
    pub pltgot: Option<u64>,
    /// Symbols from `.dynsym` and `.symtab`, defined and undefined.
    pub symbols: Vec<Symbol<'a>>,
    /// Dynamic relocations with a symbol, deduplicated by slot address (PPC lists the same
    /// JMP_SLOT twice), plus MIPS GOT slots bound through DT_MIPS_GOTSYM. Sorted by slot:
    /// [`slot_symbol`](Self::slot_symbol) binary-searches it.
    pub slot_bindings: Vec<SlotBinding<'a>>,
    /// The symbol of each DT_JMPREL relocation, in table order: what a lazy PLT entry's
    /// relocation index names ([`plt_reloc_symbol`](Self::plt_reloc_symbol)).
    pub plt_reloc_symbols: Vec<Option<&'a str>>,
    pub segments: Vec<Segment>,
    pub qnx_note: Option<QnxNote>,
    /// `QNX_info` section as `KEY=value` pairs, in file order.
    pub qnx_info: Vec<(String, String)>,
    /// `QNX_info` was found in the bytes past the loaded image, because the section table
    /// cannot name sections (absent or damaged).
    pub qnx_info_without_sections: bool,
    /// `.comment` strings (compiler identification).
    pub comment: Vec<String>,
    /// Segments read at their address rather than at their recorded file offset, where the
    /// two disagree (mkifs-packed boot-image files).
    pub offset_mismatches: Vec<OffsetMismatch>,
    /// Parts of the file that could not be read; the rest of the model is still valid.
    pub warnings: Vec<FormatError>,
}

// MIPS dynamic tags (not in goblin's generic list).
const DT_MIPS_LOCAL_GOTNO: u64 = 0x7000_000a;
const DT_MIPS_GOTSYM: u64 = 0x7000_0013;

/// Upper bound on `.comment` strings kept: real files have a few dozen; a hostile file could
/// declare millions.
const MAX_COMMENT_STRINGS: usize = 256;

impl<'a> ElfFile<'a> {
    /// Parse an ELF file. Strict first; if that fails (corrupt section headers, say), retry in
    /// goblin's permissive mode and keep what can be read, noting the failure as a warning.
    pub fn parse(data: &'a [u8]) -> Result<ElfFile<'a>, FormatError> {
        if !is_elf(data) {
            return Err(FormatError::at(
                ErrorKind::Corrupt,
                0,
                "not an ELF file (bad magic)",
            ));
        }
        let mut warnings = check::check_tables(data)?;
        let mut elf = match guarded_parse(data, false) {
            Ok(elf) => elf,
            Err(strict_err) => match guarded_parse(data, true) {
                Ok(elf) => {
                    warnings.push(FormatError {
                        offset: strict_err.offset,
                        kind: strict_err.kind,
                        message: format!(
                            "malformed ELF, read in permissive mode: {}",
                            strict_err.message
                        ),
                    });
                    elf
                }
                Err(_) => return Err(strict_err),
            },
        };
        // As the loader does: the dynamic segment is where its address maps.
        let offset_mismatches =
            layout::locate_by_address(&mut elf.program_headers, data, elf.is_64, elf.little_endian);
        if !offset_mismatches.is_empty() {
            warnings.extend(layout::reread_dynamic(&mut elf, data));
        }
        Ok(Self::from_goblin(data, &elf, warnings, offset_mismatches))
    }

    fn from_goblin(
        data: &'a [u8],
        elf: &Elf<'a>,
        mut warnings: Vec<FormatError>,
        offset_mismatches: Vec<OffsetMismatch>,
    ) -> ElfFile<'a> {
        let hdr = &elf.header;
        let endian = if elf.little_endian {
            Endian::Little
        } else {
            Endian::Big
        };
        let elf_type = match hdr.e_type {
            header::ET_REL => ElfType::Relocatable,
            header::ET_EXEC => ElfType::Executable,
            header::ET_DYN => ElfType::SharedObject,
            header::ET_CORE => ElfType::Core,
            other => ElfType::Other(other),
        };

        let segments = elf
            .program_headers
            .iter()
            .filter(|ph| ph.p_type == program_header::PT_LOAD)
            .map(|ph| Segment {
                vaddr: ph.p_vaddr,
                memsz: ph.p_memsz,
                offset: ph.p_offset,
                filesz: ph.p_filesz,
                executable: ph.p_flags & program_header::PF_X != 0,
            })
            .collect();

        let mut symbols = Vec::with_capacity(elf.dynsyms.len() + elf.syms.len());
        // The name of each dynamic symbol by index (None: none, or empty), for the relocations
        // that name them: a string-table lookup is a binary search over all its strings.
        let mut dynsym_names: Vec<Option<&'a str>> = Vec::with_capacity(elf.dynsyms.len());
        for (table, strtab, source) in [
            (&elf.dynsyms, &elf.dynstrtab, SymbolSource::Dynamic),
            (&elf.syms, &elf.strtab, SymbolSource::SymTab),
        ] {
            for s in table.iter() {
                let name = strtab.get_at(s.st_name).filter(|n| !n.is_empty());
                if source == SymbolSource::Dynamic {
                    dynsym_names.push(name);
                }
                let Some(name) = name else {
                    continue;
                };
                let bind = s.st_bind();
                symbols.push(Symbol {
                    name,
                    addr: s.st_value,
                    size: s.st_size,
                    is_func: s.st_type() == sym::STT_FUNC || s.st_type() == sym::STT_GNU_IFUNC,
                    defined: s.st_shndx != section_header::SHN_UNDEF as usize,
                    global: bind == sym::STB_GLOBAL || bind == sym::STB_WEAK,
                    source,
                });
            }
        }

        let slot_bindings = collect_slot_bindings(elf, &dynsym_names);
        let plt_reloc_symbols = elf
            .pltrelocs
            .iter()
            .map(|r| dynsym_names.get(r.r_sym).copied().flatten())
            .collect();
        let mut pltgot = None;
        if let Some(dynamic) = &elf.dynamic {
            pltgot = dynamic
                .dyns
                .iter()
                .find(|d| d.d_tag == dynamic::DT_PLTGOT)
                .map(|d| d.d_val);
        }

        let mut qnx_note = None;
        let notes = elf
            .iter_note_headers(data)
            .into_iter()
            .flatten()
            .chain(elf.iter_note_sections(data, None).into_iter().flatten());
        for note in notes {
            match note {
                Ok(n) if qnx_note.is_none() => {
                    qnx_note = QnxNote::from_note(n.name, n.n_type, n.desc, elf.little_endian)
                }
                Ok(_) => {}
                Err(e) => {
                    warnings.push(FormatError::new(
                        ErrorKind::Corrupt,
                        format!("unreadable note: {e}"),
                    ));
                    break;
                }
            }
        }

        let Named {
            qnx_info,
            qnx_info_without_sections,
            comment,
        } = named_sections(data, elf, &mut warnings);

        ElfFile {
            data,
            is_64: elf.is_64,
            endian,
            machine: hdr.e_machine,
            arch: Arch::from_machine(hdr.e_machine, elf.is_64),
            elf_type,
            entry: elf.entry,
            e_flags: hdr.e_flags,
            has_section_headers: !elf.section_headers.is_empty(),
            interpreter: elf.interpreter,
            soname: elf.soname,
            needed: elf.libraries.clone(),
            has_dynamic: elf.dynamic.is_some(),
            pltgot,
            symbols,
            slot_bindings,
            plt_reloc_symbols,
            segments,
            qnx_note,
            qnx_info,
            qnx_info_without_sections,
            comment,
            offset_mismatches,
            warnings,
        }
    }

    /// Architecture name as QNX spells it (`x86`, `armle`, `ppcbe`, ...).
    pub fn arch_name(&self) -> String {
        qnx_arch_name(self.arch, self.endian)
    }

    /// `QNX_info` value for a key, if present.
    pub fn qnx_info_value(&self, key: &str) -> Option<&str> {
        self.qnx_info
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Names imported from other objects (undefined dynamic symbols).
    pub fn imports(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.symbols
            .iter()
            .filter(|s| s.source == SymbolSource::Dynamic && !s.defined)
            .map(|s| s.name)
    }

    pub fn imports_symbol(&self, name: &str) -> bool {
        self.imports().any(|n| n == name)
    }

    /// Defined, globally visible dynamic symbols.
    pub fn exports(&self) -> impl Iterator<Item = &Symbol<'a>> + '_ {
        self.symbols
            .iter()
            .filter(|s| s.source == SymbolSource::Dynamic && s.defined && s.global)
    }

    /// A defined symbol by name: dynamic table first (what other objects bind to), then `.symtab`.
    pub fn defined_symbol(&self, name: &str) -> Option<&Symbol<'a>> {
        let defined = |src| {
            self.symbols
                .iter()
                .find(|s| s.source == src && s.defined && s.name == name)
        };
        defined(SymbolSource::Dynamic).or_else(|| defined(SymbolSource::SymTab))
    }

    /// The defined function symbol starting at `addr` (Thumb bit ignored), preferring global names.
    pub fn function_at(&self, addr: u64) -> Option<&Symbol<'a>> {
        let addr = addr & !1;
        let mut best: Option<&Symbol<'a>> = None;
        // The address first: it rules out nearly every symbol with one comparison.
        for s in self
            .symbols
            .iter()
            .filter(|s| (s.addr & !1) == addr && s.defined && s.is_func)
        {
            match best {
                Some(b) if b.global || !s.global => {}
                _ => best = Some(s),
            }
        }
        best
    }

    /// The symbol bound to a GOT/PLT slot at `slot` by a dynamic relocation.
    pub fn slot_symbol(&self, slot: u64) -> Option<&SlotBinding<'a>> {
        let i = self
            .slot_bindings
            .binary_search_by_key(&slot, |b| b.slot)
            .ok()?;
        self.slot_bindings.get(i)
    }

    /// The symbol of the `index`th DT_JMPREL relocation, the one a lazy PLT entry pushes for
    /// the runtime linker: names a PLT call even when no relocation sits at its slot's address.
    pub fn plt_reloc_symbol(&self, index: usize) -> Option<&'a str> {
        self.plt_reloc_symbols.get(index).copied().flatten()
    }

    /// File bytes mapped at virtual address `addr`, up to the end of the segment's file image.
    pub fn bytes_at(&self, addr: u64) -> Option<&'a [u8]> {
        let seg = self
            .segments
            .iter()
            .find(|s| addr >= s.vaddr && addr - s.vaddr < s.filesz)?;
        let start = seg.offset.checked_add(addr - seg.vaddr)?;
        let end = seg.offset.checked_add(seg.filesz)?;
        let start = usize::try_from(start).ok()?;
        let end = usize::try_from(end).ok()?.min(self.data.len());
        self.data.get(start..end)
    }

    /// Like [`bytes_at`](Self::bytes_at), but only within an executable segment.
    pub fn code_at(&self, addr: u64) -> Option<&'a [u8]> {
        let in_exec = self
            .segments
            .iter()
            .any(|s| s.executable && addr >= s.vaddr && addr - s.vaddr < s.filesz);
        if in_exec {
            self.bytes_at(addr)
        } else {
            None
        }
    }

    /// A fixed-width instruction (`width` 2 or 4 bytes) at `addr`, in the file's byte order,
    /// checked for alignment and for lying in an executable segment: what the fixed-width
    /// decoders (PowerPC, MIPS, SH) fetch. `isa` names the instruction set in errors.
    pub fn code_word(&self, addr: u64, width: usize, isa: &str) -> Result<u32, String> {
        if addr % width as u64 != 0 {
            return Err(format!("misaligned {isa} code address {addr:#x}"));
        }
        let b = self
            .code_at(addr)
            .ok_or_else(|| format!("{addr:#x} is outside the executable segments"))?;
        let b = b
            .get(..width)
            .ok_or_else(|| format!("truncated instruction at {addr:#x}"))?;
        let little = self.endian == Endian::Little;
        Ok(b.iter().enumerate().fold(0u32, |acc, (i, &byte)| {
            let shift = if little { 8 * i } else { 8 * (width - 1 - i) };
            acc | (u32::from(byte) << shift)
        }))
    }

    /// Read a target-endian word of `self.is_64` width at a virtual address (GOT entries).
    pub fn read_word(&self, addr: u64) -> Option<u64> {
        let bytes = self.bytes_at(addr)?;
        if self.is_64 {
            let b: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
            Some(match self.endian {
                Endian::Little => u64::from_le_bytes(b),
                Endian::Big => u64::from_be_bytes(b),
            })
        } else {
            let b: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
            Some(u64::from(match self.endian {
                Endian::Little => u32::from_le_bytes(b),
                Endian::Big => u32::from_be_bytes(b),
            }))
        }
    }

    /// Statically linked: no interpreter and no dynamic section.
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && !self.has_dynamic
    }
}

/// Run goblin with panics contained (`guard::contain`): a parser bug on hostile bytes must become an error for
/// this file, not the end of the whole scan.
fn guarded_parse(data: &[u8], permissive: bool) -> Result<Elf<'_>, FormatError> {
    let opts = if permissive {
        goblin::options::ParseOptions::permissive()
    } else {
        goblin::options::ParseOptions::strict()
    };
    // goblin's errors carry no position: locate them at the table that declares the bad
    // extent (the section header table, else the program header table).
    let at = tables_offset(data);
    match crate::guard::contain(|| Elf::parse_with_opts(data, &opts)) {
        Some(Ok(elf)) => Ok(elf),
        Some(Err(e)) => Err(FormatError::at(
            ErrorKind::Corrupt,
            at,
            format!("malformed ELF: {e}"),
        )),
        None => Err(FormatError::at(
            ErrorKind::Corrupt,
            at,
            "malformed ELF: the ELF parser gave up (internal panic)",
        )),
    }
}

/// `e_shoff` when it lies inside the file, else `e_phoff` when it does, else 0.
fn tables_offset(data: &[u8]) -> u64 {
    let is64 = data.get(4) == Some(&2);
    let big = data.get(5) == Some(&2);
    let word = |off: usize| -> Option<u64> {
        if is64 {
            let b: [u8; 8] = data.get(off..off + 8)?.try_into().ok()?;
            Some(if big {
                u64::from_be_bytes(b)
            } else {
                u64::from_le_bytes(b)
            })
        } else {
            let b: [u8; 4] = data.get(off..off + 4)?.try_into().ok()?;
            Some(u64::from(if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }))
        }
    };
    let (phoff, shoff) = if is64 { (0x20, 0x28) } else { (0x1c, 0x20) };
    [shoff, phoff]
        .into_iter()
        .filter_map(word)
        .find(|&o| o != 0 && o < data.len() as u64)
        .unwrap_or(0)
}

/// What the tool reads from sections by name: `QNX_info` and `.comment`.
struct Named {
    qnx_info: Vec<(String, String)>,
    /// `QNX_info` was found in the bytes past the loaded image, not by name.
    qnx_info_without_sections: bool,
    comment: Vec<String>,
}

fn named_sections(data: &[u8], elf: &Elf<'_>, warnings: &mut Vec<FormatError>) -> Named {
    let mut qnx_info = Vec::new();
    let mut comment = Vec::new();
    for sh in &elf.section_headers {
        let Some(name) = elf.shdr_strtab.get_at(sh.sh_name) else {
            continue;
        };
        if name != "QNX_info" && name != ".comment" {
            continue;
        }
        if sh.sh_type == section_header::SHT_NOBITS {
            continue;
        }
        let Some(bytes) = file_range(data, sh.sh_offset, sh.sh_size) else {
            warnings.push(FormatError::at(
                ErrorKind::Truncated,
                sh.sh_offset,
                format!("section {name} runs past the end of the file"),
            ));
            continue;
        };
        if name == "QNX_info" {
            qnx_info.extend(parse_qnx_info(bytes));
        } else {
            comment.extend(
                bytes
                    .split(|&b| b == 0)
                    .filter(|s| !s.is_empty())
                    .take(MAX_COMMENT_STRINGS)
                    .map(|s| String::from_utf8_lossy(s).into_owned()),
            );
        }
    }
    // Loaders never read section headers: without readable section names, QNX_info is
    // looked for in the non-loaded bytes where QNX's tools put it.
    let shstrndx = elf.header.e_shstrndx;
    let names_readable = usize::from(shstrndx) < elf.section_headers.len()
        && shstrndx != section_header::SHN_UNDEF as u16;
    let mut qnx_info_without_sections = false;
    if qnx_info.is_empty() && !names_readable {
        if let Some(found) = find_qnx_info(past_loaded_image(data, elf)) {
            qnx_info = found;
            qnx_info_without_sections = true;
        }
    }
    Named {
        qnx_info,
        qnx_info_without_sections,
        comment,
    }
}

/// The file's bytes after the end of its last PT_LOAD file image, where the non-allocated
/// sections live (all of it for a file without PT_LOAD).
fn past_loaded_image<'d>(data: &'d [u8], elf: &Elf<'_>) -> &'d [u8] {
    let end = elf
        .program_headers
        .iter()
        .filter(|ph| ph.p_type == program_header::PT_LOAD)
        .filter_map(|ph| ph.p_offset.checked_add(ph.p_filesz))
        .max()
        .unwrap_or(0);
    usize::try_from(end)
        .ok()
        .and_then(|e| data.get(e..))
        .unwrap_or_default()
}

fn file_range(data: &[u8], offset: u64, size: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    data.get(start..end)
}

/// Bindings by slot: a JMP_SLOT relocation's (the last one for a slot), else the first
/// other dynamic relocation's, else the MIPS GOT entry's. `dynsym_names`: the dynamic
/// symbols' names by index.
fn collect_slot_bindings<'a>(
    elf: &Elf<'a>,
    dynsym_names: &[Option<&'a str>],
) -> Vec<SlotBinding<'a>> {
    // Which candidate a slot keeps: the least rank. JMP_SLOT relocations rank below the
    // middle, the later the lower; the others above it, the earlier the lower. Sorting the
    // candidates replaces a map of slots.
    const MIDDLE: u64 = u64::MAX / 2;
    let plt_rank = |seq: usize| MIDDLE - seq as u64;
    let other_rank = |seq: usize| MIDDLE + 1 + seq as u64;
    let mut candidates: Vec<(u64, u64, SlotBinding<'a>)> = Vec::new();
    let name_of = |idx: usize| -> Option<&'a str> { dynsym_names.get(idx).copied().flatten() };
    for r in elf.pltrelocs.iter() {
        if let Some(symbol) = name_of(r.r_sym) {
            let rank = plt_rank(candidates.len());
            candidates.push((
                r.r_offset,
                rank,
                SlotBinding {
                    slot: r.r_offset,
                    symbol,
                    plt: true,
                },
            ));
        }
    }
    for r in elf.dynrelas.iter().chain(elf.dynrels.iter()) {
        if r.r_sym == 0 {
            continue;
        }
        if let Some(symbol) = name_of(r.r_sym) {
            let rank = other_rank(candidates.len());
            candidates.push((
                r.r_offset,
                rank,
                SlotBinding {
                    slot: r.r_offset,
                    symbol,
                    plt: false,
                },
            ));
        }
    }
    // MIPS: no JUMP_SLOT relocations; GOT entries after the local ones map one-to-one to
    // dynamic symbols from DT_MIPS_GOTSYM on.
    if elf.header.e_machine == header::EM_MIPS {
        if let Some(dynamic) = &elf.dynamic {
            let tag = |t: u64| dynamic.dyns.iter().find(|d| d.d_tag == t).map(|d| d.d_val);
            if let (Some(gotsym), Some(local), Some(got)) = (
                tag(DT_MIPS_GOTSYM),
                tag(DT_MIPS_LOCAL_GOTNO),
                tag(dynamic::DT_PLTGOT),
            ) {
                let word = if elf.is_64 { 8 } else { 4 };
                let count = elf.dynsyms.len() as u64;
                for (i, idx) in (gotsym..count).enumerate() {
                    let Some(symbol) = usize::try_from(idx).ok().and_then(name_of) else {
                        continue;
                    };
                    let Some(slot) = (local + i as u64)
                        .checked_mul(word)
                        .and_then(|off| got.checked_add(off))
                    else {
                        break;
                    };
                    let rank = other_rank(candidates.len());
                    candidates.push((
                        slot,
                        rank,
                        SlotBinding {
                            slot,
                            symbol,
                            plt: true,
                        },
                    ));
                }
            }
        }
    }
    // Relocations mostly come in slot order, which this sort runs through in one pass.
    candidates.sort_by_key(|c| (c.0, c.1));
    candidates.dedup_by_key(|c| c.0);
    candidates.into_iter().map(|(_, _, b)| b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_elf_with_offset() {
        let err = ElfFile::parse(b"MZ\x90\x00").unwrap_err();
        assert_eq!(err.offset, Some(0));
    }

    #[test]
    fn truncated_header_is_an_error_not_a_panic() {
        let err = ElfFile::parse(b"\x7fELF\x01\x01\x01").unwrap_err();
        assert!(err.message.contains("truncated"), "{err}");
    }

    #[test]
    fn arch_names_follow_qnx_spelling() {
        assert_eq!(qnx_arch_name(Arch::Arm, Endian::Little), "armle");
        assert_eq!(qnx_arch_name(Arch::Ppc, Endian::Big), "ppcbe");
        assert_eq!(qnx_arch_name(Arch::X86, Endian::Little), "x86");
    }
}
