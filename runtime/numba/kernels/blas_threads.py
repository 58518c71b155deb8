"""BLAS threads inside the runtime: one, unless IRQ_BLAS_THREADS asks for more.

OpenBLAS parallelises every GEMM it is given, and its threads busy-wait at a barrier after each one.
On a shared 2-core machine (load average 12-15 while measuring) that is a disaster for a network of
small GEMMs: the MobileNetV2 program took 1.24 s with 2 OpenBLAS + 2 Numba threads, 0.57 s with
2 OpenBLAS threads and 1 Numba thread, 0.065 s with single-threaded BLAS and 2 Numba threads, and
0.052-0.058 s with everything on one thread. So GEMMs run on one BLAS thread and the runtime's
parallelism comes from its Numba kernels (the VNNI GEMM's parts and the row kernels on `spin_pool`,
whose workers poll for 0.2 ms at most and then block; pools and element-wise kernels on workqueue
threads, which block). `IRQ_BLAS_THREADS=n` lets GEMMs of at least `PARALLEL_GEMM_MACS`
use n threads, for idle machines where that pays (the 64->64 3x3 56x56 conv's GEMM: 2.1 ms on one
thread, 1.0 ms on two, with the machine quiet).

`use(n)` switches numpy's BLAS through threadpoolctl's handle on the library (a direct C call, about
0.6 us), only when the count changes; `restore()` gives the caller's setting back after a run.
Without threadpoolctl, the BLAS keeps its own setting.
"""

from __future__ import annotations

import os

#: With IRQ_BLAS_THREADS > 1, GEMMs at least this large (about 1 ms of one core's work) use those threads.
PARALLEL_GEMM_MACS = 1 << 26

_controllers: list | None = None
_caller = 1
_parallel = 1
_current: int | None = None


def _init() -> None:
    global _controllers, _caller, _parallel
    if _controllers is not None:
        return
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        _controllers = []
        return
    _controllers = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    _caller = max((c.num_threads for c in _controllers), default=1)
    _parallel = max(1, int(os.environ.get("IRQ_BLAS_THREADS", "1")))


def threads_for(macs: int) -> int:
    """The BLAS thread count a GEMM of `macs` multiply-accumulates runs with."""
    _init()
    return _parallel if macs >= PARALLEL_GEMM_MACS else 1


def use(n: int) -> None:
    """Set numpy's BLAS thread count to `n` (no call when it already is)."""
    global _current
    if n == _current or not _controllers:
        return
    for c in _controllers:
        c.set_num_threads(n)
    _current = n


def restore() -> None:
    """Give the BLAS back the thread count the caller had (after a run)."""
    _init()
    use(_caller)
