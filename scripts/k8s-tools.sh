#!/usr/bin/env bash
# Installs the Kubernetes tools the project needs into .tools/bin (git-ignored), through the Go module proxy, and
# reuses what is already there. Prints the bin directory, so callers can: PATH="$(scripts/k8s-tools.sh):$PATH".
#
#   scripts/k8s-tools.sh                  helm (what the chart checks need)
#   scripts/k8s-tools.sh cluster          helm, coredns and the OCI registry (the local cluster's images)
#   scripts/k8s-tools.sh coredns registry only those (names: helm, coredns, registry)
#
# The first helm build takes about 5 minutes; coredns and the registry (distribution) a few minutes each.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/bin"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"           # the image scripts/images.sh cluster makes
DISTRIBUTION_VERSION="${DISTRIBUTION_VERSION:-v3.1.2}"  # the `registry` binary (CNCF distribution)
mkdir -p "$bin"

# install NAME VERSION MODULE/PATH: go install, unless bin/NAME is already that version (a stamp file written after
# our install, or the version the binary's Go build information records, read without running it; a helm without
# one is asked itself: a `go install`ed helm says "v3.22" for v3.22.0). Environment assignments before the call
# (CGO_ENABLED=0 install ...) apply to the go install.
install() {
  local name=$1 version=$2 pkg=$3 stamp="$bin/.$1.version"
  if [[ -x "$bin/$name" ]]; then
    if [[ -f $stamp && $(<"$stamp") == "$version" ]]; then return; fi
    local have
    have=$(go version -m "$bin/$name" 2>/dev/null | awk '$1 == "mod" { print $3; exit }' || true)
    if [[ -z $have && $name == helm ]]; then
      have=$("$bin/$name" version --template '{{.Version}}' 2>/dev/null || true)
    fi
    if [[ -n $have && ( $version == "$have" || $version == "$have".* ) ]]; then echo "$version" >"$stamp"; return; fi
  fi
  echo "installing $name $version into $bin (go install $pkg@$version; minutes the first time)" >&2
  GOBIN="$bin" GOFLAGS=-mod=mod GOWORK=off go install "$pkg@$version" >&2
  echo "$version" >"$stamp"
}

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(helm)
for tool in "${tools[@]}"; do
  case $tool in
    cluster) tools+=(helm coredns registry) ;;
  esac
done
declare -A seen=()
for tool in "${tools[@]}"; do
  [[ -z ${seen[$tool]:-} ]] || continue
  seen[$tool]=1
  case $tool in
    cluster) ;;
    helm) install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm ;;
    # Static (the image has no libc): build/images refuses a coredns built with cgo.
    coredns) CGO_ENABLED=0 install coredns "$COREDNS_VERSION" github.com/coredns/coredns ;;
    registry) CGO_ENABLED=0 install registry "$DISTRIBUTION_VERSION" github.com/distribution/distribution/v3/cmd/registry ;;
    *) echo "k8s-tools.sh: unknown tool '$tool' (helm, coredns, registry, cluster)" >&2; exit 2 ;;
  esac
done
echo "$bin"
