"""Smoke test: bench/conv_shapes.py runs a workload against its peers and prints its row (no timing is asserted).

The script checks irq's codes against the reference runtime before timing, so a route that gives wrong
codes fails here too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "conv_shapes.py"


def test_conv_shapes_runs_a_grouped_conv_against_its_peers() -> None:
    pytest.importorskip("onnxruntime", reason="the peer comes with the test extra")
    r = subprocess.run([sys.executable, str(BENCH), "--only", "shufflenet", "--min-time", "0.05"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("shufflenet 1x1 g3 240 @28")]
    assert len(rows) == 1
    # irq's time, then each peer's time and irq's speed-up over it: both peers ran (no "-" cell, no error line)
    assert rows[0].count(" ms ") == 2 and " - " not in rows[0] and "Error" not in r.stdout
