//! Raw dumps and damaged images built from the real corpus images: every image outside a
//! file system's extent is examined (issue 15.10), `ls` and `scan` take the same images, a
//! boot image with a flipped bit is still carved (15.11), damage keeps what was decoded and
//! never turns a target into "not QNX" (15.12), an image of a QNX format makes a target QNX
//! (15.4), and carving stays linear with a bound on the images per file (16.2).

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use badalloc_formats::carve::MAX_CARVED_PER_FILE;
use badalloc_report::{ImageState, TargetReport, Verdict};
use common::qnx6_writer;
use common::scan_bytes;
use common::{listed_images, scan_path, scanned_images};

const VULNERABLE_IFS: &str = "qnx/openqnx-641-x86.ifs";
/// Offset of the startup header in the vulnerable image (its BIOS preboot stub is before).
const STARTUP_AT: usize = 0x3f8;

/// The exit status of `badalloc-audit scan` on `paths`.
fn exit_status(paths: &[&Path]) -> i32 {
    Command::cargo_bin("badalloc-audit")
        .unwrap()
        .args(["scan", "--quiet", "--format", "json"])
        .args(paths)
        .output()
        .unwrap()
        .status
        .code()
        .unwrap()
}

/// Write `bytes` as `name` in a fresh directory; scan and list it, check that `ls` and
/// `scan` take the same images, and return the report.
fn scan_and_list(dir: &Path, name: &str, bytes: &[u8]) -> (PathBuf, TargetReport) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let t = scan_path(&path);
    assert_eq!(
        scanned_images(&t),
        listed_images(&path),
        "ls and scan differ on {name}"
    );
    (path, t)
}

/// A QNX6 partition holding the 6.6.0 C library and kernel (a fixed release).
fn fixed_qnx6() -> Option<Vec<u8>> {
    let libc = common::corpus("qnx/sdp660-x86-libc.so.3")?;
    let kernel = common::corpus("qnx/sdp660-x86-procnto")?;
    Some(qnx6_writer::build(&[
        ("lib/libc.so.3", &libc),
        ("boot/sys/procnto", &kernel),
    ]))
}

fn linux_program() -> Vec<u8> {
    std::fs::read(common::fixture("example/linux-device/usr/sbin/httpd")).unwrap()
}

#[test]
fn an_image_behind_a_file_system_is_examined() {
    let (Some(q6), Some(ifs)) = (fixed_qnx6(), common::corpus(VULNERABLE_IFS)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The partition alone: 6.6.0, not affected.
    let (alone, t) = scan_and_list(dir.path(), "q6.bin", &q6);
    assert_eq!(t.verdict, Verdict::NotAffected, "{:?}", t.reasons);
    assert_eq!(exit_status(&[&alone]), 0);

    // [QNX6 partition][gap][vulnerable boot image]: both examined, affected.
    let gap = 0x10000;
    let mut dump = q6.clone();
    dump.resize(q6.len() + gap, 0xff);
    dump.extend_from_slice(&ifs);
    let (path, t) = scan_and_list(dir.path(), "dump.bin", &dump);
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    assert_eq!(t.kind, "raw-dump");
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    let ifs_at = (q6.len() + gap) as u64;
    assert_eq!(
        scanned_images(&t),
        [
            (0, "qnx6".to_string(), ImageState::Complete),
            (ifs_at, "ifs".to_string(), ImageState::Complete)
        ]
    );
    assert!(t
        .libc
        .iter()
        .any(|l| l.path == format!("dump.bin@{ifs_at:#x}!/proc/boot/libc.so.3")));
    assert!(t.libc.iter().any(|l| l.path == "dump.bin!/lib/libc.so.3"));
    assert_eq!(exit_status(&[&path]), 1);

    // Swapped: [boot image][gap][partition], the same images, affected.
    let mut dump = ifs.clone();
    dump.resize((ifs.len() + gap).next_multiple_of(512), 0);
    let q6_at = dump.len() as u64;
    dump.extend_from_slice(&q6);
    let (path, t) = scan_and_list(dir.path(), "swapped.bin", &dump);
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    assert_eq!(
        scanned_images(&t),
        [
            (0, "ifs".to_string(), ImageState::Complete),
            (q6_at, "qnx6".to_string(), ImageState::Complete)
        ]
    );
    assert!(t.libc.iter().any(|l| l.path.ends_with("!/lib/libc.so.3")));
    assert_eq!(exit_status(&[&path]), 1);
}

#[test]
fn a_file_system_claims_only_its_own_extent() {
    // Inside the QNX4 image, its `.boot` boot image is reached through the file system
    // (not carved a second time); after it, a boot image of its own is carved.
    let (Some(q4), Some(ifs)) = (
        common::corpus("qnx/openqnx-qnx4fs.img"),
        common::corpus("qnx/sdp660-armle-omap5-sd.ifs"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut dump = vec![0u8; 0x10000];
    dump.extend_from_slice(&q4);
    let ifs_at = dump.len() as u64 + 0x200;
    dump.resize(ifs_at as usize, 0);
    dump.extend_from_slice(&ifs);
    let (_, t) = scan_and_list(dir.path(), "q4dump.bin", &dump);
    assert_eq!(
        scanned_images(&t),
        [
            (0x10000, "qnx4".to_string(), ImageState::Complete),
            (ifs_at, "ifs".to_string(), ImageState::Complete)
        ]
    );
    // The nested boot image, once, through the file system.
    let nested: Vec<&str> = t
        .images
        .iter()
        .filter(|i| i.path.contains("!/"))
        .map(|i| i.path.as_str())
        .collect();
    assert_eq!(nested, ["q4dump.bin@0x10000!/.boot"]);
    // 6.4.1 in the file system's .boot: affected.
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
}

#[test]
fn a_boot_image_with_a_flipped_bit_in_its_startup_code_is_carved() {
    let Some(mut ifs) = common::corpus(VULNERABLE_IFS) else {
        return;
    };
    // A bit in the startup code, past the 256-byte header: the startup checksum fails.
    ifs[STARTUP_AT + 0x1000] ^= 0x10;
    let mut dump = vec![0xffu8; 0x40000];
    dump.extend_from_slice(&ifs);
    dump.resize(dump.len() + 0x1000, 0xff);
    let dir = tempfile::tempdir().unwrap();
    let (path, t) = scan_and_list(dir.path(), "flash.bin", &dump);
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    let img = t
        .images
        .iter()
        .find(|i| i.path == "flash.bin@0x40000")
        .expect("carved");
    assert!(img
        .notes
        .iter()
        .any(|n| n.kind == "checksum" && n.detail.contains("startup checksum INVALID")));
    // The same damaged image as a file of its own: affected as well.
    let alone = dir.path().join("alone.ifs");
    std::fs::write(&alone, &ifs).unwrap();
    assert_eq!(scan_path(&alone).verdict, Verdict::Affected);
    // A tree with the dump and one Linux program: affected, not "not QNX".
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::rename(&path, tree.join("flash.bin")).unwrap();
    std::fs::write(tree.join("bin/httpd"), linux_program()).unwrap();
    let t = scan_path(&tree);
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    assert_eq!(exit_status(&[&tree]), 1);
}

/// A tree with `name` holding `image` and one Linux program.
fn tree_with_linux_program(dir: &Path, name: &str, image: &[u8]) -> PathBuf {
    let tree = dir.join(format!("tree-{name}"));
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(tree.join(name), image).unwrap();
    std::fs::write(tree.join("bin/httpd"), linux_program()).unwrap();
    tree
}

#[test]
fn small_damage_keeps_what_was_decoded() {
    let Some(ifs) = common::corpus(VULNERABLE_IFS) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Truncated by 1,000 bytes: the blocks before the cut are decoded, the C library is
    // among them; the image is partial, with the damage and its offset.
    let cut = &ifs[..ifs.len() - 1000];
    let tree = tree_with_linux_program(dir.path(), "cut.ifs", cut);
    let t = scan_path(&tree);
    assert_eq!(t.verdict, Verdict::Affected, "{:?}", t.reasons);
    assert_eq!(exit_status(&[&tree]), 1);
    let img = t.images.iter().find(|i| i.path == "cut.ifs").unwrap();
    assert_eq!(img.state, ImageState::Partial);
    let damage = img.damage().expect("a damage note");
    let at = damage.offset.expect("an offset");
    assert!(at < cut.len() as u64 && at > (cut.len() - 0x10000) as u64);
    assert!(damage.detail.contains("truncated"), "{damage:?}");
    assert!(t.errors.iter().any(|e| e.path == "cut.ifs"
        && e.offset == Some(at)
        && e.message.starts_with("ifs image damaged: ")));
    assert!(t.reasons.iter().any(|r| r
        .starts_with("DAMAGED-IMAGE: cut.ifs (ifs image) could be read only in part")
        && r.contains(&format!("at offset {at:#x}"))
        && r.contains("acquire the image again")));

    // imagefs_size off by 4 either way, after everything decoded: read in full.
    let size_at = STARTUP_AT + 44;
    let size = u32::from_le_bytes(ifs[size_at..size_at + 4].try_into().unwrap());
    for wrong in [size + 4, size - 4] {
        let mut bad = ifs.clone();
        bad[size_at..size_at + 4].copy_from_slice(&wrong.to_le_bytes());
        let tree = tree_with_linux_program(dir.path(), &format!("size-{wrong}.ifs"), &bad);
        let t = scan_path(&tree);
        assert_eq!(t.verdict, Verdict::Affected, "{wrong}: {:?}", t.reasons);
        let img = &t.images[0];
        assert_eq!(img.state, ImageState::Complete);
        assert!(img
            .notes
            .iter()
            .any(|n| n.kind == "warning" && n.detail.contains(&format!("says {wrong}"))));
    }
}

#[test]
fn an_image_nested_past_the_bound_keeps_the_target_inconclusive() {
    let Some(libc) = common::corpus("qnx/openqnx-641-x86-libc.so.3") else {
        return;
    };
    // The C library 7 tars deep, beside one Linux program: the innermost tar is not
    // opened, so nothing says "not QNX".
    let mut nest = common::tar(&[("lib/libc.so.3", &libc)]);
    for level in 1..7 {
        nest = common::tar(&[(&format!("level{level}.tar"), &nest)]);
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = tree_with_linux_program(dir.path(), "deep.tar", &nest);
    let t = scan_path(&tree);
    assert_eq!(t.verdict, Verdict::Inconclusive, "{:?}", t.reasons);
    assert_eq!(exit_status(&[&tree]), 3);
    let unread: Vec<_> = t
        .images
        .iter()
        .filter(|i| i.state == ImageState::Unreadable)
        .collect();
    assert_eq!(unread.len(), 1, "{:?}", t.images);
    assert!(unread[0].path.ends_with("level1.tar"), "{}", unread[0].path);
    assert!(
        t.reasons[0].starts_with("DAMAGED-IMAGE:"),
        "{:?}",
        t.reasons
    );
    assert!(
        t.reasons[0].contains("nested deeper than"),
        "{:?}",
        t.reasons
    );
    assert!(t.errors.iter().any(|e| e.message.contains("nested deeper")));
}

#[test]
fn a_qnx_format_makes_the_target_qnx_even_unread() {
    let dir = tempfile::tempdir().unwrap();
    // A QNX6 file system with no program in it: QNX, nothing to decide the release.
    if let Some(q6) = common::corpus("qnx6/qnxmount-test_image.bin") {
        let (_, t) = scan_and_list(dir.path(), "data.qnx6", &q6);
        assert_eq!(t.os.family.as_deref(), Some("qnx"));
        assert_eq!(t.verdict, Verdict::Inconclusive);
        let ev = &t.os.evidence[0];
        assert_eq!(ev.kind, "image-format");
        assert!(ev.detail.starts_with("QNX6 file system"), "{ev:?}");
        assert!(
            !t.reasons.iter().any(|r| r.starts_with("R0")),
            "{:?}",
            t.reasons
        );
        // Both superblock CRCs broken: still a QNX6 file system (its boot block says so).
        let mut bad = q6.clone();
        bad[0x2000 + 500] ^= 1;
        bad[0x63000 + 500] ^= 1;
        let (_, t) = scan_and_list(dir.path(), "badcrc.qnx6", &bad);
        assert_eq!(t.os.family.as_deref(), Some("qnx"), "{:?}", t.images);
        assert_eq!(t.os.evidence[0].kind, "image-format");
    }
    let Some(ifs) = common::corpus(VULNERABLE_IFS) else {
        return;
    };
    // A boot image cut inside its startup code: nothing decoded. QNX, inconclusive, and
    // the reason names the damage, where it is, and what to do.
    let cut = &ifs[..STARTUP_AT + 0x8000];
    let (path, t) = scan_and_list(dir.path(), "cut-startup.ifs", cut);
    assert_eq!(t.os.family.as_deref(), Some("qnx"));
    assert_eq!(t.verdict, Verdict::Inconclusive);
    assert_eq!(t.images[0].state, ImageState::Unreadable);
    let reason = &t.reasons[0];
    assert!(reason.starts_with("DAMAGED-IMAGE: cut-startup.ifs (ifs image) could not be read"));
    assert!(
        reason.contains(&format!("at offset {:#x}", cut.len())),
        "{reason}"
    );
    assert!(reason.contains("truncated in its startup part"), "{reason}");
    assert!(reason.contains("acquire the image again"), "{reason}");
    assert!(t.os.evidence[0].detail.contains("not readable"));
    assert!(t.errors.iter().any(|e| e.path == "cut-startup.ifs"
        && e.offset == Some(cut.len() as u64)
        && e.message.contains("truncated in its startup part")));
    assert_eq!(exit_status(&[&path]), 3);
    // Every verdict of the damaged image beside a Linux program stays inconclusive.
    let tree = tree_with_linux_program(dir.path(), "cut-startup.ifs", cut);
    assert_eq!(scan_path(&tree).verdict, Verdict::Inconclusive);
}

#[test]
fn empty_and_text_files_are_not_firmware() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "firmware v1.2 release notes\n".repeat(5000)).unwrap();
    for p in [&empty, &text] {
        let t = scan_path(p);
        assert_eq!(t.verdict, Verdict::NotQnx, "{:?}", t.reasons);
        assert!(t.reasons[0].starts_with("NOT-FIRMWARE: the file is empty or holds only text"));
        assert!(t.mitigations.is_empty());
        assert_eq!(exit_status(&[p]), 0);
    }
    // A text header in front of binary bytes is not text.
    let mut blob = b"HEADER v1\n".to_vec();
    blob.extend((0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let t = scan_bytes("blob.bin", &blob);
    assert_eq!(t.verdict, Verdict::Inconclusive);
    assert!(t.reasons[0].starts_with("R0:"), "{:?}", t.reasons);
}

/// A dump made of a 1 KiB pattern: 8 minimal QNX4 root directory entries (the file
/// system at entry - 0x200, its directory block 3 at entry + 0x200 holding "."), then 8
/// "." entries.
fn dense_qnx4_dump(mib: usize) -> Vec<u8> {
    common::dense_qnx4::dense_qnx4(mib << 10)
}

#[test]
fn carving_a_dense_dump_is_linear_and_bounded() {
    // 16 MiB: 131,000 QNX4 signatures (before: 10 s in a release build, quadratic in the
    // file systems carved, one report entry each).
    let dump = dense_qnx4_dump(16);
    let t0 = std::time::Instant::now();
    let t = scan_bytes("dense.bin", &dump);
    let took = t0.elapsed();
    assert!(took.as_secs() < 30, "{took:?}");
    let cut = t
        .errors
        .iter()
        .find(|e| e.message.contains("more image signatures"))
        .expect("an error past the bound");
    assert!(cut
        .message
        .contains(&format!("more than {MAX_CARVED_PER_FILE} in one file")));
    assert!(cut.offset.is_some());
    assert!(t.images.len() <= MAX_CARVED_PER_FILE + 1);
    // What was not examined keeps the verdict open.
    assert_eq!(t.verdict, Verdict::Inconclusive);
    assert!(t.reasons.iter().any(|r| r.starts_with("DAMAGED-IMAGE:")));
}

#[test]
#[ignore = "64 MiB: run by scripts/dense-dump-timing.sh (release build)"]
fn carving_a_64_mib_dense_dump_takes_seconds() {
    let dump = dense_qnx4_dump(64);
    let t0 = std::time::Instant::now();
    let t = scan_bytes("dense64.bin", &dump);
    assert!(t0.elapsed().as_secs() < 20, "{:?}", t0.elapsed());
    assert_eq!(t.verdict, Verdict::Inconclusive);
}
