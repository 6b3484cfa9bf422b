#!/usr/bin/env bash
# Creates a local Kubernetes cluster for SimpleMessenger and installs what the messenger runs on:
#   make kind-up       kind cluster from k8s/kind/cluster.yaml, then operators, then k8s/overlays/kind
#   make minikube-up   minikube profile "messenger",          then operators, then k8s/overlays/minikube
# The services themselves are installed by `make dev` (skaffold) or `tilt up`, from charts/messenger.
#
# Runs on a developer machine with internet access: it pulls the operators' release manifests and Helm charts at
# the pinned versions below (bump them here, in one place). Idempotent: a second run upgrades/keeps what exists.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: scripts/dev-cluster-up.sh kind|minikube}

# Pinned versions of the infrastructure operators.
CERT_MANAGER_VERSION=${CERT_MANAGER_VERSION:-v1.16.2}                      # webhooks of the topology operator
RABBITMQ_CLUSTER_OPERATOR_VERSION=${RABBITMQ_CLUSTER_OPERATOR_VERSION:-v2.12.0}
RABBITMQ_TOPOLOGY_OPERATOR_VERSION=${RABBITMQ_TOPOLOGY_OPERATOR_VERSION:-v1.15.0}
MARIADB_OPERATOR_VERSION=${MARIADB_OPERATOR_VERSION:-0.38.1}              # Helm charts mariadb-operator(-crds)
KUBE_PROMETHEUS_STACK_VERSION=${KUBE_PROMETHEUS_STACK_VERSION:-65.1.1}   # Prometheus Operator, Prometheus, Grafana

MARIADB_OPERATOR_REPO=https://mariadb-operator.github.io/mariadb-operator
PROMETHEUS_COMMUNITY_REPO=https://prometheus-community.github.io/helm-charts

need() { command -v "$1" >/dev/null || { echo "missing $1: see README \"Run on Kubernetes\" (prerequisites)" >&2; exit 1; }; }
need kubectl; need helm

case "$target" in
  kind)
    need kind
    if kind get clusters 2>/dev/null | grep -qx messenger; then
      echo "kind cluster messenger exists"
    else
      kind create cluster --config k8s/kind/cluster.yaml --wait 120s
    fi
    kubectl config use-context kind-messenger
    ;;
  minikube)
    need minikube
    if minikube status -p messenger >/dev/null 2>&1; then
      echo "minikube profile messenger is running"
    else
      minikube start -p messenger --cpus "${MINIKUBE_CPUS:-4}" --memory "${MINIKUBE_MEMORY:-8g}" --disk-size 30g
    fi
    kubectl config use-context messenger
    ;;
  *) echo "unknown target $target (kind or minikube)" >&2; exit 2 ;;
esac

echo "== cert-manager ${CERT_MANAGER_VERSION}"
kubectl apply --server-side -f "https://github.com/cert-manager/cert-manager/releases/download/${CERT_MANAGER_VERSION}/cert-manager.yaml"
kubectl -n cert-manager wait --for=condition=Available deployment --all --timeout=300s

echo "== Prometheus Operator, Prometheus and Grafana (kube-prometheus-stack ${KUBE_PROMETHEUS_STACK_VERSION})"
# Select every PrometheusRule/ServiceMonitor (not only the release's), and let Grafana's sidecar load the
# dashboards ConfigMaps (label grafana_dashboard=1) of every namespace into the folder named by their
# grafana_folder annotation. Small requests: it shares a laptop with the messenger.
helm upgrade --install monitoring kube-prometheus-stack --repo "$PROMETHEUS_COMMUNITY_REPO" \
  --version "$KUBE_PROMETHEUS_STACK_VERSION" --namespace monitoring --create-namespace --wait --timeout 10m \
  --set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.retention=2d \
  --set prometheus.prometheusSpec.resources.requests.memory=256Mi \
  --set alertmanager.enabled=false \
  --set grafana.sidecar.dashboards.searchNamespace=ALL \
  --set grafana.sidecar.dashboards.folderAnnotation=grafana_folder \
  --set grafana.sidecar.dashboards.provider.foldersFromFilesStructure=true \
  --set grafana.adminPassword=admin

echo "== RabbitMQ Cluster Operator ${RABBITMQ_CLUSTER_OPERATOR_VERSION} and messaging-topology-operator ${RABBITMQ_TOPOLOGY_OPERATOR_VERSION}"
kubectl apply --server-side -f "https://github.com/rabbitmq/cluster-operator/releases/download/${RABBITMQ_CLUSTER_OPERATOR_VERSION}/cluster-operator.yml"
kubectl apply --server-side -f "https://github.com/rabbitmq/messaging-topology-operator/releases/download/${RABBITMQ_TOPOLOGY_OPERATOR_VERSION}/messaging-topology-operator-with-certmanager.yaml"
kubectl -n rabbitmq-system wait --for=condition=Available deployment --all --timeout=300s

echo "== mariadb-operator ${MARIADB_OPERATOR_VERSION}"
helm upgrade --install mariadb-operator-crds mariadb-operator-crds --repo "$MARIADB_OPERATOR_REPO" \
  --version "$MARIADB_OPERATOR_VERSION" --namespace mariadb-operator --create-namespace --wait
helm upgrade --install mariadb-operator mariadb-operator --repo "$MARIADB_OPERATOR_REPO" \
  --version "$MARIADB_OPERATOR_VERSION" --namespace mariadb-operator --wait --timeout 5m \
  --set metrics.enabled=true

echo "== SimpleMessenger infrastructure (k8s/overlays/${target})"
kubectl apply --server-side -k "k8s/overlays/${target}"
echo "waiting for MariaDB and RabbitMQ (first start pulls images: a few minutes)"
kubectl -n messenger wait --for=condition=Ready mariadb/messenger-mariadb --timeout=600s
kubectl -n messenger wait --for=condition=AllReplicasReady rabbitmqcluster/messenger-rabbitmq --timeout=600s
# Fully qualified: both operators define a kind "User".
kubectl -n messenger wait --for=condition=Ready --all --timeout=300s \
  databases.k8s.mariadb.com,users.k8s.mariadb.com,grants.k8s.mariadb.com
kubectl -n messenger wait --for=condition=Ready --all --timeout=300s \
  vhosts.rabbitmq.com,users.rabbitmq.com,permissions.rabbitmq.com

cat <<MSG

Cluster ready. Next: make dev (skaffold, profile ${target}) or tilt up; the gateway then answers on
$( [[ $target == kind ]] && echo "http://127.0.0.1:8080 (NodePort 30080 mapped by k8s/kind/cluster.yaml)" || echo "the URL of: minikube -p messenger service -n messenger messenger-gateway-nodeport --url" )
Grafana: kubectl -n monitoring port-forward svc/monitoring-grafana 3000:80  (admin/admin), folder SimpleMessenger.
MSG
