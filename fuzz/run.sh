#!/bin/sh
# Run the fuzz targets and print the executions of each.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   each target once (default: 180 s, all)
#   fuzz/run.sh --long [HOURS] [TARGET...]         round after round, until HOURS have
#                                                  passed (default: until interrupted)
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# Seeds are built from fixtures/ (and ../shared/corpus when present) into fuzz/seeds/;
# the corpus of each target grows in fuzz/corpus/TARGET and is kept between runs (not
# committed), crashes go to fuzz/artifacts/TARGET, logs to fuzz/logs/. Every run is
# bounded: -max_total_time, -rss_limit_mb=2048, -timeout (10 s; 60 s for scan_tree, whose
# inputs are whole trees scanned with the real limits: the work budget allows a scan some
# tens of seconds). --long gives each target FUZZ_TURN seconds per round (default 1200),
# shrinks its corpus (cargo fuzz cmin) after each turn, and adds the executions to
# fuzz/logs/long-totals (target, executions, seconds), which survives between runs.
# Exit status: 0 when no target crashed, 1 otherwise.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
all="elf_parse calloc_x86 calloc_arm calloc_aarch64 calloc_ppc calloc_mips calloc_sh calloc_locate ifs ifs_compressed ucl lzo qnx6 qnx4 efs etfs tar gzip carve scan_image scan_tree"

long=0
hours=0
if [ "${1:-}" = "--long" ]; then
    long=1
    shift
    case "${1:-}" in
        ''|*[!0-9.]*) ;;
        *) hours=$1; shift ;;
    esac
    secs=${FUZZ_TURN:-1200}
else
    secs=${1:-180}
    [ $# -gt 0 ] && shift
fi
targets=${*:-$all}

cd "$top" || exit 2
if [ ! -d "$here/seeds/scan_tree" ]; then
    FUZZ_SEEDS_DIR="$here/seeds" cargo test -q --test fuzz_seeds -- --ignored >/dev/null || exit 2
fi
cargo +nightly fuzz build -O >/dev/null 2>&1 || { cargo +nightly fuzz build -O; exit 2; }
mkdir -p "$here/logs"

# One turn of target $1 for $2 seconds: prints its line, returns 1 when it crashed.
turn() {
    t=$1
    mkdir -p "$here/corpus/$t" "$here/artifacts/$t" "$here/seeds/$t"
    log="$here/logs/$t.log"
    timeout=10
    [ "$t" = scan_tree ] && timeout=60
    cargo +nightly fuzz run -O "$t" "$here/corpus/$t" "$here/seeds/$t" -- \
        -max_total_time="$2" -rss_limit_mb=2048 -timeout=$timeout -print_final_stats=1 \
        -artifact_prefix="$here/artifacts/$t/" >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    if [ -z "$execs" ]; then
        execs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' | tail -1)
    fi
    if [ $rc -eq 0 ]; then result=ok; else result="FAILED (rc $rc, see $log)"; fi
    printf '%-16s %12s executions in %ss  %s\n' "$t" "${execs:-?}" "$2" "$result"
    if [ $long = 1 ]; then
        printf '%s\t%s\t%s\n' "$t" "${execs:-0}" "$2" >>"$here/logs/long-totals"
        # Keep the corpus small: only inputs that add coverage.
        cargo +nightly fuzz cmin -O "$t" "$here/corpus/$t" >"$here/logs/$t.cmin.log" 2>&1
    fi
    [ $rc -eq 0 ]
}

status=0
if [ $long = 0 ]; then
    for t in $targets; do
        turn "$t" "$secs" || status=1
    done
    exit $status
fi

start=$(date +%s)
round=0
while :; do
    round=$((round + 1))
    echo "round $round"
    for t in $targets; do
        turn "$t" "$secs" || status=1
        if [ "$hours" != 0 ] && awk -v s="$start" -v h="$hours" -v n="$(date +%s)" \
            'BEGIN { exit !(n - s >= h * 3600) }'; then
            break 2
        fi
    done
done
echo "totals since the first --long run (fuzz/logs/long-totals):"
awk -F'\t' '{ e[$1] += $2; s[$1] += $3 } END { for (t in e) printf "%-16s %14d executions in %ds\n", t, e[t], s[t] }' \
    "$here/logs/long-totals" | sort
exit $status
