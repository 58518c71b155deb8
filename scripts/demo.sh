#!/usr/bin/env bash
# Set up, then run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
PY=${PYTHON:-python3}
"$PY" examples/demo.py "$@"
