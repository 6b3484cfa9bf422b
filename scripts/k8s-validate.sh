#!/usr/bin/env bash
# Offline proof of the Kubernetes delivery (make test-k8s): installs the tools into .tools/bin if missing or another
# version (scripts/lib/tools.sh), generates strict JSON schemas into .tools/schemas if missing or stale, renders the
# charts and the kustomize overlays into a temporary folder, then:
#   1. helm lint --strict of every chart under charts/
#   2. kubeconform -strict of everything rendered, against the generated schemas (Kubernetes, Prometheus
#      Operator) and the project's own schemas in k8s/schemas (MariaDB and RabbitMQ operators)
#   3. the Go semantic checks in deploy/verify (selectors, ports, probes, security, network policies,
#      skaffold.yaml against its schema, the Tiltfile)
# Set KEEP_RENDERED=1 to keep the rendered folder (its path is printed).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
source "$(dirname "${BASH_SOURCE[0]}")/lib/tools.sh" # HELM_VERSION, KUSTOMIZE_VERSION, tools_install

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
SCHEMAS="$TOOLS/schemas"
mkdir -p "$BIN"
export PATH="$BIN:$PATH"

KUBECONFORM_VERSION=v0.8.0

# Kinds that have no schema anywhere and are allowed through unchecked. Keep it short; say why for each.
# (empty: every kind rendered must have a schema in .tools/schemas or k8s/schemas)
SKIP_KINDS=(
)

step() { printf '\n== %s\n' "$*"; }

step "tools"
bash scripts/k8s-tools.sh >/dev/null # helm (reuses .tools/bin/helm; about 5 min the first time)
tools_install kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform
tools_install kustomize "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5
# helm keeps its config and caches under .tools too (as scripts/k8s-render.sh does).
export HELM_CONFIG_HOME="$TOOLS/helm/config" HELM_CACHE_HOME="$TOOLS/helm/cache" HELM_DATA_HOME="$TOOLS/helm/data"
echo "helm $("$BIN/helm" version --short 2>/dev/null || true), kubeconform $("$BIN/kubeconform" -v 2>/dev/null || true), kustomize $("$BIN/kustomize" version 2>/dev/null || true)"

step "schemas"
# Regenerated when the generator changes (stamp = hash of its sources).
stamp=$(cat deploy/verify/go.mod deploy/verify/schemagen/*.go deploy/verify/cmd/genschemas/*.go | sha256sum | cut -c1-16)
if [ "$(cat "$SCHEMAS/.stamp" 2>/dev/null || true)" != "$stamp" ]; then
	start=$SECONDS
	rm -rf "$SCHEMAS.tmp"
	(cd deploy/verify && go run ./cmd/genschemas -out "$SCHEMAS.tmp")
	echo "$stamp" >"$SCHEMAS.tmp/.stamp"
	rm -rf "$SCHEMAS"
	mv "$SCHEMAS.tmp" "$SCHEMAS"
	echo "generated in $((SECONDS - start))s"
else
	echo "cached: $(ls "$SCHEMAS" | wc -l) schemas in $SCHEMAS"
fi

OUT=$(mktemp -d "${TMPDIR:-/tmp}/k8s-validate.XXXXXX")
if [ "${KEEP_RENDERED:-}" = 1 ]; then echo "rendered output kept in $OUT"; else trap 'rm -rf "$OUT"' EXIT; fi
mkdir -p "$OUT/helm" "$OUT/kustomize"

step "generated files are up to date (one source per object)"
bash scripts/gen-k8s-observability.sh --check
bash scripts/k8s-charts-sync.sh --check

step "render"
rendered_any=0
if [ -f scripts/k8s-render.sh ]; then
	bash scripts/k8s-render.sh "$OUT/helm"
	rendered_any=1
else
	echo "MISSING scripts/k8s-render.sh: charts not rendered"
fi
if [ -f scripts/k8s-kustomize.sh ]; then
	bash scripts/k8s-kustomize.sh "$OUT/kustomize"
	rendered_any=1
else
	echo "MISSING scripts/k8s-kustomize.sh: overlays not rendered"
fi
find "$OUT" -type f | sed "s|^$OUT/|  |" | sort

step "helm lint --strict"
charts=()
for c in charts/*/; do
	[ -f "$c/Chart.yaml" ] && charts+=("${c%/}")
done
if [ ${#charts[@]} -eq 0 ]; then
	echo "no charts under charts/"
else
	if [ -f scripts/k8s-charts.sh ]; then bash scripts/k8s-charts.sh deps >/dev/null; fi
	for c in "${charts[@]}"; do
		# The umbrella's dependencies are local file:// charts; build them so lint sees them.
		if grep -q '^dependencies:' "$c/Chart.yaml" && [ ! -f scripts/k8s-charts.sh ]; then
			helm dependency build "$c" >/dev/null
		fi
		helm lint --strict --quiet "$c"
		echo "ok  $c"
		# and with each environment's values file (charts/messenger/values-<env>.yaml)
		for f in "$c"/values-*.yaml; do
			[ -f "$f" ] || continue
			helm lint --strict --quiet "$c" -f "$f"
			echo "ok  $c -f $f"
		done
	done
fi

step "kubeconform -strict"
mapfile -t files < <(find "$OUT" -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
if [ ${#files[@]} -eq 0 ]; then
	echo "nothing rendered to validate"
else
	locations=(-schema-location "$SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json")
	if [ -d k8s/schemas ]; then
		# The project's own operator schemas, under the same naming (see deploy/verify/README.md).
		locations+=(-schema-location "$ROOT/k8s/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json")
	fi
	skip=()
	if [ ${#SKIP_KINDS[@]} -gt 0 ]; then skip=(-skip "$(IFS=,; echo "${SKIP_KINDS[*]}")"); fi
	kubeconform -strict -summary -output text "${locations[@]}" "${skip[@]}" "${files[@]}"
	# Negative control: a misspelt field, and a kind without a schema, must both fail with these locations.
	for bad in $'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: x, image: x, imagePullPolicy: Always, readOnlyRootFilesytem: true}]}}}' \
		$'apiVersion: example.com/v1\nkind: NoSuchKind\nmetadata: {name: x}'; do
		if printf '%s\n' "$bad" | kubeconform -strict "${locations[@]}" "${skip[@]}" - >/dev/null 2>&1; then
			echo "kubeconform accepted a broken manifest: the schemas are not strict" >&2
			printf '%s\n' "$bad" >&2
			exit 1
		fi
	done
	echo "negative control: a misspelt field and an unknown kind are rejected"
fi

step "semantic checks (go test ./deploy/verify/...)"
if [ "$rendered_any" = 1 ]; then export RENDERED_DIR="$OUT"; fi
log="$OUT/go-test.log"
if ! (cd deploy/verify && go test -count=1 -v ./... >"$log" 2>&1); then
	grep -v -E '^(=== (RUN|PAUSE|CONT)|\s+--- PASS)' "$log"
	echo "k8s-validate: semantic checks FAILED" >&2
	exit 1
fi
# top-level results only (each check, its skips, the package lines)
grep -E '^(--- |ok |PASS|FAIL)|: (skaffold.yaml does not|Tiltfile does not|RENDERED_DIR)' "$log"
echo
echo "k8s-validate: OK"
