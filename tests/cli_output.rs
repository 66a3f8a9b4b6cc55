//! Where the output goes: `--output` never destroys an input and is checked before the scan;
//! it is written safely (no predictable temporary, nothing renamed over a device or a link,
//! nothing left behind on SIGINT); one write-error policy for every command; `--jobs` bounds.

mod common;

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;

fn bin() -> Command {
    let mut c = Command::cargo_bin("badalloc-audit").unwrap();
    c.timeout(Duration::from_secs(120));
    c
}

/// The binary as a plain process, for standard streams of one's own.
fn raw() -> std::process::Command {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("badalloc-audit"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `scan -q --format json -o OUT TARGET`.
fn scan_to(out: &Path, target: &Path) -> Output {
    bin()
        .args(["scan", "-q", "--format", "json", "-o"])
        .arg(out)
        .arg(target)
        .output()
        .unwrap()
}

/// The command exited `code`; the message names `out`.
fn assert_status(o: &Output, code: i32, out: &Path) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}: {}",
        out.display(),
        stderr(o)
    );
}

/// The JSON report the scan of the 7.1.0 example wrote in `bytes`.
fn assert_example_report(bytes: &[u8]) {
    let j: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(j["targets"][0]["os"]["release"], "7.1.0");
}

/// Files in `dir` left by a report being written.
fn temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".badalloc-audit."))
        .collect()
}

/// A copy of the real boot image, read-only as delivered.
fn boot_image_copy(dir: &Path) -> Option<(PathBuf, String)> {
    let data = common::corpus("qnx/openqnx-641-x86.ifs")?;
    let p = dir.join("v.ifs");
    fs::write(&p, &data).unwrap();
    Some((p, common::sha256_hex(&data)))
}

#[test]
fn an_output_that_is_an_input_is_refused_before_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let Some((image, sum)) = boot_image_copy(dir.path()) else {
        return;
    };
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&image, &link).unwrap();
    let hard = dir.path().join("hard.json");
    fs::hard_link(&image, &hard).unwrap();
    // The image itself (the reported case), a symbolic link to it, a hard link to it.
    for out in [&image, &link, &hard] {
        let o = scan_to(out, &image);
        assert_status(&o, 2, out);
        assert!(stderr(&o).contains("is the input"), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "nothing scanned, nothing printed");
        assert_eq!(common::sha256_hex(&fs::read(&image).unwrap()), sum);
    }
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(temporaries(dir.path()).is_empty());
}

#[test]
fn standard_output_into_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some((image, sum)) = boot_image_copy(dir.path()) else {
        return;
    };
    // `scan v.ifs >> v.ifs`
    let append = fs::File::options().append(true).open(&image).unwrap();
    let o = raw()
        .args(["scan", "-q"])
        .arg(&image)
        .stdout(append)
        .output()
        .unwrap();
    assert_status(&o, 2, &image);
    assert!(
        stderr(&o).contains("standard output is the input"),
        "{}",
        stderr(&o)
    );
    assert_eq!(common::sha256_hex(&fs::read(&image).unwrap()), sum);
}

#[test]
fn an_output_inside_a_scanned_directory_is_refused_however_it_is_reached() {
    let tree = tempfile::tempdir().unwrap();
    let deep = tree.path().join("a/b");
    fs::create_dir_all(&deep).unwrap();
    fs::write(tree.path().join("x.txt"), "x").unwrap();
    let outside = tempfile::tempdir().unwrap();
    // A directory outside that is a link into the tree.
    let door = outside.path().join("door");
    std::os::unix::fs::symlink(&deep, &door).unwrap();
    for out in [
        tree.path().join("r.json"),
        deep.join("r.json"),
        door.join("r.json"),
    ] {
        let o = scan_to(&out, tree.path());
        assert_status(&o, 2, &out);
        assert!(
            stderr(&o).contains("inside the scanned tree"),
            "{}",
            stderr(&o)
        );
        assert!(!out.exists());
    }
}

#[test]
fn a_bad_output_directory_is_a_usage_error_before_the_scan() {
    let Some(image) = common::corpus_path("qnx/openqnx-641-x86.ifs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    fs::write(&file, "x").unwrap();
    let cases: [(PathBuf, &str); 3] = [
        (dir.path().join("missing/r.json"), "missing"),
        (dir.path().to_path_buf(), "is a directory"),
        (file.join("r.json"), "not a directory"),
    ];
    for (out, needle) in cases {
        let started = Instant::now();
        let o = scan_to(&out, &image);
        assert_status(&o, 2, &out);
        assert!(stderr(&o).contains(needle), "{needle}: {}", stderr(&o));
        assert!(started.elapsed() < Duration::from_secs(30));
    }
    assert_eq!(fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn an_output_directory_that_cannot_be_written_is_a_usage_error_before_the_scan() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
    let out = locked.join("r.json");
    let mut cmd = raw();
    // Root writes anywhere: the test runs the scan as nobody then.
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    let o = cmd
        .args(["scan", "-q", "-o"])
        .arg(&out)
        .arg(common::fixture("example/qnx650-device"))
        .output()
        .unwrap();
    assert_status(&o, 2, &out);
    assert!(
        stderr(&o).contains("cannot write in") && stderr(&o).contains("Permission denied"),
        "{}",
        stderr(&o)
    );
    assert!(fs::read_dir(&locked).unwrap().next().is_none());
}

#[test]
fn devices_fifos_and_links_are_written_directly_never_replaced() {
    let example = common::fixture("example/qnx710-device");
    // /dev/null: the report is thrown away; the device stays a device (as root a rename
    // would have replaced it with a regular file).
    let o = bin()
        .args(["scan", "-q", "-o", "/dev/null"])
        .arg(&example)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    // /dev/stdout, a link: the report arrives on standard output; the link stays.
    let o = bin()
        .args(["scan", "-q", "--format", "json", "-o", "/dev/stdout"])
        .arg(&example)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_example_report(&o.stdout);
    assert!(fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .file_type()
        .is_symlink());
    // A FIFO: written into, and still a FIFO afterwards.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).unwrap())
    };
    let o = scan_to(&fifo, &example);
    assert_status(&o, 0, &fifo);
    assert_example_report(&reader.join().unwrap());
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    // A link to a regular file: the file gets the report, the link stays a link.
    let target = dir.path().join("target.json");
    fs::write(&target, "old old old old old old old old old").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = scan_to(&link, &example);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_example_report(&fs::read(&target).unwrap());
    // A dangling link is refused: it would create a file wherever it points.
    let dangling = dir.path().join("dangling.json");
    std::os::unix::fs::symlink(dir.path().join("nowhere/x"), &dangling).unwrap();
    let o = scan_to(&dangling, &example);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(temporaries(dir.path()).is_empty());
}

/// SIGINT while the report is being written removes the temporary file. The process is
/// stopped (SIGSTOP) as soon as a temporary file appears; if it is still there while the
/// process is stopped, SIGINT is sent and the process continued.
#[test]
fn sigint_while_writing_leaves_no_temporary_file() {
    let tree = common::fixture("");
    let mut caught = 0;
    for _ in 0..40 {
        let out = tempfile::tempdir().unwrap();
        let report = out.path().join("r.json");
        let mut child = raw()
            .args(["scan", "-q", "--format", "json", "-o"])
            .arg(&report)
            .arg(&tree)
            .arg(&tree)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as libc::pid_t;
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut stopped_with_temporary = false;
        while Instant::now() < deadline {
            if !temporaries(out.path()).is_empty() {
                // SAFETY: signals to our own child.
                unsafe { libc::kill(pid, libc::SIGSTOP) };
                std::thread::sleep(Duration::from_millis(20));
                stopped_with_temporary = !temporaries(out.path()).is_empty();
                unsafe {
                    if stopped_with_temporary {
                        libc::kill(pid, libc::SIGINT);
                    }
                    libc::kill(pid, libc::SIGCONT);
                }
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
        }
        let status = child.wait().unwrap();
        if stopped_with_temporary {
            use std::os::unix::process::ExitStatusExt;
            caught += 1;
            assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
            assert!(
                temporaries(out.path()).is_empty(),
                "{:?}",
                temporaries(out.path())
            );
            assert!(!report.exists(), "a report half written");
        } else {
            assert!(temporaries(out.path()).is_empty());
        }
        if caught >= 3 {
            break;
        }
    }
    eprintln!("caught the write {caught} time(s)");
    assert!(caught > 0, "never caught the process while it wrote");
}

/// The commands and the status each gives when it can write its output.
fn every_command(dir: &Path) -> Vec<(Vec<std::ffi::OsString>, i32)> {
    let example = common::fixture("example/qnx650-device");
    let report = dir.join("r.json");
    let st = bin()
        .args(["scan", "-q", "--format", "json", "-o"])
        .arg(&report)
        .arg(&example)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    let elf = example.join("lib/libc.so.3");
    let tar = dir.join("fw.tar");
    fs::write(
        &tar,
        common::tar(&[("lib/libc.so.3", &fs::read(&elf).unwrap())]),
    )
    .unwrap();
    let os = |v: &[&dyn AsRef<std::ffi::OsStr>]| -> Vec<std::ffi::OsString> {
        v.iter().map(|a| a.as_ref().to_os_string()).collect()
    };
    let extract_to = dir.join("x");
    vec![
        (os(&[&"scan", &"-q", &example]), 1),
        (os(&[&"scan", &"-q", &"--format", &"sarif", &example]), 1),
        (os(&[&"inspect", &elf]), 0),
        (os(&[&"ls", &tar]), 0),
        (os(&[&"extract", &tar, &extract_to]), 0),
        (os(&[&"diff", &report, &report]), 1),
        (os(&[&"summary", &report]), 1),
        (os(&[&"scan", &"-q", &"--format", &"html", &example]), 1),
        (os(&[&"scan", &"-q", &"--format", &"ndjson", &example]), 1),
        (os(&[&"completions", &"bash"]), 0),
        (os(&[&"man"]), 0),
        (os(&[&"--help"]), 0),
        (os(&[&"--version"]), 0),
    ]
}

#[test]
fn every_command_reports_a_full_disk_with_status_5() {
    let dir = tempfile::tempdir().unwrap();
    for (args, _) in every_command(dir.path()) {
        let _ = fs::remove_dir_all(dir.path().join("x"));
        let full = fs::File::options().write(true).open("/dev/full").unwrap();
        let o = raw().args(&args).stdout(full).output().unwrap();
        assert_eq!(o.status.code(), Some(5), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("cannot write") && stderr(&o).contains("No space left"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
    // The same for --output.
    let o = bin()
        .args(["scan", "-q", "-o", "/dev/full"])
        .arg(common::fixture("example/qnx710-device"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
}

#[test]
fn every_command_stops_quietly_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    for (args, status) in every_command(dir.path()) {
        let _ = fs::remove_dir_all(dir.path().join("x"));
        let mut child = raw()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command writes.
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(status), "{args:?}: {}", stderr(&o));
        assert!(
            !stderr(&o).contains("panicked") && !stderr(&o).contains("Broken pipe"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn jobs_is_bounded_and_zero_is_refused() {
    let example = common::fixture("example/qnx650-device");
    for bad in ["0", "65", "4096", "many"] {
        let o = bin()
            .args(["scan", "-q", "--jobs", bad])
            .arg(&example)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "--jobs {bad}");
        assert!(stderr(&o).contains("from 1 to 64"), "{}", stderr(&o));
    }
    let started = Instant::now();
    let o = bin()
        .args(["scan", "-q", "--jobs", "64"])
        .arg(&example)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(30));
    let help = bin().args(["scan", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("1 to 64"));
}
