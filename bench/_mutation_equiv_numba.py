"""Reviewed equivalent mutants of the Numba runtime (target numba-kernels: runtime/numba/kernels/, and the numba
planner's constant slot of target constant-operands).

One concept of bench/_mutation_equivalents.py's table (which merges them): each entry names why no test can
kill the mutant; matched by where it is (file, function, line, operator), not by line number.
"""

_KERNEL_FILES = ("requantize", "gemm", "eltwise", "pool", "conv", "divide", "int_divide")

NUMBA: dict[tuple[str, str, str, str], str] = {
    **{
        (f"runtime/numba/kernels/{f}.py", "<module>", "@kernel", "core/RemoveDecorator"): "without @kernel the "
        "function runs as plain Python: the same numbers, only slower (a caller that uses the Kernel's pick, "
        "pick_split or dispatchers fails instead, and kills it)"
        for f in _KERNEL_FILES
    },
    **{
        (f"runtime/numba/kernels/{f}.py", "<module>", line, "core/RemoveDecorator"): "not decidable by running "
        "the kernels as Python (NUMBA_AS_PYTHON), where every function is plain Python anyway: compiled, a jitted "
        "caller cannot call the undecorated helper (a typing error at its first call, every caller's test fails)"
        for f in _KERNEL_FILES
        for line in ('@numba.njit(inline="always", cache=True)', '@numba.njit(cache=True, inline="always")')
    },
    ("runtime/numba/kernels/conv.py", "<module>", "TILE_BYTES = 1 << 20", "*"): "the row-tile budget, whatever "
    "its value (even <= 0), only partitions the output rows (tile_rows >= 1); every partition gives the same "
    "codes, and tests/test_numba_vs_reference.py runs one-row tiles (tiny_tiles) against the reference",
    (
        "runtime/numba/planner.py",
        "input",
        "if layout is None or slot.layout == layout or len(slot.shape) != 4:",
        "core/ReplaceComparisonOperator_NotEq_Lt",
    ): "`< 4` differs only for a rank-5+ slot asked for another layout: "
    "such slots are always plain, and NHWC is asked only of 4-D operands (convs, pools; an element-wise or concat "
    "operand takes its 4-D peer's layout only at the same shape)",
    (
        "runtime/numba/planner.py",
        "input",
        "if slot is None and v in self.constants:",
        "core/ReplaceAndWithOr",
    ): "with `or`, a constant's second use builds an equal slot over the same array (the numbers are the same), and "
    "an operand with no slot that is no constant raises KeyError instead of the planner's error: every operand of "
    "a verified program is an argument, a planned result or a constant, so that error guards an invariant",
    (
        "runtime/numba/kernels/gemm.py",
        "__init__",
        "self.threads = blas_threads.threads_for(m * k * n if work is None else work)",
        "*",
    ): "the BLAS thread count of a GEMM: any count gives the same exact integer products (speed only; a mutant "
    "that passes None or raises is killed, and a killed verdict wins)",
    (
        "runtime/numba/kernels/gemm.py",
        "__init__",
        "self.chunks = [(k0, min(k, k0 + max_chunk)) for k0 in range(0, k, max_chunk)] or [(0, 0)]",
        "core/NumberReplacer@83-86",
    ): "the chunk of a K = 0 GEMM: any one chunk slices both operands to nothing, so the product is zeros either way",
    ("runtime/numba/kernels/int_divide.py", "floor_quotient", "if s >= 0:", "core/NumberReplacer"): "`s >= 1` "
    "sends s = 0 to the next branch, `(x << 0) // y`, which is `(x // y) >> 0` (`s >= -1` shifts by -1 and is "
    "killed: tests/test_mutation_kills_numba.py)",
    (
        "runtime/numba/kernels/gemm.py",
        "epilogue_requantize",
        "has_res = res.shape[0] > 0",
        "core/NumberReplacer@20",
    ): "`res.shape[1]` / `[-1]`: the no-residual array is (0, 0), so every dim is 0 without a residual and > 0 with "
    "one (`> 1` is killed: tests/test_mutation_kills_numba.py)",
}
