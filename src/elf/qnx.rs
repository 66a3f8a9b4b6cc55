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
    fn qnx_note_reads_stack_payload() {
        let desc = [0, 0, 2, 0, 0, 0x10, 0, 0];
        let note = QnxNote::from_note("QNX", 3, &desc, true).expect("QNX note");
        assert_eq!(note.stack, Some((0x20000, 0x1000)));
        assert!(QnxNote::from_note("GNU", 3, &desc, true).is_none());
    }
}
