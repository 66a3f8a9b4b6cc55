#!/usr/bin/env python3
"""Generate a deterministic fleet-shaped firmware set for benchmarks.

usage: make-fleet.py OUT_DIR [--gib 1.0] [--files 10000] [--devices 64]

A fleet is many devices running a few firmware versions, so the same content appears many
times (bench/make-tree.py is the opposite: every ELF copy differs by one byte). Same arguments,
same bytes:
- six firmware versions, each a set of files copied unchanged into every device that runs it:
  boot images (the real ones from ../shared/corpus and IFS images of every compression made by
  `make_bench_ifs`, two releases of each whose leading compressed blocks are equal), the C
  library and programs of one architecture (fixtures/qnx, part of fixtures/calloc, the real
  corpus libraries, kernel and static programs);
- DEVICES device trees, each one version's files under proc/boot, lib, bin, usr/lib, plus
  its own small configuration and log files;
- blobs of 1 KiB to 24 MiB (sizes log-uniform, random bytes), spread over the devices, up to
  the size asked; small files top the count up.
"""
import argparse
import math
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
FIX = ROOT / "fixtures"

# version name -> (fixtures/qnx arch, fixtures/calloc arches, corpus files, make_bench_ifs images)
VERSIONS = [
    ("x86-641", "i686", ["i686"], ["qnx/openqnx-641-x86.ifs", "qnx/openqnx-641-x86-libc.so.3"],
     ["boot-ucl-i686-1"]),
    ("x86-660", "x86_64", ["x86_64"], ["qnx/sdp660-x86-libc.so.3", "qnx/sdp660-x86-procnto"],
     ["boot-lzo-x86_64-1"]),
    ("armle-660", "arm", ["arm", "thumb2"], ["qnx/sdp660-armle-omap5-sd.ifs",
     "static/mib2-gzip.stripped-static", "static/mib2-xxd.stripped-static"], ["boot-zlib-arm-0"]),
    ("aarch64-700", "aarch64", ["aarch64"], [], ["boot-lzo-aarch64-0"]),
    ("ppcbe-650", "powerpc", ["powerpc"], [], ["boot-ucl-powerpc-0"]),
    ("sh4-650", "sh4", ["sh4", "mips"], ["qnx/openqnx-qnx4fs.img"], ["boot-zlib-sh4-1"]),
]
DIRS = ["proc/boot", "lib", "bin", "usr/lib", "usr/sbin", "lib/dll"]


def files_under(d):
    return [p for p in sorted(d.rglob("*")) if p.is_file() and not p.is_symlink()]


def version_files(ver, images, rev):
    """(relative path in a device, source path) of one firmware version (release rev)."""
    name, qarch, carches, corpus, imgs = ver
    out = []
    for k, p in enumerate(files_under(FIX / "qnx" / qarch)):
        rel = "-".join(p.relative_to(FIX / "qnx" / qarch).parts)
        out.append((f"{DIRS[k % len(DIRS)]}/{rel}", p))
    for carch in carches:
        # Every third calloc variant: a device holds many programs, not the whole test matrix.
        for k, p in enumerate(files_under(FIX / "calloc" / carch)[::3]):
            out.append((f"{DIRS[(k + 2) % len(DIRS)]}/{carch}-{p.name}", p))
    for c in corpus:
        if (CORPUS / c).exists():
            out.append((f"firmware/{Path(c).name}", CORPUS / c))
    for img in imgs:
        src = images / (f"{img}.ifs" if rev == 0 else f"{img}-r{rev}.ifs")
        out.append((f"boot/{img}.ifs", src))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--devices", type=int, default=64)
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(22156_21)
    target = int(args.gib * (1 << 30))
    written = files = 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["cargo", "run", "--quiet", "--release", "--example", "make_bench_ifs", "--",
             tmp, "2", "2"],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )
        images = Path(tmp)
        releases = [[version_files(v, images, rev) for rev in (0, 1)] for v in VERSIONS]
        for dev in range(args.devices):
            v = dev % len(VERSIONS)
            rev = (dev // len(VERSIONS)) % 2  # half the devices run the newer release
            base = out / f"{VERSIONS[v][0]}" / f"device{dev:03}"
            for rel, src in releases[v][rev]:
                dst = base / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
                written += dst.stat().st_size
                files += 1
            for k in range(30):
                text = (f"# device {dev} setting {k}\nserial=SN{dev:05}-{k}\n"
                        f"value={rng.random()}\n" * (1 + k % 25)).encode()
                d = base / "etc" / f"conf{k % 3}"
                d.mkdir(parents=True, exist_ok=True)
                (d / f"setting{k}.cfg").write_bytes(text)
                written += len(text)
                files += 1
        blob_files = 0
        while written < target:
            size = int(math.exp(rng.uniform(math.log(1 << 10), math.log(24 << 20))))
            size = min(size, target - written)
            dev = rng.randrange(args.devices)
            d = out / VERSIONS[dev % len(VERSIONS)][0] / f"device{dev:03}" / "data"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"blob{blob_files:05}.bin").write_bytes(rng.randbytes(size))
            written += size
            files += 1
            blob_files += 1
        i = 0
        while files < args.files:
            dev = i % args.devices
            d = out / VERSIONS[dev % len(VERSIONS)][0] / f"device{dev:03}" / "var" / "log"
            d.mkdir(parents=True, exist_ok=True)
            text = f"log {i}: boot ok\n".encode() * (1 + i % 60)
            (d / f"messages.{i}").write_bytes(text)
            written += len(text)
            files += 1
            i += 1
    print(f"{out}: {files} files ({blob_files} blobs), {written / (1 << 30):.2f} GiB")


if __name__ == "__main__":
    main()
