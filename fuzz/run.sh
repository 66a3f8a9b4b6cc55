#!/bin/sh
# Run every fuzz target (or the ones named) for a bounded time and print the executions.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 180 s, all targets)
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# Seeds are built from fixtures/ (and ../shared/corpus when present) into fuzz/seeds/;
# the growing corpus lives in fuzz/corpus/, crashes in fuzz/artifacts/, logs in fuzz/logs/
# (none of them committed). Every run is bounded: -max_total_time, -rss_limit_mb=2048,
# -timeout=10 (a single input taking 10 s is reported as a hang).
# Exit status: 0 when no target crashed, 1 otherwise.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
secs=${1:-180}
[ $# -gt 0 ] && shift
targets=${*:-"elf_parse calloc_x86 calloc_arm calloc_aarch64 calloc_ppc calloc_mips calloc_sh ifs ifs_compressed ucl lzo qnx6 qnx4 efs etfs tar gzip carve scan_image"}

cd "$top" || exit 2
if [ ! -d "$here/seeds" ]; then
    FUZZ_SEEDS_DIR="$here/seeds" cargo test -q --test fuzz_seeds -- --ignored >/dev/null || exit 2
fi
cargo +nightly fuzz build -O >/dev/null 2>&1 || { cargo +nightly fuzz build -O; exit 2; }
mkdir -p "$here/logs"
status=0
for t in $targets; do
    mkdir -p "$here/corpus/$t" "$here/artifacts/$t" "$here/seeds/$t"
    log="$here/logs/$t.log"
    cargo +nightly fuzz run -O "$t" "$here/corpus/$t" "$here/seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$here/artifacts/$t/" >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    if [ -z "$execs" ]; then
        execs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' | tail -1)
    fi
    if [ $rc -eq 0 ]; then result=ok; else result="FAILED (rc $rc, see $log)"; status=1; fi
    printf '%-16s %12s executions in %ss  %s\n' "$t" "${execs:-?}" "$secs" "$result"
done
exit $status
