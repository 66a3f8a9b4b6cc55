//! Directory walking: never follows symbolic links (records them instead), so it cannot
//! loop; special files are reported, not opened (opening a FIFO would block).

use std::fs;
use std::path::{Path, PathBuf};

use badalloc_formats::names::escape_path;

/// What the walk found at one path.
#[derive(Debug, Clone)]
pub enum WalkItem {
    /// A regular file to examine.
    File { rel: String, full: PathBuf },
    /// A symbolic link, recorded with its target and not followed.
    Symlink { rel: String, target: String },
    /// Something that is not read: FIFO, socket, device, or an unreadable directory entry.
    Skipped {
        rel: String,
        kind: crate::ErrorKind,
        reason: String,
    },
}

/// Depth guard: real firmware trees are a few dozen levels deep; a bind-mount loop or a
/// crafted tree could be deeper than the stack allows.
pub const MAX_WALK_DEPTH: usize = 256;

/// A regular file, as the walk hands it over.
#[derive(Debug, Clone)]
pub struct FoundFile {
    pub rel: String,
    pub full: PathBuf,
}

/// Walk `root` (a directory) and list what is below it, sorted by path for reproducible output.
pub fn walk(root: &Path) -> Vec<WalkItem> {
    let mut items = Vec::new();
    let mut others = walk_streaming(root, &mut |files| {
        items.extend(files.into_iter().map(|f| WalkItem::File {
            rel: f.rel,
            full: f.full,
        }))
    });
    items.append(&mut others);
    items.sort_by(|a, b| a.rel().cmp(b.rel()));
    items
}

/// [`walk`] that hands over each directory's regular files as soon as the directory is read,
/// so they can be examined while the walk goes on (in no particular order: sort by `rel`).
/// Returns the rest (symbolic links and skipped entries), sorted by path.
pub fn walk_streaming(root: &Path, found: &mut dyn FnMut(Vec<FoundFile>)) -> Vec<WalkItem> {
    let mut items = Vec::new();
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(root.to_path_buf(), String::new(), 0)];
    while let Some((dir, rel_dir, depth)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                items.push(WalkItem::Skipped {
                    rel: display_rel(&rel_dir),
                    kind: crate::ErrorKind::Unreadable,
                    reason: format!("cannot read directory: {e}"),
                });
                continue;
            }
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    items.push(WalkItem::Skipped {
                        rel: display_rel(&rel_dir),
                        kind: crate::ErrorKind::Unreadable,
                        reason: format!("cannot read directory entry: {e}"),
                    });
                    continue;
                }
            };
            // Built in place: a walk makes one per entry, and `format!` cost more than the
            // rest of the entry's handling.
            let file_name = entry.file_name();
            let mut rel = String::with_capacity(rel_dir.len() + 1 + file_name.len());
            if !rel_dir.is_empty() {
                rel.push_str(&rel_dir);
                rel.push('/');
            }
            push_name(&mut rel, &file_name);
            let full = entry.path();
            // The entry's own type (from the directory listing where the file system gives
            // it, else lstat): never follows links, and costs no stat per file.
            let ft = match entry.file_type() {
                Ok(t) => t,
                Err(e) => {
                    items.push(WalkItem::Skipped {
                        rel,
                        kind: crate::ErrorKind::Unreadable,
                        reason: format!("cannot stat: {e}"),
                    });
                    continue;
                }
            };
            if ft.is_symlink() {
                let target = fs::read_link(&full)
                    .map(|t| escape_path(&t))
                    .unwrap_or_else(|e| format!("<unreadable: {e}>"));
                items.push(WalkItem::Symlink { rel, target });
            } else if ft.is_dir() {
                if depth + 1 >= MAX_WALK_DEPTH {
                    items.push(WalkItem::Skipped {
                        rel,
                        kind: crate::ErrorKind::BoundHit,
                        reason: format!("directory nesting deeper than {MAX_WALK_DEPTH} levels"),
                    });
                } else {
                    stack.push((full, rel, depth + 1));
                }
            } else if ft.is_file() {
                files.push(FoundFile { rel, full });
            } else {
                items.push(WalkItem::Skipped {
                    rel,
                    kind: crate::ErrorKind::Unsupported,
                    reason: format!("not a regular file ({}): not read", special_kind(&ft)),
                });
            }
        }
        if !files.is_empty() {
            found(files);
        }
    }
    items.sort_by(|a, b| a.rel().cmp(b.rel()));
    items
}

impl WalkItem {
    pub fn rel(&self) -> &str {
        match self {
            WalkItem::File { rel, .. }
            | WalkItem::Symlink { rel, .. }
            | WalkItem::Skipped { rel, .. } => rel,
        }
    }
}

/// Append a file name, escaped (`crate::names`): names that are not UTF-8 stay distinct.
fn push_name(rel: &mut String, name: &std::ffi::OsStr) {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        badalloc_formats::names::push_escaped_name(rel, name.as_bytes());
    }
    #[cfg(not(unix))]
    rel.push_str(&badalloc_formats::names::escape_os(name));
}

fn display_rel(rel: &str) -> String {
    if rel.is_empty() {
        ".".to_string()
    } else {
        rel.to_string()
    }
}

#[cfg(unix)]
pub(crate) fn special_kind(ft: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
pub(crate) fn special_kind(_ft: &fs::FileType) -> &'static str {
    "special file"
}
