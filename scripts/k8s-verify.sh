#!/usr/bin/env bash
# make k8s-verify: everything charts/ and k8s/ render is applied to a real kube-apiserver (with etcd, both on
# loopback, no cluster, no internet once the module cache is warm) with a server-side dry run and strict field
# validation, after the Prometheus Operator CRDs and CRDs made from k8s/schemas are installed; a deliberately broken
# Deployment, MariaDB and ServiceMonitor must be refused. See deploy/verify/README.md.
#
#   1. etcd and kube-apiserver into .tools/bin, built only when missing (scripts/k8s-bins.sh; about
#      4 min cold on 2 cores, mostly kube-apiserver);
#   2. the umbrella chart per values file (scripts/k8s-render.sh) and every overlay (scripts/k8s-kustomize.sh) into
#      a temporary folder (KEEP_RENDERED=1 keeps it);
#   3. go test -run 'TestAPIServerDryRun|TestHelmInstallAgainstAPIServer' ./deploy/verify with KUBEBUILDER_ASSETS
#      and RENDERED_DIR set (the second: real `helm install`/`upgrade`/`uninstall` of the chart against that API
#      server: missing Secrets named before anything is applied, the signing key kept across upgrades).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

t0=$SECONDS
bin=$(bash scripts/k8s-bins.sh)
echo "binaries: $("$bin/kube-apiserver" --version 2>/dev/null), etcd $("$bin/etcd" --version 2>/dev/null | sed -n 's/^etcd Version: //p') ($((SECONDS - t0)) s)"

out=$(mktemp -d "${TMPDIR:-/tmp}/k8s-verify.XXXXXX")
if [[ ${KEEP_RENDERED:-} == 1 ]]; then echo "rendered output kept in $out"; else trap 'rm -rf "$out"' EXIT; fi
# Helm's client keeps its discovery cache here, not in ~/.kube/cache.
export KUBECACHEDIR="$out/kube-cache"
bash scripts/k8s-render.sh "$out/helm"
bash scripts/k8s-kustomize.sh "$out/kustomize"

t1=$SECONDS
log="$out/go-test.log"
if ! (cd deploy/verify && KUBEBUILDER_ASSETS="$bin" RENDERED_DIR="$out" \
      go test -count=1 -timeout 15m -v -run '^(TestAPIServerDryRun|TestHelmInstallAgainstAPIServer)$' . >"$log" 2>&1); then
  grep -v -E '^(=== (RUN|PAUSE|CONT)|\s+--- PASS)' "$log"
  echo "k8s-verify: FAILED" >&2
  exit 1
fi
grep -E '^\s*(--- |ok |PASS|FAIL)|apiserver_test.go:[0-9]+: ' "$log"
for t in TestAPIServerDryRun TestHelmInstallAgainstAPIServer; do
  if ! grep -q -- "^--- PASS: $t" "$log"; then
    echo "k8s-verify: $t did not run (skipped?)" >&2
    exit 1
  fi
done
echo
echo "k8s-verify: OK (test $((SECONDS - t1)) s, total $((SECONDS - t0)) s)"
