#!/usr/bin/env bash
# make observe: runs Prometheus (Debian's package, installed if missing) in the background on 127.0.0.1:9090,
# scraping the services that `make up` started and evaluating the rules of observability/prometheus/rules.
# Data, log and pid file live in $RUN_DIR/observe/ (git-ignored). Idempotent: a running one is left as it is.
# It has its own directory rather than a pid file beside the services', so `make down` leaves it alone and
# `make observe-down` stops only it.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${RUN_DIR:-.run}
ADDR=${PROMETHEUS_ADDR:-127.0.0.1:9090}
CONFIG=observability/prometheus/prometheus.yml
dir="$RUN_DIR/observe"
pidf="$dir/prometheus.pid"

bash scripts/promtool.sh
mkdir -p "$dir/data"

running() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null && [[ "$(readlink -f "/proc/$(cat "$pidf")/exe" 2>/dev/null)" == */prometheus ]]; }

if running; then
	echo "prometheus: already running (pid $(cat "$pidf"))"
else
	promtool check config "$CONFIG" >/dev/null
	# Exemplars (trace ids on latency histograms) are kept only with this feature on.
	nohup prometheus --config.file="$CONFIG" --storage.tsdb.path="$dir/data" --storage.tsdb.retention.time=7d \
		--web.listen-address="$ADDR" --enable-feature=exemplar-storage >>"$dir/prometheus.log" 2>&1 &
	echo $! >"$pidf"
	for _ in $(seq 1 150); do
		curl -fsS -m 1 "http://$ADDR/-/ready" >/dev/null 2>&1 && break
		if ! running; then
			echo "prometheus exited; last log lines:" >&2; tail -n 20 "$dir/prometheus.log" >&2; exit 1
		fi
		sleep 0.2
	done
	curl -fsS -m 1 "http://$ADDR/-/ready" >/dev/null || { echo "prometheus is not ready after 30 s (log: $dir/prometheus.log)" >&2; exit 1; }
	echo "prometheus: started (pid $(cat "$pidf"), log $dir/prometheus.log)"
fi
echo "prometheus: http://$ADDR  (targets: http://$ADDR/targets, alerts: http://$ADDR/alerts)"
