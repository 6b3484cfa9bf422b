#!/usr/bin/env bash
# Renders every overlay of k8s/overlays into OUTDIR/<overlay>.yaml (for kubeconform, the semantic tests and the
# server-side dry-run). Uses kustomize from .tools/bin (KUSTOMIZE_VERSION, installed through the Go module proxy
# when missing or another version: scripts/lib/tools.sh), or `kubectl kustomize` (the same engine) when
# KUSTOMIZE=kubectl.
#
#   scripts/k8s-kustomize.sh OUTDIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/tools.sh"
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/k8s-kustomize.sh OUTDIR}
mkdir -p "$out"

if [[ "${KUSTOMIZE:-}" == kubectl ]]; then
  build() { kubectl kustomize "$1"; }
else
  tools_install kustomize "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5
  build() { "$tools_bin/kustomize" build "$1"; }
fi

for dir in k8s/overlays/*/; do
  overlay=$(basename "$dir")
  build "$dir" >"$out/$overlay.yaml"
  echo "rendered k8s/overlays/$overlay -> $out/$overlay.yaml ($(grep -c '^kind:' "$out/$overlay.yaml") objects)"
done
