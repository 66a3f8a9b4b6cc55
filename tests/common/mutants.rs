//! What every file-system reader must do with a mutated image: open it or refuse it with an
//! error inside the input, and read each listed file as its size, never past the limit.

use badalloc_formats::{open, ContainerKind, EntryType, Limits};

/// Mutants refused, entries listed, and entries that could not be read.
#[derive(Default)]
pub struct MutantTally {
    pub refused: usize,
    pub listed: usize,
    pub unreadable: usize,
}

impl MutantTally {
    /// Open one mutant as `kind` under `lim`, check it, and count what happened.
    pub fn check(&mut self, d: &[u8], kind: ContainerKind, lim: &Limits) {
        match open(d, kind, lim) {
            Err(e) => {
                assert!(!e.message.is_empty());
                assert!(e.offset.is_none_or(|o| o <= d.len() as u64), "{e}");
                self.refused += 1;
            }
            Ok(c) => {
                self.listed += c.entries().len();
                for e in c.entries() {
                    assert!(!e.path.is_empty() || e.entry_type == EntryType::Dir);
                    match c.read(e) {
                        // A file reads as its size, and never more than the limit.
                        Ok(b) if e.entry_type == EntryType::File => {
                            assert!(b.len() as u64 <= lim.max_expanded);
                            assert_eq!(b.len() as u64, e.size, "{}", e.path);
                        }
                        Ok(_) => {}
                        Err(err) => {
                            assert!(!err.message.is_empty());
                            self.unreadable += 1;
                        }
                    }
                }
            }
        }
    }

    /// Most mutants still open and list entries (so the checks ran); some fail.
    pub fn assert_both_seen(&self) {
        let MutantTally {
            refused,
            listed,
            unreadable,
        } = self;
        eprintln!("{refused} mutants refused, {listed} entries listed, {unreadable} unreadable");
        assert!(*listed > 1000, "{listed} entries listed");
        assert!(
            refused + unreadable > 0,
            "no mutant was refused or unreadable"
        );
    }
}
