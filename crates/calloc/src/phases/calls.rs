//! Calls: what each call or tail branch the replay saw does with nmemb, size and their
//! product: an allocator receiving the product (unchecked when unguarded), a callee that
//! decides (analysed in turn, up to [`MAX_CHAIN_DEPTH`]), or a target that cannot be
//! analysed (unknown).

use std::collections::BTreeMap;

use crate::dataflow::{div_tag, FACTORS, P};
use crate::{
    division_helper, harmless, line, Analyzer, CallSite, FnResult, Outcome, TargetName,
    MAX_CHAIN_DEPTH,
};

/// What the calls of one function say, first finding of each kind.
#[derive(Default)]
pub(crate) struct CallFindings<'s, 'c, 'a> {
    /// An allocation of the product with no overflow test on the way (here or in a callee).
    pub unchecked: Option<FnResult>,
    /// A product that reaches what could not be analysed.
    pub unknown: Option<String>,
    /// Only nmemb or size reach what could not be analysed.
    pub soft_unknown: Option<String>,
    /// A callee that checks.
    pub callee_checked: Option<FnResult>,
    /// A call receiving the product behind an overflow test.
    pub guarded_use: Option<&'s CallSite<'c, 'a>>,
}

/// The function whose calls are judged: its name and display address, the analysis depth.
pub(crate) struct Caller<'n> {
    pub name: &'n str,
    pub addr: u64,
    pub depth: usize,
}

impl<'a> Analyzer<'_, 'a> {
    /// Judge every call in `calls`; `unguarded` per block position (see
    /// [`super::unguarded::region`]). Allocations get a note in `notes_at`.
    pub(crate) fn judge_calls<'s, 'c>(
        &mut self,
        calls: &'s [CallSite<'c, 'a>],
        unguarded: &[bool],
        notes_at: &mut BTreeMap<u64, String>,
        caller: &Caller,
    ) -> CallFindings<'s, 'c, 'a> {
        let mut f = CallFindings::default();
        for c in calls {
            let guarded = !unguarded.get(c.block).copied().unwrap_or(false);
            let has_p = c.args.iter().any(|a| a.may & P != 0);
            let has_factor = c.args.iter().any(|a| a.may & FACTORS != 0);
            if let Some(n) = &c.target.name {
                if let Some(i) = self.alloc_arg(&c.target, n) {
                    let gets_p = c.args.get(i).is_some_and(|a| a.may & P != 0);
                    if gets_p {
                        self.note_allocation(&mut f, c, guarded, notes_at, caller);
                    }
                    continue;
                }
                if harmless(n) || division_helper(n, false).is_some() {
                    continue;
                }
            }
            if !has_factor {
                continue;
            }
            if guarded {
                if has_p {
                    f.guarded_use.get_or_insert(c);
                }
                continue;
            }
            // Unguarded call that receives nmemb, size or their product. (A tail call is
            // not a division: calloc would return the quotient.)
            let is_div_heuristic = c.target.name.is_none()
                && !c.tail
                && div_tag(
                    &self.ctx,
                    &c.args.first().copied().unwrap_or_default(),
                    None,
                    &c.args.get(1).copied().unwrap_or_default(),
                )
                .is_some();
            if !is_div_heuristic {
                self.follow_call(&mut f, c, has_p, caller);
            }
        }
        f
    }

    /// An allocator receives the product: behind a test, or (the first time) unchecked.
    fn note_allocation<'s, 'c>(
        &self,
        f: &mut CallFindings<'s, 'c, 'a>,
        c: &'s CallSite<'c, 'a>,
        guarded: bool,
        notes_at: &mut BTreeMap<u64, String>,
        caller: &Caller,
    ) {
        if guarded {
            f.guarded_use.get_or_insert(c);
            return;
        }
        if f.unchecked.is_some() {
            return;
        }
        notes_at.insert(
            c.insn.addr,
            match c.target.display {
                TargetName::Role(..) => format!("{} receives the product", c.target.display),
                _ => format!("allocator {} receives the product", c.target.display),
            },
        );
        f.unchecked = Some(FnResult {
            outcome: Outcome::Unchecked,
            reason: String::new(),
            chain: vec![(caller.name.to_string(), caller.addr)],
            evidence: vec![line(self.lifter, c.insn, "allocation of the product")],
            listing: Vec::new(),
            ret: Default::default(),
        });
    }

    /// An unguarded call passes nmemb, size or the product on: analyse the callee, or say
    /// why it cannot be.
    fn follow_call(
        &mut self,
        f: &mut CallFindings,
        c: &CallSite<'_, 'a>,
        has_p: bool,
        caller: &Caller,
    ) {
        let depth = caller.depth;
        match c.target.def {
            Some(def) if depth < MAX_CHAIN_DEPTH => {
                let sub = self.analyze(def, &c.args, depth + 1);
                match &sub.outcome {
                    Outcome::Unchecked => {
                        if f.unchecked.is_none() {
                            let mut r = sub.clone();
                            r.chain.insert(0, (caller.name.to_string(), caller.addr));
                            r.evidence.insert(
                                0,
                                line(
                                    self.lifter,
                                    c.insn,
                                    &format!("nmemb/size passed on to {}", c.target.display),
                                ),
                            );
                            f.unchecked = Some(r);
                        }
                    }
                    Outcome::Checked => {
                        if f.callee_checked.is_none() {
                            let mut r = sub.clone();
                            r.chain.insert(0, (caller.name.to_string(), caller.addr));
                            f.callee_checked = Some(r);
                        }
                    }
                    Outcome::Unknown(why) => {
                        // A callee that got only nmemb/size (often stale argument
                        // registers on an error path) does not undermine an allocation
                        // guarded here; one that got the product does.
                        if has_p {
                            f.unknown.get_or_insert_with(|| why.clone());
                        } else {
                            f.soft_unknown.get_or_insert_with(|| why.clone());
                        }
                    }
                    // The product went into a function that does not allocate it.
                    Outcome::NoUse => {}
                }
            }
            Some(_) => {
                f.unknown.get_or_insert_with(|| {
                    format!(
                        "chain deeper than {MAX_CHAIN_DEPTH} functions at {} ({:#x})",
                        c.target.display,
                        self.lifter.display_addr(c.insn.addr)
                    )
                });
            }
            None => {
                let msg = format!(
                    "{} at {:#x} is passed to {}, which could not be analysed",
                    if has_p { "the product" } else { "nmemb/size" },
                    self.lifter.display_addr(c.insn.addr),
                    c.target.display
                );
                if has_p {
                    f.unknown.get_or_insert(msg);
                } else {
                    f.soft_unknown.get_or_insert(msg);
                }
            }
        }
    }
}
