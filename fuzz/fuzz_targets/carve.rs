#![no_main]
use libfuzzer_sys::fuzz_target;
use badalloc_audit::container;

fuzz_target!(|data: &[u8]| {
    for (off, kind) in container::carve(data) {
        assert!((off as usize) < data.len());
        if let Some(slice) = data.get(off as usize..) {
            fuzz_support::open_and_read_all(slice, kind);
        }
    }
});
