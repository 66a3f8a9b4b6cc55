#!/usr/bin/env bash
# Time a scan of a large generated tree, warm cache, against reading every byte.
#   bench/run.sh [TREE_DIR] [GB]      (default /tmp/badalloc-bench-tree, 1.0)
# Prints files/s, MB/s, peak RSS for: badalloc-audit scan --format json; cat of every file;
# rg -uuu -c calloc (ripgrep reads every byte). Needs /usr/bin/time (package `time`), rg.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${1:-/tmp/badalloc-bench-tree}
gb=${2:-1.0}
[ -d "$tree" ] || python3 bench/make-tree.py "$tree" --gb "$gb"
cargo build --release -q
bin=target/release/badalloc-audit
files=$(find "$tree" -type f | wc -l)
bytes=$(du -sb "$tree" | cut -f1)
echo "tree: $tree, $files files, $((bytes / 1000000)) MB"
find "$tree" -type f -print0 | xargs -0 cat > /dev/null   # warm the page cache

measure() { # name, command...
  local name=$1; shift
  local log; log=$(mktemp)
  /usr/bin/time -v "$@" > /dev/null 2> "$log" || true
  local secs rss
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  awk -v n="$name" -v s="$secs" -v f="$files" -v b="$bytes" -v r="$rss" \
    'BEGIN { printf "%-28s %7.2f s  %9.0f files/s  %8.0f MB/s  peak RSS %6.1f MB\n", n, s, f/s, b/1e6/s, r/1024 }'
  rm -f "$log"
}
measure "badalloc-audit scan (json)" "$bin" scan --format json "$tree"
measure "badalloc-audit --jobs 1" "$bin" scan --format json --jobs 1 "$tree"
measure "cat every file" sh -c "find '$tree' -type f -print0 | xargs -0 cat"
command -v rg >/dev/null && measure "rg -uuu -c calloc" rg -uuu -c calloc "$tree"
