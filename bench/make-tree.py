#!/usr/bin/env python3
"""Generate a large, deterministic firmware-like tree for benchmarks.

usage: make-tree.py OUT_DIR [--gb 1.0]

Mixes real ELF files (from ../shared/corpus and fixtures/, copied with one byte changed per
copy so no two are identical), large random blobs (non-ELF firmware payloads) and many small
text files, in a device-like directory layout. Same arguments, same bytes.
"""
import argparse
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def elf_sources():
    srcs = []
    for base in [ROOT.parent / "shared" / "corpus" / "qnx", ROOT / "fixtures"]:
        if not base.exists():
            continue
        for p in sorted(base.rglob("*")):
            if p.is_file() and not p.is_symlink():
                with open(p, "rb") as f:
                    if f.read(4) == b"\x7fELF":
                        srcs.append(p)
    if not srcs:
        sys.exit("no ELF sources found (need ../shared/corpus or fixtures/)")
    return srcs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--gb", type=float, default=1.0)
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} exists and is not empty")
    rng = random.Random(22156)
    target = int(args.gb * 1e9)
    srcs = elf_sources()
    data = {p: p.read_bytes() for p in srcs}
    written = files = elfs = 0
    dirs = ["bin", "sbin", "lib", "usr/lib", "usr/sbin", "opt/app/bin", "proc/boot", "lib/dll"]
    # ~1500 ELF files, weighted to the large real libraries so ELF bytes dominate like in firmware.
    big = [p for p in srcs if len(data[p]) > 200_000]
    for i in range(1500):
        src = big[i % len(big)] if (i % 3 == 0 and big) else srcs[i % len(srcs)]
        buf = bytearray(data[src])
        # Change one byte past the headers so every copy differs (defeats dedup caches).
        if len(buf) > 4096:
            buf[4096 + (i % (len(buf) - 4096))] ^= 0x5A
        d = out / f"part{i % 4}" / dirs[i % len(dirs)]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{src.name}.{i}").write_bytes(buf)
        written += len(buf)
        files += 1
        elfs += 1
    # Large non-ELF blobs (compressed payloads, file-system images, media).
    blob_dir = out / "blobs"
    blob_dir.mkdir(parents=True, exist_ok=True)
    i = 0
    while written < target * 0.97:
        n = min(16 << 20, target - written)
        (blob_dir / f"payload{i:04}.bin").write_bytes(rng.randbytes(n))
        written += n
        files += 1
        i += 1
    # Many small text and config files.
    etc = out / "etc"
    for i in range(10_000 - files if files < 10_000 else 200):
        d = etc / f"d{i % 50}"
        d.mkdir(parents=True, exist_ok=True)
        text = (f"# config {i}\nkey{i}=value{rng.random()}\n" * (1 + i % 40)).encode()
        (d / f"conf{i}.cfg").write_bytes(text)
        written += len(text)
        files += 1
    print(f"{out}: {files} files, {elfs} ELF, {written / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
