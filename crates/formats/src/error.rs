//! The error every parser returns: what went wrong, of which kind and, where it applies, the
//! byte offset.

use std::fmt;

/// What kind of problem an error is, so that a reader of the report can tell a bound that was
/// hit from damage in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The bytes contradict their format: a bad magic or checksum, a field out of range, a
    /// structure inconsistent with another, corrupt compressed data.
    Corrupt,
    /// The input ends before a structure it declares (read past the end).
    Truncated,
    /// A bound of the tool (docs/bounds.md) was reached, or memory for it ran out: the input
    /// may be fine, it was not read whole.
    BoundHit,
    /// The input could not be read at all (an I/O error, a file that is not a regular file).
    Unreadable,
    /// A well-formed input using something this tool does not read (a compression, a
    /// version, a file type).
    Unsupported,
}

impl ErrorKind {
    /// The name used in the JSON report (`errors[].kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Truncated => "truncated",
            ErrorKind::BoundHit => "bound-hit",
            ErrorKind::Unreadable => "unreadable",
            ErrorKind::Unsupported => "unsupported",
        }
    }

    pub fn from_name(name: &str) -> Option<ErrorKind> {
        [
            ErrorKind::Corrupt,
            ErrorKind::Truncated,
            ErrorKind::BoundHit,
            ErrorKind::Unreadable,
            ErrorKind::Unsupported,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem with the bytes of one input, located by offset where that makes sense.
///
/// Parsers return this instead of panicking; the scanner attaches the (virtual) path
/// and records it in the report's `errors`, then goes on with the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// Byte offset in the input where the problem was found, if known.
    pub offset: Option<u64>,
    pub kind: ErrorKind,
    pub message: String,
}

impl FormatError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        FormatError {
            offset: None,
            kind,
            message: message.into(),
        }
    }

    pub fn at(kind: ErrorKind, offset: u64, message: impl Into<String>) -> Self {
        FormatError {
            offset: Some(offset),
            kind,
            message: message.into(),
        }
    }

    /// The same error with `context` (an entry's path) put before its message.
    pub fn in_context(self, context: &str) -> Self {
        FormatError {
            message: format!("{context}: {}", self.message),
            ..self
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(off) => write!(f, "{} (at offset {:#x})", self.message, off),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FormatError {}
