#!/usr/bin/env bash
# Set up, then run every test: pytest (which also runs the lit/FileCheck IR tests), on 2 workers.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
PY=${PYTHON:-python3}
exec "$PY" -m pytest -n 2 tests "$@"
