//! Instruction-count benchmark for the UCL decoder (run under `valgrind --tool=callgrind`
//! or `perf stat`; wall time on a shared machine is too noisy):
//!
//! `target/release/examples/ucl_bench [CORPUS_DIR [N [IMAGE]]]`
//!
//! Decodes the UCL blocks of the two corpus IFS images (or only those whose name contains
//! IMAGE) N times (default 10) and prints the output size, so instructions per output byte
//! = (count at N - count at 0) / (N * bytes).

use std::path::PathBuf;

use badalloc_formats::{ifs::Ifs, ucl, Limits};

fn main() {
    let corpus = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")));
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let only = std::env::args().nth(3).unwrap_or_default();
    let lim = Limits::default();
    let mut total = 0usize;
    for f in ["qnx/openqnx-641-x86.ifs", "qnx/sdp660-armle-omap5-sd.ifs"] {
        if !f.contains(&only) {
            continue;
        }
        let d = std::fs::read(corpus.join(f)).expect("corpus image");
        let ifs = Ifs::open(&d, &lim).expect("open");
        let sh = ifs.info().startup.clone().expect("startup");
        let start = (sh.offset + u64::from(sh.startup_size)) as usize;
        let mut out = Vec::with_capacity(sh.imagefs_size as usize);
        for _ in 0..n {
            out.clear();
            let mut pos = start;
            loop {
                let len = u16::from_be_bytes([d[pos], d[pos + 1]]) as usize;
                pos += 2;
                if len == 0 {
                    break;
                }
                ucl::nrv2b_decompress_8(&d[pos..pos + len], &mut out, 1 << 16).expect("ucl");
                pos += len;
            }
        }
        assert!(n == 0 || out == ifs.imagefs());
        println!("{f}: {} bytes of output per pass", ifs.imagefs().len());
        total += ifs.imagefs().len();
    }
    println!("total {total} bytes per pass, {n} passes");
}
