//! QNX-specific ELF content: the "QNX" note and the `QNX_info` section.

/// `QNT_STACK`: the note type QNX's linker writes (stack size, stack pre-allocation).
const QNT_STACK: u32 = 3;

/// Upper bound on `QNX_info` lines kept: real sections hold about ten.
const MAX_QNX_INFO_LINES: usize = 64;

/// The note named "QNX" that QNX's toolchain puts in executables and libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QnxNote {
    pub n_type: u32,
    /// Stack size and pre-allocation, when the payload has the 8-byte `QNT_STACK` shape.
    pub stack: Option<(u32, u32)>,
}

impl QnxNote {
    /// `little`: the file's byte order, which the payload words follow.
    pub fn from_note(name: &str, n_type: u32, desc: &[u8], little: bool) -> Option<QnxNote> {
        if name.trim_end_matches('\0') != "QNX" {
            return None;
        }
        let stack = if n_type == QNT_STACK && desc.len() >= 8 {
            Some((word(desc, 0, little), word(desc, 4, little)))
        } else {
            None
        };
        Some(QnxNote { n_type, stack })
    }
}

fn word(b: &[u8], at: usize, little: bool) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    if little {
        u32::from_le_bytes(w)
    } else {
        u32::from_be_bytes(w)
    }
}

/// Parse `QNX_info`: `KEY=value` lines (`use -i` prints them). Lines without `=` and
/// non-UTF-8 bytes are kept lossily; NUL bytes end the text.
pub fn parse_qnx_info(bytes: &[u8]) -> Vec<(String, String)> {
    let text_end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..text_end]);
    text.lines()
        .filter_map(|line| {
            let (k, v) = line.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), v.trim().to_string()))
        })
        .take(MAX_QNX_INFO_LINES)
        .collect()
}

/// How far past the loaded image `QNX_info` is looked for when the section table cannot
/// name it: mkifs and QNX's linker put it right after the loaded segments, among the few
/// non-allocated sections.
pub const MAX_QNX_INFO_SCAN: usize = 1 << 20;

/// Longest `QNX_info` block read from raw bytes: real ones are a few hundred bytes.
const MAX_QNX_INFO_BYTES: usize = 4096;

/// Keys of `QNX_info` besides NAME; a block found without section headers must carry two.
const QNX_INFO_KEYS: &[&str] = &[
    "DESCRIPTION",
    "DATE",
    "STATE",
    "HOST",
    "USER",
    "VERSION",
    "TAGID",
];

/// `QNX_info` found in raw bytes, for a file whose section table cannot name its sections:
/// a NUL-ended block of `KEY=value` lines that starts with `QNX_BUILDID=` or `NAME=` and
/// holds NAME and two other keys QNX's build writes. `bytes`: the part of the file past
/// the loaded image, at most [`MAX_QNX_INFO_SCAN`] bytes of it.
pub fn find_qnx_info(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let bytes = bytes.get(..bytes.len().min(MAX_QNX_INFO_SCAN))?;
    let starts = memchr::memmem::find_iter(bytes, b"QNX_BUILDID=")
        .chain(memchr::memmem::find_iter(bytes, b"NAME="))
        // `HOSTNAME=` is not a start
        .filter(|&p| p == 0 || !matches!(bytes[p - 1], b'A'..=b'Z' | b'_'));
    for start in starts {
        let block = &bytes[start..];
        let block = &block[..block.len().min(MAX_QNX_INFO_BYTES)];
        let Some(end) = block.iter().position(|&b| b == 0) else {
            continue;
        };
        let block = &block[..end];
        if !block
            .iter()
            .all(|&b| b == b'\n' || b == b'\t' || (0x20..0x7f).contains(&b))
        {
            continue;
        }
        let well_formed = block
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .all(|l| {
                l.iter().position(|&b| b == b'=').is_some_and(|eq| {
                    eq > 0
                        && l[..eq]
                            .iter()
                            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                })
            });
        let kv = parse_qnx_info(block);
        let has = |k: &str| kv.iter().any(|(key, _)| key == k);
        if well_formed && has("NAME") && QNX_INFO_KEYS.iter().filter(|k| has(k)).count() >= 2 {
            return Some(kv);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_qnx_info_shape() {
        let raw = b"NAME=libc.so\nDESCRIPTION=C runtime library\nDATE=2014/02/22-18:12:21-EST\nSTATE=stable\nVERSION=6.6.0\nTAGID=282\n\0\0";
        let kv = parse_qnx_info(raw);
        assert_eq!(kv.len(), 6);
        assert_eq!(kv[4], ("VERSION".to_string(), "6.6.0".to_string()));
        assert_eq!(kv[1].1, "C runtime library");
    }

    #[test]
    fn qnx_info_is_found_in_raw_bytes_and_look_alikes_are_not() {
        let mut tail = vec![0x14u8, 0, 0];
        tail.extend_from_slice(b"NAME=libc.so\nDESCRIPTION=C runtime library\nDATE=2009/06/08-14:56:13-CEST\nSTATE=Experimental\nVERSION=6.4.0\n\0\0");
        let kv = find_qnx_info(&tail).expect("QNX_info");
        assert!(kv.contains(&("VERSION".to_string(), "6.4.0".to_string())));
        // NAME alone, a lower-case key, HOSTNAME=, or no NUL end: not QNX_info
        for fake in [
            &b"NAME=x\nFOO=y\n\0"[..],
            b"NAME=x\nDATE=y\nstate=z\n\0",
            b"HOSTNAME=x\nDATE=y\nSTATE=z\n\0",
            b"NAME=x\nDATE=y\nSTATE=z\n",
        ] {
            assert_eq!(
                find_qnx_info(fake),
                None,
                "{}",
                String::from_utf8_lossy(fake)
            );
        }
        // found only within the scan bound
        let mut far = vec![0u8; MAX_QNX_INFO_SCAN];
        far.extend_from_slice(&tail);
        assert_eq!(find_qnx_info(&far), None);
    }

    #[test]
    fn qnx_note_reads_stack_payload() {
        let desc = [0, 0, 2, 0, 0, 0x10, 0, 0];
        let note = QnxNote::from_note("QNX", 3, &desc, true).expect("QNX note");
        assert_eq!(note.stack, Some((0x20000, 0x1000)));
        assert!(QnxNote::from_note("GNU", 3, &desc, true).is_none());
    }
}
