"""A bpu program parses and runs with torch blocked: deployment hosts need not install it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = Path(__file__).parent / "filecheck" / "bpu" / "roundtrip.irq"

SCRIPT = f"""
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import numpy as np
import irq
from irq.runtime.reference import run
m = irq.parse_file({str(PROGRAM)!r})
irq.verify(m)
outs = run(m, np.linspace(-1, 1, 32, dtype=np.float32).reshape(1, 2, 4, 4))
assert [o.shape for o in outs] == [(1, 6, 2, 2), (1, 3)], outs
assert "torch" not in {{k for k, v in sys.modules.items() if v is not None and k.split(".")[0] == "torch"}}
print("ok")
"""


def test_reference_runtime_runs_with_torch_blocked():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
