#!/usr/bin/env bash
# Benchmark: badalloc-audit against reading every byte, on a large generated firmware set.
#
#   bench/run.sh [--gb N] [--runs R] [TREE_DIR]
#
# Generates the set once (bench/make-tree.py: >= 10,000 files, ~1,500 ELF files of mixed
# architectures, IFS images of every compression, raw flash dumps, large blobs) into
# TREE_DIR (default /tmp/badalloc-bench-<N>gb), then times, R runs each, every command
# right after warming the page cache (median wall time, highest peak RSS):
#   - badalloc-audit scan --format json          (default threads, and --jobs 1 / --jobs 2)
#   - rg -uuu -c calloc                          (ripgrep reads every byte)
#   - cat of every file to /dev/null             (the cost of reading everything)
# and prints files/s, MB/s, peak RSS and the ratios. Needs: python3, /usr/bin/time (package
# `time`), rg (package `ripgrep`). The 10 GB variant: bench/run.sh --gb 10
#
# Then the time per stripped static program (the search for calloc without symbols):
# `badalloc-audit scan --format json FILE` on each of the corpus's stripped static QNX
# programs and the fixtures' (glibc and musl static, newlib, QNX-like, a decoy), median
# wall time and user+system CPU (bash's `time`) of R runs, each with the file in the page
# cache. Only that part: bench/run.sh --stripped [--runs R]
set -euo pipefail
cd "$(dirname "$0")/.."
gb=1.0
runs=3
tree=""
stripped_only=""
while [ $# -gt 0 ]; do
  case $1 in
    --gb) gb=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --stripped) stripped_only=1; shift ;;
    *) tree=$1; shift ;;
  esac
done

# Median wall time and CPU (user+system) of R runs of one scan of FILE, in ms.
stripped_programs() {
  local bin=$PWD/target/release/badalloc-audit f log walls cpus found
  log=$(mktemp)
  printf '%-66s %8s %8s  %s\n' "stripped static program" "wall ms" "cpu ms" "calloc found"
  for f in ../shared/corpus/static/*.stripped-static fixtures/calloc/libc/*.stripped \
      fixtures/calloc/newlib/*.stripped fixtures/qnx/arm/devc-ser8250.stripped \
      fixtures/calloc/search/x86_64/*.stripped; do
    [ -f "$f" ] || continue
    walls="" cpus=""
    for _ in $(seq "$runs"); do
      cat "$f" > /dev/null
      # bash's own `time`: wall, user and system time with millisecond steps
      { TIMEFORMAT='%3R %3U %3S'; time "$bin" scan --format json "$f" > /dev/null 2>&1; } \
        2> "$log" || true
      walls="$walls $(awk '{ printf "%.0f", $1 * 1000 }' "$log")"
      cpus="$cpus $(awk '{ printf "%.0f", ($2 + $3) * 1000 }' "$log")"
    done
    # (scan exits 1 for an affected target, 3 for an inconclusive one)
    found=$({ "$bin" scan --format json "$f" 2>/dev/null || true; } | python3 -c '
import json, sys
b = json.load(sys.stdin)["targets"][0]["binaries"][0]
c, s = b.get("static_calloc"), b.get("calloc_search") or {}
print("%s at %s by %s" % (c["verdict"], c["address"], c["location"]["by"]) if c
      else s.get("outcome", "-"))')
    printf '%-66s %8s %8s  %s\n' "$f" \
      "$(printf '%s\n' $walls | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
      "$(printf '%s\n' $cpus | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" "$found"
  done
  rm -f "$log"
}
if [ -n "$stripped_only" ]; then
  command -v /usr/bin/time >/dev/null || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }
  cargo build --release --quiet
  stripped_programs
  exit 0
fi
tree=${tree:-/tmp/badalloc-bench-${gb}gb}
for tool in python3 /usr/bin/time rg; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install time ripgrep python3)" >&2; exit 1; }
done
cargo build --release --quiet
bin=$PWD/target/release/badalloc-audit
[ -d "$tree" ] || python3 bench/make-tree.py "$tree" --gb "$gb"
files=$(find "$tree" -type f | wc -l)
elfs=$(find "$tree" -type f -name '*.[0-9]*' | wc -l)
bytes=$(du -sb "$tree" | cut -f1)
echo "set: $tree: $files files (~$elfs ELF copies), $((bytes / 1000000)) MB, $(nproc) cores"
warm() { find "$tree" -type f -print0 | xargs -0 cat > /dev/null; }

# Each run times every command once, in turn, each right after the page cache is warmed
# again: this VM's kernel pages out cold page-cache pages within seconds (DAMON), so a
# single warm-up before all runs would leave the later commands reading from disk.
names=("scan (json)" "scan --jobs 1" "scan --jobs 2" "rg -uuu -c calloc" "cat every file")
cmds=(
  "$bin scan --format json $tree"
  "$bin scan --format json --jobs 1 $tree"
  "$bin scan --format json --jobs 2 $tree"
  "rg -uuu -c calloc $tree"
  "sh -c 'find $tree -type f -print0 | xargs -0 cat'"
)
declare -A secs rss times
log=$(mktemp)
for _ in $(seq "$runs"); do
  for k in "${!names[@]}"; do
    warm
    # Wall time from bash's microsecond clock (GNU time's %e has 10 ms steps: too coarse
    # for ratios of ~0.2 s runs); peak RSS from GNU time.
    t0=$EPOCHREALTIME
    eval "/usr/bin/time -f '%M' -o $log ${cmds[$k]}" > /dev/null 2>&1 || true
    t1=$EPOCHREALTIME
    t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    read -r m < <(tail -n 1 "$log")   # GNU time puts "Command exited..." first
    times[$k]="${times[$k]:-} $t"
    [ "$m" -gt "${rss[$k]:-0}" ] && rss[$k]=$m
  done
done
rm -f "$log"
for k in "${!names[@]}"; do
  key=${names[$k]}
  secs[$key]=$(printf '%s\n' ${times[$k]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  awk -v k="$key" -v s="${secs[$key]}" -v f="$files" -v b="$bytes" -v r="${rss[$k]}" \
    'BEGIN { if (s < 0.005) s = 0.005; printf "%-30s %7.3f s %9.0f files/s %7.0f MB/s  peak RSS %6.1f MB\n", k, s, f/s, b/1e6/s, r/1024 }'
done
awk -v s="${secs[scan (json)]}" -v rg="${secs[rg -uuu -c calloc]}" -v c="${secs[cat every file]}" \
    -v j1="${secs[scan --jobs 1]}" -v j2="${secs[scan --jobs 2]}" 'BEGIN {
  printf "ratios: scan/rg %.2f, scan/cat %.2f, speed-up --jobs 1 -> 2: %.2fx\n", s/rg, s/c, j1/j2 }'
echo
stripped_programs
