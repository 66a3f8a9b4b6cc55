//! Writing a container's entries to a directory: the only code in the crate that writes files.
//!
//! Safety rules: every path is resolved component by component under `dir`; `..`, absolute
//! paths and NUL bytes are refused; a parent that exists as a symlink (or anything but a
//! directory) makes the entry be skipped; files are created with `create_new` (O_EXCL, which
//! never follows a symlink), so nothing is ever written through a link. Symlinks are created
//! as symlinks (Unix) and never followed afterwards. Devices and fifos are skipped.
//!
//! Files and directories keep their permission bits (`rwx` for owner, group, others; set-uid,
//! set-gid and sticky are dropped, so nothing extracted runs with raised rights) and their
//! modification time, where the format records them. Directories keep at least `rwx` for
//! their owner, so the extracted tree can always be entered and removed; their modes and
//! times are set last, deepest first, once nothing more is written into them.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::{Container, Entry, EntryType};

/// What [`extract`] did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ExtractSummary {
    pub files: usize,
    pub dirs: usize,
    pub symlinks: usize,
    pub bytes: u64,
    /// Entries not written, with the reason.
    pub skipped: Vec<(String, String)>,
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

/// Split an entry path into safe components, or say why it is unsafe. Entry paths are
/// escaped names (`crate::names`): each component is given back its own bytes.
fn safe_components(p: &str) -> Result<Vec<OsString>, String> {
    if p.starts_with('/') {
        return Err("absolute path".into());
    }
    let mut out = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => {
                let bytes = crate::names::unescape_name(&s.to_string_lossy());
                if bytes.contains(&0) {
                    return Err("path contains NUL".into());
                }
                if bytes == b".." || bytes.contains(&b'/') {
                    return Err("path contains '..'".into());
                }
                out.push(os_name(bytes)?);
            }
            Component::CurDir => {}
            Component::ParentDir => return Err("path contains '..'".into()),
            Component::RootDir | Component::Prefix(_) => return Err("absolute path".into()),
        }
    }
    Ok(out)
}

#[cfg(unix)]
fn os_name(bytes: Vec<u8>) -> Result<OsString, String> {
    use std::os::unix::ffi::OsStringExt;
    Ok(OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn os_name(bytes: Vec<u8>) -> Result<OsString, String> {
    String::from_utf8(bytes)
        .map(OsString::from)
        .map_err(|_| "non-UTF-8 path".to_string())
}

/// Create (or verify) the parent directories of `comps` under `root` without following
/// symlinks; returns the full path of the last component.
fn prepare(
    root: &Path,
    comps: &[OsString],
    summary: &mut ExtractSummary,
) -> Result<PathBuf, String> {
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

/// Write every entry of `c` under `dir` (created if missing). See the module docs for the
/// safety rules.
pub fn extract(c: &dyn Container, dir: &Path) -> Result<ExtractSummary, ExtractError> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_dir() => {}
        Ok(_) => return Err(ExtractError::RootNotDir(dir.to_path_buf())),
        Err(_) => fs::create_dir_all(dir).map_err(|source| ExtractError::Root {
            path: dir.to_path_buf(),
            source,
        })?,
    }
    let mut s = ExtractSummary::default();
    // Directories whose mode and time are set once everything is written.
    let mut dirs_to_finish: Vec<(PathBuf, &Entry)> = Vec::new();
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
                Ok(m) if m.file_type().is_dir() => {
                    dirs_to_finish.push((target, e));
                    Ok(())
                }
                Ok(_) => Err("a non-directory exists at this path".into()),
                Err(_) => match fs::create_dir(&target) {
                    Ok(()) => {
                        s.dirs += 1;
                        dirs_to_finish.push((target, e));
                        Ok(())
                    }
                    Err(err) => Err(err.to_string()),
                },
            },
            EntryType::File => write_file(c, e, &target).map(|n| {
                s.files += 1;
                s.bytes += n;
            }),
            EntryType::Symlink => {
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
    // Deepest first: a directory's own time is set after its children's changed it.
    dirs_to_finish.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
    for (path, e) in dirs_to_finish {
        if let Err(why) = keep_mode_and_time(&path, e, DIR_OWNER_BITS) {
            s.skipped.push((e.path.clone(), why));
        }
    }
    Ok(s)
}

/// Permission bits kept on extracted objects: `rwx` for owner, group and others.
const PERMISSION_BITS: u32 = 0o777;
/// Bits every extracted directory keeps, so the tree can be entered and removed.
const DIR_OWNER_BITS: u32 = 0o700;

/// Write one file entry (never through a link), with its mode and time; the bytes written.
fn write_file(c: &dyn Container, e: &Entry, target: &Path) -> Result<u64, String> {
    let data = c.read(e).map_err(|e| e.to_string())?;
    clear_existing(target)?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)
        .map_err(|e| format!("create: {e}"))?;
    f.write_all(&data).map_err(|e| format!("write: {e}"))?;
    if let Some(t) = e.mtime {
        f.set_modified(system_time(t))
            .map_err(|err| format!("set time: {err}"))?;
    }
    set_mode(&f, e.mode & PERMISSION_BITS)?;
    Ok(data.len() as u64)
}

/// Give the directory at `path` the mode (plus `extra` bits) and time of `e`. The directory
/// is opened read-only, without following a link (it was created by us, or checked to be a
/// directory, and nothing is written through it).
fn keep_mode_and_time(path: &Path, e: &Entry, extra: u32) -> Result<(), String> {
    let f = open_dir_nofollow(path).map_err(|err| format!("open: {err}"))?;
    if let Some(t) = e.mtime {
        f.set_modified(system_time(t))
            .map_err(|err| format!("set time: {err}"))?;
    }
    set_mode(&f, (e.mode & PERMISSION_BITS) | extra)
}

fn system_time(secs: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

/// Open the directory at `path` without going through a link: the handle is used only if it
/// is the very object `lstat` finds at `path` (same device and inode), and a directory.
#[cfg(unix)]
fn open_dir_nofollow(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::MetadataExt;
    let f = fs::File::open(path)?;
    let (opened, at_path) = (f.metadata()?, fs::symlink_metadata(path)?);
    if opened.is_dir()
        && at_path.file_type().is_dir()
        && (opened.dev(), opened.ino()) == (at_path.dev(), at_path.ino())
    {
        Ok(f)
    } else {
        Err(std::io::Error::other("not the directory extracted here"))
    }
}

#[cfg(not(unix))]
fn open_dir_nofollow(path: &Path) -> std::io::Result<fs::File> {
    fs::File::open(path)
}

#[cfg(unix)]
fn set_mode(f: &fs::File, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| format!("set mode: {e}"))
}

#[cfg(not(unix))]
fn set_mode(_f: &fs::File, _mode: u32) -> Result<(), String> {
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &str, at: &Path) -> Result<(), String> {
    let target = crate::names::unescape_name(target);
    if target.is_empty() || target.contains(&0) {
        return Err("empty or invalid symlink target".into());
    }
    clear_existing(at)?;
    std::os::unix::fs::symlink(os_name(target)?, at).map_err(|e| format!("symlink: {e}"))
}

#[cfg(not(unix))]
fn symlink(_target: &str, _at: &Path) -> Result<(), String> {
    Err("symlinks are not created on this platform".into())
}
