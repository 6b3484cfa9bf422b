#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, in the shape of Kubernetes' own hack/local-up-cluster.sh:
#
#   scripts/cluster.sh up       make cluster-up: build what is missing, start everything, wait until the node and
#                               cluster DNS are Ready; a second run on a healthy cluster changes nothing
#   scripts/cluster.sh down     make cluster-down: stop exactly what `up` started (by pid), remove what pods leave
#                               behind, restore the sysctls `up` found
#   scripts/cluster.sh status   what runs, and the kubeconfig
#   scripts/cluster.sh leftovers   print whatever of the cluster is still on the machine (nothing after `down`)
#
# What runs (all on this machine, nothing from the internet, no public registry):
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl: built from
#     k8s.io/kubernetes (scripts/k8s-bins.sh), cached in .tools/bin;
#   containerd and runc from Debian; CNI: Debian's containernetworking-plugins (bridge, host-local, portmap,
#     loopback) on a bridge this script creates; cluster DNS: CoreDNS built from github.com/coredns/coredns;
#   an OCI registry on 127.0.0.1:5000 (github.com/distribution/distribution/v3) that the node pulls from: the
#     pause and CoreDNS images (scripts/images.sh cluster) and the messenger's (make images);
#   two socat forwarders that make this machine's MariaDB and RabbitMQ (which listen on 127.0.0.1 only) reachable
#     from pods at the node's address: the messenger uses them as external services (README "Run on Kubernetes").
#   kube-router (github.com/cloudnativelabs/kube-router/v2, its NetworkPolicy firewall only; iptables and Debian's
#     ipset): the bridge plugin enforces no NetworkPolicy, and the chart's policies are meant to hold.
#
# Addresses: the bridge $BRIDGE holds the node's address $NODE_IP (kubelet --node-ip, the apiserver's advertise and
# bind address) and the pods' /16; Services get $SERVICE_CIDR. Pods have no route off the machine: forwarded
# traffic between the bridge and any other interface is dropped (chain SM-CLUSTER-FORWARD), no masquerade to the
# outside, and CoreDNS answers only for cluster.local. NodePorts are bound on 127.0.0.1 and $NODE_IP only.
# TLS everywhere on the API (certificates made here with openssl), authorization Node,RBAC.
#
# Env: CLUSTER_DATA (/var/lib/simplemessenger-cluster), CLUSTER_RUN (/run/simplemessenger-cluster),
# REGISTRY_ADDR (127.0.0.1:5000), CLUSTER_WAIT (300 s).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

DATA=${CLUSTER_DATA:-/var/lib/simplemessenger-cluster}
RUN=${CLUSTER_RUN:-/run/simplemessenger-cluster}
OUT="$root/.run/cluster"            # kubeconfig and logs, for this checkout
PIDS="$RUN/pids"
BRIDGE=smk8s0
NODE_IP=10.201.0.1
POD_CIDR=10.201.0.0/16
POD_PREFIX=16
SERVICE_CIDR=10.202.0.0/16
API_SERVICE_IP=10.202.0.1
DNS_IP=10.202.0.10
NODE_NAME=simplemessenger
REGISTRY_ADDR=${REGISTRY_ADDR:-127.0.0.1:5000}
ETCD_CLIENT=127.0.0.1:12379
ETCD_PEER=127.0.0.1:12380
CLUSTER_WAIT=${CLUSTER_WAIT:-300}
FORWARD_CHAIN=SM-CLUSTER-FORWARD
FORWARD_SOURCE=127.0.0.2            # the forwarders' source address towards MariaDB and RabbitMQ
# Sysctls the cluster needs or that its programs set (the kubelet's kernel defaults, kube-proxy's route_localnet
# for NodePorts on 127.0.0.1): saved before the first start, restored by `down`.
SYSCTLS=(net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
# Places outside our folders where the kubelet and CNI write whatever their configuration says (the kubelet's
# device-plugin socket, the links to pod logs, CNI's result cache): only our entries are removed, and the folder
# itself when it was not there before the first `up`.
FIXED_DIRS=(/var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni)
# Chains of Kubernetes, of CNI and ours.
CHAINS='^(KUBE-|CNI-|SM-CLUSTER-)'
# Every daemon, in start order.
DAEMONS=(registry containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy
  kube-router forward-mysql forward-amqp)

log() { echo "cluster: $*" >&2; }
die() { echo "cluster: $*" >&2; exit 1; }

[[ $EUID == 0 ]] || die "run as root (containerd, the kubelet, bridges, iptables and mounts need it)"
# One up/down at a time (the lock is on this script: nothing to leave behind).
exec 9<"$0"
flock -n 9 || die "another scripts/cluster.sh is running"

BIN_DIR=${K8S_BINS_DIR:-$root/.tools/bin}
bin=""
tools() {
  DEPS_CLUSTER=1 bash scripts/deps.sh
  bin=$(K8S_BINS_DIR="$BIN_DIR" bash scripts/k8s-bins.sh all)
  local t
  t=$(bash scripts/k8s-tools.sh cluster)
  # k8s-tools.sh installs into .tools/bin: with K8S_BINS_DIR elsewhere, registry and coredns come from there.
  [[ $t == "$bin" || -n ${K8S_BINS_DIR:-} ]] || die "k8s-tools.sh and k8s-bins.sh disagree on the bin dir ($t, $bin)"
  local p
  for p in containerd runc socat openssl iptables ip6tables ipset; do
    command -v "$p" >/dev/null || die "missing $p (scripts/deps.sh cluster installs it)"
  done
  [[ -x /usr/lib/cni/bridge ]] || die "missing CNI plugins in /usr/lib/cni (Debian containernetworking-plugins)"
}

kubectl() { KUBECACHEDIR="$root/.run/kube-cache" "$bin/kubectl" --kubeconfig "$DATA/pki/admin.kubeconfig" "$@"; }

# --- processes ---------------------------------------------------------------------------------------------------

pid_of() { [[ -f $PIDS/$1 ]] && cat "$PIDS/$1"; }
# running NAME: its recorded pid is alive and still the program it was (not a reused pid).
running() {
  local pid exe
  pid=$(pid_of "$1") || return 1
  [[ -n $pid && -d /proc/$pid && -s $PIDS/$1.match ]] || return 1
  exe=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $exe == *"$(<"$PIDS/$1.match")"* ]]
}
# start NAME MATCH CMD...: run CMD in its own session, logs in $OUT/logs/NAME.log, pid in $PIDS/NAME.
start() {
  local name=$1 match=$2; shift 2
  if running "$name"; then return 0; fi
  mkdir -p "$PIDS" "$OUT/logs"
  echo "$match" >"$PIDS/$name.match"
  setsid "$@" >>"$OUT/logs/$name.log" 2>&1 </dev/null 9<&- & # 9: the lock, not for the daemons to hold
  echo $! >"$PIDS/$name"
  log "started $name (pid $!)"
}
stop() {
  local name=$1 pid i
  if running "$name"; then
    pid=$(pid_of "$name")
    # The whole process group: setsid made the daemon its leader, and socat's forked children (one per
    # connection) are in it.
    kill -TERM -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
    if [[ -d /proc/$pid ]]; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
      [[ -d /proc/$pid ]] && die "$name (pid $pid) does not stop"
      log "$name did not stop in 10 s: killed"
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "stopped $name (pid $pid)"
  fi
  rm -f "$PIDS/$name" "$PIDS/$name.match"
}
wait_for() { # wait_for WHAT SECONDS CMD...
  local what=$1 secs=$2 i; shift 2
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$what not ready after ${secs}s (logs: $OUT/logs)"
}

# --- certificates and kubeconfigs --------------------------------------------------------------------------------

cert() { # cert NAME SUBJECT [SANs] [CA]: a key and a certificate signed by the cluster CA (or CA)
  local name=$1 subj=$2 san=${3:-} ca=${4:-ca} ext
  [[ -f $DATA/pki/$name.crt ]] && return 0
  ext=$(mktemp)
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n $san ]]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
    else echo "extendedKeyUsage=clientAuth"; fi
  } >"$ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj" \
    -keyout "$DATA/pki/$name.key" -out "$DATA/pki/$name.csr" 2>/dev/null
  openssl x509 -req -in "$DATA/pki/$name.csr" -CA "$DATA/pki/$ca.crt" -CAkey "$DATA/pki/$ca.key" \
    -CAcreateserial -days 365 -extfile "$ext" -out "$DATA/pki/$name.crt" 2>/dev/null
  rm -f "$ext" "$DATA/pki/$name.csr"
}
kubeconfig() { # kubeconfig NAME USER-CERT
  local f="$DATA/pki/$1.kubeconfig"
  [[ -f $f ]] && return 0
  cat >"$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: simplemessenger
  cluster:
    server: https://$NODE_IP:6443
    certificate-authority-data: $(base64 -w0 <"$DATA/pki/ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $(base64 -w0 <"$DATA/pki/$2.crt")
    client-key-data: $(base64 -w0 <"$DATA/pki/$2.key")
contexts:
- name: simplemessenger
  context: {cluster: simplemessenger, user: $1}
current-context: simplemessenger
EOF
  chmod 600 "$f"
}
pki() {
  mkdir -p "$DATA/pki"; chmod 700 "$DATA/pki"
  local ca
  for ca in ca front-proxy-ca; do
    [[ -f $DATA/pki/$ca.crt ]] || openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=simplemessenger-$ca" -days 3650 -keyout "$DATA/pki/$ca.key" -out "$DATA/pki/$ca.crt" 2>/dev/null
  done
  [[ -f $DATA/pki/sa.key ]] || { openssl genrsa -out "$DATA/pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$DATA/pki/sa.key" -pubout -out "$DATA/pki/sa.pub" 2>/dev/null; }
  cert apiserver "/CN=kube-apiserver" \
    "IP:$NODE_IP,IP:$API_SERVICE_IP,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert admin "/O=system:masters/CN=admin"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert kube-proxy "/CN=system:kube-proxy"
  cert kube-router "/CN=system:kube-router"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  cert kubelet-serving "/O=system:nodes/CN=system:node:$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME"
  cert front-proxy-client "/CN=front-proxy-client" "" front-proxy-ca
  kubeconfig admin admin
  kubeconfig controller-manager controller-manager
  kubeconfig scheduler scheduler
  kubeconfig kube-proxy kube-proxy
  kubeconfig kube-router kube-router
  kubeconfig kubelet kubelet
  mkdir -p "$OUT"
  cp "$DATA/pki/admin.kubeconfig" "$OUT/admin.kubeconfig"
}

# --- network -----------------------------------------------------------------------------------------------------

save_sysctls() {
  [[ -f $DATA/sysctls.saved ]] && return 0
  local k
  for k in "${SYSCTLS[@]}"; do
    [[ -e /proc/sys/${k//.//} ]] && echo "$k=$(sysctl -n "$k")"
  done >"$DATA/sysctls.saved"
  # A copy in the checkout, for `leftovers` to compare with after `down`.
  mkdir -p "$OUT"; cp "$DATA/sysctls.saved" "$OUT/sysctls.before"
}
# What this machine had before the cluster: which of FIXED_DIRS existed. And no other Kubernetes: its kube-proxy
# would fight ours over the KUBE- chains, and `down` removes every KUBE-/CNI- chain and kubepods cgroup as ours.
save_machine() {
  [[ -f $DATA/machine.saved ]] && return 0
  local t
  for t in iptables ip6tables; do
    if "$t" -w 5 -t nat -S 2>/dev/null | awk '{print $2}' | grep -qE "$CHAINS" ||
      "$t" -w 5 -t filter -S 2>/dev/null | awk '{print $2}' | grep -qE "$CHAINS"; then
      die "$t has KUBE-/CNI- chains already: another Kubernetes (or a cluster of ours whose folders are gone) runs here"
    fi
  done
  if find /sys/fs/cgroup -maxdepth 2 -name 'kubepods*' 2>/dev/null | grep -q .; then
    die "kubepods cgroups exist already: another kubelet runs (or ran) on this machine"
  fi
  if [[ -n $(ipset_sets) ]]; then
    die "ipsets of kube-router exist already: another NetworkPolicy firewall runs (or ran) here"
  fi
  local d
  for d in "${FIXED_DIRS[@]}"; do
    [[ -e $d ]] && echo "$d"
  done >"$DATA/machine.saved"
  true
}
# fw IPT ARGS...: run iptables or ip6tables, waiting for the xtables lock.
fw() { local t=$1; shift; "$t" -w 5 "$@"; }
network() {
  modprobe br_netfilter 2>/dev/null || true
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    log "created bridge $BRIDGE"
  fi
  ip addr show dev "$BRIDGE" | grep -q "inet $NODE_IP/" || ip addr add "$NODE_IP/$POD_PREFIX" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
  # Forwarded traffic between the bridge and any other interface is dropped: pods reach each other, Services and
  # the node, never the outside (and nothing outside reaches them).
  local t
  for t in iptables ip6tables; do
    if ! fw "$t" -N "$FORWARD_CHAIN" 2>/dev/null; then
      fw "$t" -C FORWARD -j "$FORWARD_CHAIN" 2>/dev/null && continue # already in place
      fw "$t" -F "$FORWARD_CHAIN"
    fi
    fw "$t" -A "$FORWARD_CHAIN" -i "$BRIDGE" -o "$BRIDGE" -j RETURN
    fw "$t" -A "$FORWARD_CHAIN" -i "$BRIDGE" -j DROP
    fw "$t" -A "$FORWARD_CHAIN" -o "$BRIDGE" -j DROP
    fw "$t" -C FORWARD -j "$FORWARD_CHAIN" 2>/dev/null || fw "$t" -I FORWARD 1 -j "$FORWARD_CHAIN"
  done
}

# --- configuration files -----------------------------------------------------------------------------------------

# put FILE [DAEMON]: standard input into FILE, only when it differs (kube-proxy exits when its configuration file
# is written, containerd reloads CNI on any write: a second `up` must not touch them). When it did differ, DAEMON
# is stopped, so that `up` starts it again with the new file.
put() {
  local tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; return; fi
  mv "$tmp" "$1"; chmod 644 "$1"
  if [[ -n ${2:-} ]] && running "$2"; then log "$1 changed: restarting $2"; stop "$2"; fi
}
configs() {
  mkdir -p "$DATA/config" "$DATA/cni/net.d" "$DATA/registry" "$RUN"
  put "$DATA/config/registry.yml" registry <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $DATA/registry}
  delete: {enabled: true}
http:
  addr: $REGISTRY_ADDR
EOF
  put "$DATA/config/containerd.toml" containerd <<EOF
# containerd for the simplemessenger cluster only: its own root, state and socket, nothing shared with a
# containerd the machine may run.
version = 2
root = "$DATA/containerd"
state = "$RUN/containerd"
[grpc]
  address = "$RUN/containerd.sock"
[ttrpc]
  address = "$RUN/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$DATA/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REGISTRY_ADDR/simplemessenger/pause:3.10"
  # The machine lacks CAP_SYS_RESOURCE: without this runc fails writing oom_score_adj ("can't get final child's
  # PID from pipe: EOF").
  restrict_oom_score_adj = true
  # The pods' network namespaces under our state folder, not /run/netns (shared with ip netns and other runtimes).
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DATA/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$REGISTRY_ADDR"]
    endpoint = ["http://$REGISTRY_ADDR"]
EOF
  put "$DATA/cni/net.d/10-simplemessenger.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "simplemessenger",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$DATA/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "10.201.1.1", "rangeEnd": "10.201.255.254", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
  put "$DATA/config/kubelet.yaml" kubelet <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has a hybrid cgroup v1 layout: Kubernetes >= 1.35 refuses cgroup v1 unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $DATA/pki/kubelet-serving.crt
tlsPrivateKeyFile: $DATA/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $DATA/pki/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
# No resolv.conf of the machine's for pods: CoreDNS answers cluster.local and nothing else.
resolvConf: ""
containerRuntimeEndpoint: unix://$RUN/containerd.sock
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
evictionHard: {memory.available: 200Mi, nodefs.available: 5%, imagefs.available: 5%}
maxPods: 60
# Pod logs under our folder (the kubelet still links them from /var/log/containers).
podLogsDir: $DATA/pod-logs
serializeImagePulls: false
EOF
  put "$DATA/config/kube-proxy.yaml" kube-proxy <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
clientConnection: {kubeconfig: $DATA/pki/kube-proxy.kubeconfig}
# NodePorts only on loopback (the gateway at 127.0.0.1:30080) and the node's bridge address.
nodePortAddresses: [127.0.0.1/32, $NODE_IP/32]
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# Leave the machine's conntrack sysctls as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

# --- up ----------------------------------------------------------------------------------------------------------

up() {
  mkdir -p "$DATA" "$RUN" "$OUT/logs"
  tools
  save_sysctls
  save_machine
  pki
  configs
  network

  start registry "$DATA/config/registry.yml" "$bin/registry" serve "$DATA/config/registry.yml"
  wait_for registry 30 curl -fsS "http://$REGISTRY_ADDR/v2/"
  # The pause (pod sandbox) and CoreDNS images, built by the project and pushed before any pod needs them.
  REGISTRY="$REGISTRY_ADDR" bash scripts/images.sh cluster >&2

  start containerd "$DATA/config/containerd.toml" containerd --config "$DATA/config/containerd.toml"
  wait_for containerd 30 test -S "$RUN/containerd.sock"

  start etcd "--data-dir $DATA/etcd" "$bin/etcd" --name simplemessenger --data-dir "$DATA/etcd" \
    --listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
    --listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
    --initial-cluster "simplemessenger=http://$ETCD_PEER" --listen-metrics-urls http://127.0.0.1:12381 \
    --quota-backend-bytes 2147483648 --log-level warn
  wait_for etcd 30 curl -fsS "http://$ETCD_CLIENT/health"

  local p="$DATA/pki"
  start kube-apiserver "$DATA/pki/apiserver.crt" "$bin/kube-apiserver" \
    --etcd-servers "http://$ETCD_CLIENT" --advertise-address "$NODE_IP" --bind-address "$NODE_IP" --secure-port 6443 \
    --service-cluster-ip-range "$SERVICE_CIDR" --service-node-port-range 30000-32767 \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" --client-ca-file "$p/ca.crt" \
    --kubelet-client-certificate "$p/apiserver-kubelet-client.crt" --kubelet-client-key "$p/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$p/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --allow-privileged=false \
    --requestheader-client-ca-file "$p/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$p/front-proxy-client.crt" --proxy-client-key-file "$p/front-proxy-client.key" \
    --enable-aggregator-routing=true --profiling=false
  wait_for kube-apiserver 120 kubectl get --raw /readyz

  start kube-controller-manager "$DATA/pki/controller-manager.kubeconfig" "$bin/kube-controller-manager" \
    --kubeconfig "$p/controller-manager.kubeconfig" --authentication-kubeconfig "$p/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$p/controller-manager.kubeconfig" --bind-address 127.0.0.1 \
    --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
    --cluster-signing-cert-file "$p/ca.crt" --cluster-signing-key-file "$p/ca.key" \
    --use-service-account-credentials --leader-elect=false --allocate-node-cidrs=false \
    --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false
  start kube-scheduler "$DATA/pki/scheduler.kubeconfig" "$bin/kube-scheduler" \
    --kubeconfig "$p/scheduler.kubeconfig" --authentication-kubeconfig "$p/scheduler.kubeconfig" \
    --authorization-kubeconfig "$p/scheduler.kubeconfig" --bind-address 127.0.0.1 --leader-elect=false \
    --profiling=false
  mkdir -p "$DATA/kubelet"
  start kubelet "$DATA/config/kubelet.yaml" "$bin/kubelet" --config "$DATA/config/kubelet.yaml" \
    --kubeconfig "$p/kubelet.kubeconfig" --root-dir "$DATA/kubelet" --node-ip "$NODE_IP" \
    --hostname-override "$NODE_NAME"
  start kube-proxy "$DATA/config/kube-proxy.yaml" "$bin/kube-proxy" --config "$DATA/config/kube-proxy.yaml"

  # This machine's MariaDB and RabbitMQ listen on 127.0.0.1 only: forward the node's address to them, for the pods'
  # network only (range), and from 127.0.0.2, so that MariaDB tells the pods' connections from this machine's own:
  # its root@127.0.0.1 (no password, for the tests) does not match them, only the users cluster-deploy.sh makes
  # for FORWARD_SOURCE do.
  start forward-mysql "TCP-LISTEN:3306,bind=$NODE_IP" socat "TCP-LISTEN:3306,bind=$NODE_IP,range=$POD_CIDR,reuseaddr,fork" \
    "TCP:127.0.0.1:3306,bind=$FORWARD_SOURCE"
  start forward-amqp "TCP-LISTEN:5672,bind=$NODE_IP" socat "TCP-LISTEN:5672,bind=$NODE_IP,range=$POD_CIDR,reuseaddr,fork" \
    "TCP:127.0.0.1:5672,bind=$FORWARD_SOURCE"

  wait_for "node $NODE_NAME" "$CLUSTER_WAIT" kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  # NetworkPolicies: the bridge plugin enforces none; kube-router's firewall does (iptables and ipset, in the
  # chains KUBE-ROUTER-* and KUBE-NWPLCY-*/KUBE-POD-FW-*, ipsets KUBE-*), nothing else of kube-router runs. It
  # starts once the node is registered (it looks its node up and exits when it is not there yet).
  kubectl apply --server-side --force-conflicts -f k8s/cluster/kube-router.yaml >&2
  start kube-router "$p/kube-router.kubeconfig" "$bin/kube-router" --kubeconfig "$p/kube-router.kubeconfig" \
    --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false --enable-cni=false \
    --enable-ipv6=false --hostname-override "$NODE_NAME" --service-cluster-ip-range "$SERVICE_CIDR" \
    --health-port=0 --metrics-port=0
  sed -e "s|@REGISTRY@|$REGISTRY_ADDR|g" -e "s|@DNS_IP@|$DNS_IP|g" k8s/cluster/coredns.yaml |
    kubectl apply --server-side --force-conflicts -f - >&2
  if ! kubectl -n kube-system rollout status deployment/coredns --timeout="${CLUSTER_WAIT}s" >&2; then
    kubectl -n kube-system get pods -o wide >&2 || true
    kubectl -n kube-system get events --sort-by=.lastTimestamp >&2 || true
    die "CoreDNS did not become ready"
  fi
  status || die "a daemon is not running: its log is in $OUT/logs"
}

status() {
  local d missing=0
  for d in "${DAEMONS[@]}"; do
    if running "$d"; then printf '  %-24s pid %s\n' "$d" "$(pid_of "$d")" >&2
    else printf '  %-24s not running\n' "$d" >&2; missing=1; fi
  done
  echo "cluster: kubeconfig $OUT/admin.kubeconfig (registry $REGISTRY_ADDR, node $NODE_IP)" >&2
  return $missing
}

# --- down --------------------------------------------------------------------------------------------------------

# Processes of containers: the containerd shims of our socket and everything under them.
shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q "containerd-shim.*-address $RUN/containerd.sock" && echo "${p#/proc/}"
  done
  true
}
descendants() { local c; for c in $(pgrep -P "$1" 2>/dev/null); do echo "$c"; descendants "$c"; done; }

down() {
  # Without our folders there is no cluster of ours: touch nothing (the chains of another Kubernetes on this
  # machine are not ours to delete).
  [[ -d $DATA || -d $RUN ]] || { log "no cluster"; return 0; }
  bin=$BIN_DIR
  # Pods first, while the kubelet still runs: it stops them and CNI releases their addresses and links.
  local t0=$SECONDS
  if running kube-apiserver && running kubelet && [[ -x $bin/kubectl ]]; then
    # The workloads first, so that nothing makes new pods; at most 20 s, then the rest is cut below.
    kubectl delete deployments,replicasets,statefulsets,daemonsets,jobs --all --all-namespaces --wait=false \
      >/dev/null 2>&1 || true
    kubectl delete pods --all --all-namespaces --grace-period=5 --wait=false >/dev/null 2>&1 || true
    local i
    for ((i = 0; i < 20; i++)); do
      [[ -z $(kubectl get pods -A -o name 2>/dev/null | head -1) ]] && break
      sleep 1
    done
    log "pods deleted ($((SECONDS - t0)) s)"
  fi
  local d
  for ((d = ${#DAEMONS[@]} - 1; d >= 0; d--)); do stop "${DAEMONS[d]}"; done
  log "daemons stopped ($((SECONDS - t0)) s)"
  # kube-proxy's and kube-router's own clean-up of their iptables rules (and kube-router's ipsets).
  if [[ -x $bin/kube-proxy ]]; then "$bin/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  if [[ -x $bin/kube-router ]]; then "$bin/kube-router" --cleanup-config >/dev/null 2>&1 || true; fi
  # Shims outlive containerd by design: end them and their containers.
  local s pids=()
  for s in $(shim_pids); do pids+=("$s" $(descendants "$s")); done
  if ((${#pids[@]})); then
    kill -KILL "${pids[@]}" 2>/dev/null || true
    log "killed ${#pids[@]} shim and container processes"
    sleep 0.5
  fi
  leftovers_clean
  log "cleaned ($((SECONDS - t0)) s)"
  local out
  if out=$(leftovers); then log "down: nothing left behind"; else echo "$out" >&2; die "down: leftovers above"; fi
}

# Unmount, unlink and delete everything of the cluster that may be on the machine; idempotent.
leftovers_clean() {
  local m
  # Mounts under our folders and the pods' network namespaces, deepest first.
  for m in $(awk -v a="$DATA" -v b="$RUN" '$5 ~ "^"a || $5 ~ "^"b {print $5}' \
    /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  # Veths on our bridge, then the bridge.
  local l
  for l in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$l" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  iptables_clean iptables
  iptables_clean ip6tables
  ipset_clean
  # cgroups the kubelet made (leaf first).
  local c
  for c in $(find /sys/fs/cgroup -depth -type d -name 'kubepods*' 2>/dev/null; find /sys/fs/cgroup -depth -type d -path '*/kubepods*/*' 2>/dev/null); do
    rmdir "$c" 2>/dev/null || true
  done
  for c in $(find /sys/fs/cgroup -depth -type d -path '*kubepods*' 2>/dev/null); do rmdir "$c" 2>/dev/null || true; done
  # Sysctls back to what `up` found (the copy in the checkout when an earlier `down` got that far).
  local saved=$DATA/sysctls.saved
  [[ -f $saved ]] || saved=$OUT/sysctls.before
  if [[ -f $saved ]]; then
    while IFS= read -r l; do sysctl -qw "$l" 2>/dev/null || true; done <"$saved"
  fi
  # Our entries in the fixed places, and the folders that were not there before.
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock
  find /var/log/containers -maxdepth 1 -lname "$DATA/*" -delete 2>/dev/null || true
  find /var/lib/cni -name 'simplemessenger-*' -delete 2>/dev/null || true
  if [[ -f $DATA/machine.saved ]]; then
    for m in "${FIXED_DIRS[@]}"; do
      grep -qx "$m" "$DATA/machine.saved" || find "$m" -depth -type d -empty -delete 2>/dev/null || true
    done
  fi
  rm -rf --one-file-system "$DATA" "$RUN"
  rm -f "$OUT/admin.kubeconfig"
}

# Every rule and chain of Kubernetes (KUBE-*), CNI (CNI-*) and ours, in every table.
iptables_clean() {
  local t=$1 table chain rule
  for table in filter nat mangle raw; do
    "$t" -w 5 -t "$table" -S >/dev/null 2>&1 || continue
    # Rules of the built-in chains that jump to one of those chains.
    while IFS= read -r rule; do
      [[ -n $rule ]] || continue
      eval "\"$t\" -w 5 -t $table ${rule/-A /-D }" 2>/dev/null || true
    done < <("$t" -w 5 -t "$table" -S | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE-|CNI-|SM-CLUSTER-)')
    for chain in $("$t" -w 5 -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-|SM-CLUSTER-)/ {print $2}'); do
      "$t" -w 5 -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $("$t" -w 5 -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-|SM-CLUSTER-)/ {print $2}'); do
      "$t" -w 5 -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}

# kube-router's ipsets (KUBE-SRC-*, KUBE-DST-*, kube-router-*), after the rules that use them are gone.
ipset_sets() { command -v ipset >/dev/null && ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router-)' || true; }
ipset_clean() {
  local s
  for s in $(ipset_sets); do ipset destroy "$s" 2>/dev/null || true; done
}

# Prints what of the cluster is still on the machine; exit 1 when anything is.
leftovers() {
  local found=0 p
  # Processes: ours name our folders or the forwarders' address; a container's process is in a kubepods cgroup.
  for p in /proc/[0-9]*; do
    local cmd
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    [[ ${p#/proc/} == "$$" ]] && continue
    if [[ $cmd == *"$DATA"* || $cmd == *"$RUN"* || $cmd == *"bind=$NODE_IP"* ]] ||
      grep -q kubepods 2>/dev/null <"$p/cgroup"; then
      echo "process ${p#/proc/}: $cmd"; found=1
    fi
  done
  if grep -qE " ($DATA|$RUN)" /proc/self/mountinfo; then
    echo "mounts:"; grep -E " ($DATA|$RUN)" /proc/self/mountinfo | awk '{print "  " $5}'; found=1
  fi
  if ip link show "$BRIDGE" >/dev/null 2>&1; then echo "link $BRIDGE"; found=1; fi
  local t
  for t in iptables ip6tables; do
    if "$t" -w 5 -S 2>/dev/null | grep -qE 'KUBE-|CNI-|SM-CLUSTER-' ||
      "$t" -w 5 -t nat -S 2>/dev/null | grep -qE 'KUBE-|CNI-|SM-CLUSTER-' ||
      "$t" -w 5 -t mangle -S 2>/dev/null | grep -qE 'KUBE-|CNI-|SM-CLUSTER-'; then
      echo "$t rules:"; for p in filter nat mangle; do "$t" -w 5 -t $p -S | grep -E 'KUBE-|CNI-|SM-CLUSTER-' || true; done; found=1
    fi
  done
  if find /sys/fs/cgroup -maxdepth 2 -name 'kubepods*' 2>/dev/null | grep -q .; then
    echo "cgroups:"; find /sys/fs/cgroup -maxdepth 2 -name 'kubepods*'; found=1
  fi
  if [[ -n $(ipset_sets) ]]; then echo "ipsets:"; ipset_sets; found=1; fi
  if [[ -e $DATA || -e $RUN ]]; then echo "folders: $DATA $RUN"; found=1; fi
  if [[ -e /var/lib/kubelet/device-plugins/kubelet.sock ]] ||
    find /var/log/containers /var/lib/cni -lname "$DATA/*" -o -name 'simplemessenger-*' 2>/dev/null | grep -q .; then
    echo "files of the kubelet or CNI:"; ls -l /var/lib/kubelet/device-plugins/kubelet.sock 2>/dev/null
    find /var/log/containers /var/lib/cni -lname "$DATA/*" -o -name 'simplemessenger-*' 2>/dev/null; found=1
  fi
  if [[ ! -e $DATA && -f $OUT/sysctls.before ]]; then
    local line
    while IFS= read -r line; do
      [[ $(sysctl -n "${line%%=*}" 2>/dev/null) == "${line#*=}" ]] || { echo "sysctl ${line%%=*} is $(sysctl -n "${line%%=*}"), was ${line#*=}"; found=1; }
    done <"$OUT/sysctls.before"
  fi
  return $found
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  leftovers) leftovers ;;
  *) echo "usage: scripts/cluster.sh up|down|status|leftovers" >&2; exit 2 ;;
esac
