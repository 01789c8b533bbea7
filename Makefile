# vigie: `make demo` shows this machine's checks, `make test` runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEBIAN_TEST_PACKAGES := $(shell sed -e 's/\#.*//' tests/debian-packages.txt)

.PHONY: demo test lint bench system-deps install-test

demo: $(BIN)/python
	$(BIN)/pip install --quiet .
	@echo
	@$(BIN)/vigie run || true

test: system-deps install-test
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: system-deps install-test
	$(BIN)/pip install --quiet .
	$(BIN)/python bench/run.py --output bench/RESULTS.md
	echo >> bench/RESULTS.md
	$(BIN)/python bench/backup_files.py | tee -a bench/RESULTS.md
	echo >> bench/RESULTS.md
	$(BIN)/python bench/activation.py | tee -a bench/RESULTS.md

system-deps:
	scripts/apt-install $(DEBIAN_TEST_PACKAGES)

install-test: $(BIN)/python
	$(BIN)/pip install --quiet '.[test]'

$(BIN)/python:
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || scripts/apt-install python3-venv
	$(PYTHON) -m venv $(VENV)
