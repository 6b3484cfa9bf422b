#!/usr/bin/env bash
# make lint: staticcheck over every module of go.work. staticcheck is installed from the Go module proxy into
# .tools/bin (pinned: STATICCHECK_VERSION) when it is missing or another version.
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.26.11} # the Makefile's pinned Go (see there), also when run without make
cd "$(dirname "$0")/.."
STATICCHECK_VERSION=${STATICCHECK_VERSION:-v0.8.2} # staticcheck 2026.2.2, the first line supporting Go 1.26
bin=$PWD/.tools/bin/staticcheck
if ! [[ -x $bin ]] || ! "$bin" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})"; then
	echo "installing staticcheck ${STATICCHECK_VERSION} into .tools/bin"
	GOBIN=$PWD/.tools/bin go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
fi
status=0
for dir in $(go list -m -f '{{.Dir}}'); do
	# Each module from its own directory: ./... does not cross module boundaries.
	(cd "$dir" && "$bin" ./...) || { echo "staticcheck: findings in ${dir#$PWD/}"; status=1; }
done
((status == 0)) && echo "staticcheck: clean ($("$bin" -version))"
exit $status
