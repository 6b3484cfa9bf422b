#!/usr/bin/env bash
# make observe-down: stops the Prometheus that `make observe` started (by its pid file), and nothing else.
set -uo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${RUN_DIR:-.run}
pidf="$RUN_DIR/observe/prometheus.pid"
[ -f "$pidf" ] || { echo "prometheus: not running"; exit 0; }
pid=$(cat "$pidf")
# Only signal the process if it is still a prometheus (the pid may have been reused).
if kill -0 "$pid" 2>/dev/null && [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == */prometheus ]]; then
	kill -TERM "$pid" && echo "prometheus: stopping (pid $pid)"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	kill -0 "$pid" 2>/dev/null && { echo "pid $pid did not stop in 20 s; killing"; kill -KILL "$pid"; }
fi
rm -f "$pidf"
echo "stopped"
