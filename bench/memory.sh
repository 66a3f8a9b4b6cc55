#!/usr/bin/env bash
# Peak memory of a scan as the tree grows: builds a 100 MB and a 2 GB tree (bench/make-tree.py,
# deterministic) and a single 3 GB raw dump (random bytes with a corpus boot image at an odd
# offset past 1 GiB: one file, carved end to end), and reports the peak RSS of
# `badalloc-audit scan --format json` on each.
#   bench/memory.sh [DIR]        (default /tmp/badalloc-mem; trees are kept for reuse)
# Needs /usr/bin/time (package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/badalloc-mem}
cargo build --release -q
bin=target/release/badalloc-audit
dump="$dir/dump-3gb"
if [ ! -d "$dump" ]; then
  mkdir -p "$dump"
  python3 - "$dump/flash.bin" ../shared/corpus/qnx/openqnx-641-x86.ifs <<'PY'
import random, sys
from pathlib import Path
rng = random.Random(22156)
img = Path(sys.argv[2]).read_bytes() if Path(sys.argv[2]).exists() else b""
with open(sys.argv[1], "wb") as f:
    for i in range(48):                      # 48 x 64 MiB = 3 GiB
        chunk = bytearray(rng.randbytes(64 << 20))
        if i == 16 and img:                  # at 1 GiB + 0x1234
            chunk[0x1234:0x1234 + len(img)] = img
        f.write(chunk)
PY
fi
for gb in 0.1 2.0 dump; do
  tree="$dir/tree-$gb"
  [ "$gb" = dump ] && tree=$dump
  # The small tree holds fewer files so that it really is ~100 MB (images and ELF files
  # alone are ~80 MB at the default counts).
  small=(); [ "$gb" = 0.1 ] && small=(--files 2000 --elfs 300)
  [ -d "$tree" ] || python3 bench/make-tree.py "$tree" --gb "$gb" "${small[@]}" > /dev/null
  files=$(find "$tree" -type f | wc -l)
  bytes=$(du -sb "$tree" | cut -f1)
  log=$(mktemp)
  status=0
  /usr/bin/time -v "$bin" scan --format json "$tree" > /dev/null 2> "$log" || status=$?
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  printf '%-13s %7d files, %6d MB, scan %s (exit %d), peak RSS %.1f MB\n' \
    "$(basename "$tree"):" "$files" $((bytes / 1000000)) "$secs" "$status" "$(echo "$rss / 1024" | bc -l)"
  rm -f "$log"
done
