# Every target sets itself up from nothing: the first run creates .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test lint check-format types unit services e2e bench messages clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP) ## Run the demo: migrate, load demo data, start server and worker
	$(BIN)/layanan run

test: lint types unit services e2e ## Run format check, lint, mypy and the whole suite

lint: $(STAMP) ## Check formatting and lint with ruff
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

types: $(STAMP) ## Type-check with mypy and django-stubs
	$(BIN)/mypy

# Tests keep their database and files apart from the demo's var/.
TEST_ENV := LAYANAN_VAR_DIR=$(CURDIR)/var/test

unit: $(STAMP) ## Run every test but the browser ones
	$(TEST_ENV) $(BIN)/pytest -m "not e2e" -q

services: $(STAMP) ## Run the unit tests again on a throwaway PostgreSQL and Redis
	$(TEST_ENV) $(BIN)/python tests/backing_services.py -- $(BIN)/pytest -m "not e2e" -q

e2e: $(STAMP) ## Run the browser tests in their own pytest process
	$(TEST_ENV) $(BIN)/pytest -m e2e -q; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

bench: $(STAMP) ## Print widget weight, chat relay and email ingestion figures
	$(BIN)/python bench/run.py

messages: $(STAMP) ## Refresh and compile the Indonesian catalogue
	cd src/layanan && ../../$(BIN)/layanan makemessages -l id --no-obsolete --no-location
	cd src/layanan && ../../$(BIN)/layanan compilemessages -l id

clean: ## Remove the virtual environment and caches (keeps var/)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
