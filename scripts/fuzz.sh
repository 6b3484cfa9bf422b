#!/usr/bin/env bash
# make fuzz: runs every Go fuzz target (func FuzzXxx in a _test.go file of the workspace) for FUZZTIME each
# (default 3s), one after the other. The seed corpora (f.Add and testdata/fuzz) already run in go test; this
# searches beyond them. A failing input is written to the package's testdata/fuzz/FuzzXxx/ by go test: keep
# it there (it becomes a regression seed) once the bug is fixed. FUZZ=regexp runs only matching targets.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-3s}
FUZZ=${FUZZ:-.}

start=$SECONDS
targets=0
failed=()
# "dir name" pairs, in a stable order; only modules of go.work, never the fuzz cache or vendored code.
mapfile -t pairs < <(grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' \
	$(go list -m -f '{{.Dir}}' | sed "s|^$PWD/||") |
	sed -E 's|^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|' | sort -u)
for pair in "${pairs[@]}"; do
	read -r dir name <<<"$pair"
	[[ $name =~ $FUZZ ]] || continue
	targets=$((targets + 1))
	t0=$SECONDS
	if out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "./$dir" 2>&1); then
		printf 'ok    %-48s %-32s %3ds\n' "$dir" "$name" $((SECONDS - t0))
	else
		printf 'FAIL  %-48s %-32s %3ds\n' "$dir" "$name" $((SECONDS - t0))
		echo "$out" | tail -40
		failed+=("$dir $name")
	fi
done
echo "fuzz: ${targets} targets, ${FUZZTIME} each, $((SECONDS - start))s in all"
if ((${#failed[@]})); then
	printf 'failed: %s\n' "${failed[@]}"
	exit 1
fi
((targets > 0)) || { echo "fuzz: no targets matched ${FUZZ}"; exit 1; }
