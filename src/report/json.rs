//! The JSON rendering: the contract of `docs/json-report.md`.

use super::Report;

pub fn render(report: &Report) -> String {
    // Serialising plain structs of strings, numbers and vectors cannot fail.
    let mut s =
        serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
