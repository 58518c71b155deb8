"""The runtime's Numba cache goes stale when *any* of its source files changes (runtime/numba/cache_stamp.py).

Numba keys a cached function on its own file only; a helper inlined from another file is part of the
caller's machine code. These tests build a two-file package (a caller and an inlined helper) in a temporary
folder, run it in fresh processes, edit only the helper, and check what the next process computes.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

CALLER = """
import numba
from .helper import step

@numba.njit(cache=True)
def kernel(x):
    return step(x) * 10
"""

HELPER = """
import numba

@numba.njit(inline="always")
def step(x):
    return x + {increment}
"""

RUN = """
import json, sys
root, stamped = sys.argv[1], sys.argv[2] == "1"
if stamped:
    from irq.runtime.numba.cache_stamp import install
    install(root + "/pkg")
sys.path.insert(0, root)
from pkg.caller import kernel
value = kernel(1)
print(json.dumps([int(value), sum(kernel.stats.cache_hits.values()), sum(kernel.stats.cache_misses.values())]))
"""


def _package(root, increment: int) -> None:
    pkg = root / "pkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "caller.py").write_text(textwrap.dedent(CALLER))
    (pkg / "helper.py").write_text(textwrap.dedent(HELPER.format(increment=increment)))


def _run(root, stamped: bool, cache_dir) -> tuple[int, int, int]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    out = subprocess.run([sys.executable, "-c", RUN, str(root), "1" if stamped else "0"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    value, hits, misses = json.loads(out.stdout)
    return value, hits, misses


@pytest.mark.parametrize("where", ["NUMBA_CACHE_DIR", "in-tree __pycache__"])
def test_editing_only_an_inlined_helper_recompiles_its_caller(tmp_path, where):
    cache_dir = tmp_path / "cache" if where == "NUMBA_CACHE_DIR" else None
    _package(tmp_path, increment=1)
    assert _run(tmp_path, True, cache_dir) == (20, 0, 1)  # compiled and written
    assert _run(tmp_path, True, cache_dir) == (20, 1, 0)  # an unchanged tree loads from the cache
    _package(tmp_path, increment=2)  # caller.py untouched
    assert _run(tmp_path, True, cache_dir) == (30, 0, 1)  # the new helper, compiled again
    assert _run(tmp_path, True, cache_dir) == (30, 1, 0)


def test_without_the_stamp_numba_runs_the_old_helper(tmp_path):
    """The failure the stamp exists for, reproduced with this setup: so the test above can tell the two apart."""
    cache_dir = tmp_path / "cache"
    _package(tmp_path, increment=1)
    assert _run(tmp_path, False, cache_dir)[0] == 20
    _package(tmp_path, increment=2)
    assert _run(tmp_path, False, cache_dir)[0] == 20  # stale: 30 is right


def test_every_runtime_kernel_is_stamped_with_the_whole_runtime():
    from irq.runtime.numba import cache_stamp
    from irq.runtime.numba.kernels import amx, requantize, vnni

    digest = cache_stamp.tree_digest(cache_stamp.ROOT)
    for dispatcher in (amx._block, requantize.round_shift, vnni.gemm_epilogue.fn):
        locator = dispatcher._cache._impl.locator
        assert type(locator).__name__.startswith("TreeStamped")
        assert locator.get_source_stamp()[1] == digest
