//! Headless Chromium (Debian's `chromium`), to load the HTML reports as a reader's browser
//! does: the page's DOM after parsing, its console messages, a screenshot, an A4 print.
//!
//! Each run gets a fresh profile directory and every flag that keeps the browser off the
//! network and quiet; it is killed if it has not finished in [`RUN_TIMEOUT`].

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest a single browser run may take (a cold start takes 1-3 s on the build machine).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Where Debian installs it (`apt-get install chromium`; `.ci/run` does).
const CHROMIUM: &str = "/usr/bin/chromium";

pub struct Browser {
    exe: PathBuf,
}

/// What the browser made of a page.
pub struct Loaded {
    /// The DOM after parsing, serialised (`--dump-dom`).
    pub dom: String,
    /// Every console message the page logged (errors, CSP violations, warnings).
    pub console: Vec<String>,
}

/// The browser, or None with a SKIP line. The one place that decides: under `CI=true` or
/// `REQUIRE_CORPUS=1` a missing browser fails the test instead (CI installs it).
pub fn browser() -> Option<Browser> {
    let exe = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CHROMIUM));
    if exe.is_file() {
        return Some(Browser { exe });
    }
    super::skip_missing(
        super::Lack::Tool,
        &format!(
            "{} is absent (apt-get install chromium); the HTML reports are not loaded in a browser",
            exe.display()
        ),
    );
    None
}

fn file_url(page: &Path) -> String {
    let abs = std::fs::canonicalize(page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
    // Test pages have plain names; only what a URL cannot hold as is is encoded.
    let mut url = String::from("file://");
    for b in abs.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

impl Browser {
    /// One headless run on `page` with `args`, in a fresh profile, killed after
    /// [`RUN_TIMEOUT`].
    fn run(&self, page: &Path, args: &[&str]) -> Output {
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let mut child = Command::new(&self.exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .arg(file_url(page))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.exe.display()));
        // Read both pipes on their own threads so a chatty browser never blocks on a full
        // pipe while we wait for it.
        let mut out_pipe = child.stdout.take().expect("piped stdout");
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let out_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut out_pipe, &mut v);
            v
        });
        let err_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut err_pipe, &mut v);
            v
        });
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("waiting for the browser") {
                break s;
            }
            if started.elapsed() > RUN_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not finish in {RUN_TIMEOUT:?} on {}",
                    self.exe.display(),
                    page.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Output {
            status,
            stdout: out_reader.join().unwrap_or_default(),
            stderr: err_reader.join().unwrap_or_default(),
        }
    }

    /// Load `page`: its DOM after parsing and every console message it logged.
    pub fn load(&self, page: &Path) -> Loaded {
        let o = self.run(page, &["--enable-logging=stderr", "--v=0", "--dump-dom"]);
        assert!(
            o.status.success(),
            "{} on {}: {:?}\n{}",
            self.exe.display(),
            page.display(),
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        let console = String::from_utf8_lossy(&o.stderr)
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_owned)
            .collect();
        Loaded {
            dom: String::from_utf8_lossy(&o.stdout).into_owned(),
            console,
        }
    }

    /// A screenshot of `page` at `width` x `height` CSS pixels, written to `png`.
    pub fn screenshot(&self, page: &Path, png: &Path, width: u32, height: u32) {
        let o = self.run(
            page,
            &[
                &format!("--screenshot={}", png.display()),
                &format!("--window-size={width},{height}"),
            ],
        );
        assert!(
            o.status.success() && png.is_file(),
            "no screenshot of {}: {:?}\n{}",
            page.display(),
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// `page` printed to `pdf` with the page's own CSS page size.
    pub fn print_pdf(&self, page: &Path, pdf: &Path) {
        let o = self.run(
            page,
            &[
                &format!("--print-to-pdf={}", pdf.display()),
                "--no-pdf-header-footer",
            ],
        );
        assert!(
            o.status.success() && pdf.is_file(),
            "no PDF of {}: {:?}\n{}",
            page.display(),
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// A decoded screenshot: width, height and RGB(A) pixels.
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// Bytes per pixel (3 for RGB, 4 for RGBA).
    pub channels: usize,
    pub pixels: Vec<u8>,
}

impl Image {
    pub fn read(png_path: &Path) -> Image {
        let file =
            std::fs::File::open(png_path).unwrap_or_else(|e| panic!("{}: {e}", png_path.display()));
        let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder
            .read_info()
            .unwrap_or_else(|e| panic!("{}: not a PNG: {e}", png_path.display()));
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader
            .next_frame(&mut pixels)
            .unwrap_or_else(|e| panic!("{}: {e}", png_path.display()));
        pixels.truncate(info.buffer_size());
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("{}: unexpected colour type {other:?}", png_path.display()),
        };
        Image {
            width: info.width,
            height: info.height,
            channels,
            pixels,
        }
    }

    /// How many pixels have exactly this colour.
    pub fn count(&self, rgb: [u8; 3]) -> usize {
        self.pixels
            .chunks_exact(self.channels)
            .filter(|p| p[..3] == rgb)
            .count()
    }

    /// How many different colours the image holds (a blank page has one).
    pub fn colours(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        for p in self.pixels.chunks_exact(self.channels) {
            seen.insert([p[0], p[1], p[2]]);
        }
        seen.len()
    }
}

/// `#rrggbb` as bytes.
pub fn rgb(hex: &str) -> [u8; 3] {
    let h = hex.trim_start_matches('#');
    let byte = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).expect("a #rrggbb colour");
    [byte(0), byte(2), byte(4)]
}

/// The size of each page of a PDF Chromium printed, in points, from its `/MediaBox`es.
pub fn pdf_page_sizes(pdf: &[u8]) -> Vec<(f64, f64)> {
    let text = String::from_utf8_lossy(pdf);
    let mut sizes = Vec::new();
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("/MediaBox") {
        rest = &rest[at + "/MediaBox".len()..];
        let Some(open) = rest.find('[') else { break };
        let Some(close) = rest.find(']') else { break };
        if open > close {
            continue;
        }
        let nums: Vec<f64> = rest[open + 1..close]
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        if let [x0, y0, x1, y1] = nums[..] {
            sizes.push((x1 - x0, y1 - y0));
        }
    }
    sizes
}
