# One command for every check: `make check` (what CI runs, see .ci/run).
# It makes .venv, installs the dev extra, then runs ruff, mypy, the import
# contract and the whole test suite (integration servers are provisioned by the
# tests themselves, cached under ~/.cache/oncall-tui).

PY ?= python3
VENV := .venv
SRC := $(wildcard oncall_tui tests bench plugins)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: check install lint format typecheck imports test test-fast bench demo clean corpus

check: install lint typecheck imports test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)

format: install
	$(BIN)/ruff format $(SRC)
	$(BIN)/ruff check --fix $(SRC)

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not integration and not slow"

bench: install
	$(BIN)/python -m bench

demo: install
	$(BIN)/oncall-tui demo

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# Re-record the real-instrumentation corpus (tests/corpus/README.md): one venv
# per family under .corpus-venvs/, libraries from PyPI, spans to 127.0.0.1 only.
# Not part of `check`: CI reads the recorded files.
corpus:
	bash tests/corpus/record/record-all.sh $(FAMILIES)
