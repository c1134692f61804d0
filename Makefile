# gemgate — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test adversarial browser lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[gateway]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/gemgate serve --host $(HOST) --port $(PORT)

# Debian's Chromium and its driver, for tests/gateway/test_browser.py: installed when missing
# and we are root with apt-get (CI's case). Otherwise that test skips locally with a reason
# (and fails under CI=true). A failed install is reported, and the test says the rest.
BROWSER_PACKAGES := chromium chromium-driver

browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing $(BROWSER_PACKAGES) for the browser test..."; \
	    log=$$(mktemp); export DEBIAN_FRONTEND=noninteractive; \
	    { apt-get install -y -q $(BROWSER_PACKAGES) || \
	      { apt-get update -q && apt-get install -y -q $(BROWSER_PACKAGES); }; } >"$$log" 2>&1 \
	      || { tail -n 20 "$$log"; echo "warning: could not install $(BROWSER_PACKAGES)"; }; \
	    rm -f "$$log"; \
	  else \
	    echo "note: chromium/chromedriver missing (not root with apt-get): the browser test skips (fails under CI=true)"; \
	  fi; \
	fi

test: $(VENV)/.test-installed browser
	$(BIN)/ruff check src tests
	$(BIN)/mypy src
	$(BIN)/python -m pytest

# The whole adversarial suite: its fast part runs in `make test` too, this adds the slow probes.
adversarial: $(VENV)/.test-installed
	$(BIN)/python -m pytest tests/adversarial -m ''

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
