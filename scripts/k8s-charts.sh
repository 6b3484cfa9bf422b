#!/usr/bin/env bash
# The Helm charts' build steps, offline (every dependency is file://, nothing is fetched):
#   scripts/k8s-charts.sh deps   package the dependencies: messenger-lib into each service chart, then the five
#                                service charts into the umbrella (charts/*/charts/, git-ignored)
#   scripts/k8s-charts.sh lint   deps, the values schemas in sync, then `helm lint --strict` of every chart (the
#                                umbrella with each values file)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
PATH="$(scripts/k8s-tools.sh):$PATH"
# Keep Helm's own state (repositories, cache) out of $HOME.
export HELM_CONFIG_HOME="$root/.tools/helm/config" HELM_CACHE_HOME="$root/.tools/helm/cache" \
       HELM_DATA_HOME="$root/.tools/helm/data"

SERVICES=(gateway auth profiles friends messages)
UMBRELLA=charts/messenger
VALUES_FILES=("" values-kind.yaml values-minikube.yaml values-production.yaml values-local.yaml)

deps() {
  for svc in "${SERVICES[@]}"; do
    helm dependency build --skip-refresh "charts/$svc" >/dev/null
  done
  helm dependency build --skip-refresh "$UMBRELLA" >/dev/null
}

lint() {
  deps
  scripts/k8s-charts-sync.sh --check
  local out rc=0
  for chart in charts/messenger-lib "${SERVICES[@]/#/charts/}"; do
    out=$(helm lint --strict --quiet "$chart" 2>&1) || { echo "$out" >&2; rc=1; }
  done
  for f in "${VALUES_FILES[@]}"; do
    out=$(helm lint --strict --quiet "$UMBRELLA" ${f:+-f "$UMBRELLA/$f"} 2>&1) || { echo "$out" >&2; rc=1; }
  done
  [[ $rc == 0 ]] && echo "helm lint --strict: $(( ${#SERVICES[@]} + 1 )) charts and the umbrella with ${#VALUES_FILES[@]} values sets: ok"
  return $rc
}

case "${1:-}" in
  deps) deps ;;
  lint) lint ;;
  *) echo "usage: $0 deps|lint" >&2; exit 2 ;;
esac
