#!/usr/bin/env bash
# make test-operations: an operator's day on the local cluster (README "An operator's day"), with the real programs,
# each built from its Go module: the cluster (scripts/cluster.sh), its operations side (scripts/cluster-operations.sh:
# metrics-server, the Prometheus Operator and a Prometheus, Jaeger), and the messenger installed, changed and
# removed by skaffold. It prints one line per proof, with its figure:
#
#   skaffold      `skaffold run -p local,operations` installs the messenger (images by the project's builder,
#                 pushed to the cluster's registry; the Helm release); `skaffold dev` picks up a change of the
#                 gateway's web page and every gateway pod serves it (the time it takes); `skaffold delete` removes it
#   targets       every pod of the five services is a Prometheus target through the ServiceMonitors, all up
#   rules         every rule of observability/ is loaded (PrometheusRules) and evaluates without error
#   series        after a scripted chat, every metric a dashboard or rule queries has a series
#   trace         one message send is one trace in Jaeger, gateway -> messages -> friends -> RabbitMQ -> socket
#   autoscaling   the gateway's HPA scales out under bench/'s history load and back in, draining sockets
#   alert         friends scaled to 0 fires ServiceDown within its `for` + a scrape interval of its pod going
#   policy        the chart's NetworkPolicies are enforced (kube-router's firewall): a pod that is not the gateway
#                 is refused by messages, while the gateway, DNS, MySQL and RabbitMQ still work
#
# Then everything is removed and the cluster taken down; `scripts/cluster.sh leftovers` must find nothing.
# KEEP_CLUSTER=1 keeps the cluster up when a step fails. Logs: .run/cluster/operations-test/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="$root/.tools/bin"
logs="$root/.run/cluster/operations-test"
rm -rf "$logs"
mkdir -p "$logs"
source "$root/scripts/lib/cluster-env.sh"
export PATH="$bin:$PATH" # skaffold runs helm and kubectl
GATEWAY=http://127.0.0.1:30080
PROM_PORT=39090
JAEGER_PORT=36686
NS=messenger
page=services/gateway/web/static/index.html
proofs=()
pids=()
say() { echo "test-operations: $*" >&2; }
proof() { proofs+=("$*"); say "PROOF $*"; }
fail() { say "FAILED: $*"; exit 1; }

cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [[ -f $logs/page.orig ]]; then cp "$logs/page.orig" "$page"; rm -f "$logs/page.orig"; fi
  if (( rc != 0 )) && [[ ${KEEP_CLUSTER:-} == 1 ]]; then
    say "kept the cluster (KEEP_CLUSTER=1); make cluster-down when done"
    exit "$rc"
  fi
  if (( rc != 0 )); then bash scripts/cluster-deploy.sh diagnose >"$logs/diagnose.log" 2>&1 || true; fi
  bash scripts/cluster-deploy.sh purge >&2 || true
  bash scripts/cluster.sh down >&2 || true
  if ! bash scripts/cluster.sh leftovers >&2; then say "cluster-down left something behind"; rc=1; fi
  if (( ${#proofs[@]} )); then
    echo
    echo "operations proofs:"
    printf '  %s\n' "${proofs[@]}"
  fi
  exit "$rc"
}
trap cleanup EXIT

t0=$SECONDS
bash scripts/cluster.sh up >&2
say "cluster up in $((SECONDS - t0)) s"
t=$SECONDS
bash scripts/cluster-operations.sh install 2>&1 | tee "$logs/install.log" >&2
say "operations side installed in $((SECONDS - t)) s"

# 1. skaffold run: build, push, deploy (and the accounts hook).
t=$SECONDS
skaffold run -p local,operations --status-check=true >"$logs/skaffold-run.log" 2>&1 ||
  { tail -40 "$logs/skaffold-run.log" >&2; fail "skaffold run"; }
helm status messenger -n "$NS" >/dev/null || fail "skaffold run left no Helm release messenger"
pods=$(kubectl -n "$NS" get pods -l app.kubernetes.io/instance=messenger --no-headers | grep -c ' Running ' || true)
proof "skaffold run -p local,operations: 5 images built by scripts/images.sh and pushed, the release deployed, $pods pods running, in $((SECONDS - t)) s"

# Prometheus and Jaeger for the tests (and for a person: scripts/cluster-operations.sh forward).
kubectl -n monitoring port-forward --address 127.0.0.1 svc/prometheus-operated "$PROM_PORT:9090" >"$logs/pf-prometheus.log" 2>&1 &
pids+=($!)
kubectl -n monitoring port-forward --address 127.0.0.1 svc/jaeger "$JAEGER_PORT:16686" >"$logs/pf-jaeger.log" 2>&1 &
pids+=($!)
for u in "http://127.0.0.1:$PROM_PORT/-/ready" "http://127.0.0.1:$JAEGER_PORT/api/services"; do
  for _ in $(seq 60); do curl -fsS -o /dev/null "$u" && break; sleep 1; done
  curl -fsS -o /dev/null "$u" || fail "$u does not answer through its port-forward"
done

# 2-6. The proofs that ask Prometheus, Jaeger and the HPA (e2e/operations_test.go).
t=$SECONDS
load="cd '$root' && go run ./bench -url $GATEWAY -only history -runs 1 -warmup 5s -duration 150s -pairs 16 -history-concurrency 24 -out '$logs/bench'"
set +e
E2E_GATEWAY_URL=$GATEWAY E2E_OPERATIONS=1 \
  E2E_PROMETHEUS_URL="http://127.0.0.1:$PROM_PORT" E2E_JAEGER_URL="http://127.0.0.1:$JAEGER_PORT" \
  E2E_KUBECTL="$bin/kubectl --kubeconfig $KUBECONFIG" E2E_NAMESPACE=$NS E2E_RELEASE=messenger E2E_LOAD_CMD="$load" \
  go test -count=1 -timeout 45m -v -run '^TestOperations' ./e2e/ >"$logs/e2e.log" 2>&1
rc=$?
set -e
while IFS= read -r line; do proofs+=("$line"); done < <(sed -n 's/^.*PROOF \(.*\)$/\1/p' "$logs/e2e.log")
grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|(ok|FAIL)[[:space:]])' "$logs/e2e.log" >&2 || true
if (( rc != 0 )); then
  grep -B2 -A30 -- '--- FAIL' "$logs/e2e.log" | head -120 >&2 || true
  fail "e2e operations tests (log: $logs/e2e.log)"
fi
skips=$(grep -c -- '--- SKIP' "$logs/e2e.log" || true)
(( skips == 0 )) || fail "$skips operations tests skipped"
say "operations tests in $((SECONDS - t)) s"

# 7. skaffold dev: a source change goes live on every gateway pod.
cp "$page" "$logs/page.orig"
skaffold dev -p local,operations --cleanup=false --port-forward=off --tail=false --status-check=true \
  >"$logs/skaffold-dev.log" 2>&1 &
dev=$!
pids+=("$dev")
for _ in $(seq 600); do grep -q 'Watching for changes' "$logs/skaffold-dev.log" && break; sleep 1; done
grep -q 'Watching for changes' "$logs/skaffold-dev.log" || { tail -30 "$logs/skaffold-dev.log" >&2; fail "skaffold dev did not start watching"; }
marker="skaffold-dev-$(date +%s)-$RANDOM"
grep -q '</title>' "$page" || fail "$page has no </title>"
sed -i "s|</title>|</title><meta name=\"dev-loop\" content=\"$marker\">|" "$page"
changed=$SECONDS
# Every gateway pod (by its own address) must serve the new page.
live=0
while (( SECONDS - changed < 600 )); do
  mapfile -t ips < <(kubectl -n "$NS" get pods -l app.kubernetes.io/name=gateway,app.kubernetes.io/instance=messenger \
    -o jsonpath='{range .items[?(@.status.podIP)]}{.metadata.deletionTimestamp}{" "}{.status.podIP}{"\n"}{end}' | awk 'NF == 1 { print $1 }')
  ok=$(( ${#ips[@]} > 0 ))
  for ip in "${ips[@]}"; do
    curl -fsS --max-time 2 "http://$ip:8080/" 2>/dev/null | grep -q "$marker" || { ok=0; break; }
  done
  if (( ok )) && curl -fsS --max-time 2 "$GATEWAY/" | grep -q "$marker"; then live=1; break; fi
  sleep 1
done
(( live )) || { tail -40 "$logs/skaffold-dev.log" >&2; fail "the change was not served by every gateway pod within 10 minutes"; }
proof "skaffold dev -p local,operations: a change to the gateway's web page served by all ${#ips[@]} gateway pods $((SECONDS - changed)) s after it was saved (rebuild, push, helm upgrade, rollout)"
kill -INT "$dev"; wait "$dev" 2>/dev/null || true
cp "$logs/page.orig" "$page"; rm -f "$logs/page.orig"

# 8. skaffold delete: nothing of the release is left.
t=$SECONDS
skaffold delete -p local,operations >"$logs/skaffold-delete.log" 2>&1 || { tail -20 "$logs/skaffold-delete.log" >&2; fail "skaffold delete"; }
for _ in $(seq 120); do
  [[ -z $(kubectl -n "$NS" get pods -l app.kubernetes.io/instance=messenger --no-headers 2>/dev/null) ]] && break
  sleep 1
done
[[ -z $(kubectl -n "$NS" get pods -l app.kubernetes.io/instance=messenger --no-headers 2>/dev/null) ]] || fail "pods left after skaffold delete"
! helm status messenger -n "$NS" >/dev/null 2>&1 || fail "the Helm release is still there after skaffold delete"
left=$(kubectl -n "$NS" get deploy,svc,hpa,servicemonitor,networkpolicy,configmap,secret -l app.kubernetes.io/instance=messenger --no-headers 2>/dev/null | wc -l)
(( left == 0 )) || fail "$left objects of the release left after skaffold delete"
proof "skaffold delete -p local,operations: the release and all its pods gone in $((SECONDS - t)) s"

bash scripts/cluster-operations.sh uninstall >&2
say "done in $((SECONDS - t0)) s"
