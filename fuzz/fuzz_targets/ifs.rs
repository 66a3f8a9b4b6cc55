#![no_main]
use badalloc_formats::{self as container, ContainerKind};
use libfuzzer_sys::fuzz_target;

// Panics the library contains on purpose (goblin, the instruction decoders) are not
// crashes: only a panic that escapes to the harness is.
fuzz_target!(init: fuzz_support::quiet_contained_panics(), |data: &[u8]| {
    let _ = container::detect(data);
    fuzz_support::open_and_read_all(data, ContainerKind::Ifs);
});
