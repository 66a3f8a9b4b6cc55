//! A container's tree as comparable values: kind, permissions, owner, time, size, symlink
//! target and content hash of every entry, by path.

use std::collections::BTreeMap;

use badalloc_audit::container::{Container, Entry, EntryType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj {
    pub kind: EntryType,
    pub perm: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub mtime: Option<u64>,
    /// Files and symlinks only.
    pub size: u64,
    pub target: Option<String>,
    /// SHA-256 of a file's bytes as read.
    pub sha: Option<String>,
}

/// Every entry of `c` whose path starts with `prefix` (stripped), except those `skip` names;
/// files are read.
pub fn tree(
    c: &dyn Container,
    prefix: &str,
    skip: impl Fn(&Entry) -> bool,
) -> BTreeMap<String, Obj> {
    let mut m = BTreeMap::new();
    for e in c.entries() {
        let Some(path) = e.path.strip_prefix(prefix) else {
            continue;
        };
        if path.is_empty() || skip(e) {
            continue;
        }
        let sha = (e.entry_type == EntryType::File).then(|| {
            super::sha256_hex(&c.read(e).unwrap_or_else(|err| panic!("{}: {err}", e.path)))
        });
        let size = match e.entry_type {
            EntryType::File | EntryType::Symlink => e.size,
            _ => 0,
        };
        m.insert(
            path.to_string(),
            Obj {
                kind: e.entry_type,
                perm: e.mode & 0o7777,
                uid: e.uid,
                gid: e.gid,
                mtime: e.mtime,
                size,
                target: e.link_target.clone(),
                sha,
            },
        );
    }
    m
}

/// What `extract` wrote under `root` is what the tarball `tar` holds: the bytes, permission
/// bits and modification time of every file, the target of every symlink, every directory.
/// Returns the number of files compared.
#[cfg(unix)]
pub fn assert_extracted_like(tar: &dyn Container, root: &std::path::Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let mut files = 0;
    for t in tar.entries() {
        let p = root.join(&t.path);
        match t.entry_type {
            EntryType::File => {
                assert_eq!(
                    std::fs::read(&p).unwrap(),
                    tar.read(t).unwrap().as_ref(),
                    "{}",
                    t.path
                );
                let m = std::fs::metadata(&p).unwrap();
                assert_eq!(m.mode() & 0o777, t.mode & 0o777, "{}", t.path);
                assert_eq!(Some(m.mtime() as u64), t.mtime, "{}", t.path);
                files += 1;
            }
            EntryType::Symlink => {
                let l = std::fs::read_link(&p).unwrap();
                assert_eq!(l.to_str(), t.link_target.as_deref(), "{}", t.path);
            }
            EntryType::Dir => assert!(
                std::fs::symlink_metadata(&p).unwrap().is_dir(),
                "{}",
                t.path
            ),
            _ => {}
        }
    }
    files
}
