//! The `ls` and `extract` commands: list or unpack the images in one file (an image at
//! offset 0, or images carved from a raw dump).

use std::path::Path;

use serde::Serialize;

use crate::container::{self, ContainerKind, Entry, ExtractSummary, Limits, Note};
use crate::source::read_file;

/// One image found in the file, opened.
#[derive(Serialize)]
pub struct ImageListing {
    pub offset: u64,
    pub kind: ContainerKind,
    pub entries: Vec<Entry>,
    pub notes: Vec<Note>,
}

/// Where the images of `data` are: at offset 0, or carved (file systems first claim their span).
fn locate(data: &[u8]) -> Vec<(u64, ContainerKind)> {
    match container::detect(data) {
        Some(kind) => vec![(0, kind)],
        None => container::carve(data),
    }
}

/// Open every image of the file at `path` and list it. Errors name the file and offset.
pub fn list(path: &Path) -> Result<Vec<ImageListing>, String> {
    let bytes = read_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let found = locate(&bytes);
    if found.is_empty() {
        return Err(format!(
            "{}: no IFS, QNX6, QNX4, tar or gzip image found",
            path.display()
        ));
    }
    let mut out = Vec::new();
    for (offset, kind) in found {
        let slice = bytes.get(offset as usize..).unwrap_or_default();
        match container::open(slice, kind, &Limits::default()) {
            Ok(c) => out.push(ImageListing {
                offset,
                kind,
                entries: c.entries().to_vec(),
                notes: c.notes().to_vec(),
            }),
            Err(e) => {
                let at = e.offset.map(|o| o + offset).unwrap_or(offset);
                return Err(format!(
                    "{}: {} image at {offset:#x}: {} (offset {at:#x})",
                    path.display(),
                    kind.name(),
                    e.message
                ));
            }
        }
    }
    Ok(out)
}

/// Text rendering of [`list`], like dumpifs: notes, then one line per entry.
pub fn render_text(path: &Path, images: &[ImageListing]) -> String {
    let mut s = String::new();
    for img in images {
        s.push_str(&format!(
            "{} image at offset {:#x} in {}\n",
            img.kind.name(),
            img.offset,
            path.display()
        ));
        for n in &img.notes {
            s.push_str(&format!("  # {}: {}\n", n.kind, n.detail));
        }
        for e in &img.entries {
            s.push_str(&container::listing_line(e));
            s.push('\n');
        }
    }
    s
}

/// Bytes the `extract` command writes at most for an image file of `input_len` bytes: the
/// scan's work budget of that file ([`crate::scan::WORK_PER_INPUT_BYTE`] per byte and
/// [`crate::scan::MAX_EXTRA_WORK_PER_FILE`] more).
pub fn extract_budget(input_len: u64) -> u64 {
    input_len
        .saturating_mul(crate::scan::WORK_PER_INPUT_BYTE)
        .saturating_add(crate::scan::MAX_EXTRA_WORK_PER_FILE)
}

/// Unpack the first image of `path` (or the one at `offset`) into `dir`, within
/// [`extract_budget`] bytes (files with the bytes of a file written before are hard links).
pub fn extract(path: &Path, dir: &Path, offset: Option<u64>) -> Result<ExtractSummary, String> {
    let bytes = read_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let found = locate(&bytes);
    let (at, kind) = match offset {
        Some(o) => *found
            .iter()
            .find(|(f, _)| *f == o)
            .ok_or_else(|| format!("{}: no image at offset {o:#x}", path.display()))?,
        None => *found
            .first()
            .ok_or_else(|| format!("{}: no image found", path.display()))?,
    };
    let slice = bytes.get(at as usize..).unwrap_or_default();
    let c = container::open(slice, kind, &Limits::default())
        .map_err(|e| format!("{}: {} image at {at:#x}: {e}", path.display(), kind.name()))?;
    let budget = extract_budget(bytes.len() as u64);
    container::extract_within(c.as_ref(), dir, budget).map_err(|e| e.to_string())
}
