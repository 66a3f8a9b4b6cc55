//! The JSON rendering: the contract of `docs/json-report.md`.
//!
//! The text is serde_json's pretty layout of [`Report`], byte for byte. A large scan's
//! report is megabytes of `binaries` entries, rendered while every other core idles at the
//! end of the scan: those entries are rendered in parallel (on the current rayon pool) as
//! pieces laid out at their depth in the report, and joined. The frame around them (the
//! report's and each target's fields) is written here in the derived field order; a test
//! holds it equal to serde_json's own rendering, so a field added to the model and not
//! here fails it.

use std::io::{self, Write};

use rayon::prelude::*;
use serde::Serialize;

use super::{BinaryReport, Report, TargetReport};

/// `binaries` entries per piece rendered on one thread: enough to amortise the task, few
/// enough to share a few thousand entries among the cores.
const ENTRIES_PER_PIECE: usize = 64;

pub fn render(report: &Report) -> String {
    let mut out = Vec::new();
    // Serialising plain structs of strings, numbers and vectors cannot fail.
    if let Err(e) = write_report(&mut out, report) {
        return format!("{{\"error\": \"{e}\"}}\n");
    }
    out.push(b'\n');
    // serde_json writes UTF-8 only; were it ever not, the text is kept, not dropped.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The report at level 0: the targets' `binaries` entries (in parallel pieces) and the
/// frames around them are rendered first, then joined into a buffer of the final size.
fn write_report(out: &mut Vec<u8>, report: &Report) -> io::Result<()> {
    // The frames are written while the pool renders the entries.
    let (binaries, frames) = rayon::join(
        || -> io::Result<Vec<Vec<Vec<u8>>>> {
            report
                .targets
                .iter()
                .map(|t| render_binaries(&t.binaries))
                .collect()
        },
        || -> io::Result<Vec<Frame>> {
            report
                .targets
                .iter()
                .map(|t| {
                    let mut frame = Frame::default();
                    write_target_fields(&mut frame, t)?;
                    Ok(frame)
                })
                .collect()
        },
    );
    let (binaries, frames) = (binaries?, frames?);
    let pieces: usize = binaries.iter().flatten().map(Vec::len).sum();
    let framed: usize = frames.iter().map(|f| f.before.len() + f.after.len()).sum();
    out.reserve(pieces + framed + 1024);
    out.write_all(b"{")?;
    field(out, 1, true, "schema_version", &report.schema_version)?;
    field(out, 1, false, "tool", &report.tool)?;
    key(out, 1, false, "targets")?;
    if report.targets.is_empty() {
        out.write_all(b"[]")?;
    } else {
        out.write_all(b"[")?;
        for (i, (frame, pieces)) in frames.iter().zip(&binaries).enumerate() {
            out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
            write_indent(out, 2)?;
            out.write_all(&frame.before)?;
            if pieces.is_empty() {
                out.write_all(b"[]")?;
            } else {
                out.write_all(b"[")?;
                for p in pieces {
                    out.write_all(p)?;
                }
                out.write_all(b"\n")?;
                write_indent(out, 3)?;
                out.write_all(b"]")?;
            }
            out.write_all(&frame.after)?;
        }
        out.write_all(b"\n")?;
        write_indent(out, 1)?;
        out.write_all(b"]")?;
    }
    out.write_all(b"\n}")
}

/// A target's object around the value of its `binaries` field.
#[derive(Default)]
struct Frame {
    before: Vec<u8>,
    after: Vec<u8>,
}

/// A target (an item of `targets`, level 2): its fields at level 3, in [`TargetReport`]'s
/// order.
fn write_target_fields(f: &mut Frame, t: &TargetReport) -> io::Result<()> {
    let w = &mut f.before;
    w.write_all(b"{")?;
    field(w, 3, true, "path", &t.path)?;
    field(w, 3, false, "kind", &t.kind)?;
    field(w, 3, false, "verdict", t.verdict.as_str())?;
    field(w, 3, false, "reasons", &t.reasons)?;
    field(w, 3, false, "os", &t.os)?;
    field(w, 3, false, "libc", &t.libc)?;
    key(w, 3, false, "binaries")?;
    let w = &mut f.after;
    field(w, 3, false, "symlinks", &t.symlinks)?;
    field(w, 3, false, "images", &t.images)?;
    field(w, 3, false, "errors", &t.errors)?;
    field(w, 3, false, "stats", &t.stats)?;
    field(w, 3, false, "exposure", &t.exposure)?;
    field(w, 3, false, "mitigations", &t.mitigations)?;
    w.write_all(b"\n")?;
    write_indent(w, 2)?;
    w.write_all(b"}")
}

/// The entries of a `binaries` array (level 4), in pieces rendered in parallel; each entry
/// with the separator that precedes it.
fn render_binaries(binaries: &[BinaryReport]) -> io::Result<Vec<Vec<u8>>> {
    binaries
        .par_chunks(ENTRIES_PER_PIECE)
        .enumerate()
        .map(|(n, chunk)| {
            let mut w = Vec::with_capacity(chunk.len() * 1536);
            for (i, b) in chunk.iter().enumerate() {
                w.write_all(if n == 0 && i == 0 { b"\n" } else { b",\n" })?;
                write_indent(&mut w, 4)?;
                value(&mut w, 4, b)?;
            }
            Ok(w)
        })
        .collect()
}

/// `"name": value` as an object member at `level`.
fn field<T: Serialize + ?Sized>(
    w: &mut Vec<u8>,
    level: usize,
    first: bool,
    name: &str,
    v: &T,
) -> io::Result<()> {
    key(w, level, first, name)?;
    value(w, level, v)
}

/// The separator, indentation and `"name": ` of an object member at `level`.
fn key(w: &mut Vec<u8>, level: usize, first: bool, name: &str) -> io::Result<()> {
    w.write_all(if first { b"\n" } else { b",\n" })?;
    write_indent(w, level)?;
    serde_json::to_writer(&mut *w, name)?;
    w.write_all(b": ")
}

fn value<T: Serialize + ?Sized>(w: &mut Vec<u8>, level: usize, v: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(
        w,
        PrettyAt {
            level,
            has_value: false,
        },
    );
    v.serialize(&mut ser).map_err(io::Error::from)
}

/// serde_json's `PrettyFormatter` (two spaces per level) for a value that starts `level`
/// levels deep.
struct PrettyAt {
    level: usize,
    has_value: bool,
}

impl PrettyAt {
    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level = self.level.saturating_sub(1);
        if self.has_value {
            w.write_all(b"\n")?;
            write_indent(w, self.level)?;
        }
        w.write_all(bracket)
    }

    fn next_line<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        write_indent(w, self.level)
    }
}

impl serde_json::ser::Formatter for PrettyAt {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.next_line(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.next_line(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

fn write_indent<W: ?Sized + Write>(w: &mut W, level: usize) -> io::Result<()> {
    for _ in 0..level {
        w.write_all(b"  ")?;
    }
    Ok(())
}
