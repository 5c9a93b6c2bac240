#!/usr/bin/env bash
# Two builds of overlay-trace timed against each other on the standard
# inputs of benches/scale.sh, in ABBA rounds: A, B, B, A. A shared VM's
# speed drifts by a third within an hour, and the second of two runs in a
# row is often the faster, so one run of each, or a run of one after the
# other, shows differences that are not there; ABBA cancels both the drift
# and the order. Each round gives one ratio, B's two runs over A's two.
#
#   benches/abba.sh OLD_BINARY NEW_BINARY
#
# Environment:
#   ROUNDS      ABBA rounds per command; default 8
#   SIZE        which generated inputs (as scale.sh names them); default 1G
#   INPUTS      default "mix swarm swarm-z capture"
#   BENCH_DIR   where scale.sh generated them; default /tmp/overlay-trace-bench
#
# The inputs must exist: run `SIZE=... RUNS=1 benches/scale.sh` once first.
# `convert` on the capture ETL is timed too: when a change leaves it alone,
# its ratio shows how far from 1.00 noise alone goes.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: benches/abba.sh OLD_BINARY NEW_BINARY" >&2; exit 2; }
a=$1
b=$2
rounds=${ROUNDS:-8}
size=${SIZE:-1G}
inputs=${INPUTS:-mix swarm swarm-z capture}
dir=${BENCH_DIR:-/tmp/overlay-trace-bench}

[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive number, not '$rounds'" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 2; }
for bin in "$a" "$b"; do
    [ -x "$bin" ] || { echo "$bin: not an executable" >&2; exit 2; }
done

# "label|arguments" per command timed.
commands=()
for name in $inputs; do
    case $name in
        mix) file="$dir/mix-$size.pcapng" ;;
        swarm) file="$dir/swarm-$size.etl" ;;
        swarm-z) file="$dir/swarm-z-$size.etl" ;;
        capture) file="$dir/capture-$size.etl" ;;
        *) echo "unknown input '$name' (mix, swarm, swarm-z, capture)" >&2; exit 2 ;;
    esac
    [ -f "$file" ] || { echo "$file is missing: run SIZE=$size RUNS=1 benches/scale.sh first" >&2; exit 2; }
    # Read once, so that no first run pays for the disk.
    cat "$file" >/dev/null
    commands+=("analyze $name|analyze -q $file")
    [ "$name" = capture ] && commands+=("convert $name|convert $file -o /dev/null")
done

times=$(mktemp)
trap 'rm -f "$times" "$times.one"' EXIT
# One run: "label binary wall cpu rss" appended to $times.
run() {
    local label=$1 which=$2 bin=$3 args=$4
    # shellcheck disable=SC2086 # the arguments are words on purpose
    /usr/bin/time -o "$times.one" -f "%e %U %S %M" "$bin" $args >/dev/null 2>&1
    read -r wall user sys rss <"$times.one"
    echo "$label $which $wall $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') $rss" >>"$times"
}

echo "A: $a" >&2
echo "B: $b" >&2
for ((r = 1; r <= rounds; r++)); do
    echo "round $r of $rounds" >&2
    for c in "${commands[@]}"; do
        label=${c%%|*}
        args=${c#*|}
        label=${label// /:}
        run "$label" A "$a" "$args"
        run "$label" B "$b" "$args"
        run "$label" B "$b" "$args"
        run "$label" A "$a" "$args"
    done
done

echo "ABBA rounds: $rounds; SIZE=$size; $(date -u +%Y-%m-%dT%H:%MZ)"
echo "median wall s (median CPU s), median of each round's B/A wall ratio, peak RSS MiB"
printf '%-18s %15s %15s %7s %15s\n' command A B ratio "peak A / B"
for c in "${commands[@]}"; do
    label=${c%%|*}
    label=${label// /:}
    awk -v label="$label" '
        function median(v, n,    i, j, t) {
            for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
            return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        $1 == label {
            if ($2 == "A") { na++; aw[na] = $3; ac[na] = $4; if ($5 > ar) ar = $5 }
            else { nb++; bw[nb] = $3; bc[nb] = $4; if ($5 > br) br = $5 }
        }
        END {
            # Runs come as A B B A per round: a round is two of each.
            for (i = 1; i <= na / 2; i++) q[i] = (bw[2 * i - 1] + bw[2 * i]) / (aw[2 * i - 1] + aw[2 * i])
            for (i = 1; i <= na; i++) { w1[i] = aw[i]; c1[i] = ac[i]; w2[i] = bw[i]; c2[i] = bc[i] }
            sub(":", " ", label)
            printf "%-18s %6.3f (%5.2f) %6.3f (%5.2f) %7.3f %7.1f / %.1f\n", label,
                median(w1, na), median(c1, na), median(w2, nb), median(c2, nb), median(q, na / 2), ar / 1024, br / 1024
        }' "$times"
done
