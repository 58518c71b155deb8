"""docs/levels.md shows what irq prints today: its IR blocks are regenerated from the page's own python
block and compared text for text, numbers to 1e-5 relative (the bug it catches: a page of IR examples
that no longer matches the compiler, so users learn a syntax or a lowering irq does not produce). When
the printed IR changes on purpose, `python scripts/regen_levels_doc.py` rewrites the blocks."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import regen_levels_doc  # noqa: E402

LEVELS = ["torch", "hl", "qat", "frozen", "bpu"]


def _generated(tmp_path) -> dict[str, str]:
    # a fresh interpreter: the page's code must not depend on what other tests imported or registered
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import regen_levels_doc; "
            "print(json.dumps(regen_levels_doc.generate()))")
    r = subprocess.run([sys.executable, "-c", code, str(ROOT / "scripts")], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-4000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_the_page_shows_every_level_in_order():
    assert list(regen_levels_doc.documented()) == LEVELS


NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?|-?\d+")


def same_ir(documented: str, printed: str, rel: float = 1e-5) -> bool:
    """Equal text, except that numbers may differ by `rel` relative: a scale computed from float32
    conv outputs can move by an ulp on another CPU (and a 31-bit multiplier with it); the
    structure, names, types and every attribute must be exactly what irq prints."""
    if NUMBER.split(documented) != NUMBER.split(printed):
        return False
    a, b = NUMBER.findall(documented), NUMBER.findall(printed)
    return len(a) == len(b) and all(math.isclose(float(x), float(y), rel_tol=rel) for x, y in zip(a, b))


def test_same_ir_tolerates_an_ulp_and_nothing_else():
    assert same_ir("scale = 0.0262295566 : f64", "scale = 0.0262295567 : f64")
    assert not same_ir("scale = 0.026 : f64", "scale = 0.027 : f64")
    assert not same_ir("bpu.requantize %3", "bpu.requantize %4")
    assert not same_ir("tensor<1x2xi8>", "tensor<1x2xi16>")


def test_the_ir_blocks_are_what_irq_prints_today(tmp_path):
    generated = _generated(tmp_path)
    assert list(generated) == LEVELS
    documented = regen_levels_doc.documented()
    for level in LEVELS:
        want = generated[level] if generated[level].endswith("\n") else generated[level] + "\n"
        assert same_ir(documented[level], want), (f"docs/levels.md's '{level}' block is out of date: run "
                                                  "python scripts/regen_levels_doc.py and review the diff")


def test_each_level_uses_the_dialects_the_page_says():
    blocks = regen_levels_doc.documented()
    assert "torch.batch_norm" in blocks["torch"] and "hl." not in blocks["torch"]
    assert "hl.conv2d" in blocks["hl"] and "torch.batch_norm" not in blocks["hl"] and "residual" in blocks["hl"]
    assert blocks["qat"].count("qat.fake_quant") == 7  # input, 3 weights, 3 outputs
    assert "!quant.uniform" in blocks["frozen"] and "qat." not in blocks["frozen"] and "bn1" not in blocks["frozen"]
    ops = [line.split("=", 1)[1].split()[0] for line in blocks["bpu"].splitlines() if " = " in line and "%" in line]
    assert ops and all(op.startswith("bpu.") for op in ops), ops
