# Testimony Vault: the quick start is `make serve` and `make test` (see README.md).
#
# Setup bootstraps exactly one tool, uv, from a hash-pinned requirements file into
# .tools/, then installs everything else from uv.lock (hash-pinned) into .venv/, and
# builds the source page (web/: npm ci from package-lock.json, then esbuild) into
# web/dist/. Every step is idempotent: when already set up they cost well under a second.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
BIN := .venv/bin
PAGE := web/dist/page.html
NODE_STAMP := web/node_modules/.package-lock.json
# Extra arguments: `make serve ARGS="--port 9000"`, `make test ARGS="-k health"`.
ARGS ?=

# Use the machine's own Python (3.11+); never download an interpreter.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system

.PHONY: help setup serve test stress lint format clean

help:
	@echo "make serve   set up, then run the server on its embedded SQLite default"
	@echo "make test    set up, then run lint, types, layering and the whole test suite"
	@echo "make stress  set up, then run the full crash, backup, scale-out, fuzz and abuse tests"
	@echo "make lint    ruff check, ruff format --check, mypy --strict"
	@echo "make format  apply ruff's fixes and formatting"
	@echo "make clean   remove .tools/, .venv/ and the built page (web/node_modules, web/dist)"

# A venv without pip works even where Debian's python3-venv (ensurepip) is absent;
# the machine's pip installs into it through --python.
$(UV): requirements-tools.txt
	rm -rf $(TOOLS)
	$(PYTHON) -m venv --without-pip $(TOOLS)
	$(PYTHON) -m pip --python $(TOOLS)/bin/python install --quiet --disable-pip-version-check \
		--root-user-action=ignore --no-deps --require-hashes -r requirements-tools.txt
	touch $@

setup: $(UV) $(PAGE)
	$(UV) sync --locked --quiet

# The page's packages, from the lock file only; npm writes the stamp when it is done.
$(NODE_STAMP): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "make setup: the source page needs Node.js 20+ and npm" >&2; exit 1; }
	npm ci --prefix web --no-audit --no-fund --loglevel=error </dev/null
	touch $@

$(PAGE): $(NODE_STAMP) web/build.mjs $(wildcard web/src/*)
	node web/build.mjs

serve: setup
	$(BIN)/tvault serve $(ARGS)

# Each check runs even when an earlier one fails, so one run reports everything.
lint: setup
	status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

# Lint and tests both run even when one fails, so one run reports everything;
# the target fails if either did. Pytest's exit 5 (no tests collected) is a failure.
test: setup
	status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(BIN)/pytest $(ARGS) || status=$$?; \
	exit $$status

# The full stress tests (docs/stress.md, docs/abuse.md): more sources, more SIGKILLs, more
# scale-out load, 200 fuzz examples per operation. `make test` runs the same tests short.
stress: setup
	TVAULT_STRESS=full TVAULT_FUZZ_EXAMPLES=200 $(BIN)/pytest -n 2 --timeout 3600 \
		tests/stress tests/scale tests/fuzz tests/abuse $(ARGS)

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(TOOLS) .venv web/node_modules web/dist
