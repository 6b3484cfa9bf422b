#!/usr/bin/env bash
# make test-rules: validates the Prometheus configuration and rules and runs the rules' unit tests with promtool
# (installed from Debian's prometheus package if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/promtool.sh
promtool check config observability/prometheus/prometheus.yml
promtool check rules observability/prometheus/rules/*.yml
promtool test rules observability/prometheus/tests/*.yml
