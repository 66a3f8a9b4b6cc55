#![no_main]
use badalloc_audit::container::{self, etfs, ContainerKind};
use libfuzzer_sys::fuzz_target;

// The ETFS reader on hostile bytes: layout detection, open, listing and every entry read,
// and the carver's probe (whose extent must lie inside the input).
fuzz_target!(init: fuzz_support::quiet_contained_panics(), |data: &[u8]| {
    let _ = container::detect(data);
    fuzz_support::open_and_read_all(data, ContainerKind::Etfs);
    if let Some(len) = etfs::probe(data, 0) {
        assert!(len <= data.len() as u64);
    }
});
