# Azora developer entry points. `make` alone lists them.
#
# Every recipe honours the environment: DATABASE_URL / REDIS_URL / KAFKA_BROKERS and the rest
# (see scripts/run.sh); TEST_DATABASE_URL / TEST_REDIS_URL for the Go tests default to the
# servers scripts/deps.sh finds or starts.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PKGS               ?= ./...
TEST_TIMEOUT       ?= 10m
BENCHTIME          ?= 1s
BENCH              ?= .
STATICCHECK_VERSION ?= v0.8.2
BIN                := bin
CMDS               := ./auth/cmd/auth ./education/cmd/education ./finance/cmd/finance \
                      ./gateway/cmd/gateway ./scripts/devkafka

# WITH_DEPS, a recipe's first commands (after set -euo pipefail): find or start Postgres and
# Redis (scripts/deps.sh), stop on exit the ones it started, and point the Go tests at them.
# TEST_PROLOGUE also checks for the programs the tests run (scripts/deps.sh tools).
WITH_DEPS = deps_env=$$(scripts/deps.sh); eval "$$deps_env"; \
	trap 'if [ -n "$$AZORA_DEPS_STARTED" ]; then scripts/deps.sh stop $$AZORA_DEPS_STARTED; fi' EXIT; \
	export TEST_DATABASE_URL="$${TEST_DATABASE_URL:-$$DATABASE_URL}" TEST_REDIS_URL="$${TEST_REDIS_URL:-$$REDIS_URL}"
TEST_PROLOGUE = set -euo pipefail; scripts/deps.sh tools; $(WITH_DEPS)

.PHONY: help build run test test-go e2e helm-check smoke lint bench bench-go bench-gateway deps deps-stop nginx-check clean

help: ## list the targets
	@echo "Azora — make targets:"
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## (.*)/  \1\t\2/' | expand -t 16

build: ## compile the four services and the dev Kafka broker into bin/
	go build -o $(BIN)/ $(CMDS)

run: ## start everything (deps, Kafka, services, NGINX) in the foreground; Ctrl-C stops it
	scripts/run.sh

# The test recipe checks for the programs the tests run (installing the missing ones as root on
# Debian/Ubuntu: scripts/deps.sh tools), finds or starts Postgres and Redis once, points the Go
# tests at them, runs the race-enabled suite, then the end-to-end smoke test, and stops any
# server it started.
test: ## deps check, go test -race over every package, then scripts/smoke.sh
	@$(TEST_PROLOGUE); \
	echo "go test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)"; \
	go test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS); \
	(cd deploy/helm/chartcheck && go test -count=1 ./...); \
	scripts/smoke.sh

test-go: ## only the Go tests (go test -race), against the servers deps.sh finds or starts
	@$(TEST_PROLOGUE); \
	go test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

# The journey and the fault runs (scripts/e2e) start the whole platform as real processes —
# the services built from this checkout, two gateway replicas behind NGINX with TLS, a Redis and
# a dev Kafka broker of their own — on throwaway databases. `make test` runs them too.
e2e: ## the user journey through NGINX over HTTPS, and the fault runs (kill finance, stop Redis, stop Kafka)
	@$(TEST_PROLOGUE); \
	go test -race -count=1 -timeout $(TEST_TIMEOUT) -v ./scripts/e2e/

# The chart checks live in their own Go module so Kubernetes' dependencies never reach the
# services' binaries; the first run compiles client-go and helm (minutes), later runs seconds.
helm-check: ## helm lint --strict, render dev/staging/prod, strictly decode every object, refuse bad values
	cd deploy/helm/chartcheck && go test -count=1 ./...

smoke: ## only the end-to-end check: make run starts, every /readyz is 200, NGINX works, all stops
	scripts/smoke.sh

lint: ## gofmt, go vet, staticcheck (and shellcheck on scripts/ when installed)
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.run/*' -not -path './bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt -l lists files to format:"; echo "$$out"; exit 1; fi; echo "gofmt: clean"
	go vet $(PKGS)
	cd deploy/helm/chartcheck && go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	@if command -v shellcheck >/dev/null; then shellcheck -x scripts/*.sh .ci/run && echo "shellcheck: clean"; \
	else echo "shellcheck not installed; scripts not linted"; fi

bench: ## one table: gateway vs NGINX vs direct, transfers vs pgbench, logins/s, event latency, RSS
	scripts/bench.sh

# Benchmarks need the same servers as the tests; only packages that define a Benchmark run.
bench-go: ## go test -bench on the packages that have benchmarks (BENCH, BENCHTIME to narrow)
	@set -euo pipefail; \
	pkgs=$$(grep -rl --include='*_test.go' -E '^func Benchmark' . | grep -v '^./.run/' | xargs -r -n1 dirname | sort -u); \
	if [ -z "$$pkgs" ]; then echo "no benchmarks yet"; exit 0; fi; \
	$(WITH_DEPS); \
	echo "go test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME)" $$pkgs; \
	go test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) $$pkgs

bench-gateway: ## wrk: a trivial upstream direct, through NGINX, through the gateway (JWT + rate limit)
	scripts/bench-gateway.sh

deps: ## find or start Postgres and Redis; prints export lines: eval "$(make -s deps)"
	@scripts/deps.sh

deps-stop: ## stop the Postgres/Redis that scripts/deps.sh started under .run/
	@scripts/deps.sh stop

nginx-check: ## render deploy/nginx/nginx.conf and validate it with nginx -t
	@scripts/nginx.sh check

clean: ## stop local deps started under .run/, remove bin/ and .run/ (local data included)
	@scripts/deps.sh stop
	rm -rf $(BIN) .run
