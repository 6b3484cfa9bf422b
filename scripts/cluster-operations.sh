#!/usr/bin/env bash
# The operations side of the local cluster (scripts/cluster.sh): metrics-server, the Prometheus Operator with one
# Prometheus, and Jaeger, from k8s/cluster/operations. Every program is built from its Go module by the project
# (scripts/k8s-tools.sh ops) and pushed to the cluster's registry as an image (scripts/images.sh tools).
#
#   scripts/cluster-operations.sh install     make cluster-operations: images, the operator's CRDs, the rest; waits
#                                             until each runs (the Prometheus, the metrics API answering)
#   scripts/cluster-operations.sh fetch       only copy the upstream manifests into k8s/cluster/operations/upstream
#   scripts/cluster-operations.sh uninstall   delete all of it (CRDs last)
#   scripts/cluster-operations.sh forward     port-forwards for a person: Prometheus on 127.0.0.1:9090, Jaeger's UI
#                                             and API on 127.0.0.1:16686 (Ctrl-C ends them)
#
# The upstream manifests (metrics-server's manifests/base, the Prometheus Operator's example/rbac and CRDs) come
# from the Go module cache at the versions of the binaries, so the manifests and the programs cannot drift apart.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="$root/.tools/bin"
source "$root/scripts/lib/cluster-env.sh"
kubectl() { "$bin/kubectl" "$@"; }
log() { echo "cluster-operations: $*" >&2; }
die() { log "$*"; exit 1; }
ops=k8s/cluster/operations
up=$ops/upstream

# module_dir MODULE VERSION: the module's folder in the Go module cache (downloaded if need be).
module_dir() {
  (cd /tmp && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$1@$2") |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

fetch() {
  bash scripts/k8s-tools.sh ops >/dev/null
  local ms_version po_version
  ms_version=$(<"$bin/.metrics-server.version")

  po_version=$(<"$bin/.operator.version")
  # The kustomizations pin the images' tags: they must be the binaries' versions.
  grep -q "newTag: $ms_version\$" $ops/metrics-server/kustomization.yaml ||
    die "$ops/metrics-server/kustomization.yaml does not pin metrics-server $ms_version"
  grep -q "newTag: $po_version\$" $ops/prometheus-operator/kustomization.yaml ||
    die "$ops/prometheus-operator/kustomization.yaml does not pin the operator $po_version"
  local ms po
  ms=$(module_dir sigs.k8s.io/metrics-server "$ms_version")
  po=$(module_dir github.com/prometheus-operator/prometheus-operator "$po_version")
  [[ -d $ms/manifests/base && -d $po/example/rbac ]] || die "upstream manifests not found in $ms, $po"
  rm -rf "$up"
  mkdir -p "$up/metrics-server" "$up/prometheus-operator" "$up/crds"
  cp "$ms"/manifests/base/*.yaml "$up/metrics-server/"
  # The operator's own objects (not its ServiceMonitor: Prometheus scrapes the messenger here) and the RBAC of
  # the Prometheus it runs (not the example Prometheus: monitoring.yaml has ours).
  local f files=()
  for f in "$po"/example/rbac/prometheus-operator/*.yaml "$po"/example/rbac/prometheus/*.yaml; do
    case $(basename "$f") in prometheus-operator-service-monitor.yaml|prometheus.yaml) continue ;; esac
    cp "$f" "$up/prometheus-operator/"
    files+=("$(basename "$f")")
  done
  cp "$po"/example/prometheus-operator-crd/*.yaml "$up/crds/"
  {
    echo "# Copied by scripts/cluster-operations.sh from $po/example/rbac (not committed)."
    echo "resources:"
    for f in "${files[@]}"; do echo "  - $f"; done
  } >"$up/prometheus-operator/kustomization.yaml"
  chmod -R u+w "$up"
  log "upstream manifests: metrics-server $ms_version, prometheus-operator $po_version"
}

# wait_for WHAT SECONDS CMD...: until CMD succeeds.
wait_for() {
  local what=$1 limit=$2 t0=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS - t0 < limit )) || die "$what: not within $limit s"
    sleep 2
  done
  log "$what: $((SECONDS - t0)) s"
}

install() {
  bash scripts/cluster.sh status >/dev/null 2>&1 || die "the cluster is not up (make cluster-up)"
  local t0=$SECONDS
  bash scripts/images.sh tools >&2
  log "images pushed in $((SECONDS - t0)) s"
  fetch
  # The CRDs first (server-side: they are too large for the last-applied annotation), then what uses them.
  kubectl apply --server-side --force-conflicts -f "$up/crds" >/dev/null
  kubectl wait --for condition=Established --timeout=60s -f "$up/crds" >/dev/null
  kubectl kustomize "$ops" | kubectl apply --server-side --force-conflicts -f - >/dev/null
  # The messenger's alerting and recording rules (generated from observability/).
  kubectl -n monitoring apply --server-side --force-conflicts -f k8s/components/monitoring/prometheusrules.yaml >/dev/null
  kubectl -n kube-system rollout status deploy/metrics-server --timeout=180s >&2
  kubectl -n monitoring rollout status deploy/prometheus-operator --timeout=180s >&2
  kubectl -n monitoring rollout status deploy/jaeger --timeout=180s >&2
  wait_for "the operator's StatefulSet for Prometheus" 120 kubectl -n monitoring get statefulset prometheus-messenger
  kubectl -n monitoring rollout status statefulset/prometheus-messenger --timeout=300s >&2
  wait_for "the metrics API (kubectl top)" 180 kubectl top pods -n kube-system
  log "installed in $((SECONDS - t0)) s"
}

uninstall() {
  [[ -d $up/crds ]] || fetch
  kubectl -n monitoring delete --ignore-not-found -f k8s/components/monitoring/prometheusrules.yaml >/dev/null 2>&1 || true
  kubectl kustomize "$ops" | kubectl delete --ignore-not-found --wait=true --timeout=180s -f - >/dev/null || true
  kubectl delete --ignore-not-found --timeout=120s -f "$up/crds" >/dev/null || true
  log "uninstalled"
}

forward() {
  log "Prometheus: http://127.0.0.1:9090   Jaeger: http://127.0.0.1:16686   (Ctrl-C stops)"
  kubectl -n monitoring port-forward --address 127.0.0.1 svc/prometheus-operated 9090:9090 >&2 &
  local p1=$!
  kubectl -n monitoring port-forward --address 127.0.0.1 svc/jaeger 16686:16686 >&2 &
  local p2=$!
  trap 'kill $p1 $p2 2>/dev/null || true' EXIT INT TERM
  wait
}

case ${1:-install} in
  install) install ;;
  fetch) fetch ;;
  uninstall) uninstall ;;
  forward) forward ;;
  *) echo "usage: scripts/cluster-operations.sh [install|fetch|uninstall|forward]" >&2; exit 2 ;;
esac
