"""The runtime asks LLVM for 512-bit vectors on AVX-512 hosts, and leaves a target chosen elsewhere alone.

runtime/numba/vector_width.py: the setting is process-wide Numba state read once, so each case runs in a
fresh interpreter. Exactness under the setting is what every differential test of the Numba runtime
checks (they run with it on); these tests pin when it is applied.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

REPORT = textwrap.dedent("""
    import json, sys
    import numba
    if sys.argv[1] == "compile-first":
        numba.njit(lambda x: x + 1)(1)  # the user's own Numba code, compiled before the runtime's import
    import irq.runtime.numba
    from irq.runtime.numba import vector_width
    print(json.dumps({"features": numba.config.CPU_FEATURES, "reason": vector_width.reason_unchanged}))
""")


def _report(mode: str, **env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in ("IRQ_VECTOR_WIDTH", "NUMBA_CPU_FEATURES",
                                                           "NUMBA_CPU_NAME")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", REPORT, mode], capture_output=True, text=True, cwd=ROOT, env=full,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _host_has_avx512() -> bool:
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    return all(features.get(f, False) for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq"))


@pytest.mark.skipif(not _host_has_avx512(), reason="the host has no AVX-512")
def test_an_avx512_host_gets_512_bit_vectors_unless_told_otherwise():
    default = _report("plain")
    assert default["reason"] == "" and default["features"].endswith(",-prefer-256-bit")
    assert "+avx512f" in default["features"]  # the host's own features, with the tuning flag dropped

    opted_out = _report("plain", IRQ_VECTOR_WIDTH="256")
    assert opted_out == {"features": None, "reason": "IRQ_VECTOR_WIDTH=256"}

    user_target = _report("plain", NUMBA_CPU_NAME="generic")
    # Numba itself sets the features to "" for the generic CPU; the runtime adds nothing to them
    assert user_target["features"] == "" and "NUMBA_CPU_NAME" in user_target["reason"]

    built_before = _report("compile-first")
    assert built_before["features"] is None and "built before" in built_before["reason"]


@pytest.mark.skipif(_host_has_avx512(), reason="the host has AVX-512")
def test_a_host_without_avx512_keeps_llvms_default():
    assert _report("plain") == {"features": None, "reason": "the host has no AVX-512"}
