#!/bin/sh
# Regenerates tests/golden/conformance-counts.tsv: the packet count capinfos
# reports for every capture under the corpus's conformance/ folder and
# whether it read the file to the end ("ok") or stopped with an error
# ("error", with the packets it read before the error and its message). Run from the crate root:
#   sh tests/golden/make_conformance_counts.sh ../shared/corpus
# Produced with capinfos from Wireshark 4.0.17 (Debian 12 package 4.0.17-0+deb12u3).
set -u
corpus=${1:-../shared/corpus}
printf 'file\tpackets\tstatus\tcapinfos_error\n'
find "$corpus/conformance" -type f ! -name '*.txt' ! -name '*.out' | sort | while read -r f; do
    rel=${f#"$corpus"/}
    if out=$(capinfos -c -M "$f" 2>&1); then
        n=$(printf '%s\n' "$out" | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
        printf '%s\t%s\tok\t\n' "$rel" "$n"
    else
        err=$(printf '%s\n' "$out" | grep -v '^Running as' | head -2 | tr '\n\t' '  ')
        n=$(printf '%s\n' "$err" | sed -n 's/.*after reading \([0-9]*\) packets.*/\1/p')
        printf '%s\t%s\terror\t%s\n' "$rel" "${n:-0}" "$err"
    fi
done
