//! The verdict of a target: the one word the whole audit comes to. A domain type of its
//! own, below the model and the rule table that both name it; its names (`as_str`) are
//! those the JSON report (schema v1) writes.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Affected,
    Patched,
    NotAffected,
    NotQnx,
    Inconclusive,
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Affected => "affected",
            Verdict::Patched => "patched",
            Verdict::NotAffected => "not-affected",
            Verdict::NotQnx => "not-qnx",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Error => "error",
        }
    }

    /// The verdict [`Verdict::as_str`] names.
    pub fn from_name(name: &str) -> Option<Verdict> {
        [
            Verdict::Affected,
            Verdict::Patched,
            Verdict::NotAffected,
            Verdict::NotQnx,
            Verdict::Inconclusive,
            Verdict::Error,
        ]
        .into_iter()
        .find(|v| v.as_str() == name)
    }
}
