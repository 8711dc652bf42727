#!/usr/bin/env bash
# The whole test run, as `make test` and CI call it: lint, formatting, types, then pytest.
# Arguments go to pytest, e.g. `bash scripts/test.sh -x -k ledger`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
# The Flower side imports flwr, which only the federated environment has (README.md); the
# modules it imports are the main run's to check (silent here: that env pins other versions).
.venv-fl/bin/mypy --follow-imports=silent federated/app/*.py bench/fl.py

# The tests start their own throwaway PostgreSQL servers (tests/support/postgres.py);
# this makes sure the server binaries are there, installing Debian's package if not.
bash scripts/postgres.sh install
bash scripts/browser.sh install

status=0
.venv/bin/pytest "$@" || status=$?
if ((status == 5)); then
    echo "test.sh: pytest collected no tests; a run that tests nothing is a failure" >&2
    exit 1
fi
exit "$status"
