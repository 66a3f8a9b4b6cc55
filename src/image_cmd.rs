//! The `ls` and `extract` commands: list or unpack the images in one file (an image at
//! offset 0, and images carved from outside it), the same images `scan` examines.

use std::path::Path;

use serde::Serialize;

use crate::container::carve::{self, Taken};
use crate::container::{self, ContainerKind, Entry, ExtractSummary, Limits, Note};
use crate::names::{escape_path, escape_text};
use crate::report::{ImageReport, ImageState};
use crate::source::read_named_file;

/// One image found in the file: opened, or recognised and not opened (`state`
/// `unreadable`, the error as a `damage` note).
#[derive(Serialize)]
pub struct ImageListing {
    pub offset: u64,
    pub kind: ContainerKind,
    /// `complete`, `partial` (the reader lost part of it: see its `damage`, `error` and
    /// `truncated` notes) or `unreadable`, as in a scan report's `images`.
    pub state: ImageState,
    pub entries: Vec<Entry>,
    pub notes: Vec<Note>,
}

/// Open every image of the file at `path` and list it: the image the file starts with and
/// those carved from outside it, exactly the images `scan` examines at the top level
/// (`carve::images_of`). Err: the file cannot be read, or holds no image.
pub fn list(path: &Path) -> Result<Vec<ImageListing>, String> {
    let bytes =
        read_named_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = Vec::new();
    let layout = carve::images_of(&bytes, &|_| {}, &mut |offset, kind| {
        let slice = bytes.get(offset as usize..).unwrap_or_default();
        match container::open(slice, kind, &Limits::default()) {
            Ok(c) => {
                let damaged = c
                    .notes()
                    .iter()
                    .any(|n| ImageReport::DAMAGE_NOTES.contains(&n.kind.as_str()));
                out.push(ImageListing {
                    offset,
                    kind,
                    state: if damaged {
                        ImageState::Partial
                    } else {
                        ImageState::Complete
                    },
                    entries: c.entries().to_vec(),
                    notes: c.notes().to_vec(),
                });
                Taken::Opened { span: c.span() }
            }
            Err(e) => {
                out.push(unreadable(offset, kind, e.offset, e.message));
                Taken::NotOpened
            }
        }
    });
    if let Some(cut) = layout.cut {
        out.push(unreadable(
            cut.first,
            cut.kind,
            Some(0),
            format!(
                "{} more image signatures from here on were not opened: more than {} in one \
                 file",
                cut.more,
                carve::MAX_CARVED_PER_FILE
            ),
        ));
    }
    if out.is_empty() {
        return Err(format!(
            "{}: no IFS, QNX6, QNX4, EFS, ETFS, tar or gzip image found",
            path.display()
        ));
    }
    Ok(out)
}

/// The listing of an image that could not be opened: `offset` of the error inside it.
fn unreadable(at: u64, kind: ContainerKind, offset: Option<u64>, why: String) -> ImageListing {
    ImageListing {
        offset: at,
        kind,
        state: ImageState::Unreadable,
        entries: Vec::new(),
        notes: vec![Note {
            kind: "damage".into(),
            detail: why,
            offset,
        }],
    }
}

/// Whether some image of a listing could not be opened (`ls` then exits 4).
pub fn any_unreadable(images: &[ImageListing]) -> bool {
    images.iter().any(|i| i.state == ImageState::Unreadable)
}

/// Text rendering of [`list`], like dumpifs: notes, then one line per entry. Names and notes
/// come from the image: escaped for the terminal.
pub fn render_text(path: &Path, images: &[ImageListing]) -> String {
    let mut s = String::new();
    let shown = escape_path(path);
    for img in images {
        s.push_str(&format!(
            "{} image at offset {:#x} in {shown}",
            img.kind.name(),
            img.offset,
        ));
        if img.state != ImageState::Complete {
            s.push_str(&format!(" ({})", img.state.as_str()));
        }
        s.push('\n');
        for n in &img.notes {
            // A note of several lines (the boot script) keeps them, each one marked as the
            // note's: a line of the image never stands alone in the listing.
            let mut lines = n.detail.split('\n');
            let first = lines.next().unwrap_or_default();
            let at = match n.offset {
                Some(o) if n.kind == "damage" => format!(" at {o:#x}"),
                _ => String::new(),
            };
            s.push_str(&format!(
                "  # {}{at}: {}\n",
                escape_text(&n.kind),
                escape_text(first)
            ));
            for line in lines {
                s.push_str(&format!("  #   {}\n", escape_text(line)));
            }
        }
        for e in &img.entries {
            s.push_str(&escape_text(&container::listing_line(e)));
            s.push('\n');
        }
    }
    s
}

/// Unpack the first image of `path` (or the one at `offset`) into `dir`.
pub fn extract(path: &Path, dir: &Path, offset: Option<u64>) -> Result<ExtractSummary, String> {
    let bytes =
        read_named_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // The images `ls` lists; the one asked for is unpacked, those after it not opened.
    let mut result: Option<Result<ExtractSummary, String>> = None;
    carve::images_of(&bytes, &|_| {}, &mut |at, kind| {
        if result.is_some() {
            return Taken::NotOpened;
        }
        let slice = bytes.get(at as usize..).unwrap_or_default();
        let opened = container::open(slice, kind, &Limits::default());
        if offset.is_some_and(|o| o != at) {
            // Not the one: opened only for the bytes it claims.
            return match opened {
                Ok(c) => Taken::Opened { span: c.span() },
                Err(_) => Taken::NotOpened,
            };
        }
        let (taken, done) = match opened {
            Ok(c) => (
                Taken::Opened { span: c.span() },
                container::extract(c.as_ref(), dir).map_err(|e| e.to_string()),
            ),
            Err(e) => (
                Taken::NotOpened,
                Err(format!(
                    "{}: {} image at {at:#x}: {e}",
                    path.display(),
                    kind.name()
                )),
            ),
        };
        result = Some(done);
        taken
    });
    result.unwrap_or_else(|| {
        Err(match offset {
            Some(o) => format!("{}: no image at offset {o:#x}", path.display()),
            None => format!("{}: no image found", path.display()),
        })
    })
}
