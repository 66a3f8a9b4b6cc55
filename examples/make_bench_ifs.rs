//! Build deterministic IFS boot images for the benchmark set (bench/make-tree.py calls this):
//! one per compression (none, zlib, LZO, UCL) and byte order, from the fixture QNX trees plus
//! compressible filler files so each image is several MB, as real boot images are.
//!
//! usage: make_bench_ifs OUT_DIR COUNT_PER_COMPRESSION [REVISIONS]
//!
//! REVISIONS (default 1) > 1 also writes revisions `-rN` of each image that differ from it only
//! in the last filler file, as the releases of one product line do: their leading compressed
//! blocks are equal (bench/make-fleet.py).

#[path = "../tests/common/ifs_writer.rs"]
mod ifs_writer;

use ifs_writer::{Comp, Opts};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(count)) = (
        args.get(1),
        args.get(2).and_then(|c| c.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: make_bench_ifs OUT_DIR COUNT_PER_COMPRESSION [REVISIONS]");
        std::process::exit(2);
    };
    let revisions = args.get(3).and_then(|r| r.parse::<u32>().ok()).unwrap_or(1);
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/qnx");
    let arches = ["i686", "arm", "aarch64", "powerpc", "mips", "sh4", "x86_64"];
    let comps = [
        (Comp::None, "none"),
        (Comp::Zlib, "zlib"),
        (Comp::LzoReal, "lzo"),
        (Comp::Ucl, "ucl"),
    ];
    let mut made = 0;
    for i in 0..count {
        for rev in 0..revisions {
            for (c, (comp, name)) in comps.iter().enumerate() {
                let arch = arches[(i * comps.len() + c) % arches.len()];
                let big_endian = matches!(arch, "powerpc" | "mips");
                let dir = fixtures.join(arch);
                let mut nodes = vec![ifs_writer::dir("proc", 2), ifs_writer::dir("proc/boot", 3)];
                let mut ino = 10;
                for f in [
                    "procnto-smp-instr",
                    "libc.so.3",
                    "libsocket.so.2",
                    "telnetd",
                    "qconn",
                    "ls",
                    "devc-ser8250",
                ] {
                    let Ok(data) = std::fs::read(dir.join(f)) else {
                        continue;
                    };
                    nodes.push(ifs_writer::file(&format!("proc/boot/{f}"), ino, &data));
                    ino += 1;
                }
                // Filler: driver-sized blobs with the redundancy of machine code (compressible ~3:1).
                for k in 0..24u32 {
                    let data: Vec<u8> = (0..200_000u32)
                        .map(|j| {
                            let salt = k * 97 + i as u32 + if k == 23 { rev * 7919 } else { 0 };
                            let x = j.wrapping_mul(2654435761).wrapping_add(salt) >> 24;
                            if j % 4 == 0 {
                                x as u8
                            } else {
                                (j / 64 % 7) as u8
                            }
                        })
                        .collect();
                    nodes.push(ifs_writer::file(
                        &format!("proc/boot/drv{k}.so"),
                        ino,
                        &data,
                    ));
                    ino += 1;
                }
                nodes.push(ifs_writer::symlink(
                    "usr/lib/ldqnx.so.2",
                    ino,
                    "/proc/boot/libc.so.3",
                ));
                let img = ifs_writer::build(
                    &nodes,
                    &Opts {
                        comp: *comp,
                        big_endian,
                        block: 0x8000,
                        ..Opts::default()
                    },
                );
                let suffix = if rev == 0 {
                    String::new()
                } else {
                    format!("-r{rev}")
                };
                let path =
                    std::path::Path::new(out).join(format!("boot-{name}-{arch}-{i}{suffix}.ifs"));
                if let Err(e) = std::fs::write(&path, &img) {
                    eprintln!("{}: {e}", path.display());
                    std::process::exit(1);
                }
                made += 1;
            }
        }
    }
    println!("{made} IFS images in {out}");
}
