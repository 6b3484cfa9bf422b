#!/usr/bin/env bash
# make test-cluster: the messenger on a real Kubernetes cluster built on this machine, end to end.
#   1. make cluster-deploy: cluster-up, make images, helm install --wait (values-local.yaml), helm test; then a
#      second cluster-up, which must change nothing (same processes, same pods, no restart);
#   2. the end-to-end suite for the public API against the gateway's NodePort (127.0.0.1:30080), pushes across
#      the two gateway pods (each user on its own pod), then the outside contract check (../shared/conformance,
#      when it is there);
#   3. under a steady chat load, helm upgrade to a new image tag, then kubectl delete pod of each service one at
#      a time: 0 messages lost or duplicated, every WebSocket client reconnects and catches up (a table);
#   4. helm uninstall leaves no object of ours; cluster-down leaves no process, mount, link or rule.
# A failing step prints the pods, their events and the failing containers' logs; the cluster is then taken down
# (KEEP_CLUSTER=1 keeps it, to look around; make cluster-down afterwards).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="$root/.tools/bin"
source "$root/scripts/lib/cluster-env.sh"
NS=messenger
LOGS="$root/.run/cluster/test"
mkdir -p "$LOGS"
kubectl() { "$bin/kubectl" "$@"; }

t_start=$SECONDS
step() { echo; echo "=== test-cluster: $* ($((SECONDS - t_start)) s)"; }
failed() {
  local rc=$?
  echo "test-cluster: FAILED (exit $rc)" >&2
  if [[ -f $KUBECONFIG ]]; then bash scripts/cluster-deploy.sh diagnose || true; fi
  if [[ ${KEEP_CLUSTER:-} == 1 ]]; then
    echo "test-cluster: the cluster is kept (KEEP_CLUSTER=1): make cluster-down when done" >&2
  else
    bash scripts/cluster-deploy.sh purge || true
    bash scripts/cluster.sh down || true
  fi
  exit $rc
}
trap failed EXIT

step "deploy"
url=$(bash scripts/cluster-deploy.sh | tail -n 1)
[[ $url == http://127.0.0.1:* ]] || { echo "cluster-deploy printed no URL (got '$url')" >&2; exit 1; }
echo "gateway: $url"

step "a second cluster-up on the healthy cluster changes nothing"
state() {
  local f
  for f in "${CLUSTER_RUN:-/run/simplemessenger-cluster}"/pids/*; do [[ $f == *.match ]] || echo "$(basename "$f") $(<"$f")"; done
  kubectl get pods -A -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.uid} {.status.containerStatuses[*].restartCount}{"\n"}{end}'
}
before=$(state)
bash scripts/cluster.sh up >"$LOGS/second-up.log" 2>&1 || { cat "$LOGS/second-up.log" >&2; exit 1; }
after=$(state)
if [[ $before != "$after" ]]; then
  echo "the second cluster-up changed something:" >&2; diff <(echo "$before") <(echo "$after") >&2; exit 1
fi
echo "same processes, same pods, no restart ($(wc -l <<<"$before") lines compared)"

gateway_pods() {
  kubectl -n "$NS" get pods -l app.kubernetes.io/name=gateway --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}http://{.status.podIP}:8080,{end}' | sed 's/,$//'
}
replicas=$(gateway_pods)
echo "gateway pods: $replicas"

step "end-to-end suite against $url"
if ! E2E_GATEWAY_URL="$url" E2E_GATEWAY_REPLICAS="$replicas" go test -count=1 -timeout 15m -v ./e2e/ >"$LOGS/e2e.log" 2>&1; then
  grep -vE '^(=== (RUN|PAUSE|CONT)|\s+--- (PASS|SKIP))' "$LOGS/e2e.log" >&2; exit 1
fi
echo "$(grep -c -- '^--- PASS' "$LOGS/e2e.log") passed, $(grep -c -- '^--- SKIP' "$LOGS/e2e.log") skipped (they need the suite's own stack): $LOGS/e2e.log"

step "outside contract check (../shared/conformance)"
if [[ -d ../shared/conformance ]]; then
  # Its admin-port check wants every service's admin port on one host: kubectl port-forward puts them on
  # 127.0.0.1:9080-9084 for the check (they have no NodePort: admin ports are never public).
  forwards=()
  port=9080
  for svc in gateway auth profiles friends messages; do
    kubectl -n "$NS" port-forward "svc/messenger-$svc" "$port:$port" --address 127.0.0.1 >/dev/null 2>&1 &
    forwards+=($!)
    port=$((port + 1))
  done
  for port in 9080 9081 9082 9083 9084; do
    for i in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.2; done
  done
  rc=0
  (cd ../shared/conformance && go run . -base "$url" -admin-host 127.0.0.1) || rc=$?
  kill "${forwards[@]}" 2>/dev/null || true
  wait "${forwards[@]}" 2>/dev/null || true
  ((rc == 0)) || exit $rc
else
  echo "../shared/conformance is not beside this checkout: skipped"
fi

step "rolling upgrade and pod kills under chat load"
tag="upgrade-$(date +%s)"
rc=0
E2E_CLUSTER=1 E2E_GATEWAY_URL="$url" E2E_NAMESPACE="$NS" \
  E2E_KUBECTL="$bin/kubectl --kubeconfig $KUBECONFIG" \
  E2E_UPGRADE_CMD="bash $root/scripts/cluster-deploy.sh upgrade $tag" \
  go test -count=1 -timeout 20m -v -run '^TestClusterRollout$' ./e2e/ >"$LOGS/rollout.log" 2>&1 || rc=$?
grep -vE '^=== (RUN|PAUSE|CONT|NAME)' "$LOGS/rollout.log"
((${rc:-0} == 0)) || exit 1

step "helm uninstall leaves nothing of ours"
bash scripts/cluster-deploy.sh uninstall
kubectl get --raw /readyz >/dev/null # an unreachable API would read as "nothing left"
left=$(kubectl get all,configmaps,secrets,serviceaccounts,roles,rolebindings,networkpolicies,poddisruptionbudgets,ingresses -A \
  -l app.kubernetes.io/instance=messenger -o name)
left+=$(kubectl get clusterroles,clusterrolebindings -l app.kubernetes.io/instance=messenger -o name)
if [[ -n $left ]] || kubectl get namespace "$NS" >/dev/null 2>&1; then
  echo "left behind after helm uninstall:" >&2; echo "$left" >&2
  kubectl get namespace "$NS" >&2 2>/dev/null || true
  exit 1
fi
echo "no object of the release is left"

step "cluster-down leaves nothing behind"
bash scripts/cluster-deploy.sh purge
bash scripts/cluster.sh down
if ! out=$(bash scripts/cluster.sh leftovers); then
  echo "left behind after cluster-down:" >&2; echo "$out" >&2; exit 1
fi
echo "no process, mount, link, rule, cgroup or folder of the cluster is left"
trap - EXIT
echo
echo "test-cluster: OK ($((SECONDS - t_start)) s)"
