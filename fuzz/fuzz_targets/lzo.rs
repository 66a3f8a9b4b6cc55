#![no_main]
use badalloc_formats::lzo::lzo1x_decompress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = lzo1x_decompress(data, &mut out, 1 << 20);
    assert!(out.len() <= 1 << 20);
});
