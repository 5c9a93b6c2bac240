#!/usr/bin/env bash
# Whole-command comparison on one generated capture: overlay-trace analyze
# next to cat (the I/O floor) and `tshark -q -z conv,ip` (if installed).
# Prints wall time, MB/s and peak RSS of each, median of RUNS runs.
#
#   benches/compare.sh [SIZE] [RUNS]     e.g. benches/compare.sh 1G 3
#
# The capture is written once to ${BENCH_DIR:-/tmp/overlay-trace-bench}.
set -euo pipefail
size=${1:-1G}
runs=${2:-3}
dir=${BENCH_DIR:-/tmp/overlay-trace-bench}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/overlay-trace
mkdir -p "$dir"
cap="$dir/mix-$size.pcapng"
[ -f "$cap" ] || "$bin" generate --size "$size" --flows 2000 --seed 7 -o "$cap"
bytes=$(stat -c %s "$cap")
cat "$cap" > /dev/null # warm the page cache

measure() { # name, command...
    local name=$1; shift
    local times=() rss=()
    for _ in $(seq "$runs"); do
        local out
        out=$( { /usr/bin/time -f "%e %M" "$@" > /dev/null 2>/dev/null; } 2>&1 | tail -1)
        times+=("${out% *}"); rss+=("${out#* }")
    done
    local t m
    t=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    m=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
    awk -v n="$name" -v t="$t" -v b="$bytes" -v m="$m" \
        'BEGIN { printf "%-28s %8.2f s %10.0f MB/s %9.1f MiB peak\n", n, t, (t > 0 ? b / t / 1e6 : 0), m / 1024 }'
}

echo "input: $cap ($bytes bytes), median of $runs runs"
measure "cat" cat "$cap"
measure "overlay-trace analyze" "$bin" analyze "$cap"
if command -v tshark > /dev/null; then
    measure "tshark -q -z conv,ip" tshark -n -q -z conv,ip -r "$cap"
fi
