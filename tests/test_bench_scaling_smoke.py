"""Smoke test: bench/scaling.py runs and prints one row per case and size (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "scaling.py"


def test_scaling_bench_prints_its_rows() -> None:
    r = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "50", "200", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()[1:]]
    assert [(row[0], row[1]) for row in rows] == [
        ("forward-refs", "50"),
        ("dominance", "50"),
        ("deep-arrays", "50"),
        ("forward-refs", "200"),
        ("dominance", "200"),
        ("deep-arrays", "200"),
    ]
    assert all(float(row[4]) > 0 for row in rows)
