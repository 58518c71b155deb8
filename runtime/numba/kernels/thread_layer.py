"""Which Numba threading layer the parallel twins run on, what a launch costs there, and forks.

Why OpenMP first (measured 2026-12-01 on the 2-core benchmark box, idle): a `parallel=True` call costs
1.5-2.7 us on Numba's `omp` layer while its workers are still spinning from the previous call, and
53-72 us once they sleep; the `workqueue` layer costs 93 us every time (its workers always sleep). At
2 threads the 56x56 64->64 conv (0.58 ms on one thread) took 0.45-0.79 ms on workqueue: the launch and
the wake-up ate the split. The earlier reason for workqueue (OpenMP's spinning threads starving
OpenBLAS's threads in the next GEMM) is gone: BLAS runs single-threaded inside a run and the int8
GEMMs are Numba's own.

Spinning is bounded: libgomp's default spin (GOMP_SPINCOUNT 300,000 when OMP_WAIT_POLICY is unset)
kept a core busy for more than 2 ms after every parallel call, which starves the Python pool of
`launch.RowKernel` (MobileNetV2's depthwise layers at batch 8) and a second test worker. 1,000 spins
keep the workers hot across a gap of about 20 us between two parallel calls (back-to-back GEMM
chunks, a conv's copies) and let the core go after that. Measured at 2 threads, same session, two
runs each (conv, matmul, MobileNetV2 batch 8, ms): 10,000 spins 0.34-0.35, 0.22-0.30, 28.8-29.0;
1,000 spins 0.34-0.35, 0.22, 22.5-27.7; no spin 0.41-0.43, 0.23, 22.3-26.8; workqueue 0.45-0.57,
0.32-0.50, 25.1-31.1. libgomp reads
the variable once, when Numba first loads it (`activate`), so it is set for that moment only and
restored: torch's own bundled OpenMP runtime is never affected. A user's OMP_WAIT_POLICY or
GOMP_SPINCOUNT is respected.

Forks: GNU OpenMP cannot run a parallel region in a child forked after the parent ran one (Numba
terminates such a child), and the parent's Python pool threads do not exist in a child. After a fork
(e.g. a DataLoader worker), `forked_after_parallel()` sends every call of the child to the serial
twin and `launch` starts a new pool.
"""

from __future__ import annotations

import os
import threading

import numba

#: Spins after a parallel region before an OpenMP worker sleeps (see module doc).
SPIN_COUNT = "1000"
#: Layers tried in order when the user names none (NUMBA_THREADING_LAYER; Numba wants all three named).
#: TBB, a pool of spinning workers too, was not measured: its package is not installed here.
PRIORITY = ["omp", "tbb", "workqueue"]

_lock = threading.Lock()
_layer: list[str] = []  # the active layer once activated
_forked = [False]


def prefer_openmp() -> None:
    """Make OpenMP Numba's first choice unless the user chose a layer (called when the runtime is imported)."""
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = "default"
        numba.config.THREADING_LAYER_PRIORITY = list(PRIORITY)


def activate() -> str:
    """Load the threading layer now (with the bounded spin for OpenMP) and return its name."""
    with _lock:
        if _layer:
            return _layer[0]
        from numba.np.ufunc import parallel

        override = "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ
        if override:
            os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
        try:
            parallel._launch_threads()
        finally:
            if override:
                del os.environ["GOMP_SPINCOUNT"]
        _layer.append(numba.threading_layer())
        return _layer[0]


def forked_after_parallel() -> bool:
    """True in a child forked from a process that had started the threading layer (see module doc)."""
    return _forked[0]


def _after_fork_in_child() -> None:
    if _layer:
        _forked[0] = True


os.register_at_fork(after_in_child=_after_fork_in_child)
prefer_openmp()
