# The README's two commands: `make demo` (the main job) and `make test`. Both set up what they
# need: .venv for the tap and its tests, .venv-meltano for Meltano and its plugins,
# .venv-dagster for the orchestrator of the account shards (orchestrate/).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MELTANO_VENV := .venv-meltano
MELTANO := $(MELTANO_VENV)/bin/meltano
DAGSTER_VENV := .venv-dagster
DAGSTER := $(DAGSTER_VENV)/bin/dagster
# pytest-xdist workers: most end-to-end tests wait on the processes they start (the tap,
# Meltano, PostgreSQL), so more workers than cores pay; `make test TEST_WORKERS=1` for one.
# A file to a worker: the README's fixed-port steps, in one file, never run side by side.
TEST_WORKERS ?= 4

$(BIN)/tap-meta-bm: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(MELTANO):
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/pip install --quiet meltano==4.4.1

$(DAGSTER): orchestrate/requirements.txt
	$(PYTHON) -m venv $(DAGSTER_VENV)
	$(DAGSTER_VENV)/bin/pip install --quiet -r orchestrate/requirements.txt mypy types-PyYAML
	touch $@

# uv, which Meltano installs plugins with, leaves their bytecode uncompiled; where
# PYTHONDONTWRITEBYTECODE is set (it is on our development machines), every start of dbt,
# a loader or the tap would compile it all again: 1 to 2 s of CPU each time.
.meltano/installed: meltano.yml pyproject.toml $(MELTANO)
	UV_COMPILE_BYTECODE=1 $(MELTANO) install
	touch $@

.PHONY: test demo bench lint
test: $(BIN)/tap-meta-bm .meltano/installed $(DAGSTER)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(DAGSTER_VENV)/bin/mypy --strict orchestrate
	MELTANO_BIN=$(CURDIR)/$(MELTANO) $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile \
		--no-loadscope-reorder

demo: $(BIN)/tap-meta-bm .meltano/installed
	MELTANO_BIN=$(CURDIR)/$(MELTANO) $(BIN)/python -m demo

lint: $(BIN)/tap-meta-bm $(DAGSTER)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(DAGSTER_VENV)/bin/mypy --strict orchestrate

bench: $(BIN)/tap-meta-bm .meltano/installed
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.insights
	$(BIN)/python -m benchmarks.shards
	$(BIN)/python -m benchmarks.agency
	$(BIN)/python -m benchmarks.batch
