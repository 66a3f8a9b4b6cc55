#![no_main]
use badalloc_audit::container::{self, efs, ContainerKind};
use libfuzzer_sys::fuzz_target;

// The EFS reader on hostile bytes: detection, open, listing and every entry read, and the
// carver's entry points (probe at 0, partition start from a signature hit).
fuzz_target!(init: fuzz_support::quiet_contained_panics(), |data: &[u8]| {
    let _ = container::detect(data);
    fuzz_support::open_and_read_all(data, ContainerKind::Efs);
    let _ = efs::probe(data, 0);
    if let Some(at) = data.windows(8).position(|w| w == efs::SIGNATURE) {
        if let Some(start) = efs::partition_start(data, at) {
            assert!(efs::probe(data, start).is_some());
        }
    }
});
