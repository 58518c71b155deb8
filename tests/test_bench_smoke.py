"""Smoke test: bench/text_throughput.py runs end to end and prints its table (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "text_throughput.py"


def test_text_throughput_quick_runs_and_prints_table(tmp_path: Path) -> None:
    out_json = tmp_path / "figures.json"
    r = subprocess.run([sys.executable, str(BENCH), "--quick", "--no-xdsl", "--no-mlir", "--sizes", "200", "--json",
                        str(out_json)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("form") and "parse ops/s" in line)
    rows = [line.split() for line in lines[header + 2:header + 4]]
    assert [(row[0], row[1], row[2]) for row in rows] == [("generic", "200", "irq"), ("custom", "200", "irq")]
    # The script checks irq's output against its input; a mismatch would be flagged in the notes column.
    assert "MISMATCH" not in r.stdout
    assert "round-trip ok" in r.stdout
    figures = json.loads(out_json.read_text())
    assert {row["form"] for row in figures["rows"]} == {"generic", "custom"}
    assert all(row["ops"] == 203 for row in figures["rows"])  # 200 chained ops + module, func, return


def test_text_throughput_measures_mlir_on_the_same_ops(tmp_path: Path) -> None:
    """With MLIR C++ in the run, both tools must have parsed the same number of ops (else a note says
    OP COUNT MISMATCH) and the irq/mlir ratio lines (wall time, and parse CPU time) are printed."""
    pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    r = subprocess.run([sys.executable, str(BENCH), "--no-xdsl", "--no-memory", "--no-startup", "--blob-mb", "0",
                        "--sizes", "200"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "MISMATCH" not in r.stdout
    rows = [line.split()[2] for line in r.stdout.splitlines() if line.startswith("custom ")]
    assert rows == ["irq", "mlir", "ratio", "cpu"]
    assert "irq/mlir parse, CPU time" in r.stdout
