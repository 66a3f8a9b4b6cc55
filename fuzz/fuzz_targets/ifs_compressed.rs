#![no_main]
use badalloc_formats::ContainerKind;
use libfuzzer_sys::fuzz_target;

// Byte 0: compression (zlib, LZO, UCL) and byte order; bytes 1..5: the header's
// imagefs_size; the rest: the stored (compressed) imagefs behind a valid startup header.
// Panics the library contains on purpose (goblin, the instruction decoders) are not
// crashes: only a panic that escapes to the harness is.
fuzz_target!(init: fuzz_support::quiet_contained_panics(), |data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let comp = 1 + data[0] % 3;
    let big = data[0] & 0x80 != 0;
    let size = u32::from_le_bytes([data[1], data[2], data[3], data[4]]) % (8 << 20);
    let image = fuzz_support::wrap_ifs(comp, big, size, &data[5..]);
    fuzz_support::open_and_read_all(&image, ContainerKind::Ifs);
});
