"""The rewrite benchmark runs end to end (no timing asserted: speed is the script's output)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_rewrite_benchmark_quick_runs_and_prints_table() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "rewrite_throughput.py"), "--quick", "--no-xdsl",
                           "--repeat", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.split("|")[0].strip() == "N" for line in lines), proc.stdout
    rows = [line.split("|") for line in lines if line.split("|")[0].strip() == "1000"]
    assert [r[1].strip() for r in rows] == ["mul2->add", "canonicalize,cse"]
    # the ops left after rewriting: mul2->add erases the 111 dead adds and %c2; canonicalize,cse
    # leaves 4 ops per step, one constant 7, %c2 and the return
    assert [int(r[2]) for r in rows] == [885, 443]
    assert "irq-opt on an empty file" in proc.stdout


def test_chain_generator_counts_match_parsed_module() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from _chains import arith_chain, chain_op_count
    finally:
        sys.path.pop(0)
    import irq
    for n in (20, 1000, 1234):
        module = irq.parse_module(arith_chain(n))
        func = next(iter(module.body.ops))
        assert len(func.body) == chain_op_count(n)
        assert abs(chain_op_count(n) - n) < 9
