#!/usr/bin/env bash
# Whole-command throughput and memory on the standard generated inputs,
# next to the tools people would otherwise use:
#
#   mix      SIZE pcapng, plain and VXLAN flows   cat, analyze, tshark, tcpdump
#   swarm    SIZE ETL, ndiscap + VmSwitch NBL     cat, analyze, convert
#   swarm-z  the same, compressed buffers         cat, analyze, convert
#   capture  SIZE ETL, ndiscap 1001 only          cat, analyze, convert, etl2pcapng
#
# (the converters once writing a file in BENCH_DIR, once to /dev/null),
# and prints one table (median of RUNS runs; peak RSS is the largest of
# the runs) followed by the ratios between overlay-trace and the others.
#
#   benches/scale.sh                     SIZE=1G RUNS=3
#   SIZE=64M RUNS=1 benches/scale.sh     a quick smoke run
#   SIZE=4G RUNS=1 benches/scale.sh      peak memory at 4 GiB, beside the 1 GiB run
#
# Environment:
#   SIZE        size of each generated input (K, M, G suffixes); default 1G
#   RUNS        runs per tool and input; default 3
#   INPUTS      which inputs, space-separated; default "mix swarm swarm-z capture"
#   BENCH_DIR   where the inputs are generated (once, reused afterwards) and
#               outputs written; default /tmp/overlay-trace-bench
#   ETL2PCAPNG  the Rust etl2pcapng port (github.com/RavuAlHemio/etl2pcapng),
#               default /tmp/etl2pcapng/target/release/etl2pcapng if built
#
# tshark and tcpdump rows are left out when the tools are not installed.
# The table is also saved as BENCH_DIR/scale-SIZE-<time>.txt.
set -euo pipefail

size=${SIZE:-1G}
runs=${RUNS:-3}
inputs=${INPUTS:-mix swarm swarm-z capture}
dir=${BENCH_DIR:-/tmp/overlay-trace-bench}
port=${ETL2PCAPNG:-/tmp/etl2pcapng/target/release/etl2pcapng}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/release/overlay-trace

[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive number, not '$runs'" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time) for peak memory" >&2; exit 2; }

(cd "$root" && cargo build --release --quiet)
mkdir -p "$dir"

# ------------------------------------------------------------------ inputs

# The file of an input at this size.
path_of() {
    case $1 in
        mix) echo "$dir/mix-$size.pcapng" ;;
        swarm) echo "$dir/swarm-$size.etl" ;;
        swarm-z) echo "$dir/swarm-z-$size.etl" ;;
        capture) echo "$dir/capture-$size.etl" ;;
        *) echo "unknown input '$1' (mix, swarm, swarm-z, capture)" >&2; exit 2 ;;
    esac
}

# Generates an input unless it is there. Written beside and renamed, so an
# interrupted run leaves nothing that would be taken for a whole file.
generate() {
    local name=$1 out
    out=$(path_of "$name")
    [ -f "$out" ] && return
    local args=(--size "$size" --seed 7)
    case $name in
        mix) args+=(--flows 2000) ;;
        swarm) args+=(--scenario swarm) ;;
        swarm-z) args+=(--scenario swarm --compress) ;;
        capture) args+=(--scenario capture-etl --flows 2000) ;;
    esac
    local tmp="$dir/.generating-$name"
    rm -rf "$tmp" && mkdir -p "$tmp"
    local file
    file="$tmp/$(basename "$out")"
    echo "generating $out" >&2
    "$bin" generate "${args[@]}" -o "$file" >&2
    # swarm also writes the host NIC's pcapng beside the ETL.
    for f in "$tmp"/*; do
        [ "$f" = "$file" ] || mv "$f" "$dir/"
    done
    mv "$file" "$out"
    rmdir "$tmp"
}

for name in $inputs; do
    generate "$name"
done

# ------------------------------------------------------------------ runs

rows=() # tool|input|seconds|fastest-slowest|bytes|packets|peak KiB|status
declare -A secs peak

# Runs a command RUNS times and adds its row: median wall time, the
# fastest and slowest runs (how noisy the machine was), largest peak RSS,
# and the exit status when it was not 0. $out (if set) is
# removed before each run so every run writes a new file.
measure() { # tool, input name, command...
    local tool=$1 name=$2
    shift 2
    local file times=() rss=() status=ok
    file=$(path_of "$name")
    for _ in $(seq "$runs"); do
        [ -n "${out:-}" ] && rm -f "$out"
        local t0 t1 rc=0
        t0=$EPOCHREALTIME
        /usr/bin/time -f %M -o "$dir/time.txt" "$@" > /dev/null 2> "$dir/stderr.txt" || rc=$?
        t1=$EPOCHREALTIME
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
        rss+=("$(grep -E '^[0-9]+$' "$dir/time.txt" | tail -1)")
        if [ "$rc" != 0 ]; then
            # A Rust panic's message is the line after "panicked at".
            local why
            why=$(sed -n '/panicked at/{n;p;q}' "$dir/stderr.txt")
            [ -n "$why" ] || why=$(grep -m1 -v '^$' "$dir/stderr.txt" || true)
            status="exit $rc: ${why:0:60}"
        fi
    done
    local t m sorted
    sorted=$(printf '%s\n' "${times[@]}" | sort -n)
    t=$(sed -n "$(((runs + 1) / 2))p" <<< "$sorted")
    m=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
    rows+=("$tool|$name|$t|$(head -1 <<< "$sorted")-$(tail -1 <<< "$sorted")|$(stat -c %s "$file")|${packets[$name]}|$m|$status")
    secs[$tool/$name]=$t
    peak[$tool/$name]=$m
}

# The packets overlay-trace's report counts in a capture (ETL: packet
# events, 1001 and 1003 fragments alike). Through a file: a reader that
# stops at the first match would break analyze's pipe.
count_packets() {
    "$bin" analyze --quiet --format json --section captures "$1" > "$dir/report.json" || true
    grep -m1 -oE '"packets": *[0-9]+' "$dir/report.json" | grep -oE '[0-9]+$' || echo '?'
}

# Packets in each input, checked against the generator's truth where it
# counts the same thing.
declare -A packets
for name in $inputs; do
    file=$(path_of "$name")
    n=$(count_packets "$file")
    packets[$name]=$n
    case $name in
        mix | capture)
            if [ ! -f "$file.truth.json" ]; then
                echo "warning: $file.truth.json is missing: the packet count is not checked" >&2
                continue
            fi
            truth=$(grep -m1 -oE '"packets": *[0-9]+' "$file.truth.json" | grep -oE '[0-9]+$')
            [ "$truth" = "$n" ] || echo "warning: $file: the report counts $n packets, the truth $truth" >&2
            ;;
    esac
done

echo "warming the page cache" >&2
for name in $inputs; do
    cat "$(path_of "$name")" > /dev/null
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
converted=()
for name in $inputs; do
    file=$(path_of "$name")
    echo "measuring $name" >&2
    cat "$file" > /dev/null
    out=
    measure cat "$name" cat "$file"
    measure "overlay-trace analyze" "$name" "$bin" analyze --quiet "$file"
    if [ "$name" = mix ]; then
        if command -v tshark > /dev/null; then
            measure "tshark -q -z conv,ip" "$name" tshark -n -q -z conv,ip -r "$file"
        fi
        if command -v tcpdump > /dev/null; then
            measure "tcpdump -nr" "$name" tcpdump -nr "$file"
        fi
    else
        # Writing a file as large as the input costs this disk a second or
        # more, and varies by as much: the /dev/null rows time the tools
        # alone.
        out="$dir/convert-$name.pcapng"
        measure "overlay-trace convert" "$name" "$bin" convert --quiet "$file" -o "$out"
        converted+=("overlay-trace convert|$name|$out")
        out=
        measure "convert to /dev/null" "$name" "$bin" convert --quiet "$file" -o /dev/null
        # The port reads only packet-capture-only, uncompressed files; it
        # runs once on the others to show what it does with them.
        if [ -x "$port" ]; then
            out="$dir/etl2pcapng-$name.pcapng"
            if [ "$name" = capture ]; then
                measure etl2pcapng "$name" "$port" "$file" "$out"
                converted+=("etl2pcapng|$name|$out")
                out=
                measure "etl2pcapng /dev/null" "$name" "$port" "$file" /dev/null
            else
                runs_saved=$runs
                runs=1
                measure etl2pcapng "$name" "$port" "$file" "$out"
                runs=$runs_saved
            fi
        fi
    fi
    out=
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report

{
    echo "overlay-trace scale benchmark, $(date -u +%Y-%m-%dT%H:%MZ) on $(hostname)"
    echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
    echo "load average before: $load_before, after: $load_after"
    echo "$("$bin" --version); $(tshark --version 2> /dev/null | head -1 || true); $(tcpdump --version 2> /dev/null | head -1 || true)"
    [ -x "$port" ] && echo "etl2pcapng: $port ($(git -C "$(dirname "$port")/../.." rev-parse --short HEAD 2> /dev/null || echo 'unknown commit'))"
    echo "command: SIZE=$size RUNS=$runs INPUTS=\"$inputs\" benches/scale.sh"
    echo "inputs of $size generated in $dir with --seed 7; median of $runs runs (fastest-slowest), peak RSS the largest run's"
    echo "MB/s: input file bytes (compressed ones as stored); packets/s: the input's packet events (ETL: 1001 and 1003 fragments)"
    echo
    printf '%-22s %-8s %8s %-13s %9s %12s %9s  %s\n' tool input seconds "(runs)" MB/s packets/s "peak MiB" status
    for r in "${rows[@]}"; do
        IFS='|' read -r tool name t spread bytes n m status <<< "$r"
        # A run that failed read only part of the input: no rates for it.
        awk -v tool="$tool" -v name="$name" -v t="$t" -v r="$spread" -v b="$bytes" -v n="$n" -v m="$m" -v s="$status" 'BEGIN {
            if (s == "ok" && t > 0) { mbs = sprintf("%.0f", b / t / 1e6); pps = sprintf("%.0f", n / t) } else { mbs = "-"; pps = "-" }
            split(r, x, "-")
            printf "%-22s %-8s %8.2f %-13s %9s %12s %9.1f  %s\n", tool, name, t, sprintf("%.2f-%.2f", x[1], x[2]), mbs, pps, m / 1024, s
        }'
    done
    echo
    echo "packets per input (overlay-trace's report):$(for name in $inputs; do printf ' %s %s' "$name" "${packets[$name]}"; done)"
    for c in "${converted[@]}"; do
        IFS='|' read -r tool name file <<< "$c"
        [ -f "$file" ] || continue
        n=$(count_packets "$file")
        echo "packets in the pcapng $tool wrote from $name: $n"
    done
    echo
    echo "ratios               speed: other tool's time / overlay-trace's   memory: overlay-trace's peak / other's"
    ratio() { # our key, their key, label
        local ours=$1 theirs=$2 label=$3
        [ -n "${secs[$ours]:-}" ] && [ -n "${secs[$theirs]:-}" ] || return 0
        awk -v a="${secs[$ours]}" -v b="${secs[$theirs]}" -v ma="${peak[$ours]}" -v mb="${peak[$theirs]}" -v l="$label" 'BEGIN {
            printf "  %-44s speed %6.2fx   memory %6.2fx\n", l, (a > 0 ? b / a : 0), (mb > 0 ? ma / mb : 0)
        }'
    }
    ratio "overlay-trace analyze/mix" "tshark -q -z conv,ip/mix" "analyze vs tshark -z conv,ip (mix)"
    ratio "overlay-trace analyze/mix" "tcpdump -nr/mix" "analyze vs tcpdump -nr (mix)"
    ratio "overlay-trace convert/capture" "etl2pcapng/capture" "convert vs etl2pcapng (capture, to files)"
    ratio "convert to /dev/null/capture" "etl2pcapng /dev/null/capture" "convert vs etl2pcapng (capture, /dev/null)"
    for key in "overlay-trace convert" "convert to /dev/null"; do
        [ -n "${secs[$key/capture]:-}" ] || continue
        awk -v k="$key" -v t="${secs[$key/capture]}" -v b="$(stat -c %s "$(path_of capture)")" 'BEGIN {
            r = b / t / 1e9
            printf "goal, convert ETL -> pcapng at 2 GB/s or more: %s (capture): %.2f GB/s, %s\n", k, r, (r >= 2 ? "met" : "not met")
        }'
    done
} | tee "$dir/scale-$size-$(date -u +%Y%m%dT%H%M%S).txt"
# The outputs are as large as the inputs; only the inputs are kept.
rm -f "$dir/time.txt" "$dir/stderr.txt" "$dir/report.json" "$dir"/convert-*.pcapng "$dir"/etl2pcapng-*.pcapng
