"""Numba kernels of the bpu runtime, one module per family (requantize, gemm, conv, eltwise, pool, ...).

Every kernel is `cache=True`, so a second process loads machine code from Numba's on-disk cache
instead of recompiling, and writes into an output buffer the executor planned: kernels allocate
nothing per call except where noted.
"""
