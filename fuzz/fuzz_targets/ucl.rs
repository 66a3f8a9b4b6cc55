#![no_main]
use badalloc_formats::ucl::nrv2b_decompress_8;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = nrv2b_decompress_8(data, &mut out, 1 << 20);
    assert!(out.len() <= 1 << 20);
});
