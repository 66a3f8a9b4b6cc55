//! Segments found through their address, as the loader finds them.
//!
//! mkifs packs the segments of boot-image files, and the file offset recorded for PT_DYNAMIC
//! (PT_INTERP, PT_NOTE) can then disagree with where its address lies in the PT_LOAD segment
//! that maps it: qconn in the 6.4.1 x86 boot image records PT_DYNAMIC at 0x1c670, while its
//! address maps to 0x1c66d. The runtime linker reads the dynamic table at its address, so the
//! tool does too: every table the dynamic segment locates (symbols, strings, hash,
//! relocations) is then read through addresses, and each disagreement is reported.

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::dynamic::{self, Dynamic};
use goblin::elf::program_header::{self, ProgramHeader};
use goblin::elf::reloc::RelocSection;
use goblin::elf::sym::Symtab;
use goblin::elf::Elf;
use goblin::strtab::Strtab;

use badalloc_formats::{ErrorKind, FormatError};

/// A segment whose recorded file offset disagrees with its address: read at `offset_used`
/// (where its address lies in the PT_LOAD segment that maps it), not at `recorded_offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetMismatch {
    /// `PT_DYNAMIC`, `PT_INTERP` or `PT_NOTE`.
    pub segment: &'static str,
    pub vaddr: u64,
    pub recorded_offset: u64,
    pub offset_used: u64,
}

fn segment_name(p_type: u32) -> Option<&'static str> {
    match p_type {
        program_header::PT_DYNAMIC => Some("PT_DYNAMIC"),
        program_header::PT_INTERP => Some("PT_INTERP"),
        program_header::PT_NOTE => Some("PT_NOTE"),
        _ => None,
    }
}

fn range(data: &[u8], offset: u64, size: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    data.get(start..end)
}

/// Where `ph`'s address lies in the file: through the PT_LOAD segment whose file image holds
/// all of it.
fn offset_of_address(loads: &[ProgramHeader], ph: &ProgramHeader) -> Option<u64> {
    loads.iter().find_map(|l| {
        let rel = ph.p_vaddr.checked_sub(l.p_vaddr)?;
        (rel.checked_add(ph.p_filesz)? <= l.p_filesz).then(|| l.p_offset.checked_add(rel))?
    })
}

/// Do these bytes look like what a segment of this type holds? Guards against an address
/// that maps onto something else (a note with address 0 in a file loaded at 0).
fn plausible(p_type: u32, b: &[u8], is_64: bool, little: bool) -> bool {
    let word = |at: usize, size: usize| -> Option<u64> {
        let s = b.get(at..at.checked_add(size)?)?;
        Some(s.iter().enumerate().fold(0u64, |acc, (i, &x)| {
            let shift = if little { 8 * i } else { 8 * (size - 1 - i) };
            acc | (u64::from(x) << shift)
        }))
    };
    match p_type {
        program_header::PT_INTERP => b.split_last().is_some_and(|(&last, path)| {
            last == 0 && !path.is_empty() && path.iter().all(|c| c.is_ascii_graphic())
        }),
        program_header::PT_NOTE => match (word(0, 4), word(4, 4)) {
            (Some(namesz), Some(descsz)) => {
                let padded = |n: u64| (n + 3) & !3;
                namesz > 0
                    && namesz <= 256
                    && 12 + padded(namesz) + padded(descsz) <= b.len() as u64
            }
            _ => false,
        },
        _ => {
            // A dynamic table: known tags up to a DT_NULL.
            let w = if is_64 { 8 } else { 4 };
            for at in (0..b.len() / (2 * w)).map(|i| i * 2 * w) {
                match word(at, w) {
                    Some(0) => return at > 0,
                    Some(tag) if tag <= 0x40 || (0x6000_0000..=0x7fff_ffff).contains(&tag) => {}
                    _ => return false,
                }
            }
            false
        }
    }
}

/// Point PT_DYNAMIC, PT_INTERP and PT_NOTE at the bytes their address maps to when those
/// differ from the bytes at their recorded offset (and look like what the segment holds).
/// Returns what was moved; the program headers are updated in place.
pub fn locate_by_address(
    phdrs: &mut [ProgramHeader],
    data: &[u8],
    is_64: bool,
    little: bool,
) -> Vec<OffsetMismatch> {
    let loads: Vec<ProgramHeader> = phdrs
        .iter()
        .filter(|p| p.p_type == program_header::PT_LOAD)
        .cloned()
        .collect();
    let mut moved = Vec::new();
    for ph in phdrs.iter_mut() {
        let Some(segment) = segment_name(ph.p_type) else {
            continue;
        };
        let Some(mapped) = offset_of_address(&loads, ph) else {
            continue;
        };
        if mapped == ph.p_offset || ph.p_filesz == 0 {
            continue;
        }
        let Some(at_address) = range(data, mapped, ph.p_filesz) else {
            continue;
        };
        if range(data, ph.p_offset, ph.p_filesz) == Some(at_address)
            || !plausible(ph.p_type, at_address, is_64, little)
        {
            continue;
        }
        moved.push(OffsetMismatch {
            segment,
            vaddr: ph.p_vaddr,
            recorded_offset: ph.p_offset,
            offset_used: mapped,
        });
        ph.p_offset = mapped;
    }
    moved
}

/// Read again what goblin read through the program headers' offsets (the interpreter and
/// everything the dynamic segment locates), after [`locate_by_address`] corrected them.
/// Parts that cannot be read are left empty and reported.
pub fn reread_dynamic<'a>(elf: &mut Elf<'a>, data: &'a [u8]) -> Vec<FormatError> {
    let mut warnings = Vec::new();
    let ctx = Ctx::new(
        if elf.is_64 {
            Container::Big
        } else {
            Container::Little
        },
        if elf.little_endian {
            Endian::Little
        } else {
            Endian::Big
        },
    );
    elf.interpreter = elf
        .program_headers
        .iter()
        .filter(|ph| ph.p_type == program_header::PT_INTERP)
        .find_map(|ph| range(data, ph.p_offset, ph.p_filesz.saturating_sub(1)))
        .and_then(|b| std::str::from_utf8(b).ok());
    let dynamic = match Dynamic::parse(data, &elf.program_headers, ctx) {
        Ok(d) => d,
        Err(e) => {
            let at = elf
                .program_headers
                .iter()
                .find(|ph| ph.p_type == program_header::PT_DYNAMIC)
                .map_or(0, |ph| ph.p_offset);
            warnings.push(FormatError::at(
                ErrorKind::Corrupt,
                at,
                format!("dynamic segment unreadable at its address: {e}"),
            ));
            None
        }
    };
    let Some(dynamic) = dynamic else {
        elf.dynamic = None;
        return warnings;
    };
    let info = &dynamic.info;
    // Each table is named with the file offset the dynamic segment gives it.
    let mut note = |what: &str, at: usize, e: goblin::error::Error| {
        warnings.push(FormatError::at(
            ErrorKind::Corrupt,
            at as u64,
            format!("{what} unreadable: {e}"),
        ));
    };
    let dynstrtab = Strtab::parse(data, info.strtab, info.strsz, 0).unwrap_or_else(|e| {
        note("dynamic string table", info.strtab, e);
        Strtab::default()
    });
    elf.soname = (info.soname != 0)
        .then(|| dynstrtab.get_at(info.soname))
        .flatten();
    elf.libraries = if info.needed_count > 0 {
        dynamic.get_libraries(&dynstrtab)
    } else {
        Vec::new()
    };
    let mut relocs = |off: usize, size: usize, rela: bool, what: &str| {
        RelocSection::parse(data, off, size, rela, ctx).unwrap_or_else(|e| {
            note(what, off, e);
            RelocSection::default()
        })
    };
    elf.dynrelas = relocs(info.rela, info.relasz, true, "dynamic RELA relocations");
    elf.dynrels = relocs(info.rel, info.relsz, false, "dynamic REL relocations");
    let plt_rela = info.pltrel == dynamic::DT_RELA;
    elf.pltrelocs = relocs(info.jmprel, info.pltrelsz, plt_rela, "PLT relocations");
    let hashed = match (info.gnu_hash, info.hash) {
        (Some(g), _) => gnu_hash_count(data, g, ctx),
        (None, Some(h)) => word32(data, h.saturating_add(4), ctx).map(|n| n as usize),
        (None, None) => Some(0),
    };
    let max_reloc_sym = elf
        .dynrelas
        .iter()
        .chain(elf.dynrels.iter())
        .chain(elf.pltrelocs.iter())
        .map(|r| r.r_sym + 1)
        .max()
        .unwrap_or(0);
    let count = hashed.unwrap_or(0).max(max_reloc_sym);
    elf.dynsyms = Symtab::parse(data, info.symtab, count, ctx).unwrap_or_else(|e| {
        note("dynamic symbol table", info.symtab, e);
        Symtab::default()
    });
    elf.dynstrtab = dynstrtab;
    elf.dynamic = Some(dynamic);
    warnings
}

fn word32(data: &[u8], offset: impl TryInto<usize>, ctx: Ctx) -> Option<u32> {
    let at = offset.try_into().ok()?;
    let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if ctx.is_little_endian() {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}

/// Number of dynamic symbols per DT_GNU_HASH: the last chain of the highest bucket ends at
/// the last symbol (as goblin and the runtime linker count them).
fn gnu_hash_count(data: &[u8], offset: impl TryInto<usize>, ctx: Ctx) -> Option<usize> {
    let at: usize = offset.try_into().ok()?;
    let buckets = word32(data, at, ctx)? as usize;
    let symoffset = word32(data, at.checked_add(4)?, ctx)? as usize;
    let bloom_words = word32(data, at.checked_add(8)?, ctx)? as usize;
    let bloom_word = if ctx.is_big() { 8 } else { 4 };
    let buckets_at = at
        .checked_add(16)?
        .checked_add(bloom_words.checked_mul(bloom_word)?)?;
    let mut last = 0usize;
    for i in 0..buckets {
        last = last.max(word32(data, buckets_at.checked_add(i.checked_mul(4)?)?, ctx)? as usize);
    }
    if last < symoffset {
        return Some(symoffset);
    }
    // The chain walk ends at the file's end at the latest (a read past it gives None).
    let chains_at = buckets_at.checked_add(buckets.checked_mul(4)?)?;
    (last..).find_map(|sym| {
        let chain_at = chains_at.checked_add((sym - symoffset).checked_mul(4)?)?;
        match word32(data, chain_at, ctx) {
            Some(h) if h & 1 != 0 => Some(Some(sym + 1)),
            Some(_) => None,
            None => Some(None),
        }
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ph(p_type: u32, offset: u64, vaddr: u64, filesz: u64) -> ProgramHeader {
        ProgramHeader {
            p_type,
            p_offset: offset,
            p_vaddr: vaddr,
            p_filesz: filesz,
            p_memsz: filesz,
            ..Default::default()
        }
    }

    /// The qconn shape: a data segment packed 3 bytes before where PT_DYNAMIC says.
    #[test]
    fn dynamic_is_read_where_its_address_maps() {
        let mut data = vec![0xa5u8; 0x200];
        // a dynamic table at 0x10d (DT_NEEDED 1, DT_NULL), garbage at 0x110
        data[0x10d..0x115].copy_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0]);
        data[0x115..0x11d].fill(0);
        let mut phdrs = vec![
            ph(program_header::PT_LOAD, 0x100, 0x8000, 0x40),
            ph(program_header::PT_DYNAMIC, 0x110, 0x800d, 0x10),
        ];
        let moved = locate_by_address(&mut phdrs, &data, false, true);
        assert_eq!(
            moved,
            vec![OffsetMismatch {
                segment: "PT_DYNAMIC",
                vaddr: 0x800d,
                recorded_offset: 0x110,
                offset_used: 0x10d,
            }]
        );
        assert_eq!(phdrs[1].p_offset, 0x10d);
    }

    #[test]
    fn agreeing_or_implausible_addresses_change_nothing() {
        let mut data = vec![0u8; 0x200];
        data[0x10..0x20].copy_from_slice(b"/usr/lib/ldqnx.\0");
        // same bytes at both places: nothing to report
        data[0x110..0x120].copy_from_slice(b"/usr/lib/ldqnx.\0");
        let mut phdrs = vec![
            ph(program_header::PT_LOAD, 0x100, 0x1000, 0x100),
            ph(program_header::PT_INTERP, 0x10, 0x1010, 0x10),
        ];
        assert!(locate_by_address(&mut phdrs, &data, false, true).is_empty());
        // the address maps onto zeros, which are no interpreter path: the offset stays
        data[0x110..0x120].fill(0);
        assert!(locate_by_address(&mut phdrs, &data, false, true).is_empty());
        assert_eq!(phdrs[1].p_offset, 0x10);
    }

    #[test]
    fn gnu_hash_walk_is_bounded_by_the_file() {
        // one bucket pointing at symbol 5 whose chain never ends before the file does
        let ctx = Ctx::new(Container::Little, Endian::Little);
        let mut d = vec![0u8; 64];
        d[0..4].copy_from_slice(&1u32.to_le_bytes()); // buckets
        d[4..8].copy_from_slice(&1u32.to_le_bytes()); // symoffset
        d[8..12].copy_from_slice(&1u32.to_le_bytes()); // bloom words
        d[20..24].copy_from_slice(&5u32.to_le_bytes()); // bucket 0
        assert_eq!(gnu_hash_count(&d, 0usize, ctx), None);
    }
}
