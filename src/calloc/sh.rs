//! sh lifter (not yet implemented).

use super::ir::{ArgLoc, Insn, Lifter, Reg};
use crate::elf::ElfFile;

pub struct Sh<'e> {
    #[allow(dead_code)]
    elf: &'e ElfFile<'e>,
}

impl<'e> Sh<'e> {
    pub fn new(elf: &'e ElfFile<'e>) -> Sh<'e> {
        Sh { elf }
    }
}

impl Lifter for Sh<'_> {
    fn lift(&self, _addr: u64) -> Result<Insn, String> {
        Err("sh is not supported yet".into())
    }
    fn sp(&self) -> Reg {
        0
    }
    fn word_bits(&self) -> u32 {
        32
    }
    fn arg(&self, i: usize) -> ArgLoc {
        ArgLoc::Reg(i as Reg)
    }
    fn call_push(&self) -> i64 {
        0
    }
    fn ret_reg(&self) -> Reg {
        0
    }
    fn caller_saved(&self) -> &[Reg] {
        &[]
    }
    fn plt_slot(&self, _addr: u64) -> Option<u64> {
        None
    }
}
