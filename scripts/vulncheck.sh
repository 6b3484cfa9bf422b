#!/usr/bin/env bash
# make vulncheck: govulncheck over every module of go.work, offline. Fails on any vulnerability the code can reach
# (symbol level, govulncheck's default mode); vulnerabilities only in imported packages or required modules that no
# call path reaches are printed in govulncheck's summary but do not fail.
#
# vuln.go.dev is not reachable from CI, only the Go module proxy, which serves the Go vulnerability database's
# source as the module golang.org/x/vulndb (data/osv/*.json). Its own cmd/indexdb turns that folder into a v1
# database (index/db.json, index/modules.json, index/vulns.json, ID/*.json), built into .tools/vulndb and reused
# until VULNDB_VERSION changes. govulncheck (pinned: GOVULNCHECK_VERSION) and indexdb are installed into .tools/bin
# like staticcheck in scripts/lint.sh (scripts/lib/tools.sh). Newer data: raise VULNDB_VERSION
# (`go list -m golang.org/x/vulndb@latest`).
set -euo pipefail
# The pinned toolchain (see the Makefile): the standard library govulncheck checks is the one the go command uses.
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/tools.sh"
cd "$(dirname "$0")/.."
GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.9.0}
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}

# Reachable findings accepted on purpose: one string per finding, its GO id first, then why it cannot be fixed
# and when to look again, e.g. "GO-2026-0000 no fixed release of example.com/x yet; only used with trusted input;
# recheck 2027-01". Fixing (a newer module version or toolchain) is preferred. Empty: nothing is accepted.
EXCLUDE=(
)

tools_install govulncheck "$GOVULNCHECK_VERSION" golang.org/x/vuln/cmd/govulncheck
bin=$tools_bin/govulncheck

db=$PWD/.tools/vulndb
if [[ $(cat "$db/VERSION" 2>/dev/null) != "$VULNDB_VERSION" ]]; then
	echo "building the vulnerability database golang.org/x/vulndb@${VULNDB_VERSION} into .tools/vulndb"
	tools_install indexdb "$VULNDB_VERSION" golang.org/x/vulndb/cmd/indexdb
	mod=$(go mod download -json "golang.org/x/vulndb@${VULNDB_VERSION}")
	src=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$mod")
	when=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$(sed -n 's/^\t"Info": "\(.*\)",$/\1/p' <<<"$mod")")
	[[ -d $src/data/osv && -n $when ]] || { echo "vulncheck: no data/osv in golang.org/x/vulndb@${VULNDB_VERSION}"; exit 1; }
	tmp=$(mktemp -d "$PWD/.tools/vulndb.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	"$tools_bin/indexdb" -vulns "$src/data/osv" -out "$tmp/db"
	# The OSV files in the repository carry no modified time (vuln.go.dev stamps it when it deploys), so the index
	# would say 0001-01-01; the commit time of the pinned version is when this data was current.
	printf '{"modified":"%s"}' "$when" >"$tmp/db/index/db.json"
	gzip -9nc "$tmp/db/index/db.json" >"$tmp/db/index/db.json.gz"
	echo "$VULNDB_VERSION" >"$tmp/db/VERSION"
	rm -rf "$db" && mv "$tmp/db" "$db"
fi

excluded() { local e; for e in "${EXCLUDE[@]}"; do [[ ${e%% *} == "$1" ]] && return 0; done; return 1; }

status=0
accepted=0
for dir in $(go list -m -f '{{.Dir}}'); do
	# Each module from its own directory: ./... does not cross module boundaries.
	rc=0
	out=$(cd "$dir" && "$bin" -db "file://$db" ./... 2>&1) || rc=$?
	echo "== ${dir#$PWD/}"
	echo "$out"
	((rc == 0)) && continue
	# Exit 3 is "reachable vulnerabilities found", listed as "Vulnerability #N: GO-YYYY-NNNN"; anything else (or
	# no id found in the text) is a failure as it stands.
	ids=$(sed -n 's/^Vulnerability #[0-9]*: \(GO-[0-9]*-[0-9]*\)$/\1/p' <<<"$out")
	if ((rc != 3)) || [[ -z $ids ]]; then
		echo "vulncheck: govulncheck failed in ${dir#$PWD/} (exit $rc)"
		status=1
		continue
	fi
	for id in $ids; do
		if excluded "$id"; then
			echo "vulncheck: $id in ${dir#$PWD/} is EXCLUDED in scripts/vulncheck.sh (see the reason there)"
			accepted=$((accepted + 1))
		else
			echo "vulncheck: $id is reachable from ${dir#$PWD/}"
			status=1
		fi
	done
done
((status == 0)) && echo "vulncheck: no reachable vulnerability$( ((accepted == 0)) || echo " except $accepted EXCLUDED") (govulncheck ${GOVULNCHECK_VERSION}, $(go env GOVERSION), golang.org/x/vulndb@${VULNDB_VERSION})"
exit $status
