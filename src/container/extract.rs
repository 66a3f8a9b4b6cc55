//! Writing a container's entries to a directory: the only code in the crate that writes files.
//!
//! Safety rules: every path is resolved component by component under `dir`; `..`, absolute
//! paths and NUL bytes are refused; a parent that exists as a symlink (or anything but a
//! directory) makes the entry be skipped; files are created with `create_new` (O_EXCL, which
//! never follows a symlink), so nothing is ever written through a link. Symlinks are created
//! as symlinks (Unix) and never followed afterwards. Devices and fifos are skipped.
//!
//! Bounded: a file with the same extent as a file written before (a hard link, entries
//! sharing their bytes) is made a hard link to it, and the bytes written in all may not
//! pass the caller's budget (a 75 KB image can list terabytes of shared data): extraction
//! stops there, and [`ExtractSummary::stopped`] says where and why.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::{Container, EntryType, Loc};

/// Bytes [`extract`] writes at most: `work_budget::MAX_EXTRA_WORK_PER_FILE` (the `extract`
/// command allows four bytes per byte of the image file more, see [`extract_within`]).
pub const DEFAULT_MAX_EXTRACTED: u64 = crate::work_budget::MAX_EXTRA_WORK_PER_FILE;

/// What [`extract`] did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ExtractSummary {
    pub files: usize,
    pub dirs: usize,
    pub symlinks: usize,
    pub bytes: u64,
    /// Files made hard links to a file with the same bytes written before.
    pub hard_links: usize,
    /// Entries not written, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Why extraction stopped before the last entry (the byte budget), naming the entry.
    pub stopped: Option<String>,
}

/// A failure that stops extraction as a whole (per-entry problems go to `skipped`).
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("cannot create output directory {path}: {source}")]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("output directory {0} is a symlink or not a directory")]
    RootNotDir(PathBuf),
}

/// Split an entry path into safe components, or say why it is unsafe.
fn safe_components(p: &str) -> Result<Vec<String>, String> {
    if p.contains('\0') {
        return Err("path contains NUL".into());
    }
    if p.starts_with('/') {
        return Err("absolute path".into());
    }
    let mut out = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => match s.to_str() {
                Some(s) => out.push(s.to_string()),
                None => return Err("non-UTF-8 path".into()),
            },
            Component::CurDir => {}
            Component::ParentDir => return Err("path contains '..'".into()),
            Component::RootDir | Component::Prefix(_) => return Err("absolute path".into()),
        }
    }
    Ok(out)
}

/// Create (or verify) the parent directories of `comps` under `root` without following
/// symlinks; returns the full path of the last component.
fn prepare(root: &Path, comps: &[String], summary: &mut ExtractSummary) -> Result<PathBuf, String> {
    let mut cur = root.to_path_buf();
    let Some((last, parents)) = comps.split_last() else {
        return Err("empty path".into());
    };
    for c in parents {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!("parent {} is a symlink", cur.display()))
            }
            Ok(_) => return Err(format!("parent {} is not a directory", cur.display())),
            Err(_) => {
                fs::create_dir(&cur).map_err(|e| format!("create {}: {e}", cur.display()))?;
                summary.dirs += 1;
            }
        }
    }
    cur.push(last);
    Ok(cur)
}

/// Remove an existing non-directory at `p` (a duplicate entry); never follows links.
fn clear_existing(p: &Path) -> Result<(), String> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_dir() => Err("a directory exists at this path".into()),
        Ok(_) => fs::remove_file(p).map_err(|e| format!("remove {}: {e}", p.display())),
        Err(_) => Ok(()),
    }
}

/// Write every entry of `c` under `dir` (created if missing), at most
/// [`DEFAULT_MAX_EXTRACTED`] bytes. See the module docs for the safety rules.
pub fn extract(c: &dyn Container, dir: &Path) -> Result<ExtractSummary, ExtractError> {
    extract_within(c, dir, DEFAULT_MAX_EXTRACTED)
}

/// [`extract`], writing at most `max_bytes` bytes of file data: the entry that would pass
/// them is not written, and extraction stops there ([`ExtractSummary::stopped`]).
pub fn extract_within(
    c: &dyn Container,
    dir: &Path,
    max_bytes: u64,
) -> Result<ExtractSummary, ExtractError> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_dir() => {}
        Ok(_) => return Err(ExtractError::RootNotDir(dir.to_path_buf())),
        Err(_) => fs::create_dir_all(dir).map_err(|source| ExtractError::Root {
            path: dir.to_path_buf(),
            source,
        })?,
    }
    let mut s = ExtractSummary::default();
    let mut written = Written::default();
    for e in c.entries() {
        let comps = match safe_components(&e.path) {
            Ok(v) if v.is_empty() => continue, // the root directory itself
            Ok(v) => v,
            Err(why) => {
                s.skipped.push((e.path.clone(), why));
                continue;
            }
        };
        let target = match prepare(dir, &comps, &mut s) {
            Ok(t) => t,
            Err(why) => {
                s.skipped.push((e.path.clone(), why));
                continue;
            }
        };
        let r: Result<(), String> = match e.entry_type {
            EntryType::Dir => match fs::symlink_metadata(&target) {
                Ok(m) if m.file_type().is_dir() => Ok(()),
                Ok(_) => Err("a non-directory exists at this path".into()),
                Err(_) => fs::create_dir(&target)
                    .map(|()| s.dirs += 1)
                    .map_err(|e| e.to_string()),
            },
            EntryType::File => {
                written.forget(&target);
                if let Some(first) = written.same_bytes(e.loc, &target) {
                    s.files += 1;
                    s.hard_links += 1;
                    written.put(e.loc, &first, target);
                    continue;
                }
                if s.bytes.saturating_add(e.size) > max_bytes {
                    s.stopped = Some(format!(
                        "{}: {} bytes would pass the budget of {max_bytes} bytes written \
                         ({} written); extraction stopped here (offset {})",
                        e.path,
                        e.size,
                        s.bytes,
                        c.data_offset(e)
                            .map_or_else(|| "unknown".to_string(), |o| format!("{o:#x}"))
                    ));
                    break;
                }
                write_file(c, e, &target).map(|n| {
                    s.files += 1;
                    s.bytes += n;
                    written.put(e.loc, &target, target.clone());
                })
            }
            EntryType::Symlink => {
                written.forget(&target);
                symlink(e.link_target.as_deref().unwrap_or(""), &target).map(|()| s.symlinks += 1)
            }
            EntryType::Device | EntryType::Fifo | EntryType::Other => {
                Err(format!("{:?} entries are not extracted", e.entry_type).to_lowercase())
            }
        };
        if let Err(why) = r {
            s.skipped.push((e.path.clone(), why));
        }
    }
    Ok(s)
}

/// Write the bytes of file entry `e` at `target` (a new file); how many were written.
fn write_file(c: &dyn Container, e: &super::Entry, target: &Path) -> Result<u64, String> {
    let data = c.read(e).map_err(|e| e.to_string())?;
    clear_existing(target)?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)
        .map_err(|e| format!("create: {e}"))?;
    f.write_all(&data).map_err(|e| format!("write: {e}"))?;
    Ok(data.len() as u64)
}

/// The files written so far, by extent: a file with the extent of one of them is a hard
/// link to it. A path written over by a later entry no longer holds its extent's bytes.
#[derive(Default)]
struct Written {
    by_extent: HashMap<Loc, PathBuf>,
    extent_at: HashMap<PathBuf, Loc>,
}

impl Written {
    /// Whatever was at `target` is about to be replaced.
    fn forget(&mut self, target: &Path) {
        if let Some(loc) = self.extent_at.remove(target) {
            if self.by_extent.get(&loc).is_some_and(|p| p == target) {
                self.by_extent.remove(&loc);
            }
        }
    }

    /// A hard link at `target` to the file written with the bytes of `loc`, if there is one
    /// and linking works here; its path.
    fn same_bytes(&self, loc: Loc, target: &Path) -> Option<PathBuf> {
        let first = self.by_extent.get(&loc)?;
        clear_existing(target).ok()?;
        fs::hard_link(first, target).ok()?;
        Some(first.clone())
    }

    /// `target` now holds the bytes of `loc` (first written at `first`).
    fn put(&mut self, loc: Loc, first: &Path, target: PathBuf) {
        self.by_extent
            .entry(loc)
            .or_insert_with(|| first.to_path_buf());
        self.extent_at.insert(target, loc);
    }
}

#[cfg(unix)]
fn symlink(target: &str, at: &Path) -> Result<(), String> {
    if target.is_empty() || target.contains('\0') {
        return Err("empty or invalid symlink target".into());
    }
    clear_existing(at)?;
    std::os::unix::fs::symlink(target, at).map_err(|e| format!("symlink: {e}"))
}

#[cfg(not(unix))]
fn symlink(_target: &str, _at: &Path) -> Result<(), String> {
    Err("symlinks are not created on this platform".into())
}
