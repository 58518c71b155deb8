"""Runs the lit/FileCheck IR tests (tests/filecheck) as part of pytest."""

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "filecheck"


def test_lit_suite_passes():
    lit = shutil.which("lit")
    cmd = [lit] if lit else [sys.executable, "-m", "lit.main"]
    r = subprocess.run([*cmd, "-q", "-j", "2", str(HERE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
