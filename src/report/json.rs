//! The JSON rendering: the contract of `docs/json-report.md`.

use super::Report;

pub fn render(report: &Report) -> String {
    // Sized for the report up front (about a KiB per item), so the text of a large scan is
    // not copied over and over as it grows.
    let items: usize = report
        .targets
        .iter()
        .map(|t| t.binaries.len() + t.libc.len() + t.images.len() + t.errors.len())
        .sum();
    let mut out = Vec::with_capacity(items.saturating_mul(1024).saturating_add(64 * 1024));
    // Serialising plain structs of strings, numbers and vectors cannot fail.
    if let Err(e) = serde_json::to_writer_pretty(&mut out, report) {
        return format!("{{\"error\": \"{e}\"}}\n");
    }
    out.push(b'\n');
    // serde_json writes UTF-8 only; were it ever not, the text is kept, not dropped.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
