#!/usr/bin/env bash
# Copies the one source of the service charts' values schema (charts/messenger-lib/schema/) into each service
# chart as values.schema.json (Helm reads a chart's schema from that file only). --check: fail if a copy drifted.
set -euo pipefail
cd "$(dirname "$0")/.."
src=charts/messenger-lib/schema/service-values.schema.json
rc=0
for svc in gateway auth profiles friends messages; do
  dst=charts/$svc/values.schema.json
  if [[ ${1:-} == --check ]]; then
    cmp -s "$src" "$dst" || { echo "$dst differs from $src: run scripts/k8s-charts-sync.sh" >&2; rc=1; }
  else
    cp "$src" "$dst"
  fi
done
exit $rc
