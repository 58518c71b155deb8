"""The numba runtime at two threads: the parallel GEMM's parts are balanced and exact, and a forked child
(a DataLoader worker) runs a program its parent ran with the row pool, with the parent's outputs.

Oracles: the reference runtime, bit for bit, and the parent process's own outputs."""

import json
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest
from irq.runtime import numba as rn
from irq.runtime import reference
from irq.runtime.numba.kernels import native_parts, spin_pool, vnni
from support.bpu_text import ProgramText

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba runs one thread here")


def _busiest_part(blocks: int, images: int, workers: int) -> int:
    """Row blocks of the busiest of `workers` parts, computed by walking the chunks as the kernel deals them."""
    cb = vnni._chunk_blocks.py_func(blocks, images, workers)
    chunks = -(-blocks // cb)
    total = images * chunks
    per = -(-total // workers)
    loads = [0] * workers
    for q in range(total):
        loads[q // per] += min(blocks, (q % chunks + 1) * cb) - (q % chunks) * cb
    assert sum(loads) == blocks * images  # every block dealt once
    return max(loads)


@pytest.mark.parametrize("blocks, images, workers", [(22, 1, 2), (17, 3, 2), (523, 1, 2), (3, 1, 2), (22, 8, 3),
                                                     (1, 1, 2), (100, 1, 7)])
def test_parallel_gemm_parts_get_an_even_share_of_row_blocks(blocks, images, workers):
    # 128 rows = 22 blocks of 6: whole chunks of 8 blocks gave one of 2 parts 16 blocks and the other 6
    even = -(-blocks * images // workers)
    assert _busiest_part(blocks, images, workers) <= max(even * 11 // 10, 1)
    assert vnni._chunk_blocks.py_func(blocks, images, 1) == vnni.CHUNK_BLOCKS


def _linear_program(rows: int, k: int, n: int):
    rng = np.random.default_rng(rows)
    p = ProgramText([("x", (rows, k), "i8")])
    p.const("w", rng.integers(-127, 128, size=(n, k)), "i8")
    p.const("b", rng.integers(-5000, 5000, size=n), "i32")
    p.op("acc", "bpu.linear", ["x", "w", "b"], ((rows, n), "i32"), keywords={2: "bias"})
    p.op("y", "bpu.requantize", ["acc"], ((rows, n), "i8"),
         {"multiplier": ("array", rng.integers(2**30, 2**31, size=n)), "shift": ("array", [39] * n), "axis": -1})
    return p.module(["y"])


@two_threads
@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("rows", [128, 133, 3])
def test_two_thread_linear_equals_the_reference(rows, native, monkeypatch):
    # 128 x 768 x 768 is 75M MACs: two parts at 2 threads (part 1 on the pool), with chunks shorter than 8
    # blocks for an even split (the in-register path); 3 rows (1.8M MACs, below vnni.GEMM_MIN_WORK) stay one
    # part. `native`: the pool's native launch (native_parts), else its Python path, whose calls it can count
    monkeypatch.setenv("IRQ_AMX", "0")  # this counts the VNNI GEMM's parts (AMX would take 128 x 768 x 768)
    prog = _linear_program(rows, 768, 768)
    x = np.random.default_rng(rows + 1).integers(-128, 128, size=(rows, 768)).astype(np.int8)
    part_calls = []
    real = vnni.gemm_epilogue.fn

    def counted(part, parts, *args):
        part_calls.append((part, parts))
        return real(part, parts, *args)

    if not native:
        monkeypatch.setattr(native_parts, "ENABLED", False)
        monkeypatch.setattr(vnni.gemm_epilogue, "fn", counted)
    pool = spin_pool.pool(1)
    posts = pool.board[native_parts.POST]
    before = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        got = rn.compile(prog)(x)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(got, reference.run(prog, x)[0])
    split = rows >= 128
    assert pool.board[native_parts.POST] == posts + split  # part 1 went to the worker
    if not native:
        assert sorted(part_calls) == ([(0, 2), (1, 2)] if split else [(0, 1)])
    elif split:  # ... launched natively: the board names the GEMM's compiled body and the part
        assert pool.board[native_parts.TRAMP] != 0
        assert (pool.board[native_parts.PART], pool.board[native_parts.PARTS]) == (1, 2)
        assert pool.board[native_parts.FN] in {fn for _, fn, _, _ in vnni.gemm_epilogue.native.bound.values()}


FORK_SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from support.bpu_text import ProgramText
    from irq.runtime import numba as rn
    from irq.runtime.numba.kernels import spin_pool

    rng = np.random.default_rng(0)
    p = ProgramText([("x", (1, 3, 224, 224), "f32")])
    p.op("q", "bpu.quantize", ["x"], ((1, 3, 224, 224), "i8"), {"scale": 0.05})
    p.const("w", rng.integers(-127, 128, size=(64, 3, 3, 3)), "i8")
    p.op("a", "bpu.conv2d", ["q", "w"], ((1, 64, 224, 224), "i32"),
         {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1})
    p.op("y", "bpu.requantize", ["a"], ((1, 64, 224, 224), "i8"),
         {"multiplier": ("array", [2**30]), "shift": ("array", [38])})
    f = rn.compile(p.module(["y"]))
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    parent = f(x)
    import numba
    report = {"layer": numba.threading_layer(), "parallel_used": bool(spin_pool._POOL)}
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child runs the same program: serial twins, a new Python pool
        os.close(r)
        ok = bool(np.array_equal(f(x), parent))
        os.write(w, b"1" if ok else b"0")
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        status = "timeout"
    report["child"] = os.read(r, 1).decode() if status != "timeout" else "timeout"
    report["status"] = status
    print(json.dumps(report))
""")


@two_threads
def test_a_forked_child_runs_the_program_its_parent_ran_on_two_threads(tmp_path):
    # the parent's run splits the input's quantize over the spinning pool, whose threads do not exist in a
    # forked child: work handed to the parent's pool there never ran (the child hung)
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    proc = subprocess.run([sys.executable, "-c", FORK_SCRIPT, os.path.join(ROOT, "tests")], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["parallel_used"], report  # the parent did split work over the pool
    assert report["child"] == "1" and report["status"] == 0, (report, proc.stderr[-3000:])
