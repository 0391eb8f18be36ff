# reviewkit: `make demo` builds the demo pack, `make test` runs the whole suite.
# Both create the virtual environment (.venv) on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo demo-all demo-batch serve-demo test lint bench bench-batch bench-scale notebooks clean sysdeps

# System libraries (Pango, HarfBuzz subsetting, fonts) are checked on every run, not only when
# the environment is first made: a machine can lose them, and a fresh one never had them.
sysdeps:
	@sh tools/ensure_system_deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,serve]'
	@# An editable install leaves our own modules uncompiled; compile them once so every run
	@# (and every notebook kernel) loads bytecode even where PYTHONDONTWRITEBYTECODE is set.
	$(BIN)/python -m compileall -q src
	@touch $(STAMP)

# The demo replays three weeks of meeting minutes into the action store, builds the previous
# week's pack (so "what changed since the last review" has something to compare with), then
# builds the current one. Safe to re-run: imports are idempotent and packs are replaced whole.
demo: sysdeps $(STAMP)
	@for f in data/demo/minutes/weekly-*.yaml; do \
	  $(BIN)/reviewkit minutes import $$f --params params/weekly.yaml --by demo || exit $$?; done
	$(BIN)/reviewkit build weekly --params params/weekly.yaml --period 2026-11-13 -q >/dev/null
	$(BIN)/reviewkit build weekly --params params/weekly.yaml

demo-all: demo
	$(BIN)/reviewkit build monthly --params params/monthly.yaml
	$(BIN)/reviewkit build quarterly --params params/quarterly.yaml

# Every unit's pack and the group's, for all three cadences, with the progress display: 24
# packs into outputs/batch/ (its index.html lists them). Re-running skips what did not change.
demo-batch: sysdeps $(STAMP)
	@for f in data/demo/minutes/weekly-*.yaml; do \
	  $(BIN)/reviewkit minutes import $$f --params params/weekly.yaml --by demo >/dev/null || exit $$?; done
	$(BIN)/reviewkit batch --params params/units/weekly.yaml --params params/units/monthly.yaml \
	  --params params/units/quarterly.yaml --out outputs/batch

# The review cycle on the demo (reviewkit serve): an office user, two owners and a reader, printed
# with their sign-in details; the weekly round of the latest week is open. A local SMTP server
# prints every e-mail the application sends. Ctrl-C stops both.
serve-demo: sysdeps $(STAMP)
	@for f in data/demo/minutes/weekly-*.yaml; do \
	  $(BIN)/reviewkit minutes import $$f --params params/weekly.yaml --by demo >/dev/null || exit $$?; done
	@$(BIN)/python tools/serve_demo.py
	@$(BIN)/python -m aiosmtpd -n -l 127.0.0.1:8025 & smtp=$$!; \
	  trap 'kill $$smtp 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/reviewkit serve --params params/review-cycle.yaml

# The whole suite, one worker per core (pytest-xdist): each test file runs in one worker, and the
# demo packs several files read are built once for the run (tests/conftest.py). pytest keeps the
# test modules it rewrites for its assertions as bytecode (tests/__pycache__), even where
# PYTHONDONTWRITEBYTECODE is set for everything else: every worker would otherwise rewrite
# every module again on every run (about 4 s of CPU each).
test: sysdeps $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n auto

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools data/demo/generate.py data/demo/generate_operational.py
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/packs.py --cadence all

bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py
bench-batch: $(STAMP)
	$(BIN)/python bench/batch.py

notebooks: $(STAMP)
	$(BIN)/python tools/make_notebooks.py

clean:
	rm -rf outputs .pytest_cache .mypy_cache .ruff_cache
