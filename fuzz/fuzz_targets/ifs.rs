#![no_main]
use libfuzzer_sys::fuzz_target;
use badalloc_audit::container::{self, ContainerKind};

fuzz_target!(|data: &[u8]| {
    let _ = container::detect(data);
    fuzz_support::open_and_read_all(data, ContainerKind::Ifs);
});
