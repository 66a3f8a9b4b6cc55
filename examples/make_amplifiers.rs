//! Write the crafted amplification inputs of issue 16 (tests/common/amplify.rs) to a
//! directory, full size, for timing the scanner under `prlimit` (docs/bounds.md):
//!
//! - `ifs-zero-20000.ifs`: zlib IFS, 20,000 entries on one 256 MiB zero region;
//! - `ifs-zero-shifted-20000.ifs`: the same, each entry starting 4 bytes further in;
//! - `ifs-libc-400000.ifs`: zlib IFS, 400,000 entries on one C library (the corpus's
//!   openqnx 6.4.1 libc.so.3 when ../shared/corpus is there, else the fixture's);
//! - `qnx6-hardlinks-1024.img`: QNX6, 1,024 entries on one 256 MiB inode of one repeated block;
//! - `qnx6-inodes-1024.img`: the same with an inode per entry;
//! - `qnx4-links-16384.img`: the QNX4 corpus image with 16,384 more links to `.boot`
//!   (when ../shared/corpus is there);
//! - `nested-bombs.tar.gz`: three levels of .tar.gz, each with a gzip bomb of 600 MiB of
//!   zeros padded to 1 MiB (a size that made the decoder's doubling reserve 1 GiB).
//!
//! usage: make_amplifiers OUT_DIR

#[path = "../tests/common/mod.rs"]
mod common;

use common::amplify;
use common::ifs_writer::Comp;

fn main() {
    let Some(out) = std::env::args().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: make_amplifiers OUT_DIR");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&out).expect("output directory");
    let write = |name: &str, data: Vec<u8>| {
        std::fs::write(out.join(name), &data).expect("write");
        println!("{name}: {} bytes", data.len());
    };
    let zeros = vec![0u8; 256 << 20];
    write(
        "ifs-zero-20000.ifs",
        amplify::shared_extent_ifs(20_000, &zeros, 0, Comp::Zlib),
    );
    write(
        "ifs-zero-shifted-20000.ifs",
        amplify::shared_extent_ifs(20_000, &zeros, 4, Comp::Zlib),
    );
    drop(zeros);
    // A real C library when the corpus is there (as in the issue), else the fixture's.
    let libc = common::corpus("qnx/openqnx-641-x86-libc.so.3").unwrap_or_else(|| {
        std::fs::read(common::fixture("qnx/x86_64/libc.so.3")).expect("fixture libc")
    });
    write(
        "ifs-libc-400000.ifs",
        amplify::shared_extent_ifs(400_000, &libc, 0, Comp::Zlib),
    );
    write(
        "qnx6-hardlinks-1024.img",
        amplify::repeated_block_qnx6(1024, 256 << 20, false),
    );
    write(
        "qnx6-inodes-1024.img",
        amplify::repeated_block_qnx6(1024, 256 << 20, true),
    );
    if let Some(img) = common::corpus("qnx/openqnx-qnx4fs.img") {
        write(
            "qnx4-links-16384.img",
            amplify::qnx4_extra_links(&img, ".boot", 16_384),
        );
    }
    write(
        "nested-bombs.tar.gz",
        amplify::nested_tar_gz_bombs(3, &amplify::gzip_bomb_padded(600 << 20, 1 << 20)),
    );
}
