//! Throughput of the container decoders and of carving (run with `--release`):
//!
//! `cargo run --release --example container_bench [CORPUS_DIR [IFS_IMAGE...]]`
//!
//! UCL: the corpus IFS images (real mkifs output); LZO and zlib: the same decompressed
//! imagefs re-compressed in mkifs's layout (64 KiB LZO1X blocks via lzokay-native; one gzip
//! stream via flate2); carving: a 256 MiB buffer of random data and 0xFF padding holding
//! the images at odd offsets.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use badalloc_formats::{carve, gzip, ifs::Ifs, lzo, ucl, Limits};

fn mbps(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn time<F: FnMut()>(mut f: F) -> f64 {
    // Best of 5 runs.
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    let corpus = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")));
    let lim = Limits::default();
    // Images named after the corpus directory: opening each (decoding, checksums, directory).
    for f in std::env::args().skip(2) {
        let Ok(d) = std::fs::read(&f) else {
            eprintln!("{f}: unreadable; skipping");
            continue;
        };
        let Ok(ifs) = Ifs::open(&d, &lim) else {
            eprintln!("{f}: not an IFS; skipping");
            continue;
        };
        let out = ifs.imagefs().len();
        drop(ifs);
        let t = time(|| {
            Ifs::open(&d, &lim).expect("open");
        });
        println!(
            "IFS open {f}: {:.1} ms: {:.0} MB/s of output",
            t * 1e3,
            mbps(out, t)
        );
    }
    let mut images = Vec::new();
    for f in ["qnx/openqnx-641-x86.ifs", "qnx/sdp660-armle-omap5-sd.ifs"] {
        let Ok(d) = std::fs::read(corpus.join(f)) else {
            eprintln!("corpus file {f} missing; skipping");
            continue;
        };
        let t = time(|| {
            Ifs::open(&d, &lim).expect("open");
        });
        let ifs = Ifs::open(&d, &lim).expect("open");
        let out = ifs.imagefs().len();
        println!(
            "IFS open {f}: {:.1} ms (UCL decompress + checksums + directory): {:.0} MB/s of output",
            t * 1e3,
            mbps(out, t)
        );
        // Raw UCL block decoding only.
        let sh = ifs.info().startup.clone().expect("startup");
        let start = (sh.offset + u64::from(sh.startup_size)) as usize;
        let t = time(|| {
            let mut pos = start;
            let mut out = Vec::with_capacity(sh.imagefs_size as usize);
            loop {
                let n = u16::from_be_bytes([d[pos], d[pos + 1]]) as usize;
                pos += 2;
                if n == 0 {
                    break;
                }
                ucl::nrv2b_decompress_8(&d[pos..pos + n], &mut out, 1 << 16).expect("ucl");
                pos += n;
            }
        });
        println!("  UCL NRV2B decode: {:.0} MB/s (output)", mbps(out, t));
        images.push((d.clone(), ifs.imagefs().to_vec()));
    }
    for (_, img) in &images {
        // LZO: mkifs-style 64 KiB blocks.
        let blocks: Vec<Vec<u8>> = img
            .chunks(0x10000)
            .map(|c| lzokay_native::compress(c).expect("lzo compress"))
            .collect();
        let t = time(|| {
            let mut out = Vec::with_capacity(img.len());
            for b in &blocks {
                lzo::lzo1x_decompress(b, &mut out, 1 << 16).expect("lzo");
            }
        });
        println!(
            "LZO1X decode ({} bytes): {:.0} MB/s (output)",
            img.len(),
            mbps(img.len(), t)
        );
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(img).expect("gz");
        let gz = e.finish().expect("gz");
        let t = time(|| {
            gzip::gunzip_one(&gz, u64::MAX, &lim).expect("gunzip");
        });
        println!(
            "zlib (gzip) decode ({} bytes): {:.0} MB/s (output)",
            img.len(),
            mbps(img.len(), t)
        );
    }
    // Carving.
    let size = 256usize << 20;
    let mut buf = Vec::with_capacity(size + (8 << 20));
    let mut x: u64 = 0x1234_5678_9abc_def1;
    while buf.len() < size {
        for _ in 0..(1 << 20) / 8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&x.to_le_bytes());
        }
        buf.extend(std::iter::repeat_n(0xffu8, 1 << 20));
        if buf.len() % (64 << 20) < (2 << 20) {
            for (d, _) in &images {
                buf.push(0xff);
                buf.extend_from_slice(d);
            }
        }
    }
    let mut found = Vec::new();
    let t = time(|| {
        found = carve(&buf);
    });
    println!(
        "carve {} MiB: {:.0} ms, {:.2} GB/s, {} containers found",
        buf.len() >> 20,
        t * 1e3,
        buf.len() as f64 / t / 1e9,
        found.len()
    );
    let zeros = vec![0u8; 256 << 20];
    let t = time(|| {
        found = carve(&zeros);
    });
    println!(
        "carve 256 MiB of zeros: {:.2} GB/s",
        zeros.len() as f64 / t / 1e9
    );
    let ff = vec![0xffu8; 256 << 20];
    let t = time(|| {
        found = carve(&ff);
    });
    println!(
        "carve 256 MiB of 0xFF: {:.2} GB/s",
        ff.len() as f64 / t / 1e9
    );
}
