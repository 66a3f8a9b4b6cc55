//! Print the calloc analysis of each file given on the command line (debugging aid).
use badalloc_calloc::analyze_calloc;
use badalloc_elf::ElfFile;

fn main() {
    let listing = std::env::var_os("LISTING").is_some();
    for path in std::env::args().skip(1) {
        let Ok(data) = std::fs::read(&path) else {
            println!("{path}: unreadable");
            continue;
        };
        let elf = match ElfFile::parse(&data) {
            Ok(e) => e,
            Err(e) => {
                println!("{path}: {e}");
                continue;
            }
        };
        match analyze_calloc(&elf) {
            None => println!("{path}: not-found"),
            Some(a) => {
                println!("{path}: {:?} chain={:?} — {}", a.verdict, a.chain, a.reason);
                for e in &a.evidence {
                    println!("    {} {}", e.address, e.text);
                }
                if listing {
                    for e in &a.listing {
                        println!("  | {} {}", e.address, e.text);
                    }
                }
            }
        }
    }
}
