# Two commands for a fresh machine (Python >= 3.10):
#   make run    install what the app needs and start it
#   make test   install what the tests need (incl. Debian's chromium when root) and run them all
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run test lint setup setup-dev browser data train bench clean present

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The pinned requirements, then the project itself (editable, no dependencies: nn, digits, ui
# and browser import from this checkout), so scripts/*.py import it like any installed
# package. pip fetches setuptools for that build from the package index if need be.
$(VENV)/.runtime: requirements.txt pyproject.toml | $(BIN)/python
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -e .
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt pyproject.toml | $(BIN)/python
	$(PIP) -r requirements-dev.txt
	$(PIP) --no-deps -e .
	touch $(VENV)/.runtime $@

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev

run: setup
	$(BIN)/streamlit run app.py

present: setup
	$(BIN)/streamlit run app.py -- --mode present

# Debian's chromium for the browser tests (Playwright drives it; it cannot download its own),
# Debian's nginx for the cluster test and Debian's redis-server for the shared-store tests
# (both run unprivileged on a free port by the tests).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/nginx ] || [ ! -x /usr/bin/redis-server ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx redis-server >/dev/null; \
	  else echo "note: /usr/bin/chromium, /usr/sbin/nginx or /usr/bin/redis-server missing; install Debian's chromium, nginx and redis-server for the browser, cluster and store tests"; fi; \
	fi

lint: setup-dev
	$(BIN)/ruff check .

test: setup-dev browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

data: setup
	$(BIN)/python -c "from digits.data import load_mnist; print(load_mnist().source)"

# Retrain the shipped models (same seed, same weights) with their cards and plots.
train: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/python scripts/train.py --recipe mlp --out weights/mlp.npz
	OPENBLAS_NUM_THREADS=1 $(BIN)/python scripts/train.py --recipe cnn --out weights/cnn.npz
	OPENBLAS_NUM_THREADS=1 $(BIN)/python scripts/train.py --recipe seed --out weights/seed_recipe.npz

bench: setup-dev
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_predict.py
	$(BIN)/python scripts/bench_retrain.py
	$(BIN)/python scripts/bench_cnn.py
	$(BIN)/python scripts/bench_latency.py --compare app.py --label Prediction

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
