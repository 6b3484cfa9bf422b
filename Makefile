# SimpleMessenger. `make up` runs the messenger locally, `make down` stops it, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# Every go command runs Go 1.26.11 (downloaded once from the Go module proxy as golang.org/toolchain when the local
# Go is another version): it fixes standard-library vulnerabilities that make vulncheck finds reachable in 1.26.8.
# The machine's Go sets GOTOOLCHAIN=local, which ignores go.work's toolchain line, hence the explicit pin here (and
# in .ci/run and scripts/lib/go.sh, which the scripts that run go on their own source). Raise it together with
# build/Dockerfile's GO_VERSION.
export GOTOOLCHAIN := go1.26.11

# Every module of the workspace (go.work), as package patterns.
MODULES  := $(shell go list -m -f '{{.Dir}}' 2>/dev/null)
PACKAGES := $(addsuffix /...,$(MODULES))
GO_TEST_FLAGS ?= -count=1 -timeout 15m
# Packages with tests that stop and start the local RabbitMQ (they skip unless MESSENGER_BROKER_FAULTS=1).
FAULT_PACKAGES := $(sort $(dir $(shell grep -rl --include='*_test.go' MESSENGER_BROKER_FAULTS pkg services e2e 2>/dev/null)))

.PHONY: help up down build test test-unit test-faults test-rules vet deps conformance observe observe-down lint vulncheck fuzz

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

up: ## build, start MariaDB/RabbitMQ if needed, run all services in the background, wait until ready
	@bash scripts/up.sh

down: ## stop the services started by make up (nothing else)
	@bash scripts/down.sh

build: ## build every service binary into bin/
	@for s in $$(ls services); do go build -o bin/$$s ./services/$$s || exit 1; done

deps: ## make sure MariaDB and RabbitMQ are reachable (install/start local ones if needed)
	@bash scripts/deps.sh

vet: ## go vet and gofmt check over every module
	@go vet $(PACKAGES)
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# make test and make test-browser need Chromium for the web client's browser test: deps installs it for them.
test test-browser: export DEPS_BROWSER := 1

test: deps vet lint vulncheck test-rules test-k8s test-unit test-faults ## every test: staticcheck, govulncheck, unit, repository, component, end-to-end, security, fault, rule and Kubernetes-manifest tests

test-unit: ## all tests that can run in parallel (real MariaDB and RabbitMQ, each test isolated)
	go test $(GO_TEST_FLAGS) $(PACKAGES)

lint: ## staticcheck over every module (installs the pinned staticcheck into .tools/bin from the Go module proxy)
	@bash scripts/lint.sh

vulncheck: ## govulncheck over every module, offline: fails on a reachable vulnerability (DB built from golang.org/x/vulndb into .tools/vulndb)
	@bash scripts/vulncheck.sh

fuzz: ## run every Go fuzz target for FUZZTIME each (default 3s; FUZZ=regexp selects targets)
	@bash scripts/fuzz.sh

test-rules: ## promtool: check the Prometheus config and rules, run the rules' unit tests (installs promtool if missing)
	@bash scripts/test-rules.sh

test-faults: ## tests that restart the local RabbitMQ: run alone, after the others
	MESSENGER_BROKER_FAULTS=1 go test $(GO_TEST_FLAGS) -p 1 -run 'Fault' $(addprefix ./,$(FAULT_PACKAGES))

CHAOS_LONG ?= 0
.PHONY: chaos
chaos: ## fault injection under a steady chat load (RabbitMQ/MariaDB stopped, each service SIGKILLed, slow/silent/cut links via toxiproxy, combinations): stops shared servers; CHAOS_LONG=1 long form, CHAOS_FAULTS=regexp; prints a table (docs/faults.md)
	MESSENGER_BROKER_FAULTS=1 CHAOS_LONG=$(CHAOS_LONG) go test $(GO_TEST_FLAGS) -v -run 'TestFaultChaos' ./e2e/

SOAK_DURATION ?= 5m
SOAK_TIMEOUT ?= 30m
.PHONY: soak
soak: ## steady chat load for SOAK_DURATION (default 5m; SOAK_RATE msg/s, default 50), then every service's goroutines, fds, live heap, MySQL/AMQP connections must return to their baseline; prints a table
	SOAK_DURATION=$(SOAK_DURATION) go test -count=1 -timeout $(SOAK_TIMEOUT) -v -run 'TestSoak' ./e2e/

BENCH_FLAGS ?=
.PHONY: bench
bench: ## benchmark (issue #7) on its own stack: send throughput, push latency, history, entering, DB floor, memory, growth to 10M rows; table + JSON in .bench/ (BENCH_FLAGS, e.g. -duration 3s -growth 10k,100k -only throughput)
	go run ./bench $(BENCH_FLAGS)

.PHONY: test-browser
test-browser: deps ## the web client in two headless Chromium browsers (chromedp) against its own stack; also part of test-unit
	go test $(GO_TEST_FLAGS) -v -run 'TestBrowser' ./e2e/

.PHONY: security
security: ## security tests: object-level authorization, forged tokens, rate limits, hostile input, secrets in logs (own stack, ~20 s)
	go test $(GO_TEST_FLAGS) -run 'TestSecurity' ./e2e/

# --- the command-line client (clients/msgr; README "Command-line client (msgr)") ---
# Its tests are part of test-unit (every module of go.work): unit tests, and the real binary against a stack of
# its own started by the end-to-end harness (own databases and exchange), so they run in parallel with the rest.
.PHONY: msgr test-msgr demo
msgr: ## build the command-line client into bin/msgr
	go build -o bin/msgr ./clients/msgr/cmd/msgr

test-msgr: ## the msgr tests alone (unit, and the binary against its own stack); also part of test-unit
	go test $(GO_TEST_FLAGS) ./clients/msgr/...

demo: ## after make up: a scripted two-user conversation with msgr (new users every run) showing the login push
	@bash scripts/demo.sh

observe: ## run Prometheus on 127.0.0.1:9090 scraping the local services, with the alerting rules (make up first)
	@bash scripts/observe.sh

observe-down: ## stop the Prometheus that make observe started (nothing else)
	@bash scripts/observe-down.sh

conformance: ## the outside contract check in ../shared/conformance against a running stack (make up first)
	cd ../shared/conformance && go run . $(if $(RUN),-run '$(RUN)')

.PHONY: charts
charts: ## Helm: lint --strict every chart, render the umbrella for each environment into .run/charts/ (offline)
	@bash scripts/k8s-charts.sh lint
	@bash scripts/k8s-render.sh $(or $(CHARTS_OUT),.run/charts)

# --- Kubernetes infrastructure (k8s/) and the dev loop (skaffold.yaml, Tiltfile); README "Run on Kubernetes" ---
.PHONY: k8s-generate k8s-generated-check k8s-kustomize kind-up kind-down minikube-up minikube-down dev
DEV_PROFILE ?= kind

k8s-generate: ## regenerate k8s/components/monitoring (PrometheusRules, dashboard ConfigMaps) from observability/
	@bash scripts/gen-k8s-observability.sh

k8s-generated-check: ## fail when k8s/components/monitoring is stale against observability/ (offline)
	@bash scripts/gen-k8s-observability.sh --check

k8s-kustomize: k8s-generated-check ## render every k8s/overlays/* into .run/k8s/<overlay>.yaml (offline)
	@bash scripts/k8s-kustomize.sh $(or $(K8S_OUT),.run/k8s)

kind-up: ## kind cluster (k8s/kind/cluster.yaml) + operators + k8s/overlays/kind (needs docker, kind, kubectl, helm, internet)
	@bash scripts/dev-cluster-up.sh kind

kind-down: ## delete the kind cluster "messenger" (and everything in it)
	kind delete cluster --name messenger

minikube-up: ## minikube profile "messenger" + operators + k8s/overlays/minikube (needs minikube, kubectl, helm, internet)
	@bash scripts/dev-cluster-up.sh minikube

minikube-down: ## delete the minikube profile "messenger"
	minikube delete -p messenger

dev: ## skaffold dev on the cluster of make kind-up: build, deploy charts/messenger, rebuild on change (DEV_PROFILE=minikube)
	skaffold dev -p $(DEV_PROFILE) -m services

.PHONY: test-k8s
test-k8s: ## offline proof of the Kubernetes delivery: helm lint, kubeconform -strict, semantic Go checks (installs tools into .tools)
	@bash scripts/k8s-validate.sh

.PHONY: k8s-verify
k8s-verify: ## apply everything rendered to a real kube-apiserver+etcd on loopback (server-side dry run, strict fields); builds them into .tools/bin first (~4 min cold)
	@bash scripts/k8s-verify.sh

# --- the local Kubernetes cluster (scripts/cluster.sh; README "Run on Kubernetes") ---
.PHONY: cluster-up cluster-down cluster-status cluster-deploy test-cluster images cluster-operations test-operations
cluster-up: ## a real single-node Kubernetes cluster on this machine (built from source, containerd, CNI bridge, CoreDNS, registry on 127.0.0.1:5000); kubeconfig .run/cluster/admin.kubeconfig
	@bash scripts/cluster.sh up

cluster-down: ## stop exactly what cluster-up started and remove what pods leave behind (mounts, links, iptables chains, cgroups)
	@bash scripts/cluster.sh down

cluster-status: ## what of the local cluster runs
	@bash scripts/cluster.sh status

images: ## build the five images (no Docker daemon, no base pulled) and push them by digest to REGISTRY (default 127.0.0.1:5000)
	@bash scripts/images.sh

cluster-deploy: ## cluster-up, images, helm install of charts/messenger (values-local.yaml) and helm test; prints the gateway URL last
	@bash scripts/cluster-deploy.sh

test-cluster: ## the whole proof on the local cluster: deploy, e2e + conformance through the NodePort, upgrade and pod kills under load, clean uninstall and cluster-down
	@bash scripts/test-cluster.sh

cluster-operations: ## on the local cluster: metrics-server, the Prometheus Operator with a Prometheus, Jaeger (built from their modules); then `skaffold run -p local,operations`
	@bash scripts/cluster-operations.sh install

test-operations: ## an operator's day on the local cluster: skaffold run/dev/delete, targets, rules, series, trace, autoscaling, alert; one line per proof
	@bash scripts/test-operations.sh
