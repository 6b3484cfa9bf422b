#!/usr/bin/env bash
# Installs the Kubernetes tools the project needs into .tools/bin (git-ignored), through the Go module proxy, and
# reuses what is already there. Prints the bin directory, so callers can: PATH="$(scripts/k8s-tools.sh):$PATH".
# The first helm build takes about 5 minutes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/bin"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
mkdir -p "$bin"

# install NAME VERSION MODULE/PATH: go install, unless bin/NAME is already that version (a stamp file written after
# our install, or the binary's own report: a `go install`ed helm says "v3.22" for v3.22.0).
install() {
  local name=$1 version=$2 pkg=$3 stamp="$bin/.$1.version"
  if [[ -x "$bin/$name" ]]; then
    if [[ -f $stamp && $(<"$stamp") == "$version" ]]; then return; fi
    local have
    have=$("$bin/$name" version --template '{{.Version}}' 2>/dev/null || true)
    if [[ -n $have && ( $version == "$have" || $version == "$have".* ) ]]; then echo "$version" >"$stamp"; return; fi
  fi
  echo "installing $name $version into $bin (go install $pkg@$version; minutes the first time)" >&2
  GOBIN="$bin" GOFLAGS=-mod=mod GOWORK=off go install "$pkg@$version" >&2
  echo "$version" >"$stamp"
}

install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm
echo "$bin"
