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

# Debian's chromium for the browser tests (Playwright drives it; it cannot download its own).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: /usr/bin/chromium missing; install Debian's chromium for the browser tests"; fi; \
	fi

lint: setup-dev
	$(BIN)/ruff check .

test: setup-dev browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

data: setup
	$(BIN)/python -c "from digits.data import load_mnist; print(load_mnist().source)"

bench: setup-dev
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
