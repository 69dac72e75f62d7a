# Every target creates or refreshes .venv itself, so a fresh machine needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.stamp-run
STAMP_DEV := $(VENV)/.stamp-dev

.PHONY: demo test bench bench-tshark lint fuzz clean prosody

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/otwire inspect

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests fuzz benchmarks
	$(BIN)/ruff format --check src tests fuzz benchmarks
	$(BIN)/mypy

test: $(STAMP_DEV) prosody
	$(BIN)/ruff check src tests fuzz benchmarks
	$(BIN)/ruff format --check src tests fuzz benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider --hypothesis-profile=ci

bench: $(STAMP_DEV) bench-tshark
	$(BIN)/python benchmarks/iec104_decode.py
	$(BIN)/python benchmarks/iec104_engine.py
	$(BIN)/python benchmarks/imb.py
	$(BIN)/python benchmarks/i3x.py
	$(BIN)/python benchmarks/mxgateway.py
	$(BIN)/python benchmarks/xep0323.py
	$(BIN)/python benchmarks/inspect_tshark.py

# XEP-0323 tests run a throw-away Prosody (Debian package); where apt-get is unavailable they skip.
prosody:
	@command -v prosody >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && { SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo -n ); export DEBIAN_FRONTEND=noninteractive; $$SUDO apt-get install -y -qq --no-install-recommends prosody >/dev/null 2>&1 || { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends prosody >/dev/null; }; }; } || echo "prosody not installed (no apt-get or no root): the XEP-0323 XMPP tests will skip"

# tshark for benchmarks/inspect_tshark.py: installed when missing if root and apt-get work; never fails make bench.
bench-tshark:
	-@command -v tshark >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tshark >/dev/null; } || echo "tshark not installed: benchmarks/inspect_tshark.py skips the comparison"

fuzz: $(STAMP_DEV)
	$(BIN)/python -m pytest -q fuzz --hypothesis-profile=fuzz

clean:
	rm -rf $(VENV) build dist src/*.egg-info .hypothesis .pytest_cache .mypy_cache .ruff_cache
