//! Thin binary: parse arguments, call the library, map the outcome to an exit status.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use badalloc_audit::cli::{Cli, Command, Format, InspectFormat, OutputArgs};
use badalloc_audit::output::{inside_scanned_tree, use_color, write_atomically};
use badalloc_audit::progress::TerminalProgress;
use badalloc_audit::report::{self, Report, Verdict};
use badalloc_audit::{diff, image_cmd, inspect, scan, ScanOptions};
use clap::{CommandFactory, Parser};

const EXIT_USAGE: u8 = 2;
const EXIT_UNREADABLE: u8 = 4;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan {
            paths,
            format,
            jobs,
            output,
        } => {
            if let Some(out) = &output.output {
                if let Some(tree) = inside_scanned_tree(out, &paths) {
                    eprintln!(
                        "badalloc-audit: refusing to write {} inside the scanned tree {}",
                        out.display(),
                        tree.display()
                    );
                    return ExitCode::from(EXIT_USAGE);
                }
            }
            let progress = if output.quiet {
                None
            } else {
                TerminalProgress::for_stderr()
            };
            let options = ScanOptions {
                jobs,
                progress: progress.map(|p| Arc::new(p) as _),
            };
            let report = scan(&paths, &options);
            let color = output.output.is_none()
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
                .num_threads(jobs.unwrap_or(0))
                .build()
            {
                Ok(pool) => pool.install(render),
                Err(_) => render(),
            };
            if let Err(code) = emit(&output, &text) {
                return ExitCode::from(code);
            }
            let status = exit_status(&report);
            // Freeing a large report piece by piece only delays the exit: the process
            // gives all its memory back at once.
            std::mem::forget(report);
            std::mem::forget(text);
            ExitCode::from(status)
        }
        Command::Inspect { file, format } => match inspect::inspect(&file) {
            Ok(i) => print_or_fail(&match format {
                InspectFormat::Text => inspect::render_text(&i),
                InspectFormat::Json => serde_json::to_string_pretty(&i).unwrap_or_default() + "\n",
            }),
            Err(e) => {
                eprintln!("badalloc-audit: {e}");
                ExitCode::from(EXIT_UNREADABLE)
            }
        },
        Command::Diff {
            before,
            after,
            format,
        } => {
            let load = |p: &std::path::Path| -> Result<Report, String> {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                serde_json::from_str(&text)
                    .map_err(|e| format!("{}: not a badalloc-audit JSON report: {e}", p.display()))
            };
            let (b, a) = match (load(&before), load(&after)) {
                (Ok(b), Ok(a)) => (b, a),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("badalloc-audit: {e}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let d = diff::diff(&b, &a);
            let code = print_or_fail(&match format {
                InspectFormat::Text => diff::render_text(&d),
                InspectFormat::Json => diff::render_json(&d),
            });
            if d.still_exposed {
                ExitCode::from(1)
            } else {
                code
            }
        }
        Command::Ls { image, format } => match image_cmd::list(&image) {
            Ok(images) => {
                let text = match format {
                    InspectFormat::Text => image_cmd::render_text(&image, &images),
                    InspectFormat::Json => {
                        serde_json::to_string_pretty(&images).unwrap_or_default() + "\n"
                    }
                };
                print_or_fail(&text)
            }
            Err(e) => {
                eprintln!("badalloc-audit: {e}");
                ExitCode::from(EXIT_UNREADABLE)
            }
        },
        Command::Extract { image, dir, offset } => match image_cmd::extract(&image, &dir, offset) {
            Ok(summary) => {
                for (path, why) in &summary.skipped {
                    eprintln!("skipped {path}: {why}");
                }
                println!(
                    "extracted {} files ({} bytes, {} of them hard links), {} directories, {} symlinks into {}; {} skipped",
                    summary.files,
                    summary.bytes,
                    summary.hard_links,
                    summary.dirs,
                    summary.symlinks,
                    dir.display(),
                    summary.skipped.len()
                );
                match &summary.stopped {
                    Some(why) => {
                        eprintln!("badalloc-audit: {}: {why}", image.display());
                        ExitCode::from(EXIT_UNREADABLE)
                    }
                    None => ExitCode::SUCCESS,
                }
            }
            Err(e) => {
                eprintln!("badalloc-audit: {e}");
                ExitCode::from(EXIT_UNREADABLE)
            }
        },
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "badalloc-audit",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Man => {
            let man = clap_mangen::Man::new(Cli::command());
            match man.render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("badalloc-audit: {e}");
                    ExitCode::from(EXIT_UNREADABLE)
                }
            }
        }
    }
}

fn print_or_fail(text: &str) -> ExitCode {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("badalloc-audit: {e}");
            ExitCode::from(EXIT_UNREADABLE)
        }
        _ => ExitCode::SUCCESS,
    }
}

/// Print or write the report; on failure, the exit status to use.
fn emit(output: &OutputArgs, text: &str) -> Result<(), u8> {
    match &output.output {
        Some(path) => write_atomically(path, text).map_err(|e| {
            eprintln!("badalloc-audit: cannot write {}: {e}", path.display());
            EXIT_UNREADABLE
        }),
        None => match std::io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                eprintln!("badalloc-audit: cannot write the report: {e}");
                Err(EXIT_UNREADABLE)
            }
            _ => Ok(()),
        },
    }
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
