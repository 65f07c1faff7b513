# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   - sync the emulator's demo site and print a per-stream summary
#   make test   - the whole test suite (unit, emulator contract, integration, standard tests)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test demo connector-test bench spec clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# pytest exits 5 when it collected no test: that fails here like any other non-zero exit.
test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python -m demo.run_demo

# Airbyte's `airbyte-cdk connector test` against two emulators (see demo/connector_test.py for what it needs).
connector-test: $(STAMP)
	$(BIN)/python -m demo.connector_test

bench: $(STAMP)
	$(BIN)/python -m bench.run

spec: $(STAMP)
	$(BIN)/source-confluence spec

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
