//! A progress bar on stderr for long scans: shown only when stderr is a terminal and only
//! once a scan has run for a second, so short scans and pipelines stay silent.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::scan::Progress;

/// How long a scan runs before the bar appears.
const SHOW_AFTER: Duration = Duration::from_secs(1);

pub struct TerminalProgress {
    bar: ProgressBar,
    started: Instant,
    shown: Mutex<bool>,
}

impl TerminalProgress {
    /// A bar if stderr is a terminal, else None.
    pub fn for_stderr() -> Option<TerminalProgress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} files {msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Some(TerminalProgress {
            bar,
            started: Instant::now(),
            shown: Mutex::new(false),
        })
    }
}

impl Progress for TerminalProgress {
    fn target_started(&self, path: &str) {
        self.bar.set_prefix(path.to_string());
        self.bar.set_length(0);
        self.bar.set_position(0);
    }

    fn files_found(&self, files: u64) {
        self.bar.inc_length(files);
    }

    fn file_done(&self, _bytes: u64) {
        self.bar.inc(1);
        if self.started.elapsed() >= SHOW_AFTER {
            if let Ok(mut shown) = self.shown.lock() {
                if !*shown {
                    *shown = true;
                    self.bar.set_draw_target(ProgressDrawTarget::stderr());
                }
            }
        }
    }

    fn target_done(&self) {
        self.bar.finish_and_clear();
    }
}
