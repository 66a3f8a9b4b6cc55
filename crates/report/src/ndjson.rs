//! `--format ndjson`: one JSON line per target, written as each target finishes, each line a
//! self-contained record (`docs/json-report.md`, "NDJSON"); and reading back any number of
//! JSON reports and NDJSON records (`summary`).

use serde::{Deserialize, Serialize};

use super::{Report, TargetReport, Tool};

/// One NDJSON line: the report's header with a single target.
#[derive(Serialize)]
struct RecordRef<'a> {
    schema_version: u32,
    tool: &'a Tool,
    target: &'a TargetReport,
}

/// The record of one target, on one line (ended by `\n`): serde_json writes no raw line
/// break inside a string, so a name cannot split a record.
pub fn line(schema_version: u32, tool: &Tool, target: &TargetReport) -> String {
    let record = RecordRef {
        schema_version,
        tool,
        target,
    };
    match serde_json::to_string(&record) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        // Serialising plain structs of strings, numbers and vectors cannot fail.
        Err(e) => format!("{{\"error\": {:?}}}\n", e.to_string()),
    }
}

/// Every target of a report, one line each.
pub fn render(report: &Report) -> String {
    report
        .targets
        .iter()
        .map(|t| line(report.schema_version, &report.tool, t))
        .collect()
}

/// A JSON report or an NDJSON record, read back: the fields of both, the others ignored.
#[derive(Deserialize)]
struct Document {
    schema_version: Option<u32>,
    tool: Option<Tool>,
    targets: Option<Vec<TargetReport>>,
    target: Option<TargetReport>,
}

/// One target read back, with where it was read (`file`, or `file:LINE` in an NDJSON file).
#[derive(Debug, Clone)]
pub struct ReadTarget {
    pub source: String,
    pub tool: Tool,
    pub target: TargetReport,
}

/// A part of an input that is not a report: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub source: String,
    pub message: String,
}

/// The targets of one input: a JSON report (`scan --format json`, pretty or on one line) or
/// an NDJSON stream of records (`--format ndjson`, or such streams concatenated). In a
/// stream, a line that is not a record is an error of its own and the next lines are read;
/// an empty file is an error (a job that died before its first line).
pub fn read(name: &str, text: &str) -> (Vec<ReadTarget>, Vec<ReadError>) {
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    let error = |source: String, message: String| ReadError { source, message };
    if text.trim().is_empty() {
        errors.push(error(name.to_string(), "holds no report".to_string()));
        return (targets, errors);
    }
    match serde_json::from_str::<Document>(text) {
        Ok(doc) => {
            // A record is one line: a file of one record is a stream of one line.
            let source = if doc.target.is_some() {
                format!("{name}:1")
            } else {
                name.to_string()
            };
            match accept(doc) {
                Ok((tool, found)) => targets.extend(found.into_iter().map(|target| ReadTarget {
                    source: source.clone(),
                    tool: tool.clone(),
                    target,
                })),
                Err(why) => errors.push(error(source, why)),
            }
        }
        Err(whole) => {
            let mut lines = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty());
            let first_is_record = lines
                .clone()
                .next()
                .is_some_and(|(_, l)| serde_json::from_str::<Document>(l).is_ok());
            if !first_is_record {
                // One document, broken (a pretty report cut short, or not a report).
                errors.push(error(
                    name.to_string(),
                    format!("not a badalloc-audit JSON report or NDJSON stream: {whole}"),
                ));
            } else {
                for (i, l) in lines.by_ref() {
                    let source = format!("{name}:{}", i + 1);
                    match serde_json::from_str::<Document>(l)
                        .map_err(|e| format!("not a report record: {e}"))
                        .and_then(accept)
                    {
                        Ok((tool, found)) => {
                            targets.extend(found.into_iter().map(|target| ReadTarget {
                                source: source.clone(),
                                tool: tool.clone(),
                                target,
                            }))
                        }
                        Err(why) => errors.push(error(source, why)),
                    }
                }
            }
        }
    }
    (targets, errors)
}

/// The targets of a document that is a report or a record, with the tool that wrote them.
fn accept(doc: Document) -> Result<(Tool, Vec<TargetReport>), String> {
    let (Some(_), Some(tool)) = (doc.schema_version, doc.tool) else {
        return Err("not a badalloc-audit report: no schema_version or tool".to_string());
    };
    match (doc.targets, doc.target) {
        (Some(targets), None) => Ok((tool, targets)),
        (None, Some(target)) => Ok((tool, vec![target])),
        (Some(_), Some(_)) => Err("both targets and target: not a report".to_string()),
        (None, None) => Err("not a badalloc-audit report: no targets".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_never_breaks_inside_a_record() {
        let mut t = TargetReport::from(badalloc_audit_core::scan::scan_bytes(
            "a\nb",
            b"not firmware\n",
        ));
        t.reasons.push("line one\nline two\r\u{2028}".into());
        let l = line(1, &Tool::default(), &t);
        assert_eq!(l.matches('\n').count(), 1);
        assert!(l.ends_with('\n'));
        let (back, errors) = read("x.ndjson", &l);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(back[0].target.path, "a\nb");
        assert_eq!(back[0].source, "x.ndjson:1");
    }
}
