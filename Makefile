# Two set-up commands: `make run` and `make test`. Both create .venv when it is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TEST_POSTGRES_DSN ?= postgresql://postgres@127.0.0.1:5432/test

# Find a Python 3.12+: PYTHON=... wins; else python3.13, python3.12, python3 on PATH (each
# must actually run: a pyenv shim for a version that is not selected exits non-zero); else the
# newest 3.12+ under pyenv's versions directory.
PYTHON ?= $(shell ./scripts/find-python)

.PHONY: help venv run test lint format typecheck imports pytest bench clean lock

help: ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@if [ -z "$(PYTHON)" ]; then echo "No Python 3.12+ found: install one, or run make with PYTHON=/path/to/python3.12" >&2; exit 1; fi
	@if [ ! -x $(BIN)/python ]; then echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install the project with its dev tools

run: $(STAMP) ## serve the API on SQLite with demo data (http://127.0.0.1:8000/schema)
	$(BIN)/training-analyzer serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck imports pytest ## lint, type-check, check import layers, run every test

bench: $(STAMP) ## run the benchmarks and print their figures
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lock: $(STAMP) ## refresh constraints.txt from the current environment
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^training-analyzer' > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
