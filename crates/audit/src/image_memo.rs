//! Images already examined in a scan, by content: a boot image met again (inside a flash
//! dump and as a file of its own, in the A and B copies of a partition) is decoded and
//! analysed once, and what the first copy gave is reported under the second copy's paths.
//!
//! Decided byte for byte, never by a hash: a copy is reused only when the new input has the
//! same reuse key (the startup header the IFS reader takes, at the same offset) and its
//! first [`Container::input_extent`] bytes are
//! equal to the first copy's, compared in full against the first copy's file (read again
//! from the page cache: nothing is copied while no second copy turns up). Those bytes
//! decide everything the image reports, so the reused result is exactly what decoding again
//! would give, as long as the files do not change during the scan (the scan's assumption
//! everywhere: a file rewritten while it is read gives no consistent answer either).
//!
//! Only compressed (LZO, UCL, zlib) IFS images lying directly in a file on disk (the file
//! itself, or carved from it) qualify: they are the costly ones to decode, their extent is
//! exact (see `Container::input_extent`: the blocks up to the end marker, the gzip member
//! and the `stored_size` that gives a zlib image's span), and their first copy can be read
//! again. All of them are
//! opened at the top level with the whole per-file memory budget, so nothing else that
//! decides an examination can differ between two copies.
//!
//! Bounded: what is kept of each image's findings is charged to [`MAX_MEMO_BYTES`]; past
//! that, images are examined as if the memo were not there.
//!
//! [`Container::input_extent`]: badalloc_formats::Container::input_extent

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::facts::FileFacts;
use crate::in_flight::{Claim, InFlight};
use crate::model::{Image, SameContent, ScanError, Symlink};
use crate::outcome::FileOutcome;

/// Memory kept for the findings of examined images, across the whole scan of a target.
pub const MAX_MEMO_BYTES: usize = 32 << 20;

/// Different images sharing one startup header (a crafted set, or a build that only
/// changed a file) kept per key.
const MAX_PER_KEY: usize = 4;

/// What is charged per reported item (its paths and findings).
const ITEM_COST: usize = 512;

/// Offset and bytes of the startup header ([`badalloc_formats::ifs::reuse_key`]): with
/// the deciding bytes, what decides how an image is examined.
pub(crate) type MemoKey = (u64, Vec<u8>);

/// The images of one scan target already examined.
#[derive(Default)]
pub(crate) struct ImageMemo {
    state: Mutex<MemoState>,
    /// Images being examined by a worker (see `in_flight`).
    in_flight: InFlight<MemoKey>,
}

#[derive(Default)]
struct MemoState {
    by_key: HashMap<MemoKey, Vec<Arc<Examined>>>,
    bytes: usize,
}

/// What examining one image added to a [`FileOutcome`], every path relative to the image's
/// own path (the part after it).
pub(crate) struct Examined {
    /// Where the first copy's deciding bytes are: its file, the offset of the image in it,
    /// and their length.
    origin: PathBuf,
    at: usize,
    len: usize,
    /// The image's span in its input (`Container::span`): the deciding bytes hold it.
    span: Option<u64>,
    facts: Vec<FileFacts>,
    errors: Vec<ScanError>,
    symlinks: Vec<Symlink>,
    /// Images nested in this one.
    nested: Vec<Image>,
    /// This image's own report (its offset is the copy's own).
    image: Image,
    started: Vec<(String, String)>,
    image_files: u64,
}

/// How far a [`FileOutcome`] was filled before an image was examined.
pub(crate) struct Mark {
    facts: usize,
    errors: usize,
    symlinks: usize,
    images: usize,
    started: usize,
    image_files: u64,
}

impl Mark {
    pub(crate) fn of(out: &FileOutcome) -> Mark {
        Mark {
            facts: out.facts.len(),
            errors: out.errors.len(),
            symlinks: out.symlinks.len(),
            images: out.images.len(),
            started: out.started.len(),
            image_files: out.image_files,
        }
    }
}

impl ImageMemo {
    /// Whether another worker is examining an image with this key now.
    pub(crate) fn busy(&self, key: &MemoKey) -> bool {
        self.in_flight.busy(key)
    }

    /// Wait while another worker examines an image with this key, then hold the key until
    /// the claim is dropped (after [`ImageMemo::insert`], or once the image is examined).
    /// None once the memo is full: what the other worker finds would not be kept.
    pub(crate) fn enter(&self, key: &MemoKey) -> Option<Claim<'_, MemoKey>> {
        if self.lock().bytes >= MAX_MEMO_BYTES - ITEM_COST {
            return None;
        }
        Some(self.in_flight.enter(key))
    }

    /// A copy examined before whose deciding bytes are the first bytes of `data`.
    pub(crate) fn find(&self, key: &MemoKey, data: &[u8]) -> Option<Arc<Examined>> {
        let candidates: Vec<Arc<Examined>> = self
            .lock()
            .by_key
            .get(key)
            .map(|v| v.to_vec())
            .unwrap_or_default();
        // Compared outside the lock: a few MiB at memory speed.
        candidates.into_iter().find(|e| e.decided_by(data))
    }

    /// Keep what examining an image gave, unless the memo is full.
    pub(crate) fn insert(&self, key: MemoKey, examined: Examined) {
        let cost = examined.cost();
        let mut state = self.lock();
        if state.bytes.saturating_add(cost) > MAX_MEMO_BYTES {
            return;
        }
        let copies = state.by_key.entry(key).or_default();
        if copies.len() >= MAX_PER_KEY {
            return;
        }
        copies.push(Arc::new(examined));
        state.bytes += cost;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoState> {
        // Every update is one insert: a panic elsewhere cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Examined {
    /// What examining the image at `path` added to `out` since `mark`; its deciding bytes
    /// are `len` bytes at `at` in the file `origin`. None if some path does not lie under
    /// `path` (then it is not reused).
    pub(crate) fn capture(
        out: &FileOutcome,
        mark: &Mark,
        path: &str,
        (origin, at, len): (&Path, usize, usize),
        span: Option<u64>,
    ) -> Option<Examined> {
        let rel = |p: &str| p.strip_prefix(path).map(str::to_string);
        let mut nested: Vec<Image> = out.images.get(mark.images..)?.to_vec();
        let mut image = nested.pop()?;
        image.path = rel(&image.path).filter(|r| r.is_empty())?;
        for i in &mut nested {
            i.path = rel(&i.path)?;
        }
        for i in std::iter::once(&mut image).chain(&mut nested) {
            for s in &mut i.same_content {
                s.path = rel(&s.path)?;
                s.same_as = rel(&s.same_as)?;
            }
        }
        let mut facts: Vec<FileFacts> = out.facts.get(mark.facts..)?.to_vec();
        for f in &mut facts {
            f.path = rel(&f.path)?;
        }
        let mut errors: Vec<ScanError> = out.errors.get(mark.errors..)?.to_vec();
        for e in &mut errors {
            e.path = rel(&e.path)?;
        }
        let mut symlinks: Vec<Symlink> = out.symlinks.get(mark.symlinks..)?.to_vec();
        for s in &mut symlinks {
            s.path = rel(&s.path)?;
        }
        let mut started: Vec<(String, String)> = out.started.get(mark.started..)?.to_vec();
        for (_, script) in &mut started {
            *script = rel(script)?;
        }
        Some(Examined {
            origin: origin.to_path_buf(),
            at,
            len,
            span: span.filter(|&s| s <= len as u64),
            facts,
            errors,
            symlinks,
            nested,
            image,
            started,
            image_files: out.image_files.checked_sub(mark.image_files)?,
        })
    }

    /// How many bytes of its input the image occupies (its span when the first copy had
    /// one, else its deciding bytes).
    pub(crate) fn extent(&self) -> u64 {
        self.span.unwrap_or(self.len as u64)
    }

    /// Report this image again, as the copy at `path` (carved at `carved_at`).
    pub(crate) fn apply(&self, out: &mut FileOutcome, path: &str, carved_at: Option<u64>) {
        let at = |rel: &str| format!("{path}{rel}");
        out.facts.extend(self.facts.iter().map(|f| FileFacts {
            path: at(&f.path),
            ..f.clone()
        }));
        out.errors.extend(self.errors.iter().map(|e| ScanError {
            path: at(&e.path),
            ..e.clone()
        }));
        out.symlinks.extend(self.symlinks.iter().map(|s| Symlink {
            path: at(&s.path),
            ..s.clone()
        }));
        let same_content = |i: &Image| {
            i.same_content
                .iter()
                .map(|s| SameContent {
                    path: at(&s.path),
                    same_as: at(&s.same_as),
                })
                .collect()
        };
        out.images.extend(self.nested.iter().map(|i| Image {
            path: at(&i.path),
            same_content: same_content(i),
            ..i.clone()
        }));
        out.images.push(Image {
            path: path.to_string(),
            offset: carved_at,
            same_content: same_content(&self.image),
            ..self.image.clone()
        });
        out.started.extend(
            self.started
                .iter()
                .map(|(prog, script)| (prog.clone(), at(script))),
        );
        out.image_files += self.image_files;
    }

    /// Whether the first `len` bytes of `data` are this image's deciding bytes, read again
    /// from its file.
    fn decided_by(&self, data: &[u8]) -> bool {
        let Some(candidate) = data.get(..self.len) else {
            return false;
        };
        let Ok(first) = crate::source::read_file(&self.origin) else {
            return false;
        };
        let end = self.at.checked_add(self.len);
        // A first file that shrank since reads zeros where its pages are gone: no match.
        end.and_then(|end| first.get(self.at..end)) == Some(candidate) && first.shrunk().is_none()
    }

    fn cost(&self) -> usize {
        let items = self.facts.len()
            + self.errors.len()
            + self.symlinks.len()
            + self.nested.len()
            + self.started.len()
            + 1;
        items.saturating_mul(ITEM_COST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(offset: u64) -> MemoKey {
        (offset, vec![1, 2, 3])
    }

    /// An outcome with findings under `path`, as examining an image at `path` leaves it;
    /// its deciding bytes are `len` bytes at `at` in `origin`.
    fn examined(path: &str, origin: &Path, at: usize, len: usize) -> Examined {
        let mut out = FileOutcome::default();
        let mark = Mark::of(&out);
        out.errors.push(ScanError {
            path: format!("{path}!/proc/boot/x"),
            offset: Some(4),
            kind: crate::ErrorKind::Corrupt,
            message: "m".into(),
        });
        out.started
            .push(("x".into(), format!("{path} boot script")));
        out.image_files = 3;
        out.images.push(Image {
            path: path.into(),
            kind: crate::model::ImageKind::Container(badalloc_formats::ContainerKind::Ifs),
            offset: None,
            entries: 3,
            notes: vec![],
            boot_script: vec![],
            same_content: vec![SameContent {
                path: format!("{path}!/bin/sh"),
                same_as: format!("{path}!/bin/ksh"),
            }],
            state: Default::default(),
        });
        Examined::capture(&out, &mark, path, (origin, at, len), Some(len as u64))
            .expect("paths under the image")
    }

    #[test]
    fn found_only_with_the_same_key_and_the_same_deciding_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("flash.bin");
        // The image's deciding bytes: 100 bytes at 0x40 of the first copy's file.
        let mut file = vec![0xffu8; 0x40];
        file.extend(0..100u8);
        file.extend([0xffu8; 30]);
        std::fs::write(&first, &file).unwrap();
        let memo = ImageMemo::default();
        memo.insert(key(0), examined("flash.bin@0x40", &first, 0x40, 100));

        let mut other: Vec<u8> = (0..100u8).collect();
        other.extend([0u8; 7]);
        let seen = memo
            .find(&key(0), &other)
            .expect("same bytes, more after them");
        assert!(memo.find(&key(1), &other).is_none(), "other startup header");
        assert!(
            memo.find(&key(0), &other[..99]).is_none(),
            "input too short"
        );
        other[50] ^= 1;
        assert!(memo.find(&key(0), &other).is_none(), "one byte differs");
        other[50] ^= 1;
        std::fs::write(&first, b"gone").unwrap();
        assert!(
            memo.find(&key(0), &other).is_none(),
            "the first copy's bytes are compared as they are now"
        );

        let mut out = FileOutcome::default();
        seen.apply(&mut out, "boot.ifs", None);
        assert_eq!(out.errors[0].path, "boot.ifs!/proc/boot/x");
        assert_eq!(out.errors[0].offset, Some(4));
        assert_eq!(out.started[0].1, "boot.ifs boot script");
        assert_eq!(out.images[0].path, "boot.ifs");
        assert_eq!(out.images[0].offset, None);
        assert_eq!(out.images[0].same_content[0].path, "boot.ifs!/bin/sh");
        assert_eq!(out.images[0].same_content[0].same_as, "boot.ifs!/bin/ksh");
        assert_eq!(out.image_files, 3);
    }

    #[test]
    fn a_path_outside_the_image_is_not_captured() {
        let mut out = FileOutcome::default();
        let mark = Mark::of(&out);
        out.errors.push(ScanError {
            path: "elsewhere".into(),
            offset: None,
            kind: crate::ErrorKind::Truncated,
            message: "m".into(),
        });
        out.images.push(Image {
            path: "a.ifs".into(),
            kind: crate::model::ImageKind::Container(badalloc_formats::ContainerKind::Ifs),
            offset: None,
            entries: 0,
            notes: vec![],
            boot_script: vec![],
            same_content: vec![],
            state: Default::default(),
        });
        assert!(
            Examined::capture(&out, &mark, "a.ifs", (Path::new("a.ifs"), 0, 1), None).is_none()
        );
    }

    #[test]
    fn memory_is_bounded() {
        // Findings are charged per item; an image with more than the bound is not kept.
        let memo = ImageMemo::default();
        let per_image = MAX_MEMO_BYTES / ITEM_COST / 3;
        for i in 0..5u64 {
            let mut e = examined("a.ifs", Path::new("a.ifs"), 0, 1);
            e.facts = Vec::new();
            e.symlinks = vec![
                Symlink {
                    path: "!/l".into(),
                    target: "t".into(),
                };
                per_image
            ];
            memo.insert(key(i), e);
        }
        let state = memo.lock();
        assert!(state.bytes <= MAX_MEMO_BYTES);
        assert_eq!(state.by_key.values().map(Vec::len).sum::<usize>(), 2);
        drop(state);
        // At most MAX_PER_KEY different images per key.
        let memo = ImageMemo::default();
        for i in 0..10 {
            memo.insert(key(0), examined("a.ifs", Path::new("a.ifs"), i, 1));
        }
        assert_eq!(memo.lock().by_key[&key(0)].len(), MAX_PER_KEY);
    }
}
