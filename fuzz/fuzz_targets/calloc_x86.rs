#![no_main]
use libfuzzer_sys::fuzz_target;

const FIXTURES: &[&[u8]] = &[
    include_bytes!("../../fixtures/calloc/x86_64/unchecked-O2.so"),
    include_bytes!("../../fixtures/calloc/i686/unchecked-O2.so"),
];

// The first byte picks the fixture (e.g. ARM or Thumb, big or little endian); the rest
// replaces the body of its calloc.
fuzz_target!(init: fuzz_support::record_panics(), |data: &[u8]| {
    let Some((&pick, code)) = data.split_first() else {
        return;
    };
    fuzz_support::calloc_with_body(FIXTURES[pick as usize % FIXTURES.len()], code);
});
