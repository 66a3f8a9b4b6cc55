//! The `ls` and `extract` commands: list or unpack the images in one file (an image at
//! offset 0, and images carved from outside it), the same images `scan` examines.

use std::path::Path;

use serde::Serialize;

use crate::model::{ImageState, NoteKind};
use crate::source::read::Unread;
use crate::source::read_named_file;
use badalloc_formats::carve::{self, Taken};
use badalloc_formats::names::{escape_path, escape_text};
use badalloc_formats::{ContainerKind, Entry, EntryType, ExtractSummary, Limits, Note};

/// One image found in the file: opened, or recognised and not opened (`state`
/// `unreadable`, the error as a `damage` note).
#[derive(Serialize)]
pub struct ImageListing {
    pub offset: u64,
    pub kind: ContainerKind,
    /// `complete`, `partial` (the reader lost part of it: see its `damage`, `error` and
    /// `truncated` notes) or `unreadable`, as in a scan report's `images`.
    #[serde(serialize_with = "state_name")]
    pub state: ImageState,
    pub entries: Vec<Entry>,
    pub notes: Vec<Note>,
}

fn state_name<S: serde::Serializer>(state: &ImageState, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(state.as_str())
}

/// What `ls` found in one file.
pub struct Listing {
    pub images: Vec<ImageListing>,
    /// For a device: where and why its read stopped before its end (nothing from there on
    /// is listed).
    pub unread: Option<Unread>,
}

/// Open every image of the file at `path` (or device: read up to `MAX_DEVICE_READ`) and
/// list it: the image the file starts with and those carved from outside it, exactly the
/// images `scan` examines at the top level (`carve::images_of`). Err: the file cannot be
/// read, or holds no image (in what was read of it).
pub fn list(path: &Path) -> Result<Listing, String> {
    let bytes =
        read_named_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = Vec::new();
    let layout = carve::images_of(&bytes, &|_| {}, &mut |offset, kind| {
        let slice = bytes.get(offset as usize..).unwrap_or_default();
        match badalloc_formats::open(slice, kind, &Limits::default()) {
            Ok(c) => {
                let damaged = c
                    .notes()
                    .iter()
                    .any(|n| NoteKind::from_name(&n.kind).is_damage());
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
                "{} more image signatures from here on were not opened: {}",
                cut.more,
                cut.reason()
            ),
        ));
    }
    let unread = bytes.unread().cloned();
    if out.is_empty() {
        return Err(format!(
            "{}: no IFS, QNX6, QNX4, EFS, ETFS, tar or gzip image found{}",
            path.display(),
            within(&unread)
        ));
    }
    Ok(Listing {
        images: out,
        unread,
    })
}

/// For a device read only in part: " within the first N bytes (why the rest was not read)".
fn within(unread: &Option<Unread>) -> String {
    unread.as_ref().map_or(String::new(), |u| {
        format!(" within the first {} bytes ({})", u.offset, u.reason)
    })
}

/// The listing of an image that could not be opened: `offset` of the error inside it.
fn unreadable(at: u64, kind: ContainerKind, offset: Option<u64>, why: String) -> ImageListing {
    ImageListing {
        offset: at,
        kind,
        state: ImageState::Unreadable,
        entries: Vec::new(),
        notes: vec![Note {
            kind: NoteKind::Damage.as_str().into(),
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
                Some(o) if NoteKind::from_name(&n.kind) == NoteKind::Damage => {
                    format!(" at {o:#x}")
                }
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
            s.push_str(&escape_text(&badalloc_formats::listing_line(e)));
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
    let bytes =
        read_named_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // The images `ls` lists; the one asked for is unpacked, those after it not opened.
    let mut result: Option<Result<ExtractSummary, String>> = None;
    carve::images_of(&bytes, &|_| {}, &mut |at, kind| {
        if result.is_some() {
            return Taken::NotOpened;
        }
        let slice = bytes.get(at as usize..).unwrap_or_default();
        let opened = badalloc_formats::open(slice, kind, &Limits::default());
        let budget = extract_budget(bytes.len() as u64);
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
                badalloc_formats::extract_within(c.as_ref(), dir, budget)
                    .map_err(|e| e.to_string()),
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
    let unread = bytes.unread().cloned();
    result.unwrap_or_else(|| {
        Err(match offset {
            Some(o) => format!(
                "{}: no image at offset {o:#x}{}",
                path.display(),
                within(&unread)
            ),
            None => format!("{}: no image found{}", path.display(), within(&unread)),
        })
    })
}

/// A file inside images, named by the virtual path `scan` prints for it: its bytes, read
/// out through the images the scan opens (`carve::images_of`, `badalloc_formats::open`), and the
/// path as shown (names escaped as in reports).
pub struct VirtualFile {
    pub shown: String,
    pub bytes: Vec<u8>,
}

/// The parts of a virtual path: the file on disk, where in it the outermost image starts,
/// then one part per image level (`entry` or `entry@0xOFF`), the last naming the file.
struct VirtualPath<'a> {
    disk: std::path::PathBuf,
    offset: u64,
    parts: Vec<&'a str>,
}

/// `NAME@0xOFF` as (NAME, OFF): an image carved at OFF in the file NAME.
fn split_carved(part: &str) -> Option<(&str, u64)> {
    let (name, hex) = part.rsplit_once("@0x")?;
    if name.is_empty() || hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((name, u64::from_str_radix(hex, 16).ok()?))
}

fn path_of_name(name: &str) -> std::path::PathBuf {
    let bytes = badalloc_formats::names::unescape_name(name);
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        std::path::PathBuf::from(std::ffi::OsString::from_vec(bytes))
    }
    #[cfg(not(unix))]
    {
        std::path::PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Splits `fw.tar.gz!/a.img!/lib/libc.so.3` (or `dump.bin@0x40000!/...`); None when the
/// path names no file inside an image.
fn parse_virtual(text: &str) -> Option<VirtualPath<'_>> {
    let mut pieces = text.split("!/");
    let outer = pieces.next()?;
    let parts: Vec<&str> = pieces.collect();
    if parts.is_empty() || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    // A file really named `x@0x10` is that file; otherwise `@0x10` is where its image is.
    let whole = path_of_name(outer);
    let (disk, offset) = match split_carved(outer) {
        Some((name, at)) if !whole.is_file() => (path_of_name(name), at),
        _ => (whole, 0),
    };
    Some(VirtualPath {
        disk,
        offset,
        parts,
    })
}

/// The file `path` names inside images, when it is a virtual path (`image!/inside`); None
/// when it is not one. Errors say which part is missing.
pub fn read_virtual(path: &Path) -> Option<Result<VirtualFile, String>> {
    let text = path.to_str()?;
    let v = parse_virtual(text)?;
    let bytes = match read_named_file(&v.disk) {
        Ok(b) => b,
        Err(e) => {
            return Some(Err(format!(
                "cannot read {} (the file holding {text}): {e}",
                v.disk.display()
            )))
        }
    };
    if v.parts.len() > crate::examine::MAX_NESTING {
        return Some(Err(format!(
            "{text}: images nested deeper than {} levels, which scan does not open",
            crate::examine::MAX_NESTING
        )));
    }
    let label = escape_path(&v.disk);
    let budget = crate::examine::MAX_EXPANDED_PER_FILE;
    Some(
        read_inside(&bytes, v.offset, &label, &v.parts, budget).map(|bytes| VirtualFile {
            shown: format!(
                "{}{}",
                if v.offset == 0 {
                    label.clone()
                } else {
                    format!("{label}@{:#x}", v.offset)
                },
                shown_parts(&v.parts)
            ),
            bytes,
        }),
    )
}

/// `!/part` for each part, names in their escaped form.
fn shown_parts(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            format!(
                "!/{}",
                badalloc_formats::names::escape_name(&badalloc_formats::names::unescape_name(p))
            )
        })
        .collect()
}

/// Open the image at `offset` of `data` as `scan` takes it (the one the file starts with,
/// or one carved outside it) and read `parts` from it, one image level per part.
fn read_inside(
    data: &[u8],
    offset: u64,
    label: &str,
    parts: &[&str],
    budget: u64,
) -> Result<Vec<u8>, String> {
    let mut result: Option<Result<Vec<u8>, String>> = None;
    let mut offered: Vec<String> = Vec::new();
    let limits = Limits {
        max_expanded: badalloc_formats::DEFAULT_MAX_EXPANDED.min(budget),
        ..Limits::default()
    };
    carve::images_of(data, &|_| {}, &mut |at, kind| {
        if result.is_some() {
            return Taken::Opened {
                span: Some(u64::MAX),
            };
        }
        offered.push(format!("{} at {at:#x}", kind.name()));
        let slice = usize::try_from(at)
            .ok()
            .and_then(|a| data.get(a..))
            .unwrap_or_default();
        let image = match badalloc_formats::open(slice, kind, &limits) {
            Ok(c) => c,
            Err(e) => {
                if at == offset {
                    result = Some(Err(format!(
                        "{label}: the {} image at {at:#x} cannot be opened: {e}",
                        kind.name()
                    )));
                }
                return Taken::NotOpened;
            }
        };
        if at != offset {
            return Taken::Opened { span: image.span() };
        }
        let left = budget.saturating_sub(image.resident_bytes());
        result = Some(read_entry(image.as_ref(), label, parts, left));
        // Found: nothing after it is carved.
        Taken::Opened {
            span: Some(u64::MAX),
        }
    });
    result.unwrap_or_else(|| {
        Err(if offered.is_empty() {
            format!("{label}: no IFS, QNX6, QNX4, tar or gzip image in it")
        } else {
            format!(
                "{label}: no image at offset {offset:#x} (images: {})",
                offered.join(", ")
            )
        })
    })
}

/// Read `parts[0]` out of `image`: the file when it is the last part, else the file that
/// holds the next image level (`name` or `name@0xOFF`).
fn read_entry(
    image: &dyn badalloc_formats::Container,
    label: &str,
    parts: &[&str],
    budget: u64,
) -> Result<Vec<u8>, String> {
    let Some((&part, rest)) = parts.split_first() else {
        return Err(format!("{label}: names an image, not a file inside it"));
    };
    let find = |name: &str| {
        let wanted =
            badalloc_formats::names::escape_name(&badalloc_formats::names::unescape_name(name));
        badalloc_formats::find(image, &wanted)
    };
    let (entry, offset) = match (find(part), split_carved(part)) {
        (Some(e), _) => (e, 0),
        (None, Some((name, at))) if !rest.is_empty() => match find(name) {
            Some(e) => (e, at),
            None => return Err(missing(image, label, name)),
        },
        (None, _) => return Err(missing(image, label, part)),
    };
    let here = format!("{label}!/{}", entry.path);
    if entry.entry_type != EntryType::File {
        return Err(format!(
            "{here}: a {} in the {} image, not a regular file",
            match entry.entry_type {
                EntryType::Dir => "directory",
                EntryType::Symlink => "symbolic link",
                EntryType::Device => "device",
                EntryType::Fifo => "FIFO",
                EntryType::File | EntryType::Other => "special entry",
            },
            image.kind().name()
        ));
    }
    let bytes = image
        .read(entry)
        .map_err(|e| format!("{here}: cannot be read from the image: {e}"))?;
    if rest.is_empty() {
        return Ok(bytes.into_owned());
    }
    let label = if offset == 0 {
        here
    } else {
        format!("{here}@{offset:#x}")
    };
    read_inside(
        &bytes,
        offset,
        &label,
        rest,
        budget.saturating_sub(bytes.len() as u64),
    )
}

fn missing(image: &dyn badalloc_formats::Container, label: &str, name: &str) -> String {
    format!(
        "{label}: no file {} in the {} image ({} entries)",
        escape_text(name),
        image.kind().name(),
        image.entries().len()
    )
}
