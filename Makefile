# vigie: `make demo` shows this machine's checks, `make test` runs the whole test suite,
# `make deb` and `make rpm` build the packages into build/packages/.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLOT ?= .venv-plot
DEBIAN_TEST_PACKAGES := $(shell sed -e 's/\#.*//' tests/debian-packages.txt)

.PHONY: demo test lint bench system-deps install-test deb rpm

include packaging/pysmart.mk
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' src/checks/__init__.py)
# Where `make deb` and `make rpm` work (the tests give a temporary directory).
BUILD ?= build
PACKAGES := $(BUILD)/packages
PYSMART_SDIST := build/cache/pysmart-$(PYSMART_VERSION).tar.gz
# Packages are built with the distribution's own python3 and tools, never with a python
# found first on PATH (pyenv, a venv): that is the python the packages run under.
SYSTEM_PATH := env PATH=/usr/sbin:/usr/bin:/sbin:/bin
# The files of the source tree as git sees them (tracked or new, not ignored): what a
# package is built from, never .venv or earlier builds.
SOURCE_FILES = git ls-files -z --cached --others --exclude-standard | \
	xargs -0 sh -c 'for f; do [ ! -e "$$f" ] || printf "%s\0" "$$f"; done' files

demo: $(BIN)/python
	$(BIN)/pip install --quiet .
	@echo
	@$(BIN)/vigie run || true

test: system-deps install-test $(PYSMART_SDIST)
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: system-deps install-test $(PLOT)/bin/python
	$(BIN)/pip install --quiet .
	$(BIN)/python bench/run.py --output bench/RESULTS.md
	echo >> bench/RESULTS.md
	$(BIN)/python bench/backup_files.py | tee -a bench/RESULTS.md
	echo >> bench/RESULTS.md
	$(BIN)/python bench/activation.py | tee -a bench/RESULTS.md
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

# Debian: dpkg-buildpackage in a copy of the tree with packaging/debian as debian/, then
# lintian (errors and warnings fail the build).
deb: $(PYSMART_SDIST)
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/vigie-$(VERSION)/vendor $(PACKAGES)
	$(SOURCE_FILES) | tar --null -T - -cf - | tar -xf - -C $(BUILD)/deb/vigie-$(VERSION)
	cp -r packaging/debian $(BUILD)/deb/vigie-$(VERSION)/debian
	cp $(PYSMART_SDIST) $(BUILD)/deb/vigie-$(VERSION)/vendor/
	cd $(BUILD)/deb/vigie-$(VERSION) && $(SYSTEM_PATH) dpkg-buildpackage -us -uc -b
	$(SYSTEM_PATH) lintian --fail-on error,warning $(BUILD)/deb/vigie_$(VERSION)_*.changes
	cp $(BUILD)/deb/vigie_$(VERSION)_all.deb $(PACKAGES)/

# RPM: rpmbuild from a tarball of the tree and the pySMART sdist. On an RPM system the
# distribution's macros apply; on Debian give RPM_MACROS=packaging/rpm/debian.macros
# RPMBUILD_FLAGS=--nodeps (rpm's database knows none of Debian's packages).
rpm: $(PYSMART_SDIST)
	rm -rf $(BUILD)/rpm && mkdir -p $(BUILD)/rpm/SOURCES $(PACKAGES)
	$(SOURCE_FILES) | tar --null -T - --transform 's,^,vigie-$(VERSION)/,' -czf \
		$(BUILD)/rpm/SOURCES/vigie-$(VERSION).tar.gz
	cp $(PYSMART_SDIST) $(BUILD)/rpm/SOURCES/
	$(SYSTEM_PATH) rpmlint -r packaging/rpm/vigie.rpmlintrc packaging/rpm/vigie.spec
	$(SYSTEM_PATH) rpmbuild -bb $(RPMBUILD_FLAGS) --define "_topdir $(abspath $(BUILD))/rpm" \
		$(if $(RPM_MACROS),--load $(RPM_MACROS)) packaging/rpm/vigie.spec
	cp $(BUILD)/rpm/RPMS/noarch/vigie-$(VERSION)-*.noarch.rpm $(PACKAGES)/

# pySMART's sdist, fetched once and kept only if it is the very file of packaging/pysmart.mk.
$(PYSMART_SDIST):
	mkdir -p $(dir $@)
	curl -sSfL -o $@.part $(PYSMART_URL)
	echo "$(PYSMART_SHA256)  $@.part" | sha256sum --check --strict --quiet -
	mv $@.part $@
