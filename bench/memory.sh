#!/usr/bin/env bash
# Peak memory of a scan as the tree grows: builds a 100 MB and a 2 GB tree (bench/make-tree.py,
# deterministic) and reports the peak RSS of `badalloc-audit scan --format json` on each.
#   bench/memory.sh [DIR]        (default /tmp/badalloc-mem; trees are kept for reuse)
# Needs /usr/bin/time (package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/badalloc-mem}
cargo build --release -q
bin=target/release/badalloc-audit
for gb in 0.1 2.0; do
  tree="$dir/tree-$gb"
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
  printf 'tree %-4s GB: %7d files, %6d MB, scan %s (exit %d), peak RSS %.1f MB\n' \
    "$gb" "$files" $((bytes / 1000000)) "$secs" "$status" "$(echo "$rss / 1024" | bc -l)"
  rm -f "$log"
done
