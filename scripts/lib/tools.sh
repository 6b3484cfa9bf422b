# Sourced by the scripts that install pinned Go tools into .tools/bin (git-ignored) through the Go module proxy
# (scripts/lint.sh, vulncheck.sh, k8s-tools.sh, k8s-kustomize.sh, k8s-validate.sh). The versions more than one
# script needs are pinned here; the others stay with their script.
# shellcheck shell=bash
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
# v5.8.3 needs Go 1.27; v5.8.2 is the newest that builds with the workspace's Go 1.26.
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.2}"

# The checkout's .tools/bin, wherever the script runs from.
tools_bin="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.tools/bin"

# tools_stamped NAME VERSION: bin/NAME is there and its stamp (bin/.NAME.version, written after our install or
# build) says VERSION.
tools_stamped() { [[ -x "$tools_bin/$1" && -f "$tools_bin/.$1.version" && $(<"$tools_bin/.$1.version") == "$2" ]]; }

# tools_install NAME VERSION MODULE/PATH: go install, unless bin/NAME is already that version (its stamp, or the
# version the binary's Go build information records, read without running it; a helm without one is asked itself:
# a `go install`ed helm says "v3.22" for v3.22.0). Outside the workspace, so its go.work does not interfere.
# Built without symbol tables and DWARF (-s -w: a smaller binary, a shorter link). Environment assignments before
# the call (CGO_ENABLED=0 tools_install ...) apply to the go install. Everything
# it prints goes to stderr (k8s-tools.sh prints the bin directory on stdout).
tools_install() {
  local name=$1 version=$2 pkg=$3 stamp="$tools_bin/.$1.version"
  if [[ -x "$tools_bin/$name" ]]; then
    if tools_stamped "$name" "$version"; then return 0; fi
    local have
    have=$(go version -m "$tools_bin/$name" 2>/dev/null | awk '$1 == "mod" { print $3; exit }' || true)
    if [[ -z $have && $name == helm ]]; then
      have=$("$tools_bin/$name" version --template '{{.Version}}' 2>/dev/null || true)
    fi
    if [[ -n $have && ( $version == "$have" || $version == "$have".* ) ]]; then echo "$version" >"$stamp"; return 0; fi
  fi
  echo "installing $name $version into .tools/bin (go install $pkg@$version)" >&2
  local t0=$SECONDS
  mkdir -p "$tools_bin"
  (cd /tmp && GOBIN="$tools_bin" GOFLAGS=-mod=mod GOWORK=off go install -trimpath -ldflags="-s -w" "$pkg@$version" >&2) || return
  echo "$version" >"$stamp"
  echo "installed $name $version in $((SECONDS - t0)) s" >&2
}
