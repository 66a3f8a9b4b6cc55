//! QNX6 power-safe file system (stub).
use std::borrow::Cow;

use super::{Container, ContainerKind, Entry, Limits, Note};
use crate::FormatError;

pub fn detect(_data: &[u8]) -> bool {
    false
}

pub struct Qnx6<'a> {
    _data: &'a [u8],
    entries: Vec<Entry>,
    notes: Vec<Note>,
}

impl<'a> Qnx6<'a> {
    pub fn open(_data: &'a [u8], _limits: &Limits) -> Result<Qnx6<'a>, FormatError> {
        Err(FormatError::new("qnx6: not implemented"))
    }
}

impl Container for Qnx6<'_> {
    fn kind(&self) -> ContainerKind {
        ContainerKind::Qnx6
    }
    fn entries(&self) -> &[Entry] {
        &self.entries
    }
    fn read(&self, _entry: &Entry) -> Result<Cow<'_, [u8]>, FormatError> {
        Err(FormatError::new("qnx6: not implemented"))
    }
    fn notes(&self) -> &[Note] {
        &self.notes
    }
}
