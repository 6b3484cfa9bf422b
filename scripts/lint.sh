#!/usr/bin/env bash
# make lint: staticcheck over every module of go.work. staticcheck is installed from the Go module proxy into
# .tools/bin (pinned: STATICCHECK_VERSION) when it is missing or another version (scripts/lib/tools.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
source "$(dirname "${BASH_SOURCE[0]}")/lib/tools.sh"
cd "$(dirname "$0")/.."
STATICCHECK_VERSION=${STATICCHECK_VERSION:-v0.8.2} # staticcheck 2026.2.2, the first line supporting Go 1.26
tools_install staticcheck "$STATICCHECK_VERSION" honnef.co/go/tools/cmd/staticcheck
bin=$tools_bin/staticcheck
status=0
for dir in $(go list -m -f '{{.Dir}}'); do
	# Each module from its own directory: ./... does not cross module boundaries.
	(cd "$dir" && "$bin" ./...) || { echo "staticcheck: findings in ${dir#$PWD/}"; status=1; }
done
((status == 0)) && echo "staticcheck: clean ($("$bin" -version))"
exit $status
