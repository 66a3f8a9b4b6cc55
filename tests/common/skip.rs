//! Every skip of the suite goes through here (tests/common, and unit tests in src/ by
//! `#[path]`): a test that lacks its material skips with [`skip_missing`], which fails
//! under CI (`CI=true`) or with `REQUIRE_CORPUS=1`, and is otherwise logged for the
//! summary line of `scripts/run-tests`.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

/// The shared corpus: `$BADALLOC_CORPUS`, else `../shared/corpus` beside the checkout.
/// The checkout's top directory (the one holding Cargo.lock), also when this file is
/// compiled into a crate under `crates/`.
fn workspace_root() -> PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(here)
        .to_path_buf()
}

pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("BADALLOC_CORPUS") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => workspace_root().join("../shared/corpus"),
    }
}

/// `CI=true` (or 1) or `REQUIRE_CORPUS=1`: missing material fails the test.
pub fn material_required() -> bool {
    let set = |k: &str| {
        std::env::var(k).is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true"))
    };
    set("CI") || set("REQUIRE_CORPUS")
}

/// What a skipped test lacked, for the summary line of `scripts/run-tests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lack {
    /// A file of the shared corpus (`../shared/corpus`, `$BADALLOC_CORPUS`).
    Corpus,
    /// The real C libraries `fixtures/download-debian.sh` fetches.
    Downloads,
    /// A program the test drives that CI installs (chromium for the HTML reports).
    Tool,
}

impl Lack {
    fn tag(self) -> &'static str {
        match self {
            Lack::Corpus => "corpus",
            Lack::Downloads => "downloads",
            Lack::Tool => "tool",
        }
    }
}

/// The test cannot run without `what`: fails under CI / `REQUIRE_CORPUS=1`, else is
/// recorded as skipped (stderr and the skip log).
pub fn skip_missing(lack: Lack, what: &str) {
    if material_required() {
        panic!(
            "test material missing: {what}. CI=true or REQUIRE_CORPUS=1 makes this a failure, \
             not a skip (corpus: {}; downloads: fixtures/download-debian.sh)",
            corpus_dir().display()
        );
    }
    record_skip(lack.tag(), what);
}

/// A skip for a limit of the machine, not missing material (a file system without sparse
/// files): recorded, never a failure.
pub fn skip_environment(why: &str) {
    record_skip("environment", why);
}

/// Where skips are logged: `$BADALLOC_SKIP_LOG` (set by scripts/run-tests), else a file in
/// cargo's temporary directory for integration tests.
pub fn skip_log() -> PathBuf {
    match std::env::var_os("BADALLOC_SKIP_LOG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        // Integration tests have cargo's temporary directory; unit tests in src/ do not.
        _ => option_env!("CARGO_TARGET_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join("skipped-tests.log"),
    }
}

fn record_skip(kind: &str, what: &str) {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| {
            s.rsplit_once('-')
                .map_or(s.clone(), |(name, _hash)| name.to_string())
        })
        .unwrap_or_default();
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    eprintln!("SKIP ({kind}): {binary}::{test}: {what}");
    let line = format!("{kind}\t{binary}::{test}\t{what}\n");
    // One write of one short line: concurrent tests append whole lines.
    let log = skip_log();
    if let Some(dir) = log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
    {
        let _ = f.write_all(line.as_bytes());
    }
}
