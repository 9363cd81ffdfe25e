# The two commands a newcomer needs: `make dev` (the whole local stack) and
# `make test` (everything CI runs). Both create .venv and install what is missing.
# `make unit` runs the fast layer alone: the tests that need no emulator, browser or Node.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: dev test unit lint typecheck pytest bench dev-deps test-deps bench-deps debian-packages venv clean format node-tools

dev: venv dev-deps
	$(BIN)/python -m devstack.run

test: venv test-deps lint typecheck pytest

unit: venv
	$(BIN)/pytest -m unit -q

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Debian packages, installed when missing (CI runs as root): `make dev` needs Java (the
# Firestore emulator) and Node.js (the Apps Script CRM's stand-in runs the real Code.gs);
# `make test` also needs Chromium and npm (the browser tests, and axe-core from the npm
# registry) and shellcheck (deploy.sh's lint);
# `make bench`, Chromium (the proof of work in a throttled browser).
DEV_PACKAGES := java:default-jre-headless node:nodejs
TEST_PACKAGES := $(DEV_PACKAGES) npm:npm chromium:chromium shellcheck:shellcheck
BENCH_PACKAGES := $(DEV_PACKAGES) chromium:chromium

dev-deps:
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(DEV_PACKAGES)"

test-deps:
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(TEST_PACKAGES)"
	@$(MAKE) --no-print-directory node-tools

# The browser tests' tools from the npm registry (axe-core), as package-lock.json pins
# them: `npm ci` checks each against its integrity hash.
NODE_STAMP := node_modules/.installed

node-tools: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

bench-deps:
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(BENCH_PACKAGES)"

# PACKAGES: command:package pairs; a package is installed when its command is missing.
debian-packages:
	@missing=""; \
	for pair in $(PACKAGES); do \
		command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v gcloud >/dev/null 2>&1 || { echo "The Google Cloud CLI (gcloud) is required: see README.md, Prerequisites." >&2; exit 1; }

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	shellcheck deploy.sh .ci/run

typecheck: venv
	$(BIN)/mypy
	for entry in functions/*/main.py; do $(BIN)/mypy "$$entry" || exit 1; done

# Up to four workers (pytest-xdist; two on a two-core machine), each a test file at a time
# with its own emulator and stand-ins: the suite waits on the emulator, Chromium and the
# functions' subprocesses more than on the CPU.
pytest: venv
	$(BIN)/pytest -n auto --maxprocesses=4 --dist loadfile --durations=15

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv bench-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .local .pytest_cache .mypy_cache .ruff_cache
