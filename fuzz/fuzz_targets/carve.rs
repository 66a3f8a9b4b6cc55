#![no_main]
use badalloc_audit::container::{self, carve};
use libfuzzer_sys::fuzz_target;

// Panics the library contains on purpose (goblin, the instruction decoders) are not
// crashes: only a panic that escapes to the harness is.
//
// The carver (every signature: IFS, bare imagefs, QNX6, QNX4, EFS boot info, ETFS file
// table), then the images of the input as `scan` and `ls` take them (`images_of`): each
// opened, listed and read, claiming its span, the rest carved.
fuzz_target!(init: fuzz_support::quiet_contained_panics(), |data: &[u8]| {
    for (off, _) in container::carve(data) {
        assert!((off as usize) < data.len());
    }
    let mut last = None;
    carve::images_of(data, &|_| {}, &mut |off, kind| {
        // Offered in offset order, each inside the input.
        assert!((off as usize) < data.len() || off == 0);
        assert!(last.is_none_or(|l| l < off || (off == 0 && l == 0)));
        last = Some(off);
        let slice = data.get(off as usize..).unwrap_or_default();
        let Ok(c) = container::open(slice, kind, &fuzz_support::limits()) else {
            return carve::Taken::NotOpened;
        };
        let span = c.span();
        if let Some(s) = span {
            assert!(s <= slice.len() as u64, "{kind:?} claims past the input");
        }
        let _ = container::listing(c.as_ref());
        for e in c.entries() {
            let _ = c.read(e);
        }
        carve::Taken::Opened { span }
    });
});
