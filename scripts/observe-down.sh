#!/usr/bin/env bash
# make observe-down: stops the Prometheus that `make observe` started (by its pid file), and nothing else.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/pidfiles.sh"
cd "$(dirname "$0")/.."
RUN_DIR=${RUN_DIR:-.run}
pidf="$RUN_DIR/observe/prometheus.pid"
[ -f "$pidf" ] || { echo "prometheus: not running"; exit 0; }
stop_pidfiles '*' "$pidf" # only a prometheus, wherever it is installed
echo "stopped"
