#![no_main]
use libfuzzer_sys::fuzz_target;
use badalloc_audit::scan::scan_bytes;

fuzz_target!(|data: &[u8]| {
    let r = scan_bytes("fuzz.img", data);
    for e in &r.errors {
        assert!(e.path.starts_with("fuzz.img"), "error without the file's path: {e:?}");
    }
    let _ = serde_json::to_string(&r);
});
