//! Verdict: one function's outcome from what the replay and the calls found, with its
//! reason and evidence lines. In order: an unchecked allocation (here or in a callee);
//! something unknown on the path of the product; a callee that checks; the product allocated
//! only behind an overflow test (checked); else unknown or "does not allocate the product".

use std::collections::BTreeMap;

use crate::cfg::Cfg;
use crate::dataflow::{self, P};
use crate::ir::{self, Lifter};
use crate::phases::calls::{CallFindings, Caller};
use crate::phases::replay::Events;
use crate::{dedup, hex, line, make_listing, sink_name, Analyzer, EvidenceLine, FnResult, Outcome};

/// The evidence: each noted instruction of `cfg` once, then `extra`, by address.
fn evidence(
    cfg: &Cfg,
    notes_at: &BTreeMap<u64, String>,
    lifter: &dyn Lifter,
    extra: &[EvidenceLine],
) -> Vec<EvidenceLine> {
    let mut ev: Vec<EvidenceLine> = Vec::new();
    for blk in &cfg.blocks {
        for i in cfg.insns(blk) {
            if let Some(n) = notes_at.get(&i.addr) {
                let address = hex(lifter.display_addr(i.addr));
                if !ev.iter().any(|e| e.address == address) {
                    ev.push(EvidenceLine {
                        address,
                        text: format!("{}  ; {n}", ir::insn_text(lifter, i)),
                    });
                }
            }
        }
    }
    for e in extra {
        if !ev.iter().any(|x| x.address == e.address) {
            ev.push(e.clone());
        }
    }
    // By address; the key is parsed once per line, not at every comparison.
    ev.sort_by_cached_key(|e| {
        u64::from_str_radix(e.address.trim_start_matches("0x"), 16).unwrap_or(0)
    });
    ev
}

impl Analyzer<'_, '_> {
    /// The result of the function `caller` from its events and call findings.
    pub(crate) fn verdict(
        &self,
        cfg: &Cfg,
        ev: &Events,
        found: CallFindings,
        caller: &Caller,
    ) -> FnResult {
        let lifter = self.lifter;
        let name = caller.name;
        let ret = ev
            .rets
            .iter()
            .copied()
            .reduce(dataflow::join_marked)
            .map(|r| r.0)
            .unwrap_or_default()
            .without_sp();
        // The whole listing is for `inspect`, which renders text; a scan reports evidence only.
        let listing = if ir::text_wanted() {
            make_listing(cfg, &ev.notes_at, lifter)
        } else {
            Vec::new()
        };
        let result =
            |outcome: Outcome, reason: String, evidence: Vec<EvidenceLine>, listing| FnResult {
                outcome,
                reason,
                chain: vec![(name.to_string(), caller.addr)],
                evidence,
                listing,
                ret,
            };
        if let Some(mut r) = found.unchecked {
            if r.chain.len() == 1 {
                // decided here
                let sink = r.evidence.first().cloned();
                r.evidence = evidence(cfg, &ev.notes_at, lifter, &[]);
                r.listing = listing;
                let mul = ev
                    .muls
                    .first()
                    .map(|m| format!(" of the multiply at {:#x}", lifter.display_addr(*m)))
                    .unwrap_or_default();
                r.reason = format!(
                    "the product{mul} reaches {} at {} with no overflow test on the way",
                    sink_name(&ev.calls, sink.as_ref()),
                    sink.map(|s| s.address).unwrap_or_default()
                );
            }
            return r;
        }
        if let Some(why) = found.unknown {
            let evidence = evidence(cfg, &ev.notes_at, lifter, &[]);
            return result(Outcome::Unknown(why), String::new(), evidence, listing);
        }
        if let Some(r) = found.callee_checked {
            return r;
        }
        if let (Some(&mul), Some(c), false) =
            (ev.muls.first(), found.guarded_use, ev.safe_edges.is_empty())
        {
            let tests: Vec<String> = ev.safe_edges.values().cloned().collect();
            let mut reason = format!(
                "the product of the multiply at {:#x} reaches {} at {:#x} only through an overflow test ({})",
                lifter.display_addr(mul),
                c.target.display,
                lifter.display_addr(c.insn.addr),
                dedup(tests).join("; ")
            );
            if !ev.heuristic_notes.is_empty() {
                reason.push_str(&format!(" [{}]", ev.heuristic_notes.join("; ")));
            }
            let extra = [line(lifter, c.insn, "allocation behind the test")];
            let evidence = evidence(cfg, &ev.notes_at, lifter, &extra);
            return result(Outcome::Checked, reason, evidence, listing);
        }
        let outcome = if let Some(s) = found.soft_unknown {
            Outcome::Unknown(s)
        } else if !ev.muls.is_empty() && ret.may & P == 0 {
            Outcome::Unknown(format!(
                "{name} multiplies nmemb by size at {:#x} but the product reaches no recognised allocator",
                lifter.display_addr(ev.muls[0])
            ))
        } else {
            Outcome::NoUse
        };
        let evidence = evidence(cfg, &ev.notes_at, lifter, &[]);
        result(outcome, String::new(), evidence, listing)
    }
}
