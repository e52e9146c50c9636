# AgencyOS — one entry point for humans and CI. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
# uv from PATH, or the copy `make uv` pip-installs (run as a module: no PATH change needed)
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PY := .venv/bin/python
PROTO_OUT := libs/protos/src
PROTOS := $(shell find protos -name '*.proto')

.PHONY: help
help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: uv
uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
	  python3 -m pip install --quiet "uv==$(UV_VERSION)"

# Bytecode is compiled at install time: where PYTHONDONTWRITEBYTECODE is set (as on our CI
# machines) Python never caches it itself, and every process (each service, migration and
# worker a test starts) would compile every imported module again: seconds per process.
.venv/.synced: uv.lock pyproject.toml $(wildcard */pyproject.toml */*/pyproject.toml) | uv
	$(UV) sync --frozen --compile-bytecode
	@touch $@

SOURCES := libs/common/src libs/testing/src libs/protos/src gateway/src $(wildcard services/*/src)

.PHONY: install
install: .venv/.synced protos ## install Python dependencies, generate gRPC stubs, fetch htmx
	@bash deploy/local/install_htmx.sh
	@$(PY) -m compileall -q -j 0 $(SOURCES)

.PHONY: protos
protos: .venv/.synced ## generate gRPC stubs from protos/ into the agencyos-protos package
	@mkdir -p $(PROTO_OUT)/agencyos/protos
	$(PY) -m grpc_tools.protoc -Iagencyos/protos=protos/agencyos \
	  --python_out=$(PROTO_OUT) --grpc_python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) $(PROTOS)

STACK := bash deploy/local/stack.sh

.PHONY: stack-up
stack-up: .venv/.synced ## start PostgreSQL, Redis and Kafka as local processes under .run/
	$(STACK) up

.PHONY: stack-down
stack-down: ## stop the local PostgreSQL, Redis and Kafka
	$(STACK) down

.PHONY: migrate
migrate: install ## run every service's migrations (as the owner role)
	@services="$$($(PY) -m agencyos.common.services)" || exit 1; \
	for s in $$services; do $(PY) -m agencyos.$$s migrate || exit 1; done

.PHONY: dev
dev: install stack-up ## the whole platform locally: stack, migrations, services, gateway
	$(PY) deploy/local/run_services.py

.PHONY: tools
tools: ## helm, promtool and the OpenTelemetry Collector (under .run/), Chromium and chromedriver (apt) for the tests
	bash deploy/local/install_helm.sh
	bash deploy/local/install_promtool.sh
	bash deploy/local/install_otelcol.sh
	bash deploy/local/install_browser.sh

# Test workers (pytest-xdist): each runs its own platform and its own in-process databases.
TEST_WORKERS ?= 2

# Tests marked `exclusive` stop shared infrastructure (the Kafka broker): they run alone after.
.PHONY: test
test: install stack-up tools ## both tiers: in-process and the whole platform as processes
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not exclusive"
	$(PY) -m pytest -m exclusive

.PHONY: test-fast
test-fast: install stack-up ## the in-process tier alone (no test that needs the platform)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not platform"

.PHONY: lint
lint: install ## ruff check, ruff format --check, mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy libs/common/src libs/testing/src gateway/src services/*/src

.PHONY: format
format: install ## apply ruff's fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

.PHONY: bench
bench: install stack-up ## benchmarks: gateway vs service vs pgbench floor; a notification burst; SSE stream fan-out; webhook delivery (bench/results/)
	$(PY) bench/run.py
	$(PY) bench/notification_burst.py
	$(PY) bench/stream_fanout.py
	$(PY) bench/webhooks.py

.PHONY: clean
clean: ## stop the stack and delete .run/ state (downloads are kept)
	$(STACK) reset
