#![no_main]
use libfuzzer_sys::fuzz_target;
use badalloc_audit::container::lzo::lzo1x_decompress;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = lzo1x_decompress(data, &mut out, 1 << 20);
    assert!(out.len() <= 1 << 20);
});
