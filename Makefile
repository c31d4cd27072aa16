# The front door. Every target bootstraps what it needs (.venv, Go modules, npm packages).
# Configuration lives in pyproject.toml; this file only names the steps.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: all venv proto proto-check lint typecheck test example demo bench docs clean

all: lint typecheck test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Regenerate plutono_plugin/_proto from protos/ (never edit the output by hand).
proto: $(STAMP)
	rm -rf plutono_plugin/_proto
	mkdir -p plutono_plugin/_proto
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grpc_tools.protoc -I protos \
	    --python_betterproto2_out=plutono_plugin/_proto \
	    --python_betterproto2_opt=client_generation=async,server_generation=async \
	    protos/backend.proto protos/go_plugin.proto protos/health.proto >/dev/null

lint: $(STAMP)
	$(BIN)/ruff check plutono_plugin tests examples
	$(BIN)/ruff format --check plutono_plugin tests examples

typecheck: $(STAMP)
	$(BIN)/mypy

# Tests build the Go interop programs and install the npm packages they need themselves
# (tests/interop/README.md). CI sets PLUTONO_PLUGIN_STRICT=1 so that a skip is a failure.
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest ran no tests: failing" >&2; exit 1; fi; exit $$rc

example: $(STAMP)
	$(BIN)/plutono-plugin build examples/quickstart --out build/plugins/quickstart

demo: example
	$(BIN)/plutono-plugin host build/plugins/quickstart demo

bench: $(STAMP)
	$(BIN)/python -m tests.bench

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache tests/interop/bin
