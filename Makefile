# Two commands for a fresh machine (Python >= 3.10):
#   make run    install what the app needs and start it
#   make test   install what the tests need (incl. Debian's chromium when root) and run them all
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint setup setup-dev browser data train bench clean present

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV)/.runtime $@

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev

run: setup
	$(BIN)/streamlit run app.py

present: setup
	$(BIN)/streamlit run app.py -- --mode present

# Debian's chromium for the browser tests (Playwright drives it; it cannot download its own)
# and Debian's nginx for the cluster test (run unprivileged on its own port by the test).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx >/dev/null; \
	  else echo "note: /usr/bin/chromium or /usr/sbin/nginx missing; install Debian's chromium and nginx for the browser tests"; fi; \
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
	OPENBLAS_NUM_THREADS=1 $(BIN)/python scripts/train.py --recipe cnn_base --out build/cnn_base.npz --no-drawn --no-plots
	OPENBLAS_NUM_THREADS=1 $(BIN)/python scripts/train.py --recipe cnn --init build/cnn_base.npz --out weights/cnn.npz
	OPENBLAS_NUM_THREADS=1 $(BIN)/python scripts/train.py --recipe seed --out weights/seed_recipe.npz

bench: setup-dev
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_predict.py
	$(BIN)/python scripts/bench_retrain.py
	$(BIN)/python scripts/bench_cnn.py
	$(BIN)/python scripts/bench_latency.py --compare app.py --label Prediction

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
