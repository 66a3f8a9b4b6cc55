//! File names as report text: a reversible escaping, so that two different names never share
//! one report path and no name can act on a terminal.
//!
//! A name (a file on disk, an entry inside an image, a symbolic link's target) is a string
//! of bytes. The report shows it as UTF-8 text, byte for byte, except:
//!
//! - a backslash is written `\\`;
//! - a byte that is not part of valid UTF-8 is written `\xHH` (two lowercase hex digits);
//! - a control character (U+0000–U+001F, U+007F, U+0080–U+009F) or a character that reorders
//!   or breaks lines on display (U+200E, U+200F, U+2028, U+2029, U+202A–U+202E,
//!   U+2066–U+2069) is written as its UTF-8 bytes, each as `\xHH`.
//!
//! [`unescape_name`] gives the bytes back: `\\` is a backslash, `\xHH` the byte HH, anything
//! else its UTF-8 bytes. Other text taken from firmware (boot scripts, `QNX_info` strings,
//! messages) is not a name: text renderings pass it through [`escape_text`], which writes
//! control and reordering characters as `\xHH` and leaves backslashes alone.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters shown as `\xHH` bytes: they move the cursor, erase, recolour, end a line or
/// reorder text on a terminal.
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Bytes that need no escaping: printable ASCII other than the backslash. Most names are
/// only these, and take the fast path.
fn is_plain(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
}

fn push_hex_bytes(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "\\x{b:02x}");
    }
}

fn push_escaped_char(out: &mut String, c: char) {
    let mut utf8 = [0u8; 4];
    push_hex_bytes(out, c.encode_utf8(&mut utf8).as_bytes());
}

/// Append the escaped form of the name `bytes` to `out`.
pub fn push_escaped_name(out: &mut String, bytes: &[u8]) {
    if is_plain(bytes) {
        // Printable ASCII: valid UTF-8 byte for byte.
        out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
        return;
    }
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else if is_unsafe_char(c) {
                push_escaped_char(out, c);
            } else {
                out.push(c);
            }
        }
        push_hex_bytes(out, chunk.invalid());
    }
}

/// The escaped form of the name `bytes` (see the module documentation).
pub fn escape_name(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    push_escaped_name(&mut out, bytes);
    out
}

/// The escaped form of a name the operating system gives (a file name, a link target).
pub fn escape_os(name: &std::ffi::OsStr) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        escape_name(name.as_bytes())
    }
    #[cfg(not(unix))]
    {
        escape_name(name.to_string_lossy().as_bytes())
    }
}

/// The escaped form of a path the user gave (a scan target).
pub fn escape_path(path: &std::path::Path) -> String {
    escape_os(path.as_os_str())
}

/// The bytes of an escaped name: the inverse of [`escape_name`]. A backslash that starts no
/// escape stands for itself.
pub fn unescape_name(name: &str) -> Vec<u8> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            if bytes.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            let hex = bytes
                .get(i + 2..i + 4)
                .filter(|_| bytes.get(i + 1) == Some(&b'x'))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Text from firmware or from the report, made safe for a terminal: control and reordering
/// characters become `\xHH` (per UTF-8 byte); everything else, backslashes included, is
/// kept. Names are already escaped ([`escape_name`]) and come out unchanged.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe_char(c) {
            push_escaped_char(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_unchanged() {
        for n in [
            "lib/libc.so.3",
            "proc/boot/procnto-smp-instr",
            "a b (1).txt",
            "ünïcödé",
        ] {
            assert_eq!(escape_name(n.as_bytes()), n);
        }
    }

    #[test]
    fn distinct_names_stay_distinct_and_come_back() {
        let names: [&[u8]; 9] = [
            b"libc.so.3\xff",
            b"libc.so.3\xfe",
            b"libc.so.3\\xff",
            b"libc.so.3\\",
            b"a\nb",
            b"a\\x0ab",
            b"\x1b[2K\rNOT AFFECTED",
            "rtl\u{202e}txt.exe".as_bytes(),
            "c1\u{9b}31m".as_bytes(),
        ];
        let escaped: Vec<String> = names.iter().map(|n| escape_name(n)).collect();
        for (i, a) in escaped.iter().enumerate() {
            assert!(!a.chars().any(is_unsafe_char), "{a:?}");
            assert_eq!(unescape_name(a), names[i], "{a}");
            for b in &escaped[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(escaped[0], "libc.so.3\\xff");
        assert_eq!(escaped[2], "libc.so.3\\\\xff");
        assert_eq!(escaped[4], "a\\x0ab");
        assert_eq!(escaped[7], "rtl\\xe2\\x80\\xaetxt.exe");
    }

    #[test]
    fn every_byte_pair_round_trips() {
        for a in 0..=255u8 {
            for b in [0u8, b'\\', b'x', 0x80, 0xc3, 0xa9, 0xff] {
                let n = [a, b, b'0', b'a'];
                assert_eq!(unescape_name(&escape_name(&n)), n);
            }
        }
    }

    #[test]
    fn text_escaping_leaves_backslashes_and_removes_controls() {
        assert_eq!(escape_text("C:\\dir"), "C:\\dir");
        assert_eq!(escape_text("a\u{1b}[31mb\r\n"), "a\\x1b[31mb\\x0d\\x0a");
        assert!(matches!(escape_text("plain"), Cow::Borrowed(_)));
    }
}
