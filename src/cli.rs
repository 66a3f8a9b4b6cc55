//! The command-line interface definition (clap derive). Kept in the library so the man page
//! and shell completions can be generated from the same definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};

pub const EXIT_CODES: &str = "\
Exit status:
  0  no target is affected or inconclusive (all not-affected, patched or not-qnx)
  1  at least one target is affected
  2  usage error (the output is refused before anything is scanned)
  3  some target is inconclusive and none is affected
  4  a PATH could not be read at all (and none is affected)
  5  the report could not be written (outranks every other status)

Partial results: a file or image entry that cannot be read or parsed is listed in the
report's errors (its path, virtual inside images, and offset) and the scan goes on; such
errors do not change the exit status. Only a PATH that cannot be read at all gives 4.
A reader that goes away (a closed pipe, `| head`) is not an error: the output stops and
the status is the one above.";

#[derive(Debug, Parser)]
#[command(
    name = "badalloc-audit",
    version,
    propagate_version = true,
    about = "Finds QNX firmware exposed to CVE-2021-22156 (BadAlloc) by reading the machine code of every calloc",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan firmware trees, mounted partitions or single files; one verdict per PATH.
    #[command(after_help = EXIT_CODES)]
    Scan {
        /// Directories or files to audit; each is one target.
        #[arg(required = true, value_name = "PATH", value_hint = ValueHint::AnyPath)]
        paths: Vec<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Worker threads, 1 to 64 (default: one per core, at most 64).
        #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs)]
        jobs: Option<usize>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Show the calloc analysis of one ELF file: the chain of functions followed, the decisive
    /// instructions, the verdict and the reason, with an annotated disassembly.
    Inspect {
        /// The ELF file: a path on disk, or the virtual path `scan` prints for a file inside
        /// an image, such as fw.ifs!/proc/boot/libc.so.3 (in a boot image),
        /// dump.bin@0x40000!/lib/libc.so.3 (in an image carved at an offset) or
        /// fw.tar.gz!/a.img!/lib/libc.so.3 (in nested images).
        #[arg(value_name = "FILE", value_hint = ValueHint::FilePath)]
        file: std::path::PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = InspectFormat::Text)]
        format: InspectFormat,
    },
    /// Compare two JSON reports of the same device (e.g. before and after patching).
    /// Targets are matched by path; a target of BEFORE missing from AFTER is "not
    /// re-scanned". Exits 1 while anything may still be exposed (in AFTER, or a target
    /// affected, inconclusive or unreadable in BEFORE that AFTER does not hold), 3 when
    /// nothing is but a target of AFTER is inconclusive or unreadable, 0 otherwise.
    Diff {
        /// The earlier JSON report (`scan --format json`).
        #[arg(value_name = "BEFORE.json", value_hint = ValueHint::FilePath)]
        before: std::path::PathBuf,
        /// The later JSON report of the same device.
        #[arg(value_name = "AFTER.json", value_hint = ValueHint::FilePath)]
        after: std::path::PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = InspectFormat::Text)]
        format: InspectFormat,
        /// The reports hold one target each, the same device scanned from two paths:
        /// compare them whatever their paths.
        #[arg(long)]
        same_target: bool,
    },
    /// List the contents of a boot image, file system image, archive or raw dump (like dumpifs).
    Ls {
        /// The file to list: an image, or a raw dump with images inside.
        #[arg(value_name = "IMAGE", value_hint = ValueHint::FilePath)]
        image: std::path::PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = InspectFormat::Text)]
        format: InspectFormat,
    },
    /// Unpack an image into DIR (created if needed). The only command that writes files: it
    /// refuses paths that would land outside DIR and never writes through a link.
    Extract {
        /// The image (or raw dump) to unpack.
        #[arg(value_name = "IMAGE", value_hint = ValueHint::FilePath)]
        image: std::path::PathBuf,
        /// Where to unpack it.
        #[arg(value_name = "DIR", value_hint = ValueHint::DirPath)]
        dir: std::path::PathBuf,
        /// In a raw dump holding several images, the offset of the one to unpack (as listed by `ls`).
        #[arg(long, value_parser = parse_offset)]
        offset: Option<u64>,
    },
    /// Merge JSON and NDJSON reports (from one machine or many) into one table per device:
    /// verdict, release, C library, static copies, worst exposed service, with counts per
    /// verdict and per release. A device path met in several reports keeps every row,
    /// marked. Exits like scan: 1 if any device is affected, else 4 if any is unreadable or
    /// an input could not be read, else 3 if any is inconclusive, else 0.
    Summary {
        /// Reports written by `scan --format json` or `--format ndjson`.
        #[arg(required = true, value_name = "REPORT")]
        reports: Vec<PathBuf>,
        /// Table format: text for a terminal, CSV for a spreadsheet, HTML for a browser.
        #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
        format: SummaryFormat,
    },
    /// Print shell completions for SHELL to standard output.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output.
    Man,
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Write the report to FILE instead of standard output: a regular file is replaced
    /// atomically (a new temporary file renamed into place); a device, FIFO or symbolic link
    /// (/dev/null, /dev/stdout) is written directly. Refused, before the scan, when FILE is
    /// a scanned file (or a link to one), lies inside a scanned directory, is a directory or
    /// its directory cannot be written.
    #[arg(long, short = 'o', value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    /// No progress bar, and no verdict on standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For a field engineer: verdict first, then evidence.
    Text,
    /// The versioned report of docs/json-report.md.
    Json,
    /// SARIF 2.1.0, one result per finding (docs/formats.md).
    Sarif,
    /// CycloneDX 1.5 with a VEX statement for CVE-2021-22156 (docs/formats.md).
    Cyclonedx,
    /// One self-contained page (no network, no script), printable on A4.
    Html,
    /// One JSON record per line, each written as its target finishes (docs/json-report.md).
    Ndjson,
}

/// Formats of `summary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    /// One aligned table with counts, for a terminal.
    Text,
    /// One row per device, for a spreadsheet.
    Csv,
    /// One self-contained page, for a browser.
    Html,
}

/// Formats of the per-file and comparison commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectFormat {
    /// For a reader.
    Text,
    /// For a program.
    Json,
}

pub use crate::scan::MAX_JOBS;

fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!("must be a number from 1 to {MAX_JOBS}")),
    }
}

/// Offsets as printed by `ls`: hexadecimal with `0x`, or decimal.
fn parse_offset(s: &str) -> Result<u64, String> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("not an offset: {e}"))
}
