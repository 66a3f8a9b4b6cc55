//! Thin binary: parse arguments, call the library, map the outcome to an exit status.
//!
//! One output policy for every command: a write error (a full disk, `/dev/full`, a closed
//! descriptor) is reported on standard error and exits [`EXIT_WRITE`], whatever the status
//! would have been; a reader that went away (a closed pipe) is no error: output stops and
//! the command exits with the status it would have had.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

mod cli;
mod manual;
mod output;
mod progress;

use badalloc_audit_core::scan::{scan_each, worker_threads};
use badalloc_audit_core::{image_cmd, inspect, scan, ScanOptions};
use badalloc_formats::names::{self, escape_path, escape_text};
use badalloc_report::{self as report, diff, Report, TargetReport, Tool, Verdict, SCHEMA_VERSION};
use clap::Parser;
use cli::{Cli, Command, Format, InspectFormat, OutputArgs, SummaryFormat};
use output::{use_color, Destination};
use progress::TerminalProgress;

const EXIT_USAGE: u8 = 2;
const EXIT_UNREADABLE: u8 = 4;
const EXIT_WRITE: u8 = 5;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_message(&e),
    };
    match cli.command {
        Command::Scan {
            paths,
            format,
            jobs,
            output,
        } => run_scan(&paths, format, jobs, &output),
        Command::Inspect { file, format } => match inspect::inspect(&file) {
            Ok(i) => print(
                match format {
                    InspectFormat::Text => inspect::render_text(&i),
                    InspectFormat::Json => report::inspect::render_json(i),
                }
                .as_bytes(),
                0,
            ),
            Err(e) => fail(&e, EXIT_UNREADABLE),
        },
        Command::Diff {
            before,
            after,
            format,
            same_target,
        } => run_diff(&before, &after, format, same_target),
        Command::Ls { image, format } => match image_cmd::list(&image) {
            Ok(listing) => {
                let images = &listing.images;
                let text = match format {
                    InspectFormat::Text => image_cmd::render_text(&image, images),
                    InspectFormat::Json => {
                        serde_json::to_string_pretty(images).unwrap_or_default() + "\n"
                    }
                };
                // An image that could not be opened is listed, a device not read to its
                // end is said, and the status says so.
                if let Some(u) = &listing.unread {
                    warn(&format!(
                        "{}: from offset {:#x} on not read: {}",
                        image.display(),
                        u.offset,
                        u.reason
                    ));
                }
                let status = if image_cmd::any_unreadable(images) || listing.unread.is_some() {
                    EXIT_UNREADABLE
                } else {
                    0
                };
                print(text.as_bytes(), status)
            }
            Err(e) => fail(&e, EXIT_UNREADABLE),
        },
        Command::Extract { image, dir, offset } => match image_cmd::extract(&image, &dir, offset) {
            Ok(summary) => {
                for (path, why) in &summary.skipped {
                    warn_raw(&format!(
                        "skipped {}: {}",
                        escape_text(path),
                        escape_text(why)
                    ));
                }
                let line = format!(
                    "extracted {} files ({} bytes, {} of them hard links), {} directories, {} symlinks into {}; {} skipped\n",
                    summary.files,
                    summary.bytes,
                    summary.hard_links,
                    summary.dirs,
                    summary.symlinks,
                    dir.display(),
                    summary.skipped.len()
                );
                // Stopped at the byte budget: said on standard error, exit status 4.
                let status = match &summary.stopped {
                    Some(why) => {
                        warn(&format!("{}: {why}", image.display()));
                        EXIT_UNREADABLE
                    }
                    None => 0,
                };
                print(line.as_bytes(), status)
            }
            Err(e) => fail(&e, EXIT_UNREADABLE),
        },
        Command::Summary { reports, format } => run_summary(&reports, format),
        Command::Completions { shell } => print(&manual::completion_script(shell), 0),
        Command::Man => match manual::man_page() {
            Ok(page) => print(&page, 0),
            Err(e) => fail(&e.to_string(), EXIT_WRITE),
        },
    }
}

/// `scan`: the output is checked first, then the targets are scanned and the report
/// rendered and written.
fn run_scan(
    paths: &[PathBuf],
    format: Format,
    jobs: Option<usize>,
    output: &OutputArgs,
) -> ExitCode {
    // Everything about the output is checked before anything is scanned.
    let destination = match &output.output {
        Some(out) => match output::prepare(out, paths) {
            Ok(d) => Some(d),
            Err(why) => {
                warn(&format!("refusing --output {}: {why}", out.display()));
                return ExitCode::from(EXIT_USAGE);
            }
        },
        None => match output::check_stdout(paths) {
            Ok(()) => None,
            Err(why) => {
                warn(&format!("refusing to scan: {why}"));
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    let progress = if output.quiet {
        None
    } else {
        TerminalProgress::for_stderr()
    };
    let options = ScanOptions {
        jobs,
        progress: progress.map(|p| Arc::new(p) as _),
    };
    let to_terminal = destination.is_none() && std::io::stdout().is_terminal();
    if format == Format::Ndjson && destination.is_none() {
        let (verdicts, closing, written) = stream_ndjson(paths, &options);
        let status = exit_status(&verdicts);
        let code = finish(written, "standard output", status);
        if !output.quiet && !to_terminal {
            warn_raw(closing.trim_end());
        }
        return code;
    }
    // The audit's findings become the report (the JSON contract) once, by value.
    let report = Report::from(scan(paths, &options));
    let color = to_terminal && use_color(true, std::env::var_os("NO_COLOR"));
    let render = || match format {
        Format::Text => report::text::render_with(&report, color),
        Format::Json => report::json::render(&report),
        Format::Sarif => report::sarif::render(&report),
        Format::Cyclonedx => report::cyclonedx::render(&report),
        Format::Html => report::html::render(&report),
        Format::Ndjson => report::ndjson::render(&report),
    };
    // On as many threads as the scan (the JSON of a large report is rendered in
    // parallel pieces).
    let text = match rayon::ThreadPoolBuilder::new()
        .num_threads(worker_threads(jobs))
        .build()
    {
        Ok(pool) => pool.install(render),
        Err(_) => render(),
    };
    let verdicts: Vec<Verdict> = report.targets.iter().map(|t| t.verdict).collect();
    let status = exit_status(&verdicts);
    let code = match destination {
        Some(d) => write_to(d, text.as_bytes(), status),
        None => print(text.as_bytes(), status),
    };
    // A report that does not go to a terminal (`> file`, `--output`, a pipe) still shows
    // its verdict there.
    if !output.quiet && !to_terminal {
        warn_raw(report::text::verdict_lines(&report, stderr_color()).trim_end());
    }
    // Freeing a large report piece by piece only delays the exit: the process
    // gives all its memory back at once.
    std::mem::forget(report);
    std::mem::forget(text);
    code
}

/// `scan --format ndjson` to standard output: each target's line is written as soon as the
/// target is done, and only its verdict is kept. Returns the verdicts, the closing lines
/// for standard error, and the first write error (later lines are not attempted).
fn stream_ndjson(
    paths: &[PathBuf],
    options: &ScanOptions,
) -> (Vec<Verdict>, String, std::io::Result<()>) {
    let tool = Tool::default();
    let color = stderr_color();
    let mut verdicts = Vec::new();
    let mut closing = String::new();
    let mut written = Ok(());
    scan_each(paths, options, |t| {
        let t = TargetReport::from(t);
        if written.is_ok() {
            let mut out = std::io::stdout().lock();
            let line = report::ndjson::line(SCHEMA_VERSION, &tool, &t);
            written = out.write_all(line.as_bytes()).and_then(|()| out.flush());
        }
        verdicts.push(t.verdict);
        closing.push_str(&report::text::verdict_line(&t, color));
    });
    if let Some(counts) = report::text::verdict_counts(&verdicts) {
        closing.push_str(&counts);
    }
    (verdicts, closing, written)
}

fn stderr_color() -> bool {
    use_color(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR"),
    )
}

/// `summary`: every report read (each target made a row as soon as it is read), then the
/// table rendered. An input that cannot be read is listed in the summary, and status 4.
fn run_summary(reports: &[PathBuf], format: SummaryFormat) -> ExitCode {
    let mut summary = report::summary::Summary::default();
    for p in reports {
        let name = escape_path(p);
        match read_report(p) {
            Ok(text) => {
                let (targets, errors) = report::ndjson::read(&name, &text);
                summary.add(targets, errors);
            }
            Err(e) => summary.add(
                vec![],
                vec![report::ndjson::ReadError {
                    source: name,
                    message: e,
                }],
            ),
        }
    }
    summary.finish();
    let text = match format {
        SummaryFormat::Text => report::summary::render_text(&summary),
        SummaryFormat::Csv => report::summary::render_csv(&summary),
        SummaryFormat::Html => report::summary::render_html(&summary),
    };
    print(text.as_bytes(), summary.exit_status())
}

/// A report's text, read whole (at most [`report::summary::MAX_REPORT_BYTES`]).
fn read_report(p: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(p).map_err(|e| format!("cannot read: {e}"))?;
    // A file's size says it before anything is read; a pipe is read up to the bound.
    if let Ok(m) = file.metadata() {
        if m.is_file() && m.len() > report::summary::MAX_REPORT_BYTES {
            return Err(format!(
                "{} bytes, larger than {} bytes: not read",
                m.len(),
                report::summary::MAX_REPORT_BYTES
            ));
        }
    }
    let mut bytes = Vec::new();
    file.take(report::summary::MAX_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > report::summary::MAX_REPORT_BYTES {
        return Err(format!(
            "larger than {} bytes: not read",
            report::summary::MAX_REPORT_BYTES
        ));
    }
    String::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 text at byte {}", e.utf8_error().valid_up_to()))
}

/// `diff`: the two reports read back, compared and the comparison printed.
fn run_diff(before: &Path, after: &Path, format: InspectFormat, same_target: bool) -> ExitCode {
    let load = |p: &Path| -> Result<Report, String> {
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a badalloc-audit JSON report: {e}", p.display()))
    };
    let (b, a) = match (load(before), load(after)) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) | (_, Err(e)) => return fail(&e, EXIT_USAGE),
    };
    let matching = if same_target {
        diff::Matching::SameTarget
    } else {
        diff::Matching::ByPath
    };
    let d = match diff::diff_with(&b, &a, matching) {
        Ok(d) => d,
        Err(e) => return fail(&e, EXIT_USAGE),
    };
    let text = match format {
        InspectFormat::Text => diff::render_text(&d),
        InspectFormat::Json => diff::render_json(&d),
    };
    print(text.as_bytes(), d.exit_status())
}

/// Help and version go to standard output under the common policy; usage errors to
/// standard error, status 2.
fn clap_message(e: &clap::Error) -> ExitCode {
    if e.use_stderr() {
        let _ = e.print();
        return ExitCode::from(EXIT_USAGE);
    }
    let color = use_color(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR"),
    );
    let text = if color {
        e.render().ansi().to_string()
    } else {
        e.render().to_string()
    };
    print(text.as_bytes(), 0)
}

/// Write `bytes` to standard output; `status` unless writing failed.
fn print(bytes: &[u8], status: u8) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let written = out.write_all(bytes).and_then(|()| out.flush());
    finish(written, "standard output", status)
}

/// Write the report to its `--output` destination; `status` unless writing failed.
fn write_to(destination: Destination, bytes: &[u8], status: u8) -> ExitCode {
    let name = destination.path().display().to_string();
    finish(destination.write(bytes), &name, status)
}

/// The common policy: a closed pipe ends the output quietly; any other write error is
/// reported and exits [`EXIT_WRITE`].
fn finish(written: std::io::Result<()>, name: &str, status: u8) -> ExitCode {
    match written {
        Ok(()) => ExitCode::from(status),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(status),
        Err(e) => fail(&format!("cannot write {name}: {e}"), EXIT_WRITE),
    }
}

fn fail(message: &str, status: u8) -> ExitCode {
    warn(message);
    ExitCode::from(status)
}

/// A message on standard error, prefixed with the program's name. Never panics: with
/// standard error closed or full there is nowhere left to say anything.
fn warn(message: &str) {
    warn_raw(&format!("badalloc-audit: {}", escape_text(message)));
}

fn warn_raw(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// See `EXIT_CODES` in cli.rs: affected outranks unreadable, which outranks inconclusive.
fn exit_status(verdicts: &[Verdict]) -> u8 {
    let any = |v: Verdict| verdicts.contains(&v);
    if any(Verdict::Affected) {
        1
    } else if any(Verdict::Error) {
        EXIT_UNREADABLE
    } else if any(Verdict::Inconclusive) {
        3
    } else {
        0
    }
}
