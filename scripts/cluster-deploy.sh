#!/usr/bin/env bash
# The messenger on the local cluster of scripts/cluster.sh, installed by Helm:
#
#   scripts/cluster-deploy.sh            make cluster-deploy: cluster-up, make images, the databases, users and
#                                        Secrets, `helm upgrade --install --wait` with charts/messenger/values-local.yaml,
#                                        `helm test`; the last line printed is the gateway's URL on 127.0.0.1
#   scripts/cluster-deploy.sh upgrade TAG  images built again under TAG and `helm upgrade --wait` to them
#   scripts/cluster-deploy.sh uninstall  `helm uninstall --wait`, then the namespace
#   scripts/cluster-deploy.sh purge      drop the databases, users and RabbitMQ vhost/user made here
#   scripts/cluster-deploy.sh diagnose   pods, events, and the logs of failing containers
#
# EXTRA_VALUES: more values files, after values-local.yaml (space-separated), e.g.
# charts/messenger/values-operations.yaml for the cluster with its operations side (make test-operations).
#
# MariaDB and RabbitMQ are this machine's, used by the messenger as external services (as a production install
# uses managed ones): pods reach them at the node's address through the forwarders of scripts/cluster.sh. Each
# service gets its own database and MariaDB user (messenger_cluster_<svc>), the services one RabbitMQ user and vhost
# "messenger-cluster"; passwords are random, made once and kept in the cluster's Secrets, so a second run
# changes nothing. The databases are named apart from `make up`'s (messenger_<svc>), so both can run at once.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

NS=${NAMESPACE:-messenger}
RELEASE=${RELEASE:-messenger}
REGISTRY=${REGISTRY:-127.0.0.1:5000}
SERVICES=(auth profiles friends messages)
GATEWAY_URL=http://127.0.0.1:30080
DB_PREFIX=messenger_cluster_
# The forwarders of scripts/cluster.sh connect from this address: the MariaDB users are for it alone.
DB_HOST=127.0.0.2
VHOST=messenger-cluster
AMQP_USER=messenger-cluster
TIMEOUT=${DEPLOY_TIMEOUT:-10m}
extra_values=()
for f in ${EXTRA_VALUES:-}; do extra_values+=(-f "$f"); done

bin="$root/.tools/bin"
source "$root/scripts/lib/cluster-env.sh"
kubectl() { "$bin/kubectl" "$@"; }
helm() { "$bin/helm" "$@"; }
log() { echo "cluster-deploy: $*" >&2; }
mysql_root() { mariadb -h127.0.0.1 -P3306 -uroot --protocol=tcp "$@"; }

# password NAME: the password kept in Secret NAME, or a new random one when there is no such Secret (hex: nothing
# to escape anywhere). Any other error of the API stops here: a new password would lock out the running pods.
password() {
  local p
  p=$(kubectl -n "$NS" get secret "$1" --ignore-not-found -o jsonpath='{.data.password}') ||
    { log "cannot read Secret $1"; exit 1; }
  if [[ -n $p ]]; then base64 -d <<<"$p"; else openssl rand -hex 24; fi
}

# The documented commands of charts/messenger/README.md ("External MySQL and RabbitMQ"), for this machine's servers.
accounts() {
  kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  local svc pw
  for svc in "${SERVICES[@]}"; do
    pw=$(password "messenger-$svc-db") || exit 1
    mysql_root <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_PREFIX$svc\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS '$DB_PREFIX$svc'@'$DB_HOST' IDENTIFIED BY '$pw';
ALTER USER '$DB_PREFIX$svc'@'$DB_HOST' IDENTIFIED BY '$pw';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON \`$DB_PREFIX$svc\`.* TO '$DB_PREFIX$svc'@'$DB_HOST';
SQL
    kubectl -n "$NS" create secret generic "messenger-$svc-db" --from-literal=username="$DB_PREFIX$svc" \
      --from-literal=password="$pw" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  done
  pw=$(password messenger-rabbitmq-user) || exit 1
  rabbitmqctl -q add_vhost "$VHOST" 2>/dev/null || true
  rabbitmqctl -q add_user "$AMQP_USER" "$pw" >/dev/null 2>&1 || rabbitmqctl -q change_password "$AMQP_USER" "$pw" >/dev/null
  rabbitmqctl -q set_permissions -p "$VHOST" "$AMQP_USER" '.*' '.*' '.*' >/dev/null
  kubectl -n "$NS" create secret generic messenger-rabbitmq-user --from-literal=username="$AMQP_USER" \
    --from-literal=password="$pw" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  log "databases ${DB_PREFIX}{${SERVICES[*]// /,}}, RabbitMQ vhost $VHOST and their Secrets ready"
}

purge() {
  local svc
  for svc in "${SERVICES[@]}"; do
    mysql_root -e "DROP DATABASE IF EXISTS \`$DB_PREFIX$svc\`; DROP USER IF EXISTS '$DB_PREFIX$svc'@'$DB_HOST';"
  done
  rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
  rabbitmqctl -q delete_user "$AMQP_USER" >/dev/null 2>&1 || true
  log "purged the databases, users and vhost"
}

diagnose() {
  echo "=== pods" >&2
  kubectl get pods -A -o wide >&2 || true
  echo "=== events in $NS" >&2
  kubectl -n "$NS" get events --sort-by=.lastTimestamp >&2 || true
  local pod
  for pod in $(kubectl -n "$NS" get pods -o jsonpath='{range .items[*]}{.metadata.name}{" "}{end}' 2>/dev/null); do
    # Logs of containers that are not ready or restarted (and their previous run).
    local restarts
    restarts=$(kubectl -n "$NS" get pod "$pod" -o jsonpath='{.status.containerStatuses[*].restartCount}' || true)
    if kubectl -n "$NS" get pod "$pod" -o jsonpath='{.status.containerStatuses[*].ready}' | grep -q false ||
      [[ -n ${restarts//[0 ]/} ]]; then
      echo "=== logs of $pod" >&2
      kubectl -n "$NS" describe pod "$pod" | sed -n '/^Events:/,$p' >&2 || true
      kubectl -n "$NS" logs "$pod" --all-containers --tail=60 >&2 || true
      kubectl -n "$NS" logs "$pod" --all-containers --tail=30 --previous >&2 2>/dev/null || true
    fi
  done
}

# install VALUES-FILE...: helm upgrade --install --wait; on failure the diagnosis, and exit 1.
install() {
  bash scripts/k8s-charts.sh deps
  if ! helm upgrade --install "$RELEASE" charts/messenger --namespace "$NS" --create-namespace \
      -f charts/messenger/values-local.yaml "${extra_values[@]}" "$@" --wait --timeout "$TIMEOUT" >&2; then
    diagnose
    log "helm upgrade --install failed"
    exit 1
  fi
}

deploy() {
  bash scripts/cluster.sh up
  local t0=$SECONDS
  REGISTRY="$REGISTRY" bash scripts/images.sh -values .run/images/values.yaml >&2
  log "images pushed in $((SECONDS - t0)) s"
  accounts
  t0=$SECONDS
  install -f .run/images/values.yaml
  log "helm install --wait: $((SECONDS - t0)) s"
  # Not --logs: Helm 3 asks for the logs of every test hook as if it were a pod (the NetworkPolicies too).
  if ! helm test "$RELEASE" --namespace "$NS" --timeout 5m >&2 ||
    ! kubectl -n "$NS" logs "$RELEASE-test-readyz" >&2; then
    diagnose
    log "helm test failed"
    exit 1
  fi
  kubectl -n "$NS" get pods -o wide >&2
  curl -fsS -o /dev/null "$GATEWAY_URL/" || { diagnose; log "the gateway does not answer on $GATEWAY_URL"; exit 1; }
  echo "$GATEWAY_URL"
}

upgrade() {
  local tag=${1:?usage: cluster-deploy.sh upgrade TAG}
  TAG="$tag" REGISTRY="$REGISTRY" bash scripts/images.sh -values ".run/images/values-$tag.yaml" >&2
  install -f ".run/images/values-$tag.yaml"
}

uninstall() {
  if helm status "$RELEASE" --namespace "$NS" >/dev/null 2>&1; then
    helm uninstall "$RELEASE" --namespace "$NS" --wait --timeout 5m >&2
  fi
  kubectl delete namespace "$NS" --ignore-not-found --wait --timeout=120s >&2
}

case ${1:-deploy} in
  deploy) deploy ;;
  upgrade) upgrade "${2:-}" ;;
  uninstall) uninstall ;;
  purge) purge ;;
  diagnose) diagnose ;;
  accounts) accounts ;;
  *) echo "usage: scripts/cluster-deploy.sh [deploy|upgrade TAG|uninstall|purge|diagnose]" >&2; exit 2 ;;
esac
