# reviewkit: `make demo` builds the demo pack, `make test` runs the whole suite.
# Both create the virtual environment (.venv) on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench notebooks clean

$(STAMP): pyproject.toml
	@sh tools/ensure_system_deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/reviewkit build weekly --params params/weekly.yaml

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools data/demo/generate.py
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/weekly.py

notebooks: $(STAMP)
	$(BIN)/python tools/make_notebooks.py

clean:
	rm -rf outputs .pytest_cache .mypy_cache .ruff_cache
