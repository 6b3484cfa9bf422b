# SimpleMessenger. `make up` runs the messenger locally, `make down` stops it, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Every module of the workspace (go.work), as package patterns.
MODULES  := $(shell go list -m -f '{{.Dir}}' 2>/dev/null)
PACKAGES := $(addsuffix /...,$(MODULES))
GO_TEST_FLAGS ?= -count=1 -timeout 15m
# Packages with tests that stop and start the local RabbitMQ (they skip unless MESSENGER_BROKER_FAULTS=1).
FAULT_PACKAGES := $(sort $(dir $(shell grep -rl --include='*_test.go' MESSENGER_BROKER_FAULTS pkg services e2e 2>/dev/null)))

.PHONY: help up down build test test-unit test-faults test-rules vet fmt deps conformance observe observe-down

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

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

test: deps vet test-rules test-unit test-faults ## every test: unit, repository, component, end-to-end, broker-fault and rule tests

test-unit: ## all tests that can run in parallel (real MariaDB and RabbitMQ, each test isolated)
	go test $(GO_TEST_FLAGS) $(PACKAGES)

test-rules: ## promtool: check the Prometheus config and rules, run the rules' unit tests (installs promtool if missing)
	@bash scripts/test-rules.sh

test-faults: ## tests that restart the local RabbitMQ: run alone, after the others
	MESSENGER_BROKER_FAULTS=1 go test $(GO_TEST_FLAGS) -p 1 -run 'Fault' $(addprefix ./,$(FAULT_PACKAGES))

observe: ## run Prometheus on 127.0.0.1:9090 scraping the local services, with the alerting rules (make up first)
	@bash scripts/observe.sh

observe-down: ## stop the Prometheus that make observe started (nothing else)
	@bash scripts/observe-down.sh

conformance: ## the outside contract check in ../shared/conformance against a running stack (make up first)
	cd ../shared/conformance && go run . $(if $(RUN),-run '$(RUN)')
