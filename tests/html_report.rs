//! `--format html` and `summary --format html` in a real browser (headless Chromium): every
//! page the tests make is loaded and must render with no console message (the page has no
//! script, and its Content-Security-Policy makes the browser log any attempt to load
//! something), with one verdict banner per target agreeing with the JSON report; a
//! screenshot shows the banner's colour; the print is A4.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use badalloc_report::{html, Verdict};
use common::browser::{self, Browser, Image};
use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::cargo_bin("badalloc-audit").unwrap();
    c.timeout(std::time::Duration::from_secs(120));
    c
}

/// `scan --format FORMAT -o OUT TARGETS...`; the exit status.
fn scan_to(format: &str, out: &Path, targets: &[PathBuf]) -> i32 {
    let o = bin()
        .args(["scan", "-q", "--format", format, "-o"])
        .arg(out)
        .args(targets)
        .output()
        .unwrap();
    assert!(
        out.is_file(),
        "no {format} report: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.status.code().unwrap_or(-1)
}

/// The verdicts of a JSON report, in target order.
fn verdicts(json: &Path) -> Vec<Verdict> {
    let v: Value = serde_json::from_slice(&fs::read(json).unwrap()).unwrap();
    v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Verdict::from_name(t["verdict"].as_str().unwrap()).unwrap())
        .collect()
}

/// The verdict classes of the banners in a DOM, in order.
fn banners(dom: &str) -> Vec<String> {
    dom.match_indices("<header class=\"banner ")
        .map(|(at, m)| {
            let rest = &dom[at + m.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
        .collect()
}

/// Load `page` and check it: no console message, a complete DOM without scripts or images,
/// and one banner per verdict of `expected`, in order.
fn check_page(b: &Browser, page: &Path, expected: &[Verdict]) -> String {
    let loaded = b.load(page);
    assert!(
        loaded.console.is_empty(),
        "{}: console messages: {:#?}",
        page.display(),
        loaded.console
    );
    let dom = &loaded.dom;
    assert!(
        dom.contains("</main>") && dom.contains("</html>"),
        "{}: incomplete DOM",
        page.display()
    );
    for tag in ["<script", "<img", "<iframe", "<link", "<object"] {
        assert!(!dom.contains(tag), "{}: {tag} in the DOM", page.display());
    }
    let want: Vec<String> = expected
        .iter()
        .map(|v| html::verdict_class(*v).to_string())
        .collect();
    assert_eq!(banners(dom), want, "{}", page.display());
    loaded.dom
}

/// Scan `target` to JSON and HTML in `dir`; load the HTML and check it against the JSON.
fn scan_and_check(b: &Browser, dir: &Path, name: &str, targets: &[PathBuf]) -> String {
    let json = dir.join(format!("{name}.json"));
    let page = dir.join(format!("{name}.html"));
    let status_json = scan_to("json", &json, targets);
    let status_html = scan_to("html", &page, targets);
    assert_eq!(status_json, status_html, "{name}");
    let expected = verdicts(&json);
    assert_eq!(expected.len(), targets.len());
    let dom = check_page(b, &page, &expected);
    let sections = dom.matches("<section class=\"target\"").count();
    assert_eq!(sections, targets.len(), "{name}");
    for heading in ["<h2>Why</h2>", "<h2>Operating system</h2>"] {
        assert_eq!(
            dom.matches(heading).count(),
            targets.len(),
            "{name}: {heading}"
        );
    }
    dom
}

/// Every file of the corpus, by its path under the corpus directory.
fn corpus_files() -> Option<Vec<PathBuf>> {
    let dir = common::corpus_path("qnx")?.parent()?.to_path_buf();
    let mut files = Vec::new();
    for sub in ["qnx", "qnx6", "flash", "static"] {
        let Ok(entries) = fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().is_file() {
                files.push(e.path());
            }
        }
    }
    files.sort();
    Some(files)
}

#[test]
fn corpus_image_reports_render_in_a_browser() {
    let Some(b) = browser::browser() else { return };
    let Some(files) = corpus_files() else { return };
    assert!(files.len() >= 10, "{files:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let dom = scan_and_check(
            &b,
            dir.path(),
            &format!("corpus{i}"),
            std::slice::from_ref(f),
        );
        seen.push((
            f.file_name().unwrap().to_string_lossy().into_owned(),
            banners(&dom),
        ));
    }
    eprintln!("rendered: {seen:?}");
    // The verdicts the corpus README states, as the page shows them.
    let class_of = |name: &str| {
        seen.iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b[0].clone())
            .unwrap()
    };
    assert_eq!(class_of("openqnx-641-x86.ifs"), "v-affected");
    assert_eq!(class_of("sdp660-armle-omap5-sd.ifs"), "v-not-affected");
}

/// Directories of trees made to reach one verdict each, if the fixtures hold any.
fn verdict_trees() -> Vec<PathBuf> {
    let mut trees = Vec::new();
    for parent in ["verdicts", "verdict"] {
        if let Ok(entries) = fs::read_dir(common::fixture(parent)) {
            trees.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
    }
    trees.sort();
    trees
}

#[test]
fn fixture_reports_render_in_a_browser() {
    let Some(b) = browser::browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let examples: Vec<PathBuf> = ["qnx650-device", "qnx710-device", "linux-device"]
        .iter()
        .map(|e| common::fixture(&format!("example/{e}")))
        .collect();
    for (i, e) in examples.iter().enumerate() {
        scan_and_check(
            &b,
            dir.path(),
            &format!("example{i}"),
            std::slice::from_ref(e),
        );
    }
    // All three in one page: an index, then a section each.
    let dom = scan_and_check(&b, dir.path(), "examples", &examples);
    assert!(dom.contains("<table class=\"index\">"));
    for (i, t) in verdict_trees().iter().enumerate() {
        scan_and_check(
            &b,
            dir.path(),
            &format!("verdict{i}"),
            std::slice::from_ref(t),
        );
    }
}

#[test]
fn hostile_names_stay_text_in_the_browser() {
    let Some(b) = browser::browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let libc = fs::read(common::fixture("example/qnx650-device/lib/libc.so.3")).unwrap();
    let names: [&[u8]; 3] = [
        // Unclosed: unescaped, each would swallow or hide the rest of the page.
        b"lib/libc.so.3<script>alert(1)",
        b"bin/\"'><img src=x onerror=alert(1)>&amp;",
        b"bin/\x1b[2J\xe2\x80\xaeevil\xff<style>body{display:none}",
    ];
    let files: Vec<(&[u8], &[u8])> = names.iter().map(|n| (*n, libc.as_slice())).collect();
    let tar = dir.path().join("fw.tar");
    fs::write(&tar, common::tar_of_names(&files)).unwrap();
    let dom = scan_and_check(&b, dir.path(), "hostile", &[tar]);
    // The names are there, as text.
    assert!(dom.contains("libc.so.3&lt;script&gt;alert(1)"), "{dom}");
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt;&amp;amp;"),
        "{dom}"
    );
    assert!(
        dom.contains("\\x1b[2J\\xe2\\x80\\xaeevil\\xff&lt;style&gt;"),
        "{dom}"
    );
    assert_eq!(
        dom.matches("<style>").count(),
        1,
        "only the page's own style sheet"
    );
}

/// A screenshot of `page`: the expected size, not blank, and the banner's colour present.
fn screenshot(b: &Browser, page: &Path, png: &Path) -> Image {
    b.screenshot(page, png, 1200, 900);
    let img = Image::read(png);
    assert_eq!((img.width, img.height), (1200, 900), "{}", png.display());
    assert!(img.colours() > 20, "{}: a blank page", png.display());
    img
}

#[test]
fn a_screenshot_shows_the_verdict_banner() {
    let Some(b) = browser::browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let red = browser::rgb(html::verdict_colour(Verdict::Affected));
    let green = browser::rgb(html::verdict_colour(Verdict::NotAffected));
    let affected = dir.path().join("affected.html");
    assert_eq!(
        scan_to(
            "html",
            &affected,
            &[common::fixture("example/qnx650-device")]
        ),
        1
    );
    let img = screenshot(&b, &affected, &dir.path().join("affected.png"));
    // The banner spans the page's width (~1000 px) and is ~150 px high.
    assert!(img.count(red) > 50_000, "red pixels: {}", img.count(red));
    assert_eq!(img.count(green), 0);
    let fixed = dir.path().join("fixed.html");
    assert_eq!(
        scan_to("html", &fixed, &[common::fixture("example/qnx710-device")]),
        0
    );
    let img = screenshot(&b, &fixed, &dir.path().join("fixed.png"));
    assert!(
        img.count(green) > 50_000,
        "green pixels: {}",
        img.count(green)
    );
    assert_eq!(img.count(red), 0);
}

#[test]
fn the_report_prints_on_a4() {
    let Some(b) = browser::browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("r.html");
    scan_to("html", &page, &[common::fixture("example/qnx650-device")]);
    let pdf = dir.path().join("r.pdf");
    b.print_pdf(&page, &pdf);
    let bytes = fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let sizes = browser::pdf_page_sizes(&bytes);
    assert!(!sizes.is_empty(), "no page in the PDF");
    // A4: 210 x 297 mm = 595.3 x 841.9 pt (Chromium rounds to whole CSS pixels).
    for (w, h) in &sizes {
        assert!(
            (w - 595.3).abs() < 1.5 && (h - 841.9).abs() < 1.5,
            "page of {w} x {h} pt is not A4"
        );
    }
    assert!(sizes.len() <= 4, "{} pages for a small report", sizes.len());
}

#[test]
fn the_fleet_summary_renders_in_a_browser() {
    let Some(b) = browser::browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for (i, e) in ["qnx650-device", "qnx710-device", "linux-device"]
        .iter()
        .enumerate()
    {
        let r = dir.path().join(format!("r{i}.ndjson"));
        scan_to("ndjson", &r, &[common::fixture(&format!("example/{e}"))]);
        reports.push(r);
    }
    let o = bin()
        .args(["summary", "--format", "html"])
        .args(&reports)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let page = dir.path().join("summary.html");
    fs::write(&page, &o.stdout).unwrap();
    // One banner: the worst verdict of the fleet.
    let dom = check_page(&b, &page, &[Verdict::Affected]);
    assert_eq!(
        dom.matches("<td class=\"cell v-").count(),
        3 + 3,
        "3 verdict counts and 3 devices"
    );
    screenshot(&b, &page, &dir.path().join("summary.png"));
}
