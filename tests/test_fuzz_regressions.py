"""Inputs the mutation fuzz (tests/test_fuzz.py) found, kept as explicit cases, and the guard that
keeps a future runaway from killing the suite.

Each hostile input runs in a child process under a memory cap (tests/support/bounded.py): with the
bug back, the test fails with a MemoryError or a timeout instead of the pytest worker being
OOM-killed, which is how the first of them showed up (seed 14, case 11262: the fuzz worker passed
24 GB and the kernel ended it).
"""

from __future__ import annotations

import sys
import textwrap

import pytest

import irq
from tests.support.bounded import BoundedChecker, run_bounded

#: Seed 14, case 11262 of the fuzz, reduced: `torch.chunk` with a negative chunk count. The shape
#: rule computed the piece size as ceil(4 / -1) = -4 and looped "while left > 0", subtracting -4
#: each turn: verifying never returned and allocated one shape per turn until the OOM killer came.
NEGATIVE_CHUNKS = """\
func.func @f(%x: tensor<4xf32>) {
  %0:2 = torch.chunk %x {chunks = -1, dim = 0} : (tensor<4xf32>) -> (tensor<2xf32>, tensor<2xf32>)
  return
}
"""

#: Same rule family, other hostile values: a piece count of 2**63 - 1 must be refused from the
#: count, before a list of 2**63 - 1 shapes is built.
HUGE_SPLIT = """\
func.func @f(%x: tensor<9223372036854775807xf32>) {
  %0 = torch.split %x {split_size = 1, dim = 0} : (tensor<9223372036854775807xf32>) -> tensor<1xf32>
  return
}
"""


def _verify_in_child(text: str) -> str:
    """The VerifyError message of `text`, verified in a child under a 1 GiB cap and a 120 s guard."""
    code = textwrap.dedent(f"""
        import irq
        m = irq.parse_module({text!r}, "hostile.mlir")
        try:
            irq.verify(m)
        except irq.VerifyError as e:
            print(e)
        else:
            print("VERIFIED")
    """)
    done = run_bounded(code, memory_bytes=1 << 30, timeout_s=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_negative_chunk_count_is_a_located_verify_error():
    out = _verify_in_child(NEGATIVE_CHUNKS)
    assert "hostile.mlir:2:10: error: 'torch.chunk' op chunk expects `chunks` to be greater than 0, got -1" in out


def test_zero_chunk_count_is_a_verify_error():
    out = _verify_in_child(NEGATIVE_CHUNKS.replace("chunks = -1", "chunks = 0"))
    assert "expects `chunks` to be greater than 0, got 0" in out


def test_piece_count_is_checked_before_pieces_are_built():
    out = _verify_in_child(HUGE_SPLIT)
    assert "'torch.split' op expected 9223372036854775807 result(s), got 1" in out


@pytest.mark.parametrize(("split_size", "dim_size", "message"), [
    (-1, 4, "split expects split_size be non-negative, got -1"),  # torch's own wording
    (0, 4, "split_size can only be 0 if dimension size is 0"),
])
def test_bad_split_sizes_are_verify_errors(split_size, dim_size, message):
    t = f"tensor<{dim_size}xf32>"
    text = (f"func.func @f(%x: {t}) {{\n"
            f"  %0 = torch.split %x {{split_size = {split_size}, dim = 0}} : ({t}) -> {t}\n"
            f"  return\n}}\n")
    with pytest.raises(irq.VerifyError, match=message):
        irq.verify(irq.parse_module(text))


@pytest.mark.parametrize(("op", "size"), [("chunk", 3), ("split", 0), ("split", 2)])
def test_empty_dimension_pieces_match_torch(op, size):
    # the oracle: torch's own result shapes for a dimension of size 0
    torch = pytest.importorskip("torch")
    x = torch.zeros(2, 0)
    pieces = getattr(torch, op)(x, size, 1)
    key = "chunks" if op == "chunk" else "split_size"
    results = ", ".join("tensor<" + "x".join(map(str, p.shape)) + "xf32>" for p in pieces)
    text = (f"func.func @f(%x: tensor<2x0xf32>) {{\n"
            f"  %0:{len(pieces)} = torch.{op} %x {{{key} = {size}, dim = 1}} : (tensor<2x0xf32>) -> ({results})\n"
            f"  return\n}}\n")
    irq.verify(irq.parse_module(text))


# -- the guard itself: a runaway child is reported with a message, never kills the parent ----------

def test_guard_reports_a_child_that_exhausts_memory():
    hog = (sys.executable, "-c", "import sys; sys.stdin.readline(); b = bytearray(8 << 30)")
    with BoundedChecker(memory_bytes=1 << 30, command=hog) as checker:
        problem = checker.check("anything")
    assert problem is not None and "child died" in problem and "MemoryError" in problem


def test_guard_reports_a_child_that_overruns_and_replaces_it():
    # the first text hangs the child; the next text gets a fresh child that answers
    stall_once = (sys.executable, "-c", textwrap.dedent("""
        import json, os, sys, time
        flag = sys.argv[1]
        for line in sys.stdin:
            if not os.path.exists(flag):
                open(flag, "w").close()
                time.sleep(600)
            print(json.dumps(None), flush=True)
    """))
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        command = (*stall_once, f"{d}/stalled")
        with BoundedChecker(case_seconds=2, command=command) as checker:
            first = checker.check("hangs")
            second = checker.check("answers")
    assert first is not None and "exceeded the 2 s guard" in first
    assert second is None


def test_bounded_checker_runs_the_real_check():
    # the child answers with fuzz.check's own verdicts: a good text and a printer-breaking one
    with BoundedChecker() as checker:
        assert checker.check('"t.a"() {x = 1 : i32} : () -> ()') is None
        assert checker.check(NEGATIVE_CHUNKS) is None  # a VerifyError is a kept promise
        assert checker.check("%0 = ") is None  # a ParseError too
