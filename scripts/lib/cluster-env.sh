# Sourced by the scripts that talk to the local cluster (scripts/cluster*.sh, test-cluster.sh, test-operations.sh)
# with $root set: where its clients keep their state, all inside the checkout, so that nothing is written to the
# user's home (~/.kube/cache, ~/.config/helm, ~/.skaffold).
# shellcheck shell=bash
export KUBECONFIG="$root/.run/cluster/admin.kubeconfig"
export KUBECACHEDIR="$root/.run/kube-cache"
export HELM_CONFIG_HOME="$root/.tools/helm/config" HELM_CACHE_HOME="$root/.tools/helm/cache" \
       HELM_DATA_HOME="$root/.tools/helm/data"
# skaffold: its global config says never to collect or send usage metrics and never to look for updates (it
# would otherwise write "collect-metrics: true" into ~/.skaffold/config on its first run and report there).
export SKAFFOLD_CONFIG="$root/.run/skaffold/config" SKAFFOLD_CACHE_FILE="$root/.run/skaffold/cache"
export SKAFFOLD_UPDATE_CHECK=false SKAFFOLD_INTERACTIVE=false
if [[ ! -f $SKAFFOLD_CONFIG ]]; then
  mkdir -p "$(dirname "$SKAFFOLD_CONFIG")"
  printf 'global:\n  collect-metrics: false\n  update-check: false\nkubeContexts: []\n' >"$SKAFFOLD_CONFIG"
fi
