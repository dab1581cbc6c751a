# Two commands do all set-up on a fresh machine:
#   make demo   — runs the Yizhuang demo scenario (outputs under output/yizhuang/)
#   make test   — runs the test suite (make test-fast: without slow/browser tests; make lint: ruff + mypy)
# Both create/refresh the local virtual environment .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-10)
# Shared OSM-derived data lives beside the project; scenarios read it through PLANNER_DATA_DIR.
export PLANNER_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),$(abspath data/raw))

.PHONY: demo test test-fast lint setup browser bench clean-cache

demo: setup
	$(BIN)/planner run scenarios/yizhuang.toml

test: setup browser
	$(BIN)/python -m pytest

# the tests without the slow and browser markers (a few minutes on 2 cores)
test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not browser" -q

# ruff (rules and complexity limit in pyproject.toml) and mypy on the package (but [tool.mypy] exclude)
lint: setup
	$(BIN)/ruff check planner tests
	$(BIN)/mypy

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,bench,lint]"
	rm -f $(VENV)/.installed-* && touch $@

# Headless Chromium renders maps for the browser tests and PNG export (Debian packages; needs root);
# the CJK font makes Chinese labels render in PNG exports and report charts; poppler-utils
# (pdftoppm, pdftotext) lets the report tests read the PDF back.
browser:
	@{ command -v chromium && command -v pdftoppm && dpkg -s fonts-wqy-microhei; } >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei poppler-utils >/dev/null; } \
	  || echo "chromium could not be installed: browser tests, PNG export and the PDF report will be skipped"

bench: setup
	@for b in routing isochrones orlib siting demo load; do $(BIN)/python benchmarks/run.py $$b; done

clean-cache:
	rm -rf data/processed/network-*
