# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.app: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test]'
	touch $@ $(VENV)/.app

demo: $(VENV)/.app
	$(BIN)/npswatch demo

test: $(VENV)/.test
	$(BIN)/pytest

bench: $(VENV)/.test
	$(BIN)/python benchmarks/bench_extract.py

clean:
	rm -rf $(VENV) data .pytest_cache .benchmarks
