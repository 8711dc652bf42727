# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The federated nodes' own environment: Flower's pins differ from the API's (README.md).
FL_VENV := .venv-fl
FL_STAMP := $(FL_VENV)/.installed

.PHONY: setup run test lint bench mutate clean

setup: $(STAMP) $(FL_STAMP)

# Re-installs only when the lock file, the project metadata or the C extension changed, so
# setup is idempotent.
$(STAMP): requirements.lock pyproject.toml hatch_build.py consent_ledger/_canonical.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(FL_STAMP): federated/requirements.lock pyproject.toml hatch_build.py consent_ledger/_canonical.c
	test -x $(FL_VENV)/bin/python || $(PYTHON) -m venv $(FL_VENV)
	$(FL_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r federated/requirements.lock
	$(FL_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(FL_STAMP)

run: setup
	$(BIN)/custos demo serve

test: setup
	bash scripts/test.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

bench: setup
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/decisions.py
	$(BIN)/python bench/dp.py
	$(FL_VENV)/bin/python bench/fl.py
	$(BIN)/python bench/zk.py

# Mutation testing of the pure core (slow; not part of `make test`): every module, or one with
# `make mutate MODULE=consent_ledger/merkle.py`. See scripts/mutate.py --help.
mutate: setup
	$(BIN)/python scripts/mutate.py $(MODULE)

clean:
	rm -rf $(VENV) $(FL_VENV) .pytest_cache .mypy_cache .ruff_cache
