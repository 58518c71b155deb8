#!/usr/bin/env bash
# Set up, then run every test: pytest (which also runs the lit/FileCheck IR tests), on 2 workers.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
PY=${PYTHON:-python3}
# the slowest tests are printed at the end: the suite's 15-minute budget is tracked from CI logs
exec "$PY" -m pytest -n 2 --durations=25 tests "$@"
