# vigie: `make demo` shows this machine's checks, `make test` runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLOT ?= .venv-plot
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

bench: system-deps $(BIN)/python $(PLOT)/bin/python
	$(BIN)/pip install --quiet .
	$(BIN)/python bench/run.py --output bench/RESULTS.md
	echo >> bench/RESULTS.md
	$(BIN)/python bench/backup_files.py | tee -a bench/RESULTS.md
	echo >> bench/RESULTS.md
	$(BIN)/python bench/backup_db.py | tee -a bench/RESULTS.md
	echo >> bench/RESULTS.md
	$(BIN)/python bench/scaling.py --json bench/scaling.json | tee -a bench/RESULTS.md
	$(PLOT)/bin/python bench/plot.py bench/scaling.json bench/scaling.svg

# The bench's own environment for its plot: matplotlib is no dependency of vigie.
$(PLOT)/bin/python:
	$(PYTHON) -m venv $(PLOT)
	$(PLOT)/bin/pip install --quiet matplotlib

system-deps:
	scripts/apt-install $(DEBIAN_TEST_PACKAGES)

install-test: $(BIN)/python
	$(BIN)/pip install --quiet '.[test]'

$(BIN)/python:
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || scripts/apt-install python3-venv
	$(PYTHON) -m venv $(VENV)
