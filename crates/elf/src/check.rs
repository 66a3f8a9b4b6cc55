//! Structural checks of the ELF header tables before goblin reads them, so that an absurd
//! offset or count is reported with the offset where it was found, not as a generic
//! parse failure.

use badalloc_formats::{ErrorKind, FormatError};

/// Header fields the checks need, read in the file's byte order.
struct Ident {
    is_64: bool,
    little: bool,
}

fn read_uint(data: &[u8], at: usize, size: usize, little: bool) -> Option<u64> {
    let b = data.get(at..at.checked_add(size)?)?;
    let mut v = 0u64;
    for i in 0..size {
        let byte = if little { b[size - 1 - i] } else { b[i] };
        v = (v << 8) | u64::from(byte);
    }
    Some(v)
}

/// Check the identification bytes and the program/section header tables' bounds.
/// Returns a fatal error (the file cannot be an ELF we can read), or warnings about parts
/// that point outside the file.
pub fn check_tables(data: &[u8]) -> Result<Vec<FormatError>, FormatError> {
    let class = *data.get(4).ok_or_else(|| {
        FormatError::at(
            ErrorKind::Truncated,
            4,
            "ELF header truncated (no EI_CLASS)",
        )
    })?;
    let encoding = *data.get(5).ok_or_else(|| {
        FormatError::at(ErrorKind::Truncated, 5, "ELF header truncated (no EI_DATA)")
    })?;
    let id = Ident {
        is_64: match class {
            1 => false,
            2 => true,
            c => {
                return Err(FormatError::at(
                    ErrorKind::Corrupt,
                    4,
                    format!("invalid ELF class {c} (EI_CLASS must be 1 or 2)"),
                ))
            }
        },
        little: match encoding {
            1 => true,
            2 => false,
            e => {
                return Err(FormatError::at(
                    ErrorKind::Corrupt,
                    5,
                    format!("invalid ELF data encoding {e} (EI_DATA must be 1 or 2)"),
                ))
            }
        },
    };
    let header_size = if id.is_64 { 64 } else { 52 };
    if data.len() < header_size {
        return Err(FormatError::at(
            ErrorKind::Truncated,
            data.len() as u64,
            format!(
                "ELF header truncated: file is {} bytes, the header needs {header_size}",
                data.len()
            ),
        ));
    }
    // e_phoff, e_shoff, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
    let (w, off) = if id.is_64 {
        (8, [0x20, 0x28, 0x36, 0x38, 0x3a, 0x3c, 0x3e])
    } else {
        (4, [0x1c, 0x20, 0x2a, 0x2c, 0x2e, 0x30, 0x32])
    };
    let get = |at: usize, size: usize| read_uint(data, at, size, id.little).unwrap_or(0);
    let (phoff, shoff) = (get(off[0], w), get(off[1], w));
    let (phentsize, phnum, shentsize, shnum) = (
        get(off[2], 2),
        get(off[3], 2),
        get(off[4], 2),
        get(off[5], 2),
    );
    let len = data.len() as u64;
    let mut warnings = Vec::new();
    let table = |what: &str,
                 field_at: usize,
                 start: u64,
                 entsize: u64,
                 count: u64|
     -> Option<FormatError> {
        if count == 0 {
            return None;
        }
        let end = entsize
            .checked_mul(count)
            .and_then(|n| n.checked_add(start));
        match end {
            Some(end) if end <= len => None,
            _ => Some(FormatError::at(
                ErrorKind::Truncated,
                start,
                format!(
                    "{what} table ({count} entries of {entsize} bytes at offset {start:#x}, declared at header offset {field_at:#x}) runs past the end of the file ({len} bytes)"
                ),
            )),
        }
    };
    if let Some(e) = table("program header", off[0], phoff, phentsize, phnum) {
        // Without program headers nothing of a linked file can be located.
        return Err(e);
    }
    if let Some(e) = table("section header", off[1], shoff, shentsize, shnum) {
        warnings.push(e);
    }
    // The loader never reads section headers, so a damaged table costs only section names;
    // it is reported, and QNX markers are looked for where the loader looks.
    let shstrndx = get(off[6], 2);
    if shnum > 0 && shstrndx != SHN_UNDEF && shstrndx < SHN_LORESERVE && shstrndx >= shnum {
        warnings.push(FormatError::at(
            ErrorKind::Corrupt,
            shoff,
            format!(
                "section header table at offset {shoff:#x}: its name string table index {shstrndx:#x} (e_shstrndx, header offset {:#x}) is not one of its {shnum} entries, so no section name can be read",
                off[6]
            ),
        ));
    }
    Ok(warnings)
}

const SHN_UNDEF: u64 = 0;
/// Indexes from here on are reserved (SHN_XINDEX: the real index is elsewhere).
const SHN_LORESERVE: u64 = 0xff00;

#[cfg(test)]
mod tests {
    use super::*;

    fn header32(phoff: u32, phnum: u16, shoff: u32, shnum: u16) -> Vec<u8> {
        let mut h = vec![0u8; 52];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 1;
        h[5] = 1;
        h[0x1c..0x20].copy_from_slice(&phoff.to_le_bytes());
        h[0x20..0x24].copy_from_slice(&shoff.to_le_bytes());
        h[0x2a..0x2c].copy_from_slice(&32u16.to_le_bytes());
        h[0x2c..0x2e].copy_from_slice(&phnum.to_le_bytes());
        h[0x2e..0x30].copy_from_slice(&40u16.to_le_bytes());
        h[0x30..0x32].copy_from_slice(&shnum.to_le_bytes());
        h
    }

    #[test]
    fn absurd_program_header_count_is_fatal_with_offset() {
        let err = check_tables(&header32(0x7fff_0000, 0xffff, 0, 0)).unwrap_err();
        assert_eq!(err.offset, Some(0x7fff_0000));
        assert!(err.message.contains("65535 entries"), "{err}");
    }

    #[test]
    fn section_headers_past_end_are_a_warning() {
        let w = check_tables(&header32(0, 0, 0xdead_beef, 3)).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].offset, Some(0xdead_beef));
    }

    #[test]
    fn name_table_index_outside_the_section_table_is_a_warning() {
        let mut h = header32(0, 0, 0x34, 3);
        h.resize(0x34 + 3 * 40, 0);
        h[0x32..0x34].copy_from_slice(&0x7fffu16.to_le_bytes());
        let w = check_tables(&h).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].offset, Some(0x34));
        assert!(w[0].message.contains("0x7fff"), "{}", w[0]);
        // in range, undefined, or SHN_XINDEX: no warning
        for ok in [2u16, 0, 0xffff] {
            h[0x32..0x34].copy_from_slice(&ok.to_le_bytes());
            assert!(check_tables(&h).unwrap().is_empty(), "{ok:#x}");
        }
    }

    #[test]
    fn bad_class_and_truncation() {
        let mut h = header32(0, 0, 0, 0);
        h[4] = 9;
        assert_eq!(check_tables(&h).unwrap_err().offset, Some(4));
        assert!(check_tables(&h[..20]).is_err());
        assert!(check_tables(b"\x7fELF").is_err());
    }
}
