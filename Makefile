# huying — the front door. Every target works from a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
AXE    := tests/browser/node_modules/axe-core/axe.min.js

export HUYING_DATA_DIR ?= ./var

.PHONY: run test compiled postgresql chromium lint format bench bench-quick bench-audit wrk migrate seed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# huying's own modules compiled to bytecode: where the environment sets PYTHONDONTWRITEBYTECODE
# (this machine's does), every `huying` process — each server a test starts, each uvicorn worker — compiled
# them again, ~1.1 s of the ~4.5 s it took to import the app on the 2-core machine.
compiled: $(STAMP)
	@$(BIN)/python -m compileall -q src

# Where `huying serve` will listen, read from the same settings it reads (HUYING_HOST, HUYING_PORT).
SERVE_URL = $(BIN)/python -c 'from huying.settings import Settings; s = Settings(); print(f"http://{s.host}:{s.port}")'

## run: install, migrate, seed the Liwan demo district, print demo tokens, serve on
##      HUYING_HOST:HUYING_PORT (default 127.0.0.1:8000)
run: $(STAMP) compiled
	HUYING_DEMO=1 $(BIN)/huying migrate
	HUYING_DEMO=1 $(BIN)/huying seed --demo
	@echo "---- demo tokens ($(HUYING_DATA_DIR)/demo-tokens.txt) ----"
	@cat $(HUYING_DATA_DIR)/demo-tokens.txt
	@echo "---- serving on $$($(SERVE_URL)) (OpenAPI at /docs) ----"
	HUYING_DEMO=1 HUYING_FAKE_CLOCK=$${HUYING_FAKE_CLOCK:-0} $(BIN)/huying serve

# TEST_WORKERS: pytest-xdist processes (one per core by default); a file's tests share one, so a
# module's server or browser starts once.
TEST_WORKERS ?= auto

## test: install with dev dependencies (and PostgreSQL and Chromium when missing); every test, the
## integration and e2e ones on SQLite and on a throwaway PostgreSQL cluster the session starts itself,
## the console's browser tests in Debian's Chromium
test: $(STAMP) compiled postgresql chromium $(AXE)
	$(BIN)/pytest -v -n $(TEST_WORKERS) --dist loadfile --durations=25

# Debian's postgresql package (initdb, postgres) for the test session's own cluster.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
postgresql:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing PostgreSQL (Debian's postgresql package) for the tests"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y postgresql; }

# The console's browser tests drive Debian's Chromium (Playwright's own browser download does not
# work here) and check every page with axe-core, from the npm registry at install time.
# Chinese fonts, so that its screenshots show the pages as people read them.
chromium:
	@command -v chromium >/dev/null && [ -d /usr/share/fonts/opentype/noto ] || { \
	  echo "installing Chromium and CJK fonts (Debian's chromium, fonts-noto-cjk) for the browser tests"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium fonts-noto-cjk; }

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund
	touch $(AXE)

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/ruff format --check src tests migrations bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests migrations bench
	$(BIN)/ruff check --fix src tests migrations bench

## bench: P1–P7 of targets.md, each against its baseline in one run (1,000,000 stored calls: the
## synthetic district is made once and cached under var/bench-stores); table + bench/results.json.
## On SQLite, then on PostgreSQL: the benchmarks' own durable cluster under var/bench-stores, or
## the server HUYING_DATABASE_URL=postgresql://… names. Run it on an idle machine.
bench: $(STAMP) wrk postgresql
	$(BIN)/python -m bench.run --out bench/results.json

## bench-quick: the same in a few minutes (10,000 stored calls, 10 s loads)
bench-quick: $(STAMP) wrk postgresql
	$(BIN)/python -m bench.run --quick --out bench/results.json

## bench-audit: verify / export / hash-chain rates against reading the log (bench/audit-results.json)
bench-audit: $(STAMP)
	$(BIN)/python -m bench.audit --out bench/audit-results.json

# P1's load generator, from Debian's packages.
wrk:
	@command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)

migrate: $(STAMP)
	$(BIN)/huying migrate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/browser/node_modules tests/browser/artifacts
