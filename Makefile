# genseq: make demo | make test | make bench | make results | make notebook — each creates .venv
# when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GENSEQ_DATA ?= $(abspath ../shared/data)
export GENSEQ_DATA

.PHONY: setup demo demo-train results notebook test bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the local CPU wheel first: a looser requirement would pull the CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,web]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m genseq.demo

demo-train: $(STAMP)
	$(BIN)/python -m genseq.demo_train

results: $(STAMP)
	bash scripts/results.sh docs

# the teaching notebook, executed in full (GENSEQ_FAST=1 for the short version), as HTML
notebook: $(STAMP)
	mkdir -p out/notebook
	$(BIN)/jupyter nbconvert --to html --execute notebooks/tour.ipynb --output-dir out/notebook \
		--ExecutePreprocessor.timeout=1800 --ExecutePreprocessor.kernel_name=python3
	@ls -l out/notebook/tour.html

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

bench: $(STAMP)
	$(BIN)/genseq bench

lint: $(STAMP)
	$(BIN)/ruff check genseq tests scripts notebooks

clean:
	rm -rf $(VENV) build *.egg-info
