"""A second process reuses Numba's on-disk cache: asserted from Numba's own cache statistics, never a time."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
from support.bpu_text import ProgramText

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RUN_AND_REPORT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import numba
    import irq
    from irq.runtime import numba as rn
    from irq.runtime.numba.kernels import conv, depthwise, eltwise, gemm, launch, linear, pool, requantize, vnni

    prog = irq.parse_file(sys.argv[1])
    rn.compile(prog)(np.ones((2, 4, 6, 6), np.float32))
    hits = misses = 0
    used = []
    for mod in (conv, depthwise, eltwise, gemm, linear, pool, requantize, vnni):
        for name, obj in vars(mod).items():
            if name.startswith("_"):
                continue  # private helpers are compiled into their callers (a warm start never loads them)
            # a launch.Kernel is a parallel dispatcher and its serial twin, a RowKernel or PartKernel one function
            kernels = (launch.Kernel, launch.RowKernel, launch.PartKernel)
            disps = obj.dispatchers() if isinstance(obj, kernels) else [obj]
            for d in disps:
                if isinstance(d, numba.core.registry.CPUDispatcher) and d.signatures:
                    used.append(d.py_func.__name__)
                    hits += sum(d.stats.cache_hits.values())
                    misses += sum(d.stats.cache_misses.values())
    print(json.dumps({"hits": hits, "misses": misses, "used": sorted(set(used)),
                      "cache_dir": numba.config.CACHE_DIR}))
""")


def _program(path):
    rng = np.random.default_rng(0)
    p = ProgramText([("x", (2, 4, 6, 6), "f32")])
    p.op("q", "bpu.quantize", ["x"], ((2, 4, 6, 6), "i8"), {"scale": 0.1})
    p.const("w", rng.integers(-127, 128, size=(4, 4, 3, 3)), "i8")
    p.op("a", "bpu.conv2d", ["q", "w"], ((2, 4, 6, 6), "i32"), {"stride": [1, 1], "padding": [1, 1],
                                                                "dilation": [1, 1], "groups": 1})
    p.op("y", "bpu.requantize", ["a"], ((2, 4, 6, 6), "i8"), {"multiplier": ("array", [2**30]),
                                                               "shift": ("array", [36])})
    p.const("dw", rng.integers(-127, 128, size=(4, 1, 3, 3)), "i8")
    p.op("a2", "bpu.conv2d", ["y", "dw"], ((2, 4, 6, 6), "i32"), {"stride": [1, 1], "padding": [1, 1],
                                                                  "dilation": [1, 1], "groups": 4})
    p.op("y2", "bpu.requantize", ["a2", "y"], ((2, 4, 6, 6), "i8"),
         {"multiplier": ("array", [2**30]), "shift": ("array", [35]), "residual_multiplier": ("array", [2**29])},
         keywords={1: "residual"})
    p.op("g", "bpu.global_avg_pool", ["y2"], ((2, 4, 1, 1), "i8"), {"multiplier": 2**30, "shift": 35})
    p.op("o", "bpu.dequantize", ["g"], ((2, 4, 1, 1), "f32"), {"scale": 0.1})
    p.module(["o"]).save(str(path))


def _run(prog_path):
    # the checkout's own cache (Numba's default, or the caller's NUMBA_CACHE_DIR), which the suite's other
    # numba tests fill: a fresh directory cost a full cold compile here (49-56 s of the suite's 15 minutes)
    env = dict(os.environ, IRQ_AMX="0")  # the kernels it names are VNNI's
    out = subprocess.run([sys.executable, "-c", RUN_AND_REPORT, str(prog_path)], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=900)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_loads_every_kernel_from_the_disk_cache(tmp_path):
    prog = tmp_path / "prog.irq"
    _program(prog)
    first = _run(prog)  # compiles what the cache lacks (everything on a fresh clone run alone) and saves it
    used = set(first["used"])
    assert {"depthwise_requantize_i32", "quantize_to_nhwc"} <= used
    # VNNI (the 4-channel 3x3 conv runs direct over a padded copy) or the float route
    assert {"pad_copy", "gemm_epilogue"} <= used or {"im2col_rows_serial",
                                                                  "epilogue_requantize_serial"} <= used
    assert first["hits"] + first["misses"] >= len(used)  # Numba counted every kernel's load or compile
    second = _run(prog)
    assert second["cache_dir"] == first["cache_dir"]
    assert second["used"] == first["used"]
    assert second["misses"] == 0, second  # no recompilation happened
    assert second["hits"] >= len(second["used"])  # every kernel came from the disk
