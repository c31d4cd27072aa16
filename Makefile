# The front door. Every target bootstraps what it needs (.venv, Go modules, npm packages).
# Configuration lives in pyproject.toml; this file only names the steps.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: all venv proto lint typecheck interop shipping browser test example demo package dist bench docs snapshots reference clean

# The build machine's platform, as Plutono names executables (linux_amd64, darwin_arm64).
HOST_PLATFORM := $(shell uname -s | tr A-Z a-z)_$(shell uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')

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
	$(BIN)/mypy examples/sql

# The real peers of the interop tests: Go programs (modules from the Go module proxy),
# apache-arrow 0.16.0 and the frontend packages (React, @grafana/* 7.5.17, SystemJS) from
# npm. Built here, outside pytest's per-test timeout (a cold Go build takes minutes); the
# tests use a binary as long as it is newer than its sources, and the suite builds what is
# missing before its first test (tests/_prebuilt.py). Without Go or npm the tests
# skip, and CI (PLUTONO_PLUGIN_STRICT=1) fails them.
GO_PROGRAMS := host goref framecheck goencode
NODE_PACKAGES := arrowjs frontend
interop:
	@if command -v go >/dev/null 2>&1; then \
	    for program in $(GO_PROGRAMS); do \
	        (cd tests/interop/$$program && go build -o ../bin/$$program .) || exit 1; \
	    done; \
	else echo "go not found: the interop tests will skip (and fail in CI)"; fi
	@if command -v npm >/dev/null 2>&1; then \
	    for package in $(NODE_PACKAGES); do \
	        test -d tests/interop/$$package/node_modules || \
	        (cd tests/interop/$$package && npm ci --no-audit --no-fund --silent) || exit 1; \
	    done; \
	else echo "npm not found: the arrow-js and frontend tests will skip (and fail in CI)"; fi

# What the shipped-plugin tests need beyond the venv, prepared outside pytest's per-test
# timeout: a system python3 without any of the dependencies (Debian's, through apt when
# missing) and the wheel cache, filled by one build for every platform (seconds once cached;
# the first time it downloads the wheels of six targets). The plugins the tests use are built
# by the suite itself before its first test, with their own budget (tests/_prebuilt.py).
shipping: $(STAMP)
	@test -x /usr/bin/python3 || { command -v apt-get >/dev/null 2>&1 && \
	    apt-get update -qq && apt-get install -y -qq python3 >/dev/null; } || \
	    echo "no /usr/bin/python3: the shipped-plugin tests will skip (and fail in CI)"
	$(BIN)/plutono-plugin build examples/quickstart --out build/plugins/quickstart-all >/dev/null

# What the real-browser tests (tests/browser) need, prepared outside pytest's per-test timeout:
# Debian's Chromium and the Roboto font Plutono's theme names (through apt when missing, like
# python3 above), the npm packages of tests/browser (React, the 7.5.17 @grafana packages,
# AngularJS, esbuild...) and their browser bundle (tests/browser/build, a few seconds).
browser:
	@{ test -x /usr/bin/chromium && fc-list 2>/dev/null | grep -qi roboto; } || { \
	    command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-roboto-unhinted \
	    >/dev/null; } || echo "no chromium: the browser tests will skip (and fail in CI)"
	@if command -v npm >/dev/null 2>&1; then \
	    test -d tests/browser/node_modules || \
	    (cd tests/browser && npm ci --no-audit --no-fund --silent) || exit 1; \
	    (cd tests/browser && node build.mjs) || exit 1; \
	else echo "npm not found: the browser tests will skip (and fail in CI)"; fi

test: $(STAMP) interop shipping browser
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest ran no tests: failing" >&2; exit 1; fi; exit $$rc

# `make demo EXAMPLE=sql` runs the SQL example instead (any folder under examples/). The demo
# builds for this machine only, so it stays fast; `make package` ships every platform.
EXAMPLE ?= quickstart

example: $(STAMP)
	$(BIN)/plutono-plugin build examples/$(EXAMPLE) --out build/plugins/$(EXAMPLE) \
	    --platform $(HOST_PLATFORM)

demo: example
	$(BIN)/plutono-plugin host build/plugins/$(EXAMPLE) demo

package: $(STAMP)
	$(BIN)/plutono-plugin build examples/quickstart --out build/plugins/quickstart-all
	$(BIN)/plutono-plugin package build/plugins/quickstart-all --out build/dist

# The framework itself as an sdist and a wheel (dist/), to `pip install` into a plugin's own
# project until it is on a package index (README "Writing your own plugin").
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist . >/dev/null
	@ls dist

bench: $(STAMP) interop
	$(BIN)/python -m tests.bench

# Regenerate the committed module.js snapshots (tests/frontend/snapshots) after a change to the
# generator or to the quickstart's declarations; tests/frontend/test_snapshot.py checks drift.
snapshots: $(STAMP)
	$(BIN)/python -m tests.frontend.snapshot

# Rewrite docs/reference.md from the docstrings; tests/test_reference.py checks it is current.
reference: $(STAMP)
	$(BIN)/python -m tests.reference

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache tests/interop/bin tests/browser/build
