#![no_main]
use badalloc_audit::container;
use libfuzzer_sys::fuzz_target;

// Panics the library contains on purpose (goblin, the instruction decoders) are not
// crashes: only a panic that escapes to the harness is.
fuzz_target!(init: fuzz_support::quiet_contained_panics(), |data: &[u8]| {
    for (off, kind) in container::carve(data) {
        assert!((off as usize) < data.len());
        if let Some(slice) = data.get(off as usize..) {
            fuzz_support::open_and_read_all(slice, kind);
        }
    }
});
