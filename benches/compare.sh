#!/usr/bin/env bash
# The pcapng part of benches/scale.sh: overlay-trace analyze on the
# generated mix next to cat, tshark and tcpdump. scale.sh has the ETLs and
# the converters too.
#
#   benches/compare.sh [SIZE] [RUNS]     e.g. benches/compare.sh 1G 3
set -euo pipefail
SIZE=${1:-1G} RUNS=${2:-3} INPUTS=mix exec "$(dirname "$0")/scale.sh"
