//! Thin binary: parse arguments, call the library, map the outcome to an exit status.

use std::io::Write;
use std::process::ExitCode;

use badalloc_audit::cli::{Cli, Command, Format};
use badalloc_audit::report::{self, Report, Verdict};
use badalloc_audit::{scan, ScanOptions};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan {
            paths,
            format,
            jobs,
        } => {
            let report = scan(&paths, &ScanOptions { jobs });
            let text = match format {
                Format::Text => report::text::render(&report),
                Format::Json => report::json::render(&report),
            };
            if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("badalloc-audit: cannot write the report: {e}");
                    return ExitCode::from(4);
                }
            }
            ExitCode::from(exit_status(&report))
        }
    }
}

/// See `EXIT_CODES` in cli.rs: affected outranks unreadable, which outranks inconclusive.
fn exit_status(report: &Report) -> u8 {
    let any = |v: Verdict| report.targets.iter().any(|t| t.verdict == v);
    if any(Verdict::Affected) {
        1
    } else if any(Verdict::Error) {
        4
    } else if any(Verdict::Inconclusive) {
        3
    } else {
        0
    }
}
