# Two commands set everything up on a fresh machine: `make serve` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
ARCHIVE := $(VENV)/bin/archive
HOST ?= 127.0.0.1
PORT ?= 8000
INDEX_DIR ?= index
STAMP := $(VENV)/.installed
DEBIAN_PACKAGES := chromium postgresql
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install system-packages serve test test-postgres lint format docs screenshots bench clean

# Idempotent: re-runs pip only when pyproject.toml changed.
install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -e ".[test,cluster]"
	touch $(STAMP)

# Debian packages the tests need: headless Chromium (browser tests), PostgreSQL (the second pass).
system-packages:
	@if ! command -v chromium >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; \
	fi

serve: install
	ARCHIVE_INDEX_DIR=$(INDEX_DIR) $(ARCHIVE) seed seeds/
	ARCHIVE_INDEX_DIR=$(INDEX_DIR) $(ARCHIVE) serve --host $(HOST) --port $(PORT)

# Lint, format and type checks first (seconds to a minute), then the whole suite on SQLite, then
# again on a throwaway PostgreSQL server that tests/pg_cluster.sh starts and removes (tests that
# never open a database, and the browser tests, run on the SQLite pass only).
test: install system-packages lint
	$(PY) -m pytest -q
	tests/pg_cluster.sh $(PY) -m pytest -q -m "not browser"

# Only the PostgreSQL pass.
test-postgres: install system-packages
	tests/pg_cluster.sh $(PY) -m pytest -q -m "not browser"

lint: install
	$(VENV)/bin/ruff check archive bench tests
	$(VENV)/bin/ruff format --check archive bench tests
	$(VENV)/bin/mypy

# Apply ruff's fixes and formatting.
format: install
	$(VENV)/bin/ruff check --fix archive bench tests
	$(VENV)/bin/ruff format archive bench tests

# Regenerate the README's command and settings tables from the code (tests/test_docs.py checks them).
docs: install
	$(PY) -m tests.readme_tables

# Refresh the README's screenshots: the browser tests write them to build/screenshots (git-ignored).
screenshots: install system-packages
	ARCHIVE_SCREENSHOTS_DIR=build/screenshots $(PY) -m pytest -q tests/test_browser.py tests/test_browser_desk.py
	cp build/screenshots/search.png build/screenshots/article.png build/screenshots/saved.png \
	   build/screenshots/batch.png docs/screenshots/

# One table, each figure beside its same-run reference (docs/performance.md); JSON in bench/results/.
# More: make bench BENCH_ARGS="--ndcg --ann"  (or --all; see .venv/bin/python -m bench.run --help)
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
