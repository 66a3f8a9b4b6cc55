//! The verdict rules as a table: one [`Rule`] per way `classify` decides, each with its id
//! (the prefix of the reason it adds: `R4: ...`), the verdict it gives and a one-line doc.
//! `docs/classification.md` explains them for readers; the header of each variant says how
//! the rule works and where it can be wrong, in the manner of cwe_checker's checks.
//!
//! A reason's id is how the report carries the rule: `Rule::of_reason` reads it back from
//! a reason's text (a report loaded from JSON has nothing else), through this table only.

use crate::verdict::Verdict;

/// What a rule does to the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gives {
    /// The rule decides the verdict.
    Verdict(Verdict),
    /// The rule lowers not-affected, patched, not-qnx and inconclusive to this verdict and
    /// leaves an affected one as it is.
    AtMost(Verdict),
    /// The rule adds a note and leaves the verdict as it is.
    Nothing,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct RuleRow {
    pub rule: Rule,
    /// The prefix of the reason, before `": "`.
    pub id: &'static str,
    pub gives: Gives,
    pub doc: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// NOT-FIRMWARE. How: every file of the target was read, and each is empty or text (no
    /// ELF, no image, no bytes of an unknown format). Checked before every other rule.
    /// False positives: firmware shipped as text (a hex or base64 dump) reads as text.
    /// False negatives: none that matter: any binary file keeps the target out of this rule.
    NotFirmware,
    /// R0. How: no ELF file was found and nothing else marks the target QNX.
    /// False positives: none (it never clears a target). False negatives: none; an
    /// encrypted image stays inconclusive, as it should.
    R0,
    /// R1. How: a QNX C library's calloc was followed to its multiply and no overflow test
    /// guards it. False positives: a test the analysis does not recognise (an unusual
    /// idiom); the reason quotes the instructions. False negatives: none by this rule; a
    /// calloc the analysis cannot follow is `unknown`, never `checked`.
    R1,
    /// R2. How: a static copy of calloc (named, or located in a stripped program) has no
    /// overflow test. False positives: as R1, and a located copy that is not the C
    /// library's (confidence medium, said in the reason). False negatives: a copy the
    /// search for calloc does not locate (reported in the caveat).
    R2,
    /// R3. How: ELF files were found and none carries a QNX marker. False positives: a QNX
    /// build stripped of every marker (no ldqnx, note, QNX_info, kernel calls). False
    /// negatives: none: a single marker makes the target QNX.
    R3,
    /// BADALLOC-CALLOC-UNCHECKED. How: with R3, a C library or static copy whose calloc is
    /// unchecked: the same flaw outside QNX, named without claiming the QNX CVE. False
    /// positives and negatives: as R1 and R2.
    FamilyUnchecked,
    /// R4. How: a decisive release (kernel, SONAME series, ABI lower bound) of 6.6.0 or later
    /// and no unchecked code. False positives: a custom build labelled as a fixed release
    /// with an old calloc that the tree does not hold (its C library missing). False
    /// negatives: none: unchecked code found is R1/R2 first.
    R4,
    /// R5. How: release 6.5.x and every QNX C library's calloc checked: the vendor's patch.
    /// False positives: as R1 inverted: a check the analysis takes for an overflow test.
    /// False negatives: none: an unreadable or undecided C library keeps it from firing.
    R5,
    /// R6. How: a decisive 6.5.x release and the code of calloc not verified checked.
    /// False positives and negatives: none; it decides nothing.
    R6,
    /// R7. How: a release before 6.5.0 whose QNX C libraries' calloc are all checked: a
    /// custom build with the fix backported. False positives: as R5.
    /// False negatives: none.
    R7,
    /// R8. How: a decisive release before 6.5.0 and calloc not verified checked: no patch
    /// exists. False positives: a backported fix in a C library that is not in the tree.
    /// False negatives: none.
    R8,
    /// R9. How: no decisive release, and every QNX C library's calloc checked. False
    /// positives: as R5. False negatives: none.
    R9,
    /// R10. How: no decisive release and calloc not verified checked. False positives and
    /// negatives: none; it decides nothing.
    R10,
    /// DAMAGED-IMAGE. How: an image was found that could not be read in full; what is
    /// missing may hold a C library or a static copy. False positives: damage in a part
    /// that holds nothing of the kind (the tool cannot know). False negatives: damage the
    /// formats do not detect (no checksum over the part that changed).
    DamagedImage,
    /// unread. How: a file named like a C library could not be read, in a target without a
    /// QNX marker. A note: false positives and negatives do not apply.
    Unread,
    /// note. How: unchecked code in a release labelled fixed: a custom or downgraded build.
    /// A note: false positives and negatives do not apply.
    FixedReleaseNote,
    /// caveat. How: stripped static QNX programs whose search for calloc left something
    /// open, calloc-like functions without an overflow test, and static copies of calloc
    /// whose analysis ended unknown (issue 15.7). Never decides. False negatives of R2 show
    /// up here.
    StrippedCaveat,
}

#[rustfmt::skip]
pub const RULES: [RuleRow; 17] = [
    row(Rule::NotFirmware, "NOT-FIRMWARE", Gives::Verdict(Verdict::NotQnx), "every file is empty or text: not firmware"),
    row(Rule::R0, "R0", Gives::Verdict(Verdict::Inconclusive), "no ELF file: nothing tells whether this is QNX"),
    row(Rule::R1, "R1", Gives::Verdict(Verdict::Affected), "a QNX C library's calloc has no overflow test"),
    row(Rule::R2, "R2", Gives::Verdict(Verdict::Affected), "a static copy of calloc has no overflow test"),
    row(Rule::R3, "R3", Gives::Verdict(Verdict::NotQnx), "ELF files, none with a QNX marker"),
    row(Rule::FamilyUnchecked, "BADALLOC-CALLOC-UNCHECKED", Gives::Verdict(Verdict::NotQnx), "an unchecked calloc outside QNX: the BadAlloc family"),
    row(Rule::R4, "R4", Gives::Verdict(Verdict::NotAffected), "a decisive release of 6.6.0 or later"),
    row(Rule::R5, "R5", Gives::Verdict(Verdict::Patched), "6.5.x and every QNX calloc checked"),
    row(Rule::R6, "R6", Gives::Verdict(Verdict::Inconclusive), "6.5.x and calloc not verified checked"),
    row(Rule::R7, "R7", Gives::Verdict(Verdict::Patched), "before 6.5.0 and every QNX calloc checked: a backport"),
    row(Rule::R8, "R8", Gives::Verdict(Verdict::Affected), "before 6.5.0, no patch exists, calloc not verified checked"),
    row(Rule::R9, "R9", Gives::Verdict(Verdict::NotAffected), "no decisive release, every QNX calloc checked"),
    row(Rule::R10, "R10", Gives::Verdict(Verdict::Inconclusive), "no decisive release, calloc not verified checked"),
    row(Rule::DamagedImage, "DAMAGED-IMAGE", Gives::AtMost(Verdict::Inconclusive), "an image could not be read in full"),
    row(Rule::Unread, "unread", Gives::Nothing, "a C library that could not be read is not an absent one"),
    row(Rule::FixedReleaseNote, "note", Gives::Nothing, "unchecked code in a release labelled fixed"),
    row(Rule::StrippedCaveat, "caveat", Gives::Nothing, "stripped programs the search left open, static copies left unknown"),
];

const fn row(rule: Rule, id: &'static str, gives: Gives, doc: &'static str) -> RuleRow {
    RuleRow {
        rule,
        id,
        gives,
        doc,
    }
}

impl Rule {
    pub fn row(self) -> &'static RuleRow {
        // The table holds one row per variant, in declaration order (tested below).
        &RULES[self as usize]
    }

    pub fn id(self) -> &'static str {
        self.row().id
    }

    /// A verdict rule (its id in capitals), as opposed to a note (`unread`, `note`,
    /// `caveat`) that leaves the verdict as it is.
    pub fn is_verdict_rule(self) -> bool {
        self.row().gives != Gives::Nothing
    }

    /// The rule whose id opens a reason (`"R4: ..."` → R4), looked up in the table.
    pub fn of_reason(reason: &str) -> Option<Rule> {
        let (id, _) = reason.split_once(':')?;
        RULES.iter().find(|r| r.id == id).map(|r| r.rule)
    }
}

/// One reason of a verdict: the rule that fired, and the sentence that opens with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub rule: Rule,
    pub text: String,
}

impl Reason {
    /// `"R4: " + what`: the text opens with the rule's id.
    pub fn new(rule: Rule, what: impl std::fmt::Display) -> Reason {
        Reason {
            rule,
            text: format!("{}: {what}", rule.id()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_rule_in_order_and_ids_read_back() {
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.rule as usize, i, "{}", r.id);
            let reason = Reason::new(r.rule, "x");
            assert_eq!(Rule::of_reason(&reason.text), Some(r.rule));
        }
        assert_eq!(Rule::of_reason("R: x"), None);
        assert_eq!(Rule::of_reason("no colon"), None);
        assert_eq!(Rule::of_reason("R11: x"), None);
        assert!(!Rule::StrippedCaveat.is_verdict_rule());
        assert!(Rule::DamagedImage.is_verdict_rule());
    }
}
