"""The Numba runtime: executes bpu programs with exact fixed-point integers, fast (docs/design.md).

``compile(program)`` plans a program once and returns a callable; ``run(program, *inputs)`` is the
one-shot form. Imports numpy and numba only, never torch.
"""

import os

import numba

# Numba's OpenMP layer spins its threads after each parallel region, which starves OpenBLAS's
# threads in the GEMM that follows (measured: 2-thread conv 5.2 ms with omp, 2.6 ms with workqueue).
# Respect an explicit user choice; otherwise use the workqueue layer.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

# the cache of every kernel keyed on all of the runtime's sources, before any kernel is decorated
from .cache_stamp import install as _key_cache_on_all_sources  # noqa: E402

_key_cache_on_all_sources()

# 512-bit vectors for the loops LLVM vectorises (vector_width.py), before any kernel compiles
from .vector_width import prefer_512_bit_vectors  # noqa: E402

prefer_512_bit_vectors()

from .executor import CompiledProgram, compile, run  # noqa: E402
from .planner import ProgramError  # noqa: E402

__all__ = ["CompiledProgram", "ProgramError", "compile", "run"]
