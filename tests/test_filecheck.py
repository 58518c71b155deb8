"""Runs the lit/FileCheck IR tests (tests/filecheck) as part of pytest.

lit runs `irq-opt` by PATH. The interpreter running pytest must provide it: a `lit`
found on PATH may belong to another Python (a pyenv shim puts its own bin first),
whose `irq-opt` would test another checkout. So lit runs in this interpreter, with
its bin directory first on PATH. (lit.main has no `__main__` guard: `python -m
lit.main` does nothing and exits 0, so the test also checks that tests ran.)
"""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "filecheck"


def test_lit_suite_passes():
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    r = subprocess.run([sys.executable, "-c", "import lit.main; lit.main.main()", "-j", "2", str(HERE)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Passed" in r.stdout and "Failed" not in r.stdout, r.stdout
