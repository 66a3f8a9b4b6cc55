//! Writing a report: to standard output, or atomically to a file (temporary file in the same
//! directory, then rename), never inside a scanned tree.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Is `output` inside one of the scanned `targets` (directories)? Compared on canonical paths
/// of the parent directory, since the file itself may not exist yet.
pub fn inside_scanned_tree(output: &Path, targets: &[PathBuf]) -> Option<PathBuf> {
    let parent = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let out_dir = std::fs::canonicalize(parent).ok()?;
    targets.iter().find_map(|t| {
        let t = std::fs::canonicalize(t).ok()?;
        (t.is_dir() && out_dir.starts_with(&t)).then_some(t)
    })
}

/// Write `text` to `path` atomically.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
    fn output_inside_a_scanned_tree_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let targets = vec![dir.path().to_path_buf()];
        assert!(inside_scanned_tree(&sub.join("r.json"), &targets).is_some());
        let other = tempfile::tempdir().unwrap();
        assert!(inside_scanned_tree(&other.path().join("r.json"), &targets).is_none());
    }

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.json");
        std::fs::write(&p, "old").unwrap();
        write_atomically(&p, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
