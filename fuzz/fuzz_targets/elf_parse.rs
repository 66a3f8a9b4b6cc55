#![no_main]
use badalloc_elf::ElfFile;
use badalloc_audit_core::facts::facts_of;
use libfuzzer_sys::fuzz_target;

// Panics the library contains on purpose (goblin, the instruction decoders) are not
// crashes: only a panic that escapes to the harness is.
fuzz_target!(init: fuzz_support::quiet_contained_panics(), |data: &[u8]| {
    if let Ok(elf) = ElfFile::parse(data) {
        let _ = elf.arch_name();
        let _ = elf.imports().count();
        for s in elf.exports() {
            let _ = elf.bytes_at(s.addr);
            let _ = elf.function_at(s.addr);
            let _ = elf.read_word(s.addr);
        }
        let _ = facts_of("fuzz.elf", &elf, None);
    }
});
