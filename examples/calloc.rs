//! Print the calloc analysis of each file given on the command line (debugging aid).
use badalloc_calloc::analyze_calloc;
use badalloc_calloc::locate::{locate, needs_search};
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
            None if needs_search(&elf) => {
                let t = std::time::Instant::now();
                let s = locate(&elf);
                println!(
                    "{path}: search {} in {:?}: {} ({} insns)",
                    s.outcome.as_str(),
                    t.elapsed(),
                    s.detail,
                    s.insns
                );
                for l in s.calloc.iter().chain(&s.calloc_like) {
                    println!(
                        "  {} at {:#x} (body {:#x}): {:?} chain={:?} — {}\n    why: {}",
                        if l.is_calloc { "calloc" } else { "calloc-like" },
                        l.entry,
                        l.function,
                        l.analysis.verdict,
                        l.analysis.chain,
                        l.analysis.reason,
                        l.why
                    );
                    for e in &l.shape {
                        println!("    shape {} {}", e.address, e.text);
                    }
                }
            }
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
