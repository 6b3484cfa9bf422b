#!/usr/bin/env bash
# make down: stops the services that make up started (by their pid files), and nothing else.
set -uo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${RUN_DIR:-.run}
shopt -s nullglob
pids=()
for f in "$RUN_DIR"/*.pid; do
	pid=$(cat "$f")
	name=$(basename "$f" .pid)
	# Only signal the process if it is still our binary (a pid may have been reused).
	if kill -0 "$pid" 2>/dev/null && [[ "$(readlink -f /proc/$pid/exe 2>/dev/null)" == */bin/$name ]]; then
		kill -TERM "$pid" && pids+=("$pid") && echo "$name: stopping (pid $pid)"
	fi
	rm -f "$f"
done
for i in $(seq 1 100); do
	alive=0
	for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
	[ $alive = 0 ] && break
	sleep 0.2
done
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && { echo "pid $p did not stop in 20 s; killing"; kill -KILL "$p"; }; done
echo "stopped"
