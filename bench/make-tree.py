#!/usr/bin/env python3
"""Generate a large, deterministic firmware set for benchmarks.

usage: make-tree.py OUT_DIR [--gb 1.0] [--files 10000] [--elfs 1500]

What it holds (same arguments, same bytes):
- ~1,500 ELF files of mixed architectures: the QNX-like fixtures of every architecture,
  the calloc test matrix (stripped static programs included: glibc, musl, newlib, decoys),
  glibc-linked Linux programs, and a few copies of the real QNX libraries, kernel and
  stripped static programs from ../shared/corpus, which the scan searches for calloc
  without symbols (each copy differs by one byte, so nothing can be deduplicated);
- IFS boot images of every compression (none, zlib, LZO, UCL) and both byte orders, made by
  `cargo run --release --example make_bench_ifs`, plus the real corpus boot images;
- raw flash dumps: erased-flash padding (0xFF) with a boot image at an offset, to be carved;
- large non-ELF blobs (random: compressed payloads, media) filling up to the size asked;
- many small text and configuration files, up to the file count asked.
"""
import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


def is_elf(p):
    with open(p, "rb") as f:
        return f.read(4) == b"\x7fELF"


def fixture_elfs():
    base = ROOT / "fixtures"
    out = []
    for sub in ["qnx", "calloc", "example"]:
        for p in sorted((base / sub).rglob("*")):
            if p.is_file() and not p.is_symlink() and is_elf(p):
                out.append(p)
    return out


def corpus_elfs():
    names = [
        "qnx/openqnx-641-x86-libc.so.3",
        "qnx/sdp660-x86-libc.so.3",
        "qnx/sdp660-x86-procnto",
        "static/mib2-gzip.stripped-static",
        "static/mib2-xxd.stripped-static",
    ]
    return [CORPUS / n for n in names if (CORPUS / n).exists()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--elfs", type=int, default=1_500)
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(22156)
    target = int(args.gb * 1e9)
    written = files = elfs = 0

    # ELF files: mostly small fixtures, a few large real libraries (as on a device: one libc,
    # many programs).
    small = fixture_elfs()
    big = corpus_elfs()
    if not small:
        sys.exit("fixtures/ has no ELF files")
    dirs = ["bin", "sbin", "lib", "usr/lib", "usr/sbin", "opt/app/bin", "proc/boot", "lib/dll"]
    for i in range(args.elfs):
        src = big[i % len(big)] if big and i % 50 == 0 else small[i % len(small)]
        buf = bytearray(src.read_bytes())
        pos = len(buf) // 2 + (i % max(1, len(buf) // 4))
        buf[pos] ^= 0x5A  # every copy differs: no shortcut by content
        d = out / f"fs{i % 4}" / dirs[i % len(dirs)]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{src.name}.{i}").write_bytes(buf)
        written += len(buf)
        files += 1
        elfs += 1

    # Boot images of every compression, and the real ones.
    boot = out / "images"
    boot.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["cargo", "run", "--quiet", "--release", "--example", "make_bench_ifs", "--", tmp, "3"],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )
        made = sorted(Path(tmp).iterdir())
        for p in made:
            shutil.copyfile(p, boot / p.name)
            written += p.stat().st_size
            files += 1
        # Raw flash dumps: 0xFF padding with a boot image at an offset.
        for k, p in enumerate(made[:4]):
            img = p.read_bytes()
            pad = 0x100000 * (k + 1)
            dump = b"\xff" * pad + img + b"\xff" * (0x400000 - len(img) % 0x400000)
            (boot / f"flash{k}.bin").write_bytes(dump)
            written += len(dump)
            files += 1
    for name in ["openqnx-641-x86.ifs", "sdp660-armle-omap5-sd.ifs"]:
        src = CORPUS / "qnx" / name
        if src.exists():
            shutil.copyfile(src, boot / name)
            written += src.stat().st_size
            files += 1

    # Small text files (configuration, scripts, docs), up to the file count.
    etc = out / "etc"
    n_small = max(200, args.files - files - int(max(0, target - written) / (16 << 20)) - 1)
    for i in range(n_small):
        d = etc / f"d{i % 50}"
        d.mkdir(parents=True, exist_ok=True)
        text = (f"# config {i}\nkey{i}=value{rng.random()}\n" * (1 + i % 40)).encode()
        (d / f"conf{i}.cfg").write_bytes(text)
        written += len(text)
        files += 1

    # Large non-ELF blobs, up to the size.
    blob_dir = out / "blobs"
    blob_dir.mkdir(parents=True, exist_ok=True)
    i = 0
    while written < target:
        n = min(16 << 20, target - written)
        (blob_dir / f"payload{i:04}.bin").write_bytes(rng.randbytes(n))
        written += n
        files += 1
        i += 1
    # Top up with small files if the blobs came out fewer than estimated.
    i = n_small
    while files < args.files:
        d = etc / f"d{i % 50}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"conf{i}.cfg").write_bytes(f"# config {i}\n".encode())
        files += 1
        i += 1
    print(f"{out}: {files} files, {elfs} ELF, {written / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
