#!/usr/bin/env bash
# make images: the container images without a Docker daemon and without pulling a base (build/images, a Go
# module of its own using go-containerregistry), pushed to an OCI registry.
#
#   scripts/images.sh [FLAGS]            the five service images: <REGISTRY>/simplemessenger/<service>:<TAG>, and a
#                                        Helm values file pinning them by digest (default .run/images/values.yaml)
#   scripts/images.sh cluster [FLAGS]    the local cluster's pause:3.10 and coredns:v1.15.0 (installs CoreDNS into
#                                        .tools/bin first: scripts/k8s-tools.sh coredns)
#   scripts/images.sh tools [FLAGS]      the operations tools of the local cluster (make test-operations): prometheus,
#                                        prometheus-operator, prometheus-config-reloader, jaeger, metrics-server,
#                                        each at its version (builds them into .tools/bin first: k8s-tools.sh ops)
#
# REGISTRY           where to push (default 127.0.0.1:5000), e.g. ghcr.io/acme (credentials: ~/.docker/config.json)
# TAG                the services' tag (default `git describe --always --dirty`, or a UTC timestamp outside git)
# INSECURE_REGISTRY  1: plain HTTP (automatic for 127.0.0.1 and localhost)
# SOURCE_DATE_EPOCH  the images' timestamps (default 0: the same sources give the same digests)
# FLAGS go to the program (-services gateway,auth, -values FILE or -values - for none, -push=false, ...; -h lists
# them); relative paths are taken from the current directory. It prints one line per image: name, reference@digest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
export REGISTRY="${REGISTRY:-127.0.0.1:5000}"
if [[ -z ${TAG:-} ]]; then
  TAG=$(git -C "$root" describe --always --dirty 2>/dev/null) || TAG=$(date -u +%Y%m%d%H%M%S)
  TAG=$(printf '%s' "$TAG" | tr -c 'A-Za-z0-9_.-' '-' | cut -c1-128) # what an image tag may hold
fi
export TAG

args=()
if [[ ${1:-} == cluster ]]; then
  shift
  bash "$root/scripts/k8s-tools.sh" coredns >/dev/null
  args+=(-cluster)
elif [[ ${1:-} == tools ]]; then
  shift
  bin=$(bash "$root/scripts/k8s-tools.sh" ops)
  version() { cat "$bin/.$1.version"; }
  # Tagged with its release (k8s-tools.sh stamps it into the binary: the module's v0.305.0 is Prometheus 3.5.0).
  prometheus=v$("$bin/prometheus" --version | sed -n 's/^prometheus, version \([^ ]*\).*/\1/p')
  args+=(-tool "prometheus=$bin/prometheus:$prometheus"
    -tool "prometheus-operator=$bin/operator:$(version operator)"
    -tool "prometheus-config-reloader=$bin/prometheus-config-reloader:$(version prometheus-config-reloader)"
    -tool "jaeger=$bin/jaeger:$(version jaeger)"
    -tool "metrics-server=$bin/metrics-server:$(version metrics-server)")
fi

# The program is its own module (not in go.work): built with GOWORK=off; it builds the services in workspace mode.
tool="$root/.run/images/build-images"
mkdir -p "$(dirname "$tool")"
GOWORK=off go -C "$root/build/images" build -o "$tool" .
exec "$tool" -root "$root" "${args[@]}" "$@"
