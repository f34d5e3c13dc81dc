# bclib compendium. The two commands a reader needs:
#   make demo   set up, then run every notebook on the embedded synthetic data (params/smoke.yaml)
#   make test   set up, lint (ruff), then run the whole test suite (unit tests + nbval over the notebooks)
# Both do their own setup on a machine with only Python 3.11 and pip, and are idempotent.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.bclib-installed
SYNTH_BREAKHIS := data/synthetic/breakhis/BCLIB_SYNTHETIC.json
SYNTH_BACH     := data/synthetic/bach/BCLIB_SYNTHETIC.json

# TensorFlow's C++ log lines off in every command below (bclib does the same when run alone).
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: help demo test lint bench setup data sync clean refresh-notebooks repository

help:
	@echo "make demo   - run all notebooks on the embedded synthetic data into outputs/smoke/"
	@echo "make test   - lint, then run the test suite"
	@echo "make lint   - check the code with ruff (configured in pyproject.toml; make test runs it first)"
	@echo "make bench  - run benchmarks/bench_*.py and write benchmarks/results.md (about 25 min on 2 cores; with ../shared/realdata present, bench_gan_real.py adds about 3 h and bench_real_tiles.py about 7 min)"
	@echo "make data   - (re)create the embedded synthetic datasets if missing"
	@echo "make sync   - re-pair notebooks/*.ipynb with their py:percent scripts (jupytext)"
	@echo "make clean  - remove outputs/ results and caches (keeps .venv and data/)"
	@echo "make repository URL=https://github.com/OWNER/NAME - point badges and Colab cells at your fork"

# The virtual environment, rebuilt when the pins or the package metadata change.
# uv installs the pins with pip's resolution rules in about half pip's time (benchmarks/results.md, "Setup"),
# compiling the bytecode on every core as it goes: ahead of time because imports never write it where
# PYTHONDONTWRITEBYTECODE is set. Where uv cannot be installed (no wheel for the platform, no index), pip does
# the same work; compileall then compiles on every core (pip alone uses one), skipping what pip skips.
UV := uv==0.13.9
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(BIN)/python -m pip install --quiet $(UV) 2>/dev/null; then \
	  echo "installing requirements.txt and bclib with $(UV)"; \
	  $(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -r requirements.txt && \
	  $(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .; \
	else \
	  echo "$(UV) could not be installed: installing requirements.txt and bclib with pip"; \
	  $(BIN)/python -m pip install --quiet --upgrade pip && \
	  $(BIN)/python -m pip install --quiet --no-compile -r requirements.txt && \
	  { $(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null || true; } && \
	  $(BIN)/python -m pip install --quiet --no-deps -e .; \
	fi
	@touch $@

setup: $(STAMP)

# Redrawn (--force) when the generator changes.
$(SYNTH_BREAKHIS): $(wildcard bclib/data/synth/*.py) | $(STAMP)
	$(BIN)/bclib synth --layout breakhis --out data/synthetic/breakhis --seed 0 --force

$(SYNTH_BACH): $(wildcard bclib/data/synth/*.py) | $(STAMP)
	$(BIN)/bclib synth --layout bach --out data/synthetic/bach --seed 0 --force

data: $(SYNTH_BREAKHIS) $(SYNTH_BACH)

demo: setup data
	$(BIN)/bclib run --params params/smoke.yaml --notebooks-at-once 2

# pyflakes, pycodestyle and import order ([tool.ruff] in pyproject.toml), before any test runs.
lint: setup
	$(BIN)/ruff check .

test: setup data lint
	$(BIN)/python -m pytest -n 2

# Speed figures, each against its target; see benchmarks/results.md.
bench: setup data
	$(BIN)/python benchmarks/run_all.py

sync: setup
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.ipynb

repository: setup
	$(BIN)/python tools/set_repository.py "$(URL)"
	$(MAKE) sync

clean:
	find outputs -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache

# Re-execute the committed notebooks in place with their default (smoke)
# parameters, so the outputs shown on GitHub and checked by nbval are current.
# One TensorFlow thread, as under `make test` (conftest.py): some smoke results
# (the GAN sweep's near-tied choice) change with the thread count. Start from a
# clean outputs/smoke (make clean): finished jobs are reused, whatever made them.
# The py:percent scripts are the source: their text goes into the .ipynb first
# (--update keeps the outputs). `jupytext --sync` would instead trust whichever
# file is newer, and a notebook executed in place is always newer than its script.
# Last, the README's results are copied from notebook 05's output (tools/update_readme.py).
refresh-notebooks: setup data
	for py in notebooks/[0-9][0-9]_*.py; do $(BIN)/jupytext --quiet --update --to ipynb "$$py" || exit 1; done
	cd notebooks && for nb in [0-9][0-9]_*.ipynb; do \
	  TF_NUM_INTRAOP_THREADS=1 ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=1200 "$$nb" || exit 1; \
	done
	$(BIN)/python tools/update_readme.py
