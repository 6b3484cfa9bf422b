#!/usr/bin/env bash
# Renders the umbrella chart once per environment into OUT_DIR (created): default.yaml, kind.yaml, minikube.yaml,
# production.yaml, local.yaml (values-local.yaml: the cluster of scripts/cluster.sh, external MySQL and RabbitMQ).
# The Prometheus Operator's API is declared available (k8s/ installs it), so ServiceMonitors are rendered (where
# enabled) and can be checked; KUBE_VERSION (default 1.37.2) sets .Capabilities.KubeVersion.
#   scripts/k8s-render.sh OUT_DIR
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$1"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$root"
PATH="$(scripts/k8s-tools.sh):$PATH"
export HELM_CONFIG_HOME="$root/.tools/helm/config" HELM_CACHE_HOME="$root/.tools/helm/cache" \
       HELM_DATA_HOME="$root/.tools/helm/data"
scripts/k8s-charts.sh deps

RELEASE="${RELEASE:-messenger}" NAMESPACE="${NAMESPACE:-messenger}"
for env in default kind minikube production local; do
  values=()
  [[ $env != default ]] && values=(-f "charts/messenger/values-$env.yaml")
  helm template "$RELEASE" charts/messenger --namespace "$NAMESPACE" "${values[@]}" \
    --kube-version "${KUBE_VERSION:-1.37.2}" --api-versions monitoring.coreos.com/v1 >"$out/$env.yaml"
  echo "$out/$env.yaml: $(grep -c '^kind:' "$out/$env.yaml") objects"
done
