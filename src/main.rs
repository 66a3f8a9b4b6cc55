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

use badalloc_audit::cli::{Cli, Command, Format, InspectFormat, OutputArgs};
use badalloc_audit::names::escape_text;
use badalloc_audit::output::{self, use_color, Destination};
use badalloc_audit::progress::TerminalProgress;
use badalloc_audit::report::{self, Report, Verdict};
use badalloc_audit::scan::worker_threads;
use badalloc_audit::{diff, image_cmd, inspect, manual, scan, ScanOptions};
use clap::Parser;

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
                    InspectFormat::Json => {
                        serde_json::to_string_pretty(&i).unwrap_or_default() + "\n"
                    }
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
            Ok(images) => {
                let text = match format {
                    InspectFormat::Text => image_cmd::render_text(&image, &images),
                    InspectFormat::Json => {
                        serde_json::to_string_pretty(&images).unwrap_or_default() + "\n"
                    }
                };
                // An image that could not be opened is listed, and the status says so.
                let status = if image_cmd::any_unreadable(&images) {
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
                    "extracted {} files ({} bytes), {} directories, {} symlinks into {}; {} skipped\n",
                    summary.files,
                    summary.bytes,
                    summary.dirs,
                    summary.symlinks,
                    dir.display(),
                    summary.skipped.len()
                );
                print(line.as_bytes(), 0)
            }
            Err(e) => fail(&e, EXIT_UNREADABLE),
        },
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
    let report = scan(paths, &options);
    let color = destination.is_none()
        && use_color(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR"),
        );
    let render = || match format {
        Format::Text => report::text::render_with(&report, color),
        Format::Json => report::json::render(&report),
        Format::Sarif => report::sarif::render(&report),
        Format::Cyclonedx => report::cyclonedx::render(&report),
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
    let status = exit_status(&report);
    let code = match destination {
        Some(d) => write_to(d, text.as_bytes(), status),
        None => print(text.as_bytes(), status),
    };
    // Freeing a large report piece by piece only delays the exit: the process
    // gives all its memory back at once.
    std::mem::forget(report);
    std::mem::forget(text);
    code
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
fn exit_status(report: &Report) -> u8 {
    let any = |v: Verdict| report.targets.iter().any(|t| t.verdict == v);
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
