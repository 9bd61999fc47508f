# The README's commands. `make run` installs and starts Keyhouse; `make test` installs
# the dev tools and runs the whole suite (lint, types, unit, API, providers, browser).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
UI_OUT := src/keyhouse/ui/static/index.html
UI_SRC := $(shell find frontend/src frontend/index.html frontend/package.json frontend/vite.config.ts -type f 2>/dev/null)

AGENTS := tests/agents

.PHONY: run test install dev bytecode ui browser agents lint typecheck ui-lint ui-test pytest bench screenshots clean

run: install ui bytecode
	$(BIN)/keyhouse serve

test: dev ui browser agents lint typecheck ui-lint ui-test pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The `demo` extra is the openai SDK the README's no-account demo imports.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo,dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

# Keyhouse's bytecode, as pip writes it for a regular install: an editable one leaves it
# to the first import, which never writes it where PYTHONDONTWRITEBYTECODE is set, so
# every start compiled ~80 modules again (0.09 s of each start-up on this 2-core VM).
# compileall skips a module whose bytecode is current.
bytecode: install
	$(BIN)/python -m compileall -q src/keyhouse

dev: $(VENV)/.installed-dev

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

$(UI_OUT): frontend/node_modules/.package-lock.json $(UI_SRC)
	cd frontend && npm run build

ui: $(UI_OUT)

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads one).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Claude Code and Codex CLI at the versions pinned in tests/agents/package-lock.json, for
# tests/agents. No install scripts run: the tests start each package's native binary.
$(AGENTS)/node_modules/.package-lock.json: $(AGENTS)/package-lock.json
	cd $(AGENTS) && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

agents: $(AGENTS)/node_modules/.package-lock.json

lint: dev
	$(BIN)/ruff check src tests bench docs
	$(BIN)/ruff format --check src tests bench docs

typecheck: dev
	$(BIN)/mypy

# The web UI: ESLint, and the Vitest unit tests of its form helpers and lib/.
ui-lint: frontend/node_modules/.package-lock.json
	cd frontend && npm run --silent lint

ui-test: frontend/node_modules/.package-lock.json
	cd frontend && npm run --silent test

pytest: dev
	$(BIN)/pytest

bench: install ui bytecode
	$(BIN)/python -m bench

# docs/screenshots/*.png, from a browser script with demo data (docs/screenshots.py).
screenshots: dev ui browser
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) frontend/node_modules $(AGENTS)/node_modules src/keyhouse/ui/static .pytest_cache .mypy_cache .ruff_cache
