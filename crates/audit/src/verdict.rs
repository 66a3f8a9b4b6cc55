//! The verdict of a target: the one word the whole audit comes to. A domain type of its
//! own, below the report model and the rule table that both name it; its serde names are
//! those of the JSON report (schema v1).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
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
}
