//! The error every parser returns: what went wrong and, where it applies, the byte offset.

use std::fmt;

/// A problem with the bytes of one input, located by offset where that makes sense.
///
/// Parsers return this instead of panicking; the scanner attaches the (virtual) path
/// and records it in the report's `errors`, then goes on with the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// Byte offset in the input where the problem was found, if known.
    pub offset: Option<u64>,
    pub message: String,
}

impl FormatError {
    pub fn new(message: impl Into<String>) -> Self {
        FormatError {
            offset: None,
            message: message.into(),
        }
    }

    pub fn at(offset: u64, message: impl Into<String>) -> Self {
        FormatError {
            offset: Some(offset),
            message: message.into(),
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
