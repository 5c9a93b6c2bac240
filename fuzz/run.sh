#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600), two at a time, from the
# seed corpora in seeds/, and prints each target's final libFuzzer stats.
# The toolchain here is stable: RUSTC_BOOTSTRAP lets cargo-fuzz pass its
# flags, and `-s none` builds without a sanitizer (panics, hangs and
# out-of-memory are still caught by libFuzzer).
set -u
cd "$(dirname "$0")"
secs=${1:-600}
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none >/dev/null 2>&1 || { echo "build failed"; exit 1; }
run() {
    mkdir -p "corpus/$1"
    cargo fuzz run -s none "$1" "corpus/$1" "seeds/$1" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -max_len=262144 > "logs/$1.log" 2>&1
    echo "$1: exit $? $(grep -E '^#[0-9]+.*(DONE|pulse)' "logs/$1.log" | tail -1)"
}
mkdir -p logs
targets=(capture etl_container providers xpress packet correlate manifest analyze)
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    run "${targets[i]}" &
    [ -n "${targets[i + 1]:-}" ] && run "${targets[i + 1]}" &
    wait
done
