#![no_main]
use libfuzzer_sys::fuzz_target;

/// Stripped static programs of every architecture (the search needs no symbol).
const FIXTURES: &[&[u8]] = &[
    include_bytes!("../../fixtures/calloc/x86_64/unchecked-O2.elf.stripped"),
    include_bytes!("../../fixtures/calloc/i686/unchecked-O2.elf.stripped"),
    include_bytes!("../../fixtures/calloc/arm/unchecked-O2.elf.stripped"),
    include_bytes!("../../fixtures/calloc/thumb2/unchecked-O2.elf.stripped"),
    include_bytes!("../../fixtures/calloc/aarch64/unchecked-O2.elf.stripped"),
    include_bytes!("../../fixtures/calloc/powerpc/unchecked-O2.elf.stripped"),
    include_bytes!("../../fixtures/calloc/mips/unchecked-O2.elf.stripped"),
    include_bytes!("../../fixtures/calloc/mipsel/unchecked-O2.elf.stripped"),
    include_bytes!("../../fixtures/calloc/sh4/unchecked-O2.elf.stripped"),
];

// The first byte picks the program; the rest replaces its code from the entry point on,
// and the search for calloc without symbols runs over it.
fuzz_target!(init: fuzz_support::record_panics(), |data: &[u8]| {
    let Some((&pick, code)) = data.split_first() else {
        return;
    };
    fuzz_support::locate_with_code(FIXTURES[pick as usize % FIXTURES.len()], code);
});
