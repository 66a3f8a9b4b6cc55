#!/usr/bin/env bash
# Carving time on dumps dense with file-system signatures (issue 16.2, docs/bounds.md): a
# 1 KiB pattern of 8 minimal QNX4 root directory entries (then 8 "." entries), repeated to
# 4, 16 and 64 MiB, scanned by the release build, each within 20 s; then the 64 MiB case of
# tests/dump_layouts.rs, which the normal suite skips (#[ignore]).
#   bash scripts/dense-dump-timing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import struct, sys
root = bytearray(64)
root[0:1] = b"/"
struct.pack_into("<IIIIHH", root, 16, 64, 3, 1, 0, 0, 0)
struct.pack_into("<HH", root, 48, 1, 0o40755)
root[63] = 1
dot = bytearray(64)
dot[0:1] = b"."
struct.pack_into("<H", dot, 50, 0o40755)
dot[63] = 1
pattern = bytes(root) * 8 + bytes(dot) * 8
for mib in (4, 16, 64):
    with open(f"{sys.argv[1]}/dense{mib}.bin", "wb") as f:
        f.write(pattern * (mib * 1024))
PY
TIMEFORMAT='%R s'
for mib in 4 16 64; do
    printf '%s MiB: ' "$mib"
    status=0
    time timeout 20 target/release/badalloc-audit scan --quiet --format json \
        "$tmp/dense$mib.bin" >/dev/null || status=$?
    # 3: inconclusive (signatures past the bound were not examined); 124: over 20 s.
    if [ "$status" -ne 3 ]; then
        echo "dense$mib.bin: exit status $status, expected 3" >&2
        exit 1
    fi
done
cargo test --release --quiet --test dump_layouts -- --ignored carving_a_64_mib_dense_dump_takes_seconds
