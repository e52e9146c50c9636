# AgencyOS — one entry point for humans and CI. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null)
PY := .venv/bin/python
PROTO_OUT := libs/protos/src
PROTOS := $(shell find protos -name '*.proto')

.PHONY: help
help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: uv
uv:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: uv.lock pyproject.toml $(wildcard */pyproject.toml */*/pyproject.toml) | uv
	uv sync --frozen
	@touch $@

.PHONY: install
install: .venv/.synced protos ## install Python dependencies and generate gRPC stubs

.PHONY: protos
protos: .venv/.synced ## generate gRPC stubs from protos/ into the agencyos-protos package
	@mkdir -p $(PROTO_OUT)/agencyos/protos
	$(PY) -m grpc_tools.protoc -Iagencyos/protos=protos/agencyos \
	  --python_out=$(PROTO_OUT) --grpc_python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) $(PROTOS)
