# huying — the front door. Every target works from a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

export HUYING_DATA_DIR ?= ./var

.PHONY: run test postgresql lint format bench migrate seed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: install, migrate, seed the Liwan demo district, print demo tokens, serve on :8000
run: $(STAMP)
	HUYING_DEMO=1 $(BIN)/huying migrate
	HUYING_DEMO=1 $(BIN)/huying seed --demo
	@echo "---- demo tokens ($(HUYING_DATA_DIR)/demo-tokens.txt) ----"
	@cat $(HUYING_DATA_DIR)/demo-tokens.txt
	@echo "---- serving on http://127.0.0.1:8000 (OpenAPI at /docs) ----"
	HUYING_DEMO=1 HUYING_FAKE_CLOCK=$${HUYING_FAKE_CLOCK:-0} $(BIN)/huying serve

## test: install with dev dependencies (and PostgreSQL when missing); every test, the integration
## and e2e ones on SQLite and on a throwaway PostgreSQL cluster the session starts itself
test: $(STAMP) postgresql
	$(BIN)/pytest -v

# Debian's postgresql package (initdb, postgres) for the test session's own cluster.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
postgresql:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing PostgreSQL (Debian's postgresql package) for the tests"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y postgresql; }

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check src tests migrations
	$(BIN)/ruff format --check src tests migrations
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests migrations
	$(BIN)/ruff check --fix src tests migrations

## bench: rebuild benchmark (P3 in targets.md): prints a table and writes bench/results.json
bench: $(STAMP)
	$(BIN)/python -m bench.rebuild --out bench/results.json
	$(BIN)/python -m bench.audit --out bench/audit-results.json

migrate: $(STAMP)
	$(BIN)/huying migrate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
