#!/usr/bin/env bash
# Renders every overlay of k8s/overlays into OUTDIR/<overlay>.yaml (for kubeconform, the semantic tests and the
# server-side dry-run). Uses kustomize from .tools/bin (installed on first use through the Go module proxy), or
# `kubectl kustomize` (the same engine) when KUSTOMIZE=kubectl.
#
#   scripts/k8s-kustomize.sh OUTDIR
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/k8s-kustomize.sh OUTDIR}
mkdir -p "$out"

# v5.8.3 needs Go 1.27; v5.8.2 is the newest that builds with the workspace's Go 1.26.
KUSTOMIZE_VERSION=${KUSTOMIZE_VERSION:-v5.8.2}
tools=$PWD/.tools/bin
if [[ "${KUSTOMIZE:-}" == kubectl ]]; then
  build() { kubectl kustomize "$1"; }
else
  if [[ ! -x "$tools/kustomize" ]] || ! "$tools/kustomize" version 2>/dev/null | grep -q "${KUSTOMIZE_VERSION}"; then
    echo "installing kustomize ${KUSTOMIZE_VERSION} into .tools/bin" >&2
    (cd /tmp && GOBIN="$tools" go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}")
  fi
  build() { "$tools/kustomize" build "$1"; }
fi

for dir in k8s/overlays/*/; do
  overlay=$(basename "$dir")
  build "$dir" >"$out/$overlay.yaml"
  echo "rendered k8s/overlays/$overlay -> $out/$overlay.yaml ($(grep -c '^kind:' "$out/$overlay.yaml") objects)"
done
