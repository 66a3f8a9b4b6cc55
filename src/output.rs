//! Writing a report: to standard output, or to `--output FILE`, checked before the scan.
//!
//! The rules for FILE (README, "Writing the report"):
//! - it is never an input: not a file being scanned (compared by device and inode, so a
//!   symbolic or hard link to one is refused too), nor inside a scanned directory (every
//!   directory above it is compared, so a bind mount of one is refused too);
//! - a regular file, or a name not yet taken, is replaced atomically: the report goes to a
//!   new temporary file in the same directory, created exclusively (`O_EXCL`, which never
//!   follows a link) under an unpredictable name, then renamed over FILE. The temporary file
//!   is removed on failure and on SIGINT, SIGTERM or SIGHUP;
//! - anything else a report can be written to (a character device such as `/dev/null`, a
//!   FIFO, a symbolic link such as `/dev/stdout`) is written directly, as a shell
//!   redirection would, never renamed over;
//! - a directory, a block device, a socket, a missing or read-only directory are refused.
//!
//! Every check is made before the scan, so a bad FILE costs nothing.

use std::collections::hash_map::RandomState;
use std::fs::{self, File, Metadata, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a report goes, once checked.
#[derive(Debug)]
pub enum Destination {
    /// A regular file or a new name: a temporary file in `dir`, renamed over `path`.
    Replace {
        path: PathBuf,
        dir: PathBuf,
        /// The permissions of the file replaced, kept.
        permissions: Option<fs::Permissions>,
    },
    /// Not a regular file: written directly through this handle, opened before the scan.
    Direct { path: PathBuf, file: File },
}

/// The identity of a file: its device and inode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct FileId(u64, u64);

impl FileId {
    #[cfg(unix)]
    fn of(meta: &Metadata) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        Some(FileId(meta.dev(), meta.ino()))
    }

    #[cfg(not(unix))]
    fn of(_meta: &Metadata) -> Option<FileId> {
        None
    }
}

/// The files and directories being scanned, by identity.
struct Inputs {
    files: Vec<(FileId, PathBuf)>,
    dirs: Vec<(FileId, PathBuf)>,
}

impl Inputs {
    fn of(targets: &[PathBuf]) -> Inputs {
        let mut inputs = Inputs {
            files: Vec::new(),
            dirs: Vec::new(),
        };
        for t in targets {
            // Links given on the command line are followed by the scan: compare what they name.
            let Ok(meta) = fs::metadata(t) else { continue };
            let Some(id) = FileId::of(&meta) else {
                continue;
            };
            if meta.is_dir() {
                inputs.dirs.push((id, t.clone()));
            } else {
                inputs.files.push((id, t.clone()));
            }
        }
        inputs
    }

    /// The scanned directory that `dir` (an existing directory) is in, or is.
    fn enclosing_dir(&self, dir: &Path) -> Option<&Path> {
        let canonical = fs::canonicalize(dir).ok()?;
        canonical.ancestors().find_map(|a| {
            let id = fs::metadata(a).ok().as_ref().and_then(FileId::of)?;
            self.dirs
                .iter()
                .find(|(d, _)| *d == id)
                .map(|(_, p)| p.as_path())
        })
    }
}

/// Check `output` against the scan's `targets` and open what must be opened; the error is
/// the message of a usage error (nothing has been scanned or written).
pub fn prepare(output: &Path, targets: &[PathBuf]) -> Result<Destination, String> {
    let shown = output.display();
    let inputs = Inputs::of(targets);
    let own = fs::symlink_metadata(output).ok();
    let is_link = own.as_ref().is_some_and(|m| m.file_type().is_symlink());
    // A link is judged by what it names.
    let resolved = if is_link {
        let meta = fs::metadata(output)
            .map_err(|e| format!("{shown} is a symbolic link to nothing usable ({e})"))?;
        Some(meta)
    } else {
        own
    };
    if let Some(meta) = &resolved {
        let id = FileId::of(meta);
        if let Some((_, input)) = inputs.files.iter().find(|(f, _)| Some(*f) == id) {
            return Err(format!(
                "{shown} is the input {} (the same file): the report would destroy it",
                input.display()
            ));
        }
        refuse_kind(output, meta)?;
    }
    let regular = resolved.as_ref().is_none_or(Metadata::is_file);
    // The directory the bytes land in. A link to a pipe or a terminal has none.
    let landing = if is_link {
        fs::canonicalize(output)
            .ok()
            .map(|p| parent_dir(&p).to_path_buf())
    } else {
        Some(parent_dir(output).to_path_buf())
    };
    match &landing {
        Some(dir) => check_landing(output, dir, &inputs)?,
        None if regular => return Err(format!("{shown}: cannot tell where it leads")),
        None => {}
    }
    if let (true, false, Some(dir)) = (regular, is_link, landing) {
        // Prove now that a temporary file can be made there.
        let (tmp, _, _guard) = create_temporary(&dir)
            .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
        let _ = fs::remove_file(&tmp);
        return Ok(Destination::Replace {
            path: output.to_path_buf(),
            dir,
            permissions: resolved.map(|m| m.permissions()),
        });
    }
    // Never created through a link (no O_CREAT); a regular file is emptied only when the
    // report is ready.
    let file = OpenOptions::new()
        .write(true)
        .open(output)
        .map_err(|e| format!("cannot open {shown} for writing: {e}"))?;
    Ok(Destination::Direct {
        path: output.to_path_buf(),
        file,
    })
}

/// The directory a report lands in exists, and is not in a scanned tree.
fn check_landing(output: &Path, dir: &Path, inputs: &Inputs) -> Result<(), String> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a directory", dir.display())),
        Err(e) => {
            return Err(format!(
                "the directory {} of {}: {e}",
                dir.display(),
                output.display()
            ))
        }
    }
    match inputs.enclosing_dir(dir) {
        Some(tree) => Err(format!(
            "{} is inside the scanned tree {}: the tool never writes there",
            output.display(),
            tree.display()
        )),
        None => Ok(()),
    }
}

/// Standard output, when the report goes there: refused if it is one of the files being
/// scanned (`scan fw.bin >> fw.bin` would append the report to the firmware).
pub fn check_stdout(targets: &[PathBuf]) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() else {
            return Ok(());
        };
        let id = File::from(fd).metadata().ok().as_ref().and_then(FileId::of);
        if let Some((_, input)) = Inputs::of(targets)
            .files
            .iter()
            .find(|(f, _)| Some(*f) == id)
        {
            return Err(format!(
                "standard output is the input {}: the report would be written into it",
                input.display()
            ));
        }
    }
    let _ = targets;
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Outputs that are no place for a report.
fn refuse_kind(output: &Path, meta: &Metadata) -> Result<(), String> {
    let shown = output.display();
    if meta.is_dir() {
        return Err(format!("{shown} is a directory"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_block_device() {
            return Err(format!(
                "{shown} is a block device: a report is never written over a disk"
            ));
        }
        if t.is_socket() {
            return Err(format!("{shown} is a socket"));
        }
    }
    Ok(())
}

/// A new file in `dir` with an unpredictable name, created exclusively (`O_EXCL`: never an
/// existing file, never through a symbolic link).
/// Creates the temporary file under a fresh random name. The name is registered for removal
/// on SIGINT/SIGTERM/SIGHUP *before* the file is created: a signal taken by any thread at any
/// moment after creation then removes it. The guard is handed back with the file.
fn create_temporary(dir: &Path) -> std::io::Result<(PathBuf, File, cleanup::Guard)> {
    let mut last = None;
    for attempt in 0u64..16 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(attempt);
        h.write_u32(std::process::id());
        let tmp = dir.join(format!(".badalloc-audit.{:016x}.tmp", h.finish()));
        let guard = cleanup::remove_on_signal(&tmp);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f, guard)),
            // Not ours: unregistered at once (a signal in between could only remove another
            // run's temporary file of the same random name, which that run then reports).
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

impl Destination {
    /// Write the report. Errors are the operating system's (the caller names the file).
    pub fn write(self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Destination::Direct { file, .. } => write_direct(file, bytes),
            Destination::Replace {
                path,
                dir,
                permissions,
            } => write_replacing(&path, &dir, permissions, bytes),
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Destination::Replace { path, .. } | Destination::Direct { path, .. } => path,
        }
    }
}

fn write_direct(mut file: File, bytes: &[u8]) -> std::io::Result<()> {
    // A regular file reached through a link is emptied first, as `>` would.
    if file.metadata().is_ok_and(|m| m.is_file()) {
        file.set_len(0)?;
    }
    file.write_all(bytes)?;
    file.flush()
}

fn write_replacing(
    path: &Path,
    dir: &Path,
    permissions: Option<fs::Permissions>,
    bytes: &[u8],
) -> std::io::Result<()> {
    let (tmp, mut file, guard) = create_temporary(dir)?;
    let result = (|| {
        if let Some(p) = permissions {
            file.set_permissions(p)?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    drop(guard);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removing the temporary file when the process is interrupted while writing it.
mod cleanup {
    use std::path::Path;

    /// Unregisters the file when dropped.
    pub struct Guard(());

    #[cfg(unix)]
    mod imp {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        use std::path::Path;
        use std::sync::atomic::{AtomicPtr, Ordering};
        use std::sync::Once;

        /// The path to remove, as a C string leaked for the handler (null: none).
        static PENDING: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
        static INSTALL: Once = Once::new();

        extern "C" fn on_signal(signal: libc::c_int) {
            let path = PENDING.swap(std::ptr::null_mut(), Ordering::SeqCst);
            // SAFETY: unlink, signal and raise are async-signal-safe; `path` came from
            // CString::into_raw and is never freed once the handler has taken it.
            unsafe {
                if !path.is_null() {
                    libc::unlink(path);
                }
                libc::signal(signal, libc::SIG_DFL);
                libc::raise(signal);
            }
        }

        pub fn register(path: &Path) {
            INSTALL.call_once(|| {
                for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                    // SAFETY: installs a handler that only calls async-signal-safe functions;
                    // a signal the process was told to ignore (nohup) stays ignored.
                    unsafe {
                        let handler = on_signal as extern "C" fn(libc::c_int);
                        if libc::signal(signal, handler as libc::sighandler_t) == libc::SIG_IGN {
                            libc::signal(signal, libc::SIG_IGN);
                        }
                    }
                }
            });
            if let Ok(c) = CString::new(path.as_os_str().as_bytes()) {
                release(PENDING.swap(c.into_raw(), Ordering::SeqCst));
            }
        }

        pub fn unregister() {
            release(PENDING.swap(std::ptr::null_mut(), Ordering::SeqCst));
        }

        fn release(p: *mut libc::c_char) {
            if !p.is_null() {
                // SAFETY: taken back from PENDING, so the handler can no longer see it.
                drop(unsafe { CString::from_raw(p) });
            }
        }
    }

    #[cfg(not(unix))]
    mod imp {
        pub fn register(_path: &std::path::Path) {}
        pub fn unregister() {}
    }

    pub fn remove_on_signal(path: &Path) -> Guard {
        imp::register(path);
        Guard(())
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            imp::unregister();
        }
    }
}

/// Colour only for a terminal, and never when NO_COLOR is set to anything non-empty
/// (https://no-color.org). `no_color` is the variable's value: `std::env::var_os("NO_COLOR")`.
pub fn use_color(is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_is_respected() {
        assert!(use_color(true, None));
        assert!(!use_color(true, Some("1".into())));
        assert!(use_color(true, Some("".into())));
        assert!(!use_color(false, None));
    }

    #[test]
    fn output_inside_a_scanned_tree_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let targets = vec![dir.path().to_path_buf()];
        let e = prepare(&sub.join("r.json"), &targets).unwrap_err();
        assert!(e.contains("inside the scanned tree"), "{e}");
        let other = tempfile::tempdir().unwrap();
        assert!(prepare(&other.path().join("r.json"), &targets).is_ok());
    }

    #[test]
    fn atomic_write_replaces_the_file_keeps_its_mode_and_leaves_no_temporary() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.json");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let dest = prepare(&p, &[]).unwrap();
        assert!(matches!(dest, Destination::Replace { .. }));
        dest.write(b"new").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temporary_names_are_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let names: std::collections::BTreeSet<PathBuf> = (0..64)
            .map(|_| create_temporary(dir.path()).unwrap().0)
            .collect();
        assert_eq!(names.len(), 64);
        for n in &names {
            assert_eq!(n.parent(), Some(dir.path()));
            assert!(fs::symlink_metadata(n).unwrap().is_file());
        }
    }
}
