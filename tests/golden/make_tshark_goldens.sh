#!/bin/sh
# Regenerates tests/golden/tshark/*.flows.json from tshark's decode of every
# VXLAN/Geneve capture in the shared corpus. Run from the crate root:
#   sh tests/golden/make_tshark_goldens.sh ../shared/corpus
# Produced with TShark 4.0.17 (Debian 12 package 4.0.17-0+deb12u3).
# A capture is included when tshark finds a vxlan or geneve layer in it.
set -eu
corpus=${1:-../shared/corpus}
out=tests/golden/tshark
mkdir -p "$out"
for f in $(find "$corpus/vxlan" -name '*.pcap' -o -name '*.pcapng' | sort); do
    args="-d udp.port==8472,vxlan"
    case "$f" in
        *ysaied_K8S-CKA__*) args="$args -d udp.port==6080,vxlan" ;;
    esac
    # shellcheck disable=SC2086
    if tshark -n -r "$f" $args -T fields -e frame.protocols 2>/dev/null | grep -qE ':(vxlan|geneve)(:|$)'; then
        name=$(basename "$f")
        # shellcheck disable=SC2086
        python3 tests/golden/tshark_flows.py "$f" $args > "$out/$name.flows.json"
        echo "$name"
    fi
done
