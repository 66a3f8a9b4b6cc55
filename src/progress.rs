//! A progress bar on stderr for long scans: shown only when stderr is a terminal and only
//! once a scan has run for a second, so short scans and pipelines stay silent. It counts
//! bytes (what takes the time) and files, and estimates the time left from the bytes.

use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::scan::Progress;

/// How long a scan runs before the bar appears.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// How often the status text is rebuilt (the bar itself redraws at most 20 times a second).
const REFRESH_EVERY: Duration = Duration::from_millis(100);

/// Where the current target stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub files_found: u64,
    pub files_done: u64,
    pub bytes_found: u64,
    pub bytes_done: u64,
}

/// The status shown after the bar: `120.00 MiB of 1.00 GiB, 1200 of 10000 files,
/// 60.00 MiB/s, ETA 0:15`. The time left is the bytes left at the rate so far; unknown
/// (`ETA --:--`) before any byte is done. While the walk is still finding files the total
/// grows, and the estimate with it.
pub fn status_line(c: Counts, elapsed: Duration) -> String {
    let total = c.bytes_found.max(c.bytes_done);
    let secs = elapsed.as_secs_f64();
    let (rate, eta) = if c.bytes_done > 0 && secs > 0.0 {
        let rate = c.bytes_done as f64 / secs;
        let left = (total - c.bytes_done) as f64 / rate;
        (format!("{}/s", HumanBytes(rate as u64)), clock(left))
    } else {
        ("-/s".to_string(), "--:--".to_string())
    };
    format!(
        "{} of {}, {} of {} files, {rate}, ETA {eta}",
        HumanBytes(c.bytes_done),
        HumanBytes(total),
        c.files_done,
        c.files_found.max(c.files_done),
    )
}

/// `m:ss`, or `h:mm:ss` from an hour on.
fn clock(secs: f64) -> String {
    let s = secs.round().clamp(0.0, 359_999.0) as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, m, s) => format!("{m}:{s:02}"),
        (h, m, s) => format!("{h}:{m:02}:{s:02}"),
    }
}

struct State {
    counts: Counts,
    target_started: Instant,
    refreshed: Option<Instant>,
    shown: bool,
}

pub struct TerminalProgress {
    bar: ProgressBar,
    started: Instant,
    state: Mutex<State>,
}

impl TerminalProgress {
    /// A bar if stderr is a terminal, else None.
    pub fn for_stderr() -> Option<TerminalProgress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        let now = Instant::now();
        Some(TerminalProgress {
            bar,
            started: now,
            state: Mutex::new(State {
                counts: Counts::default(),
                target_started: now,
                refreshed: None,
                shown: false,
            }),
        })
    }

    /// Apply `change` to the counts and redraw: the bar from the bytes, the status text
    /// at most every [`REFRESH_EVERY`].
    fn update(&self, change: impl FnOnce(&mut Counts)) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut s.counts);
        let now = Instant::now();
        self.bar
            .set_length(s.counts.bytes_found.max(s.counts.bytes_done));
        self.bar.set_position(s.counts.bytes_done);
        if s.refreshed
            .is_none_or(|t| now.duration_since(t) >= REFRESH_EVERY)
        {
            s.refreshed = Some(now);
            self.bar
                .set_message(status_line(s.counts, now.duration_since(s.target_started)));
        }
        if !s.shown && self.started.elapsed() >= SHOW_AFTER {
            s.shown = true;
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}

impl Progress for TerminalProgress {
    fn target_started(&self, path: &str) {
        self.bar
            .set_prefix(crate::names::escape_text(path).into_owned());
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.counts = Counts::default();
        s.target_started = Instant::now();
        s.refreshed = None;
    }

    fn files_found(&self, files: u64) {
        self.update(|c| c.files_found += files);
    }

    fn bytes_found(&self, bytes: u64) {
        self.update(|c| c.bytes_found += bytes);
    }

    fn wants_bytes(&self) -> bool {
        true
    }

    fn file_done(&self, bytes: u64) {
        self.update(|c| {
            c.files_done += 1;
            c.bytes_done += bytes;
        });
    }

    fn target_done(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn bytes_files_rate_and_time_left() {
        let c = Counts {
            files_found: 10_000,
            files_done: 1_200,
            bytes_found: 1024 * MIB,
            bytes_done: 120 * MIB,
        };
        // 120 MiB in 2 s: 60 MiB/s, 904 MiB left: 15 s.
        assert_eq!(
            status_line(c, Duration::from_secs(2)),
            "120.00 MiB of 1.00 GiB, 1200 of 10000 files, 60.00 MiB/s, ETA 0:15"
        );
        // An hour and more.
        let slow = Counts {
            bytes_done: MIB,
            ..c
        };
        assert_eq!(
            status_line(slow, Duration::from_secs(10)),
            "1.00 MiB of 1.00 GiB, 1200 of 10000 files, 102.40 KiB/s, ETA 2:50:30"
        );
    }

    #[test]
    fn nothing_done_yet_and_totals_that_lag() {
        let c = Counts {
            files_found: 3,
            bytes_found: 5000,
            ..Counts::default()
        };
        assert_eq!(
            status_line(c, Duration::ZERO),
            "0 B of 4.88 KiB, 0 of 3 files, -/s, ETA --:--"
        );
        // Files examined before the walk's count reached the bar: never "5 of 3".
        let ahead = Counts {
            files_found: 3,
            files_done: 5,
            bytes_found: 10,
            bytes_done: 20,
        };
        assert_eq!(
            status_line(ahead, Duration::from_secs(1)),
            "20 B of 20 B, 5 of 5 files, 20 B/s, ETA 0:00"
        );
    }

    #[test]
    fn clock_format() {
        assert_eq!(clock(0.4), "0:00");
        assert_eq!(clock(59.6), "1:00");
        assert_eq!(clock(3599.0), "59:59");
        assert_eq!(clock(3600.0), "1:00:00");
        assert_eq!(clock(-5.0), "0:00");
        assert_eq!(clock(f64::INFINITY), "99:59:59");
    }
}
