# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install what they need.
# `make build` recompiles the extractor's hot modules after an edit (setup.py; only changed modules are rebuilt).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
# the modules setup.py compiles with Cython
COMPILED_SRC := $(addprefix pipelines/,$(addsuffix .py,text fuzzy substances offers candidates regions places extract))

.PHONY: demo test bench build clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.app: pyproject.toml setup.py | $(BIN)/python
	$(PIP) install -e '.[web,ocr]'
	touch $@

$(VENV)/.test: pyproject.toml setup.py | $(BIN)/python
	$(PIP) install -e '.[test]'
	touch $@ $(VENV)/.app

# The editable install above compiles once; this keeps the compiled modules in step with their sources.
# (Without it an edited module is imported as plain Python, with a warning: correct, only slower.)
$(VENV)/.build: $(COMPILED_SRC) setup.py | $(VENV)/.app
	$(PIP) install 'Cython>=3.0' 'setuptools>=77'
	$(BIN)/python setup.py -q build_ext --inplace
	touch $@

build: $(VENV)/.build

demo: $(VENV)/.app $(VENV)/.build
	$(BIN)/npswatch demo
	@echo "the web app on the demo database: $(BIN)/npswatch web user add admin --role admin" \
	      "(asks a password), then $(BIN)/npswatch web and open http://127.0.0.1:8080/"

# ruff first (the rules are in pyproject.toml): a lint finding fails the run like a test
test: $(VENV)/.test $(VENV)/.build
	$(BIN)/ruff check .
	$(BIN)/pytest

bench: $(VENV)/.test $(VENV)/.build
	$(BIN)/python benchmarks/bench_extract.py

clean:
	rm -rf $(VENV) data .pytest_cache .benchmarks build pipelines/*.so pipelines/*.c pipelines/_compiled.json
