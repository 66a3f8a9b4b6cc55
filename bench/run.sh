#!/usr/bin/env bash
# Benchmark: badalloc-audit against reading every byte, on two generated firmware sets.
#
#   bench/run.sh [--gb N] [--runs R] [--baseline BIN] [TREE_DIR [FLEET_DIR]]
#
# The sets (generated once, deterministic; see bench/README.md):
#   - distinct: bench/make-tree.py (>= 10,000 files, ~1,500 ELF files each differing by one
#     byte, IFS images of every compression, raw flash dumps, large blobs), default
#     /tmp/badalloc-bench-<N>gb;
#   - fleet: bench/make-fleet.py (~1 GiB, 10,000 files: 64 device trees running six firmware
#     versions, so the same boot images, libraries and programs recur; blobs 1 KiB-24 MiB),
#     default /tmp/badalloc-fleet-<N>gib.
# Each run times every command once per set, in turn (interleaved: scan, rg and cat of one run
# meet the same load), each right after warming the page cache:
#   - badalloc-audit scan --format json          (default threads, and --jobs 1 / --jobs 2)
#   - [--baseline BIN] the same scan with another build (before/after comparisons)
#   - rg -uuu -c calloc                          (ripgrep reads every byte)
#   - cat of every file to /dev/null             (the cost of reading everything)
# and prints per set the median wall time, files/s, MB/s, the highest peak RSS, and the
# median of the per-run ratios scan/rg, scan/cat and --jobs 1 / --jobs 2.
# Needs: python3, /usr/bin/time (package `time`), rg (package `ripgrep`).
#
# Then the time per stripped static program (the search for calloc without symbols):
# `badalloc-audit scan --format json FILE` on each of the corpus's stripped static QNX
# programs and the fixtures' (glibc and musl static, newlib, QNX-like, a decoy), median
# wall time and user+system CPU (bash's `time`) of R runs, each with the file in the page
# cache. Only that part: bench/run.sh --stripped [--runs R]
set -euo pipefail
cd "$(dirname "$0")/.."
gb=1.0
runs=5
baseline=""
dirs=()
stripped_only=""
while [ $# -gt 0 ]; do
  case $1 in
    --gb) gb=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --stripped) stripped_only=1; shift ;;
    --baseline) baseline=$(realpath "$2"); shift 2 ;;
    *) dirs+=("$1"); shift ;;
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
tree=${dirs[0]:-/tmp/badalloc-bench-${gb}gb}
fleet=${dirs[1]:-/tmp/badalloc-fleet-${gb}gib}
for tool in python3 /usr/bin/time rg; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install time ripgrep python3)" >&2; exit 1; }
done
cargo build --release --quiet
bin=$PWD/target/release/badalloc-audit
[ -d "$tree" ] || python3 bench/make-tree.py "$tree" --gb "$gb"
[ -d "$fleet" ] || python3 bench/make-fleet.py "$fleet" --gib "$gb"
sets=(distinct fleet)
declare -A set_dir=([distinct]=$tree [fleet]=$fleet)
for s in "${sets[@]}"; do
  d=${set_dir[$s]}
  echo "set $s: $d: $(find "$d" -type f | wc -l) files, $(($(du -sb "$d" | cut -f1) / 1000000)) MB, $(nproc) cores"
done

names=("scan (json)" "scan --jobs 1" "scan --jobs 2" "rg -uuu -c calloc" "cat every file")
[ -n "$baseline" ] && names+=("baseline scan (json)")
cmd() { # cmd INDEX DIR
  case $1 in
    0) echo "$bin scan --format json $2" ;;
    1) echo "$bin scan --format json --jobs 1 $2" ;;
    2) echo "$bin scan --format json --jobs 2 $2" ;;
    3) echo "rg -uuu -c calloc $2" ;;
    4) echo "sh -c 'find $2 -type f -print0 | xargs -0 cat'" ;;
    5) echo "$baseline scan --format json $2" ;;
  esac
}
# This VM's kernel pages out cold page-cache pages within seconds (DAMON), so the cache is
# warmed again right before every command.
warm() { find "$1" -type f -print0 | xargs -0 cat > /dev/null; }
declare -A rss times
log=$(mktemp)
for _ in $(seq "$runs"); do
  for s in "${sets[@]}"; do
    for k in "${!names[@]}"; do
      warm "${set_dir[$s]}"
      # Wall time from bash's microsecond clock (GNU time's %e has 10 ms steps); peak RSS
      # from GNU time.
      t0=$EPOCHREALTIME
      eval "/usr/bin/time -f '%M' -o $log $(cmd "$k" "${set_dir[$s]}")" > /dev/null 2>&1 || true
      t1=$EPOCHREALTIME
      t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
      read -r m < <(tail -n 1 "$log")   # GNU time puts "Command exited..." first
      times[$s,$k]="${times[$s,$k]:-} $t"
      [ "$m" -gt "${rss[$s,$k]:-0}" ] && rss[$s,$k]=$m
    done
  done
done
rm -f "$log"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Median over the runs of the ratio of two commands' times within each run.
pair_ratio() { # pair_ratio SET A B
  local -a a b r=()
  read -ra a <<< "${times[$1,$2]}"
  read -ra b <<< "${times[$1,$3]}"
  for i in "${!a[@]}"; do r+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.3f", x / y }')"); done
  median "${r[@]}"
}
for s in "${sets[@]}"; do
  d=${set_dir[$s]}
  files=$(find "$d" -type f | wc -l)
  bytes=$(du -sb "$d" | cut -f1)
  echo "== $s ($runs runs)"
  for k in "${!names[@]}"; do
    # shellcheck disable=SC2086
    sec=$(median ${times[$s,$k]})
    awk -v k="${names[$k]}" -v s="$sec" -v f="$files" -v b="$bytes" -v r="${rss[$s,$k]}" \
      'BEGIN { if (s < 0.005) s = 0.005; printf "%-30s %7.3f s %9.0f files/s %7.0f MB/s  peak RSS %6.1f MB\n", k, s, f/s, b/1e6/s, r/1024 }'
  done
  echo "ratios (median of per-run pairs): scan/rg $(pair_ratio "$s" 0 3), scan/cat $(pair_ratio "$s" 0 4), speed-up --jobs 1 -> 2: $(pair_ratio "$s" 1 2)x"
  [ -n "$baseline" ] && echo "scan/baseline $(pair_ratio "$s" 0 5)"
done
echo
stripped_programs
