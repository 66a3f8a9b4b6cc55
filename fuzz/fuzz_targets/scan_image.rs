#![no_main]
use badalloc_audit_core::scan::scan_bytes;
use libfuzzer_sys::fuzz_target;

// Panics the library contains on purpose (goblin, the instruction decoders) are not
// crashes: only a panic that escapes to the harness is.
fuzz_target!(init: fuzz_support::quiet_contained_panics(), |data: &[u8]| {
    let r = scan_bytes("fuzz.img", data);
    for e in &r.errors {
        assert!(e.path.starts_with("fuzz.img"), "error without the file's path: {e:?}");
    }
    let _ = serde_json::to_string(&badalloc_report::TargetReport::from(r));
});
