# The two commands of the README: `make demo` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/tap-meta-bm: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: test lint demo bench
test: $(BIN)/tap-meta-bm
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(BIN)/tap-meta-bm
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
